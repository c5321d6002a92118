package org.arunet.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.arunet.infer.Segmenter;

/**
 * The models of this JVM (a Spark executor, or the driver in {@code local} mode): one {@link Segmenter}
 * per model and options, loaded by the first task that needs it and shared by all the executor's tasks
 * after it (a segmenter is thread-safe; it holds one replica per task slot, so the tasks never wait for
 * each other). The native memory of every model is freed when the executor stops: by
 * {@link ArunetSparkPlugin}'s executor plugin ({@code spark.plugins}, which {@link SegmentJob} sets),
 * and otherwise by a JVM shutdown hook registered with the first model.
 *
 * <p>{@link #loads()} counts the models loaded in this JVM since it started: the tests check that an
 * executor loads its model once however many tasks and partitions it runs.
 */
public final class ExecutorModels {
    private ExecutorModels() {}

    /** What makes two models the same: the model and every option the segmenter is built with. */
    record Key(String model, String device, int threads, int replicas, boolean flipTta, boolean largestComponent) {}

    /** A loaded model with its identity for the rows. */
    record Loaded(Segmenter segmenter, ModelSource source) {}

    private static final Map<Key, Loaded> MODELS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static final AtomicInteger CLOSED = new AtomicInteger();
    private static final AtomicBoolean HOOK = new AtomicBoolean();

    /** The model for {@code key}, loaded on first use. */
    static Loaded get(Key key) {
        return MODELS.computeIfAbsent(key, ExecutorModels::load);
    }

    private static Loaded load(Key key) {
        try {
            ModelSource src = ModelSource.resolve(key.model());
            Segmenter s = Segmenter.builder(src.checkpoint())
                    .device(key.device())
                    .threads(key.threads())
                    .replicas(key.replicas())
                    .flipTta(key.flipTta())
                    .largestComponent(key.largestComponent())
                    .build();
            LOADS.incrementAndGet();
            if (!HOOK.getAndSet(true)) {
                Runtime.getRuntime()
                        .addShutdownHook(new Thread(ExecutorModels::closeAll, "arunet-close-executor-models"));
            }
            return new Loaded(s, src);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** Models loaded in this JVM since it started (each {@link Segmenter} built counts once). */
    public static int loads() {
        return LOADS.get();
    }

    /** Models closed in this JVM since it started. */
    public static int closed() {
        return CLOSED.get();
    }

    /** Models loaded and not yet closed. */
    public static int open() {
        return MODELS.size();
    }

    /**
     * Closes every model of this JVM, freeing its native memory (the executor plugin's {@code shutdown}
     * and the shutdown hook call it; a later task would load its model again).
     */
    public static synchronized void closeAll() {
        for (Key k : MODELS.keySet()) {
            Loaded l = MODELS.remove(k);
            if (l != null) {
                l.segmenter().close();
                CLOSED.incrementAndGet();
            }
        }
    }
}

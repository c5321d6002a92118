package org.arunet.infer;

import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.arunet.data.io.PixelSpacing;
import org.arunet.data.video.FrameSource;
import org.arunet.data.video.VideoFrame;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Segments the frames of a {@link FrameSource} in order, as they arrive: a pipeline of three threads,
 * <b>read</b> (decode a frame, convert and resize it into a model input), <b>segment</b> (the model's
 * class probabilities; optional temporal smoothing) and <b>finish</b> (resize the probabilities to the
 * frame's size, take the mask), joined by bounded queues. The caller takes results with {@link #next()}
 * on its own thread (where it may encode them), so four steps run at once.
 *
 * <pre>{@code
 * try (Segmenter s = Segmenter.pretrained("busi-compact");
 *         SegmentationStream stream = s.stream(VideoFiles.open(clip, s.preprocessing().colorMode()))) {
 *     for (FrameSegmentation f; (f = stream.next()) != null; ) {
 *         System.out.println(f.index() + ": " + f.segmentation().lesionPixels() + " px");
 *     }
 * }
 * }</pre>
 *
 * <p><b>Memory:</b> the model inputs and probability maps travel in fixed pools of reused arrays, and
 * every queue is bounded ({@link StreamOptions#queueCapacity()}): a slow caller stops the reader (back
 * pressure) instead of filling memory; at most {@code 3 (capacity + 1) + 3} frames are in flight. <b>Errors:</b> frames before a damaged one are delivered; then
 * {@link #next()} throws {@link StreamException} naming the source and the frame. A source that gives
 * no frame for {@link StreamOptions#stallTimeout()} ends the stream the same way. <b>Closing</b> stops
 * every thread and closes the source; it waits for the model call in progress (so the segmenter may be
 * closed right after) but not for a source stuck in a read, which is closed by its reader thread when
 * the read returns. Close the stream before its {@link Segmenter}. {@link #next()} is for one thread.
 */
public final class SegmentationStream implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SegmentationStream.class);
    private static final long READER_JOIN_MS = 2_000;

    /** A frame in flight, or the end of the stream (ok) or its failure (error). */
    private record Item(VideoFrame frame, float[] buffer, long startNanos, RuntimeException error, boolean last) {
        static Item endOfStream() {
            return new Item(null, null, 0, null, true);
        }

        static Item failed(RuntimeException e) {
            return new Item(null, null, 0, e, true);
        }
    }

    private final Segmenter segmenter;
    private final FrameSource source;
    private final StreamOptions options;
    private final PixelSpacing spacing;
    private final BlockingQueue<float[]> inputs;
    private final BlockingQueue<float[]> probabilities;
    private final BlockingQueue<Item> toSegment;
    private final BlockingQueue<Item> toFinish;
    private final BlockingQueue<Object> results;
    private final Thread reader;
    private final Thread segmentThread;
    private final Thread finishThread;
    /** System.nanoTime() when the reader entered source.next(), or 0 while it is not in it. */
    private volatile long readingSince;

    private volatile boolean closed;
    private boolean ended;
    private RuntimeException failure;
    private long[] latencies = new long[256];
    private int delivered;
    private long startNanos;
    private long lastNanos;

    SegmentationStream(Segmenter segmenter, FrameSource source, StreamOptions options) {
        this.segmenter = segmenter;
        this.source = Objects.requireNonNull(source, "source");
        this.options = Objects.requireNonNull(options, "options");
        this.spacing = source.spacing().orElse(null);
        int cap = options.queueCapacity();
        // Every array is in exactly one place: a pool, a queue, or a stage's hands (one each).
        this.inputs = new ArrayBlockingQueue<>(cap + 2);
        this.probabilities = new ArrayBlockingQueue<>(cap + 2);
        for (int i = 0; i < cap + 2; i++) {
            inputs.add(new float[segmenter.inputLength()]);
            probabilities.add(new float[segmenter.probabilitiesLength()]);
        }
        this.toSegment = new ArrayBlockingQueue<>(cap + 1);
        this.toFinish = new ArrayBlockingQueue<>(cap + 1);
        this.results = new ArrayBlockingQueue<>(cap + 1);
        String name = "arunet-stream-";
        this.reader = daemon(this::read, name + "read");
        this.segmentThread = daemon(this::segment, name + "segment");
        this.finishThread = daemon(this::finish, name + "finish");
        startNanos = System.nanoTime();
        reader.start();
        segmentThread.start();
        finishThread.start();
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** The source's frame rate (frames per second it states, or the rate given where it states none). */
    public double frameRate() {
        return source.frameRate();
    }

    /** The source being read. */
    public FrameSource source() {
        return source;
    }

    /**
     * The next frame's result, in source order; null after the last frame (or once closed).
     *
     * @throws StreamException when the source is damaged or stalled (after every frame before the damage
     *     has been delivered), or a stage failed; thrown again by later calls
     */
    public FrameSegmentation next() {
        if (failure != null) {
            throw failure;
        }
        if (ended || closed) {
            return null;
        }
        long stallNanos = options.stallTimeout().toNanos();
        while (true) {
            Object o;
            try {
                o = results.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw fail(new StreamException(source.name() + ": interrupted while waiting for a frame", e));
            }
            if (o instanceof FrameSegmentation f) {
                long now = System.nanoTime();
                long latency = now - f.latencyNanos();
                if (delivered == latencies.length) {
                    latencies = Arrays.copyOf(latencies, delivered * 2);
                }
                latencies[delivered++] = latency;
                lastNanos = now;
                return new FrameSegmentation(f.index(), f.timeSeconds(), f.image(), f.segmentation(), latency);
            }
            if (o instanceof Item end) {
                ended = true;
                if (end.error() != null) {
                    throw fail(end.error());
                }
                return null;
            }
            if (closed) {
                return null;
            }
            long since = readingSince;
            if (since != 0 && System.nanoTime() - since > stallNanos) {
                StreamException e = new StreamException(source.name() + ": stalled: no frame for "
                        + options.stallTimeout().toMillis() + " ms after frame " + (delivered - 1)
                        + "; the stream is stopped");
                fail(e);
                close();
                throw e;
            }
        }
    }

    private RuntimeException fail(RuntimeException e) {
        if (failure == null) {
            failure = e;
        }
        return failure;
    }

    /** Frames delivered by {@link #next()} so far. */
    public int framesDelivered() {
        return delivered;
    }

    /** Frames per second delivered, from the stream's start to the last delivered frame. */
    public double framesPerSecond() {
        return delivered == 0 ? 0 : delivered / ((lastNanos - startNanos) / 1e9);
    }

    /** The {@code q}-quantile (0..1, nearest rank) of the delivered frames' latencies in milliseconds. */
    public double latencyMs(double q) {
        if (delivered == 0) {
            return Double.NaN;
        }
        long[] sorted = Arrays.copyOf(latencies, delivered);
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(q * delivered);
        return sorted[Math.max(0, Math.min(delivered - 1, rank - 1))] / 1e6;
    }

    // ------------------------------------------------------------------ stages

    private void read() {
        double minGapNanos = options.maxFps() > 0 ? 1e9 / options.maxFps() : 0;
        long t0 = System.nanoTime();
        try {
            for (int i = 0; !closed; i++) {
                if (minGapNanos > 0) {
                    long due = t0 + (long) (i * minGapNanos);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
                float[] buf = inputs.take(); // back pressure: wait for a free input array
                long start = System.nanoTime();
                VideoFrame f;
                readingSince = start;
                try {
                    f = source.next();
                } finally {
                    readingSince = 0;
                }
                if (f == null) {
                    inputs.add(buf);
                    toSegment.put(Item.endOfStream());
                    return;
                }
                segmenter.preprocess(f.image(), buf);
                toSegment.put(new Item(f, buf, start, null, false));
            }
        } catch (InterruptedException e) {
            // closed
        } catch (RuntimeException | Error e) {
            handOn(toSegment, e, "reading a frame");
        } finally {
            source.close(); // the reader owns the source: it is closed by the thread that reads it
        }
    }

    private void segment() {
        float[] smoothed = null;
        double a = options.smoothing();
        try {
            while (true) {
                Item it = toSegment.take();
                if (it.last()) {
                    toFinish.put(it);
                    return;
                }
                float[] probs = probabilities.take();
                segmenter.probabilities(it.buffer(), probs);
                inputs.add(it.buffer());
                if (a < 1) {
                    if (smoothed == null) {
                        smoothed = probs.clone();
                    } else {
                        float fa = (float) a;
                        float fb = (float) (1 - a);
                        for (int i = 0; i < probs.length; i++) {
                            smoothed[i] = fa * probs[i] + fb * smoothed[i];
                        }
                        System.arraycopy(smoothed, 0, probs, 0, probs.length);
                    }
                }
                toFinish.put(new Item(it.frame(), probs, it.startNanos(), null, false));
            }
        } catch (InterruptedException e) {
            // closed
        } catch (RuntimeException | Error e) {
            handOn(toFinish, e, "segmenting a frame");
        }
    }

    private void finish() {
        try {
            while (true) {
                Item it = toFinish.take();
                if (it.last()) {
                    results.put(it);
                    return;
                }
                VideoFrame f = it.frame();
                Segmentation s = segmenter
                        .finish(it.buffer(), f.image().width(), f.image().height(), source.name() + "#" + f.index())
                        .withSpacing(spacing);
                probabilities.add(it.buffer());
                results.put(new FrameSegmentation(f.index(), f.timeSeconds(), f.image(), s, it.startNanos()));
            }
        } catch (InterruptedException e) {
            // closed
        } catch (RuntimeException | Error e) {
            handOn(results, e, "finishing a frame");
        }
    }

    /** Passes a stage's failure down the pipeline, behind the frames already passed on. */
    private void handOn(BlockingQueue<? super Item> next, Throwable e, String what) {
        RuntimeException err = e instanceof StreamException se
                ? se
                : new StreamException(source.name() + ": " + what + " failed: " + e.getMessage(), e);
        try {
            next.put(Item.failed(err));
        } catch (InterruptedException ie) {
            // closed
        }
    }

    /**
     * Stops the stream: interrupts the three threads, waits for the segment and finish threads (a model
     * call in progress completes), waits up to two seconds for the reader and leaves it to close the source
     * when a read stuck in the source returns. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        reader.interrupt();
        segmentThread.interrupt();
        finishThread.interrupt();
        boolean interrupted = false;
        for (Thread t : new Thread[] {segmentThread, finishThread}) {
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        try {
            reader.join(READER_JOIN_MS);
        } catch (InterruptedException e) {
            interrupted = true;
        }
        if (reader.isAlive()) {
            LOG.warn(
                    "{}: the source did not return from a read within {} ms of close(); it will be closed when it"
                            + " does",
                    source.name(),
                    READER_JOIN_MS);
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the reader thread has finished (and so closed the source); for tests and diagnostics. */
    boolean readerFinished() {
        return !reader.isAlive();
    }
}

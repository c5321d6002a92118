package org.arunet.spark;

import java.io.Serializable;
import java.util.Objects;

/**
 * How {@link ArunetSpark#segment} segments: which model, on which device, with how many model replicas
 * per executor, and what each row carries. Serializable: it travels with the tasks to the executors,
 * where it keys the executor's shared model ({@link ExecutorModels}).
 *
 * <pre>{@code
 * SegmentOptions o = SegmentOptions.of("busi-compact").withDevice("cpu").withBatchSize(16);
 * }</pre>
 *
 * @param model a shipped model's name ({@code busi-compact}), or a checkpoint ({@code .safetensors}) as a
 *     path every executor can read (a shared mount) or a Hadoop file system URI ({@code hdfs://},
 *     {@code s3a://}, ...: copied once per executor)
 * @param device {@code cpu}, {@code cuda} (with an optional precision, {@code cuda:bf16}) or {@code auto};
 *     a task that Spark gave a GPU ({@code spark.task.resource.gpu.amount}) uses {@code cuda} whatever
 *     this says, unless it says {@code cpu}
 * @param threads CPU threads of the executor's model in all, shared by its replicas (0: the executor's
 *     cores, {@code spark.executor.cores}, or the thread count of {@code local[N]})
 * @param replicas model replicas per executor (0: its task slots, cores / {@code spark.task.cpus}): each
 *     running task uses one, so the executor's tasks never wait for each other
 * @param batchSize rows a task takes from its partition at a time (decoded, segmented, encoded and
 *     handed on before the next batch is read)
 * @param masks whether rows carry the mask PNG (false: the measures only, for archives where the
 *     masks are not kept)
 * @param flipTta average with the prediction of the mirrored image (as {@code arunet predict --tta})
 * @param largestComponent keep only the largest lesion (as {@code arunet predict --largest-component})
 */
public record SegmentOptions(
        String model,
        String device,
        int threads,
        int replicas,
        int batchSize,
        boolean masks,
        boolean flipTta,
        boolean largestComponent)
        implements Serializable {
    private static final long serialVersionUID = 1L;

    public SegmentOptions {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(device, "device");
        if (model.isBlank()) {
            throw new IllegalArgumentException("model must name a shipped model or a checkpoint, got a blank name");
        }
        String d = device.toLowerCase(java.util.Locale.ROOT);
        if (!(d.equals("cpu") || d.equals("auto") || d.equals("cuda") || d.startsWith("cuda:"))) {
            throw new IllegalArgumentException("device must be cpu, cuda, cuda:<precision> or auto, got " + device);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0 (0: the executor's cores), got " + threads);
        }
        if (replicas < 0) {
            throw new IllegalArgumentException("replicas must be >= 0 (0: the executor's task slots), got " + replicas);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
    }

    /** Defaults for a model: device auto, threads and replicas from the executor, batches of 8, masks kept. */
    public static SegmentOptions of(String model) {
        return new SegmentOptions(model, "auto", 0, 0, 8, true, false, false);
    }

    public SegmentOptions withDevice(String d) {
        return new SegmentOptions(model, d, threads, replicas, batchSize, masks, flipTta, largestComponent);
    }

    public SegmentOptions withThreads(int t) {
        return new SegmentOptions(model, device, t, replicas, batchSize, masks, flipTta, largestComponent);
    }

    public SegmentOptions withReplicas(int r) {
        return new SegmentOptions(model, device, threads, r, batchSize, masks, flipTta, largestComponent);
    }

    public SegmentOptions withBatchSize(int b) {
        return new SegmentOptions(model, device, threads, replicas, b, masks, flipTta, largestComponent);
    }

    public SegmentOptions withMasks(boolean on) {
        return new SegmentOptions(model, device, threads, replicas, batchSize, on, flipTta, largestComponent);
    }

    public SegmentOptions withFlipTta(boolean on) {
        return new SegmentOptions(model, device, threads, replicas, batchSize, masks, on, largestComponent);
    }

    public SegmentOptions withLargestComponent(boolean on) {
        return new SegmentOptions(model, device, threads, replicas, batchSize, masks, flipTta, on);
    }
}

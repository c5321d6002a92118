package org.arunet.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.arunet.backend.Backend;
import org.arunet.backend.Precision;
import org.arunet.model.ArUNet;
import org.arunet.model.SegmentationModel;
import org.arunet.tensor.DType;
import org.arunet.tensor.HostMemory;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Adam;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Time the model on random input: inference forward pass and, with --train, a training step"
                    + " (forward, CE + Dice loss, backward, Adam).",
            "Reports milliseconds per iteration (median), images/s, GFLOP/s (2 x multiply-accumulates; a training"
                    + " step counts 3 forward passes) and peak memory. For careful measurements use the JMH benchmarks"
                    + " (benchmarks/)."
        })
final class BenchCommand extends BaseCommand {
    @Mixin
    ModelOptions model = new ModelOptions();

    @Option(names = "--image-size", defaultValue = "256", description = "Input side (multiple of 16).")
    int imageSize;

    @Option(names = "--batch-size", defaultValue = "1", description = "Images per pass.")
    int batchSize;

    @Option(names = "--iterations", defaultValue = "10", description = "Timed iterations.")
    int iterations;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed iterations first.")
    int warmup;

    @Option(names = "--train", description = "Also time a training step.")
    boolean train;

    @Mixin
    ComputeOptions compute = new ComputeOptions();

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the random input and weights.")
    long seed;

    @Option(
            names = "--vs",
            paramLabel = "ENGINE",
            description = "Compare with another engine on the same model"
                    + " (exported to ONNX), same input and thread count, timed alternately in this process: onnxruntime"
                    + " (ONNX Runtime's CPU provider; not in arunet.jar, the ./arunet launcher adds it for bench). Prints"
                    + " both medians and last 'ratio ours/onnxruntime: X.XX'.")
    String vs;

    @Option(
            names = "--peer-only",
            description = "With --vs: export the model, release ours, then time only the"
                    + " other engine, so that this process's peak RSS is that engine's own (for memory comparisons).")
    boolean peerOnly;

    @Option(
            names = "--unfused",
            description = "Run the inference pass through the unfused modules (as training"
                    + " does, with running statistics) instead of the fused inference path (ARU-Net only).")
    boolean unfused;

    @Option(
            names = "--video",
            paramLabel = "FILE|sample",
            description = "Time real-time cine segmentation end to end instead: decode the clip, segment every frame"
                    + " with --checkpoint (streaming: read, segment and finish threads), draw and encode an overlay"
                    + " video. 'sample' makes a clip from the bundled sample (pans, zooms, small rotations). Reports"
                    + " frames/s unpaced (a warm-up pass first) and per-frame latency p50/p99 with frames read at the"
                    + " clip's frame rate, as live.")
    String video;

    @Option(
            names = "--checkpoint",
            paramLabel = "NAME|FILE",
            defaultValue = "busi-compact",
            description = "With --video: the shipped model or checkpoint to run.")
    String checkpoint;

    @Option(names = "--video-frames", defaultValue = "300", description = "With --video sample: frames of the clip.")
    int videoFrames;

    @Option(
            names = "--video-size",
            paramLabel = "WxH",
            description = "With --video sample: frame size (default: the sample image's own, 256x212).")
    String videoSize;

    @Override
    int run() throws Exception {
        if (video != null) {
            return VideoBench.run(this);
        }
        if (imageSize % 16 != 0 || imageSize < 16 || batchSize < 1 || iterations < 1 || warmup < 0) {
            throw new Errors.UsageException(
                    "--image-size must be a multiple of 16; --batch-size and --iterations >= 1");
        }
        if (vs != null) {
            if (!vs.equals(OnnxRuntimeBench.ENGINE)) {
                throw new Errors.UsageException(
                        "--vs " + vs + ": unknown engine (known: " + OnnxRuntimeBench.ENGINE + ")");
            }
            if (train) {
                throw new Errors.UsageException("--vs compares inference only; leave out --train");
            }
            if (compute.precision != Precision.F32) {
                throw new Errors.UsageException("--vs compares fp32 inference (ONNX Runtime runs the exported"
                        + " model in fp32); leave out --precision "
                        + compute.precision.name().toLowerCase(Locale.ROOT));
            }
            if (!compute.device.equals("cpu") && !compute.device.equals("auto")) {
                throw new Errors.UsageException(
                        "--vs " + vs + " compares CPU inference (ONNX Runtime's CPU provider);" + " use --device cpu");
            }
            return OnnxRuntimeBench.run(this);
        }
        if (peerOnly) {
            throw new Errors.UsageException("--peer-only needs --vs onnxruntime");
        }
        Map<String, Object> r = new LinkedHashMap<>();
        try (Backend be = backend(compute.device, compute.threads);
                SegmentationModel net = model.build(be, 3, 2, seed);
                Tensor x = be.allocate(DType.F32, Layout.NHWC, batchSize, imageSize, imageSize, 3)) {
            SplittableRandom rng = new SplittableRandom(seed);
            float[] v = new float[(int) x.numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rng.nextGaussian();
            }
            x.copyFrom(v);
            long macs = net.macs(imageSize, imageSize) * batchSize;
            applyPrecision(be, compute.precision, train);
            if (net instanceof ArUNet a) {
                a.setFusedInference(!unfused);
            }
            r.put("backend", be.name());
            r.put("architecture", net.architecture());
            r.put("parameters", net.parameterCount());
            r.put("input", Arrays.asList(batchSize, 3, imageSize, imageSize));
            r.put("threads", compute.threads == 0 ? Runtime.getRuntime().availableProcessors() : compute.threads);
            r.put("precision", compute.precision.name().toLowerCase(java.util.Locale.ROOT));
            r.put("fused_inference", !unfused);
            r.put("gmac_per_pass", macs / 1e9);
            net.eval();
            double[] t = time(() -> net.forward(x));
            r.put("forward", stats(t, batchSize, 2.0 * macs));
            info().printf(
                            Locale.ROOT,
                            "forward %dx3x%dx%d: %.1f ms (median of %d), %.2f images/s, %.1f GFLOP/s%n",
                            batchSize,
                            imageSize,
                            imageSize,
                            median(t) * 1e3,
                            iterations,
                            batchSize / median(t),
                            2.0 * macs / median(t) / 1e9);
            if (train) {
                try (Tensor target = be.allocate(DType.I32, Layout.PLAIN, batchSize, imageSize, imageSize);
                        Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, batchSize, imageSize, imageSize, 2);
                        Adam adam = Adam.of(be, net.namedParameters(), 1e-4f)) {
                    int[] tv = new int[(int) target.numel()];
                    for (int i = 0; i < tv.length; i++) {
                        tv[i] = rng.nextInt(4) == 0 ? 1 : 0;
                    }
                    target.copyFrom(tv);
                    net.train(true);
                    double[] ts = time(() -> {
                        Tensor logits = net.forward(x);
                        be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
                        net.backward(dLogits);
                        adam.step();
                    });
                    r.put("train_step", stats(ts, batchSize, 6.0 * macs));
                    info().printf(
                                    Locale.ROOT,
                                    "training step: %.1f ms (median), %.2f images/s, %.1f GFLOP/s" + " effective%n",
                                    median(ts) * 1e3,
                                    batchSize / median(ts),
                                    6.0 * macs / median(ts) / 1e9);
                }
            }
        }
        r.put("peak_rss_mb", peakRssMb());
        r.put("peak_tensor_mb", HostMemory.peakBytesInUse() / 1e6);
        if (json) {
            printJson(r);
        } else {
            System.out.printf(
                    Locale.ROOT, "peak RSS %.0f MB (tensors %.0f MB)%n", r.get("peak_rss_mb"), r.get("peak_tensor_mb"));
        }
        return 0;
    }

    private double[] time(Runnable step) {
        for (int i = 0; i < warmup; i++) {
            step.run();
        }
        double[] t = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            step.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        return t;
    }

    static Map<String, Object> stats(double[] t, int batch, double flops) {
        double med = median(t);
        double mean = Arrays.stream(t).average().orElse(Double.NaN);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("median_ms", med * 1e3);
        m.put("mean_ms", mean * 1e3);
        m.put("min_ms", Arrays.stream(t).min().orElse(Double.NaN) * 1e3);
        m.put("images_per_second", batch / med);
        m.put("gflops", flops / med / 1e9);
        return m;
    }

    static double median(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
    }

    /** Current resident set size of this process (Linux), NaN elsewhere. */
    static double currentRssMb() {
        return statusMb("VmRSS:");
    }

    /** Peak resident set size of this process (Linux), NaN elsewhere. */
    static double peakRssMb() {
        return statusMb("VmHWM:");
    }

    private static double statusMb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
                }
            }
        } catch (Exception e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}

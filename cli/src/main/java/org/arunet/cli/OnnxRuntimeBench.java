package org.arunet.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.arunet.backend.Backend;
import org.arunet.model.SegmentationModel;
import org.arunet.onnx.OnnxExporter;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.tensor.Transpose;

/**
 * {@code bench --vs onnxruntime}: our CPU inference against ONNX Runtime on the same model, in one
 * process. The benchmarked model is exported to a temporary ONNX file; ONNX Runtime gets as many
 * intra-op threads as we use. After the warm-up both produce logits for the same random input, which
 * must agree; then the two run alternately (the order flips every iteration) and each one's median
 * is reported, the last line being {@code ratio ours/onnxruntime: X.XX}.
 *
 * <p>ONNX Runtime is not part of arunet.jar: {@link #available} looks for it by name, and only then is
 * {@link OrtRunner} (the one class that uses it) loaded.
 */
final class OnnxRuntimeBench {
    static final String ENGINE = "onnxruntime";
    /** Largest |ours - onnxruntime| relative to the largest logit before the comparison is refused. */
    static final double MAX_DISAGREEMENT = 1e-3;

    private OnnxRuntimeBench() {}

    /** Whether ONNX Runtime's Java API can be loaded by {@code loader}. */
    static boolean available(ClassLoader loader) {
        try {
            Class.forName("ai.onnxruntime.OrtEnvironment", false, loader);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    static String missingMessage() {
        return "ONNX Runtime is not on the class path; 'bench --vs onnxruntime' needs"
                + " com.microsoft.onnxruntime:onnxruntime (not part of arunet.jar). The ./arunet launcher adds"
                + " cli/target/onnxruntime/ (written by 'mvn package') to the class path of 'bench'; with java, run"
                + " java -cp cli/target/arunet.jar:cli/target/onnxruntime/* org.arunet.cli.Main bench --vs onnxruntime";
    }

    static int run(BenchCommand b) throws Exception {
        if (!available(OnnxRuntimeBench.class.getClassLoader())) {
            throw new IllegalStateException(missingMessage());
        }
        int threads = b.compute.threads == 0 ? Runtime.getRuntime().availableProcessors() : b.compute.threads;
        int n = b.batchSize;
        int s = b.imageSize;
        Map<String, Object> r = new LinkedHashMap<>();
        Path onnx = Files.createTempFile("arunet-bench-", ".onnx");
        if (b.peerOnly) {
            try {
                return runPeerOnly(b, onnx, r);
            } finally {
                Files.deleteIfExists(onnx);
            }
        }
        try (Backend be = BaseCommand.backend("cpu", b.compute.threads);
                SegmentationModel net = b.model.build(be, 3, 2, b.seed);
                Tensor x = be.allocate(DType.F32, Layout.NHWC, n, s, s, 3)) {
            net.eval();
            float[] nchw = randomInput(b.seed, n * 3 * s * s);
            x.copyFrom(Transpose.nchwToNhwc(nchw, n, 3, s, s));
            OnnxExporter.Result exported = OnnxExporter.export(net, onnx, null);
            long macs = net.macs(s, s) * n;
            try (OrtRunner ort = new OrtRunner(onnx, threads, nchw, new long[] {n, 3, s, s})) {
                r.put("backend", be.name());
                r.put("architecture", net.architecture());
                r.put("parameters", net.parameterCount());
                r.put("input", Arrays.asList(n, 3, s, s));
                r.put("threads", threads);
                r.put("onnxruntime_version", ort.version());
                r.put(
                        "onnxruntime_options",
                        "CPU provider, intra-op threads " + threads + ", inter-op threads 1,"
                                + " sequential, graph optimizations all, no spinning");
                r.put("onnx_bytes", exported.bytes());
                b.info()
                        .printf(
                                Locale.ROOT,
                                "%s, %,d parameters, input %dx3x%dx%d, %d threads; ONNX Runtime %s"
                                        + " (CPU, intra-op %d, inter-op 1, optimizations all, no spinning) on the exported model"
                                        + " (%.1f MB)%n",
                                net.architecture().get("arch"),
                                net.parameterCount(),
                                n,
                                s,
                                s,
                                threads,
                                ort.version(),
                                threads,
                                exported.bytes() / 1e6);

                for (int i = 0; i < b.warmup; i++) {
                    net.forward(x);
                    ort.run();
                }
                float[] ours = Transpose.nhwcToNchw(net.forward(x).toFloatArray(), n, s, s, 2);
                float[] theirs = ort.logits();
                double maxDiff = 0;
                double maxAbs = 0;
                for (int i = 0; i < ours.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
                    maxAbs = Math.max(maxAbs, Math.abs(ours[i]));
                }
                double rel = maxDiff / Math.max(maxAbs, Float.MIN_NORMAL);
                r.put("max_abs_diff", maxDiff);
                r.put("max_rel_diff", rel);
                b.info()
                        .printf(
                                Locale.ROOT,
                                "outputs agree: max |ours - onnxruntime| = %.2g (%.2g of the largest" + " logit)%n",
                                maxDiff,
                                rel);
                if (!(rel <= MAX_DISAGREEMENT)) {
                    throw new IllegalStateException(String.format(
                            Locale.ROOT,
                            "ONNX Runtime's logits differ from"
                                    + " ours by %.3g of the largest logit (more than %.0e): not comparing the timings of"
                                    + " different computations",
                            rel,
                            MAX_DISAGREEMENT));
                }

                double[] tOurs = new double[b.iterations];
                double[] tOrt = new double[b.iterations];
                for (int i = 0; i < b.iterations; i++) {
                    if (i % 2 == 0) {
                        tOurs[i] = timeOurs(net, x);
                        tOrt[i] = timeOrt(ort);
                    } else {
                        tOrt[i] = timeOrt(ort);
                        tOurs[i] = timeOurs(net, x);
                    }
                }
                double ratio = BenchCommand.median(tOurs) / BenchCommand.median(tOrt);
                r.put("ours", BenchCommand.stats(tOurs, n, 2.0 * macs));
                r.put(ENGINE, BenchCommand.stats(tOrt, n, 2.0 * macs));
                r.put("ratio_ours_over_onnxruntime", ratio);
                r.put("peak_rss_mb", BenchCommand.peakRssMb());
                if (b.json) {
                    b.printJson(r);
                } else {
                    print("ours", tOurs, n, macs);
                    print(ENGINE, tOrt, n, macs);
                    System.out.printf(
                            Locale.ROOT, "peak RSS %.0f MB (both engines, one process)%n", r.get("peak_rss_mb"));
                    System.out.printf(Locale.ROOT, "ratio ours/onnxruntime: %.2f%n", ratio);
                }
            }
        } finally {
            Files.deleteIfExists(onnx);
        }
        return 0;
    }

    /**
     * Exports the model, frees ours (weights and backend), then times ONNX Runtime alone, so that the
     * process's peak RSS is the JVM plus ONNX Runtime: the peer's memory figure.
     */
    private static int runPeerOnly(BenchCommand b, Path onnx, Map<String, Object> r) throws Exception {
        int threads = b.compute.threads == 0 ? Runtime.getRuntime().availableProcessors() : b.compute.threads;
        int n = b.batchSize;
        int s = b.imageSize;
        long macs;
        try (Backend be = BaseCommand.backend("cpu", b.compute.threads);
                SegmentationModel net = b.model.build(be, 3, 2, b.seed)) {
            OnnxExporter.export(net, onnx, null);
            macs = net.macs(s, s) * n;
            r.put("architecture", net.architecture());
        }
        System.gc();
        // The export (our weights, the protobuf) must not count as ONNX Runtime's peak: reset the
        // process's high-water mark to its current RSS (Linux 4.0+: "5" to /proc/self/clear_refs).
        r.put("rss_before_onnxruntime_mb", BenchCommand.currentRssMb());
        r.put("peak_rss_reset", resetPeakRss());
        float[] nchw = randomInput(b.seed, n * 3 * s * s);
        try (OrtRunner ort = new OrtRunner(onnx, threads, nchw, new long[] {n, 3, s, s})) {
            r.put("input", Arrays.asList(n, 3, s, s));
            r.put("threads", threads);
            r.put("onnxruntime_version", ort.version());
            for (int i = 0; i < b.warmup; i++) {
                ort.run();
            }
            double[] t = new double[b.iterations];
            for (int i = 0; i < b.iterations; i++) {
                t[i] = timeOrt(ort);
            }
            r.put(ENGINE, BenchCommand.stats(t, n, 2.0 * macs));
            r.put("peak_rss_mb", BenchCommand.peakRssMb());
            if (b.json) {
                b.printJson(r);
            } else {
                print(ENGINE, t, n, macs, ", alone");
                System.out.printf(
                        Locale.ROOT,
                        "peak RSS %.0f MB (ONNX Runtime alone: %s)%n",
                        r.get("peak_rss_mb"),
                        Boolean.TRUE.equals(r.get("peak_rss_reset"))
                                ? "our model released and the peak reset before it started"
                                : "our model released before it started; the peak includes the export");
            }
        }
        return 0;
    }

    /** The benchmark input: standard normal values from the seed, the same in both modes. */
    private static float[] randomInput(long seed, int count) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] v = new float[count];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    /** Resets VmHWM to the current RSS; false where the kernel does not allow it. */
    static boolean resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    private static void print(String who, double[] t, int batch, long macs) {
        print(who, t, batch, macs, ", interleaved");
    }

    private static void print(String who, double[] t, int batch, long macs, String how) {
        double med = BenchCommand.median(t);
        System.out.printf(
                Locale.ROOT,
                "%-12s forward %.1f ms (median of %d%s), %.2f images/s, %.1f" + " GFLOP/s%n",
                who + ":",
                med * 1e3,
                t.length,
                how,
                batch / med,
                2.0 * macs / med / 1e9);
    }

    private static double timeOurs(SegmentationModel net, Tensor x) {
        long t0 = System.nanoTime();
        net.forward(x);
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double timeOrt(OrtRunner ort) throws Exception {
        long t0 = System.nanoTime();
        ort.run();
        return (System.nanoTime() - t0) / 1e9;
    }
}

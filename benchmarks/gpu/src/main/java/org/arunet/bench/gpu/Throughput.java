package org.arunet.bench.gpu;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Function;
import org.arunet.backend.Backend;
import org.arunet.backend.Precision;
import org.arunet.backend.cuda.CudaBackend;
import org.arunet.backend.cuda.CudaGraph;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Adam;
import org.arunet.train.Gradients;
import org.arunet.train.LossScaler;

/**
 * ARU-Net throughput on one backend: inference (eval mode, forward only; "graph": the same forward
 * recorded once into a CUDA graph and replayed) and training steps (forward, CE + Dice loss, backward,
 * gradient check, Adam: the Trainer's inner loop, with loss scaling in fp16) at given batch sizes, per
 * precision.
 *
 * <p>Per configuration: the model's activations and cached memory are released and the peak counter
 * reset; two warm-up iterations (the first one finds the cuDNN algorithms of every new shape); then
 * timed iterations, each ended by a device synchronization, until both {@code minSeconds} and
 * {@code minIterations} are reached (or {@code maxSeconds}). Reported: images per second over the timed
 * iterations, the median and 10th/90th percentile iteration times (at batch 1 the median is the
 * latency), the warm-up time, and the peak device memory held by arunet (parameters, gradients, Adam
 * state, activations, workspaces). A configuration that fails (out of memory, say) is recorded with its
 * error and the next one runs; configurations that would start after the deadline are skipped.
 */
final class Throughput {
    /** The modes: inference, inference replayed from a CUDA graph, both on the fused inference path, training. */
    static final java.util.List<String> MODES = java.util.List.of("infer", "graph", "fused", "fusedgraph", "train");

    /**
     * One configuration: precision, mode ({@link #MODES}: "infer" and "graph" on the unfused eval path,
     * "fused" and "fusedgraph" on the fused one, {@link ArUNet#setFusedInference}), batch size.
     */
    record Config(Precision precision, boolean tf32, String mode, int batch) {
        /** {@code precision:mode:batch}; precision fp32, fp16, bf16 or tf32 (fp32 on TF32 tensor cores). */
        static Config parse(String s) {
            String[] p = s.trim().split(":");
            if (p.length != 3 || !MODES.contains(p[1])) {
                throw new IllegalArgumentException(
                        "config '" + s + "' is not precision:" + String.join("|", MODES) + ":batch");
            }
            boolean tf32 = p[0].equalsIgnoreCase("tf32");
            return new Config(tf32 ? Precision.F32 : Precision.parse(p[0]), tf32, p[1], Integer.parseInt(p[2]));
        }

        /** fp32, fp16, bf16 or tf32. */
        String label() {
            return tf32 ? "tf32" : precision.toString();
        }

        @Override
        public String toString() {
            return label() + ":" + mode + ":" + batch;
        }
    }

    private final Function<Config, Backend> backends;
    private final int size;
    private final int width;
    private final double minSeconds;
    private final int minIterations;
    private final double maxSeconds;
    private final PrintStream log;
    private final Map<String, Backend> open = new LinkedHashMap<>();
    private final Map<String, ArUNet> models = new LinkedHashMap<>();

    /** @param backends the backend of a configuration (its precision, and tf32 for the CUDA backend) */
    Throughput(
            Function<Config, Backend> backends,
            int size,
            int width,
            double minSeconds,
            int minIterations,
            double maxSeconds,
            PrintStream log) {
        this.backends = backends;
        this.size = size;
        this.width = width;
        this.minSeconds = minSeconds;
        this.minIterations = minIterations;
        this.maxSeconds = maxSeconds;
        this.log = log;
    }

    /**
     * Runs the configurations in order; {@code onResult} gets each result as soon as it exists (the caller
     * writes its JSON file each time, so that a run stopped from outside keeps what it measured).
     */
    void run(List<Config> configs, double deadlineSeconds, Consumer<Map<String, Object>> onResult) {
        long start = System.nanoTime();
        try {
            for (Config c : configs) {
                double elapsed = (System.nanoTime() - start) / 1e9;
                if (elapsed > deadlineSeconds) {
                    Map<String, Object> r = base(c);
                    r.put("status", "skipped");
                    r.put("error", String.format("time budget: %.0f s of %.0f used", elapsed, deadlineSeconds));
                    log.println("SKIP " + c + ": " + r.get("error"));
                    onResult.accept(r);
                    continue;
                }
                onResult.accept(runOne(c));
            }
        } finally {
            for (ArUNet m : models.values()) {
                m.close();
            }
            for (Backend b : open.values()) {
                try {
                    b.close();
                } catch (RuntimeException e) {
                    log.println("closing " + b + " failed: " + e.getMessage());
                }
            }
        }
    }

    private Map<String, Object> base(Config c) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("precision", c.label());
        r.put("mode", c.mode());
        r.put("batch", c.batch());
        r.put("size", size);
        r.put("width", width);
        return r;
    }

    private Map<String, Object> runOne(Config c) {
        Map<String, Object> r = base(c);
        long t0 = System.nanoTime();
        Backend be;
        ArUNet net;
        try {
            be = open.computeIfAbsent(c.label(), k -> backends.apply(c));
            net = models.get(c.label());
            if (net == null) {
                long m0 = System.nanoTime();
                net = new ArUNet(be, ArUNetConfig.paper().withWidth(width), Init.Scheme.AUTHORS, 0);
                models.put(c.label(), net);
                log.printf(
                        "model %s: %,d parameters, built in %.1f s on %s%n",
                        c.label(), net.parameterCount(), (System.nanoTime() - m0) / 1e9, be);
            }
        } catch (RuntimeException | LinkageError e) {
            return failed(r, c, e, t0);
        }
        // free the previous configuration's activations so that the peak below is this one's
        net.releaseActivations();
        if (be instanceof CudaBackend cuda) {
            cuda.releaseCachedMemory();
            cuda.resetPeakMemory();
        }
        int b = c.batch();
        try (Tensor x = be.allocate(DType.F32, Layout.NHWC, b, size, size, 3);
                Tensor target = be.allocate(DType.I32, Layout.PLAIN, b, size, size);
                Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, b, size, size, 2)) {
            fillInputs(x, target, b, size);
            Runnable step;
            Adam adam = null;
            CudaGraph graph = null;
            boolean fused = c.mode().startsWith("fused");
            net.setFusedInference(fused);
            if (c.mode().equals("infer") || c.mode().equals("fused")) {
                net.eval();
                ArUNet model = net;
                step = () -> model.forward(x);
            } else if (c.mode().endsWith("graph")) {
                if (!(be instanceof CudaBackend cuda)) {
                    throw new IllegalStateException("graph mode needs the CUDA backend");
                }
                net.eval();
                ArUNet model = net;
                long g0 = System.nanoTime();
                for (int i = 0; i < 2; i++) {
                    model.forward(x); // allocates the activations and finds the algorithms: nothing left to wait for
                }
                cuda.synchronize();
                graph = cuda.capture(() -> model.forward(x));
                r.put("capture_s", (System.nanoTime() - g0) / 1e9);
                step = graph::launch;
            } else {
                net.train(true);
                ArUNet model = net;
                Adam opt = Adam.of(be, model.namedParameters(), 1e-4f);
                adam = opt;
                LossScaler scaler = LossScaler.forBackend(be);
                step = () -> {
                    Tensor logits = model.forward(x);
                    double loss = be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
                    if (!Double.isFinite(loss)) {
                        throw new IllegalStateException("loss is " + loss);
                    }
                    if (scaler != null) {
                        scaler.scaleGradient(dLogits);
                    }
                    model.backward(dLogits);
                    double g = scaler != null
                            ? scaler.unscale(model.parameters())
                            : Gradients.squaredNorm(be, model.parameters());
                    if (Double.isFinite(g)) {
                        opt.step();
                    }
                };
            }
            try {
                long w0 = System.nanoTime();
                for (int i = 0; i < 2; i++) {
                    step.run();
                    sync(be);
                }
                double warmup = (System.nanoTime() - w0) / 1e9;
                List<Double> times = new ArrayList<>();
                long s0 = System.nanoTime();
                while (true) {
                    long i0 = System.nanoTime();
                    step.run();
                    sync(be);
                    times.add((System.nanoTime() - i0) / 1e6);
                    double el = (System.nanoTime() - s0) / 1e9;
                    if ((el >= minSeconds && times.size() >= minIterations) || el >= maxSeconds) {
                        break;
                    }
                }
                double seconds = (System.nanoTime() - s0) / 1e9;
                double[] sorted =
                        times.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                r.put("status", "ok");
                r.put("iterations", times.size());
                r.put("seconds", seconds);
                r.put("images_per_s", b * times.size() / seconds);
                r.put("ms_median", percentile(sorted, 0.5));
                r.put("ms_p10", percentile(sorted, 0.1));
                r.put("ms_p90", percentile(sorted, 0.9));
                r.put("warmup_s", warmup);
                if (be instanceof CudaBackend cuda) {
                    CudaBackend.MemoryStats m = cuda.memoryStats();
                    r.put("peak_bytes", m.peakInUseBytes());
                    r.put("peak_reserved_bytes", m.peakReservedBytes());
                    r.put("kernel_launches", cuda.kernelLaunches());
                }
                log.printf(
                        "RESULT %-18s %8.2f img/s  median %8.2f ms  p10 %8.2f  p90 %8.2f  (%d iterations, warm-up %.1f s"
                                + "%s)%n",
                        c,
                        b * times.size() / seconds,
                        percentile(sorted, 0.5),
                        percentile(sorted, 0.1),
                        percentile(sorted, 0.9),
                        times.size(),
                        warmup,
                        r.containsKey("peak_bytes")
                                ? String.format(
                                        ", peak %.2f GiB",
                                        ((Number) r.get("peak_bytes")).longValue() / (double) (1L << 30))
                                : "");
            } finally {
                if (adam != null) {
                    adam.close();
                }
                if (graph != null) {
                    graph.close();
                }
            }
            if (be instanceof CudaBackend cuda && log != null) {
                log.println("cuDNN algorithms after " + c + ":");
                log.print(cuda.convolutionAlgorithms());
            }
            return r;
        } catch (RuntimeException | OutOfMemoryError e) {
            return failed(r, c, e, t0);
        }
    }

    private Map<String, Object> failed(Map<String, Object> r, Config c, Throwable e, long t0) {
        r.put("status", "failed");
        r.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        r.put("seconds", (System.nanoTime() - t0) / 1e9);
        log.println("FAIL " + c + ": " + r.get("error"));
        e.printStackTrace(log);
        return r;
    }

    private static void sync(Backend be) {
        if (be instanceof CudaBackend cuda) {
            cuda.synchronize();
        }
    }

    /** Random images and a disk-shaped lesion in each target (the same every run). */
    static void fillInputs(Tensor x, Tensor target, int b, int size) {
        Random rnd = new Random(42);
        float[] xv = new float[b * size * size * 3];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = (float) rnd.nextGaussian();
        }
        int[] tv = new int[b * size * size];
        for (int n = 0; n < b; n++) {
            int cy = size / 4 + rnd.nextInt(size / 2);
            int cx = size / 4 + rnd.nextInt(size / 2);
            int rad = size / 8 + rnd.nextInt(size / 8);
            for (int y = 0; y < size; y++) {
                for (int xx = 0; xx < size; xx++) {
                    tv[(n * size + y) * size + xx] = (y - cy) * (y - cy) + (xx - cx) * (xx - cx) < rad * rad ? 1 : 0;
                }
            }
        }
        x.copyFrom(xv);
        target.copyFrom(tv);
    }

    static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    static List<Config> parseConfigs(String s) {
        List<Config> out = new ArrayList<>();
        for (String part : s.split(",")) {
            if (!part.isBlank()) {
                out.add(Config.parse(part));
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "Throughput(size=" + size + ", width=" + width + ", min " + minSeconds + " s / " + minIterations
                + " iterations, max " + maxSeconds + " s; "
                + Arrays.toString(open.keySet().toArray()) + ")";
    }
}

package org.arunet.backend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * A {@link Backend} decorator that times every call it forwards (wall clock, {@link System#nanoTime})
 * and sums the times per operation name; convolutions are keyed by their spec and input shape. Used by
 * the CPU op profile ({@code org.arunet.bench.OpProfile}) and the GPU harness's profile phase to find
 * where a forward pass or a training step spends its time. Timing adds one {@code nanoTime} pair per op
 * (tens of nanoseconds against ops of 10 microseconds and more).
 *
 * <p>With {@code cpuTime}, the calling thread's CPU time is measured instead of wall time: with one
 * backend thread (OpenMP runs the work on the caller) that is the work itself, unaffected by other
 * processes competing for the cores (cache and memory-bandwidth sharing still show). For an
 * asynchronous backend (CUDA), give a {@code barrier} that waits for the device: it runs after every op,
 * before the clock is read, so that each op's time is its device time (plus one synchronization).
 */
public final class ProfilingBackend implements Backend {
    /** java.management is touched only for CPU time (the GPU runtime image leaves that module out). */
    private static final class CpuClock {
        static final java.lang.management.ThreadMXBean THREADS =
                java.lang.management.ManagementFactory.getThreadMXBean();
    }

    private final Backend inner;
    private final boolean cpuTime;
    private final Runnable barrier;
    private final Map<String, long[]> times = new LinkedHashMap<>(); // name -> {nanos, calls}
    private final Map<String, Long> macs = new LinkedHashMap<>(); // conv name -> MACs per call
    private boolean on = true;

    public ProfilingBackend(Backend inner) {
        this(inner, false);
    }

    public ProfilingBackend(Backend inner, boolean cpuTime) {
        this(inner, cpuTime, null);
    }

    /** @param barrier run after every timed op before the clock is read (null: none) */
    public ProfilingBackend(Backend inner, boolean cpuTime, Runnable barrier) {
        this.inner = inner;
        this.cpuTime = cpuTime;
        this.barrier = barrier;
    }

    /** The clock: wall nanoseconds, or this thread's CPU nanoseconds. */
    public long now() {
        return cpuTime ? CpuClock.THREADS.getCurrentThreadCpuTime() : System.nanoTime();
    }

    /** Starts or pauses accounting (warm-up runs are not counted). */
    public void enable(boolean enabled) {
        on = enabled;
    }

    public void reset() {
        times.clear();
    }

    /** Multiply-accumulates per call of a convolution entry of {@link #times()} (null for other ops). */
    public Long macsPerCall(String name) {
        return macs.get(name);
    }

    /** Accumulated nanoseconds and call counts per op name, sorted by name. */
    public Map<String, long[]> times() {
        return new TreeMap<>(times);
    }

    private void add(String name, long nanos) {
        if (!on) {
            return;
        }
        long[] t = times.computeIfAbsent(name, k -> new long[2]);
        t[0] += nanos;
        t[1]++;
    }

    private void time(String name, Runnable r) {
        long t0 = now();
        r.run();
        if (barrier != null) {
            barrier.run();
        }
        add(name, now() - t0);
    }

    private <T> T timed(String name, Supplier<T> s) {
        long t0 = now();
        T v = s.get();
        if (barrier != null) {
            barrier.run();
        }
        add(name, now() - t0);
        return v;
    }

    /**
     * The accumulated times as a table, slowest op first: milliseconds and calls per pass, GFLOP/s for
     * convolutions; then the totals of convolutions and of the other ops against the passes' wall times.
     *
     * @param passes how many passes were timed (the accumulated times are divided by it)
     * @param wallMs the wall time of each pass
     * @param modelMacs multiply-accumulates of one forward pass (for the model-FLOPs rate)
     * @param train whether a pass is a training step (its FLOPs counted as three forward passes)
     */
    public String table(int passes, double[] wallMs, long modelMacs, boolean train) {
        StringBuilder out = new StringBuilder();
        List<Map.Entry<String, long[]>> rows = new ArrayList<>(times().entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
        double conv = 0;
        double other = 0;
        double convMacs = 0;
        for (Map.Entry<String, long[]> e : rows) {
            double ms = e.getValue()[0] / 1e6 / passes;
            long calls = e.getValue()[1] / passes;
            Long m = macsPerCall(e.getKey());
            String rate = "";
            if (m != null) {
                conv += ms;
                convMacs += (double) m * calls;
                rate = String.format(Locale.ROOT, "%6.0f GFLOP/s", 2.0 * m * calls / (ms / 1e3) / 1e9);
            } else {
                other += ms;
            }
            out.append(String.format(Locale.ROOT, "%9.2f  %4d  %-16s %s%n", ms, calls, rate, e.getKey()));
        }
        double[] s = wallMs.clone();
        Arrays.sort(s);
        double med = s[s.length / 2];
        out.append(String.format(
                Locale.ROOT,
                "convolutions %.1f ms (%.0f GFLOP/s), other ops %.1f ms, outside ops" + " %.1f ms%n",
                conv,
                2 * convMacs / (conv / 1e3) / 1e9,
                other,
                med - conv - other));
        out.append(String.format(
                Locale.ROOT,
                "pass wall time: median %.1f ms, min %.1f, max %.1f (%.0f GFLOP/s" + " model FLOPs%s)%n",
                med,
                s[0],
                s[s.length - 1],
                (train ? 6.0 : 2.0) * modelMacs / (med / 1e3) / 1e9,
                train ? ", 3x forward" : ""));
        return out.toString();
    }

    private static String px(Tensor t) {
        return t.rank() == 4 ? t.dim(1) + "x" + t.dim(2) + "x" + t.dim(3) : java.util.Arrays.toString(t.shape());
    }

    /** The inner backend (for ops this decorator does not know). */
    public Backend inner() {
        return inner;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public Device device() {
        return inner.device();
    }

    @Override
    public boolean fusedInferenceByDefault() {
        return inner.fusedInferenceByDefault();
    }

    @Override
    public Tensor allocate(DType dtype, Layout layout, int... shape) {
        return timed(
                Boolean.getBoolean("profile.allocations") ? "allocate " + java.util.Arrays.toString(shape) : "allocate",
                () -> inner.allocate(dtype, layout, shape));
    }

    @Override
    public void setThreads(int threads) {
        inner.setThreads(threads);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        time("copy", () -> inner.copy(src, dst));
    }

    @Override
    public void fill(Tensor t, float value) {
        time("fill", () -> inner.fill(t, value));
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor y) {
        time("add", () -> inner.add(a, b, y));
    }

    @Override
    public void addInPlace(Tensor y, Tensor x) {
        time("addInPlace", () -> inner.addInPlace(y, x));
    }

    @Override
    public void scale(Tensor x, float alpha, Tensor y) {
        time("scale", () -> inner.scale(x, alpha, y));
    }

    /** A convolution handle that times its passes under names from {@code name}. */
    private final class Profiled implements Conv2dOp {
        final Conv2dOp inner;
        final boolean upsampling;

        Profiled(Conv2dOp inner, boolean upsampling) {
            this.inner = inner;
            this.upsampling = upsampling;
        }

        @Override
        public Conv2dSpec spec() {
            return inner.spec();
        }

        private String name(String pass, Tensor x) {
            Conv2dSpec spec = inner.spec();
            String name = String.format(Locale.ROOT, "conv.%s%s %s @%s", pass, upsampling ? " up2" : "", spec, px(x));
            int h = upsampling ? 2 * x.dim(1) : x.dim(1);
            int w = upsampling ? 2 * x.dim(2) : x.dim(2);
            macs.computeIfAbsent(name, k -> x.dim(0) * spec.macs(spec.outH(h), spec.outW(w)));
            return name;
        }

        @Override
        public void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training) {
            time(name("fwd", x), () -> inner.forward(x, w, b, y, training));
        }

        @Override
        public void backwardData(Tensor dy, Tensor w, Tensor dx) {
            time(name("bwdData", dx), () -> inner.backwardData(dy, w, dx));
        }

        @Override
        public void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
            time(name("bwdWeights", x), () -> inner.backwardWeights(x, dy, dw, db));
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Override
    public Conv2dOp conv2d(Conv2dSpec spec) {
        return new Profiled(inner.conv2d(spec), false);
    }

    @Override
    public Conv2dOp conv2dUpsampled(Conv2dSpec spec) {
        return new Profiled(inner.conv2dUpsampled(spec), true);
    }

    @Override
    public void convForwardFused(
            Conv2dOp op, Tensor x, Tensor x2, Tensor w, Tensor b, Tensor y, ConvEpilogue epilogue) {
        Profiled p = (Profiled) op;
        Conv2dSpec spec = op.spec();
        String name = String.format(
                Locale.ROOT,
                "conv.fused%s %s%s %s @%s",
                p.upsampling ? " up2" : "",
                spec,
                x2 == null ? "" : " split",
                epilogue,
                px(x));
        int h = p.upsampling ? 2 * x.dim(1) : x.dim(1);
        int wd = p.upsampling ? 2 * x.dim(2) : x.dim(2);
        macs.computeIfAbsent(name, k -> x.dim(0) * spec.macs(spec.outH(h), spec.outW(wd)));
        time(name, () -> inner.convForwardFused(p.inner, x, x2, w, b, y, epilogue));
    }

    @Override
    public void setInferencePrecision(Precision precision) {
        inner.setInferencePrecision(precision);
    }

    @Override
    public Precision inferencePrecision() {
        return inner.inferencePrecision();
    }

    @Override
    public void setTrainingPrecision(Precision precision) {
        inner.setTrainingPrecision(precision);
    }

    @Override
    public Precision trainingPrecision() {
        return inner.trainingPrecision();
    }

    @Override
    public boolean supportsBf16Inference() {
        return inner.supportsBf16Inference();
    }

    @Override
    public void batchNormForward(
            Tensor x,
            Tensor gamma,
            Tensor beta,
            Tensor runningMean,
            Tensor runningVar,
            Tensor saveMean,
            Tensor saveInvStd,
            Tensor y,
            boolean training,
            float momentum,
            float eps,
            Activation act) {
        time(
                "batchNormForward",
                () -> inner.batchNormForward(
                        x,
                        gamma,
                        beta,
                        runningMean,
                        runningVar,
                        saveMean,
                        saveInvStd,
                        y,
                        training,
                        momentum,
                        eps,
                        act));
    }

    @Override
    public void batchNormBackward(
            Tensor dy,
            Tensor x,
            Tensor y,
            Tensor gamma,
            Tensor saveMean,
            Tensor saveInvStd,
            Tensor dx,
            Tensor dGamma,
            Tensor dBeta,
            Activation act) {
        time(
                "batchNormBackward",
                () -> inner.batchNormBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dGamma, dBeta, act));
    }

    @Override
    public void activationForward(Activation act, Tensor x, Tensor y) {
        time("activationForward " + act, () -> inner.activationForward(act, x, y));
    }

    @Override
    public void activationBackward(Activation act, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        time("activationBackward " + act, () -> inner.activationBackward(act, x, y, dy, dx));
    }

    @Override
    public void maxPoolForward(Tensor x, Tensor y, int kernel, int stride, int pad) {
        time("maxPoolForward", () -> inner.maxPoolForward(x, y, kernel, stride, pad));
    }

    @Override
    public void maxPoolBackward(Tensor x, Tensor dy, Tensor dx, int kernel, int stride, int pad) {
        time("maxPoolBackward", () -> inner.maxPoolBackward(x, dy, dx, kernel, stride, pad));
    }

    @Override
    public void globalPoolForward(Tensor x, Tensor max, Tensor avg) {
        time("globalPoolForward", () -> inner.globalPoolForward(x, max, avg));
    }

    @Override
    public void globalPoolBackward(Tensor x, Tensor max, Tensor dMax, Tensor dAvg, Tensor dx) {
        time("globalPoolBackward", () -> inner.globalPoolBackward(x, max, dMax, dAvg, dx));
    }

    @Override
    public void channelMaxMeanForward(Tensor x, Tensor out) {
        time("channelMaxMeanForward", () -> inner.channelMaxMeanForward(x, out));
    }

    @Override
    public void channelMaxMeanBackward(Tensor x, Tensor out, Tensor dOut, Tensor dx) {
        time("channelMaxMeanBackward", () -> inner.channelMaxMeanBackward(x, out, dOut, dx));
    }

    @Override
    public void upsample2xForward(Tensor x, Tensor y) {
        time("upsample2xForward", () -> inner.upsample2xForward(x, y));
    }

    @Override
    public void upsample2xBackward(Tensor dy, Tensor dx) {
        time("upsample2xBackward", () -> inner.upsample2xBackward(dy, dx));
    }

    @Override
    public void concatChannels(Tensor a, Tensor b, Tensor out) {
        time("concatChannels", () -> inner.concatChannels(a, b, out));
    }

    @Override
    public void splitChannels(Tensor dOut, Tensor da, Tensor db) {
        time("splitChannels", () -> inner.splitChannels(dOut, da, db));
    }

    @Override
    public void mulForward(Tensor x, Tensor w, Tensor y) {
        time("mulForward", () -> inner.mulForward(x, w, y));
    }

    @Override
    public void mulBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw) {
        time("mulBackward", () -> inner.mulBackward(dy, x, w, dx, dw));
    }

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        time("linearForward", () -> inner.linearForward(x, w, b, y));
    }

    @Override
    public void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor db) {
        time("linearBackward", () -> inner.linearBackward(dy, x, w, dx, dw, db));
    }

    @Override
    public void softmax(Tensor logits, Tensor probs) {
        time("softmax", () -> inner.softmax(logits, probs));
    }

    @Override
    public double crossEntropyDiceLoss(
            Tensor logits, Tensor target, Tensor dLogits, float ceWeight, float diceWeight, float smooth) {
        return timed(
                "crossEntropyDiceLoss",
                () -> inner.crossEntropyDiceLoss(logits, target, dLogits, ceWeight, diceWeight, smooth));
    }

    @Override
    public double focalTverskyLoss(
            Tensor logits, Tensor target, Tensor dLogits, float alpha, float beta, float gamma, float smooth) {
        return timed(
                "focalTverskyLoss", () -> inner.focalTverskyLoss(logits, target, dLogits, alpha, beta, gamma, smooth));
    }

    @Override
    public void adamStep(
            Tensor param,
            Tensor grad,
            Tensor m,
            Tensor v,
            float lr,
            float beta1,
            float beta2,
            float eps,
            float weightDecay,
            long step) {
        time("adamStep", () -> inner.adamStep(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step));
    }

    @Override
    public double sumOfSquares(Tensor x) {
        return timed("sumOfSquares", () -> inner.sumOfSquares(x));
    }

    @Override
    public boolean requiresLossScaling() {
        return inner.requiresLossScaling();
    }

    /** The inner backend's own (possibly fused) gradient reduction, timed as one op. */
    @Override
    public double[] scaleAndSumSquares(List<Tensor> tensors, float factor) {
        return timed("scaleAndSumSquares", () -> inner.scaleAndSumSquares(tensors, factor));
    }

    @Override
    public void close() {
        inner.close();
    }
}

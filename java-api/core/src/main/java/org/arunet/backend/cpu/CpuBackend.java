package org.arunet.backend.cpu;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.arunet.backend.Activation;
import org.arunet.backend.ArunetException;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.backend.OpChecks;
import org.arunet.backend.Precision;
import org.arunet.jni.ArunetNative;
import org.arunet.jni.CpuFeatures;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * The CPU backend: convolutions through oneDNN (weights reordered once per update into the layout
 * the primitive prefers, primitives cached per input shape, see {@link CpuConv2dOp}), every other op
 * as our own OpenMP C++ kernels ({@code native/src/main/cpp/cpu/*.h}), reached through the JavaCPP
 * binding {@link ArunetNative}.
 *
 * <p>Tensors are host memory ({@link Device#HOST}); activations are F32 NHWC {@code [N, H, W, C]},
 * convolution weights OIHW, as the {@link Backend} contract says. Every argument is validated here,
 * before any native call ({@link IllegalArgumentException} naming the op and the shapes); a failure
 * inside native code (oneDNN error, out of memory) surfaces as {@link ArunetException}. Every op
 * bumps the {@link Tensor#version()} of the tensors it writes, so caches keyed on it stay correct.
 *
 * <p>One native context per backend holds the oneDNN engine and stream, the thread count and the
 * workspaces the kernels reuse (they grow to their high-water mark once; nothing is allocated per
 * call after that). {@link #close()} frees it and every convolution op still open. Like every
 * backend, it is used by one thread at a time; any thread may be that thread (the thread count is
 * applied to the calling thread at each op).
 */
public final class CpuBackend implements Backend {
    static final Device DEVICE = Device.HOST;
    /** Largest thread count the native context accepts. */
    public static final int MAX_THREADS = 1024;

    private long ctx;
    private int threads;
    private Precision precision = Precision.F32;
    private Precision trainingPrecision = Precision.F32;
    private Boolean bf16;
    private long composedFusions;
    private final Set<CpuConv2dOp> convs = Collections.newSetFromMap(new IdentityHashMap<>());

    /** A backend using one thread per available processor. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    /** A backend using {@code threads} OpenMP threads for its kernels and for oneDNN. */
    public CpuBackend(int threads) {
        checkThreads("CpuBackend", threads);
        CpuFeatures.require(); // before any of our machine code runs: a clear error instead of SIGILL
        ArunetNative.load();
        this.ctx = call("CpuBackend(threads=" + threads + ")", NONE, () -> ArunetNative.context_create(threads));
        this.threads = threads;
    }

    private static void checkThreads(String op, int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException(op + ": threads must be in [1, " + MAX_THREADS + "], got " + threads);
        }
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Device device() {
        return DEVICE;
    }

    @Override
    public Tensor allocate(DType dtype, Layout layout, int... shape) {
        return Tensor.host(dtype, layout, shape);
    }

    @Override
    public void setThreads(int threads) {
        checkThreads("setThreads", threads);
        long c = ctx();
        run("setThreads(" + threads + ")", NONE, () -> ArunetNative.context_set_threads(c, threads));
        this.threads = threads;
    }

    /** The thread count set by the constructor or {@link #setThreads}. */
    public int threads() {
        return threads;
    }

    /** How many threads an OpenMP region of this backend's kernels actually runs with (diagnostics). */
    int regionThreads() {
        long c = ctx();
        return call("regionThreads", NONE, () -> (long) ArunetNative.context_region_threads(c))
                .intValue();
    }

    /** Bytes held by the native context's workspaces (diagnostics: they grow once, then stay). */
    long workspaceBytes() {
        long c = ctx();
        return call("workspaceBytes", NONE, () -> ArunetNative.context_workspace_bytes(c));
    }

    long ctx() {
        if (ctx == 0) {
            throw new IllegalStateException("CpuBackend used after close()");
        }
        return ctx;
    }

    // ------------------------------------------------------------------ native calls

    static final Tensor[] NONE = {};

    static Tensor[] of(Tensor... shown) {
        return shown;
    }

    /**
     * Runs a native call; a failure inside it becomes an {@link ArunetException} naming the op and the
     * shapes of {@code shown} (described only when it fails).
     */
    static void run(String op, Tensor[] shown, Runnable nativeCall) {
        try {
            nativeCall.run();
        } catch (RuntimeException e) {
            throw nativeFailure(op, shown, e);
        }
    }

    /** As {@link #run}, for calls that return a value. */
    static <T> T call(String op, Tensor[] shown, Supplier<T> nativeCall) {
        try {
            return nativeCall.get();
        } catch (RuntimeException e) {
            throw nativeFailure(op, shown, e);
        }
    }

    static ArunetException nativeFailure(String op, Tensor[] shown, RuntimeException e) {
        if (e instanceof ArunetException a) {
            return a;
        }
        String on = shown.length == 0 ? "" : " on " + shapes(shown);
        return new ArunetException(op + on + " failed in native code: " + e.getMessage(), e);
    }

    private static String shapes(Tensor... ts) {
        StringBuilder s = new StringBuilder();
        for (Tensor t : ts) {
            if (t != null) {
                s.append(s.length() == 0 ? "" : ", ").append(t.describe());
            }
        }
        return s.toString();
    }

    /**
     * Bumps the version of every tensor an op wrote. The contract asks it only of writes from outside
     * the compute ops (and of adamStep's parameter); doing it for every output as well means a cache
     * keyed on (id, version), such as the convolution weight cache, can never serve stale values
     * after a backend op wrote into weights (copy, fill, scale...). It costs a counter increment.
     */
    private static void wrote(Tensor... outs) {
        for (Tensor t : outs) {
            if (t != null) {
                t.bumpVersion();
            }
        }
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    // ------------------------------------------------------------------ basics

    @Override
    public void copy(Tensor src, Tensor dst) {
        OpChecks.copy(DEVICE, src, dst);
        long c = ctx();
        run("copy", of(src), () -> ArunetNative.copy_bytes(c, dst.address(), src.address(), src.bytes()));
        wrote(dst);
    }

    @Override
    public void fill(Tensor t, float value) {
        OpChecks.fill(DEVICE, t);
        long c = ctx();
        run("fill", of(t), () -> ArunetNative.fill(c, t.address(), value, t.numel()));
        wrote(t);
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor y) {
        OpChecks.add(DEVICE, a, b, y);
        long c = ctx();
        run("add", of(a), () -> ArunetNative.add_forward(c, y.address(), a.address(), b.address(), a.numel()));
        wrote(y);
    }

    @Override
    public void addInPlace(Tensor y, Tensor x) {
        OpChecks.addInPlace(DEVICE, y, x);
        long c = ctx();
        run("addInPlace", of(y, x), () -> ArunetNative.add_inplace(c, y.address(), x.address(), y.numel()));
        wrote(y);
    }

    @Override
    public void scale(Tensor x, float alpha, Tensor y) {
        OpChecks.scale(DEVICE, x, y);
        long c = ctx();
        run("scale", of(x), () -> ArunetNative.scale_forward(c, y.address(), x.address(), alpha, x.numel()));
        wrote(y);
    }

    // ------------------------------------------------------------------ convolution

    @Override
    public Conv2dOp conv2d(Conv2dSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("conv2d: spec is null");
        }
        CpuConv2dOp op = new CpuConv2dOp(this, spec, false);
        convs.add(op);
        return op;
    }

    /**
     * 3x3, stride 1, padding 1, ungrouped specs run natively without the upsampled tensor
     * ({@code conv2d.h}, Note [upsampling convolution]); other specs get the composed default.
     */
    @Override
    public Conv2dOp conv2dUpsampled(Conv2dSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("conv2dUpsampled: spec is null");
        }
        if (spec.kernelH() != 3
                || spec.kernelW() != 3
                || spec.strideH() != 1
                || spec.strideW() != 1
                || spec.padH() != 1
                || spec.padW() != 1
                || spec.dilationH() != 1
                || spec.dilationW() != 1
                || spec.groups() != 1) {
            return Backend.super.conv2dUpsampled(spec);
        }
        CpuConv2dOp op = new CpuConv2dOp(this, spec, true);
        convs.add(op);
        return op;
    }

    /**
     * Natively for this backend's ops when the epilogue fits the oneDNN path (see
     * {@link CpuConv2dOp#forwardFused}): a leading batch norm folded into weights and bias, the rest
     * as post-ops, a split input as two convolutions summed in the epilogue; otherwise composed as
     * the interface's default.
     */
    @Override
    public void convForwardFused(
            Conv2dOp op, Tensor x, Tensor x2, Tensor w, Tensor b, Tensor y, ConvEpilogue epilogue) {
        if (op == null || epilogue == null) {
            throw new IllegalArgumentException("convForwardFused: op and epilogue are required");
        }
        if (op instanceof CpuConv2dOp c
                && convs.contains(c)
                && c.forwardFused(x, x2, w, b, y, epilogue, precision == Precision.BF16)) {
            return;
        }
        composedFusions++;
        Backend.super.convForwardFused(op, x, x2, w, b, y, epilogue);
    }

    /** How many {@link #convForwardFused} calls were composed from unfused ops (diagnostics, tests). */
    long composedFusions() {
        return composedFusions;
    }

    @Override
    public boolean supportsBf16Inference() {
        if (bf16 == null) {
            long c = ctx();
            bf16 = call("supportsBf16Inference", NONE, () -> ArunetNative.context_bf16_supported(c));
        }
        return bf16;
    }

    /** {@link Precision#BF16} needs {@link #supportsBf16Inference()} (AVX512-BF16 or AMX). */
    @Override
    public void setInferencePrecision(Precision p) {
        if (p == null) {
            throw new IllegalArgumentException("setInferencePrecision: precision is null");
        }
        if (p == Precision.BF16 && !supportsBf16Inference()) {
            throw new IllegalArgumentException("setInferencePrecision: this CPU has no bf16 convolution kernels"
                    + " (AVX512-BF16 or AMX); use F32");
        }
        precision = p;
    }

    @Override
    public Precision inferencePrecision() {
        return precision;
    }

    /**
     * {@link Precision#BF16}: the convolutions' forward and backward passes take bf16 operands with f32
     * accumulation and f32 outputs (cpu/conv2d.h, Note [bf16]); needs {@link #supportsBf16Inference()}.
     */
    @Override
    public void setTrainingPrecision(Precision p) {
        if (p == null) {
            throw new IllegalArgumentException("setTrainingPrecision: precision is null");
        }
        if (p == Precision.BF16 && !supportsBf16Inference()) {
            throw new IllegalArgumentException("setTrainingPrecision: this CPU has no bf16 convolution kernels"
                    + " (AVX512-BF16 or AMX); use F32");
        }
        trainingPrecision = p;
    }

    @Override
    public Precision trainingPrecision() {
        return trainingPrecision;
    }

    void forget(CpuConv2dOp op) {
        convs.remove(op);
    }

    // ------------------------------------------------------------------ normalisation

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
        String op = "batchNormForward";
        OpChecks.batchNormForward(
                DEVICE, x, gamma, beta, runningMean, runningVar, saveMean, saveInvStd, y, training, momentum, eps, act);
        int ch = x.dim(3);
        long m = (long) x.dim(0) * x.dim(1) * x.dim(2);
        boolean relu = act == Activation.RELU;
        long c = ctx();
        if (training) {
            run(
                    op + " (training)",
                    of(x),
                    () -> ArunetNative.batchnorm_forward_train(
                            c,
                            y.address(),
                            saveMean.address(),
                            saveInvStd.address(),
                            runningMean.address(),
                            runningVar.address(),
                            x.address(),
                            gamma.address(),
                            beta.address(),
                            m,
                            ch,
                            momentum,
                            eps,
                            relu));
            wrote(y, saveMean, saveInvStd, runningMean, runningVar);
        } else {
            run(
                    op + " (inference)",
                    of(x),
                    () -> ArunetNative.batchnorm_forward_eval(
                            c,
                            y.address(),
                            x.address(),
                            gamma.address(),
                            beta.address(),
                            runningMean.address(),
                            runningVar.address(),
                            m,
                            ch,
                            eps,
                            relu));
            wrote(y);
        }
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
        String op = "batchNormBackward";
        OpChecks.batchNormBackward(DEVICE, dy, x, y, gamma, saveMean, saveInvStd, dx, dGamma, dBeta, act);
        int ch = x.dim(3);
        boolean relu = act == Activation.RELU;
        long m = (long) x.dim(0) * x.dim(1) * x.dim(2);
        long c = ctx();
        run(
                op,
                of(x),
                () -> ArunetNative.batchnorm_backward(
                        c,
                        dx.address(),
                        dGamma.address(),
                        dBeta.address(),
                        dy.address(),
                        x.address(),
                        relu ? y.address() : 0L,
                        gamma.address(),
                        saveMean.address(),
                        saveInvStd.address(),
                        m,
                        ch,
                        relu));
        wrote(dx, dGamma, dBeta);
    }

    // ------------------------------------------------------------------ activations

    @Override
    public void activationForward(Activation act, Tensor x, Tensor y) {
        String op = OpChecks.activationForward(DEVICE, act, x, y);
        long c = ctx();
        run(op, of(x), () -> ArunetNative.activation_forward(c, y.address(), x.address(), act.kernelCode(), x.numel()));
        wrote(y);
    }

    @Override
    public void activationBackward(Activation act, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        String op = OpChecks.activationBackward(DEVICE, act, x, y, dy, dx);
        boolean needX = OpChecks.activationBackwardNeedsX(act);
        boolean needY = OpChecks.activationBackwardNeedsY(act);
        long c = ctx();
        run(
                op,
                of(dy),
                () -> ArunetNative.activation_backward(
                        c,
                        dx.address(),
                        needX ? x.address() : 0L,
                        needY ? y.address() : 0L,
                        dy.address(),
                        act.kernelCode(),
                        dy.numel()));
        wrote(dx);
    }

    // ------------------------------------------------------------------ pooling and resampling

    @Override
    public void maxPoolForward(Tensor x, Tensor y, int kernel, int stride, int pad) {
        String op = "maxPoolForward";
        int[] out = OpChecks.maxPoolForward(DEVICE, x, y, kernel, stride, pad);
        long c = ctx();
        run(
                op,
                of(x, y),
                () -> ArunetNative.maxpool_forward(
                        c,
                        y.address(),
                        x.address(),
                        x.dim(0),
                        x.dim(1),
                        x.dim(2),
                        x.dim(3),
                        out[1],
                        out[2],
                        kernel,
                        stride,
                        pad));
        wrote(y);
    }

    @Override
    public void maxPoolBackward(Tensor x, Tensor dy, Tensor dx, int kernel, int stride, int pad) {
        String op = "maxPoolBackward";
        int[] out = OpChecks.maxPoolBackward(DEVICE, x, dy, dx, kernel, stride, pad);
        long c = ctx();
        run(
                op,
                of(x, dy),
                () -> ArunetNative.maxpool_backward(
                        c,
                        dx.address(),
                        x.address(),
                        dy.address(),
                        x.dim(0),
                        x.dim(1),
                        x.dim(2),
                        x.dim(3),
                        out[1],
                        out[2],
                        kernel,
                        stride,
                        pad));
        wrote(dx);
    }

    @Override
    public void globalPoolForward(Tensor x, Tensor max, Tensor avg) {
        String op = "globalPoolForward";
        OpChecks.globalPoolForward(DEVICE, x, max, avg);
        if (max == null && avg == null) {
            return;
        }
        long c = ctx();
        run(
                op,
                of(x),
                () -> ArunetNative.globalpool_forward(
                        c, addr(max), addr(avg), x.address(), x.dim(0), (long) x.dim(1) * x.dim(2), x.dim(3)));
        wrote(max, avg);
    }

    @Override
    public void globalPoolBackward(Tensor x, Tensor max, Tensor dMax, Tensor dAvg, Tensor dx) {
        String op = "globalPoolBackward";
        OpChecks.globalPoolBackward(DEVICE, x, max, dMax, dAvg, dx);
        long c = ctx();
        run(
                op,
                of(x),
                () -> ArunetNative.globalpool_backward(
                        c,
                        dx.address(),
                        x.address(),
                        dMax != null ? max.address() : 0L,
                        addr(dMax),
                        addr(dAvg),
                        x.dim(0),
                        (long) x.dim(1) * x.dim(2),
                        x.dim(3)));
        wrote(dx);
    }

    @Override
    public void channelMaxMeanForward(Tensor x, Tensor out) {
        String op = "channelMaxMeanForward";
        OpChecks.channelMaxMeanForward(DEVICE, x, out);
        long c = ctx();
        run(
                op,
                of(x),
                () -> ArunetNative.channelmaxmean_forward(
                        c, out.address(), x.address(), (long) x.dim(0) * x.dim(1) * x.dim(2), x.dim(3)));
        wrote(out);
    }

    @Override
    public void channelMaxMeanBackward(Tensor x, Tensor out, Tensor dOut, Tensor dx) {
        String op = "channelMaxMeanBackward";
        OpChecks.channelMaxMeanBackward(DEVICE, x, out, dOut, dx);
        long c = ctx();
        run(
                op,
                of(x),
                () -> ArunetNative.channelmaxmean_backward(
                        c,
                        dx.address(),
                        x.address(),
                        out.address(),
                        dOut.address(),
                        (long) x.dim(0) * x.dim(1) * x.dim(2),
                        x.dim(3)));
        wrote(dx);
    }

    @Override
    public void upsample2xForward(Tensor x, Tensor y) {
        String op = "upsample2xForward";
        OpChecks.upsample2xForward(DEVICE, x, y);
        long c = ctx();
        run(
                op,
                of(x),
                () -> ArunetNative.upsample2x_forward(
                        c, y.address(), x.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3)));
        wrote(y);
    }

    @Override
    public void upsample2xBackward(Tensor dy, Tensor dx) {
        String op = "upsample2xBackward";
        OpChecks.upsample2xBackward(DEVICE, dy, dx);
        long c = ctx();
        run(
                op,
                of(dy),
                () -> ArunetNative.upsample2x_backward(
                        c, dx.address(), dy.address(), dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3)));
        wrote(dx);
    }

    @Override
    public void concatChannels(Tensor a, Tensor b, Tensor out) {
        String op = "concatChannels";
        OpChecks.concatChannels(DEVICE, a, b, out);
        long c = ctx();
        run(
                op,
                of(a, b),
                () -> ArunetNative.concat_channels(
                        c,
                        out.address(),
                        a.address(),
                        b.address(),
                        (long) a.dim(0) * a.dim(1) * a.dim(2),
                        a.dim(3),
                        b.dim(3)));
        wrote(out);
    }

    @Override
    public void splitChannels(Tensor dOut, Tensor da, Tensor db) {
        String op = "splitChannels";
        OpChecks.splitChannels(DEVICE, dOut, da, db);
        long c = ctx();
        run(
                op,
                of(dOut),
                () -> ArunetNative.split_channels(
                        c,
                        da.address(),
                        db.address(),
                        dOut.address(),
                        (long) da.dim(0) * da.dim(1) * da.dim(2),
                        da.dim(3),
                        db.dim(3)));
        wrote(da, db);
    }

    // ------------------------------------------------------------------ broadcasting products

    @Override
    public void mulForward(Tensor x, Tensor w, Tensor y) {
        String op = "mulForward";
        int mode = OpChecks.mulForward(DEVICE, x, w, y);
        if (x.numel() == 0) {
            return;
        }
        long[] nhc = mulSizes(x, mode);
        long c = ctx();
        run(
                op,
                of(x, w),
                () -> ArunetNative.mul_forward(c, y.address(), x.address(), w.address(), mode, nhc[0], nhc[1], nhc[2]));
        wrote(y);
    }

    @Override
    public void mulBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw) {
        String op = "mulBackward";
        int mode = OpChecks.mulBackward(DEVICE, dy, x, w, dx, dw);
        if ((dx == null && dw == null) || x.numel() == 0) {
            return;
        }
        long[] nhc = mulSizes(x, mode);
        long c = ctx();
        run(
                op,
                of(x, w),
                () -> ArunetNative.mul_backward(
                        c, addr(dx), addr(dw), dy.address(), x.address(), w.address(), mode, nhc[0], nhc[1], nhc[2]));
        wrote(dx, dw);
    }

    private static long[] mulSizes(Tensor x, int mode) {
        if (mode == OpChecks.MUL_SAME) {
            return new long[] {1, 1, x.numel()};
        }
        return new long[] {x.dim(0), (long) x.dim(1) * x.dim(2), x.dim(3)};
    }

    // ------------------------------------------------------------------ linear

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        String op = "linearForward";
        int[] nio = OpChecks.linearForward(DEVICE, x, w, b, y);
        long c = ctx();
        run(
                op,
                of(x, w),
                () -> ArunetNative.linear_forward(
                        c, y.address(), x.address(), w.address(), addr(b), nio[0], nio[1], nio[2]));
        wrote(y);
    }

    @Override
    public void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor db) {
        String op = "linearBackward";
        int[] nio = OpChecks.linearBackward(DEVICE, dy, x, w, dx, dw, db);
        long c = ctx();
        run(
                op,
                of(x, w),
                () -> ArunetNative.linear_backward(
                        c,
                        addr(dx),
                        dw.address(),
                        addr(db),
                        dy.address(),
                        x.address(),
                        w.address(),
                        nio[0],
                        nio[1],
                        nio[2]));
        wrote(dx, dw, db);
    }

    // ------------------------------------------------------------------ losses and probabilities

    @Override
    public void softmax(Tensor logits, Tensor probs) {
        String op = "softmax";
        OpChecks.softmax(DEVICE, logits, probs);
        long c = ctx();
        long pixels = (long) logits.dim(0) * logits.dim(1) * logits.dim(2);
        run(
                op,
                of(logits),
                () -> ArunetNative.softmax_forward(c, probs.address(), logits.address(), pixels, logits.dim(3)));
        wrote(probs);
    }

    @Override
    public double crossEntropyDiceLoss(
            Tensor logits, Tensor target, Tensor dLogits, float ceWeight, float diceWeight, float smooth) {
        String op = "crossEntropyDiceLoss";
        OpChecks.crossEntropyDiceLossScalars(ceWeight, diceWeight, smooth);
        long c = ctx();
        long pixels = checkLoss(op, c, logits, target, dLogits);
        int k = logits.dim(3);
        double loss = call(
                op,
                of(logits),
                () -> ArunetNative.cross_entropy_dice(
                        c, addr(dLogits), logits.address(), target.address(), pixels, k, ceWeight, diceWeight, smooth));
        wrote(dLogits);
        return loss;
    }

    /**
     * Focal Tversky loss (Abraham and Khan, 2019), pooled over the whole batch and averaged over the K
     * classes: with p the softmax probabilities and t the one-hot target, {@code TP_k = sum p_k t_k},
     * {@code FN_k = sum (1 - p_k) t_k}, {@code FP_k = sum p_k (1 - t_k)},
     * {@code TI_k = (TP_k + smooth) / (TP_k + alpha FN_k + beta FP_k + smooth)},
     * {@code loss = mean_k (1 - TI_k)^gamma}; arguments as {@link #crossEntropyDiceLoss}. This is the
     * {@code Backend} method main added after this backend was started (it overrides it there); the
     * gradient uses {@code max(1 - TI, 1e-12)^(gamma - 1)} so that {@code gamma < 1} stays finite, as the
     * reference backend does.
     */
    public double focalTverskyLoss(
            Tensor logits, Tensor target, Tensor dLogits, float alpha, float beta, float gamma, float smooth) {
        String op = "focalTverskyLoss";
        OpChecks.focalTverskyLossScalars(alpha, beta, gamma, smooth);
        long c = ctx();
        long pixels = checkLoss(op, c, logits, target, dLogits);
        int k = logits.dim(3);
        double loss = call(
                op,
                of(logits),
                () -> ArunetNative.focal_tversky(
                        c, addr(dLogits), logits.address(), target.address(), pixels, k, alpha, beta, gamma, smooth));
        wrote(dLogits);
        return loss;
    }

    /**
     * The shared checks of the losses: logits NHWC {@code [N, H, W, K]}, target I32 {@code [N, H, W]}
     * with every value in {@code [0, K)} (scanned natively; the first bad one is named), dLogits null
     * or like logits. Returns the pixel count.
     */
    private static long checkLoss(String op, long c, Tensor logits, Tensor target, Tensor dLogits) {
        long pixels = OpChecks.lossTensors(op, DEVICE, logits, target, dLogits);
        int k = logits.dim(3);
        long bad = call(op, of(target), () -> ArunetNative.find_invalid_target(c, target.address(), pixels, k));
        if (bad >= 0) {
            String value = target.numel() <= Integer.MAX_VALUE
                    ? String.valueOf(target.view(Layout.PLAIN, (int) target.numel())
                            .slice((int) bad, 1)
                            .toIntArray()[0])
                    : "?";
            throw new IllegalArgumentException(op + ": target value " + value + " at flat index " + bad
                    + " is outside [0, " + k + ") (target " + target.describe() + ", logits " + logits.describe()
                    + ")");
        }
        return pixels;
    }

    // ------------------------------------------------------------------ optimizer

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
        String op = "adamStep";
        OpChecks.adamStep(DEVICE, param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
        long c = ctx();
        run(
                op,
                of(param),
                () -> ArunetNative.adam_step(
                        c,
                        param.address(),
                        m.address(),
                        v.address(),
                        grad.address(),
                        param.numel(),
                        lr,
                        beta1,
                        beta2,
                        eps,
                        weightDecay,
                        step));
        wrote(m, v);
        param.bumpVersion();
    }

    @Override
    public double sumOfSquares(Tensor x) {
        OpChecks.sumOfSquares(DEVICE, x);
        long c = ctx();
        return call("sumOfSquares", of(x), () -> ArunetNative.sum_of_squares(c, x.address(), x.numel()));
    }

    // ------------------------------------------------------------------ lifecycle

    /** Closes every convolution op still open, then frees the native context. Idempotent. */
    @Override
    public void close() {
        if (ctx == 0) {
            return;
        }
        List<CpuConv2dOp> open = new ArrayList<>(convs);
        for (CpuConv2dOp op : open) {
            op.close();
        }
        convs.clear();
        long c = ctx;
        ctx = 0;
        run("CpuBackend.close", NONE, () -> ArunetNative.context_destroy(c));
    }

    @Override
    public String toString() {
        return "CpuBackend(threads=" + threads + (ctx == 0 ? ", closed" : "") + ")";
    }
}

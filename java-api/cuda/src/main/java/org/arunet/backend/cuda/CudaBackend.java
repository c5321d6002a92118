package org.arunet.backend.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import org.arunet.backend.Activation;
import org.arunet.backend.ArunetException;
import org.arunet.backend.Backend;
import org.arunet.backend.Checks;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.backend.OpChecks;
import org.arunet.backend.Precision;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * The GPU backend: convolutions through cuDNN (legacy API, NHWC activations and OHWI filters, the
 * algorithm found once per input shape, see {@link CudaConv2dOp}), linear layers through cuBLAS, every
 * other op as arunet's own CUDA kernels ({@code native/src/main/cuda/*.cu}, loaded from fatbins with the
 * driver API), through the JavaCPP {@code cuda} preset.
 *
 * <p>Tensors live in GPU memory ({@link Device#CUDA}), taken from a caching pool and given back when the
 * tensor is closed; {@link #close()} frees all of it, tensors still open included (they become
 * unusable). Activations are F32 NHWC {@code [N, H, W, C]}, convolution weights OIHW, as the
 * {@link Backend} contract says, and every op has exactly the semantics of the CPU backend; arguments
 * are validated with the same rules before anything reaches the GPU ({@link IllegalArgumentException}
 * naming the op and the shapes); CUDA, cuDNN and cuBLAS failures, out-of-memory included, become
 * {@link ArunetException} naming the op, the shapes and the request.
 *
 * <h2>Precision</h2>
 * {@link Precision#F32} (the default) runs every op in float32 with TF32 off, and matches the CPU
 * backend to float32 rounding (1e-4 relative); {@code new CudaBackend(Precision.F32, true)} (device name
 * {@code cuda:tf32}) lets the convolutions and linear layers use TF32 tensor cores instead. {@link Precision#F16} and {@link Precision#BF16} run the
 * convolutions on the tensor cores in half precision with float32 accumulation, inputs cast on the fly
 * and weights once per update; everything else stays float32, parameters included (the master
 * weights). Training in FP16 needs loss scaling: {@link org.arunet.train.LossScaler}.
 *
 * <h2>Asynchrony and determinism</h2>
 * Ops are queued on one CUDA stream and return before the GPU has finished; reading a tensor back, a
 * loss value or a sum of squares waits for it. Reductions do not use floating-point atomics: results
 * are bitwise reproducible from run to run on one GPU model (cuDNN algorithms are restricted to
 * deterministic ones). With {@code -Darunet.cuda.sync=true} every op waits for the GPU and checks for
 * errors, to pin a failing kernel to its op.
 *
 * <h2>Layout of the code</h2>
 * Like {@code CpuBackend}, every op here is its argument checks ({@link OpChecks}, shared with the other
 * backends) and then one call inside {@link #run}: a single kernel ({@link Kernels}, one method per
 * kernel of {@code native/src/main/cuda/*.cu}) or, where an op takes several launches, the launch
 * sequence of its family, mirroring the CPU's {@code native/src/main/cpp/cpu/<family>.h}:
 * {@link CudaConv2dOp} and {@link CudaEpilogue} (convolution, cuDNN), {@link CudaBatchNorm},
 * {@link CudaPool}, {@link CudaElementwise} (broadcasting products, sums of squares),
 * {@link CudaLinear} (cuBLAS), {@link CudaLoss}. Device memory, streams and handles are
 * {@link CudaContext}'s; graph capture is {@link CudaGraph}'s.
 *
 * <p>Like every backend, it is used by one thread at a time; any thread may be that thread.
 */
public final class CudaBackend implements Backend {
    static final Device DEVICE = Device.CUDA;

    private final Precision precision;
    private final boolean tf32;
    private final CudaContext ctx;
    private final Kernels k;
    private final Set<CudaConv2dOp> convs = Collections.newSetFromMap(new IdentityHashMap<>());
    // the op families with more than one launch per op (see "Layout of the code")
    private final CudaBatchNorm norm;
    private final CudaPool pool;
    private final CudaElementwise elementwise;
    private final CudaLinear linear;
    private final CudaLoss losses;
    private boolean closed;

    /** A float32 backend on GPU 0. */
    public CudaBackend() {
        this(Precision.F32);
    }

    /**
     * A backend on GPU 0 with the given convolution precision.
     *
     * @throws ArunetException when no usable GPU is present (the reason is in the message; see
     *     {@link Cuda#available()})
     */
    public CudaBackend(Precision precision) {
        this(precision, false);
    }

    /**
     * A backend on GPU 0 with the given convolution precision; {@code tf32} lets cuDNN and cuBLAS run the
     * float32 convolutions and matrix products on the TF32 tensor cores (10-bit mantissa operands, float32
     * accumulation: PyTorch's {@code allow_tf32}; float32 results then differ from the CPU backend's at
     * about 1e-3 relative instead of 1e-6). Meant for throughput; off by default.
     *
     * @throws ArunetException when no usable GPU is present (the reason is in the message; see
     *     {@link Cuda#available()})
     */
    public CudaBackend(Precision precision, boolean tf32) {
        if (precision == null) {
            throw new IllegalArgumentException("CudaBackend: precision is null");
        }
        this.precision = precision;
        this.tf32 = tf32;
        this.ctx = new CudaContext(0);
        this.k = ctx.kernels;
        this.norm = new CudaBatchNorm(ctx);
        this.pool = new CudaPool(ctx);
        this.elementwise = new CudaElementwise(ctx);
        this.linear = new CudaLinear(ctx);
        this.losses = new CudaLoss(ctx);
        if (tf32) {
            try {
                ctx.allowTf32();
            } catch (RuntimeException e) {
                ctx.close();
                throw e;
            }
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    /** System property that makes models take the fused inference path on this backend by default. */
    public static final String FUSED_PROPERTY = "arunet.cuda.fused";

    /**
     * True unless {@code -Darunet.cuda.fused=false}. The fused path ({@link #convForwardFused}: the epilogue in
     * one kernel after cuDNN, BN as an affine step; {@link #conv2dUpsampled} without a kept upsampled tensor;
     * activations from the model's planned arena) passed every parity case on an H200 (2026-12-04: fp32, fp16,
     * bf16) and ran ARU-Net inference 1.3x faster than the unfused eval path in half the device memory or
     * less (benchmarks/RESULTS.md); {@code -Darunet.cuda.fused=false} goes back to the unfused path.
     */
    @Override
    public boolean fusedInferenceByDefault() {
        return !"false".equalsIgnoreCase(System.getProperty(FUSED_PROPERTY, "true"));
    }

    @Override
    public Device device() {
        return DEVICE;
    }

    /** The convolution precision. */
    public Precision precision() {
        return precision;
    }

    /** True in {@link Precision#F16}: float16 convolutions need dynamic loss scaling in training. */
    @Override
    public boolean requiresLossScaling() {
        return precision == Precision.F16;
    }

    /** Whether float32 convolutions and matrix products may use TF32 tensor cores. */
    public boolean tf32() {
        return tf32;
    }

    /** The GPU and library versions in one line ({@link Cuda#describe()}). */
    public String describe() {
        return Cuda.describe();
    }

    CudaContext context() {
        return ctx;
    }

    @Override
    public Tensor allocate(DType dtype, Layout layout, int... shape) {
        long n = Tensor.numel(shape);
        String what = dtype + " " + layout + " " + java.util.Arrays.toString(shape);
        CudaMemory m = call("allocate " + what, NONE, () -> ctx.allocate(n * dtype.bytes(), what, true));
        return Tensor.wrap(m, dtype, layout, shape);
    }

    /** An F32 NHWC tensor whose contents are undefined (no memset): temporaries of composed ops. */
    Tensor scratch(int... shape) {
        long n = Tensor.numel(shape);
        String what = "F32 NHWC " + java.util.Arrays.toString(shape);
        CudaMemory m = call("allocate " + what, NONE, () -> ctx.allocate(n * 4L, what, false));
        return Tensor.wrap(m, DType.F32, Layout.NHWC, shape);
    }

    // ------------------------------------------------------------------ memory statistics

    /** Device memory held by this backend's pool. */
    public record MemoryStats(
            long inUseBytes,
            long peakInUseBytes,
            long reservedBytes,
            long peakReservedBytes,
            long cachedBytes,
            long mallocs,
            int liveBlocks) {}

    public MemoryStats memoryStats() {
        DevicePool p = ctx.pool;
        return new MemoryStats(
                p.inUse(), p.peakInUse(), p.reserved(), p.peakReserved(), p.cached(), p.mallocs(), p.liveBlocks());
    }

    /** Starts the peak counters of {@link #memoryStats()} again from the current values. */
    public void resetPeakMemory() {
        ctx.pool.resetPeaks();
    }

    /** Waits for the GPU and gives cached (free) pool blocks back to the driver. */
    public void releaseCachedMemory() {
        run("releaseCachedMemory", NONE, () -> {
            ctx.enter();
            ctx.sync("releaseCachedMemory");
            ctx.clearHalfCache();
            ctx.pool.releaseCached();
        });
    }

    /** Waits until the GPU has finished everything queued so far (and reports any error it met). */
    public void synchronize() {
        run("synchronize", NONE, () -> {
            ctx.enter();
            ctx.sync("synchronize");
        });
    }

    /**
     * Records the GPU work that {@code work} queues on this backend into a {@link CudaGraph} instead of
     * running it. Run the same work once before (eagerly) so that every cuDNN algorithm is found and
     * every tensor allocated: nothing in the recorded work may wait for the GPU (no loss values, no reads
     * of tensors, no algorithm search).
     *
     * @throws ArunetException when the work cannot be recorded (the reason from CUDA is in the message)
     */
    public CudaGraph capture(Runnable work) {
        enter();
        return CudaGraph.capture(ctx, work);
    }

    /** Kernel launches so far (diagnostics). */
    public long kernelLaunches() {
        return k.launches();
    }

    // ------------------------------------------------------------------ plumbing

    static final Tensor[] NONE = {};

    static Tensor[] of(Tensor... shown) {
        return shown;
    }

    /** Runs an op's device calls; a failure becomes an ArunetException naming the op and the shapes. */
    void run(String op, Tensor[] shown, Runnable body) {
        try {
            body.run();
            ctx.afterOp(op);
        } catch (ArunetException e) {
            throw failure(op, shown, e);
        }
    }

    <T> T call(String op, Tensor[] shown, Supplier<T> body) {
        try {
            T r = body.get();
            ctx.afterOp(op);
            return r;
        } catch (ArunetException e) {
            throw failure(op, shown, e);
        }
    }

    private static ArunetException failure(String op, Tensor[] shown, ArunetException e) {
        String on = shown.length == 0 ? "" : " on " + shapes(shown);
        if (e.getMessage() != null && e.getMessage().startsWith(op)) {
            return e;
        }
        return new ArunetException(op + on + ": " + e.getMessage(), e);
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

    private void enter() {
        if (closed) {
            throw new IllegalStateException("CudaBackend used after close()");
        }
        ctx.enter();
    }

    static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    /** The pixels (N H W) of an NHWC tensor. */
    static long pixels(Tensor t) {
        return (long) t.dim(0) * t.dim(1) * t.dim(2);
    }

    // ------------------------------------------------------------------ basics

    @Override
    public void copy(Tensor src, Tensor dst) {
        String op = "copy";
        OpChecks.copy(DEVICE, src, dst);
        enter();
        run(op, of(src), () -> {
            if (src.bytes() > 0) {
                ctx.copyDevice(dst.address(), src.address(), src.bytes());
            }
            ctx.wrote(dst);
        });
    }

    @Override
    public void fill(Tensor t, float value) {
        OpChecks.fill(DEVICE, t);
        enter();
        run("fill", of(t), () -> {
            if (t.numel() > 0) {
                k.fill(t.address(), value, t.numel());
            }
            ctx.wrote(t);
        });
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor y) {
        String op = "add";
        OpChecks.add(DEVICE, a, b, y);
        enter();
        run(op, of(a), () -> {
            if (a.numel() > 0) {
                k.add(y.address(), a.address(), b.address(), a.numel());
            }
            ctx.wrote(y);
        });
    }

    @Override
    public void addInPlace(Tensor y, Tensor x) {
        String op = "addInPlace";
        OpChecks.addInPlace(DEVICE, y, x);
        enter();
        run(op, of(y, x), () -> {
            if (y.numel() > 0) {
                k.add(y.address(), y.address(), x.address(), y.numel());
            }
            ctx.wrote(y);
        });
    }

    @Override
    public void scale(Tensor x, float alpha, Tensor y) {
        String op = "scale";
        OpChecks.scale(DEVICE, x, y);
        enter();
        run(op, of(x), () -> {
            if (x.numel() > 0) {
                k.scale(y.address(), x.address(), alpha, x.numel());
            }
            ctx.wrote(y);
        });
    }

    // ------------------------------------------------------------------ convolution

    @Override
    public Conv2dOp conv2d(Conv2dSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("conv2d: spec is null");
        }
        enter();
        CudaConv2dOp op = new CudaConv2dOp(this, spec);
        convs.add(op);
        return op;
    }

    /** System property (or environment variable ARUNET_CUDA_UPSAMPLING) {@code composed}: see {@link #conv2dUpsampled}. */
    public static final String UPSAMPLING_PROPERTY = "arunet.cuda.upsampling";

    /**
     * {@code y = conv(upsample2x(x))} without a kept upsampled tensor: see {@link CudaUpsampledConv2dOp}.
     * With {@code -Darunet.cuda.upsampling=composed} (or {@code ARUNET_CUDA_UPSAMPLING=composed}), the
     * interface's composed default instead (upsample into a tensor the op keeps, then the convolution): a
     * way back should the direct path fail on some GPU.
     */
    @Override
    public Conv2dOp conv2dUpsampled(Conv2dSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("conv2dUpsampled: spec is null");
        }
        String mode = System.getProperty(UPSAMPLING_PROPERTY, System.getenv("ARUNET_CUDA_UPSAMPLING"));
        if ("composed".equalsIgnoreCase(mode)) {
            return Backend.super.conv2dUpsampled(spec);
        }
        enter();
        CudaConv2dOp inner = new CudaConv2dOp(this, spec);
        convs.add(inner);
        return new CudaUpsampledConv2dOp(this, inner);
    }

    private long composedFusions;

    /**
     * The convolution by cuDNN, then bias and the whole epilogue in one kernel (cuda/convert.cu, Note
     * [convolution epilogue]): a batch norm step becomes an affine step on k_bn_eval_coef's coefficients
     * (as the unfused eval batch norm computes it, so fused and unfused results agree bit for bit), the
     * concatenation with x2 and the 2x upsampling of a {@link #conv2dUpsampled} op are made together with
     * the cast to the convolution's precision. Combinations one kernel cannot take (more than seven steps
     * or four operands, x2 with an upsampling op, ops of another backend) run the composed default.
     */
    @Override
    public void convForwardFused(
            Conv2dOp op, Tensor x, Tensor x2, Tensor w, Tensor b, Tensor y, ConvEpilogue epilogue) {
        String name = "convForwardFused";
        if (op == null || epilogue == null) {
            throw new IllegalArgumentException(name + ": op and epilogue are required");
        }
        CudaConv2dOp conv = null;
        CudaConv2dOp.Source source = x2 == null ? CudaConv2dOp.Source.PLAIN : CudaConv2dOp.Source.CONCAT;
        if (op instanceof CudaUpsampledConv2dOp u && u.backend() == this && x2 == null) {
            conv = u.inner();
            source = CudaConv2dOp.Source.UPSAMPLED;
        } else if (op instanceof CudaConv2dOp c && convs.contains(c)) {
            conv = c;
        }
        Checks.present(name, "x", x, DEVICE);
        Checks.present(name, "y", y, DEVICE);
        if (conv == null) {
            composedFusions++;
            Backend.super.convForwardFused(op, x, x2, w, b, y, epilogue);
            return;
        }
        conv.checkFused(name, source, x, x2, w, b, y);
        CudaEpilogue.check(name, epilogue, y, y.dim(3));
        CudaEpilogue.Program program = CudaEpilogue.compile(epilogue);
        if (program == null) {
            composedFusions++;
            Backend.super.convForwardFused(op, x, x2, w, b, y, epilogue);
            return;
        }
        Checks.disjoint(name, 1, "y", y, "x", x, "x2", x2, "w", w, "b", b);
        enter();
        CudaConv2dOp c = conv;
        CudaConv2dOp.Source src = source;
        run(
                name + " " + conv.spec() + " " + epilogue,
                of(x, w, y),
                () -> CudaEpilogue.run(ctx, c, src, x, x2, w, b, y, program));
    }

    /** How many {@link #convForwardFused} calls ran the composed default (diagnostics, tests). */
    public long composedFusions() {
        return composedFusions;
    }

    void forget(CudaConv2dOp op) {
        convs.remove(op);
    }

    /** Convolution ops still open (diagnostics and tests). */
    List<CudaConv2dOp> openConvolutions() {
        return new ArrayList<>(convs);
    }

    /**
     * The cuDNN algorithm each open convolution chose per input shape and pass, one line each (precision,
     * algorithm number, math type, time measured by cudnnFind, workspace): for benchmark logs.
     */
    public String convolutionAlgorithms() {
        StringBuilder s = new StringBuilder();
        for (CudaConv2dOp op : convs) {
            s.append(op.algorithms());
        }
        return s.toString();
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
        boolean relu = act == Activation.RELU;
        enter();
        if (training) {
            run(
                    op + " (training)",
                    of(x),
                    () -> norm.forwardTraining(
                            x, gamma, beta, runningMean, runningVar, saveMean, saveInvStd, y, momentum, eps, relu));
        } else {
            run(
                    op + " (inference)",
                    of(x),
                    () -> norm.forwardInference(x, gamma, beta, runningMean, runningVar, y, eps, relu));
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
        boolean relu = act == Activation.RELU;
        enter();
        run(op, of(x), () -> norm.backward(dy, x, y, gamma, saveMean, saveInvStd, dx, dGamma, dBeta, relu));
    }

    // ------------------------------------------------------------------ activations

    @Override
    public void activationForward(Activation act, Tensor x, Tensor y) {
        String op = OpChecks.activationForward(DEVICE, act, x, y);
        enter();
        run(op, of(x), () -> {
            if (x.numel() > 0) {
                k.activationForward(y.address(), x.address(), act.kernelCode(), x.numel());
            }
            ctx.wrote(y);
        });
    }

    @Override
    public void activationBackward(Activation act, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        String op = OpChecks.activationBackward(DEVICE, act, x, y, dy, dx);
        boolean needX = OpChecks.activationBackwardNeedsX(act);
        boolean needY = OpChecks.activationBackwardNeedsY(act);
        enter();
        run(op, of(dy), () -> {
            if (dy.numel() > 0) {
                k.activationBackward(
                        dx.address(),
                        needX ? x.address() : 0L,
                        needY ? y.address() : 0L,
                        dy.address(),
                        act.kernelCode(),
                        dy.numel());
            }
            ctx.wrote(dx);
        });
    }

    // ------------------------------------------------------------------ pooling and resampling

    @Override
    public void maxPoolForward(Tensor x, Tensor y, int kernel, int stride, int pad) {
        String op = "maxPoolForward";
        int[] out = OpChecks.maxPoolForward(DEVICE, x, y, kernel, stride, pad);
        enter();
        run(op, of(x, y), () -> pool.maxPoolForward(x, y, out, kernel, stride, pad));
    }

    @Override
    public void maxPoolBackward(Tensor x, Tensor dy, Tensor dx, int kernel, int stride, int pad) {
        String op = "maxPoolBackward";
        int[] out = OpChecks.maxPoolBackward(DEVICE, x, dy, dx, kernel, stride, pad);
        enter();
        run(op, of(x, dy), () -> pool.maxPoolBackward(x, dy, dx, out, kernel, stride, pad));
    }

    @Override
    public void globalPoolForward(Tensor x, Tensor max, Tensor avg) {
        String op = "globalPoolForward";
        OpChecks.globalPoolForward(DEVICE, x, max, avg);
        if (max == null && avg == null) {
            return;
        }
        enter();
        run(op, of(x), () -> pool.globalPoolForward(x, max, avg));
    }

    @Override
    public void globalPoolBackward(Tensor x, Tensor max, Tensor dMax, Tensor dAvg, Tensor dx) {
        String op = "globalPoolBackward";
        OpChecks.globalPoolBackward(DEVICE, x, max, dMax, dAvg, dx);
        enter();
        run(op, of(x), () -> pool.globalPoolBackward(x, max, dMax, dAvg, dx));
    }

    @Override
    public void channelMaxMeanForward(Tensor x, Tensor out) {
        String op = "channelMaxMeanForward";
        OpChecks.channelMaxMeanForward(DEVICE, x, out);
        enter();
        run(op, of(x), () -> {
            k.channelMaxMeanForward(out.address(), x.address(), pixels(x), x.dim(3));
            ctx.wrote(out);
        });
    }

    @Override
    public void channelMaxMeanBackward(Tensor x, Tensor out, Tensor dOut, Tensor dx) {
        String op = "channelMaxMeanBackward";
        OpChecks.channelMaxMeanBackward(DEVICE, x, out, dOut, dx);
        enter();
        run(op, of(x), () -> {
            k.channelMaxMeanBackward(dx.address(), x.address(), out.address(), dOut.address(), pixels(x), x.dim(3));
            ctx.wrote(dx);
        });
    }

    @Override
    public void upsample2xForward(Tensor x, Tensor y) {
        String op = "upsample2xForward";
        OpChecks.upsample2xForward(DEVICE, x, y);
        enter();
        run(op, of(x), () -> {
            k.upsampleForward(y.address(), x.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
            ctx.wrote(y);
        });
    }

    @Override
    public void upsample2xBackward(Tensor dy, Tensor dx) {
        String op = "upsample2xBackward";
        OpChecks.upsample2xBackward(DEVICE, dy, dx);
        enter();
        run(op, of(dy), () -> {
            k.upsampleBackward(dx.address(), dy.address(), dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3));
            ctx.wrote(dx);
        });
    }

    @Override
    public void concatChannels(Tensor a, Tensor b, Tensor out) {
        String op = "concatChannels";
        OpChecks.concatChannels(DEVICE, a, b, out);
        enter();
        run(op, of(a, b), () -> {
            k.concat(out.address(), a.address(), b.address(), pixels(a), a.dim(3), b.dim(3));
            ctx.wrote(out);
        });
    }

    @Override
    public void splitChannels(Tensor dOut, Tensor da, Tensor db) {
        String op = "splitChannels";
        OpChecks.splitChannels(DEVICE, dOut, da, db);
        enter();
        run(op, of(dOut), () -> {
            k.split(da.address(), db.address(), dOut.address(), pixels(da), da.dim(3), db.dim(3));
            ctx.wrote(da, db);
        });
    }

    // ------------------------------------------------------------------ broadcasting products

    @Override
    public void mulForward(Tensor x, Tensor w, Tensor y) {
        String op = "mulForward";
        int mode = OpChecks.mulForward(DEVICE, x, w, y);
        if (x.numel() == 0) {
            return;
        }
        enter();
        run(op, of(x, w), () -> elementwise.mulForward(mode, x, w, y));
    }

    @Override
    public void mulBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw) {
        String op = "mulBackward";
        int mode = OpChecks.mulBackward(DEVICE, dy, x, w, dx, dw);
        if ((dx == null && dw == null) || x.numel() == 0) {
            return;
        }
        enter();
        run(op, of(x, w), () -> elementwise.mulBackward(mode, dy, x, w, dx, dw));
    }

    // ------------------------------------------------------------------ linear (cuBLAS: CudaLinear)

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        String op = "linearForward";
        int[] nio = OpChecks.linearForward(DEVICE, x, w, b, y);
        int n = nio[0];
        int in = nio[1];
        int out = nio[2];
        enter();
        run(op, of(x, w), () -> linear.forward(x, w, b, y, n, in, out));
    }

    @Override
    public void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor db) {
        String op = "linearBackward";
        int[] nio = OpChecks.linearBackward(DEVICE, dy, x, w, dx, dw, db);
        int n = nio[0];
        int in = nio[1];
        int out = nio[2];
        enter();
        run(op, of(x, w), () -> linear.backward(dy, x, w, dx, dw, db, n, in, out));
    }

    // ------------------------------------------------------------------ losses and probabilities

    @Override
    public void softmax(Tensor logits, Tensor probs) {
        String op = "softmax";
        OpChecks.softmax(DEVICE, logits, probs);
        enter();
        run(op, of(logits), () -> {
            k.softmax(probs.address(), logits.address(), pixels(logits), logits.dim(3));
            ctx.wrote(probs);
        });
    }

    @Override
    public double crossEntropyDiceLoss(
            Tensor logits, Tensor target, Tensor dLogits, float ceWeight, float diceWeight, float smooth) {
        String op = "crossEntropyDiceLoss";
        OpChecks.crossEntropyDiceLossScalars(ceWeight, diceWeight, smooth);
        OpChecks.lossTensors(op, DEVICE, logits, target, dLogits);
        int kk = logits.dim(3);
        long p = pixels(logits);
        return loss(
                op,
                logits,
                target,
                dLogits,
                sums -> LossMath.crossEntropyDice(sums, p, kk, ceWeight, diceWeight, smooth));
    }

    @Override
    public double focalTverskyLoss(
            Tensor logits, Tensor target, Tensor dLogits, float alpha, float beta, float gamma, float smooth) {
        String op = "focalTverskyLoss";
        OpChecks.focalTverskyLossScalars(alpha, beta, gamma, smooth);
        OpChecks.lossTensors(op, DEVICE, logits, target, dLogits);
        int kk = logits.dim(3);
        return loss(op, logits, target, dLogits, sums -> LossMath.focalTversky(sums, kk, alpha, beta, gamma, smooth));
    }

    /**
     * The device passes shared by the losses ({@link CudaLoss#passes}). A target outside [0, K) throws
     * {@link IllegalArgumentException} naming the first such pixel (dLogits then holds intermediate values).
     */
    private double loss(
            String op, Tensor logits, Tensor target, Tensor dLogits, Function<double[], LossMath.Coefficients> host) {
        enter();
        long[] badIndex = {-1};
        double value = call(op, of(logits), () -> losses.passes(logits, target, dLogits, host, badIndex));
        if (badIndex[0] >= 0) {
            throw CudaLoss.targetOutOfRange(op, logits, target, badIndex[0]);
        }
        return value;
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
        // as cpu/adam.h: bias corrections in double from the float hyper-parameters
        double bc1 = 1.0 - Math.pow(beta1, (double) step);
        double bc2 = 1.0 - Math.pow(beta2, (double) step);
        float stepSize = (float) (lr / bc1);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        enter();
        run(op, of(param), () -> {
            if (param.numel() > 0) {
                k.adam(
                        param.address(),
                        m.address(),
                        v.address(),
                        grad.address(),
                        param.numel(),
                        beta1,
                        beta2,
                        stepSize,
                        bc2Sqrt,
                        eps,
                        weightDecay);
            }
            ctx.wrote(m, v, param);
        });
    }

    @Override
    public double sumOfSquares(Tensor x) {
        OpChecks.sumOfSquares(DEVICE, x);
        if (x.numel() == 0) {
            return 0.0;
        }
        enter();
        return call("sumOfSquares", of(x), () -> elementwise.sumOfSquares(x));
    }

    /**
     * Multiplies every tensor by {@code factor} in place (when it is not 1) and returns the sum of squares
     * of each after scaling, with one synchronization for all of them: the gradient-norm and finiteness
     * check of a training step, and the unscaling of loss-scaled gradients. NaN and infinity propagate
     * into the sums.
     */
    @Override
    public double[] scaleAndSumSquares(List<Tensor> tensors, float factor) {
        String op = "scaleAndSumSquares";
        for (int i = 0; i < tensors.size(); i++) {
            Checks.f32(op, "tensors[" + i + "]", tensors.get(i), DEVICE);
        }
        int t = tensors.size();
        if (t == 0) {
            return new double[0];
        }
        enter();
        return call(op, NONE, () -> elementwise.scaleAndSumSquares(tensors, factor));
    }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Closes every convolution op still open, then frees all device memory of this backend (tensors it
     * allocated included: they become unusable), its handles and its stream. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (CudaConv2dOp op : new ArrayList<>(convs)) {
            try {
                op.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        convs.clear();
        try {
            ctx.close();
        } catch (RuntimeException e) {
            first = first == null ? e : first;
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "CudaBackend(" + precision + (tf32 ? ", tf32" : "") + (closed ? ", closed" : "") + ")";
    }
}

package org.arunet.backend.cpu;

import java.util.concurrent.atomic.AtomicLong;
import org.arunet.backend.Checks;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvChecks;
import org.arunet.backend.ConvEpilogue;
import org.arunet.backend.Precision;
import org.arunet.jni.ArunetNative;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * One convolution layer on oneDNN ({@code native/src/main/cpp/cpu/conv2d.h}): x, y, dx, dy are NHWC
 * {@code [N, H, W, C]} host tensors used in place; w and dw are PyTorch's OIHW
 * {@code [out, in / groups, kh, kw]}; b and db {@code [out]}.
 *
 * <p>The native object caches, per input shape (N, H, W), the forward-inference, forward-training,
 * backward-data and backward-weights primitives, and the weights reordered into the layout each
 * primitive prefers. That reorder is keyed on the weight tensor's {@link Tensor#id()} and
 * {@link Tensor#version()}: it runs again only when another tensor is passed or its version changed
 * (after {@link Tensor#bumpVersion()}, {@code copyFrom}, an optimizer step, or any {@link CpuBackend}
 * op that wrote into the tensor: they all bump their outputs' versions). Writing new values into the
 * weights' memory by other means without bumping the version leaves the old weights in use, as the
 * {@link Tensor} contract states.
 *
 * <p>An upsampling op ({@link CpuBackend#conv2dUpsampled}) convolves the 2x nearest-upsampled input
 * without building it: {@code conv2d.h}, Note [upsampling convolution]. Its x and dx are the
 * low-resolution {@code [N, H, W, in]}, y and dy {@code [N, 2H, 2W, out]}.
 *
 * <p>{@link #forwardFused} is the inference path of {@link CpuBackend#convForwardFused}: a leading
 * batch norm of the epilogue is folded into the weights and bias (its scale and shift computed here
 * once per change of the four batch-norm tensors' versions, and tagged so that the native weight
 * cache refolds only then), the other steps become oneDNN post-ops; a second input block is
 * convolved with its slice of the weights and summed in the epilogue.
 *
 * <p>Closed by its owner (or by {@link CpuBackend#close()}); every use after {@link #close()} throws
 * {@link IllegalStateException}.
 */
final class CpuConv2dOp implements Conv2dOp {
    /** Tags of folded batch-norm coefficients, unique in the process. */
    private static final AtomicLong FOLDS = new AtomicLong();

    // post-op codes of conv2d.h (Note [post-op recipes])
    static final int POST_SUM = 1;
    static final int POST_RELU = 2;
    static final int POST_GELU = 3;
    static final int POST_SIGMOID = 4;
    static final int POST_MUL = 5;
    static final int POST_ADD = 6;
    static final int POST_AFFINE = 7;
    static final int MAX_POST_OPS = 7;
    static final int MAX_OPERANDS = 4;

    private final CpuBackend backend;
    private final Conv2dSpec spec;
    private final boolean up2;
    /** The input is upsampled 2x (2) or not (1), for {@link #checks}. */
    private final int factor;

    private final ConvChecks checks;
    private final String forwardName;
    private final String forwardFusedName;
    private final String backwardDataName;
    private final String backwardWeightsName;
    private final Fold[] folds = new Fold[2];
    private long handle;

    CpuConv2dOp(CpuBackend backend, Conv2dSpec spec, boolean up2) {
        this.backend = backend;
        this.spec = spec;
        this.up2 = up2;
        this.factor = up2 ? 2 : 1;
        this.checks = new ConvChecks(spec, CpuBackend.DEVICE, false);
        String kind = up2 ? "conv2dUpsampled" : "conv2d";
        this.forwardName = kind + ".forward " + spec;
        this.forwardFusedName = kind + ".forwardFused " + spec;
        this.backwardDataName = kind + ".backwardData " + spec;
        this.backwardWeightsName = kind + ".backwardWeights " + spec;
        if (up2
                && !(spec.kernelH() == 3
                        && spec.kernelW() == 3
                        && spec.strideH() == 1
                        && spec.strideW() == 1
                        && spec.padH() == 1
                        && spec.padW() == 1
                        && spec.dilationH() == 1
                        && spec.dilationW() == 1
                        && spec.groups() == 1)) {
            throw new IllegalArgumentException("conv2dUpsampled: the CPU backend computes 3x3, stride 1, padding 1,"
                    + " ungrouped convolutions of an upsampled input, not " + spec);
        }
        long c = backend.ctx();
        this.handle = CpuBackend.call(
                kind + " " + spec,
                CpuBackend.NONE,
                () -> ArunetNative.conv2d_create(
                        c,
                        spec.inChannels(),
                        spec.outChannels(),
                        spec.kernelH(),
                        spec.kernelW(),
                        spec.strideH(),
                        spec.strideW(),
                        spec.padH(),
                        spec.padW(),
                        spec.dilationH(),
                        spec.dilationW(),
                        spec.groups(),
                        spec.bias(),
                        up2));
    }

    /** True for an op made by {@link CpuBackend#conv2dUpsampled}. */
    boolean upsampling() {
        return up2;
    }

    @Override
    public Conv2dSpec spec() {
        return spec;
    }

    private long handle() {
        if (handle == 0) {
            throw new IllegalStateException("conv2d " + spec + " used after close()");
        }
        return handle;
    }

    // ------------------------------------------------------------------ compute

    @Override
    public void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training) {
        checks.forward("conv2d.forward", x, w, b, y, factor);
        long c = backend.ctx();
        long h = handle();
        boolean bf16 = backend.trainingPrecision() == Precision.BF16;
        CpuBackend.run(
                forwardName,
                CpuBackend.of(x, w, y),
                () -> ArunetNative.conv2d_forward(
                        c,
                        h,
                        y.address(),
                        x.address(),
                        w.address(),
                        w.id(),
                        w.version(),
                        b == null ? 0L : b.address(),
                        x.dim(0),
                        x.dim(1),
                        x.dim(2),
                        training,
                        bf16));
        y.bumpVersion();
    }

    /**
     * The native fused forward, or false when this epilogue (or input split) is not one the native
     * path executes: more than {@value #MAX_OPERANDS} tensor operands or {@value #MAX_POST_OPS} steps,
     * a MUL/ADD operand not shaped like y, a SUM with a split input, anything but activations after
     * an upsampling convolution, or a batch norm beyond the second. The caller then composes.
     */
    boolean forwardFused(Tensor x, Tensor x2, Tensor w, Tensor b, Tensor y, ConvEpilogue epilogue, boolean bf16) {
        String op = "conv2d.forwardFused";
        if (x2 == null) {
            checks.input(op, "x", x, factor);
        } else {
            Checks.nhwc(op, "x", x, CpuBackend.DEVICE);
            Checks.nhwc(op, "x2", x2, CpuBackend.DEVICE);
            if (x.dim(0) != x2.dim(0)
                    || x.dim(1) != x2.dim(1)
                    || x.dim(2) != x2.dim(2)
                    || x.dim(3) + x2.dim(3) != spec.inChannels()
                    || x.dim(3) <= 0
                    || x2.dim(3) <= 0) {
                throw new IllegalArgumentException(op + " " + spec + ": x " + x.describe() + " and x2 " + x2.describe()
                        + " must agree in N, H, W and have " + spec.inChannels() + " channels together");
            }
            checks.span(op, "x " + x.describe(), x.dim(1), x.dim(2));
            if (up2 || spec.groups() != 1) {
                return false;
            }
        }
        checks.weights(op, "w", w);
        checks.bias(op, "b", b);
        checks.output(op, "y", y, "x", x, factor);
        int recipe = 0;
        int steps = 0;
        int operands = 0;
        long[] ptr = new long[MAX_OPERANDS];
        Tensor[] shown = new Tensor[MAX_OPERANDS];
        Fold leading = null;
        int folded = 0;
        int index = 0;
        for (ConvEpilogue.Step st : epilogue.steps()) {
            int code;
            switch (st.kind()) {
                case BATCH_NORM -> {
                    checkBatchNorm(op, st.bn());
                    if (index == 0) {
                        leading = fold(0, st.bn());
                        folded++;
                        index++;
                        continue;
                    }
                    if (up2 || folded >= folds.length || operands + 2 > MAX_OPERANDS) {
                        return false;
                    }
                    Fold f = fold(folded++, st.bn());
                    ptr[operands++] = f.scale.address();
                    ptr[operands++] = f.shift.address();
                    code = POST_AFFINE;
                }
                case ACTIVATION ->
                    code = switch (st.act()) {
                        case RELU -> POST_RELU;
                        case GELU -> POST_GELU;
                        case SIGMOID -> POST_SIGMOID;
                        case NONE -> 0;
                    };
                case SUM -> {
                    if (up2 || x2 != null) {
                        return false;
                    }
                    code = POST_SUM;
                }
                case MUL, ADD -> {
                    Tensor t = st.tensor();
                    Checks.f32(op, st.kind() + " operand", t, CpuBackend.DEVICE);
                    if (up2 || !t.sameShape(y) || operands >= MAX_OPERANDS) {
                        return false;
                    }
                    Checks.disjoint(op, 1, "y", y, st.kind() + " operand", t);
                    shown[operands] = t;
                    ptr[operands++] = t.address();
                    code = st.kind() == ConvEpilogue.Kind.MUL ? POST_MUL : POST_ADD;
                }
                default -> throw new IllegalStateException("unknown epilogue step " + st.kind());
            }
            index++;
            if (code == 0) {
                continue;
            }
            if (steps >= MAX_POST_OPS - (x2 != null ? 1 : 0)) {
                return false;
            }
            recipe |= code << (4 * steps++);
        }
        Checks.disjoint(op, 1, "y", y, "x", x, "x2", x2, "w", w, "b", b);
        long c = backend.ctx();
        long h = handle();
        int r = recipe;
        Fold lead = leading;
        CpuBackend.run(
                forwardFusedName,
                CpuBackend.of(x, w, y),
                () -> ArunetNative.conv2d_forward_fused(
                        c,
                        h,
                        y.address(),
                        x.address(),
                        x2 == null ? 0L : x2.address(),
                        x.dim(3),
                        w.address(),
                        w.id(),
                        w.version(),
                        b == null ? 0L : b.address(),
                        lead == null ? 0L : lead.scale.address(),
                        lead == null ? 0L : lead.shift.address(),
                        lead == null ? 0L : lead.tag,
                        r,
                        ptr[0],
                        ptr[1],
                        ptr[2],
                        ptr[3],
                        x.dim(0),
                        x.dim(1),
                        x.dim(2),
                        bf16));
        y.bumpVersion();
        return true;
    }

    private void checkBatchNorm(String op, ConvEpilogue.BatchNorm bn) {
        int ch = spec.outChannels();
        Checks.shape(op + " " + spec, "batch norm gamma", bn.gamma(), CpuBackend.DEVICE, ch);
        Checks.shape(op + " " + spec, "batch norm beta", bn.beta(), CpuBackend.DEVICE, ch);
        Checks.shape(op + " " + spec, "batch norm mean", bn.mean(), CpuBackend.DEVICE, ch);
        Checks.shape(op + " " + spec, "batch norm var", bn.var(), CpuBackend.DEVICE, ch);
    }

    /**
     * Inference batch norm as {@code scale = gamma / sqrt(var + eps)}, {@code shift = beta - mean scale}
     * (computed in double, rounded once), cached per slot while the four tensors and their versions
     * stay the same.
     */
    private Fold fold(int slot, ConvEpilogue.BatchNorm bn) {
        Fold f = folds[slot];
        Tensor[] src = {bn.gamma(), bn.beta(), bn.mean(), bn.var()};
        if (f != null && f.matches(src, bn.eps())) {
            return f;
        }
        if (f == null) {
            f = new Fold(spec.outChannels());
            folds[slot] = f;
        }
        float[] g = bn.gamma().toFloatArray();
        float[] be = bn.beta().toFloatArray();
        float[] m = bn.mean().toFloatArray();
        float[] v = bn.var().toFloatArray();
        float[] scale = new float[g.length];
        float[] shift = new float[g.length];
        for (int i = 0; i < g.length; i++) {
            double a = g[i] / Math.sqrt((double) v[i] + bn.eps());
            scale[i] = (float) a;
            shift[i] = (float) (be[i] - m[i] * a);
        }
        f.scale.copyFrom(scale);
        f.shift.copyFrom(shift);
        f.remember(src, bn.eps());
        return f;
    }

    /** A folded batch norm: scale and shift tensors, what they were computed from, and their tag. */
    private static final class Fold implements AutoCloseable {
        final Tensor scale;
        final Tensor shift;
        final long[] ids = new long[4];
        final long[] versions = new long[4];
        float eps;
        long tag;

        Fold(int channels) {
            scale = Tensor.host(DType.F32, Layout.PLAIN, channels);
            shift = Tensor.host(DType.F32, Layout.PLAIN, channels);
        }

        boolean matches(Tensor[] src, float e) {
            for (int i = 0; i < 4; i++) {
                if (src[i].id() != ids[i] || src[i].version() != versions[i]) {
                    return false;
                }
            }
            return e == eps;
        }

        void remember(Tensor[] src, float e) {
            for (int i = 0; i < 4; i++) {
                ids[i] = src[i].id();
                versions[i] = src[i].version();
            }
            eps = e;
            tag = FOLDS.incrementAndGet();
        }

        @Override
        public void close() {
            scale.close();
            shift.close();
        }
    }

    @Override
    public void backwardData(Tensor dy, Tensor w, Tensor dx) {
        checks.backwardData("conv2d.backwardData", dy, w, dx, factor);
        long c = backend.ctx();
        long h = handle();
        boolean bf16 = backend.trainingPrecision() == Precision.BF16;
        CpuBackend.run(
                backwardDataName,
                CpuBackend.of(dy, w, dx),
                () -> ArunetNative.conv2d_backward_data(
                        c,
                        h,
                        dx.address(),
                        dy.address(),
                        w.address(),
                        w.id(),
                        w.version(),
                        dx.dim(0),
                        dx.dim(1),
                        dx.dim(2),
                        bf16));
        dx.bumpVersion();
    }

    @Override
    public void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
        checks.backwardWeights("conv2d.backwardWeights", x, dy, dw, db, factor);
        long c = backend.ctx();
        long h = handle();
        boolean bf16 = backend.trainingPrecision() == Precision.BF16;
        CpuBackend.run(
                backwardWeightsName,
                CpuBackend.of(x, dy, dw),
                () -> ArunetNative.conv2d_backward_weights(
                        c,
                        h,
                        dw.address(),
                        db == null ? 0L : db.address(),
                        x.address(),
                        dy.address(),
                        x.dim(0),
                        x.dim(1),
                        x.dim(2),
                        bf16));
        dw.bumpVersion();
        if (db != null) {
            db.bumpVersion();
        }
    }

    // ------------------------------------------------------------------ diagnostics (tests, benchmarks)

    /** The passes whose oneDNN implementation can be queried. */
    enum Pass {
        FORWARD_INFERENCE,
        FORWARD_TRAINING,
        BACKWARD_DATA,
        BACKWARD_WEIGHTS
    }

    /**
     * oneDNN's implementation name (e.g. {@code brg_conv_fwd:avx512_core}) for one pass on input
     * {@code [n, h, w, in]} at the backend's training precision; creates and caches the primitive if it
     * is not there yet.
     */
    String implementation(Pass pass, int n, int h, int w) {
        long c = backend.ctx();
        long hd = handle();
        return CpuBackend.call(
                "conv2d.implementation " + spec,
                CpuBackend.NONE,
                () -> ArunetNative.conv2d_implementation(
                        c, hd, pass.ordinal(), -1, backend.trainingPrecision() == Precision.BF16, n, h, w));
    }

    /** oneDNN's implementation of the fused inference forward with a post-op recipe (conv2d.h codes). */
    String fusedImplementation(int recipe, boolean bf16, int n, int h, int w) {
        long c = backend.ctx();
        long hd = handle();
        return CpuBackend.call(
                "conv2d.implementation " + spec,
                CpuBackend.NONE,
                () -> ArunetNative.conv2d_implementation(c, hd, 0, recipe, bf16, n, h, w));
    }

    /** How many times the OIHW weights were reordered into a primitive's layout so far. */
    long weightReorders() {
        long h = handle();
        return CpuBackend.call(
                "conv2d.weightReorders " + spec, CpuBackend.NONE, () -> ArunetNative.conv2d_weight_reorders(h));
    }

    /** Frees the primitives and cached weights. Idempotent. */
    @Override
    public void close() {
        if (handle == 0) {
            return;
        }
        long h = handle;
        handle = 0;
        backend.forget(this);
        for (int i = 0; i < folds.length; i++) {
            if (folds[i] != null) {
                folds[i].close();
                folds[i] = null;
            }
        }
        CpuBackend.run("conv2d.close " + spec, CpuBackend.NONE, () -> ArunetNative.conv2d_destroy(h));
    }

    @Override
    public String toString() {
        return "CpuConv2dOp" + (up2 ? "[upsampling]" : "") + spec + (handle == 0 ? " (closed)" : "");
    }
}

package org.arunet.backend.cpu;

import java.util.Arrays;
import org.arunet.backend.Checks;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.jni.ArunetNative;
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
 * <p>Closed by its owner (or by {@link CpuBackend#close()}); every use after {@link #close()} throws
 * {@link IllegalStateException}.
 */
final class CpuConv2dOp implements Conv2dOp {
    private final CpuBackend backend;
    private final Conv2dSpec spec;
    private final String forwardName;
    private final String backwardDataName;
    private final String backwardWeightsName;
    private long handle;

    CpuConv2dOp(CpuBackend backend, Conv2dSpec spec) {
        this.backend = backend;
        this.spec = spec;
        this.forwardName = "conv2d.forward " + spec;
        this.backwardDataName = "conv2d.backwardData " + spec;
        this.backwardWeightsName = "conv2d.backwardWeights " + spec;
        long c = backend.ctx();
        this.handle = CpuBackend.call("conv2d " + spec, CpuBackend.NONE, () -> ArunetNative.conv2d_create(c,
                spec.inChannels(), spec.outChannels(), spec.kernelH(), spec.kernelW(), spec.strideH(),
                spec.strideW(), spec.padH(), spec.padW(), spec.dilationH(), spec.dilationW(), spec.groups(),
                spec.bias()));
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

    // ------------------------------------------------------------------ validation

    /** Checks an NHWC activation of the input side, {@code [N, H, W, in]}. */
    private void input(String op, String name, Tensor t) {
        Checks.nhwc(op, name, t, CpuBackend.DEVICE);
        if (t.dim(3) != spec.inChannels() || t.dim(0) <= 0 || t.dim(1) <= 0 || t.dim(2) <= 0) {
            throw new IllegalArgumentException(op + " " + spec + ": " + name + " must be [N, H, W, "
                    + spec.inChannels() + "] (non-empty), got " + t.describe());
        }
        // as PyTorch: the padded input must hold the dilated kernel (outH's truncating division alone
        // would accept some smaller inputs with stride > 1)
        int spanH = spec.dilationH() * (spec.kernelH() - 1) + 1;
        int spanW = spec.dilationW() * (spec.kernelW() - 1) + 1;
        if (t.dim(1) + 2 * spec.padH() < spanH || t.dim(2) + 2 * spec.padW() < spanW) {
            throw new IllegalArgumentException(op + " " + spec + ": " + name + " " + t.describe()
                    + " is smaller than the kernel span " + spanH + "x" + spanW + " with its padding");
        }
    }

    /** Checks an NHWC activation of the output side against the input-side tensor {@code in}. */
    private void output(String op, String name, Tensor t, String inName, Tensor in) {
        Checks.nhwc(op, name, t, CpuBackend.DEVICE);
        int[] want = {in.dim(0), spec.outH(in.dim(1)), spec.outW(in.dim(2)), spec.outChannels()};
        if (!t.hasShape(want)) {
            throw new IllegalArgumentException(op + " " + spec + ": " + name + " must be " + Arrays.toString(want)
                    + " for " + inName + " " + in.describe() + ", got " + t.describe());
        }
    }

    private void weights(String op, String name, Tensor w) {
        Checks.shape(op + " " + spec, name, w, CpuBackend.DEVICE, spec.weightShape());
    }

    private void bias(String op, String name, Tensor b) {
        if (spec.bias()) {
            Checks.shape(op + " " + spec, name + " (the spec has a bias)", b, CpuBackend.DEVICE, spec.outChannels());
        } else if (b != null) {
            throw new IllegalArgumentException(op + " " + spec + ": " + name + " given to a convolution without bias");
        }
    }

    // ------------------------------------------------------------------ compute

    @Override
    public void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training) {
        String op = "conv2d.forward";
        input(op, "x", x);
        weights(op, "w", w);
        bias(op, "b", b);
        output(op, "y", y, "x", x);
        CpuBackend.disjoint(op, 1, "y", y, "x", x, "w", w, "b", b);
        long c = backend.ctx();
        long h = handle();
        CpuBackend.run(forwardName, CpuBackend.of(x, w, y), () -> ArunetNative.conv2d_forward(c, h, y.address(),
                x.address(), w.address(), w.id(), w.version(), b == null ? 0L : b.address(), x.dim(0), x.dim(1),
                x.dim(2), training));
        y.bumpVersion();
    }

    @Override
    public void backwardData(Tensor dy, Tensor w, Tensor dx) {
        String op = "conv2d.backwardData";
        input(op, "dx", dx);
        weights(op, "w", w);
        output(op, "dy", dy, "dx", dx);
        CpuBackend.disjoint(op, 1, "dx", dx, "dy", dy, "w", w);
        long c = backend.ctx();
        long h = handle();
        CpuBackend.run(backwardDataName, CpuBackend.of(dy, w, dx), () -> ArunetNative.conv2d_backward_data(c, h,
                dx.address(), dy.address(), w.address(), w.id(), w.version(), dx.dim(0), dx.dim(1), dx.dim(2)));
        dx.bumpVersion();
    }

    @Override
    public void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
        String op = "conv2d.backwardWeights";
        input(op, "x", x);
        output(op, "dy", dy, "x", x);
        weights(op, "dw", dw);
        bias(op, "db", db);
        CpuBackend.disjoint(op, 2, "dw", dw, "db", db, "x", x, "dy", dy);
        long c = backend.ctx();
        long h = handle();
        CpuBackend.run(backwardWeightsName, CpuBackend.of(x, dy, dw), () -> ArunetNative.conv2d_backward_weights(c, h,
                dw.address(), db == null ? 0L : db.address(), x.address(), dy.address(), x.dim(0), x.dim(1),
                x.dim(2)));
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
     * {@code [n, h, w, in]}; creates and caches the primitive if it is not there yet.
     */
    String implementation(Pass pass, int n, int h, int w) {
        long c = backend.ctx();
        long hd = handle();
        return CpuBackend.call("conv2d.implementation " + spec, CpuBackend.NONE,
                () -> ArunetNative.conv2d_implementation(c, hd, pass.ordinal(), n, h, w));
    }

    /** How many times the OIHW weights were reordered into a primitive's layout so far. */
    long weightReorders() {
        long h = handle();
        return CpuBackend.call("conv2d.weightReorders " + spec, CpuBackend.NONE,
                () -> ArunetNative.conv2d_weight_reorders(h));
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
        CpuBackend.run("conv2d.close " + spec, CpuBackend.NONE, () -> ArunetNative.conv2d_destroy(h));
    }

    @Override
    public String toString() {
        return "CpuConv2dOp" + spec + (handle == 0 ? " (closed)" : "");
    }
}

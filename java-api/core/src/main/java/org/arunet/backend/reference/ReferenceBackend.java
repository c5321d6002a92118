package org.arunet.backend.reference;

import java.util.Arrays;
import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Checks;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * The pure-Java reference {@link Backend}: the test oracle for every other backend. Host tensors only.
 *
 * <p>Each method validates its arguments ({@link Checks}: dtype, shape, device, and that outputs share no
 * memory with inputs except where the contract allows it), reads its inputs into {@code double} arrays,
 * calls the naive double-precision loop in {@link RefOps}, and rounds the results to F32 once when writing
 * the outputs. Nothing is accumulated into an output: each is written whole. Outputs are written with
 * {@link Tensor#copyFrom(float[])}, which also bumps their {@link Tensor#version()}: more often than the
 * contract asks (it asks it of {@link #adamStep} for the parameter), which can only invalidate a cache keyed
 * on the version, never leave one stale.
 *
 * <p>As an oracle it is deliberately strict where the contract leaves room:
 * <ul>
 *   <li>Aliasing: only the documented cases are accepted ({@code add}: y with a or b; {@code scale},
 *       {@code activationForward}, {@code mulForward}: y with x; {@code activationBackward}: dx with dy).
 *       Any other overlap between an output and an input or another output, even a partial one through
 *       views, throws {@link IllegalArgumentException} (so {@code addInPlace(t, t)} and {@code copy(t, t)}
 *       are refused).
 *   <li>Convolution bias: {@code b} (forward) and {@code db} (backwardWeights) must be given exactly when
 *       the spec has a bias. Inputs smaller than the dilated kernel are refused, as in PyTorch, even where
 *       {@link Conv2dSpec#outH}'s truncating division would report an output size of 1.
 *   <li>Training-mode BatchNorm needs more than one value per channel ({@code N H W > 1}), as in PyTorch.
 *   <li>Adam's hyper-parameters are checked as {@code torch.optim.Adam}'s constructor does.
 * </ul>
 *
 * <p>It is slow (naive loops, copies through Java arrays) but exact to double precision before the final
 * rounding. It holds no native resources; {@link #close()} does nothing and the backend stays usable.
 * Not thread-safe beyond what {@link Backend} promises (one thread at a time).
 */
public final class ReferenceBackend implements Backend {
    private static final Device DEV = Device.HOST;

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public Device device() {
        return DEV;
    }

    @Override
    public Tensor allocate(DType dtype, Layout layout, int... shape) {
        if (dtype == null || layout == null || shape == null) {
            throw new IllegalArgumentException("allocate: dtype, layout and shape are required");
        }
        return Tensor.host(dtype, layout, shape);
    }

    // ------------------------------------------------------------------ conversions and checks

    /** The values of an F32 tensor widened to double. */
    static double[] read(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Writes double values to an F32 tensor, each rounded to the nearest float. */
    static void write(Tensor t, double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        t.copyFrom(f);
    }

    /** A named tensor argument, for the overlap checks. */
    record Arg(String name, Tensor tensor) {}

    static Arg arg(String name, Tensor t) {
        return new Arg(name, t);
    }

    /** Each output must share no memory with any input nor with another output (null tensors skipped). */
    static void outputsDisjoint(String op, Arg[] outputs, Arg... inputs) {
        for (int i = 0; i < outputs.length; i++) {
            for (Arg in : inputs) {
                Checks.noAlias(op, outputs[i].name(), outputs[i].tensor(), in.name(), in.tensor());
            }
            for (int j = i + 1; j < outputs.length; j++) {
                Checks.noAlias(op, outputs[i].name(), outputs[i].tensor(), outputs[j].name(), outputs[j].tensor());
            }
        }
    }

    static Arg[] outputs(Arg... outs) {
        return outs;
    }

    /** F32 of rank 2. */
    private static void matrix(String op, String name, Tensor t) {
        Checks.f32(op, name, t, DEV);
        if (t.rank() != 2) {
            throw new IllegalArgumentException(op + ": " + name + " must have rank 2, got " + t.describe());
        }
    }

    private static int intSize(String op, Tensor t) {
        if (t.numel() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": " + t.describe() + " is too large for the reference backend");
        }
        return (int) t.numel();
    }

    // ------------------------------------------------------------------ basics

    @Override
    public void copy(Tensor src, Tensor dst) {
        String op = "copy";
        Checks.present(op, "src", src, DEV);
        Checks.present(op, "dst", dst, DEV);
        if (src.dtype() != dst.dtype() || !src.sameShape(dst)) {
            throw new IllegalArgumentException(
                    op + ": dst " + dst.describe() + " must have the dtype and shape of src " + src.describe());
        }
        outputsDisjoint(op, outputs(arg("dst", dst)), arg("src", src));
        dst.copyFrom(src);
    }

    @Override
    public void fill(Tensor t, float value) {
        Checks.f32("fill", "t", t, DEV);
        float[] f = new float[intSize("fill", t)];
        Arrays.fill(f, value);
        t.copyFrom(f);
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor y) {
        String op = "add";
        Checks.f32(op, "a", a, DEV);
        Checks.like(op, "b", b, DEV, "a", a);
        Checks.like(op, "y", y, DEV, "a", a);
        double[] av = read(a);
        double[] bv = read(b);
        for (int i = 0; i < av.length; i++) {
            av[i] += bv[i];
        }
        write(y, av);
    }

    @Override
    public void addInPlace(Tensor y, Tensor x) {
        String op = "addInPlace";
        Checks.f32(op, "y", y, DEV);
        Checks.f32(op, "x", x, DEV);
        if (y.numel() != x.numel()) {
            throw new IllegalArgumentException(
                    op + ": y " + y.describe() + " and x " + x.describe() + " have different numbers of elements");
        }
        outputsDisjoint(op, outputs(arg("y", y)), arg("x", x));
        double[] yv = read(y);
        double[] xv = read(x);
        for (int i = 0; i < yv.length; i++) {
            yv[i] += xv[i];
        }
        write(y, yv);
    }

    @Override
    public void scale(Tensor x, float alpha, Tensor y) {
        String op = "scale";
        Checks.f32(op, "x", x, DEV);
        Checks.like(op, "y", y, DEV, "x", x);
        double[] v = read(x);
        for (int i = 0; i < v.length; i++) {
            v[i] *= alpha;
        }
        write(y, v);
    }

    // ------------------------------------------------------------------ convolution

    @Override
    public Conv2dOp conv2d(Conv2dSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("conv2d: spec is null");
        }
        return new ReferenceConv2dOp(spec);
    }

    /** Computes each call directly from {@link RefOps}; caches nothing, ignores {@code training}. */
    static final class ReferenceConv2dOp implements Conv2dOp {
        private final Conv2dSpec spec;
        private boolean closed;

        ReferenceConv2dOp(Conv2dSpec spec) {
            this.spec = spec;
        }

        @Override
        public Conv2dSpec spec() {
            return spec;
        }

        private void open(String op) {
            if (closed) {
                throw new IllegalStateException(op + " " + spec + ": handle used after close");
            }
        }

        /** Validates an NHWC input against the spec and returns {@code {n, h, w, oh, ow}}. */
        private int[] geometry(String op, String name, Tensor x) {
            Checks.nhwc(op, name, x, DEV);
            if (x.dim(3) != spec.inChannels()) {
                throw new IllegalArgumentException(op + " " + spec + ": " + name + " has " + x.dim(3)
                        + " channels, expected " + spec.inChannels() + " (" + name + " " + x.describe() + ")");
            }
            int h = x.dim(1);
            int w = x.dim(2);
            String what = op + " " + spec + " (" + name + " " + x.describe() + ")";
            int oh = RefOps.windowOutputSize(what, h, spec.kernelH(), spec.strideH(), spec.padH(), spec.dilationH());
            int ow = RefOps.windowOutputSize(what, w, spec.kernelW(), spec.strideW(), spec.padW(), spec.dilationW());
            return new int[] {x.dim(0), h, w, oh, ow};
        }

        private void outputShape(String op, String name, Tensor y, int[] g, String inName, Tensor x) {
            Checks.nhwc(op, name, y, DEV);
            int[] expected = {g[0], g[3], g[4], spec.outChannels()};
            if (!y.hasShape(expected)) {
                throw new IllegalArgumentException(op + " " + spec + ": " + name + " must be "
                        + Arrays.toString(expected) + " for " + inName + " " + x.describe() + ", got " + y.describe());
            }
        }

        private void bias(String op, String name, Tensor b) {
            if (spec.bias() && b == null) {
                throw new IllegalArgumentException(op + " " + spec + ": " + name + " is null but the spec has a bias");
            }
            if (!spec.bias() && b != null) {
                throw new IllegalArgumentException(
                        op + " " + spec + ": " + name + " given to a convolution without bias");
            }
            if (b != null) {
                Checks.shape(op + " " + spec, name, b, DEV, spec.outChannels());
            }
        }

        @Override
        public void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training) {
            String op = "conv2d.forward";
            open(op);
            int[] g = geometry(op, "x", x);
            Checks.shape(op + " " + spec, "w", w, DEV, spec.weightShape());
            bias(op, "b", b);
            outputShape(op, "y", y, g, "x", x);
            outputsDisjoint(op, outputs(arg("y", y)), arg("x", x), arg("w", w), arg("b", b));
            double[] out = RefOps.conv2dForward(read(x), g[0], g[1], g[2], spec, read(w), b == null ? null : read(b));
            write(y, out);
        }

        @Override
        public void backwardData(Tensor dy, Tensor w, Tensor dx) {
            String op = "conv2d.backwardData";
            open(op);
            int[] g = geometry(op, "dx", dx);
            Checks.shape(op + " " + spec, "w", w, DEV, spec.weightShape());
            outputShape(op, "dy", dy, g, "dx", dx);
            outputsDisjoint(op, outputs(arg("dx", dx)), arg("dy", dy), arg("w", w));
            write(dx, RefOps.conv2dBackwardData(read(dy), g[0], g[1], g[2], spec, read(w)));
        }

        @Override
        public void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
            String op = "conv2d.backwardWeights";
            open(op);
            int[] g = geometry(op, "x", x);
            outputShape(op, "dy", dy, g, "x", x);
            Checks.shape(op + " " + spec, "dw", dw, DEV, spec.weightShape());
            bias(op, "db", db);
            outputsDisjoint(op, outputs(arg("dw", dw), arg("db", db)), arg("x", x), arg("dy", dy));
            double[] dyv = read(dy);
            write(dw, RefOps.conv2dBackwardWeights(read(x), g[0], g[1], g[2], spec, dyv));
            if (db != null) {
                write(db, RefOps.channelSum(dyv, g[0] * g[3] * g[4], spec.outChannels()));
            }
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    // ------------------------------------------------------------------ normalisation

    private static boolean fusedRelu(String op, Activation act) {
        if (act == Activation.NONE) {
            return false;
        }
        if (act == Activation.RELU) {
            return true;
        }
        throw new IllegalArgumentException(op + ": activation must be NONE or RELU, got " + act);
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
        String op = "batchNormForward";
        Checks.nhwc(op, "x", x, DEV);
        int c = x.dim(3);
        Checks.shape(op, "gamma", gamma, DEV, c);
        Checks.shape(op, "beta", beta, DEV, c);
        Checks.shape(op, "runningMean", runningMean, DEV, c);
        Checks.shape(op, "runningVar", runningVar, DEV, c);
        if (training || saveMean != null) {
            Checks.shape(op, "saveMean", saveMean, DEV, c);
        }
        if (training || saveInvStd != null) {
            Checks.shape(op, "saveInvStd", saveInvStd, DEV, c);
        }
        Checks.like(op, "y", y, DEV, "x", x);
        boolean relu = fusedRelu(op, act);
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException(op + ": eps must be finite and >= 0, got " + eps);
        }
        if (!(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException(op + ": momentum must be in [0, 1], got " + momentum);
        }
        int m = x.dim(0) * x.dim(1) * x.dim(2);
        if (training && m <= 1) {
            throw new IllegalArgumentException(
                    op + ": training needs more than one value per channel, x " + x.describe());
        }
        if (training) {
            outputsDisjoint(
                    op,
                    outputs(
                            arg("y", y),
                            arg("runningMean", runningMean),
                            arg("runningVar", runningVar),
                            arg("saveMean", saveMean),
                            arg("saveInvStd", saveInvStd)),
                    arg("x", x),
                    arg("gamma", gamma),
                    arg("beta", beta));
            RefOps.BatchNormForward f = RefOps.batchNormTrainForward(read(x), m, c, read(gamma), read(beta), eps, relu);
            double[] rm = read(runningMean);
            double[] rv = read(runningVar);
            RefOps.batchNormUpdateRunningStats(rm, rv, f.mean(), f.biasedVar(), m, momentum);
            write(y, f.y());
            write(saveMean, f.mean());
            write(saveInvStd, f.invStd());
            write(runningMean, rm);
            write(runningVar, rv);
        } else {
            outputsDisjoint(
                    op,
                    outputs(arg("y", y)),
                    arg("x", x),
                    arg("gamma", gamma),
                    arg("beta", beta),
                    arg("runningMean", runningMean),
                    arg("runningVar", runningVar));
            write(
                    y,
                    RefOps.batchNormInferenceForward(
                            read(x), m, c, read(gamma), read(beta), read(runningMean), read(runningVar), eps, relu));
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
        Checks.nhwc(op, "x", x, DEV);
        int c = x.dim(3);
        Checks.like(op, "dy", dy, DEV, "x", x);
        boolean relu = fusedRelu(op, act);
        if (relu) {
            Checks.like(op, "y", y, DEV, "x", x);
        }
        Checks.shape(op, "gamma", gamma, DEV, c);
        Checks.shape(op, "saveMean", saveMean, DEV, c);
        Checks.shape(op, "saveInvStd", saveInvStd, DEV, c);
        Checks.like(op, "dx", dx, DEV, "x", x);
        Checks.shape(op, "dGamma", dGamma, DEV, c);
        Checks.shape(op, "dBeta", dBeta, DEV, c);
        outputsDisjoint(
                op,
                outputs(arg("dx", dx), arg("dGamma", dGamma), arg("dBeta", dBeta)),
                arg("dy", dy),
                arg("x", x),
                arg("y", relu ? y : null),
                arg("gamma", gamma),
                arg("saveMean", saveMean),
                arg("saveInvStd", saveInvStd));
        int m = x.dim(0) * x.dim(1) * x.dim(2);
        RefOps.BatchNormGrads g = RefOps.batchNormBackward(
                read(dy), read(x), relu ? read(y) : null, m, c, read(gamma), read(saveMean), read(saveInvStd), relu);
        write(dx, g.dx());
        write(dGamma, g.dGamma());
        write(dBeta, g.dBeta());
    }

    // ------------------------------------------------------------------ activations

    @Override
    public void activationForward(Activation act, Tensor x, Tensor y) {
        String op = "activationForward " + act;
        if (act == null) {
            throw new IllegalArgumentException("activationForward: act is null");
        }
        Checks.f32(op, "x", x, DEV);
        Checks.like(op, "y", y, DEV, "x", x);
        write(y, RefOps.activationForward(act, read(x)));
    }

    @Override
    public void activationBackward(Activation act, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        String op = "activationBackward " + act;
        if (act == null) {
            throw new IllegalArgumentException("activationBackward: act is null");
        }
        Checks.f32(op, "dy", dy, DEV);
        Checks.like(op, "dx", dx, DEV, "dy", dy);
        boolean needsY = act == Activation.SIGMOID;
        boolean needsX = act == Activation.RELU || act == Activation.GELU;
        if (needsX || x != null) {
            Checks.like(op, "x", x, DEV, "dy", dy);
        }
        if (needsY || y != null) {
            Checks.like(op, "y", y, DEV, "dy", dy);
        }
        outputsDisjoint(op, outputs(arg("dx", dx)), arg("x", x), arg("y", y));
        write(dx, RefOps.activationBackward(act, needsX ? read(x) : null, needsY ? read(y) : null, read(dy)));
    }

    // ------------------------------------------------------------------ pooling and resampling

    /** Validates the pooling window and x, and returns the output shape. */
    private static int[] poolShape(String op, Tensor x, int kernel, int stride, int pad) {
        Checks.nhwc(op, "x", x, DEV);
        if (kernel <= 0 || stride <= 0 || pad < 0 || pad > kernel / 2) {
            throw new IllegalArgumentException(op + ": kernel " + kernel + ", stride " + stride + ", pad " + pad
                    + " invalid (need kernel > 0, stride > 0, 0 <= pad <= kernel / 2)");
        }
        String what = op + " (x " + x.describe() + ")";
        int oh = RefOps.windowOutputSize(what, x.dim(1), kernel, stride, pad, 1);
        int ow = RefOps.windowOutputSize(what, x.dim(2), kernel, stride, pad, 1);
        return new int[] {x.dim(0), oh, ow, x.dim(3)};
    }

    private static void nhwcShape(String op, String name, Tensor t, int... shape) {
        Checks.nhwc(op, name, t, DEV);
        if (!t.hasShape(shape)) {
            throw new IllegalArgumentException(
                    op + ": " + name + " must be " + Arrays.toString(shape) + ", got " + t.describe());
        }
    }

    @Override
    public void maxPoolForward(Tensor x, Tensor y, int kernel, int stride, int pad) {
        String op = "maxPoolForward";
        int[] out = poolShape(op, x, kernel, stride, pad);
        nhwcShape(op, "y", y, out);
        outputsDisjoint(op, outputs(arg("y", y)), arg("x", x));
        write(y, RefOps.maxPoolForward(read(x), x.dim(0), x.dim(1), x.dim(2), x.dim(3), kernel, stride, pad));
    }

    @Override
    public void maxPoolBackward(Tensor x, Tensor dy, Tensor dx, int kernel, int stride, int pad) {
        String op = "maxPoolBackward";
        int[] out = poolShape(op, x, kernel, stride, pad);
        nhwcShape(op, "dy", dy, out);
        Checks.like(op, "dx", dx, DEV, "x", x);
        outputsDisjoint(op, outputs(arg("dx", dx)), arg("x", x), arg("dy", dy));
        write(
                dx,
                RefOps.maxPoolBackward(read(x), read(dy), x.dim(0), x.dim(1), x.dim(2), x.dim(3), kernel, stride, pad));
    }

    @Override
    public void globalPoolForward(Tensor x, Tensor max, Tensor avg) {
        String op = "globalPoolForward";
        Checks.nhwc(op, "x", x, DEV);
        int n = x.dim(0);
        int hw = x.dim(1) * x.dim(2);
        int c = x.dim(3);
        if (max != null) {
            Checks.shape(op, "max", max, DEV, n, c);
        }
        if (avg != null) {
            Checks.shape(op, "avg", avg, DEV, n, c);
        }
        outputsDisjoint(op, outputs(arg("max", max), arg("avg", avg)), arg("x", x));
        double[] xv = read(x);
        if (max != null) {
            write(max, RefOps.globalMaxPool(xv, n, hw, c));
        }
        if (avg != null) {
            write(avg, RefOps.globalAvgPool(xv, n, hw, c));
        }
    }

    @Override
    public void globalPoolBackward(Tensor x, Tensor max, Tensor dMax, Tensor dAvg, Tensor dx) {
        String op = "globalPoolBackward";
        Checks.nhwc(op, "x", x, DEV);
        int n = x.dim(0);
        int hw = x.dim(1) * x.dim(2);
        int c = x.dim(3);
        if (dMax != null) {
            Checks.shape(op, "dMax", dMax, DEV, n, c);
            Checks.shape(op, "max", max, DEV, n, c);
        }
        if (dAvg != null) {
            Checks.shape(op, "dAvg", dAvg, DEV, n, c);
        }
        Checks.like(op, "dx", dx, DEV, "x", x);
        outputsDisjoint(op, outputs(arg("dx", dx)), arg("x", x), arg("max", max), arg("dMax", dMax), arg("dAvg", dAvg));
        write(
                dx,
                RefOps.globalPoolBackward(
                        read(x),
                        dMax == null ? null : read(max),
                        dMax == null ? null : read(dMax),
                        dAvg == null ? null : read(dAvg),
                        n,
                        hw,
                        c));
    }

    @Override
    public void channelMaxMeanForward(Tensor x, Tensor out) {
        String op = "channelMaxMeanForward";
        Checks.nhwc(op, "x", x, DEV);
        nhwcShape(op, "out", out, x.dim(0), x.dim(1), x.dim(2), 2);
        outputsDisjoint(op, outputs(arg("out", out)), arg("x", x));
        write(out, RefOps.channelMaxMean(read(x), x.dim(0) * x.dim(1) * x.dim(2), x.dim(3)));
    }

    @Override
    public void channelMaxMeanBackward(Tensor x, Tensor out, Tensor dOut, Tensor dx) {
        String op = "channelMaxMeanBackward";
        Checks.nhwc(op, "x", x, DEV);
        nhwcShape(op, "out", out, x.dim(0), x.dim(1), x.dim(2), 2);
        nhwcShape(op, "dOut", dOut, x.dim(0), x.dim(1), x.dim(2), 2);
        Checks.like(op, "dx", dx, DEV, "x", x);
        outputsDisjoint(op, outputs(arg("dx", dx)), arg("x", x), arg("out", out), arg("dOut", dOut));
        write(
                dx,
                RefOps.channelMaxMeanBackward(
                        read(x), read(out), read(dOut), x.dim(0) * x.dim(1) * x.dim(2), x.dim(3)));
    }

    @Override
    public void upsample2xForward(Tensor x, Tensor y) {
        String op = "upsample2xForward";
        Checks.nhwc(op, "x", x, DEV);
        nhwcShape(op, "y", y, x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3));
        outputsDisjoint(op, outputs(arg("y", y)), arg("x", x));
        write(y, RefOps.upsample2xForward(read(x), x.dim(0), x.dim(1), x.dim(2), x.dim(3)));
    }

    @Override
    public void upsample2xBackward(Tensor dy, Tensor dx) {
        String op = "upsample2xBackward";
        Checks.nhwc(op, "dx", dx, DEV);
        nhwcShape(op, "dy", dy, dx.dim(0), 2 * dx.dim(1), 2 * dx.dim(2), dx.dim(3));
        outputsDisjoint(op, outputs(arg("dx", dx)), arg("dy", dy));
        write(dx, RefOps.upsample2xBackward(read(dy), dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3)));
    }

    @Override
    public void concatChannels(Tensor a, Tensor b, Tensor out) {
        String op = "concatChannels";
        Checks.nhwc(op, "a", a, DEV);
        Checks.nhwc(op, "b", b, DEV);
        if (a.dim(0) != b.dim(0) || a.dim(1) != b.dim(1) || a.dim(2) != b.dim(2)) {
            throw new IllegalArgumentException(
                    op + ": a " + a.describe() + " and b " + b.describe() + " differ in N, H or W");
        }
        nhwcShape(op, "out", out, a.dim(0), a.dim(1), a.dim(2), a.dim(3) + b.dim(3));
        outputsDisjoint(op, outputs(arg("out", out)), arg("a", a), arg("b", b));
        write(out, RefOps.concatChannels(read(a), read(b), a.dim(0) * a.dim(1) * a.dim(2), a.dim(3), b.dim(3)));
    }

    @Override
    public void splitChannels(Tensor dOut, Tensor da, Tensor db) {
        String op = "splitChannels";
        Checks.nhwc(op, "da", da, DEV);
        Checks.nhwc(op, "db", db, DEV);
        if (da.dim(0) != db.dim(0) || da.dim(1) != db.dim(1) || da.dim(2) != db.dim(2)) {
            throw new IllegalArgumentException(
                    op + ": da " + da.describe() + " and db " + db.describe() + " differ in N, H or W");
        }
        nhwcShape(op, "dOut", dOut, da.dim(0), da.dim(1), da.dim(2), da.dim(3) + db.dim(3));
        outputsDisjoint(op, outputs(arg("da", da), arg("db", db)), arg("dOut", dOut));
        double[][] parts = RefOps.splitChannels(read(dOut), da.dim(0) * da.dim(1) * da.dim(2), da.dim(3), db.dim(3));
        write(da, parts[0]);
        write(db, parts[1]);
    }

    // ------------------------------------------------------------------ broadcasting products

    /** The broadcast of w against x, and the {@code {n, hw, c}} view of x that goes with it. */
    private record MulShape(RefOps.Broadcast broadcast, int n, int hw, int c) {}

    private static MulShape mulShape(String op, Tensor x, Tensor w) {
        Checks.f32(op, "x", x, DEV);
        Checks.f32(op, "w", w, DEV);
        if (w.sameShape(x)) {
            return new MulShape(RefOps.Broadcast.SAME, 1, 1, intSize(op, x));
        }
        if (x.rank() == 4 && x.layout() == Layout.NHWC) {
            int n = x.dim(0);
            int hw = x.dim(1) * x.dim(2);
            int c = x.dim(3);
            if (w.hasShape(n, x.dim(1), x.dim(2), 1)) {
                return new MulShape(RefOps.Broadcast.PER_PIXEL, n, hw, c);
            }
            if (w.hasShape(n, c)) {
                return new MulShape(RefOps.Broadcast.PER_CHANNEL, n, hw, c);
            }
        }
        throw new IllegalArgumentException(op + ": w " + w.describe() + " must have the shape of x " + x.describe()
                + ", or be [N, H, W, 1] or [N, C] for NHWC x");
    }

    @Override
    public void mulForward(Tensor x, Tensor w, Tensor y) {
        String op = "mulForward";
        MulShape s = mulShape(op, x, w);
        Checks.like(op, "y", y, DEV, "x", x);
        outputsDisjoint(op, outputs(arg("y", y)), arg("w", w));
        write(y, RefOps.mulForward(read(x), read(w), s.broadcast(), s.n(), s.hw(), s.c()));
    }

    @Override
    public void mulBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw) {
        String op = "mulBackward";
        MulShape s = mulShape(op, x, w);
        Checks.like(op, "dy", dy, DEV, "x", x);
        if (dx != null) {
            Checks.like(op, "dx", dx, DEV, "x", x);
        }
        if (dw != null) {
            Checks.like(op, "dw", dw, DEV, "w", w);
        }
        outputsDisjoint(op, outputs(arg("dx", dx), arg("dw", dw)), arg("dy", dy), arg("x", x), arg("w", w));
        double[] dyv = read(dy);
        if (dx != null) {
            write(dx, RefOps.mulBackwardX(dyv, read(w), s.broadcast(), s.n(), s.hw(), s.c()));
        }
        if (dw != null) {
            write(dw, RefOps.mulBackwardW(dyv, read(x), s.broadcast(), s.n(), s.hw(), s.c()));
        }
    }

    // ------------------------------------------------------------------ linear

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        String op = "linearForward";
        matrix(op, "x", x);
        matrix(op, "w", w);
        int n = x.dim(0);
        int in = x.dim(1);
        int out = w.dim(0);
        if (w.dim(1) != in) {
            throw new IllegalArgumentException(
                    op + ": w " + w.describe() + " must be [out, " + in + "] for x " + x.describe());
        }
        if (b != null) {
            Checks.shape(op, "b", b, DEV, out);
        }
        Checks.shape(op, "y", y, DEV, n, out);
        outputsDisjoint(op, outputs(arg("y", y)), arg("x", x), arg("w", w), arg("b", b));
        write(y, RefOps.linearForward(read(x), read(w), b == null ? null : read(b), n, in, out));
    }

    @Override
    public void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor db) {
        String op = "linearBackward";
        matrix(op, "x", x);
        matrix(op, "w", w);
        int n = x.dim(0);
        int in = x.dim(1);
        int out = w.dim(0);
        if (w.dim(1) != in) {
            throw new IllegalArgumentException(
                    op + ": w " + w.describe() + " must be [out, " + in + "] for x " + x.describe());
        }
        Checks.shape(op, "dy", dy, DEV, n, out);
        if (dx != null) {
            Checks.like(op, "dx", dx, DEV, "x", x);
        }
        Checks.like(op, "dw", dw, DEV, "w", w);
        if (db != null) {
            Checks.shape(op, "db", db, DEV, out);
        }
        outputsDisjoint(
                op, outputs(arg("dx", dx), arg("dw", dw), arg("db", db)), arg("dy", dy), arg("x", x), arg("w", w));
        double[] dyv = read(dy);
        if (dx != null) {
            write(dx, RefOps.linearBackwardX(dyv, read(w), n, in, out));
        }
        write(dw, RefOps.linearBackwardW(dyv, read(x), n, in, out));
        if (db != null) {
            write(db, RefOps.channelSum(dyv, n, out));
        }
    }

    // ------------------------------------------------------------------ losses and probabilities

    @Override
    public void softmax(Tensor logits, Tensor probs) {
        String op = "softmax";
        Checks.nhwc(op, "logits", logits, DEV);
        Checks.like(op, "probs", probs, DEV, "logits", logits);
        outputsDisjoint(op, outputs(arg("probs", probs)), arg("logits", logits));
        int k = logits.dim(3);
        write(probs, RefOps.softmax(read(logits), logits.dim(0) * logits.dim(1) * logits.dim(2), k));
    }

    @Override
    public double crossEntropyDiceLoss(
            Tensor logits, Tensor target, Tensor dLogits, float ceWeight, float diceWeight, float smooth) {
        int[] t = lossTargets("crossEntropyDiceLoss", logits, target, dLogits);
        RefOps.LossResult r = RefOps.crossEntropyDiceLoss(
                read(logits), t, t.length, logits.dim(3), ceWeight, diceWeight, smooth, dLogits != null);
        if (dLogits != null) {
            write(dLogits, r.dLogits());
        }
        return r.loss();
    }

    @Override
    public double focalTverskyLoss(
            Tensor logits, Tensor target, Tensor dLogits, float alpha, float beta, float gamma, float smooth) {
        int[] t = lossTargets("focalTverskyLoss", logits, target, dLogits);
        RefOps.LossResult r = RefOps.focalTverskyLoss(
                read(logits), t, t.length, logits.dim(3), alpha, beta, gamma, smooth, dLogits != null);
        if (dLogits != null) {
            write(dLogits, r.dLogits());
        }
        return r.loss();
    }

    /** Validates a loss's arguments and returns the targets; names the first bad target's position. */
    private int[] lossTargets(String op, Tensor logits, Tensor target, Tensor dLogits) {
        Checks.nhwc(op, "logits", logits, DEV);
        Checks.present(op, "target", target, DEV);
        int n = logits.dim(0);
        int h = logits.dim(1);
        int w = logits.dim(2);
        int k = logits.dim(3);
        if (target.dtype() != DType.I32 || !target.hasShape(n, h, w)) {
            throw new IllegalArgumentException(op + ": target must be I32 " + Arrays.toString(new int[] {n, h, w})
                    + " for logits " + logits.describe() + ", got " + target.describe());
        }
        if (k <= 0 || n * h * w <= 0) {
            throw new IllegalArgumentException(op + ": logits " + logits.describe() + " are empty");
        }
        if (dLogits != null) {
            Checks.like(op, "dLogits", dLogits, DEV, "logits", logits);
        }
        outputsDisjoint(op, outputs(arg("dLogits", dLogits)), arg("logits", logits), arg("target", target));
        int[] t = target.toIntArray();
        for (int i = 0; i < t.length; i++) {
            if (t[i] < 0 || t[i] >= k) {
                int ni = i / (h * w);
                int yi = i / w % h;
                int xi = i % w;
                throw new IllegalArgumentException(op + ": target[" + ni + ", " + yi + ", " + xi + "] = " + t[i]
                        + " is not a class index in [0, " + k + ") (logits " + logits.describe() + ")");
            }
        }
        return t;
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
        Checks.f32(op, "param", param, DEV);
        Checks.like(op, "grad", grad, DEV, "param", param);
        Checks.like(op, "m", m, DEV, "param", param);
        Checks.like(op, "v", v, DEV, "param", param);
        // torch.optim.Adam's constructor checks.
        if (!(lr >= 0)
                || !(eps >= 0)
                || !(beta1 >= 0 && beta1 < 1)
                || !(beta2 >= 0 && beta2 < 1)
                || !(weightDecay >= 0)) {
            throw new IllegalArgumentException(op + ": invalid hyper-parameters lr=" + lr + " beta1=" + beta1
                    + " beta2=" + beta2 + " eps=" + eps + " weightDecay=" + weightDecay);
        }
        if (step < 1) {
            throw new IllegalArgumentException(op + ": step starts at 1, got " + step);
        }
        outputsDisjoint(op, outputs(arg("param", param), arg("m", m), arg("v", v)), arg("grad", grad));
        double[] p = read(param);
        double[] mv = read(m);
        double[] vv = read(v);
        RefOps.adamStep(p, read(grad), mv, vv, lr, beta1, beta2, eps, weightDecay, step);
        write(m, mv);
        write(v, vv);
        write(param, p);
    }

    @Override
    public double sumOfSquares(Tensor x) {
        Checks.f32("sumOfSquares", "x", x, DEV);
        return RefOps.sumOfSquares(read(x));
    }

    /** Does nothing: the reference backend holds no native resources. */
    @Override
    public void close() {}
}

package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * 2-D convolution, PyTorch's {@code nn.Conv2d}: parameters {@code weight} OIHW and optional
 * {@code bias}; input and output NHWC. An {@linkplain #upsampling upsampling} convolution convolves
 * the nearest-neighbour 2x upsampled input ({@code conv(F.interpolate(x, scale_factor=2))}) without
 * the caller building it ({@link Backend#conv2dUpsampled}).
 */
public final class Conv2d extends Module {
    private final Conv2dSpec spec;
    private final boolean upsampling;
    private final Parameter weight;
    private final Parameter bias;
    private final Conv2dOp op;
    private Tensor x;
    private Split split;

    public Conv2d(Backend backend, Conv2dSpec spec) {
        this(backend, spec, false);
    }

    private Conv2d(Backend backend, Conv2dSpec spec, boolean upsampling) {
        super(backend);
        this.spec = spec;
        this.upsampling = upsampling;
        this.weight = parameter("weight", Layout.OIHW, spec.weightShape());
        this.bias = spec.bias() ? parameter("bias", Layout.PLAIN, spec.outChannels()) : null;
        this.op = upsampling ? backend.conv2dUpsampled(spec) : backend.conv2d(spec);
    }

    /** {@code conv(upsample2x(x))}: input {@code [N, H, W, in]}, output of the spec for {@code 2H x 2W}. */
    public static Conv2d upsampling(Backend backend, Conv2dSpec spec) {
        return new Conv2d(backend, spec, true);
    }

    public boolean isUpsampling() {
        return upsampling;
    }

    /** Same-padded convolution with a square kernel (stride 1). */
    public static Conv2d same(Backend backend, int in, int out, int kernel, boolean bias) {
        return new Conv2d(backend, Conv2dSpec.same(in, out, kernel, 1, 1, bias));
    }

    public Conv2dSpec spec() {
        return spec;
    }

    public Parameter weight() {
        return weight;
    }

    /** Null when the convolution has no bias. */
    public Parameter bias() {
        return bias;
    }

    /** Output shape for an NHWC input shape. */
    public int[] outputShape(int[] in) {
        int h = upsampling ? 2 * in[1] : in[1];
        int w = upsampling ? 2 * in[2] : in[2];
        return new int[] {in[0], spec.outH(h), spec.outW(w), spec.outChannels()};
    }

    /**
     * Inference: {@code y = epilogue(conv(in) + b)} with {@code in = x}, or {@code cat[x, x2]} over
     * channels when x2 is given (never built); see {@link Backend#convForwardFused}. Nothing is kept for
     * a backward pass.
     */
    public void inferInto(Tensor input, Tensor input2, Tensor y, ConvEpilogue epilogue) {
        backend.convForwardFused(op, input, input2, weight.value(), bias == null ? null : bias.value(), y, epilogue);
    }

    /** {@link #inferInto} into a tensor from the pool, which the caller releases. */
    public Tensor infer(Tensor input, ActivationPool pool, ConvEpilogue epilogue) {
        expectNhwc(input, spec.inChannels());
        Tensor y = pool.acquire(outputShape(input.shape()));
        inferInto(input, null, y, epilogue);
        return y;
    }

    public Tensor forward(Tensor input) {
        expectNhwc(input, spec.inChannels());
        int[] os = outputShape(input.shape());
        expect(os[1] > 0 && os[2] > 0, "input", input, "large enough for " + spec);
        x = input;
        Tensor y = scratch("y", Layout.NHWC, os);
        op.forward(input, weight.value(), bias == null ? null : bias.value(), y, training);
        return y;
    }

    /** Writes the parameter gradients; returns d loss / d input. */
    public Tensor backward(Tensor dy) {
        return backward(dy, true);
    }

    /**
     * Writes the parameter gradients and, when {@code needInputGrad}, returns d loss / d input (else
     * null, saving the work for a network's first layer).
     */
    public Tensor backward(Tensor dy, boolean needInputGrad) {
        if (x == null) {
            throw new IllegalStateException(path() + ": backward before forward");
        }
        expect(
                dy != null && dy.hasShape(outputShape(x.shape())),
                "output gradient",
                dy,
                java.util.Arrays.toString(outputShape(x.shape())));
        op.backwardWeights(x, dy, weight.grad(), bias == null ? null : bias.grad());
        if (!needInputGrad) {
            return null;
        }
        Tensor dx = grad("dx", x.shape());
        op.backwardData(dy, weight.value(), dx);
        return dx;
    }

    // ------------------------------------------------------------------ split input (training)

    /**
     * Training forward of {@code conv(cat[x1, x2])} over channels without the concatenation: the
     * weights are sliced along their input channels ({@code w[:, :C1]}, {@code w[:, C1:]}, refreshed
     * when the weights' version changes) and the two convolutions summed. Nothing is stored: the
     * backward pass takes the inputs again ({@link #backwardSplit}).
     */
    public Tensor forwardSplit(Tensor x1, Tensor x2) {
        Split s = split(x1, x2);
        Tensor y =
                scratch("y", Layout.NHWC, outputShape(new int[] {x1.dim(0), x1.dim(1), x1.dim(2), spec.inChannels()}));
        s.opA.forward(x1, s.wA, bias == null ? null : bias.value(), y, training);
        Tensor t = grad("ySplit", y.shape());
        s.opB.forward(x2, s.wB, null, t, training);
        backend.addInPlace(y, t);
        done(t);
        x = null;
        return y;
    }

    /**
     * Backward of {@link #forwardSplit} given the same inputs: writes the parameter gradients
     * (the two blocks' weight gradients concatenated back into {@code weight.grad}) and returns
     * {@code {dx1, dx2}} (gradients the caller releases with {@link #done}).
     */
    public Tensor[] backwardSplit(Tensor dy, Tensor x1, Tensor x2) {
        Split s = split(x1, x2);
        expect(
                dy != null && dy.hasShape(outputShape(new int[] {x1.dim(0), x1.dim(1), x1.dim(2), spec.inChannels()})),
                "output gradient",
                dy,
                "the split forward's output shape");
        s.opA.backwardWeights(x1, dy, s.dwA, bias == null ? null : bias.grad());
        s.opB.backwardWeights(x2, dy, s.dwB, null);
        int o = spec.outChannels();
        int k = spec.kernelH() * spec.kernelW();
        backend.concatChannels(
                s.dwA.view(Layout.NHWC, o, 1, 1, s.c1 * k),
                s.dwB.view(Layout.NHWC, o, 1, 1, s.c2 * k),
                weight.grad().view(Layout.NHWC, o, 1, 1, spec.inChannels() * k));
        Tensor dx1 = grad("dx1", x1.shape());
        s.opA.backwardData(dy, s.wA, dx1);
        Tensor dx2 = grad("dx2", x2.shape());
        s.opB.backwardData(dy, s.wB, dx2);
        return new Tensor[] {dx1, dx2};
    }

    /** The split state for inputs of x1's and x2's channel counts, weight slices up to date. */
    private Split split(Tensor x1, Tensor x2) {
        expect(
                x1 != null
                        && x2 != null
                        && x1.rank() == 4
                        && x2.rank() == 4
                        && x1.dim(0) == x2.dim(0)
                        && x1.dim(1) == x2.dim(1)
                        && x1.dim(2) == x2.dim(2)
                        && x1.dim(3) + x2.dim(3) == spec.inChannels()
                        && x1.dim(3) > 0
                        && x2.dim(3) > 0,
                "split inputs",
                x1,
                "two NHWC blocks of " + spec.inChannels() + " channels together, same N, H, W");
        expect(!upsampling && spec.groups() == 1, "split inputs", x1, "an ungrouped, non-upsampling convolution");
        if (split == null || split.c1 != x1.dim(3)) {
            if (split != null) {
                split.close();
            }
            split = new Split(x1.dim(3));
        }
        Tensor w = weight.value();
        if (split.weightId != w.id() || split.weightVersion != w.version()) {
            int o = spec.outChannels();
            int k = spec.kernelH() * spec.kernelW();
            backend.splitChannels(
                    w.view(Layout.NHWC, o, 1, 1, spec.inChannels() * k),
                    split.wA.view(Layout.NHWC, o, 1, 1, split.c1 * k),
                    split.wB.view(Layout.NHWC, o, 1, 1, split.c2 * k));
            split.wA.bumpVersion();
            split.wB.bumpVersion();
            split.weightId = w.id();
            split.weightVersion = w.version();
        }
        return split;
    }

    /** Two convolutions over the channel blocks and the weight slices they use. */
    private final class Split implements AutoCloseable {
        final int c1;
        final int c2;
        final Conv2dOp opA;
        final Conv2dOp opB;
        final Tensor wA;
        final Tensor wB;
        final Tensor dwA;
        final Tensor dwB;
        long weightId = -1;
        long weightVersion = -1;

        Split(int c1) {
            this.c1 = c1;
            this.c2 = spec.inChannels() - c1;
            Conv2dSpec a = new Conv2dSpec(
                    c1,
                    spec.outChannels(),
                    spec.kernelH(),
                    spec.kernelW(),
                    spec.strideH(),
                    spec.strideW(),
                    spec.padH(),
                    spec.padW(),
                    spec.dilationH(),
                    spec.dilationW(),
                    1,
                    spec.bias());
            Conv2dSpec b = new Conv2dSpec(
                    c2,
                    spec.outChannels(),
                    spec.kernelH(),
                    spec.kernelW(),
                    spec.strideH(),
                    spec.strideW(),
                    spec.padH(),
                    spec.padW(),
                    spec.dilationH(),
                    spec.dilationW(),
                    1,
                    false);
            opA = backend.conv2d(a);
            opB = backend.conv2d(b);
            wA = backend.allocate(org.arunet.tensor.DType.F32, Layout.OIHW, a.weightShape());
            wB = backend.allocate(org.arunet.tensor.DType.F32, Layout.OIHW, b.weightShape());
            dwA = backend.allocate(org.arunet.tensor.DType.F32, Layout.OIHW, a.weightShape());
            dwB = backend.allocate(org.arunet.tensor.DType.F32, Layout.OIHW, b.weightShape());
        }

        @Override
        public void close() {
            opA.close();
            opB.close();
            wA.close();
            wB.close();
            dwA.close();
            dwB.close();
        }
    }

    @Override
    public void close() {
        op.close();
        if (split != null) {
            split.close();
            split = null;
        }
        super.close();
    }
}

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
        expect(dy != null && dy.hasShape(outputShape(x.shape())), "output gradient", dy,
                java.util.Arrays.toString(outputShape(x.shape())));
        op.backwardWeights(x, dy, weight.grad(), bias == null ? null : bias.grad());
        if (!needInputGrad) {
            return null;
        }
        Tensor dx = scratch("dx", Layout.NHWC, x.shape());
        op.backwardData(dy, weight.value(), dx);
        return dx;
    }

    @Override
    public void close() {
        op.close();
        super.close();
    }
}

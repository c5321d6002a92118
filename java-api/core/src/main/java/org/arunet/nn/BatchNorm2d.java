package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * PyTorch's {@code nn.BatchNorm2d(C)} (eps 1e-5, momentum 0.1, affine) over NHWC activations, with
 * an optional fused ReLU. Parameters {@code weight} (gamma), {@code bias} (beta); buffers
 * {@code running_mean}, {@code running_var}, {@code num_batches_tracked}.
 */
public final class BatchNorm2d extends Module {
    public static final float EPS = 1e-5f;
    public static final float MOMENTUM = 0.1f;

    private final int channels;
    private final Activation act;
    private final Parameter weight;
    private final Parameter bias;
    private final Tensor runningMean;
    private final Tensor runningVar;
    private final Tensor batches;
    private final Tensor saveMean;
    private final Tensor saveInvStd;
    private Tensor x;
    private Tensor y;

    /**
     * @param act {@link Activation#NONE} or {@link Activation#RELU} (fused: {@code relu(bn(x))})
     */
    public BatchNorm2d(Backend backend, int channels, Activation act) {
        super(backend);
        if (act != Activation.NONE && act != Activation.RELU) {
            throw new IllegalArgumentException("BatchNorm2d fuses only ReLU, not " + act);
        }
        this.channels = channels;
        this.act = act;
        this.weight = parameter("weight", Layout.PLAIN, channels);
        this.bias = parameter("bias", Layout.PLAIN, channels);
        this.runningMean = buffer("running_mean", DType.F32, Layout.PLAIN, channels);
        this.runningVar = buffer("running_var", DType.F32, Layout.PLAIN, channels);
        this.batches = buffer("num_batches_tracked", DType.I64, Layout.PLAIN);
        backend.fill(weight.value(), 1f);
        backend.fill(runningVar, 1f);
        this.saveMean = backend.allocate(DType.F32, Layout.PLAIN, channels);
        this.saveInvStd = backend.allocate(DType.F32, Layout.PLAIN, channels);
    }

    public int channels() {
        return channels;
    }

    /** The activation applied after normalisation: {@link Activation#NONE} or {@link Activation#RELU}. */
    public Activation activation() {
        return act;
    }

    public Parameter weight() {
        return weight;
    }

    public Parameter bias() {
        return bias;
    }

    public Tensor runningMean() {
        return runningMean;
    }

    public Tensor runningVar() {
        return runningVar;
    }

    /** This layer in inference mode as an epilogue step's parameters (running statistics). */
    public ConvEpilogue.BatchNorm inference() {
        return new ConvEpilogue.BatchNorm(weight.value(), bias.value(), runningMean, runningVar, EPS);
    }

    /** Appends this layer in inference mode (normalisation, then its activation) to an epilogue. */
    public ConvEpilogue.Builder appendTo(ConvEpilogue.Builder e) {
        return e.batchNorm(inference()).act(act);
    }

    /**
     * Training or eval forward; returns this module's output tensor. Without a fused ReLU the backward
     * pass does not read it, so a caller may transform it in place.
     */
    public Tensor forward(Tensor input) {
        expectNhwc(input, channels);
        if (training && input.dim(0) * input.dim(1) * input.dim(2) < 2) {
            throw new IllegalArgumentException(
                    path() + ": training needs more than one value per channel, got " + input.describe());
        }
        x = input;
        y = scratch("y", Layout.NHWC, input.shape());
        backend.batchNormForward(
                input,
                weight.value(),
                bias.value(),
                runningMean,
                runningVar,
                saveMean,
                saveInvStd,
                y,
                training,
                MOMENTUM,
                EPS,
                act);
        if (training) {
            long[] n = batches.toLongArray();
            n[0]++;
            batches.copyFrom(n);
        }
        return y;
    }

    /** Backward of a training-mode forward pass; writes the parameter gradients, returns dx. */
    public Tensor backward(Tensor dy) {
        if (x == null) {
            throw new IllegalStateException(path() + ": backward before forward");
        }
        expect(dy != null && dy.sameShape(x), "output gradient", dy, x.describe());
        Tensor dx = grad("dx", x.shape());
        // without ReLU the output is not read: callers may reuse it in place (MCSA's gate does)
        backend.batchNormBackward(
                dy,
                x,
                act == Activation.RELU ? y : null,
                weight.value(),
                saveMean,
                saveInvStd,
                dx,
                weight.grad(),
                bias.grad(),
                act);
        return dx;
    }

    @Override
    public void close() {
        saveMean.close();
        saveInvStd.close();
        super.close();
    }
}

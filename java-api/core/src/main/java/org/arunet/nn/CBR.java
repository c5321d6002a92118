package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.Tensor;

/**
 * {@code ReLU(BN(conv3x3(x)))}, padding 1: children {@code conv}, {@code bn} (ReLU fused into BN).
 * With {@code upsample}, the convolution reads the nearest-neighbour 2x upsampled input
 * ({@link Conv2d#upsampling}).
 */
public final class CBR extends Module {
    private final Conv2d conv;
    private final BatchNorm2d bn;

    public CBR(Backend backend, int in, int out, boolean bias) {
        this(backend, in, out, bias, false);
    }

    public CBR(Backend backend, int in, int out, boolean bias, boolean upsample) {
        super(backend);
        Conv2dSpec spec = Conv2dSpec.same(in, out, 3, 1, 1, bias);
        this.conv = child("conv", upsample ? Conv2d.upsampling(backend, spec) : new Conv2d(backend, spec));
        this.bn = child("bn", new BatchNorm2d(backend, out, Activation.RELU));
    }

    /** Inference: {@code relu(bn(conv(x)))} in one fused convolution, into a tensor from the pool. */
    public Tensor infer(Tensor x, ActivationPool pool) {
        return conv.infer(x, pool, epilogue().build());
    }

    /** Inference into y: {@code then(relu(bn(conv(cat[x, x2]))))}, x2 may be null. */
    public void inferInto(Tensor x, Tensor x2, Tensor y) {
        conv.inferInto(x, x2, y, epilogue().build());
    }

    /** This block's batch norm and ReLU as the start of an epilogue (more steps may follow). */
    public ConvEpilogue.Builder epilogue() {
        return bn.appendTo(ConvEpilogue.builder());
    }

    public Conv2d conv() {
        return conv;
    }

    public BatchNorm2d bn() {
        return bn;
    }

    public int outChannels() {
        return conv.spec().outChannels();
    }

    /** Training forward on {@code cat[x1, x2]} without the concatenation ({@link Conv2d#forwardSplit}). */
    public Tensor forwardSplit(Tensor x1, Tensor x2) {
        return bn.forward(conv.forwardSplit(x1, x2));
    }

    /** Backward of {@link #forwardSplit} given the same inputs; returns {@code {dx1, dx2}}. */
    public Tensor[] backwardSplit(Tensor dy, Tensor x1, Tensor x2) {
        Tensor dBn = bn.backward(dy);
        Tensor[] dx = conv.backwardSplit(dBn, x1, x2);
        done(dBn);
        return dx;
    }

    public Tensor forward(Tensor x) {
        return bn.forward(conv.forward(x));
    }

    public Tensor backward(Tensor dy) {
        return backward(dy, true);
    }

    public Tensor backward(Tensor dy, boolean needInputGrad) {
        Tensor dBn = bn.backward(dy);
        Tensor dx = conv.backward(dBn, needInputGrad);
        done(dBn);
        return dx;
    }
}

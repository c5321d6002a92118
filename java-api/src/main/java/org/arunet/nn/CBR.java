package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.Tensor;

/** {@code ReLU(BN(conv3x3(x)))}, padding 1: children {@code conv}, {@code bn} (ReLU fused into BN). */
public final class CBR extends Module {
    private final Conv2d conv;
    private final BatchNorm2d bn;

    public CBR(Backend backend, int in, int out, boolean bias) {
        super(backend);
        this.conv = child("conv", new Conv2d(backend, Conv2dSpec.same(in, out, 3, 1, 1, bias)));
        this.bn = child("bn", new BatchNorm2d(backend, out, Activation.RELU));
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

    public Tensor forward(Tensor x) {
        return bn.forward(conv.forward(x));
    }

    public Tensor backward(Tensor dy) {
        return backward(dy, true);
    }

    public Tensor backward(Tensor dy, boolean needInputGrad) {
        return conv.backward(bn.backward(dy), needInputGrad);
    }
}

package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * One SpConvMixer hybrid-convolution set: {@code out = x + BN(GELU(pw(BN(GELU(dw(x))))))} with
 * {@code dw} a depthwise kxk convolution (groups = C, bias) and {@code pw} a 1x1 convolution (bias).
 * Children {@code dw}, {@code bn1}, {@code pw}, {@code bn2}.
 */
public final class MixerBlock extends Module {
    private final int channels;
    private final Conv2d dw;
    private final BatchNorm2d bn1;
    private final Conv2d pw;
    private final BatchNorm2d bn2;
    private Tensor c1;
    private Tensor a1;
    private Tensor c2;
    private Tensor a2;

    public MixerBlock(Backend backend, int channels, int kernel) {
        super(backend);
        if (kernel % 2 == 0) {
            throw new IllegalArgumentException("mixer kernel must be odd, got " + kernel);
        }
        this.channels = channels;
        this.dw = child("dw", new Conv2d(backend, Conv2dSpec.same(channels, channels, kernel, 1, channels, true)));
        this.bn1 = child("bn1", new BatchNorm2d(backend, channels, Activation.NONE));
        this.pw = child("pw", new Conv2d(backend, Conv2dSpec.same(channels, channels, 1, 1, 1, true)));
        this.bn2 = child("bn2", new BatchNorm2d(backend, channels, Activation.NONE));
    }

    /**
     * Inference in two convolutions: {@code a = bn1(gelu(dw(x)))} (GELU and the batch norm in dw's
     * epilogue), {@code out = x + bn2(gelu(pw(a)))} (likewise, with the residual add).
     */
    public Tensor infer(Tensor x, ActivationPool pool) {
        expectNhwc(x, channels);
        Tensor a = dw.infer(
                x,
                pool,
                bn1.appendTo(ConvEpilogue.builder().act(Activation.GELU)).build());
        Tensor out = pool.acquire(x.shape());
        pw.inferInto(
                a,
                null,
                out,
                bn2.appendTo(ConvEpilogue.builder().act(Activation.GELU)).add(x).build());
        pool.release(a);
        return out;
    }

    public Tensor forward(Tensor x) {
        expectNhwc(x, channels);
        c1 = dw.forward(x);
        a1 = scratch("a1", Layout.NHWC, x.shape());
        backend.activationForward(Activation.GELU, c1, a1);
        c2 = pw.forward(bn1.forward(a1));
        a2 = scratch("a2", Layout.NHWC, x.shape());
        backend.activationForward(Activation.GELU, c2, a2);
        Tensor out = scratch("out", Layout.NHWC, x.shape());
        backend.add(x, bn2.forward(a2), out);
        return out;
    }

    public Tensor backward(Tensor dOut) {
        Tensor g2 = bn2.backward(dOut);
        backend.activationBackward(Activation.GELU, c2, a2, g2, g2);
        Tensor dBn1 = pw.backward(g2);
        done(g2);
        Tensor g1 = bn1.backward(dBn1);
        done(dBn1);
        backend.activationBackward(Activation.GELU, c1, a1, g1, g1);
        Tensor dx = dw.backward(g1);
        done(g1);
        backend.addInPlace(dx, dOut);
        return dx;
    }
}

package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Spatial attention: {@code s = [max_c x, mean_c x]} (2 channels), {@code w = sigmoid(conv kxk(2 -> 1,
 * no bias)(s))}, {@code out = x * w} broadcast over channels. Child {@code conv}; k = 7 in the paper.
 */
public final class SpatialAttention extends Module {
    private final Conv2d conv;
    private Tensor x;
    private Tensor s;
    private Tensor w;

    public SpatialAttention(Backend backend, int kernel) {
        super(backend);
        this.conv = child("conv", new Conv2d(backend, Conv2dSpec.same(2, 1, kernel, 1, 1, false)));
    }

    /** Inference: the attention convolution with its sigmoid fused, then the per-pixel product. */
    public Tensor infer(Tensor input, ActivationPool pool) {
        expect(input != null && input.rank() == 4 && input.layout() == Layout.NHWC, "input", input, "NHWC");
        int[] sh = input.shape();
        Tensor stats = pool.acquire(sh[0], sh[1], sh[2], 2);
        backend.channelMaxMeanForward(input, stats);
        Tensor weight = conv.infer(
                stats, pool, ConvEpilogue.builder().act(Activation.SIGMOID).build());
        pool.release(stats);
        Tensor out = pool.acquire(sh);
        backend.mulForward(input, weight, out);
        pool.release(weight);
        return out;
    }

    public Tensor forward(Tensor input) {
        expect(input != null && input.rank() == 4 && input.layout() == Layout.NHWC, "input", input, "NHWC");
        x = input;
        int[] sh = input.shape();
        s = scratch("s", Layout.NHWC, sh[0], sh[1], sh[2], 2);
        backend.channelMaxMeanForward(input, s);
        Tensor a = conv.forward(s);
        w = scratch("w", Layout.NHWC, sh[0], sh[1], sh[2], 1);
        backend.activationForward(Activation.SIGMOID, a, w);
        Tensor out = scratch("out", Layout.NHWC, sh);
        backend.mulForward(input, w, out);
        return out;
    }

    public Tensor backward(Tensor dOut) {
        Tensor dx = grad("dx", x.shape());
        Tensor dw = grad("dw", w.shape());
        backend.mulBackward(dOut, x, w, dx, dw);
        backend.activationBackward(Activation.SIGMOID, null, w, dw, dw);
        Tensor ds = conv.backward(dw);
        done(dw);
        Tensor dx2 = grad("dx2", x.shape());
        backend.channelMaxMeanBackward(x, s, ds, dx2);
        done(ds);
        backend.addInPlace(dx, dx2);
        done(dx2);
        return dx;
    }
}

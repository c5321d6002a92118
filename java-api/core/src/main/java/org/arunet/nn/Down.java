package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/** Encoder stage: {@code MaxPool(3, 2, 1)} then {@link Residual}(cin -> cout): child {@code block}. */
public final class Down extends Module {
    private final Residual block;
    private final int in;
    private Tensor x;

    public Down(Backend backend, int in, int out, boolean residual) {
        super(backend);
        this.in = in;
        this.block = child("block", new Residual(backend, in, out, residual));
    }

    /** Inference: max pooling into a pooled tensor, then the residual block. */
    public Tensor infer(Tensor input, ActivationPool pool) {
        expectNhwc(input, in);
        int[] s = input.shape();
        Tensor p = pool.acquire(s[0], (s[1] - 1) / 2 + 1, (s[2] - 1) / 2 + 1, s[3]);
        backend.maxPoolForward(input, p, 3, 2, 1);
        Tensor out = block.infer(p, pool);
        pool.release(p);
        return out;
    }

    public Tensor forward(Tensor input) {
        expectNhwc(input, in);
        x = input;
        int[] s = input.shape();
        Tensor p = scratch("pool", Layout.NHWC, s[0], (s[1] - 1) / 2 + 1, (s[2] - 1) / 2 + 1, s[3]);
        backend.maxPoolForward(input, p, 3, 2, 1);
        return block.forward(p);
    }

    public Tensor backward(Tensor dOut) {
        Tensor dp = block.backward(dOut);
        Tensor dx = grad("dx", x.shape());
        backend.maxPoolBackward(x, dp, dx, 3, 2, 1);
        done(dp);
        return dx;
    }
}

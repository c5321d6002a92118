package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/** {@code x1 = CBR(in -> c)(x); out = x1 + CBR(c -> c)(x1)}, no conv biases: children {@code a}, {@code b}. */
public final class Stem extends Module {
    private final CBR a;
    private final CBR b;

    public Stem(Backend backend, int in, int c) {
        super(backend);
        this.a = child("a", new CBR(backend, in, c, false));
        this.b = child("b", new CBR(backend, c, c, false));
    }

    /** Inference: {@code x1 = a(x)}, then {@code x1 + b(x1)} in b's convolution epilogue. */
    public Tensor infer(Tensor x, ActivationPool pool) {
        Tensor x1 = a.infer(x, pool);
        Tensor out = pool.acquire(x1.shape());
        b.conv().inferInto(x1, null, out, b.epilogue().add(x1).build());
        pool.release(x1);
        return out;
    }

    public Tensor forward(Tensor x) {
        Tensor x1 = a.forward(x);
        Tensor out = scratch("out", Layout.NHWC, x1.shape());
        backend.add(x1, b.forward(x1), out);
        return out;
    }

    /** Returns dx, or null when {@code needInputGrad} is false (the network's input). */
    public Tensor backward(Tensor dOut, boolean needInputGrad) {
        Tensor dx1 = b.backward(dOut);
        backend.addInPlace(dx1, dOut);
        Tensor dx = a.backward(dx1, needInputGrad);
        done(dx1);
        return dx;
    }
}

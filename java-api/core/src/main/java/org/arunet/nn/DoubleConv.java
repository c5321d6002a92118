package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.tensor.Tensor;

/** U-Net's double convolution: {@code CBR(out -> out)(CBR(in -> out)(x))}, no conv biases. Children {@code a}, {@code b}. */
public final class DoubleConv extends Module {
    private final CBR a;
    private final CBR b;

    public DoubleConv(Backend backend, int in, int out) {
        super(backend);
        this.a = child("a", new CBR(backend, in, out, false));
        this.b = child("b", new CBR(backend, out, out, false));
    }

    public Tensor forward(Tensor x) {
        return b.forward(a.forward(x));
    }

    public Tensor backward(Tensor dy) {
        return backward(dy, true);
    }

    public Tensor backward(Tensor dy, boolean needInputGrad) {
        Tensor db = b.backward(dy);
        Tensor dx = a.backward(db, needInputGrad);
        done(db);
        return dx;
    }
}

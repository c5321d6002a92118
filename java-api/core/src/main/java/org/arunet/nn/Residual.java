package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Residual block: {@code y = CBR(cin -> cout)(x) + conv1x1(x); out = y + CBR(cout -> cout)(y)}, no
 * conv biases. Children {@code a}, {@code b}, {@code shortcut}. With {@code residual = false} (the
 * paper's ablation) both shortcuts go: {@code out = b(a(x))} and there is no {@code shortcut}.
 */
public final class Residual extends Module {
    private final CBR a;
    private final CBR b;
    private final Conv2d shortcut;

    public Residual(Backend backend, int in, int out, boolean residual) {
        super(backend);
        this.a = child("a", new CBR(backend, in, out, false));
        this.b = child("b", new CBR(backend, out, out, false));
        this.shortcut =
                residual ? child("shortcut", new Conv2d(backend, Conv2dSpec.same(in, out, 1, 1, 1, false))) : null;
    }

    /**
     * Inference: {@code y = shortcut(x)}, then {@code y += a(x)} (a's epilogue sums into y), then
     * {@code out = y + b(y)} (b's epilogue adds y): three convolutions, no separate pass.
     */
    public Tensor infer(Tensor x, ActivationPool pool) {
        if (shortcut == null) {
            Tensor ya = a.infer(x, pool);
            Tensor out = b.infer(ya, pool);
            pool.release(ya);
            return out;
        }
        Tensor y = pool.acquire(shortcut.outputShape(x.shape()));
        shortcut.inferInto(x, null, y, ConvEpilogue.none());
        a.conv().inferInto(x, null, y, a.epilogue().sum().build());
        Tensor out = pool.acquire(y.shape());
        b.conv().inferInto(y, null, out, b.epilogue().add(y).build());
        pool.release(y);
        return out;
    }

    public Tensor forward(Tensor x) {
        if (shortcut == null) {
            return b.forward(a.forward(x));
        }
        Tensor ya = a.forward(x);
        // y = a(x) + shortcut(x), summed into the shortcut's output (its backward does not read it)
        Tensor y = shortcut.forward(x);
        backend.addInPlace(y, ya);
        Tensor out = scratch("out", Layout.NHWC, y.shape());
        backend.add(y, b.forward(y), out);
        return out;
    }

    public Tensor backward(Tensor dOut) {
        if (shortcut == null) {
            Tensor db = b.backward(dOut);
            Tensor dx = a.backward(db);
            done(db);
            return dx;
        }
        Tensor dy = b.backward(dOut);
        backend.addInPlace(dy, dOut);
        Tensor ds = shortcut.backward(dy);
        Tensor dx = a.backward(dy);
        done(dy);
        backend.addInPlace(dx, ds);
        done(ds);
        return dx;
    }
}

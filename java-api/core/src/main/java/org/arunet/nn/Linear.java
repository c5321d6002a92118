package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/** PyTorch's {@code nn.Linear(in, out, bias)}: {@code y = x W^T + b}, x {@code [N, in]}. */
public final class Linear extends Module {
    private final int in;
    private final int out;
    private final Parameter weight;
    private final Parameter bias;
    private Tensor x;

    public Linear(Backend backend, int in, int out, boolean bias) {
        super(backend);
        this.in = in;
        this.out = out;
        this.weight = parameter("weight", Layout.PLAIN, out, in);
        this.bias = bias ? parameter("bias", Layout.PLAIN, out) : null;
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    public Parameter weight() {
        return weight;
    }

    public Parameter bias() {
        return bias;
    }

    public Tensor forward(Tensor input) {
        expect(input != null && input.rank() == 2 && input.dim(1) == in, "input", input, "[N, " + in + "]");
        x = input;
        Tensor y = scratch("y", Layout.PLAIN, input.dim(0), out);
        backend.linearForward(input, weight.value(), bias == null ? null : bias.value(), y);
        return y;
    }

    public Tensor backward(Tensor dy) {
        if (x == null) {
            throw new IllegalStateException(path() + ": backward before forward");
        }
        expect(dy != null && dy.hasShape(x.dim(0), out), "output gradient", dy, "[" + x.dim(0) + ", " + out + "]");
        Tensor dx = scratch("dx", Layout.PLAIN, x.shape());
        backend.linearBackward(dy, x, weight.value(), dx, weight.grad(), bias == null ? null : bias.grad());
        return dx;
    }
}

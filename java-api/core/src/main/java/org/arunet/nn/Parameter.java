package org.arunet.nn;

import org.arunet.tensor.Tensor;

/**
 * A trainable tensor and its gradient (same shape, same device). The gradient is overwritten by each
 * backward pass (every parameter of ARU-Net is used once per forward pass).
 */
public final class Parameter implements AutoCloseable {
    private final String name;
    private final Tensor value;
    private final Tensor grad;

    Parameter(String name, Tensor value, Tensor grad) {
        this.name = name;
        this.value = value;
        this.grad = grad;
    }

    /** Local name within its module ("weight", "bias"). */
    public String name() {
        return name;
    }

    public Tensor value() {
        return value;
    }

    public Tensor grad() {
        return grad;
    }

    @Override
    public void close() {
        value.close();
        grad.close();
    }
}

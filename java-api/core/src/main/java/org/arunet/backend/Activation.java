package org.arunet.backend;

/** Pointwise activation functions. GELU is the exact form {@code 0.5 x (1 + erf(x / sqrt 2))}. */
public enum Activation {
    NONE,
    RELU,
    GELU,
    SIGMOID;

    /** The code the native kernels (CPU and CUDA) take for this activation: 0 NONE, 1 RELU, 2 GELU, 3 SIGMOID. */
    public int kernelCode() {
        return switch (this) {
            case NONE -> 0;
            case RELU -> 1;
            case GELU -> 2;
            case SIGMOID -> 3;
        };
    }
}

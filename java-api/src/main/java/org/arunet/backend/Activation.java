package org.arunet.backend;

/** Pointwise activation functions. GELU is the exact form {@code 0.5 x (1 + erf(x / sqrt 2))}. */
public enum Activation {
    NONE,
    RELU,
    GELU,
    SIGMOID
}

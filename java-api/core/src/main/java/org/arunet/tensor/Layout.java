package org.arunet.tensor;

/**
 * How a tensor's logical dimensions map to memory. Every tensor is dense and row-major in the order
 * its shape lists; the layout names what those dimensions mean, so that a backend can check that it
 * is given what it expects.
 *
 * <ul>
 *   <li>{@link #NHWC}: 4-D activations {@code [batch, height, width, channels]} (channels fastest).
 *       All activations and activation gradients use it.
 *   <li>{@link #OIHW}: 4-D convolution weights {@code [out, in/groups, kh, kw]}, PyTorch's order, so
 *       that checkpoints load without transposition.
 *   <li>{@link #PLAIN}: anything else (vectors, matrices, class-index maps {@code [N,H,W]}).
 * </ul>
 */
public enum Layout {
    NHWC,
    OIHW,
    PLAIN
}

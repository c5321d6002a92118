package org.arunet.backend;

import org.arunet.tensor.Tensor;

/**
 * One convolution layer's compute handle, created by {@link Backend#conv2d}. It may cache per input
 * shape whatever the backend needs (oneDNN primitives, weights reordered to the primitive's preferred
 * format keyed on the weight tensor's {@link Tensor#id()} and {@link Tensor#version()}, cuDNN
 * algorithms, workspaces). Owned by the layer that created it and closed with it.
 *
 * <p>All activations are NHWC; {@code w} is OIHW; see {@link Conv2dSpec}. Every output is
 * overwritten. Shapes are checked before any native call ({@link IllegalArgumentException}).
 */
public interface Conv2dOp extends AutoCloseable {
    Conv2dSpec spec();

    /**
     * {@code y = conv(x, w) + b}.
     *
     * @param b bias {@code [out]}, or null when the spec has no bias
     * @param training true when a backward pass will follow (backends may pick other primitives)
     */
    void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training);

    /** {@code dx = d loss / d x} given {@code dy}. */
    void backwardData(Tensor dy, Tensor w, Tensor dx);

    /**
     * {@code dw = d loss / d w}, {@code db = sum of dy over N, H, W}.
     *
     * @param db null when the spec has no bias
     */
    void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db);

    @Override
    void close();
}

package org.arunet.backend;

/**
 * Arithmetic of inference convolutions ({@link Backend#convForwardFused}). Training is always F32.
 * <ul>
 *   <li>{@link #F32}: float32 inputs, weights and accumulation (the default);
 *   <li>{@link #BF16}: inputs and weights rounded to bfloat16, products accumulated in float32, outputs
 *       float32 (every other op stays float32). Only where the backend says
 *       {@link Backend#supportsBf16Inference()}.
 * </ul>
 */
public enum Precision {
    F32,
    BF16
}

/**
 * Tensors in native memory: {@link org.arunet.tensor.Tensor} (dense, row-major, NHWC for activations,
 * OIHW for convolution weights), its {@link org.arunet.tensor.Memory} (host or GPU, freed on close, never
 * by the garbage collector) and layout helpers.
 */
package org.arunet.tensor;

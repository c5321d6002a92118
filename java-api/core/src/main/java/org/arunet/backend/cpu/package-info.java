/**
 * The CPU backend: {@link org.arunet.backend.cpu.CpuBackend}, oneDNN convolutions and OpenMP C++
 * kernels on host tensors (F32 NHWC activations, OIHW convolution weights), bound with JavaCPP.
 */
package org.arunet.backend.cpu;

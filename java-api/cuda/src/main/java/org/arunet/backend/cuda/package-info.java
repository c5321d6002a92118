/**
 * The GPU backend: {@link org.arunet.backend.cuda.CudaBackend} implements every
 * {@link org.arunet.backend.Backend} op on NVIDIA GPUs (compute capability 8.0 and newer) through the
 * JavaCPP {@code cuda} preset: cuDNN convolutions (NHWC activations, OHWI filters, algorithms found once
 * per shape), cuBLAS linear layers, and arunet's own CUDA kernels ({@code native/src/main/cuda/*.cu},
 * fatbins loaded with the driver API) for everything else, in float32 or with half-precision
 * convolutions ({@link org.arunet.backend.Precision}). {@link org.arunet.backend.cuda.Cuda} says
 * whether a usable GPU is present (probed once); {@link org.arunet.backend.cuda.CudaGraph} replays
 * recorded work. Device memory is owned by tensors and by the backend, never by the garbage collector.
 */
package org.arunet.backend.cuda;

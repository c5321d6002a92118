/**
 * The GPU machine's harness ({@link org.arunet.bench.gpu.GpuHarness}): parity of the CUDA backend
 * against the CPU backend's saved results and the PyTorch fixture, and ARU-Net throughput; run by
 * {@code benchmarks/gpu/run-on-gpu.sh} from the thin jar that {@code benchmarks/gpu/prepare.sh} builds.
 */
package org.arunet.bench.gpu;

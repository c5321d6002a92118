/**
 * The backend interface: every operation ARU-Net needs, forward and backward, with PyTorch's
 * semantics ({@link org.arunet.backend.Backend}); {@link org.arunet.backend.Backends} creates the CPU
 * backend (oneDNN and our C++ kernels) or the pure-Java reference backend (the test oracle).
 */
package org.arunet.backend;

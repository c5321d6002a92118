/**
 * The backend SPI: every operation ARU-Net needs, forward and backward, with PyTorch's semantics, and
 * what training asks of a backend as capabilities ({@link org.arunet.backend.Backend}); the one
 * {@link org.arunet.backend.Precision}; engines as plug-ins ({@link org.arunet.backend.BackendProvider},
 * found through {@link java.util.ServiceLoader} by {@link org.arunet.backend.Backends}): the CPU backend
 * (oneDNN and our C++ kernels) and the pure-Java reference backend (the test oracle) in this module, the
 * GPU backend in the module {@code java-api/cuda}. This package names no engine.
 */
package org.arunet.backend;

/**
 * JavaCPP bindings of arunet's native code: {@link org.arunet.jni.ArunetNative} maps the C++ entry
 * points of {@code native/src/main/cpp/include/arunet/ops.h} (OpenMP kernels and oneDNN
 * convolutions) one to one, on raw addresses and opaque handles. Internal: the public API is
 * {@code org.arunet.backend.cpu.CpuBackend}.
 */
package org.arunet.jni;

package org.arunet.backend.cuda;

import org.arunet.backend.Backend;
import org.arunet.backend.BackendProvider;
import org.arunet.backend.Precision;

/**
 * Device {@code cuda}: the {@link CudaBackend}. Variants: none or {@code fp32} (float32, TF32 off),
 * {@code fp16} and {@code bf16} (mixed-precision convolutions, {@link Precision#parse} names), and
 * {@code tf32} (float32 on the TF32 tensor cores). Availability is {@link Cuda#available()}: probed
 * once per process, so a machine without a GPU pays one failed probe.
 */
public final class CudaBackendProvider implements BackendProvider {

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public boolean available() {
        return Cuda.available();
    }

    @Override
    public String describe() {
        return Cuda.describe();
    }

    /** {@code threads} is ignored (the GPU backend has no CPU worker threads). */
    @Override
    public Backend create(String variant, int threads) {
        if ("tf32".equals(variant)) {
            requireGpu("cuda:tf32");
            return new CudaBackend(Precision.F32, true);
        }
        Precision precision = variant == null ? Precision.F32 : Precision.parse(variant);
        requireGpu("cuda");
        return new CudaBackend(precision);
    }

    private static void requireGpu(String device) {
        if (!Cuda.available()) {
            throw new IllegalStateException(
                    "device " + device + ": " + Cuda.describe() + " (use --device cpu or auto)");
        }
    }
}

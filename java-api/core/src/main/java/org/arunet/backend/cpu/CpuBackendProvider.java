package org.arunet.backend.cpu;

import org.arunet.backend.Backend;
import org.arunet.backend.BackendProvider;

/** Device {@code cpu}: the {@link CpuBackend} (oneDNN and arunet's C++ kernels). */
public final class CpuBackendProvider implements BackendProvider {

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public boolean available() {
        return true;
    }

    @Override
    public String describe() {
        return "CPU backend (oneDNN and arunet's C++ kernels), "
                + Runtime.getRuntime().availableProcessors() + " processors";
    }

    /** {@code threads} 0: one thread per available processor. */
    @Override
    public Backend create(String variant, int threads) {
        if (variant != null) {
            throw new IllegalArgumentException("device cpu takes no variant, got cpu:" + variant);
        }
        return threads > 0 ? new CpuBackend(threads) : new CpuBackend();
    }
}

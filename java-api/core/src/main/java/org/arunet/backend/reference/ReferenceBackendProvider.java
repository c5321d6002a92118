package org.arunet.backend.reference;

import org.arunet.backend.Backend;
import org.arunet.backend.BackendProvider;

/** Device {@code reference}: the pure-Java {@link ReferenceBackend} (the test oracle). */
public final class ReferenceBackendProvider implements BackendProvider {

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public boolean available() {
        return true;
    }

    @Override
    public String describe() {
        return "pure-Java reference backend (double accumulation; for tests and checks, not for speed)";
    }

    @Override
    public Backend create(String variant, int threads) {
        if (variant != null) {
            throw new IllegalArgumentException("device reference takes no variant, got reference:" + variant);
        }
        return new ReferenceBackend();
    }
}

package org.arunet.backend;

import java.util.Locale;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates backends by name: {@code cpu} (oneDNN and our C++ kernels), {@code reference} (pure Java,
 * slow, the test oracle), {@code auto} (the best available). The caller owns the backend and closes
 * it after the models that use it.
 */
public final class Backends {
    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

    private Backends() {}

    /** The CPU backend with all available processors as threads. */
    public static Backend cpu() {
        return new CpuBackend();
    }

    /** The CPU backend with {@code threads} worker threads. */
    public static Backend cpu(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        return new CpuBackend(threads);
    }

    /** The pure-Java reference backend (double accumulation; for tests and checks, not for speed). */
    public static Backend reference() {
        return new ReferenceBackend();
    }

    /**
     * A backend by device name.
     *
     * @param device {@code cpu}, {@code cuda}, {@code auto} or {@code reference}
     * @param threads CPU threads (0 = all processors)
     * @throws IllegalArgumentException for an unknown name, or {@code cuda} when this build has no GPU
     *     backend
     */
    public static Backend create(String device, int threads) {
        String d = device == null ? "auto" : device.toLowerCase(Locale.ROOT);
        switch (d) {
            case "cpu":
                return threads > 0 ? cpu(threads) : cpu();
            case "reference":
                return reference();
            case "auto":
                LOG.info("device auto: using the CPU backend (this build has no GPU backend)");
                return threads > 0 ? cpu(threads) : cpu();
            case "cuda":
                throw new IllegalArgumentException("device cuda: this build of arunet has no GPU backend yet; use cpu");
            default:
                throw new IllegalArgumentException("unknown device '" + device + "' (use cpu, cuda, auto or reference)");
        }
    }
}

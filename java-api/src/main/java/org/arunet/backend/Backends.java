package org.arunet.backend;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.cuda.Cuda;
import org.arunet.backend.cuda.CudaBackend;

import org.arunet.backend.reference.ReferenceBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates backends by name: {@code cpu} (oneDNN and our C++ kernels), {@code cuda} (cuDNN, cuBLAS and
 * our CUDA kernels; {@code cuda:fp16} and {@code cuda:bf16} for mixed precision), {@code reference}
 * (pure Java, slow, the test oracle), {@code auto} (the GPU when one is usable, else the CPU). The
 * caller owns the backend and closes it after the models that use it.
 *
 * <p>Whether a GPU is usable is probed once per process and cached ({@link Cuda#available()}); on a
 * machine without one, {@code auto} logs one line saying why and uses the CPU.
 */
public final class Backends {
    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);
    private static final AtomicBoolean AUTO_LOGGED = new AtomicBoolean();

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

    /** True when a usable CUDA GPU is present (probed once per process). */
    public static boolean cudaAvailable() {
        return Cuda.available();
    }

    /**
     * The GPU backend.
     *
     * @throws IllegalStateException naming the reason when no usable CUDA GPU is present
     */
    public static Backend cuda(Precision precision) {
        if (!Cuda.available()) {
            throw new IllegalStateException("device cuda: " + Cuda.describe() + " (use --device cpu or auto)");
        }
        return new CudaBackend(precision);
    }

    /** The GPU backend in float32 with TF32 tensor cores for convolutions and linear layers ({@code cuda:tf32}). */
    public static Backend cudaTf32() {
        if (!Cuda.available()) {
            throw new IllegalStateException("device cuda:tf32: " + Cuda.describe() + " (use --device cpu or auto)");
        }
        return new CudaBackend(Precision.F32, true);
    }

    /**
     * A backend by device name.
     *
     * @param device {@code cpu}, {@code cuda} (also {@code cuda:fp32}, {@code cuda:fp16}, {@code cuda:bf16},
     *     {@code cuda:tf32}: float32 with TF32 tensor cores),
     *     {@code auto} or {@code reference}
     * @param threads CPU threads (0 = all processors)
     * @throws IllegalArgumentException for an unknown name
     * @throws IllegalStateException for {@code cuda} when no usable GPU is present (the message says why)
     */
    public static Backend create(String device, int threads) {
        String d = device == null ? "auto" : device.toLowerCase(Locale.ROOT);
        if (d.equals("cuda:tf32")) {
            return cudaTf32();
        }
        if (d.startsWith("cuda:")) {
            return cuda(Precision.parse(d.substring("cuda:".length())));
        }
        switch (d) {
            case "cpu":
                return threads > 0 ? cpu(threads) : cpu();
            case "reference":
                return reference();
            case "auto":
                if (Cuda.available()) {
                    log("device auto: using the GPU, " + Cuda.describe());
                    return new CudaBackend(Precision.F32);
                }
                log("device auto: using the CPU backend (" + Cuda.describe() + ")");
                return threads > 0 ? cpu(threads) : cpu();
            case "cuda":
                return cuda(Precision.F32);
            default:
                throw new IllegalArgumentException("unknown device '" + device
                        + "' (use cpu, cuda, cuda:fp16, cuda:bf16, cuda:tf32, auto or reference)");
        }
    }

    /** The choice of {@code auto} is logged once per process at info level, later at debug level. */
    private static void log(String message) {
        if (AUTO_LOGGED.compareAndSet(false, true)) {
            LOG.info(message);
        } else {
            LOG.debug(message);
        }
    }
}

package org.arunet.backend;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates backends by name: {@code cpu} (oneDNN and our C++ kernels), {@code cuda} (cuDNN, cuBLAS and
 * our CUDA kernels; {@code cuda:fp16} and {@code cuda:bf16} for mixed precision), {@code reference}
 * (pure Java, slow, the test oracle), {@code auto} (the GPU when one is usable, else the CPU). The
 * caller owns the backend and closes it after the models that use it.
 *
 * <p>Every engine is a plug-in: a {@link BackendProvider} found once per process with
 * {@link ServiceLoader} (the core module brings {@code cpu} and {@code reference}; the GPU backend is
 * the separate module {@code java-api/cuda}, artifact {@value #CUDA_ARTIFACT}, which registers
 * {@code cuda}). Whether a GPU is usable is probed once per process and cached by its provider; on a
 * machine without one, {@code auto} logs one line saying why and uses the CPU. Without the CUDA module
 * on the class path, {@code cuda} fails with a message naming the module and {@code auto} uses the CPU.
 */
public final class Backends {
    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);
    private static final AtomicBoolean AUTO_LOGGED = new AtomicBoolean();
    /** The Maven coordinates of the GPU backend module ({@code java-api/cuda}). */
    public static final String CUDA_ARTIFACT = "org.arunet:arunet-cuda";

    private static final String CUDA = "cuda";
    private static final String NO_CUDA_MODULE = "the CUDA backend is not on the class path (add the module"
            + " java-api/cuda, artifact " + CUDA_ARTIFACT + ")";

    private Backends() {}

    /** The providers on the class path by name, found once (the first one of a name wins). */
    private static final class Registry {
        static final Map<String, BackendProvider> PROVIDERS = load();

        private static Map<String, BackendProvider> load() {
            Map<String, BackendProvider> byName = new LinkedHashMap<>();
            ClassLoader loader = Thread.currentThread().getContextClassLoader();
            add(byName, loader != null ? loader : Backends.class.getClassLoader());
            if (!byName.containsKey("cpu")) { // a class loader that does not see core's own services file
                add(byName, Backends.class.getClassLoader());
            }
            return Map.copyOf(byName);
        }

        /** A registration that cannot be loaded (a stale or broken jar) is logged and skipped, not fatal. */
        private static void add(Map<String, BackendProvider> byName, ClassLoader loader) {
            Iterator<BackendProvider> it =
                    ServiceLoader.load(BackendProvider.class, loader).iterator();
            for (int failures = 0; failures < 100; ) {
                try {
                    if (!it.hasNext()) {
                        return;
                    }
                    BackendProvider p = it.next();
                    byName.putIfAbsent(p.name().toLowerCase(Locale.ROOT), p);
                } catch (ServiceConfigurationError e) {
                    LOG.warn("backend provider skipped: {}", e.getMessage());
                    failures++;
                }
            }
        }
    }

    /** The provider of a device name ({@code cpu}, {@code cuda}, ...), or null when none is on the class path. */
    public static BackendProvider provider(String name) {
        return Registry.PROVIDERS.get(name.toLowerCase(Locale.ROOT));
    }

    private static BackendProvider required(String name) {
        BackendProvider p = provider(name);
        if (p == null) {
            throw new IllegalStateException("no backend provider '" + name + "' on the class path");
        }
        return p;
    }

    /** The CPU backend with all available processors as threads. */
    public static Backend cpu() {
        return required("cpu").create(null, 0);
    }

    /** The CPU backend with {@code threads} worker threads. */
    public static Backend cpu(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        return required("cpu").create(null, threads);
    }

    /** The pure-Java reference backend (double accumulation; for tests and checks, not for speed). */
    public static Backend reference() {
        return required("reference").create(null, 0);
    }

    /** True when the CUDA module is on the class path and a usable CUDA GPU is present (probed once per process). */
    public static boolean cudaAvailable() {
        BackendProvider gpu = provider(CUDA);
        return gpu != null && gpu.available();
    }

    /**
     * The GPU backend.
     *
     * @throws IllegalStateException naming the reason when no usable CUDA GPU is present, or naming the
     *     missing module when the CUDA backend is not on the class path
     */
    public static Backend cuda(Precision precision) {
        if (precision == null) {
            throw new IllegalArgumentException("cuda: precision is null");
        }
        return gpu(CUDA).create(precision.toString(), 0);
    }

    /** The GPU backend in float32 with TF32 tensor cores for convolutions and linear layers ({@code cuda:tf32}). */
    public static Backend cudaTf32() {
        return gpu("cuda:tf32").create("tf32", 0);
    }

    private static BackendProvider gpu(String device) {
        BackendProvider gpu = provider(CUDA);
        if (gpu == null) {
            throw new IllegalStateException("device " + device + ": " + NO_CUDA_MODULE);
        }
        return gpu;
    }

    /**
     * A backend by device name.
     *
     * @param device {@code cpu}, {@code cuda} (also {@code cuda:fp32}, {@code cuda:fp16}, {@code cuda:bf16},
     *     {@code cuda:tf32}: float32 with TF32 tensor cores),
     *     {@code auto} or {@code reference}; the name of any other {@link BackendProvider} on the class path
     * @param threads CPU threads (0 = all processors)
     * @throws IllegalArgumentException for an unknown name
     * @throws IllegalStateException for {@code cuda} when no usable GPU is present (the message says why)
     *     or when the CUDA module is not on the class path (the message names it)
     */
    public static Backend create(String device, int threads) {
        String d = device == null ? "auto" : device.toLowerCase(Locale.ROOT);
        switch (d) {
            case "cpu":
                return threads > 0 ? cpu(threads) : cpu();
            case "reference":
                return reference();
            case "auto":
                return auto(threads);
            default:
                break;
        }
        int colon = d.indexOf(':');
        String name = colon < 0 ? d : d.substring(0, colon);
        String variant = colon < 0 ? null : d.substring(colon + 1);
        if (name.equals(CUDA)) {
            return gpu(d).create(variant, threads);
        }
        BackendProvider other =
                name.equals("cpu") || name.equals("reference") || name.equals("auto") ? null : provider(name);
        if (other == null) {
            throw new IllegalArgumentException("unknown device '" + device
                    + "' (use cpu, cuda, cuda:fp16, cuda:bf16, cuda:tf32, auto or reference)");
        }
        return other.create(variant, threads);
    }

    /** The GPU when the CUDA module is present and a GPU is usable, else the CPU; the choice is logged. */
    private static Backend auto(int threads) {
        BackendProvider gpu = provider(CUDA);
        if (gpu != null && gpu.available()) {
            log("device auto: using the GPU, " + gpu.describe());
            return gpu.create(null, threads);
        }
        log("device auto: using the CPU backend (" + (gpu == null ? NO_CUDA_MODULE : gpu.describe()) + ")");
        return threads > 0 ? cpu(threads) : cpu();
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

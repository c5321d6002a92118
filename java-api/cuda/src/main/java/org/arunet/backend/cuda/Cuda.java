package org.arunet.backend.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * Whether this process can use a CUDA GPU, found out once and cached (with the reason when it cannot).
 *
 * <p>The probe loads the JavaCPP CUDA runtime binding (which needs the NVIDIA driver's
 * {@code libcuda.so.1} and {@code libcudart.so.13}), counts the devices, reads device 0's name, compute
 * capability and memory, loads cuDNN ({@code libcudnn_*.so.9}) and cuBLAS ({@code libcublas.so.13}),
 * and checks that this build carries the CUDA kernels. On a machine without a GPU the first step fails
 * with {@link UnsatisfiedLinkError} (and every later touch of the binding with
 * {@link NoClassDefFoundError}); the probe catches that once, so asking again costs nothing.
 *
 * <p>Used by {@code Backends.create("auto" | "cuda")} and by GPU tests
 * ({@code @EnabledIf("org.arunet.backend.cuda.Cuda#available")}).
 */
public final class Cuda {
    /** Oldest compute capability the kernels are built for (sm_80: A100). */
    static final int MIN_MAJOR = 8;

    private Cuda() {}

    /** The cached result of the probe. */
    record Probe(
            boolean ok,
            String reason,
            String name,
            int major,
            int minor,
            int multiprocessors,
            long totalMemory,
            int driverVersion,
            int runtimeVersion,
            long cudnnVersion,
            int cublasVersion) {

        String describe() {
            if (!ok) {
                return "no usable CUDA GPU: " + reason;
            }
            return String.format(
                    "%s (sm_%d%d, %d SMs, %.1f GiB), driver %s, runtime %s, cuDNN %s, cuBLAS %s",
                    name,
                    major,
                    minor,
                    multiprocessors,
                    totalMemory / (double) (1L << 30),
                    Cuda.version(driverVersion),
                    Cuda.version(runtimeVersion),
                    Cuda.cudnnVersion(cudnnVersion),
                    Cuda.cublasVersion(cublasVersion));
        }
    }

    private static final class Holder {
        static final Probe PROBE = run();
    }

    /** True when a CUDA GPU with compute capability 8.0 or newer, cuDNN, cuBLAS and the kernels are usable. */
    public static boolean available() {
        return Holder.PROBE.ok();
    }

    /** Why no GPU can be used ({@code null} when one can). */
    public static String unavailableReason() {
        return Holder.PROBE.ok() ? null : Holder.PROBE.reason();
    }

    /**
     * One line naming the GPU and the library versions, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs,
     * 79.2 GiB), driver 13.0, runtime 13.0, cuDNN 9.13.0, cuBLAS 13.0.0", or the reason there is none.
     */
    public static String describe() {
        return Holder.PROBE.describe();
    }

    static Probe probe() {
        return Holder.PROBE;
    }

    private static Probe fail(String reason) {
        return new Probe(false, reason, null, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    private static Probe run() {
        int[] count = new int[1];
        try {
            int err = cudart.cudaGetDeviceCount(count);
            if (err != cudart.cudaSuccess) {
                return fail("cudaGetDeviceCount failed: " + CudaCheck.runtimeError(err)
                        + (err == cudart.cudaErrorInsufficientDriver
                                ? " (the NVIDIA driver is older than CUDA 13)"
                                : ""));
            }
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            return fail("the CUDA runtime could not be loaded (" + firstLine(e)
                    + "); it needs the NVIDIA driver's libcuda.so.1 and libcudart.so.13 on the library path");
        }
        if (count[0] < 1) {
            return fail("no CUDA device is visible");
        }
        try {
            int[] major = new int[1];
            int[] minor = new int[1];
            int[] sms = new int[1];
            CudaCheck.runtime(
                    cudart.cudaDeviceGetAttribute(major, cudart.cudaDevAttrComputeCapabilityMajor, 0),
                    "cudaDeviceGetAttribute(major)");
            CudaCheck.runtime(
                    cudart.cudaDeviceGetAttribute(minor, cudart.cudaDevAttrComputeCapabilityMinor, 0),
                    "cudaDeviceGetAttribute(minor)");
            CudaCheck.runtime(
                    cudart.cudaDeviceGetAttribute(sms, cudart.cudaDevAttrMultiProcessorCount, 0),
                    "cudaDeviceGetAttribute(multiprocessors)");
            byte[] name = new byte[256];
            CudaCheck.driver(cudart.cuInit(0), "cuInit");
            CudaCheck.driver(cudart.cuDeviceGetName(name, name.length, 0), "cuDeviceGetName");
            String deviceName = cString(name);
            if (major[0] < MIN_MAJOR) {
                return fail(deviceName + " has compute capability " + major[0] + "." + minor[0]
                        + "; arunet's kernels need 8.0 or newer");
            }
            int[] driver = new int[1];
            int[] runtime = new int[1];
            CudaCheck.runtime(cudart.cudaDriverGetVersion(driver), "cudaDriverGetVersion");
            CudaCheck.runtime(cudart.cudaRuntimeGetVersion(runtime), "cudaRuntimeGetVersion");
            CudaCheck.runtime(cudart.cudaSetDevice(0), "cudaSetDevice(0)");
            long total;
            try (SizeTPointer free = new SizeTPointer(1);
                    SizeTPointer tot = new SizeTPointer(1)) {
                CudaCheck.runtime(cudart.cudaMemGetInfo(free, tot), "cudaMemGetInfo");
                total = tot.get();
            }
            long cudnnVersion;
            try {
                Loader.load(cudnn.class);
                cudnnVersion = cudnn.cudnnGetVersion();
            } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
                return fail("cuDNN 9 could not be loaded (" + firstLine(e)
                        + "); it needs libcudnn.so.9 and libcudnn_{graph,ops,cnn,adv}.so.9 on the library path");
            }
            int cublasVersion;
            try {
                Loader.load(cublas.class);
                cublasVersion = cublasVersionNumber();
            } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
                return fail("cuBLAS could not be loaded (" + firstLine(e)
                        + "); it needs libcublas.so.13 and libcublasLt.so.13 on the library path");
            }
            if (Kernels.missingResource() != null) {
                return fail("this build has no CUDA kernels (" + Kernels.missingResource()
                        + " is not on the class path; build with nvcc)");
            }
            return new Probe(
                    true,
                    null,
                    deviceName,
                    major[0],
                    minor[0],
                    sms[0],
                    total,
                    driver[0],
                    runtime[0],
                    cudnnVersion,
                    cublasVersion);
        } catch (RuntimeException e) {
            return fail("the CUDA device could not be initialised: " + e.getMessage());
        }
    }

    private static int cublasVersionNumber() {
        int[] v = new int[3];
        int[] part = new int[1];
        int[] types = {cudart.MAJOR_VERSION, cudart.MINOR_VERSION, cudart.PATCH_LEVEL};
        for (int i = 0; i < 3; i++) {
            CudaCheck.cublas(cublas.cublasGetProperty(types[i], part), "cublasGetProperty");
            v[i] = part[0];
        }
        return v[0] * 10000 + v[1] * 100 + v[2];
    }

    /** The error's class and first line, without JavaCPP's listing of java.library.path. */
    private static String firstLine(Throwable e) {
        String m = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        int nl = m.indexOf('\n');
        m = nl < 0 ? m : m.substring(0, nl);
        int path = m.indexOf(" in java.library.path");
        return path < 0 ? m : m.substring(0, path);
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, java.nio.charset.StandardCharsets.UTF_8).trim();
    }

    /** 13000 -> "13.0". */
    static String version(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }

    /** cuDNN 9 encodes major * 10000 + minor * 100 + patch (91300 -> "9.13.0"). */
    static String cudnnVersion(long v) {
        return v >= 90000
                ? (v / 10000) + "." + (v % 10000) / 100 + "." + v % 100
                : (v / 1000) + "." + (v % 1000) / 100 + "." + v % 100;
    }

    /** cuBLAS 13 encodes major * 10000 + minor * 100 + patch. */
    static String cublasVersion(int v) {
        return (v / 10000) + "." + (v % 10000) / 100 + "." + v % 100;
    }
}

package org.arunet.jni;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The processor features arunet's native CPU kernels are compiled for, checked before the native
 * library is loaded: on a processor without them the kernels would die with SIGILL (an illegal
 * instruction kills the JVM); this turns that into a clear error.
 *
 * <p>The kernels are built with {@code -march=x86-64-v3}: AVX, AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE
 * (Intel Haswell, 2013, and AMD Excavator/Zen or newer). bf16 arithmetic ({@code --precision bf16})
 * further needs AVX512-BF16 or AMX, which oneDNN detects itself.
 *
 * <p>Read from {@code /proc/cpuinfo} (Linux); the system property {@code arunet.cpuinfo} names another
 * file (for tests). Where no such file exists the check cannot be made and is skipped.
 */
public final class CpuFeatures {
    /**
     * The /proc/cpuinfo flag names of x86-64-v3 that are checked. LZCNT ({@code abm}) is left out:
     * hypervisors hide that flag on processors that have it (seen on this project's AMD EPYC machines).
     */
    public static final List<String> X86_64_V3 = List.of("avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe");

    private static volatile String failure;
    private static volatile boolean checked;

    private CpuFeatures() {}

    /**
     * Throws {@link UnsupportedOperationException} with what is missing when this processor cannot run
     * the native CPU kernels; returns quietly otherwise (the answer is cached).
     */
    public static void require() {
        if (!checked) {
            failure = problem(System.getProperty("os.arch", ""), cpuinfo());
            checked = true;
        }
        if (failure != null) {
            throw new UnsupportedOperationException(failure);
        }
    }

    private static String cpuinfo() {
        Path f = Path.of(System.getProperty("arunet.cpuinfo", "/proc/cpuinfo"));
        try {
            return Files.isReadable(f) ? Files.readString(f) : null;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Why this processor cannot run the kernels, or null when it can (or when {@code cpuinfo} is null:
     * unknown, not checked).
     *
     * @param arch the JVM's {@code os.arch}
     * @param cpuinfo the text of /proc/cpuinfo
     */
    static String problem(String arch, String cpuinfo) {
        String a = arch.toLowerCase(Locale.ROOT);
        if (!a.equals("amd64") && !a.equals("x86_64")) {
            return "arunet's native CPU kernels are built for Linux x86-64; this JVM runs on " + arch
                    + " (the pure-Java reference backend, Backends.reference(), works anywhere but is slow)";
        }
        if (cpuinfo == null) {
            return null;
        }
        Set<String> flags = new HashSet<>();
        for (String line : cpuinfo.split("\n")) {
            if (line.startsWith("flags")) {
                int colon = line.indexOf(':');
                flags.addAll(Arrays.asList(line.substring(colon + 1).trim().split("\\s+")));
                break; // every core of a machine reports the same
            }
        }
        if (flags.isEmpty()) {
            return null;
        }
        List<String> missing = new ArrayList<>();
        for (String f : X86_64_V3) {
            if (!flags.contains(f)) {
                missing.add(f);
            }
        }
        if (missing.isEmpty()) {
            return null;
        }
        return "this processor lacks " + String.join(", ", missing).toUpperCase(Locale.ROOT) + ": arunet's CPU kernels"
                + " need an x86-64-v3 processor (AVX2 and FMA: Intel Haswell or AMD Zen, 2013 or newer); a GPU"
                + " (--device cuda) or the slow pure-Java reference backend (--device reference) still work";
    }
}

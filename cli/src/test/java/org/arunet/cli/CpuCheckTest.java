package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On a processor without AVX2/FMA the command stops with a clear error before any native kernel runs,
 * instead of dying with SIGILL. The processor is simulated with a /proc/cpuinfo of a 2011 CPU
 * (system property arunet.cpuinfo) in a child JVM, so the check runs from scratch.
 */
class CpuCheckTest {
    @TempDir
    Path dir;

    @Test
    void anOldProcessorGetsAClearErrorNotSigill() throws Exception {
        Path cpuinfo = dir.resolve("cpuinfo");
        Files.writeString(
                cpuinfo,
                "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz\n"
                        + "flags\t\t: fpu vme de pse tsc msr pae sse sse2 ssse3 sse4_1 sse4_2 popcnt avx xsave\n");
        Path data = TinyDataset.write(dir.resolve("data"), 6, 32, 1);
        ChildProcess p = ChildProcess.start(
                dir.resolve("child"),
                List.of(),
                List.of("-Darunet.cpuinfo=" + cpuinfo),
                List.of(
                        "train",
                        "--data",
                        data.toString(),
                        "--out",
                        dir.resolve("run").toString(),
                        "--epochs",
                        "1",
                        "--image-size",
                        "32",
                        "--width",
                        "4",
                        "--device",
                        "cpu"));
        int code = p.waitFor(120);
        String err = Files.readString(p.stderr);
        assertEquals(1, code, err);
        assertTrue(err.contains("this processor lacks AVX2, FMA, BMI1, BMI2, F16C, MOVBE"), err);
        assertTrue(err.contains("x86-64-v3"), err);
        assertFalse(err.contains("SIGILL") || err.contains("fatal error"), err);
    }
}

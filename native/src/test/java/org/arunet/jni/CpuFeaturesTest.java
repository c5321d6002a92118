package org.arunet.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CpuFeaturesTest {
    static final String HASWELL = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma bmi1 bmi2 f16c abm movbe\n";
    static final String SANDY_BRIDGE = "processor\t: 0\nflags\t\t: fpu sse2 sse4_2 avx popcnt\n";

    @Test
    void anX8664V3ProcessorPasses() {
        assertNull(CpuFeatures.problem("amd64", HASWELL));
    }

    @Test
    void anOlderProcessorIsRefusedNamingWhatIsMissing() {
        String p = CpuFeatures.problem("amd64", SANDY_BRIDGE);
        assertTrue(p.startsWith("this processor lacks AVX2, FMA, BMI1, BMI2, F16C, MOVBE: "), p);
        assertTrue(p.contains("x86-64-v3"), p);
    }

    @Test
    void otherArchitecturesAreRefusedAndUnknownFlagsAreNotGuessed() {
        assertTrue(
                CpuFeatures.problem("aarch64", HASWELL).contains("built for Linux x86-64; this JVM runs on aarch64"));
        assertNull(CpuFeatures.problem("amd64", null), "no /proc/cpuinfo: not checked");
        assertNull(CpuFeatures.problem("x86_64", "processor\t: 0\n"), "no flags line: not checked");
    }

    @Test
    void thisMachinePasses() {
        CpuFeatures.require(); // the build machine runs the kernels, so it must pass
        assertEquals(7, CpuFeatures.X86_64_V3.size());
    }
}

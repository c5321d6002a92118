package org.arunet.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Engines found through ServiceLoader, on core's own class path, where the CUDA module is absent (as for
 * a user who declares only the Java API): cpu and reference are there; cuda fails naming the missing
 * module; auto falls back to the CPU. (With the module present: CudaAvailabilityTest in java-api/cuda.)
 */
class BackendsTest {

    @Test
    void coreRegistersCpuAndReference() {
        assertEquals("cpu", Backends.provider("cpu").name());
        assertEquals("reference", Backends.provider("REFERENCE").name());
        assertTrue(Backends.provider("cpu").available());
        try (Backend cpu = Backends.create("cpu", 1);
                Backend ref = Backends.create("reference", 0)) {
            assertEquals("cpu", cpu.name());
            assertEquals("reference", ref.name());
        }
    }

    @Test
    void withoutTheCudaModuleCudaNamesItAndAutoUsesTheCpu() {
        assertNull(Backends.provider("cuda"), "the CUDA module is not a dependency of core");
        assertFalse(Backends.cudaAvailable());
        for (String device : new String[] {"cuda", "cuda:fp16", "cuda:tf32", "CUDA:bf16"}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create(device, 1));
            assertTrue(
                    e.getMessage().contains("java-api/cuda") && e.getMessage().contains(Backends.CUDA_ARTIFACT),
                    e.getMessage());
        }
        assertThrows(IllegalStateException.class, () -> Backends.cuda(Precision.F16));
        assertThrows(IllegalStateException.class, Backends::cudaTf32);
        try (Backend auto = Backends.create("auto", 1);
                Backend dflt = Backends.create(null, 1)) {
            assertEquals("cpu", auto.name());
            assertEquals("cpu", dflt.name());
        }
    }

    @Test
    void unknownNamesAndVariantsAreRefused() {
        for (String device : new String[] {"tpu", "cpu:2", "reference:x", "auto:cpu", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create(device, 1));
            assertNotNull(e.getMessage());
            assertTrue(e.getMessage().startsWith("unknown device '" + device + "'"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Backends.cpu(0));
    }

    @Test
    void precisionNamesParse() {
        assertEquals(Precision.F16, Precision.parse("FP16"));
        assertEquals(Precision.BF16, Precision.parse("bfloat16"));
        assertEquals(Precision.F32, Precision.parse("f32"));
        assertEquals("fp32", Precision.F32.toString());
        assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp8"));
    }
}

package org.arunet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.arunet.backend.ArunetException;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.backend.Precision;
import org.junit.jupiter.api.Test;

/**
 * Backend choice with and without a GPU. On a machine without one (CI): the probe fails once with a
 * reason naming what is missing and caches it; {@code auto} falls back to the CPU; {@code cuda} throws
 * with the reason. With a GPU: {@code auto} and {@code cuda} give the GPU backend.
 */
class CudaAvailabilityTest {

    @Test
    void probeIsCachedAndConsistent() {
        boolean first = Cuda.available();
        String reason = Cuda.unavailableReason();
        String description = Cuda.describe();
        long t0 = System.nanoTime();
        for (int i = 0; i < 1000; i++) {
            assertEquals(first, Cuda.available());
        }
        assertTrue(System.nanoTime() - t0 < 50_000_000L, "the answer is cached, not probed again");
        assertSame(Cuda.probe(), Cuda.probe());
        assertEquals(reason, Cuda.unavailableReason());
        assertEquals(description, Cuda.describe());
        assertEquals(first, reason == null);
    }

    @Test
    void withoutGpuAutoFallsBackAndCudaExplains() {
        assumeFalse(Cuda.available(), "a usable GPU is present: " + Cuda.describe());
        String reason = Cuda.unavailableReason();
        assertNotNull(reason);
        assertTrue(Cuda.describe().startsWith("no usable CUDA GPU: "), Cuda.describe());
        try (Backend b = Backends.create("auto", 1)) {
            assertEquals("cpu", b.name());
        }
        try (Backend b = Backends.create(null, 1)) {
            assertEquals("cpu", b.name());
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cuda", 1));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertThrows(IllegalStateException.class, () -> Backends.create("CUDA:fp16", 1));
        IllegalStateException tf32 = assertThrows(IllegalStateException.class, () -> Backends.create("cuda:TF32", 1));
        assertTrue(tf32.getMessage().contains("cuda:tf32") && tf32.getMessage().contains(reason), tf32.getMessage());
        assertThrows(ArunetException.class, () -> new CudaBackend(Precision.F32, true));
        ArunetException direct = assertThrows(ArunetException.class, () -> new CudaBackend(Precision.BF16));
        assertTrue(direct.getMessage().contains(reason), direct.getMessage());
        assertEquals(false, Backends.cudaAvailable());
    }

    @Test
    void badNamesAreRejectedWhateverTheMachine() {
        assertThrows(IllegalArgumentException.class, () -> Backends.create("cuda:fp8", 1));
        assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu", 1));
    }

    @Test
    void withGpuAutoAndCudaUseIt() {
        assumeTrue(Cuda.available(), Cuda.describe());
        try (Backend b = Backends.create("auto", 1)) {
            assertEquals("cuda", b.name());
        }
        try (Backend b = Backends.create("cuda:fp16", 1)) {
            assertEquals(Precision.F16, ((CudaBackend) b).precision());
        }
        try (Backend b = Backends.create("cuda:tf32", 1)) {
            assertEquals(Precision.F32, ((CudaBackend) b).precision());
            assertTrue(((CudaBackend) b).tf32());
        }
        try (Backend b = Backends.create("cuda", 1)) {
            assertFalse(((CudaBackend) b).tf32());
        }
    }
}

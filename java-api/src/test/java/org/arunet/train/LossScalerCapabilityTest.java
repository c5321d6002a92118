package org.arunet.train;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.backend.ProfilingBackend;
import org.arunet.testing.TestBackends;
import org.junit.jupiter.api.Test;

/**
 * The loss scaler follows the backend's capability ({@link Backend#requiresLossScaling()}), not its
 * class: a decorated float16 backend still gets one, a float32 or bfloat16 one does not.
 */
class LossScalerCapabilityTest {

    @Test
    void followsTheCapabilityThroughDecorators() {
        try (Backend cpu = Backends.cpu(1)) {
            assertNull(LossScaler.forBackend(cpu));
            assertNull(LossScaler.forBackend(new ProfilingBackend(cpu)));
            Backend fp16 = TestBackends.needingLossScaling(cpu);
            assertNotNull(LossScaler.forBackend(fp16));
            assertNotNull(LossScaler.forBackend(new ProfilingBackend(fp16)));
        }
    }
}

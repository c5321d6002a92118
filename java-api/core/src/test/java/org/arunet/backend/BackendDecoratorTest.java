package org.arunet.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testing.TestBackends;
import org.junit.jupiter.api.Test;

/**
 * A decorator keeps what the backend it wraps can do: {@link ProfilingBackend} overrides every default
 * method of {@link Backend} (a default it inherited would answer for the decorator, not for the inner
 * backend, and silently lose a fast path or a capability such as loss scaling), and forwards the
 * training capabilities.
 */
class BackendDecoratorTest {

    @Test
    void profilingBackendOverridesEveryDefaultMethod() throws NoSuchMethodException {
        List<String> inherited = new ArrayList<>();
        for (Method m : Backend.class.getMethods()) {
            if (m.isDefault()
                    && ProfilingBackend.class
                                    .getMethod(m.getName(), m.getParameterTypes())
                                    .getDeclaringClass()
                            != ProfilingBackend.class) {
                inherited.add(m.getName());
            }
        }
        assertTrue(inherited.isEmpty(), "ProfilingBackend does not forward " + inherited);
    }

    @Test
    void capabilitiesAreForwarded() {
        try (ReferenceBackend ref = new ReferenceBackend()) {
            assertFalse(new ProfilingBackend(ref).requiresLossScaling());
            assertTrue(new ProfilingBackend(TestBackends.needingLossScaling(ref)).requiresLossScaling());
        }
    }

    @Test
    void scaleAndSumSquaresDefaultScalesThenSumsEachTensor() {
        try (ReferenceBackend ref = new ReferenceBackend();
                Tensor a = ref.allocate(DType.F32, Layout.PLAIN, 3);
                Tensor b = ref.allocate(DType.F32, Layout.PLAIN, 2)) {
            a.copyFrom(new float[] {1, 2, 3});
            b.copyFrom(new float[] {-4, 0.5f});
            ProfilingBackend profiled = new ProfilingBackend(ref);
            assertArrayEquals(new double[] {14, 16.25}, profiled.scaleAndSumSquares(List.of(a, b), 1f));
            assertArrayEquals(new double[] {56, 65}, profiled.scaleAndSumSquares(List.of(a, b), 2f));
            assertArrayEquals(new float[] {2, 4, 6}, a.toFloatArray());
            assertEquals(2, profiled.times().get("scaleAndSumSquares")[1]);
        }
    }
}

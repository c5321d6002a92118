package org.arunet.testing;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** {@link TensorAssert} passes what is within tolerance and fails, with a useful message, what is not. */
class TensorAssertTest {
    @Test
    void elementwiseToleranceIsAtolPlusRtolTimesExpected() {
        TensorAssert.assertClose("within", new double[] {1.0, 100.0}, new double[] {1.0 + 0.9e-3, 100.1}, 1e-3, 1e-3);
        AssertionError e = assertThrows(
                AssertionError.class,
                () -> TensorAssert.assertClose(
                        "beyond", new double[] {1.0, 2.0, 3.0}, new double[] {1.0, 2.0 + 2.1e-3, 3.0}, 1e-3, 0));
        String m = e.getMessage();
        assertTrue(m.startsWith("beyond: 1 of 3 values differ"), m);
        assertTrue(m.contains("[0] 1.00000000 1.00000000 OK"), m);
        assertTrue(m.contains("[1] 2.00000000 2.00210000 NOT OK"), m);
        assertTrue(m.contains("maxdiff 0.00210000 at [1]"), m);
    }

    @Test
    void nanOnlyMatchesNan() {
        TensorAssert.assertClose(
                "both NaN",
                new double[] {Double.NaN, Double.POSITIVE_INFINITY},
                new double[] {Double.NaN, Double.POSITIVE_INFINITY},
                0,
                0);
        AssertionError e = assertThrows(
                AssertionError.class,
                () -> TensorAssert.assertClose(
                        "one NaN", new double[] {1, 5, Double.NaN}, new double[] {1, 5.5, 0}, 1, 0));
        assertTrue(e.getMessage().contains("1 of 3") && e.getMessage().contains("at [2]"), e.getMessage());
        assertThrows(
                AssertionError.class,
                () -> TensorAssert.assertClose(
                        "opposite infinities",
                        new double[] {Double.NEGATIVE_INFINITY},
                        new double[] {Double.POSITIVE_INFINITY},
                        1,
                        1));
        assertThrows(
                AssertionError.class,
                () -> TensorAssert.assertClose(
                        "finite vs infinite", new double[] {1e30}, new double[] {Double.POSITIVE_INFINITY}, 1, 1));
    }

    @Test
    void lengthsAndShapesMustMatch() {
        assertThrows(AssertionError.class, () -> TensorAssert.assertClose("length", new float[2], new float[3], 1, 1));
        try (Tensor a = Tensor.of(new float[4], Layout.PLAIN, 2, 2);
                Tensor b = Tensor.of(new float[4], Layout.PLAIN, 4)) {
            assertThrows(AssertionError.class, () -> TensorAssert.assertClose("shape", a, b, 1, 1));
            assertThrows(AssertionError.class, () -> TensorAssert.assertCloseNorm("shape", a, b, 1));
        }
    }

    @Test
    void normwiseComparison() {
        // ||a - b|| / ||b|| = 0.05 / 5 = 0.01 for b = (3, 4)
        TensorAssert.assertCloseNorm("1 %", new double[] {3.03, 4.04}, new double[] {3, 4}, 0.0101);
        AssertionError e = assertThrows(
                AssertionError.class,
                () -> TensorAssert.assertCloseNorm(
                        "1 % > 0.5 %", new double[] {3.03, 4.04}, new double[] {3, 4}, 0.005));
        assertTrue(e.getMessage().contains("relative error"), e.getMessage());
        TensorAssert.assertCloseNorm("zero reference", new double[] {1e-9, 0}, new double[] {0, 0}, 1e-8);
        assertThrows(
                AssertionError.class,
                () -> TensorAssert.assertCloseNorm("NaN", new double[] {Double.NaN}, new double[] {1}, 1));
    }
}

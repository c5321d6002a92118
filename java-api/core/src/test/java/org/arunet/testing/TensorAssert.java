package org.arunet.testing;

import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.Assertions;

/**
 * Numerical comparisons for tests, in the style of llm.c's {@code check_tensor}: on failure the message
 * lists the first 5 pairs (and the first 5 failing pairs) as {@code OK} / {@code NOT OK}, the number of
 * failures and the largest difference with its index.
 *
 * <p>Element-wise: {@code |actual - expected| <= atol + rtol |expected|}; equal values (also two NaNs or
 * two equal infinities) always pass, any other NaN or infinity fails. Norm-wise: {@code ||a - b|| / ||b|| <= rtol}
 * (2-norms; when {@code ||b|| = 0} the absolute {@code ||a||} is compared with rtol).
 */
public final class TensorAssert {
    private static final int SHOWN = 5;

    private TensorAssert() {}

    /** Element-wise comparison of two double arrays of the same length. */
    public static void assertClose(String label, double[] actual, double[] expected, double atol, double rtol) {
        if (actual.length != expected.length) {
            Assertions.fail(label + ": length " + actual.length + " != expected " + expected.length);
        }
        int bad = 0;
        int worst = 0;
        double maxDiff = -1;
        StringBuilder firstBad = new StringBuilder();
        for (int i = 0; i < actual.length; i++) {
            boolean ok = close(actual[i], expected[i], atol, rtol);
            double diff = Math.abs(actual[i] - expected[i]);
            if (Double.isNaN(diff)) {
                diff = ok ? 0 : Double.POSITIVE_INFINITY; // two NaNs match; one NaN is the worst mismatch
            }
            if (!ok) {
                if (bad < SHOWN) {
                    firstBad.append(pair(i, actual[i], expected[i], false));
                }
                bad++;
            }
            if (diff > maxDiff) {
                maxDiff = diff;
                worst = i;
            }
        }
        if (bad == 0) {
            return;
        }
        StringBuilder msg = new StringBuilder();
        msg.append(label)
                .append(": ")
                .append(bad)
                .append(" of ")
                .append(actual.length)
                .append(" values differ (atol ")
                .append(atol)
                .append(", rtol ")
                .append(rtol)
                .append(")\n");
        msg.append("first pairs (actual, expected):\n");
        for (int i = 0; i < Math.min(SHOWN, actual.length); i++) {
            msg.append(pair(i, actual[i], expected[i], close(actual[i], expected[i], atol, rtol)));
        }
        msg.append("first mismatches:\n").append(firstBad);
        msg.append(String.format(
                "maxdiff %.6g at [%d]: %s vs %s",
                Math.abs(actual[worst] - expected[worst]), worst, actual[worst], expected[worst]));
        Assertions.fail(msg.toString());
    }

    /** Element-wise comparison of two float arrays. */
    public static void assertClose(String label, float[] actual, float[] expected, double atol, double rtol) {
        assertClose(label, widen(actual), widen(expected), atol, rtol);
    }

    /** Element-wise comparison of an F32 tensor with expected values. */
    public static void assertClose(String label, Tensor actual, float[] expected, double atol, double rtol) {
        assertClose(label, widen(actual.toFloatArray()), widen(expected), atol, rtol);
    }

    /** Element-wise comparison of an F32 tensor with expected double values. */
    public static void assertClose(String label, Tensor actual, double[] expected, double atol, double rtol) {
        assertClose(label, widen(actual.toFloatArray()), expected, atol, rtol);
    }

    /** Element-wise comparison of two F32 tensors of the same shape. */
    public static void assertClose(String label, Tensor actual, Tensor expected, double atol, double rtol) {
        if (!actual.sameShape(expected)) {
            Assertions.fail(label + ": shape " + actual.describe() + " != expected " + expected.describe());
        }
        assertClose(label, actual.toFloatArray(), expected.toFloatArray(), atol, rtol);
    }

    /** {@code ||actual - expected|| <= rtol ||expected||} in the 2-norm. */
    public static void assertCloseNorm(String label, double[] actual, double[] expected, double rtol) {
        assertCloseNorm(label, actual, expected, rtol, 0);
    }

    /**
     * {@code ||actual - expected|| <= rtol max(||expected||, floor)}: the floor serves gradients that are
     * zero in exact arithmetic (a bias feeding a BatchNorm), where both sides hold only rounding noise.
     */
    public static void assertCloseNorm(String label, float[] actual, float[] expected, double rtol, double floor) {
        assertCloseNorm(label, widen(actual), widen(expected), rtol, floor);
    }

    /** See {@link #assertCloseNorm(String, float[], float[], double, double)}. */
    public static void assertCloseNorm(String label, double[] actual, double[] expected, double rtol, double floor) {
        if (actual.length != expected.length) {
            Assertions.fail(label + ": length " + actual.length + " != expected " + expected.length);
        }
        double diff = 0;
        double ref = 0;
        double act = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = actual[i] - expected[i];
            diff += d * d;
            ref += expected[i] * expected[i];
            act += actual[i] * actual[i];
        }
        diff = Math.sqrt(diff);
        ref = Math.sqrt(ref);
        double denom = Math.max(ref, floor);
        double rel = denom == 0 ? Math.sqrt(act) : diff / denom;
        if (!(rel <= rtol)) {
            StringBuilder msg = new StringBuilder();
            msg.append(label)
                    .append(": relative error ||a - b|| / ||b|| = ")
                    .append(rel)
                    .append(" > ")
                    .append(rtol)
                    .append(" (||a - b|| = ")
                    .append(diff)
                    .append(", ||b|| = ")
                    .append(ref)
                    .append(")\n");
            msg.append("first pairs (actual, expected):\n");
            for (int i = 0; i < Math.min(SHOWN, actual.length); i++) {
                msg.append(pair(i, actual[i], expected[i], actual[i] == expected[i]));
            }
            Assertions.fail(msg.toString());
        }
    }

    /** Norm-wise comparison of two float arrays. */
    public static void assertCloseNorm(String label, float[] actual, float[] expected, double rtol) {
        assertCloseNorm(label, widen(actual), widen(expected), rtol);
    }

    /** Norm-wise comparison of two F32 tensors of the same shape. */
    public static void assertCloseNorm(String label, Tensor actual, Tensor expected, double rtol) {
        if (!actual.sameShape(expected)) {
            Assertions.fail(label + ": shape " + actual.describe() + " != expected " + expected.describe());
        }
        assertCloseNorm(label, actual.toFloatArray(), expected.toFloatArray(), rtol);
    }

    private static boolean close(double a, double b, double atol, double rtol) {
        if (a == b || (Double.isNaN(a) && Double.isNaN(b))) {
            return true;
        }
        if (Double.isInfinite(a) || Double.isInfinite(b)) {
            return false; // unequal, and an infinite expected value must not make the tolerance infinite
        }
        return Math.abs(a - b) <= atol + rtol * Math.abs(b);
    }

    private static String pair(int i, double a, double b, boolean ok) {
        return String.format("  [%d] %.9g %.9g %s%n", i, a, b, ok ? "OK" : "NOT OK");
    }

    private static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}

package org.arunet.backend.reference;

import java.util.LinkedHashSet;
import java.util.Random;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.arunet.testing.TensorAssert;

/**
 * Central finite differences in double precision. For a function {@code f: R^n -> R^m}, an upstream
 * gradient {@code g} (R^m) and an analytic gradient {@code a = d<g, f(x)>/dx}, checks for each chosen
 * coordinate i that
 * {@code sum_j g_j (f(x + h e_i)_j - f(x - h e_i)_j) / 2h} matches {@code a_i} within
 * {@code atol + rtol |a_i|}, where {@code atol = rtol * max_i |a_i|} (a gradient component much smaller
 * than the largest is compared absolutely).
 */
final class GradCheck {
    /** The finite-difference step. */
    static final double H = 1e-6;
    /** Default relative tolerance. */
    static final double RTOL = 1e-6;

    private GradCheck() {}

    /**
     * Checks all coordinates when there are at most {@code maxCoords}, else the first, the last and a
     * seeded random sample of the rest.
     */
    static void check(
            String label,
            double[] x,
            UnaryOperator<double[]> f,
            double[] g,
            double[] analytic,
            int maxCoords,
            double rtol) {
        if (analytic.length != x.length) {
            throw new AssertionError(
                    label + ": analytic gradient has " + analytic.length + " values for " + x.length + " inputs");
        }
        int[] coords = coordinates(x.length, maxCoords, label.hashCode());
        double[] numeric = new double[coords.length];
        double[] expected = new double[coords.length];
        double scale = 0;
        for (double v : analytic) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int k = 0; k < coords.length; k++) {
            int i = coords[k];
            double[] xp = x.clone();
            double[] xm = x.clone();
            xp[i] += H;
            xm[i] -= H;
            double step = xp[i] - xm[i]; // the step actually taken, after rounding
            double[] fp = f.apply(xp);
            double[] fm = f.apply(xm);
            double s = 0;
            for (int j = 0; j < g.length; j++) {
                s += g[j] * (fp[j] - fm[j]);
            }
            numeric[k] = s / step;
            expected[k] = analytic[i];
        }
        // A gradient that is zero everywhere is checked with a small absolute tolerance.
        double atol = rtol * Math.max(scale, 1e-3);
        TensorAssert.assertClose(
                label + " (finite differences at " + coords.length + " of " + x.length + " coordinates)",
                numeric,
                expected,
                atol,
                rtol);
    }

    /** Checks every coordinate. */
    static void check(String label, double[] x, UnaryOperator<double[]> f, double[] g, double[] analytic) {
        check(label, x, f, g, analytic, Integer.MAX_VALUE, RTOL);
    }

    private static int[] coordinates(int n, int max, long seed) {
        Set<Integer> chosen = new LinkedHashSet<>();
        if (n <= max) {
            for (int i = 0; i < n; i++) {
                chosen.add(i);
            }
        } else {
            chosen.add(0);
            chosen.add(n - 1);
            Random r = new Random(seed);
            while (chosen.size() < max) {
                chosen.add(r.nextInt(n));
            }
        }
        return chosen.stream().mapToInt(Integer::intValue).toArray();
    }
}

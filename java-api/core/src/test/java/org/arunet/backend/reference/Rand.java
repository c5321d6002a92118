package org.arunet.backend.reference;

import java.util.Random;

/** Seeded random test data. */
final class Rand {
    private final Random random;

    Rand(long seed) {
        random = new Random(seed);
    }

    /** Uniform in [lo, hi). */
    double[] uniform(int n, double lo, double hi) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = lo + (hi - lo) * random.nextDouble();
        }
        return a;
    }

    /** Uniform in [-1, 1). */
    double[] uniform(int n) {
        return uniform(n, -1, 1);
    }

    /** Uniform values rounded to float, so that F32 tensors hold them exactly. */
    float[] floats(int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (lo + (hi - lo) * random.nextDouble());
        }
        return a;
    }

    /**
     * n distinct values, a random permutation of {@code -1 + 2 k / n} plus a small jitter: any two differ
     * by more than {@code 1 / n}, so finite-difference steps never reorder them (no near-ties for max).
     */
    double[] distinct(int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = -1 + 2.0 * i / n + 0.2 / n * random.nextDouble();
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    int nextInt(int bound) {
        return random.nextInt(bound);
    }

    static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}

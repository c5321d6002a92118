package org.arunet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/** Test helpers: tensors that close with the test, and comparisons that print the first mismatches. */
final class TestTensors implements AutoCloseable {
    private final List<Tensor> owned = new ArrayList<>();

    Tensor keep(Tensor t) {
        owned.add(t);
        return t;
    }

    Tensor nhwc(float[] data, int n, int h, int w, int c) {
        return keep(Tensor.of(data, Layout.NHWC, n, h, w, c));
    }

    Tensor nhwc(int n, int h, int w, int c) {
        return keep(Tensor.host(DType.F32, Layout.NHWC, n, h, w, c));
    }

    Tensor plain(float... data) {
        return keep(Tensor.of(data, Layout.PLAIN, data.length));
    }

    Tensor plain(float[] data, int... shape) {
        return keep(Tensor.of(data, Layout.PLAIN, shape));
    }

    Tensor zeros(Layout layout, int... shape) {
        return keep(Tensor.host(DType.F32, layout, shape));
    }

    Tensor ints(int[] data, int... shape) {
        return keep(Tensor.ofInts(data, shape));
    }

    Tensor random(Random rnd, Layout layout, int... shape) {
        Tensor t = zeros(layout, shape);
        float[] a = new float[(int) t.numel()];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        t.copyFrom(a);
        return t;
    }

    Tensor oihw(float[] data, int o, int i, int kh, int kw) {
        return keep(Tensor.of(data, Layout.OIHW, o, i, kh, kw));
    }

    @Override
    public void close() {
        for (Tensor t : owned) {
            t.close();
        }
        owned.clear();
    }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    static float[] iota(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = i + 1;
        }
        return a;
    }

    /** Element-wise |a - e| <= atol + rtol |e|; reports the first five failures and the max difference. */
    static void assertClose(String label, float[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, label + ": length");
        StringBuilder bad = new StringBuilder();
        int failures = 0;
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            double d = Math.abs(a - e);
            boolean ok = d <= atol + rtol * Math.abs(e) || (Double.isNaN(e) && Double.isNaN(a)) || a == e;
            if (!ok) {
                if (failures < 5) {
                    bad.append(String.format("  [%d] expected %.9g got %.9g (diff %.3g)%n", i, e, a, d));
                }
                failures++;
            }
            if (!Double.isNaN(d)) {
                maxDiff = Math.max(maxDiff, d);
            }
        }
        if (failures > 0) {
            fail(String.format(
                    "%s: %d of %d elements differ (atol %.1g, rtol %.1g), max diff %.3g%n%s",
                    label, failures, expected.length, atol, rtol, maxDiff, bad));
        }
    }

    static void assertClose(String label, float[] expected, float[] actual) {
        assertClose(label, expected, actual, 1e-5, 1e-5);
    }
}

package org.arunet.backend.cpu;

import static org.arunet.backend.cpu.TestTensors.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.arunet.backend.Activation;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Batch normalisation on x = [1, 2, 3, 4] (one channel, four pixels): mean 2.5, biased variance
 * 1.25, unbiased 5/3; gamma 2, beta 1, eps 0, momentum 0.1.
 */
class CpuBatchNormTest {
    private static final double INVSTD = 1 / Math.sqrt(1.25);
    private CpuBackend be;
    private TestTensors t;

    @BeforeEach
    void open() {
        be = new CpuBackend(2);
        t = new TestTensors();
    }

    @AfterEach
    void close() {
        t.close();
        be.close();
    }

    private static float[] f(double... v) {
        float[] a = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            a[i] = (float) v[i];
        }
        return a;
    }

    @Test
    void trainingForwardOfAKnownVector() {
        Tensor x = t.nhwc(new float[] {1, 2, 3, 4}, 4, 1, 1, 1);
        Tensor gamma = t.plain(2);
        Tensor beta = t.plain(1);
        Tensor rm = t.plain(0);
        Tensor rv = t.plain(1);
        Tensor sm = t.plain(-9);
        Tensor si = t.plain(-9);
        Tensor y = t.nhwc(4, 1, 1, 1);
        be.batchNormForward(x, gamma, beta, rm, rv, sm, si, y, true, 0.1f, 0f, Activation.NONE);
        assertClose("y", f(1 - 3 * INVSTD, 1 - INVSTD, 1 + INVSTD, 1 + 3 * INVSTD), y.toFloatArray(), 1e-6, 1e-6);
        assertClose("saveMean", f(2.5), sm.toFloatArray());
        assertClose("saveInvStd", f(INVSTD), si.toFloatArray(), 1e-7, 1e-6);
        assertClose("runningMean", f(0.25), rm.toFloatArray(), 1e-7, 1e-6);
        assertClose("runningVar (unbiased)", f(0.9 + 0.1 * 5.0 / 3.0), rv.toFloatArray(), 1e-7, 1e-6);

        be.batchNormForward(x, gamma, beta, t.plain(0), t.plain(1), sm, si, y, true, 0.1f, 0f, Activation.RELU);
        assertClose("y relu", f(0, 1 - INVSTD, 1 + INVSTD, 1 + 3 * INVSTD), y.toFloatArray(), 1e-6, 1e-6);
    }

    @Test
    void inferenceUsesRunningStatistics() {
        Tensor x = t.nhwc(new float[] {1, 2, 3, 4, -1, 0, 5, 6}, 2, 1, 2, 2);
        Tensor gamma = t.plain(2, -1);
        Tensor beta = t.plain(1, 0.5f);
        Tensor rm = t.plain(0.25f, 1);
        Tensor rv = t.plain(4, 0.25f);
        Tensor y = t.nhwc(2, 1, 2, 2);
        be.batchNormForward(x, gamma, beta, rm, rv, null, null, y, false, 0.1f, 0f, Activation.NONE);
        float[] xs = x.toFloatArray();
        float[] e = new float[8];
        for (int i = 0; i < 8; i++) {
            e[i] = i % 2 == 0 ? (float) (2 * (xs[i] - 0.25) / 2 + 1) : (float) (-(xs[i] - 1) / 0.5 + 0.5);
        }
        assertClose("y", e, y.toFloatArray(), 1e-6, 1e-6);
        assertArrayEquals(new float[] {0.25f, 1}, rm.toFloatArray(), "running stats untouched in inference");
        assertArrayEquals(new float[] {4, 0.25f}, rv.toFloatArray());
    }

    @Test
    void backwardOfAKnownVector() {
        Tensor x = t.nhwc(new float[] {1, 2, 3, 4}, 4, 1, 1, 1);
        Tensor gamma = t.plain(2);
        Tensor sm = t.plain(2.5f);
        Tensor si = t.plain((float) INVSTD);
        Tensor dx = t.nhwc(4, 1, 1, 1);
        Tensor dg = t.plain(7);
        Tensor db = t.plain(7);
        // dy = e0: dbeta = 1, dgamma = xhat0, dx = gamma invstd (dy - 1/4 - xhat xhat0 / 4)
        be.batchNormBackward(
                t.nhwc(new float[] {1, 0, 0, 0}, 4, 1, 1, 1), x, null, gamma, sm, si, dx, dg, db, Activation.NONE);
        double a = 2 * INVSTD;
        assertClose("dx", f(a * 0.3, -a * 0.4, -a * 0.1, a * 0.2), dx.toFloatArray(), 1e-6, 1e-5);
        assertClose("dgamma", f(-1.5 * INVSTD), dg.toFloatArray(), 1e-6, 1e-6);
        assertClose("dbeta", f(1), db.toFloatArray());

        // fused ReLU: y = relu(bn(x)) is 0 at the first pixel, so dy = 1 is masked there
        Tensor y = t.nhwc(4, 1, 1, 1);
        be.batchNormForward(
                x,
                gamma,
                t.plain(1),
                t.plain(0),
                t.plain(1),
                t.plain(0),
                t.plain(0),
                y,
                true,
                0.1f,
                0f,
                Activation.RELU);
        assertEquals(0f, y.toFloatArray()[0]);
        be.batchNormBackward(
                t.nhwc(new float[] {1, 1, 1, 1}, 4, 1, 1, 1), x, y, gamma, sm, si, dx, dg, db, Activation.RELU);
        assertClose("dx relu", f(-a * 0.3, a * 0.4, a * 0.1, -a * 0.2), dx.toFloatArray(), 1e-6, 1e-5);
        assertClose("dgamma relu", f(1.5 * INVSTD), dg.toFloatArray(), 1e-6, 1e-6);
        assertClose("dbeta relu", f(3), db.toFloatArray());
    }

    @Test
    void statisticsStayAccurateOverHalfAMillionValuesWithALargeMean() {
        int n = 2;
        int h = 512;
        int w = 512;
        int c = 3; // 524288 values per channel, mean 1000, std 0.01 .. 1
        Random rnd = new Random(42);
        float[] xs = new float[n * h * w * c];
        double[] std = {0.01, 0.1, 1};
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) (1000 + std[i % c] * rnd.nextGaussian());
        }
        double[] mean = new double[c];
        double[] var = new double[c];
        int m = n * h * w;
        for (int i = 0; i < xs.length; i++) {
            mean[i % c] += xs[i];
        }
        for (int k = 0; k < c; k++) {
            mean[k] /= m;
        }
        for (int i = 0; i < xs.length; i++) {
            double d = xs[i] - mean[i % c];
            var[i % c] += d * d;
        }
        Tensor x = t.nhwc(xs, n, h, w, c);
        Tensor sm = t.zeros(Layout.PLAIN, c);
        Tensor si = t.zeros(Layout.PLAIN, c);
        Tensor rv = t.zeros(Layout.PLAIN, c);
        Tensor y = t.nhwc(n, h, w, c);
        float[] ones = {1, 1, 1};
        be.batchNormForward(
                x,
                t.plain(ones),
                t.zeros(Layout.PLAIN, c),
                t.zeros(Layout.PLAIN, c),
                rv,
                sm,
                si,
                y,
                true,
                1f,
                0f,
                Activation.NONE);
        for (int k = 0; k < c; k++) {
            double biased = var[k] / m;
            assertEquals(mean[k], sm.toFloatArray()[k], 1e-7 * Math.abs(mean[k]) + 1e-6, "mean " + k);
            assertEquals(1 / Math.sqrt(biased), si.toFloatArray()[k], 1e-5 / Math.sqrt(biased), "invstd " + k);
            assertEquals(var[k] / (m - 1), rv.toFloatArray()[k], 1e-5 * var[k] / (m - 1), "running var " + k);
        }
        // normalised output: mean 0, variance 1 per channel
        float[] ys = y.toFloatArray();
        for (int k = 0; k < c; k++) {
            double s = 0;
            double q = 0;
            for (int i = k; i < ys.length; i += c) {
                s += ys[i];
                q += (double) ys[i] * ys[i];
            }
            assertEquals(0, s / m, 1e-5, "normalised mean " + k);
            assertEquals(1, q / m, 1e-4, "normalised variance " + k);
        }
    }

    @Test
    void argumentsAreChecked() {
        Tensor x = t.nhwc(2, 2, 2, 3);
        Tensor c3 = t.zeros(Layout.PLAIN, 3);
        Tensor c2 = t.zeros(Layout.PLAIN, 2);
        Tensor y = t.nhwc(2, 2, 2, 3);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> be.batchNormForward(x, c2, c3, c3, c3, c3, c3, y, true, 0.1f, 1e-5f, Activation.NONE));
        assertEquals(true, e.getMessage().startsWith("batchNormForward"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> be.batchNormForward(x, c3, c3, c3, c3, null, c3, y, true, 0.1f, 1e-5f, Activation.NONE));
        assertThrows(
                IllegalArgumentException.class,
                () -> be.batchNormForward(x, c3, c3, c3, c3, c3, c3, y, true, 0.1f, 1e-5f, Activation.GELU));
        assertThrows(
                IllegalArgumentException.class,
                () -> be.batchNormForward(
                        t.nhwc(1, 1, 1, 3),
                        c3,
                        c3,
                        c3,
                        c3,
                        c3,
                        c3,
                        t.nhwc(1, 1, 1, 3),
                        true,
                        0.1f,
                        1e-5f,
                        Activation.NONE),
                "one value per channel");
        assertThrows(
                IllegalArgumentException.class,
                () -> be.batchNormForward(x, c3, c3, c3, c3, c3, c3, x, true, 0.1f, 1e-5f, Activation.NONE),
                "y = x");
        assertThrows(
                IllegalArgumentException.class,
                () -> be.batchNormBackward(
                        y,
                        x,
                        null,
                        c3,
                        c3,
                        c3,
                        t.nhwc(2, 2, 2, 3),
                        t.zeros(Layout.PLAIN, 3),
                        t.zeros(Layout.PLAIN, 3),
                        Activation.RELU),
                "ReLU needs y");
    }
}

package org.arunet.backend.cpu;

import static org.arunet.backend.cpu.TestTensors.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Softmax, the cross-entropy + Dice loss and its gradient, and Adam. */
class CpuLossAdamTest {
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

    @Test
    void softmaxOverChannels() {
        Tensor logits = t.nhwc(new float[] {0, (float) Math.log(3), 1000, 1000}, 1, 1, 2, 2);
        Tensor p = t.nhwc(1, 1, 2, 2);
        be.softmax(logits, p);
        assertClose("softmax", new float[] {0.25f, 0.75f, 0.5f, 0.5f}, p.toFloatArray(), 1e-7, 1e-6);
    }

    @Test
    void lossOfTwoPixels() {
        // pixel 0: z = (0, 0), target 0 -> p = (.5, .5); pixel 1: z = (0, ln 3), target 1 -> p = (.25, .75)
        Tensor logits = t.nhwc(new float[] {0, 0, 0, (float) Math.log(3)}, 1, 1, 2, 2);
        Tensor target = t.ints(new int[] {0, 1}, 1, 1, 2);
        double ce = (Math.log(2) - Math.log(0.75)) / 2;
        // I = (.5, .75), P = (.75, 1.25), T = (1, 1), smooth 0: D = (1 / 1.75, 1.5 / 2.25)
        double dice = 1 - (1 / 1.75 + 1.5 / 2.25) / 2;
        assertEquals(ce + dice, be.crossEntropyDiceLoss(logits, target, null, 1f, 1f, 0f), 1e-6);
        assertEquals(0.5 * ce + 2 * dice, be.crossEntropyDiceLoss(logits, target, null, 0.5f, 2f, 0f), 1e-6);
        // smooth: D_k = (2 I + s) / (P + T + s)
        double s = 0.1;
        double diceS = 1 - ((1 + s) / (1.75 + s) + (1.5 + s) / (2.25 + s)) / 2;
        assertEquals(ce + diceS, be.crossEntropyDiceLoss(logits, target, null, 1f, 1f, (float) s), 1e-6);
    }

    @Test
    void focalTverskyOfTwoPixels() {
        // p = (.5, .5) target 0 and (.25, .75) target 1: TP = (.5, .75), FN = T - TP = (.5, .25),
        // FP = P - TP = (.25, .5); alpha .7, beta .3, smooth 0
        Tensor logits = t.nhwc(new float[] {0, 0, 0, (float) Math.log(3)}, 1, 1, 2, 2);
        Tensor target = t.ints(new int[] {0, 1}, 1, 1, 2);
        double ti0 = 0.5 / (0.5 + 0.7 * 0.5 + 0.3 * 0.25);
        double ti1 = 0.75 / (0.75 + 0.7 * 0.25 + 0.3 * 0.5);
        assertEquals(((1 - ti0) + (1 - ti1)) / 2, be.focalTverskyLoss(logits, target, null, 0.7f, 0.3f, 1f, 0f), 1e-6);
        assertEquals(
                (Math.pow(1 - ti0, 0.75) + Math.pow(1 - ti1, 0.75)) / 2,
                be.focalTverskyLoss(logits, target, null, 0.7f, 0.3f, 0.75f, 0f),
                1e-6);
        assertThrows(
                IllegalArgumentException.class,
                () -> be.focalTverskyLoss(logits, t.ints(new int[] {0, 3}, 1, 1, 2), null, 0.7f, 0.3f, 1f, 0f));
    }

    @Test
    void focalTverskyGradientMatchesFiniteDifferences() {
        Random rnd = new Random(8);
        float[] z = new float[2 * 4 * 3 * 3];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) rnd.nextGaussian();
        }
        int[] tg = new int[2 * 4 * 3];
        for (int i = 0; i < tg.length; i++) {
            tg[i] = rnd.nextInt(3);
        }
        Tensor logits = t.nhwc(z, 2, 4, 3, 3);
        Tensor target = t.ints(tg, 2, 4, 3);
        Tensor grad = t.nhwc(2, 4, 3, 3);
        for (float gamma : new float[] {0.75f, 1f, 4f / 3}) {
            be.focalTverskyLoss(logits, target, grad, 0.7f, 0.3f, gamma, 1e-5f);
            float[] fd = new float[z.length];
            for (int i = 0; i < z.length; i++) {
                float[] zp = z.clone();
                zp[i] = z[i] + 1e-2f;
                logits.copyFrom(zp);
                double lp = be.focalTverskyLoss(logits, target, null, 0.7f, 0.3f, gamma, 1e-5f);
                zp[i] = z[i] - 1e-2f;
                logits.copyFrom(zp);
                double lm = be.focalTverskyLoss(logits, target, null, 0.7f, 0.3f, gamma, 1e-5f);
                fd[i] = (float) ((lp - lm) / ((double) (z[i] + 1e-2f) - (z[i] - 1e-2f)));
            }
            logits.copyFrom(z);
            assertClose("focal Tversky gradient, gamma " + gamma, fd, grad.toFloatArray(), 2e-4, 2e-3);
        }
    }

    /**
     * The focal Tversky loss and its gradient in double precision, written from the formula (the
     * reference backend gains this op on main only): {loss, dLogits...}.
     */
    private static double[] focalTverskyOracle(
            float[] z, int[] tg, int k, double alpha, double beta, double gamma, double smooth) {
        int pixels = tg.length;
        double[] p = new double[z.length];
        double[] tp = new double[k];
        double[] ps = new double[k];
        double[] ts = new double[k];
        for (int q = 0; q < pixels; q++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                m = Math.max(m, z[q * k + j]);
            }
            double sum = 0;
            for (int j = 0; j < k; j++) {
                p[q * k + j] = Math.exp(z[q * k + j] - m);
                sum += p[q * k + j];
            }
            for (int j = 0; j < k; j++) {
                p[q * k + j] /= sum;
                ps[j] += p[q * k + j];
            }
            tp[tg[q]] += p[q * k + tg[q]];
            ts[tg[q]] += 1;
        }
        double[] out = new double[1 + z.length];
        double[] a = new double[k];
        double[] d = new double[k];
        double[] dl = new double[k];
        for (int j = 0; j < k; j++) {
            a[j] = tp[j] + smooth;
            d[j] = tp[j] + alpha * (ts[j] - tp[j]) + beta * (ps[j] - tp[j]) + smooth;
            double ti = a[j] / d[j];
            out[0] += Math.pow(1 - ti, gamma) / k;
            dl[j] = -(gamma / k) * Math.pow(Math.max(1 - ti, 1e-12), gamma - 1);
        }
        double[] g = new double[k];
        for (int q = 0; q < pixels; q++) {
            double pg = 0;
            for (int j = 0; j < k; j++) {
                double t = tg[q] == j ? 1 : 0;
                g[j] = dl[j] * (t * d[j] - a[j] * (t * (1 - alpha - beta) + beta)) / (d[j] * d[j]);
                pg += p[q * k + j] * g[j];
            }
            for (int j = 0; j < k; j++) {
                out[1 + q * k + j] = p[q * k + j] * (g[j] - pg);
            }
        }
        return out;
    }

    @Test
    void focalTverskyMatchesADoublePrecisionOracleOnOddShapes() {
        Random rnd = new Random(12);
        int[][] shapes = {{1, 7, 5, 2}, {2, 13, 11, 3}, {1, 1, 1, 2}, {2, 32, 32, 2}, {1, 9, 4, 6}};
        for (int[] s : shapes) {
            int pixels = s[0] * s[1] * s[2];
            float[] z = new float[pixels * s[3]];
            for (int i = 0; i < z.length; i++) {
                z[i] = (float) (2 * rnd.nextGaussian());
            }
            int[] tg = new int[pixels];
            for (int i = 0; i < pixels; i++) {
                tg[i] = rnd.nextInt(s[3]);
            }
            Tensor logits = t.nhwc(z, s[0], s[1], s[2], s[3]);
            Tensor target = t.ints(tg, s[0], s[1], s[2]);
            Tensor grad = t.nhwc(s[0], s[1], s[2], s[3]);
            for (double[] abgs : new double[][] {{0.7, 0.3, 0.75, 1e-5}, {0.5, 0.5, 1, 1}, {0.3, 0.7, 4.0 / 3, 0}}) {
                double[] e = focalTverskyOracle(
                        z, tg, s[3], (float) abgs[0], (float) abgs[1], (float) abgs[2], (float) abgs[3]);
                double loss = be.focalTverskyLoss(
                        logits, target, grad, (float) abgs[0], (float) abgs[1], (float) abgs[2], (float) abgs[3]);
                String what = "focal Tversky " + java.util.Arrays.toString(s) + " " + java.util.Arrays.toString(abgs);
                assertEquals(e[0], loss, 1e-6 + 1e-6 * Math.abs(e[0]), what);
                assertEquals(
                        loss,
                        be.focalTverskyLoss(
                                logits, target, null, (float) abgs[0], (float) abgs[1], (float) abgs[2], (float)
                                        abgs[3]),
                        1e-12,
                        what + " without gradient");
                float[] eg = new float[z.length];
                for (int i = 0; i < z.length; i++) {
                    eg[i] = (float) e[1 + i];
                }
                // the gradient of a batch-pooled ratio is O(1 / pixels): compare relative to that scale
                assertClose(what + " dLogits", eg, grad.toFloatArray(), 1e-5 / pixels, 1e-4);
            }
        }
    }

    @Test
    void gradientMatchesFiniteDifferencesOfTheLoss() {
        Random rnd = new Random(4);
        int n = 2;
        int h = 3;
        int w = 5;
        int k = 3;
        float[] z = new float[n * h * w * k];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) rnd.nextGaussian();
        }
        int[] tg = new int[n * h * w];
        for (int i = 0; i < tg.length; i++) {
            tg[i] = rnd.nextInt(k);
        }
        Tensor logits = t.nhwc(z, n, h, w, k);
        Tensor target = t.ints(tg, n, h, w);
        Tensor grad = t.nhwc(n, h, w, k);
        double loss = be.crossEntropyDiceLoss(logits, target, grad, 0.7f, 1.3f, 1e-5f);
        assertEquals(
                loss,
                be.crossEntropyDiceLoss(logits, target, null, 0.7f, 1.3f, 1e-5f),
                1e-12,
                "the loss does not depend on asking for the gradient");
        float[] g = grad.toFloatArray();
        float[] fd = new float[z.length];
        double hstep = 1e-2;
        for (int i = 0; i < z.length; i++) {
            float[] zp = z.clone();
            zp[i] = (float) (z[i] + hstep);
            logits.copyFrom(zp);
            double lp = be.crossEntropyDiceLoss(logits, target, null, 0.7f, 1.3f, 1e-5f);
            zp[i] = (float) (z[i] - hstep);
            logits.copyFrom(zp);
            double lm = be.crossEntropyDiceLoss(logits, target, null, 0.7f, 1.3f, 1e-5f);
            fd[i] = (float) ((lp - lm) / (2 * hstep));
        }
        assertClose("dLoss/dlogits vs central differences", fd, g, 2e-4, 2e-3);
    }

    @Test
    void invalidTargetsAreNamed() {
        Tensor logits = t.nhwc(1, 1, 3, 2);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> be.crossEntropyDiceLoss(logits, t.ints(new int[] {0, 2, 1}, 1, 1, 3), null, 1f, 1f, 1e-5f));
        assertTrue(e.getMessage().contains("target value 2") && e.getMessage().contains("index 1"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> be.crossEntropyDiceLoss(logits, t.ints(new int[] {0, 1, -100}, 1, 1, 3), null, 1f, 1f, 1e-5f));
        assertTrue(e.getMessage().contains("-100"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> be.crossEntropyDiceLoss(logits, t.plain(new float[] {0, 1, 1}, 1, 1, 3), null, 1f, 1f, 1e-5f),
                "F32 target");
    }

    @Test
    void adamTwoSteps() {
        // g = 0.5 twice, lr 0.1: the first two bias-corrected steps move by exactly lr
        Tensor p = t.plain(1, -1);
        Tensor g = t.plain(0.5f, 0.5f);
        Tensor m = t.plain(0, 0);
        Tensor v = t.plain(0, 0);
        long version = p.version();
        be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1);
        assertEquals(version + 1, p.version(), "adamStep bumps the parameter's version");
        assertClose("p after 1", new float[] {0.9f, -1.1f}, p.toFloatArray(), 1e-6, 1e-6);
        assertClose("m after 1", new float[] {0.05f, 0.05f}, m.toFloatArray(), 1e-8, 1e-6);
        float v1 = (float) ((1 - (double) 0.999f) * 0.25); // 1 - b2 of the float b2, exactly
        assertClose("v after 1", new float[] {v1, v1}, v.toFloatArray(), 1e-12, 1e-6);
        be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 2);
        assertClose("p after 2", new float[] {0.8f, -1.2f}, p.toFloatArray(), 1e-6, 1e-6);
        assertClose("m after 2", new float[] {0.095f, 0.095f}, m.toFloatArray(), 1e-8, 1e-6);

        // L2 weight decay enters the gradient: g = 0.5 + 0.5 * p
        Tensor q = t.plain(2);
        Tensor mq = t.plain(0);
        Tensor vq = t.plain(0);
        be.adamStep(q, t.plain(0.5f), mq, vq, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1);
        assertClose("m with decay", new float[] {0.15f}, mq.toFloatArray(), 1e-8, 1e-6);
        assertClose("p with decay", new float[] {1.9f}, q.toFloatArray(), 1e-6, 1e-6);
        assertThrows(
                IllegalArgumentException.class,
                () -> be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 0),
                "step starts at 1");
        assertThrows(
                IllegalArgumentException.class,
                () -> be.adamStep(p, g, m, v, 0.1f, 1f, 0.999f, 1e-8f, 0f, 1),
                "beta1 < 1");
        assertThrows(
                IllegalArgumentException.class,
                () -> be.adamStep(p, g, p, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1),
                "m = param");
        assertThrows(
                IllegalArgumentException.class,
                () -> be.adamStep(p, t.zeros(Layout.PLAIN, 3), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1));
    }
}

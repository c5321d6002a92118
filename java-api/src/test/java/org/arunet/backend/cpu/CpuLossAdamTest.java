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
        assertEquals(loss, be.crossEntropyDiceLoss(logits, target, null, 0.7f, 1.3f, 1e-5f), 1e-12,
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
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> be.crossEntropyDiceLoss(logits, t.ints(new int[] {0, 2, 1}, 1, 1, 3), null, 1f, 1f, 1e-5f));
        assertTrue(e.getMessage().contains("target value 2") && e.getMessage().contains("index 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> be.crossEntropyDiceLoss(logits, t.ints(new int[] {0, 1, -100}, 1, 1, 3), null, 1f, 1f, 1e-5f));
        assertTrue(e.getMessage().contains("-100"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
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
        assertThrows(IllegalArgumentException.class,
                () -> be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 0), "step starts at 1");
        assertThrows(IllegalArgumentException.class,
                () -> be.adamStep(p, g, m, v, 0.1f, 1f, 0.999f, 1e-8f, 0f, 1), "beta1 < 1");
        assertThrows(IllegalArgumentException.class,
                () -> be.adamStep(p, g, p, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1), "m = param");
        assertThrows(IllegalArgumentException.class,
                () -> be.adamStep(p, t.zeros(Layout.PLAIN, 3), m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1));
    }
}

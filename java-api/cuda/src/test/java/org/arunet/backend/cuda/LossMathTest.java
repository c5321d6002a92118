package org.arunet.backend.cuda;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The host half of the GPU losses ({@link LossMath}): from class sums computed here in double, the loss
 * and the gradient rebuilt from c0, c1 and the CE scale (the formula of cuda/loss.cu's k_loss_grad) must
 * equal the CPU backend's loss and dLogits.
 */
class LossMathTest {

    @Test
    void crossEntropyDiceAndFocalTverskyMatchTheCpuBackend() {
        Random r = new Random(5);
        int n = 2;
        int h = 9;
        int w = 7;
        for (int k : new int[] {2, 5}) {
            int p = n * h * w;
            float[] z = new float[p * k];
            int[] t = new int[p];
            for (int i = 0; i < z.length; i++) {
                z[i] = (float) (2 * r.nextGaussian());
            }
            for (int i = 0; i < p; i++) {
                t[i] = r.nextInt(k);
            }
            try (CpuBackend cpu = new CpuBackend(1);
                    Tensor logits = Tensor.of(z, Layout.NHWC, n, h, w, k);
                    Tensor target = Tensor.ofInts(t, n, h, w);
                    Tensor d = Tensor.host(org.arunet.tensor.DType.F32, Layout.NHWC, n, h, w, k)) {
                float[] probs = new float[p * k];
                double[] sums = new double[1 + 3 * k];
                for (int i = 0; i < p; i++) {
                    float m = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < k; j++) {
                        m = Math.max(m, z[i * k + j]);
                    }
                    float s = 0;
                    for (int j = 0; j < k; j++) {
                        probs[i * k + j] = (float) Math.exp(z[i * k + j] - m);
                        s += probs[i * k + j];
                    }
                    for (int j = 0; j < k; j++) {
                        probs[i * k + j] /= s;
                        sums[1 + k + j] += probs[i * k + j];
                    }
                    sums[0] += m + Math.log(s) - z[i * k + t[i]];
                    sums[1 + t[i]] += probs[i * k + t[i]];
                    sums[1 + 2 * k + t[i]] += 1;
                }
                LossMath.Coefficients ce = LossMath.crossEntropyDice(sums, p, k, 0.3f, 1.7f, 1e-5f);
                double want = cpu.crossEntropyDiceLoss(logits, target, d, 0.3f, 1.7f, 1e-5f);
                assertEquals(want, ce.loss(), 1e-6 * Math.abs(want), "ce+dice loss, K=" + k);
                assertClose("ce+dice gradient, K=" + k, gradient(ce, probs, t, p, k), d.toFloatArray(), 1e-7, 1e-4);

                LossMath.Coefficients ft = LossMath.focalTversky(sums, k, 0.7f, 0.3f, 0.75f, 1e-5f);
                double wantFt = cpu.focalTverskyLoss(logits, target, d, 0.7f, 0.3f, 0.75f, 1e-5f);
                assertEquals(wantFt, ft.loss(), 1e-6 * Math.abs(wantFt), "focal tversky loss, K=" + k);
                assertClose(
                        "focal tversky gradient, K=" + k, gradient(ft, probs, t, p, k), d.toFloatArray(), 1e-7, 1e-4);
            }
        }
    }

    /** k_loss_grad in Java: ce_scale (p - t) + p (g - sum_k g_k p_k), g = c0 + c1 t. */
    private static float[] gradient(LossMath.Coefficients c, float[] probs, int[] t, int p, int k) {
        float[] out = new float[p * k];
        for (int i = 0; i < p; i++) {
            double gp = 0;
            for (int j = 0; j < k; j++) {
                gp += (c.c0()[j] + (j == t[i] ? c.c1()[j] : 0)) * probs[i * k + j];
            }
            for (int j = 0; j < k; j++) {
                double pk = probs[i * k + j];
                double tk = j == t[i] ? 1 : 0;
                out[i * k + j] = (float) (c.ceScale() * (pk - tk) + pk * (c.c0()[j] + c.c1()[j] * tk - gp));
            }
        }
        return out;
    }
}

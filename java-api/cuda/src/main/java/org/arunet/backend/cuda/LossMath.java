package org.arunet.backend.cuda;

/**
 * The host part of the segmentation losses on the GPU: from the batch-pooled class sums that the
 * device computed ({@code cuda/loss.cu}: the CE sum and, per class k, {@code I_k = sum p t},
 * {@code P_k = sum p}, {@code T_k = sum t}), the loss value and the coefficients {@code c0, c1} of the
 * gradient {@code g_pk = c0_k + c1_k t_pk} (with respect to the probabilities) and the CE scale, in
 * double, with exactly the formulas of the CPU kernels ({@code cpu/loss.h}, Note [loss gradient]).
 */
final class LossMath {
    /** The loss and its gradient coefficients. */
    record Coefficients(double loss, double[] c0, double[] c1, double ceScale) {}

    private LossMath() {}

    /** {@code ceWeight * CE + diceWeight * (1 - mean_k D_k)}, D_k = (2 I_k + s) / (P_k + T_k + s). */
    static Coefficients crossEntropyDice(
            double[] sums, long pixels, int k, float ceWeight, float diceWeight, float smooth) {
        double[] c0 = new double[k];
        double[] c1 = new double[k];
        double diceMean = 0;
        for (int j = 0; j < k; j++) {
            double den = ps(sums, k, j) + t(sums, k, j) + smooth;
            double d = (2.0 * i(sums, j) + smooth) / den;
            double alpha = (double) diceWeight / k / den;
            c0[j] = alpha * d;
            c1[j] = -2.0 * alpha;
            diceMean += d;
        }
        diceMean /= k;
        double m = pixels;
        double loss = (double) ceWeight * (sums[0] / m) + (double) diceWeight * (1.0 - diceMean);
        return new Coefficients(loss, c0, c1, (double) ceWeight / m);
    }

    /**
     * {@code mean_k (1 - TI_k)^gamma}, TI_k = (I_k + s) / (I_k + alpha (T_k - I_k) + beta (P_k - I_k) + s); the
     * gradient uses {@code max(1 - TI, 1e-12)^(gamma - 1)} so that gamma < 1 stays finite.
     */
    static Coefficients focalTversky(double[] sums, int k, float alpha, float beta, float gamma, float smooth) {
        double[] c0 = new double[k];
        double[] c1 = new double[k];
        double al = alpha;
        double be = beta;
        double ga = gamma;
        double sm = smooth;
        double loss = 0;
        for (int j = 0; j < k; j++) {
            double a = i(sums, j) + sm;
            double d = i(sums, j) + al * (t(sums, k, j) - i(sums, j)) + be * (ps(sums, k, j) - i(sums, j)) + sm;
            double ti = a / d;
            loss += Math.pow(1.0 - ti, ga);
            double dlDti = -(ga / k) * Math.pow(Math.max(1.0 - ti, 1e-12), ga - 1.0);
            c0[j] = dlDti * (-a * be) / (d * d);
            c1[j] = dlDti * (d - a * (1.0 - al - be)) / (d * d);
        }
        return new Coefficients(loss / k, c0, c1, 0.0);
    }

    private static double i(double[] sums, int j) {
        return sums[1 + j];
    }

    private static double ps(double[] sums, int k, int j) {
        return sums[1 + k + j];
    }

    private static double t(double[] sums, int k, int j) {
        return sums[1 + 2 * k + j];
    }
}

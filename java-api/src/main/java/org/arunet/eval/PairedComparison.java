package org.arunet.eval;

import org.apache.commons.math3.stat.inference.TTest;
import org.apache.commons.math3.stat.inference.WilcoxonSignedRankTest;

/**
 * Paired significance tests between two models' per-image scores on the same images (Apache Commons
 * Math): Student's paired t-test and the Wilcoxon signed-rank test (exact p-value up to 30 pairs,
 * normal approximation above). One-sided p-values test "A scores higher than B", as the paper's
 * one-sided t-test at alpha 0.05.
 *
 * @param n pairs
 * @param meanDifference mean of (A - B)
 * @param tStatistic paired t statistic
 * @param tTestTwoSidedP two-sided p-value of the paired t-test
 * @param tTestOneSidedP one-sided p-value for mean(A - B) > 0
 * @param wilcoxonP two-sided p-value of the Wilcoxon signed-rank test
 */
public record PairedComparison(
        int n,
        double meanDifference,
        double tStatistic,
        double tTestTwoSidedP,
        double tTestOneSidedP,
        double wilcoxonP) {

    public static PairedComparison of(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(
                    "paired scores need equal lengths, got " + a.length + " and " + b.length);
        }
        if (a.length < 2) {
            throw new IllegalArgumentException("paired tests need at least 2 pairs, got " + a.length);
        }
        double md = 0;
        for (int i = 0; i < a.length; i++) {
            md += a[i] - b[i];
        }
        md /= a.length;
        TTest t = new TTest();
        boolean allEqual = true;
        for (int i = 0; i < a.length; i++) {
            allEqual &= a[i] == b[i];
        }
        double ts;
        double p2;
        double wp;
        if (allEqual) {
            ts = 0;
            p2 = 1;
            wp = 1;
        } else {
            ts = t.pairedT(a, b);
            p2 = t.pairedTTest(a, b);
            wp = new WilcoxonSignedRankTest().wilcoxonSignedRankTest(a, b, a.length <= 30);
        }
        double p1 = Double.isNaN(ts) ? Double.NaN : (ts > 0 ? p2 / 2 : 1 - p2 / 2);
        return new PairedComparison(a.length, md, ts, p2, p1, wp);
    }
}

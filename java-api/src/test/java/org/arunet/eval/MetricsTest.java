package org.arunet.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsTest {

    @Test
    void bootstrapIntervalOfTheMean() {
        // Constant values: the interval is the value itself.
        double[] c = Evaluation.bootstrapCi(new double[] {0.7, 0.7, 0.7, 0.7});
        assertEquals(0.7, c[0], 1e-12);
        assertEquals(0.7, c[1], 1e-12);
        assertTrue(Double.isNaN(Evaluation.bootstrapCi(new double[] {0.5})[0]), "undefined for one value");
        // 400 values uniform in [0, 1]: the interval is close to mean -+ 1.96 sd / sqrt(n) and holds the mean.
        SplittableRandom r = new SplittableRandom(2);
        double[] v = new double[400];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextDouble();
        }
        double mean = Evaluation.mean(v);
        double half = 1.96 * Evaluation.sd(v) / Math.sqrt(v.length);
        double[] ci = Evaluation.bootstrapCi(v);
        assertTrue(ci[0] < mean && mean < ci[1], "interval holds the mean");
        assertEquals(mean - half, ci[0], 0.15 * half);
        assertEquals(mean + half, ci[1], 0.15 * half);
        assertEquals(ci[0], Evaluation.bootstrapCi(v)[0], 0.0, "reproducible");
    }

    @Test
    void metricsPerLabel() {
        Evaluation ev = new Evaluation(2);
        int[] truth = {0, 1, 1, 0};
        ev.add("a", "benign", truth, new int[] {0, 1, 1, 0}, 2, 2); // Dice 1
        ev.add("b", "benign", truth, new int[] {0, 1, 0, 0}, 2, 2); // Dice 2/3
        ev.add("c", "malignant", truth, new int[] {0, 0, 0, 0}, 2, 2); // Dice 0
        @SuppressWarnings("unchecked")
        java.util.Map<String, java.util.Map<String, Object>> by = (java.util.Map<String, java.util.Map<String, Object>>)
                ev.summary().get("by_label");
        assertEquals(java.util.List.of("benign", "malignant"), java.util.List.copyOf(by.keySet()));
        assertEquals(2, by.get("benign").get("images"));
        assertEquals(5.0 / 6, (double) by.get("benign").get("lesion_dice_mean"), 1e-12);
        assertEquals(0.0, (double) by.get("malignant").get("lesion_dice_mean"), 1e-12);
        assertEquals(5.0 / 9, (double) ev.summary().get("lesion_dice_mean"), 1e-12);
    }

    @Test
    void confusionMatrixByHand() {
        // truth:  0 0 0 0 1 1 1 1 ; pred: 0 0 0 1 1 1 0 0  -> TN 3, FP 1, FN 2, TP 2
        ConfusionMatrix cm = new ConfusionMatrix(2);
        cm.add(new int[] {0, 0, 0, 0, 1, 1, 1, 1}, new int[] {0, 0, 0, 1, 1, 1, 0, 0});
        assertEquals(5.0 / 8, cm.accuracy(), 1e-12);
        assertEquals(2.0 / 5, cm.iou(1), 1e-12); // TP / (TP + FP + FN)
        assertEquals(3.0 / 6, cm.iou(0), 1e-12);
        assertEquals((2.0 / 5 + 3.0 / 6) / 2, cm.meanIoU(), 1e-12);
        assertEquals(2.0 / 3, cm.precision(1), 1e-12);
        assertEquals(2.0 / 4, cm.recall(1), 1e-12);
        assertEquals(3.0 / 5, cm.precision(0), 1e-12);
        double p = (2.0 / 3 + 3.0 / 5) / 2;
        double r = (2.0 / 4 + 3.0 / 4) / 2;
        assertEquals(2 * p * r / (p + r), cm.macroF1(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> cm.add(new int[] {2}, new int[] {0}));
    }

    @Test
    void imageScoresFollowTheEmptyMaskRules() {
        int[] empty = new int[16];
        int[] one = new int[16];
        one[5] = 1;
        ImageScore both = ImageScore.of("a", empty, empty, 4, 4, 2);
        assertEquals(1, both.dice());
        assertTrue(Double.isNaN(both.hd95()));
        ImageScore fp = ImageScore.of("b", empty, one, 4, 4, 2);
        assertEquals(0, fp.dice());
        assertTrue(Double.isNaN(fp.hd95()));
        ImageScore missed = ImageScore.of("c", one, empty, 4, 4, 2);
        assertEquals(0, missed.dice());
        assertEquals(Math.hypot(4, 4), missed.hd95(), 1e-12);
        ImageScore same = ImageScore.of("d", one, one, 4, 4, 2);
        assertEquals(1, same.dice());
        assertEquals(0, same.hd95());
    }

    @Test
    void diceAndIouByHand() {
        int[] t = {1, 1, 1, 1, 0, 0};
        int[] p = {1, 1, 0, 0, 1, 0};
        ImageScore s = ImageScore.of("x", t, p, 2, 3, 2);
        assertEquals(2.0 * 2 / (4 + 3), s.dice(), 1e-12);
        assertEquals(2.0 / 5, s.iou(), 1e-12);
    }

    @Test
    void hd95MatchesBruteForceOnRandomMasks() {
        SplittableRandom r = new SplittableRandom(3);
        for (int trial = 0; trial < 30; trial++) {
            int h = 5 + r.nextInt(20);
            int w = 5 + r.nextInt(20);
            boolean[] a = blob(r, h, w);
            boolean[] b = blob(r, h, w);
            double fast = SurfaceDistance.hd95(a, b, h, w);
            assertEquals(bruteHd95(a, b, h, w), fast, 1e-9, "trial " + trial);
        }
    }

    @Test
    void hd95OfShiftedSquare() {
        int h = 20;
        int w = 20;
        boolean[] a = new boolean[h * w];
        boolean[] b = new boolean[h * w];
        for (int y = 5; y < 10; y++) {
            for (int x = 5; x < 10; x++) {
                a[y * w + x] = true;
                b[y * w + x + 3] = true;
            }
        }
        // Every boundary pixel is within 3 px of the other boundary; the far edges are exactly 3 away.
        assertEquals(3.0, SurfaceDistance.hd95(a, b, h, w), 1e-9);
    }

    private static boolean[] blob(SplittableRandom r, int h, int w) {
        boolean[] m = new boolean[h * w];
        int cy = r.nextInt(h);
        int cx = r.nextInt(w);
        double rad = 1 + r.nextDouble() * Math.min(h, w) / 2.0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                m[y * w + x] = Math.hypot(y - cy, x - cx) <= rad || r.nextDouble() < 0.03;
            }
        }
        return m;
    }

    private static double bruteHd95(boolean[] a, boolean[] b, int h, int w) {
        boolean[] ba = SurfaceDistance.boundary(a, h, w);
        boolean[] bb = SurfaceDistance.boundary(b, h, w);
        java.util.List<Double> d = new java.util.ArrayList<>();
        for (boolean[][] pair : new boolean[][][] {{ba, bb}, {bb, ba}}) {
            for (int i = 0; i < h * w; i++) {
                if (!pair[0][i]) {
                    continue;
                }
                double best = Double.MAX_VALUE;
                for (int j = 0; j < h * w; j++) {
                    if (pair[1][j]) {
                        best = Math.min(best, Math.hypot(i / w - j / w, i % w - j % w));
                    }
                }
                d.add(best);
            }
        }
        return SurfaceDistance.percentile(
                d.stream().mapToDouble(Double::doubleValue).toArray(), 95);
    }

    @Test
    void reportHasTheDocumentedKeysAndCsv(@TempDir Path dir) throws Exception {
        Evaluation ev = new Evaluation(2);
        ev.add("img1", new int[] {0, 1, 1, 0}, new int[] {0, 1, 0, 0}, 2, 2);
        ev.add("img,2", new int[] {0, 0, 0, 0}, new int[] {0, 0, 0, 0}, 2, 2);
        JsonNode j = new ObjectMapper().readTree(ev.toJson());
        for (String k : new String[] {
            "lesion_dice_mean", "lesion_iou_mean", "miou_paper", "accuracy", "precision", "recall", "f1", "hd95_mean"
        }) {
            assertTrue(j.has(k), "missing " + k);
        }
        assertEquals((2.0 / 3 + 1) / 2, j.get("lesion_dice_mean").asDouble(), 1e-12);
        assertEquals(7.0 / 8, j.get("accuracy").asDouble(), 1e-12);
        assertEquals(1, j.get("hd95_images").asInt());
        assertEquals(1, j.get("empty_truth_images").asInt());
        Path csv = dir.resolve("per_image.csv");
        ev.writeCsv(csv);
        java.util.List<String> lines = Files.readAllLines(csv);
        assertEquals(3, lines.size());
        assertTrue(lines.get(2).startsWith("\"img,2\",1.000000"), lines.get(2));
    }

    @Test
    void pairedTestsDetectAConsistentImprovement() {
        double[] a = new double[20];
        double[] b = new double[20];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < a.length; i++) {
            b[i] = 0.6 + 0.2 * r.nextDouble();
            a[i] = b[i] + 0.05 + 0.01 * r.nextDouble();
        }
        PairedComparison c = PairedComparison.of(a, b);
        assertTrue(c.meanDifference() > 0.05);
        assertTrue(c.tTestOneSidedP() < 1e-6, "one-sided p " + c.tTestOneSidedP());
        assertTrue(c.wilcoxonP() < 1e-4, "wilcoxon p " + c.wilcoxonP());
        PairedComparison rev = PairedComparison.of(b, a);
        assertTrue(rev.tTestOneSidedP() > 0.99);
        assertEquals(1.0, PairedComparison.of(a, a).tTestTwoSidedP());
        assertThrows(IllegalArgumentException.class, () -> PairedComparison.of(new double[2], new double[3]));
    }
}

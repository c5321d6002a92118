package org.arunet.eval;

/**
 * A K-class pixel confusion matrix accumulated over a whole test set: {@code count(t, p)} pixels of
 * true class t predicted as p. The paper's metrics come from one such matrix over all test pixels.
 * Not thread-safe; merge per-thread matrices with {@link #add(ConfusionMatrix)}.
 */
public final class ConfusionMatrix {
    private final int k;
    private final long[] counts;

    public ConfusionMatrix(int classes) {
        if (classes < 2) {
            throw new IllegalArgumentException("a confusion matrix needs at least 2 classes, got " + classes);
        }
        this.k = classes;
        this.counts = new long[classes * classes];
    }

    public int classes() {
        return k;
    }

    public long count(int truth, int pred) {
        return counts[truth * k + pred];
    }

    /** Adds one image (or any set of pixels): class indices, same length. */
    public void add(int[] truth, int[] pred) {
        if (truth.length != pred.length) {
            throw new IllegalArgumentException("truth has " + truth.length + " pixels, prediction " + pred.length);
        }
        for (int i = 0; i < truth.length; i++) {
            int t = truth[i];
            int p = pred[i];
            if (t < 0 || t >= k || p < 0 || p >= k) {
                throw new IllegalArgumentException(
                        "class index out of [0, " + k + ") at pixel " + i + ": truth " + t + ", prediction " + p);
            }
            counts[t * k + p]++;
        }
    }

    public void add(ConfusionMatrix other) {
        if (other.k != k) {
            throw new IllegalArgumentException("cannot merge " + other.k + "-class into " + k + "-class matrix");
        }
        for (int i = 0; i < counts.length; i++) {
            counts[i] += other.counts[i];
        }
    }

    public long total() {
        long n = 0;
        for (long c : counts) {
            n += c;
        }
        return n;
    }

    private long tp(int c) {
        return counts[c * k + c];
    }

    private long truthCount(int c) {
        long n = 0;
        for (int p = 0; p < k; p++) {
            n += counts[c * k + p];
        }
        return n;
    }

    private long predCount(int c) {
        long n = 0;
        for (int t = 0; t < k; t++) {
            n += counts[t * k + c];
        }
        return n;
    }

    /** Correct pixels / all pixels. */
    public double accuracy() {
        long correct = 0;
        for (int c = 0; c < k; c++) {
            correct += tp(c);
        }
        long n = total();
        return n == 0 ? Double.NaN : (double) correct / n;
    }

    /** TP / (TP + FP + FN) of class c; NaN when the class appears in neither truth nor prediction. */
    public double iou(int c) {
        long denom = truthCount(c) + predCount(c) - tp(c);
        return denom == 0 ? Double.NaN : (double) tp(c) / denom;
    }

    /** TP / (TP + FP); NaN when the class is never predicted. */
    public double precision(int c) {
        long d = predCount(c);
        return d == 0 ? Double.NaN : (double) tp(c) / d;
    }

    /** TP / (TP + FN); NaN when the class never occurs. */
    public double recall(int c) {
        long d = truthCount(c);
        return d == 0 ? Double.NaN : (double) tp(c) / d;
    }

    /** Harmonic mean of precision and recall of class c (equals its pooled Dice). */
    public double f1(int c) {
        double p = precision(c);
        double r = recall(c);
        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }

    /** The paper's mIoU: mean IoU over all classes, background included. */
    public double meanIoU() {
        return mean(this::iou);
    }

    /** Mean precision over all classes (background included), as the paper reports it. */
    public double macroPrecision() {
        return mean(this::precision);
    }

    public double macroRecall() {
        return mean(this::recall);
    }

    /** The paper's F1: harmonic mean of the macro precision and macro recall. */
    public double macroF1() {
        double p = macroPrecision();
        double r = macroRecall();
        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }

    private double mean(java.util.function.IntToDoubleFunction f) {
        double s = 0;
        int n = 0;
        for (int c = 0; c < k; c++) {
            double v = f.applyAsDouble(c);
            if (!Double.isNaN(v)) {
                s += v;
                n++;
            }
        }
        return n == 0 ? Double.NaN : s / n;
    }
}

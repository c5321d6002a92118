package org.arunet.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Accumulates a test set's predictions and reports two families of metrics, labelled apart:
 * <ul>
 *   <li><b>paper-compatible</b>, from one confusion matrix over all test pixels: accuracy, per-class
 *       IoU, mIoU (mean over classes, <em>background included</em> — this inflates it against a
 *       lesion-only IoU), and macro precision, recall and F1 over the classes (background included);
 *   <li><b>lesion</b> (foreground = any class above 0): Dice and IoU per image (mean and standard
 *       deviation), the same pooled over all pixels, lesion precision / recall / F1, and HD95 in
 *       pixels, with the empty-mask rules of {@link ImageScore}.
 * </ul>
 * {@link #add} is thread-safe.
 */
public final class Evaluation {
    private final int classes;
    private final ConfusionMatrix confusion;
    private final ConfusionMatrix lesion = new ConfusionMatrix(2);
    private final List<ImageScore> images = new ArrayList<>();
    private final Map<String, String> labels = new LinkedHashMap<>();

    /** Resamples of the percentile bootstrap behind the {@code *_ci95} intervals. */
    public static final int BOOTSTRAP_RESAMPLES = 2000;

    public Evaluation(int classes) {
        this.classes = classes;
        this.confusion = new ConfusionMatrix(classes);
    }

    /**
     * Adds one image of a labelled data set (e.g. BUSI's benign / malignant): the summary then also
     * reports the lesion metrics per label ({@code by_label}).
     */
    public synchronized ImageScore add(String id, String label, int[] truth, int[] pred, int h, int w) {
        ImageScore s = add(id, truth, pred, h, w);
        if (label != null) {
            labels.put(id, label);
        }
        return s;
    }

    /** Adds one image's truth and prediction (class indices, row-major {@code h x w}). */
    public synchronized ImageScore add(String id, int[] truth, int[] pred, int h, int w) {
        ImageScore s = ImageScore.of(id, truth, pred, h, w, classes);
        confusion.add(truth, pred);
        int[] bt = new int[truth.length];
        int[] bp = new int[pred.length];
        for (int i = 0; i < truth.length; i++) {
            bt[i] = truth[i] > 0 ? 1 : 0;
            bp[i] = pred[i] > 0 ? 1 : 0;
        }
        lesion.add(bt, bp);
        images.add(s);
        return s;
    }

    public synchronized List<ImageScore> images() {
        return Collections.unmodifiableList(new ArrayList<>(images));
    }

    public ConfusionMatrix confusion() {
        return confusion;
    }

    /** The report as an ordered map (the JSON keys); see {@link #toJson()}. */
    public synchronized Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("images", images.size());
        m.put("classes", classes);
        // Headline keys (stable names for scripts).
        double[] dice = images.stream().mapToDouble(ImageScore::dice).toArray();
        double[] iou = images.stream().mapToDouble(ImageScore::iou).toArray();
        double[] hd = images.stream()
                .mapToDouble(ImageScore::hd95)
                .filter(d -> !Double.isNaN(d))
                .toArray();
        m.put("lesion_dice_mean", mean(dice));
        m.put("lesion_dice_sd", sd(dice));
        m.put("lesion_dice_ci95", bootstrapCi(dice));
        m.put("lesion_iou_mean", mean(iou));
        m.put("lesion_iou_sd", sd(iou));
        m.put("lesion_iou_ci95", bootstrapCi(iou));
        m.put("miou_paper", confusion.meanIoU());
        m.put("accuracy", confusion.accuracy());
        m.put("precision", confusion.macroPrecision());
        m.put("recall", confusion.macroRecall());
        m.put("f1", confusion.macroF1());
        m.put("hd95_mean", mean(hd));
        m.put("hd95_sd", sd(hd));
        m.put("hd95_median", hd.length == 0 ? Double.NaN : SurfaceDistance.percentile(hd, 50));
        m.put("hd95_images", hd.length);
        // Lesion, pooled over all pixels.
        m.put("lesion_dice_pooled", lesion.f1(1));
        m.put("lesion_iou_pooled", lesion.iou(1));
        m.put("lesion_precision", lesion.precision(1));
        m.put("lesion_recall", lesion.recall(1));
        m.put("lesion_f1", lesion.f1(1));
        double[] perClass = new double[classes];
        for (int c = 0; c < classes; c++) {
            perClass[c] = confusion.iou(c);
        }
        m.put("iou_per_class", perClass);
        m.put(
                "empty_truth_images",
                images.stream().filter(s -> s.truthPixels() == 0).count());
        if (!labels.isEmpty()) {
            Map<String, Object> byLabel = new LinkedHashMap<>();
            for (String label : new java.util.TreeSet<>(labels.values())) {
                double[] d = images.stream()
                        .filter(s -> label.equals(labels.get(s.id())))
                        .mapToDouble(ImageScore::dice)
                        .toArray();
                double[] u = images.stream()
                        .filter(s -> label.equals(labels.get(s.id())))
                        .mapToDouble(ImageScore::iou)
                        .toArray();
                double[] h = images.stream()
                        .filter(s -> label.equals(labels.get(s.id())))
                        .mapToDouble(ImageScore::hd95)
                        .filter(x -> !Double.isNaN(x))
                        .toArray();
                Map<String, Object> l = new LinkedHashMap<>();
                l.put("images", d.length);
                l.put("lesion_dice_mean", mean(d));
                l.put("lesion_dice_sd", sd(d));
                l.put("lesion_dice_ci95", bootstrapCi(d));
                l.put("lesion_iou_mean", mean(u));
                l.put("lesion_iou_ci95", bootstrapCi(u));
                l.put("hd95_mean", mean(h));
                byLabel.put(label, l);
            }
            m.put("by_label", byLabel);
        }
        m.put(
                "notes",
                List.of(
                        "miou_paper, accuracy, precision, recall, f1: paper-compatible, from one confusion matrix over all"
                                + " test pixels; mIoU, precision and recall are means over classes with background included",
                        "lesion_*: foreground (class > 0) only; *_mean and *_sd are over images, *_pooled over all pixels;"
                                + " *_ci95: 95 % percentile bootstrap interval of the mean over images ("
                                + BOOTSTRAP_RESAMPLES
                                + " resamples, fixed seed)",
                        "empty masks: both empty -> Dice = IoU = 1; truth empty, prediction not -> 0; HD95 (pixels) is"
                                + " undefined when the truth is empty and is the image diagonal when the prediction is empty;"
                                + " hd95_* are over the hd95_images images where it is defined"));
        return m;
    }

    /** The summary as pretty-printed JSON (NaN written as null). */
    public String toJson() {
        try {
            return mapper().writeValueAsString(nanToNull(summary()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectMapper mapper() {
        return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    }

    private static Object nanToNull(Object o) {
        if (o instanceof Double d) {
            return d.isNaN() || d.isInfinite() ? null : d;
        }
        if (o instanceof double[] a) {
            List<Double> l = new ArrayList<>();
            for (double d : a) {
                l.add(Double.isNaN(d) ? null : d);
            }
            return l;
        }
        if (o instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(k, nanToNull(v)));
            return out;
        }
        return o;
    }

    /** One CSV line per image: id, dice, iou, hd95_px, truth_px, pred_px, accuracy, miou. */
    public synchronized void writeCsv(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("image,dice,iou,hd95_px,truth_px,pred_px,accuracy,miou\n");
            for (ImageScore s : images) {
                w.write(String.format(
                        Locale.ROOT,
                        "%s,%.6f,%.6f,%s,%d,%d,%.6f,%.6f%n",
                        csv(s.id()),
                        s.dice(),
                        s.iou(),
                        Double.isNaN(s.hd95()) ? "" : String.format(Locale.ROOT, "%.3f", s.hd95()),
                        s.truthPixels(),
                        s.predPixels(),
                        s.pixelAccuracy(),
                        s.meanIoU()));
            }
        }
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    /**
     * 95 % percentile-bootstrap interval of the mean of {@code v}: {@link #BOOTSTRAP_RESAMPLES}
     * resamples with replacement, seeded so that a report is reproducible; {NaN, NaN} for fewer than
     * two values.
     */
    public static double[] bootstrapCi(double[] v) {
        if (v.length < 2) {
            return new double[] {Double.NaN, Double.NaN};
        }
        java.util.SplittableRandom rng = new java.util.SplittableRandom(0x5EEDL + v.length);
        double[] means = new double[BOOTSTRAP_RESAMPLES];
        for (int b = 0; b < means.length; b++) {
            double sum = 0;
            for (int i = 0; i < v.length; i++) {
                sum += v[rng.nextInt(v.length)];
            }
            means[b] = sum / v.length;
        }
        java.util.Arrays.sort(means);
        return new double[] {SurfaceDistance.percentile(means, 2.5), SurfaceDistance.percentile(means, 97.5)};
    }

    static double mean(double[] v) {
        if (v.length == 0) {
            return Double.NaN;
        }
        double s = 0;
        for (double d : v) {
            s += d;
        }
        return s / v.length;
    }

    /** Sample standard deviation (n - 1). */
    static double sd(double[] v) {
        if (v.length < 2) {
            return Double.NaN;
        }
        double m = mean(v);
        double s = 0;
        for (double d : v) {
            s += (d - m) * (d - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }
}

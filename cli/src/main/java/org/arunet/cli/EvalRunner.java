package org.arunet.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.arunet.data.dataset.Sample;
import org.arunet.eval.Evaluation;
import org.arunet.infer.Evaluator;
import org.arunet.infer.Segmenter;
import org.arunet.report.Overlays;

/** Evaluates a segmenter on samples and writes report.json, per_image.csv and overlays/ into a folder. */
final class EvalRunner {
    private EvalRunner() {}

    static Evaluation run(Segmenter seg, List<Sample> samples, Path out, int overlays, PrintStream info)
            throws IOException {
        Files.createDirectories(out);
        long t0 = System.nanoTime();
        final long[] last = {t0};
        Evaluation ev = Evaluator.evaluate(seg, samples, (i, n, s, image, truth, pred, score) -> {
            if (i < overlays) {
                try {
                    Overlays.write(
                            image, truth, pred.mask(), out.resolve("overlays").resolve(safeName(s.id()) + ".png"));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            long now = System.nanoTime();
            if (now - last[0] > 10_000_000_000L || i == n - 1) {
                info.printf(Locale.ROOT, "evaluated %d/%d images%n", i + 1, n);
                last[0] = now;
            }
        });
        Files.writeString(out.resolve("report.json"), ev.toJson() + "\n");
        ev.writeCsv(out.resolve("per_image.csv"));
        return ev;
    }

    /** A file name for an image id ("benign/x (1).png" becomes "benign_x (1)"). */
    static String safeName(String id) {
        String s = id.replace('\\', '/');
        int dot = s.lastIndexOf('.');
        if (dot > s.lastIndexOf('/')) {
            s = s.substring(0, dot);
        }
        return s.replace('/', '_');
    }

    /** Prints the headline metrics. */
    static void printHeadline(Evaluation ev, PrintStream out) {
        var m = ev.summary();
        double[] ci = (double[]) m.get("lesion_dice_ci95");
        out.printf(
                Locale.ROOT,
                "  lesion Dice %.4f ± %.4f (95 %% CI of the mean %.4f-%.4f), lesion IoU %.4f ± %.4f"
                        + " (mean ± sd over %d images)%n",
                m.get("lesion_dice_mean"),
                m.get("lesion_dice_sd"),
                ci[0],
                ci[1],
                m.get("lesion_iou_mean"),
                m.get("lesion_iou_sd"),
                m.get("images"));
        out.printf(
                Locale.ROOT,
                "  paper-compatible: mIoU %.4f (background included), accuracy %.4f, F1 %.4f%n",
                m.get("miou_paper"),
                m.get("accuracy"),
                m.get("f1"));
        out.printf(Locale.ROOT, "  HD95 %.1f px (mean over %d images)%n", m.get("hd95_mean"), m.get("hd95_images"));
    }
}

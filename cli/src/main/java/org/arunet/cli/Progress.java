package org.arunet.cli;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.arunet.train.EpochSummary;
import org.arunet.train.TrainingListener;
import org.arunet.train.TrainingResult;

/**
 * Training progress: a progress bar per epoch on an interactive terminal, otherwise (CI logs, pipes,
 * --json) a plain line every few seconds and one line per epoch.
 */
final class Progress implements TrainingListener {
    private final PrintStream out;
    private final boolean interactive;
    private ProgressBar bar;
    private long lastLine;
    private int epochs;

    Progress(PrintStream out, boolean json) {
        this.out = out;
        this.interactive = !json && System.console() != null && System.getenv("CI") == null;
    }

    @Override
    public void onStart(int startEpoch, int epochs, int batchesPerEpoch) {
        this.epochs = epochs;
        if (startEpoch > 0) {
            out.printf("resuming at epoch %d of %d%n", startEpoch + 1, epochs);
        }
    }

    @Override
    public void onBatch(int epoch, int batch, int batches, double loss, double imagesPerSecond) {
        if (interactive) {
            if (bar == null) {
                bar = new ProgressBarBuilder()
                        .setTaskName(String.format("epoch %d/%d", epoch + 1, epochs))
                        .setInitialMax(batches)
                        .setStyle(ProgressBarStyle.ASCII)
                        .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(out))
                        .build();
            }
            bar.stepTo(batch);
            bar.setExtraMessage(String.format(Locale.ROOT, "loss %.4f, %.1f img/s", loss, imagesPerSecond));
        } else {
            long now = System.nanoTime();
            if (now - lastLine > 10_000_000_000L) {
                out.printf(
                        Locale.ROOT,
                        "epoch %d/%d  step %d/%d  loss %.4f  %.2f img/s%n",
                        epoch + 1,
                        epochs,
                        batch,
                        batches,
                        loss,
                        imagesPerSecond);
                lastLine = now;
            }
        }
    }

    @Override
    public void onEpoch(EpochSummary s) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        out.printf(
                Locale.ROOT,
                "epoch %3d/%d  lr %.2e  train loss %.4f  val loss %.4f  val Dice %.4f  IoU %.4f"
                        + "  %.1f s (%.2f img/s, waited %.2f s for data)%s  ETA %s%n",
                s.epoch() + 1,
                epochs,
                s.learningRate(),
                s.trainLoss(),
                s.valLoss(),
                s.valDice(),
                s.valIou(),
                s.seconds(),
                s.imagesPerSecond(),
                s.dataWaitSeconds(),
                s.improved() ? "  * best" : "",
                duration(s.etaSeconds()));
        lastLine = System.nanoTime();
    }

    @Override
    public void onFinish(TrainingResult r) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        if (r.stoppedEarly()) {
            out.printf("early stop: validation loss did not improve for the patience window%n");
        }
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600
                ? String.format("%dh%02dm", s / 3600, s % 3600 / 60)
                : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }
}

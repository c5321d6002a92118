package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.arunet.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILL during training (docs/RELIABILITY.md, "Faults"). {@code arunet train} runs in a child JVM
 * and is killed with signal 9 at seeded random moments (a random epoch among those left, a random
 * time into it), several times per run. After every kill the last checkpoint must be complete and
 * loadable, hold every epoch the process reported finished, and never go back; the killed run is then
 * resumed with {@code --resume} (killed again, resumed again) until it finishes, and its final
 * checkpoints must equal those of an uninterrupted run bit for bit.
 *
 * <p>Every third kill, starting with the second, is aimed at the atomic-write window instead: it comes
 * the moment a new checkpoint's temporary file appears, so the previous checkpoint must survive a kill
 * in the middle of a write and the next run must remove the partial file.
 *
 * <p>A normal build does 1 run x 3 kills (well under a minute on an idle machine);
 * {@code benchmarks/reliability/run-all.sh} sets {@code -Dreliability.killRuns} and
 * {@code -Dreliability.killsPerRun} for the recorded run. Every kill is written to
 * {@code target/reliability/kill-resume.csv}.
 */
class KillAndResumeTest {
    private static final int RUNS = Integer.getInteger("reliability.killRuns", 1);
    private static final int KILLS = Integer.getInteger("reliability.killsPerRun", 3);
    private static final long SEED = Long.getLong("reliability.seed", 20250611L);
    private static final int EPOCHS = 6;
    /** Printed once the model is built, just before the first epoch. */
    private static final String TRAINING_STARTS = "parameters,";
    /** An epoch line's duration: "epoch   3/6  lr ...  IoU 0.1234  0.8 s (...". */
    private static final Pattern EPOCH_SECONDS = Pattern.compile("(?m)^epoch +\\d+/\\d+ .*? ([0-9.]+) s \\(");

    private static final Pattern EPOCH_LINE = Pattern.compile("(?m)^epoch +(\\d+)/" + EPOCHS + " +lr");

    @TempDir
    Path dir;

    private static List<String> train(Path data, Path out, boolean resume) {
        List<String> a = new ArrayList<>(List.of(
                "train",
                "--data",
                data.toString(),
                "--out",
                out.toString(),
                "--epochs",
                Integer.toString(EPOCHS),
                "--image-size",
                "48",
                "--width",
                "4",
                "--batch-size",
                "2",
                "--lr",
                "2e-3",
                "--warmup-epochs",
                "1",
                "--patience",
                "0",
                "--threads",
                "2",
                "--loader-threads",
                "1",
                "--device",
                "cpu",
                "--seed",
                "3",
                "--no-eval-test"));
        if (resume) {
            a.add("--resume");
        }
        return a;
    }

    private static final List<String> JVM = List.of("-Xmx512m", "-XX:+UseSerialGC");

    /** The last "epoch N/6" line the process printed (printed after epoch N's checkpoint), 0 if none. */
    private static int lastReportedEpoch(String stdout) {
        Matcher m = EPOCH_LINE.matcher(stdout);
        int last = 0;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
        }
        return last;
    }

    /** Kills at a random moment, or the moment a new checkpoint write has started (attempts 1, 4, 7, ...). */
    private enum When {
        RANDOM,
        DURING_A_CHECKPOINT_WRITE
    }

    @Test
    void killedTrainingResumesToExactlyTheUninterruptedResult() throws Exception {
        Path data = TinyDataset.write(dir.resolve("data"), 14, 48, 1);
        Path refOut = dir.resolve("reference");
        ChildProcess ref = ChildProcess.start(dir.resolve("reference-log"), List.of(), JVM, train(data, refOut, false));
        assertTrue(ref.awaitOutput(TRAINING_STARTS, 600), ref.err());
        double startup = ref.seconds();
        assertEquals(0, ref.waitFor(600), ref.err());
        double refSeconds = ref.seconds() - startup; // training, checkpoints and curves; JVM start and data scan aside
        // The shortest epoch of the reference run scales the random kill times (a child may be faster).
        Matcher durations = EPOCH_SECONDS.matcher(ref.out());
        double shortestEpoch = Double.MAX_VALUE;
        while (durations.find()) {
            shortestEpoch = Math.min(shortestEpoch, Double.parseDouble(durations.group(1)));
        }
        assertTrue(shortestEpoch < Double.MAX_VALUE, ref.out());
        Path refCkpt = refOut.resolve("checkpoints");
        TrainingState expectedLast = TrainingState.of(refCkpt.resolve(Trainer.LAST));
        TrainingState expectedBest = TrainingState.of(refCkpt.resolve(Trainer.BEST));
        assertEquals(EPOCHS - 1, expectedLast.epoch());

        Path reportDir = Path.of(System.getProperty("reliability.report", "target/reliability"));
        Files.createDirectories(reportDir);
        List<String> csv = new ArrayList<>();
        csv.add("run,attempt,resumed,kill,aimed_at,outcome,epochs_reported,checkpoint_epoch,"
                + "unfinished_writes_left");
        SplittableRandom rnd = new SplittableRandom(SEED);
        int kills = 0;
        int killsInWrite = 0;
        for (int run = 0; run < RUNS; run++) {
            Path out = dir.resolve("run" + run);
            Path ckpt = out.resolve("checkpoints");
            int lastEpoch = -1;
            boolean finished = false;
            for (int attempt = 0; attempt < KILLS && !finished; attempt++) {
                When when = attempt % 3 == 1 ? When.DURING_A_CHECKPOINT_WRITE : When.RANDOM;
                boolean resume = Files.exists(ckpt.resolve(Trainer.LAST));
                List<Path> staleTemps = TrainingState.temporaryFiles(ckpt); // the resumed run removes these
                ChildProcess c = ChildProcess.start(
                        dir.resolve("run" + run + "-" + attempt), List.of(), JVM, train(data, out, resume));
                // A random epoch among those left (the last one only when it is all that is left, so that
                // later attempts have something to kill), and a random moment within it: once the epoch
                // before it is printed (or training starts), wait up to 90 % of the reference's shortest epoch.
                int done = lastEpoch + 1;
                int target = done + rnd.nextInt(Math.max(1, EPOCHS - done - 1));
                String marker =
                        target == done ? TRAINING_STARTS : String.format(Locale.ROOT, "epoch %3d/%d", target, EPOCHS);
                long delay = (long) (shortestEpoch * 1000 * 0.9 * rnd.nextDouble());
                boolean killed = when == When.RANDOM
                        ? c.awaitOutput(marker, 600) && killAfter(c, delay)
                        : killInAWrite(c, ckpt, staleTemps);
                String outcome;
                if (!killed) {
                    assertEquals(0, c.process.exitValue(), c.err());
                    outcome = "finished before the kill";
                    finished = true;
                } else {
                    assertEquals(137, c.process.exitValue(), "killed by signal 9");
                    kills++;
                    outcome = "killed";
                }
                int reported = lastReportedEpoch(c.out());
                List<Path> temps = TrainingState.temporaryFiles(ckpt);
                temps.removeAll(staleTemps);
                if (killed && !temps.isEmpty()) {
                    killsInWrite++;
                    outcome = "killed during a checkpoint write";
                }
                int epoch = -1;
                if (Files.exists(ckpt.resolve(Trainer.LAST))) {
                    epoch = TrainingState.loadable(ckpt.resolve(Trainer.LAST));
                    assertTrue(
                            epoch + 1 >= reported,
                            "run " + run + ": the process reported epoch " + reported
                                    + " finished but the last checkpoint holds epoch " + (epoch + 1));
                    assertTrue(
                            epoch >= lastEpoch,
                            "run " + run + ": checkpoint went back from epoch " + (lastEpoch + 1) + " to "
                                    + (epoch + 1));
                    lastEpoch = epoch;
                } else {
                    assertEquals(0, reported, "an epoch was reported but no checkpoint exists");
                }
                if (Files.exists(ckpt.resolve(Trainer.BEST))) {
                    TrainingState.loadable(ckpt.resolve(Trainer.BEST));
                }
                csv.add(String.format(
                        Locale.ROOT,
                        "%d,%d,%s,%s,%s,%s,%d,%d,%d",
                        run,
                        attempt,
                        resume,
                        when.name().toLowerCase(Locale.ROOT),
                        when == When.RANDOM ? "epoch " + (target + 1) + " + " + delay + " ms" : "",
                        outcome,
                        reported,
                        epoch + 1,
                        temps.size()));
            }
            if (!finished) {
                boolean resume = Files.exists(ckpt.resolve(Trainer.LAST));
                ChildProcess c = ChildProcess.start(
                        dir.resolve("run" + run + "-final"), List.of(), JVM, train(data, out, resume));
                assertEquals(0, c.waitFor(600), c.err());
                csv.add(String.format(
                        Locale.ROOT,
                        "%d,final,%s,,,completed,%d,%d,%d",
                        run,
                        resume,
                        lastReportedEpoch(c.out()),
                        EPOCHS,
                        TrainingState.temporaryFiles(ckpt).size()));
            }
            TrainingState.of(ckpt.resolve(Trainer.LAST)).assertSameAs(expectedLast, "run " + run + " last");
            TrainingState.of(ckpt.resolve(Trainer.BEST)).assertSameAs(expectedBest, "run " + run + " best");
            assertEquals(List.of(), TrainingState.temporaryFiles(ckpt), "unfinished writes left behind");
        }
        csv.add(String.format(
                Locale.ROOT,
                "# %d runs, %d kills (%d in the middle of a checkpoint write), "
                        + "uninterrupted training %.1f s, seed %d: every final checkpoint equal to the uninterrupted run's",
                RUNS,
                kills,
                killsInWrite,
                refSeconds,
                SEED));
        Files.write(reportDir.resolve("kill-resume.csv"), csv, StandardCharsets.UTF_8);
        assertTrue(kills >= Math.min(1, RUNS * KILLS), "no kill happened; see " + reportDir.resolve("kill-resume.csv"));
        assertTrue(killsInWrite >= Math.min(1, RUNS * KILLS), "no kill landed in a checkpoint write");
    }

    /** SIGKILL after {@code ms}; false if the process had finished by then. */
    private static boolean killAfter(ChildProcess c, long ms) throws InterruptedException {
        if (c.process.waitFor(ms, TimeUnit.MILLISECONDS)) {
            return false;
        }
        c.kill();
        return true;
    }

    /**
     * SIGKILL as soon as a checkpoint write of this process has begun (a temporary file that was not
     * there before appears) while an earlier checkpoint exists; false if the process finished first.
     */
    private static boolean killInAWrite(ChildProcess c, Path ckpt, List<Path> stale) throws Exception {
        while (c.process.isAlive()) {
            if (Files.exists(ckpt.resolve(Trainer.LAST))) {
                List<Path> temps = TrainingState.temporaryFiles(ckpt);
                temps.removeAll(stale);
                if (!temps.isEmpty()) {
                    c.kill();
                    return true;
                }
            }
            LockSupport.parkNanos(200_000);
        }
        c.process.waitFor();
        return false;
    }
}

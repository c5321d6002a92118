package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.arunet.train.Trainer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint write that the operating system refuses, in {@code arunet train} running as a child
 * process (docs/RELIABILITY.md, "Faults"): a full disk (a small tmpfs in a private mount namespace:
 * {@code ENOSPC}) and a file-size limit set on the running process with {@code prlimit}
 * ({@code EFBIG}). Training must stop with one line naming the file and the reason, exit 1, and leave
 * the previous checkpoint complete, loadable and resumable, with no temporary file behind. (An
 * unwritable folder is in {@code TrainerFaultsTest}, in-process.) Each outcome is appended to
 * {@code target/reliability/write-failures.csv}.
 */
class CheckpointWriteFailureTest {
    @TempDir
    static Path dir;

    static Path data;

    private static final List<String> JVM = List.of("-Xmx512m", "-XX:+UseSerialGC");

    @BeforeAll
    static void makeData() throws Exception {
        data = TinyDataset.write(dir.resolve("data"), 10, 40, 2);
    }

    private static List<String> train(Path out, int epochs, boolean resume) {
        List<String> a = new ArrayList<>(List.of(
                "train",
                "--data",
                data.toString(),
                "--out",
                out.toString(),
                "--epochs",
                Integer.toString(epochs),
                "--image-size",
                "32",
                "--width",
                "4",
                "--batch-size",
                "2",
                "--threads",
                "2",
                "--loader-threads",
                "1",
                "--device",
                "cpu",
                "--seed",
                "3",
                "--patience",
                "0",
                "--no-eval-test"));
        if (resume) {
            a.add("--resume");
        }
        return a;
    }

    private static void record(String fault, String outcome) throws Exception {
        Path report = Path.of(System.getProperty("reliability.report", "target/reliability"));
        Files.createDirectories(report);
        Path f = report.resolve("write-failures.csv");
        if (!Files.exists(f)) {
            Files.writeString(f, "fault,outcome\n");
        }
        Files.writeString(
                f,
                fault + ",\"" + outcome.replace("\"", "'") + "\"\n",
                StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.APPEND);
    }

    /** The first line the command printed about a failure. */
    private static String errorLine(String stderr) {
        return stderr.lines()
                .filter(l -> l.startsWith("arunet train: error:"))
                .findFirst()
                .orElse("(none) " + stderr);
    }

    @Test
    void fullDiskStopsTrainingAndKeepsThePreviousCheckpoint() throws Exception {
        Path probe = dir.resolve("mount-probe");
        Files.createDirectories(probe);
        Assumptions.assumeTrue(
                ChildProcess.works("unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs " + probe),
                "needs unshare -m and mount (root): not allowed here");
        // Sizes of this run's checkpoints, from a one-epoch run on an ordinary disk.
        Path sizing = dir.resolve("sizing");
        ChildProcess s = ChildProcess.start(dir.resolve("sizing-log"), List.of(), JVM, train(sizing, 1, false));
        assertEquals(0, s.waitFor(600), s.err());
        long last = Files.size(sizing.resolve("checkpoints").resolve(Trainer.LAST));
        long best = Files.size(sizing.resolve("checkpoints").resolve(Trainer.BEST));
        // Room for best + last + half a last: epoch 1 fits, epoch 2's temporary copy of last does not.
        long size = (best + last + last / 2) / 4096 * 4096;

        Path out = dir.resolve("full");
        Path ckpt = out.resolve("checkpoints");
        Path copy = dir.resolve("full-copy");
        Files.createDirectories(ckpt);
        Files.createDirectories(copy);
        String script = "mount -t tmpfs -o size=" + size + " tmpfs '" + ckpt + "' || exit 90\n"
                + "\"$@\"; rc=$?\n"
                + "cp -a '" + ckpt + "'/. '" + copy + "'/\n"
                + "exit $rc\n";
        ChildProcess c = ChildProcess.start(
                dir.resolve("full-log"), List.of("unshare", "-m", "sh", "-c", script, "sh"), JVM, train(out, 4, false));
        int rc = c.waitFor(600);
        String line = errorLine(c.err());
        assertEquals(1, rc, c.err());
        assertTrue(
                line.contains("epoch 2 finished but its checkpoint could not be saved")
                        && line.contains(ckpt.resolve(Trainer.LAST).toString())
                        && line.contains("No space left on device")
                        && line.contains("is unchanged"),
                line);
        assertEquals(0, TrainingState.loadable(copy.resolve(Trainer.LAST)), "last checkpoint is epoch 1's");
        assertEquals(List.of(), TrainingState.temporaryFiles(copy), "temporary file left on the full disk");
        // Nothing is lost: on a disk with room, --resume continues from epoch 2.
        for (Path f :
                List.of(Trainer.LAST, Trainer.BEST).stream().map(copy::resolve).toList()) {
            Files.copy(f, ckpt.resolve(f.getFileName()));
        }
        ChildProcess r = ChildProcess.start(dir.resolve("full-resume-log"), List.of(), JVM, train(out, 4, true));
        assertEquals(0, r.waitFor(600), r.err());
        assertTrue(r.out().contains("resuming at epoch 2 of 4"), r.out());
        assertEquals(3, TrainingState.loadable(ckpt.resolve(Trainer.LAST)));
        record(
                "full disk (tmpfs of " + size + " bytes; checkpoints " + last + " + " + best + " bytes)",
                "exit " + rc + ": " + line + "; last checkpoint = epoch 1, loadable; resumed to epoch 4");
    }

    @Test
    void anOutputFolderThatCannotBeCreatedIsOneClearLine() throws Exception {
        Path file = dir.resolve("a-file");
        Files.writeString(file, "not a folder");
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        int rc;
        try {
            System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
            rc = Main.run(train(file.resolve("out"), 1, false).toArray(new String[0]));
        } finally {
            System.setErr(old);
        }
        String line = errorLine(err.toString(StandardCharsets.UTF_8));
        assertEquals(1, rc, err.toString(StandardCharsets.UTF_8));
        assertTrue(
                line.contains(file.toString()) && line.matches(".*: (Not a directory|a file is in the way).*"), line);
        record("--out below a regular file", "exit " + rc + ": " + line);
    }

    @Test
    void fileSizeLimitStopsTrainingAndKeepsThePreviousCheckpoint() throws Exception {
        Assumptions.assumeTrue(ChildProcess.works("prlimit", "--version"), "needs prlimit (util-linux)");
        Path out = dir.resolve("fsize");
        Path ckpt = out.resolve("checkpoints");
        ChildProcess c = ChildProcess.start(dir.resolve("fsize-log"), List.of(), JVM, train(out, 30, false));
        long t0 = System.nanoTime();
        while (!Files.exists(ckpt.resolve(Trainer.LAST))) {
            assertTrue(c.process.isAlive(), "training ended before its first checkpoint: " + c.err());
            assertTrue(System.nanoTime() - t0 < 300e9, "no checkpoint after 300 s");
            Thread.sleep(5);
        }
        c.signal("STOP");
        // Stopped between epochs or in the middle of writing the next checkpoint; either way the file
        // that exists now is complete (it was renamed into place) and must survive.
        int before = TrainingState.of(ckpt.resolve(Trainer.LAST)).epoch();
        assertTrue(
                ChildProcess.works("prlimit", "--pid", Long.toString(c.pid()), "--fsize=65536:65536"),
                "prlimit --pid failed");
        c.signal("CONT");
        int rc = c.waitFor(600);
        String line = errorLine(c.err());
        assertEquals(1, rc, c.err());
        assertTrue(
                line.contains("finished but its checkpoint could not be saved")
                        && line.contains(ckpt.toString())
                        && line.contains("File too large")
                        && line.contains("is unchanged"),
                line);
        assertEquals(before, TrainingState.loadable(ckpt.resolve(Trainer.LAST)), "last checkpoint changed");
        assertEquals(List.of(), TrainingState.temporaryFiles(ckpt), "temporary file left behind");
        record(
                "file-size limit 64 KiB set with prlimit on the running process after epoch " + (before + 1),
                String.format(Locale.ROOT, "exit %d: %s; last checkpoint = epoch %d, loadable", rc, line, before + 1));
    }
}

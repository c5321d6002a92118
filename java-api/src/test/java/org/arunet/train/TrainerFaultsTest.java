package org.arunet.train;

import static org.arunet.train.TrainTestSupport.config;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.tensor.Tensor;
import org.arunet.testing.SyntheticData;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults during training, in-process (docs/RELIABILITY.md, "Faults"): an infinite gradient with a
 * finite loss, infinite input, an unwritable checkpoint folder, and the temporary files a killed
 * process leaves. (NaN input is in {@link TrainerTest}; SIGKILL, a full disk and a file-size limit in
 * the CLI module, where the trainer runs as a child process.)
 */
class TrainerFaultsTest {
    @TempDir
    Path dir;

    /** The wrapped network, except that one gradient element becomes +Inf from a given epoch on. */
    private static final class PoisonedGradient extends WrappedModel {
        private final String victim;
        int epoch;
        int fromEpoch = Integer.MAX_VALUE;

        PoisonedGradient(Backend be, ArUNet net, String victim) {
            super(be, net);
            this.victim = victim;
        }

        @Override
        protected void afterBackward() {
            if (epoch >= fromEpoch) {
                Tensor g = net.namedParameters().get(victim).grad();
                float[] v = g.toFloatArray();
                v[v.length / 2] = Float.POSITIVE_INFINITY;
                g.copyFrom(v);
            }
        }
    }

    @Test
    void infiniteGradientWithFiniteLossStopsAtOnceAndKeepsTheLastGoodCheckpoint() throws IOException {
        try (Backend be = Backends.cpu(2);
                PoisonedGradient m = new PoisonedGradient(
                        be,
                        new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 1),
                        "enc2.block.a.conv.weight");
                SyntheticData train = new SyntheticData(4, 32, 3, 1)) {
            assertTrue(
                    m.namedParameters().containsKey("enc2.block.a.conv.weight"),
                    m.namedParameters().keySet().toString());
            m.fromEpoch = 1;
            int[] steps = new int[1];
            NonFiniteLossException e = assertThrows(NonFiniteLossException.class, () -> Trainer.on(m)
                    .config(config(3))
                    .data(train, null)
                    .checkpointDir(dir)
                    .listener(new TrainingListener() {
                        @Override
                        public void onBatch(int epoch, int batch, int batches, double loss, double ips) {
                            steps[0]++;
                        }

                        @Override
                        public void onEpoch(EpochSummary s) {
                            m.epoch = s.epoch() + 1;
                        }
                    })
                    .fit());
            assertTrue(
                    e.getMessage().startsWith("gradient norm is Infinity at epoch 2, step 1 (images [synthetic_"),
                    e.getMessage());
            assertEquals(2, steps[0], "the poisoned step was not applied (2 steps of epoch 1 ran)");
            try (SafeTensors.Reader last = Checkpoint.open(dir.resolve(Trainer.LAST))) {
                assertEquals("0", last.metadata().get("epoch"));
                assertEquals("2", last.metadata().get("optimizer_steps"));
                for (String k : last.entries().keySet()) {
                    if (last.entry(k).dtype() == org.arunet.tensor.DType.F32) {
                        for (float v : last.readFloats(k)) {
                            assertTrue(Float.isFinite(v), k);
                        }
                    }
                }
            }
            // The model in memory was not updated with the infinite gradient either.
            for (float v :
                    m.namedParameters().get("enc2.block.a.conv.weight").value().toFloatArray()) {
                assertTrue(Float.isFinite(v));
            }
        }
    }

    @Test
    void infiniteInputIsCaughtAtTheFirstStep() {
        try (Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 1);
                SyntheticData train = new SyntheticData(4, 32, 3, 1).infFromEpoch(0)) {
            NonFiniteLossException e = assertThrows(NonFiniteLossException.class, () -> Trainer.on(net)
                    .config(config(2))
                    .data(train, null)
                    .checkpointDir(dir)
                    .fit());
            assertTrue(e.getMessage().contains("at epoch 1, step 1"), e.getMessage());
            assertTrue(!Files.exists(dir.resolve(Trainer.LAST)), "no checkpoint of a poisoned epoch");
        }
    }

    private static boolean run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    @Test
    void unwritableFolderStopsTrainingAndKeepsThePreviousCheckpoint() throws Exception {
        Path ckpt = dir.resolve("ckpt");
        Files.createDirectories(ckpt);
        // Root ignores permission bits; an immutable folder refuses new files even to root (EPERM).
        Assumptions.assumeTrue(
                run("chattr", "+i", ckpt.toString()) && run("chattr", "-i", ckpt.toString()),
                "needs chattr on a file system with the immutable attribute");
        try (Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 1);
                SyntheticData train = new SyntheticData(4, 32, 3, 1)) {
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> Trainer.on(net)
                    .config(config(3))
                    .data(train, null)
                    .checkpointDir(ckpt)
                    .listener(new TrainingListener() {
                        @Override
                        public void onEpoch(EpochSummary s) {
                            try {
                                assertTrue(s.epoch() > 0 || run("chattr", "+i", ckpt.toString()), "chattr +i");
                            } catch (IOException | InterruptedException ex) {
                                throw new IllegalStateException(ex);
                            }
                        }
                    })
                    .fit());
            assertTrue(
                    e.getMessage()
                                    .startsWith("training stopped: epoch 2 finished but its checkpoint could not be "
                                            + "saved: " + ckpt.resolve(Trainer.LAST)
                                            + ": cannot write: Operation not permitted")
                            && e.getMessage().endsWith("any earlier last.safetensors is unchanged"),
                    e.getMessage());
        } finally {
            run("chattr", "-i", ckpt.toString());
        }
        try (SafeTensors.Reader last = Checkpoint.open(ckpt.resolve(Trainer.LAST))) {
            assertEquals("0", last.metadata().get("epoch"));
        }
        try (Backend be = Backends.reference();
                SegmentationModel m = Checkpoint.loadModel(ckpt.resolve(Trainer.LAST), be)) {
            assertEquals("aru-net", m.architecture().get("arch"));
        }
        try (Stream<Path> s = Files.list(ckpt)) {
            assertEquals(List.of(ckpt.resolve(Trainer.LAST)), s.toList(), "nothing else in the folder");
        }
    }

    @Test
    void temporaryFilesOfAKilledWriteAreRemovedOnTheNextRun() throws IOException {
        Files.createDirectories(dir);
        Path stale1 = dir.resolve(".last.safetensors.123456789.tmp");
        Path stale2 = dir.resolve(".best.safetensors.42.tmp");
        Path other = dir.resolve(".notes.tmp");
        for (Path p : List.of(stale1, stale2, other)) {
            Files.write(p, new byte[] {1, 2, 3});
        }
        try (Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 1);
                SyntheticData train = new SyntheticData(4, 32, 3, 1)) {
            Trainer.on(net)
                    .config(config(1))
                    .data(train, null)
                    .checkpointDir(dir)
                    .fit();
        }
        assertTrue(!Files.exists(stale1) && !Files.exists(stale2), "unfinished checkpoint writes removed");
        assertTrue(Files.exists(other), "files that are not ours are left alone");
        assertTrue(Files.exists(dir.resolve(Trainer.LAST)));
    }
}

package org.arunet.train;

import static org.arunet.train.TrainTestSupport.assertSameState;
import static org.arunet.train.TrainTestSupport.config;
import static org.arunet.train.TrainTestSupport.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.testing.SyntheticData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trainer on synthetic data with a small ARU-Net on the CPU backend. */
class TrainerTest {
    @TempDir
    Path dir;

    private static ArUNet model(Backend be, long seed) {
        return new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, seed);
    }

    @Test
    void resumingAfterAnInterruptionMidEpochReproducesAnUninterruptedRun() {
        Map<String, byte[]> uninterrupted;
        List<EpochSummary> fullHistory;
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData train = new SyntheticData(6, 32, 3, 11);
                SyntheticData val = new SyntheticData(2, 32, 3, 12)) {
            TrainingResult r = Trainer.on(net)
                    .config(config(3))
                    .data(train, val)
                    .checkpointDir(dir.resolve("a"))
                    .fit();
            uninterrupted = snapshot(net);
            fullHistory = r.history();
        }
        // Run B dies in the middle of its second epoch (a crash after epoch 1's checkpoint).
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData train = new SyntheticData(6, 32, 3, 11);
                SyntheticData val = new SyntheticData(2, 32, 3, 12)) {
            RuntimeException crash = assertThrows(RuntimeException.class, () -> Trainer.on(net)
                    .config(config(3))
                    .data(train, val)
                    .checkpointDir(dir.resolve("b"))
                    .listener(new TrainingListener() {
                        @Override
                        public void onBatch(int epoch, int batch, int batches, double loss, double ips) {
                            if (epoch == 1 && batch == 2) {
                                throw new IllegalStateException("simulated crash");
                            }
                        }
                    })
                    .fit());
            assertEquals("simulated crash", crash.getMessage());
        }
        // A fresh process (other initial weights even) resumes from the last checkpoint.
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 999);
                SyntheticData train = new SyntheticData(6, 32, 3, 11);
                SyntheticData val = new SyntheticData(2, 32, 3, 12)) {
            List<Integer> started = new java.util.ArrayList<>();
            TrainingResult r = Trainer.on(net)
                    .config(config(3))
                    .data(train, val)
                    .checkpointDir(dir.resolve("b"))
                    .resume(true)
                    .listener(new TrainingListener() {
                        @Override
                        public void onStart(int startEpoch, int epochs, int batches) {
                            started.add(startEpoch);
                        }
                    })
                    .fit();
            assertEquals(List.of(1), started, "resumed at the epoch after the last checkpoint");
            assertSameState(uninterrupted, snapshot(net));
            assertEquals(3, r.history().size());
            for (int e = 0; e < 3; e++) {
                assertEquals(fullHistory.get(e).trainLoss(), r.history().get(e).trainLoss(), 0.0, "epoch " + e);
                assertEquals(fullHistory.get(e).valLoss(), r.history().get(e).valLoss(), 0.0, "epoch " + e);
            }
        }
    }

    @Test
    void sameSeedSameResultOtherSeedOtherResult() {
        Map<String, byte[]> a;
        Map<String, byte[]> b;
        Map<String, byte[]> c;
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData d = new SyntheticData(4, 32, 3, 1)) {
            Trainer.on(net).config(config(2)).data(d, null).fit();
            a = snapshot(net);
        }
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData d = new SyntheticData(4, 32, 3, 1)) {
            Trainer.on(net).config(config(2)).data(d, null).fit();
            b = snapshot(net);
        }
        // Another data seed (other shuffling and flips), same initial weights.
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData d = new SyntheticData(4, 32, 3, 1).reseed(2)) {
            Trainer.on(net).config(config(2)).data(d, null).fit();
            c = snapshot(net);
        }
        assertSameState(a, b);
        assertFalse(java.util.Arrays.equals(a.get("head.weight"), c.get("head.weight")), "seed changes the run");
    }

    @Test
    void learnsTheSyntheticTask() {
        try (Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(8), Init.Scheme.AUTHORS, 3);
                SyntheticData train = new SyntheticData(16, 32, 3, 21);
                SyntheticData val = new SyntheticData(4, 32, 3, 22)) {
            TrainingResult r = Trainer.on(net)
                    .config(config(15).withBatchSize(4).withLearningRate(3e-3f))
                    .data(train, val)
                    .fit();
            EpochSummary first = r.history().get(0);
            EpochSummary last = r.history().get(r.history().size() - 1);
            assertTrue(last.trainLoss() < 0.7 * first.trainLoss(), "training loss fell: " + r.history());
            assertTrue(last.valDice() > 0.7, "validation Dice " + last.valDice());
        }
    }

    @Test
    void earlyStoppingKeepsTheBestCheckpoint() throws IOException {
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData train = new SyntheticData(4, 32, 3, 1);
                SyntheticData val = new SyntheticData(2, 32, 3, 2)) {
            // With an enormous minimum improvement only the first epoch ever counts as "better".
            TrainingResult r = Trainer.on(net)
                    .config(config(10).withPatience(2).withMinDelta(1e9))
                    .data(train, val)
                    .checkpointDir(dir)
                    .fit();
            assertTrue(r.stoppedEarly());
            assertEquals(3, r.history().size(), "1 improving epoch + 2 of patience");
            assertEquals(0, r.bestEpoch());
            try (SafeTensors.Reader best = Checkpoint.open(r.bestCheckpoint());
                    SafeTensors.Reader last = Checkpoint.open(r.lastCheckpoint())) {
                assertEquals("0", best.metadata().get("epoch"));
                assertEquals("2", last.metadata().get("epoch"));
                assertFalse(
                        best.entries().keySet().stream().anyMatch(k -> k.startsWith("optim.")),
                        "best checkpoint holds the model only");
                assertTrue(last.entries().containsKey("optim.m.head.weight"));
            }
        }
    }

    @Test
    void nonFiniteLossStopsAndKeepsTheLastGoodCheckpoint() throws IOException {
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData train = new SyntheticData(4, 32, 3, 1).nanFromEpoch(1)) {
            NonFiniteLossException e = assertThrows(NonFiniteLossException.class, () -> Trainer.on(net)
                    .config(config(3))
                    .data(train, null)
                    .checkpointDir(dir)
                    .fit());
            assertTrue(e.getMessage().contains("epoch 2") && e.getMessage().contains("synthetic_"), e.getMessage());
            try (SafeTensors.Reader last = Checkpoint.open(dir.resolve(Trainer.LAST))) {
                assertEquals("0", last.metadata().get("epoch"));
                float[] w = last.readFloats("model.head.weight");
                for (float v : w) {
                    assertTrue(Float.isFinite(v));
                }
            }
        }
    }

    @Test
    void checkpointReloadsTheSameModel() throws IOException {
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData d = new SyntheticData(4, 32, 3, 1)) {
            Trainer.on(net).config(config(1)).data(d, null).checkpointDir(dir).fit();
            try (SegmentationModel back = Checkpoint.loadModel(dir.resolve(Trainer.LAST), be)) {
                assertEquals(net.architecture(), back.architecture());
                assertSameState(snapshot(net), snapshot(back));
            }
            Map<String, String> meta;
            try (SafeTensors.Reader r = Checkpoint.open(dir.resolve(Trainer.LAST))) {
                meta = r.metadata();
            }
            for (String k : new String[] {
                "format",
                "format_version",
                "architecture",
                "trainer",
                "epoch",
                "optimizer_steps",
                "history",
                "provenance"
            }) {
                assertTrue(meta.containsKey(k), "metadata lacks " + k);
            }
            assertEquals("2", meta.get("optimizer_steps"), "4 images, batch 2");
            // The checkpoint of another architecture does not load into this one.
            try (ArUNet other = new ArUNet(be, ArUNetConfig.paper().withWidth(8), Init.Scheme.AUTHORS, 0)) {
                java.io.UncheckedIOException e =
                        assertThrows(java.io.UncheckedIOException.class, () -> Trainer.on(other)
                                .config(config(2))
                                .data(d, null)
                                .checkpointDir(dir)
                                .resume(true)
                                .fit());
                assertTrue(
                        e.getMessage().contains("architecture")
                                && e.getMessage().contains(Trainer.LAST),
                        e.getMessage());
            }
            // A truncated checkpoint is refused with the file named.
            byte[] all = Files.readAllBytes(dir.resolve(Trainer.LAST));
            Path cut = dir.resolve("cut.safetensors");
            Files.write(cut, java.util.Arrays.copyOf(all, all.length / 2));
            IOException e = assertThrows(IOException.class, () -> Checkpoint.loadModel(cut, be));
            assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
        }
    }

    @Test
    void learningRateScheduleFollowsTheAuthorsCode() {
        TrainerConfig c = TrainerConfig.paper();
        assertEquals(1e-5f, c.learningRateAt(0), 1e-12);
        assertEquals(1e-4f * (0.1f + 0.9f / 9), c.learningRateAt(1), 1e-9);
        assertEquals(1e-4f, c.learningRateAt(3), 1e-12, "cosine starts at the peak");
        assertEquals(8, c.flatEpochs());
        assertEquals(1e-6f, c.learningRateAt(150 - 8 - 1), 1e-12, "cosine ends at the floor");
        assertEquals(1e-6f, c.learningRateAt(149), 1e-12);
        for (int e = 4; e < 150; e++) {
            assertTrue(c.learningRateAt(e) <= c.learningRateAt(e - 1), "non-increasing after warm-up at " + e);
        }
    }

    @Test
    void focalTverskyTrainingReducesItsLoss() {
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 3);
                SyntheticData d = new SyntheticData(8, 32, 3, 21)) {
            TrainingResult r = Trainer.on(net)
                    .config(config(6).withBatchSize(4).withLoss(LossKind.FOCAL_TVERSKY))
                    .data(d, null)
                    .fit();
            assertTrue(
                    r.history().get(5).trainLoss() < r.history().get(0).trainLoss(),
                    r.history().toString());
        }
    }

    @Test
    void incompatibleDataIsRefused() {
        try (Backend be = Backends.cpu(2);
                ArUNet net = model(be, 1);
                SyntheticData grey = new SyntheticData(2, 32, 1, 1);
                SyntheticData odd = new SyntheticData(2, 40, 3, 1)) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> Trainer.on(net).data(grey, null).fit());
            assertTrue(e.getMessage().contains("1 channels"), e.getMessage());
            e = assertThrows(
                    IllegalArgumentException.class,
                    () -> Trainer.on(net).data(odd, null).fit());
            assertTrue(e.getMessage().contains("40"), e.getMessage());
        }
    }
}

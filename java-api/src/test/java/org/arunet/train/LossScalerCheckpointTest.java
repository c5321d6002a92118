package org.arunet.train;

import static org.arunet.train.TrainTestSupport.assertSameState;
import static org.arunet.train.TrainTestSupport.config;
import static org.arunet.train.TrainTestSupport.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.arunet.tensor.Tensor;
import org.arunet.testing.SyntheticData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fp16 loss scaler's state in checkpoints: a resumed mixed-precision run must go on with the
 * scale it had (a fresh 65,536 would skip or take other steps than the uninterrupted run), old
 * checkpoints without it must still resume, malformed records are refused naming the file and the
 * field, and the CPU, which trains in fp32, ignores it.
 *
 * <p>On the CPU no backend gets a scaler ({@link LossScaler#forBackend}), so the trainer's tests give
 * it one through {@link Trainer#lossScaling}, and make its skips depend on the scale as in float16: the
 * model below turns every weight-gradient element beyond float16's largest value (65,504) into an
 * infinity, which is what a float16 backward pass would have produced. The scaler, the trainer's skip
 * rule, checkpoint writing and resuming are the real ones.
 */
class LossScalerCheckpointTest {
    @TempDir
    Path dir;

    /** Largest finite float16. */
    private static final float HALF_MAX = 65504f;

    // ------------------------------------------------------------------ the state in a file

    /** Sets every gradient to {@code scale} times fixed random values, one element +Inf if asked. */
    private static void gradients(List<Parameter> params, long seed, float scale, boolean overflow) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (Parameter p : params) {
            float[] g = new float[(int) p.grad().numel()];
            for (int j = 0; j < g.length; j++) {
                g[j] = (float) rng.nextGaussian() * scale;
            }
            p.grad().copyFrom(g);
        }
        if (overflow) {
            Parameter last = params.get(params.size() - 1);
            float[] g = last.grad().toFloatArray();
            g[g.length / 2] = Float.POSITIVE_INFINITY;
            last.grad().copyFrom(g);
        }
    }

    /** Steps with an overflow where {@code pattern} has 'x' and finite gradients where it has '.'. */
    private static void drive(LossScaler scaler, List<Parameter> params, String pattern) {
        for (int i = 0; i < pattern.length(); i++) {
            gradients(params, i, scaler.scale(), pattern.charAt(i) == 'x');
            boolean finite = Double.isFinite(scaler.unscale(params));
            assertEquals(pattern.charAt(i) == '.', finite, "step " + i + " of " + pattern);
        }
    }

    @Test
    void theStateRoundTripsThroughACheckpointAndTheRestoredScalerGoesOnIdentically() throws IOException {
        try (Backend be = Backends.cpu(1);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.PYTORCH, 3)) {
            List<Parameter> params = net.parameters();
            LossScaler scaler = new LossScaler(be, 1024f, 2f, 0.5f, 3);
            drive(scaler, params, "x...x..x..");
            LossScaler.State before = scaler.state();
            assertEquals(new LossScaler.State(256f, 2, 3, 2f, 0.5f, 3), before);

            Path f = dir.resolve("scaler.safetensors");
            Checkpoint.save(f, net, null, scaler, Map.of());
            LossScaler.State read;
            try (SafeTensors.Reader r = Checkpoint.open(f)) {
                assertEquals(
                        "{\"scale\":\"256.0\",\"good_steps\":\"2\",\"skipped_steps\":\"3\",\"growth_factor\":"
                                + "\"2.0\",\"backoff_factor\":\"0.5\",\"growth_interval\":\"3\"}",
                        r.metadata().get(Checkpoint.LOSS_SCALER),
                        "the recorded form");
                read = Checkpoint.lossScaler(r);
            }
            assertEquals(before, read);

            // The restored scaler and the original one go through the same steps in lock step; a
            // fresh one (what resuming did before) does not.
            LossScaler restored = LossScaler.restore(be, read);
            LossScaler fresh = new LossScaler(be, 1024f, 2f, 0.5f, 3);
            String next = ".x...x.";
            for (int i = 0; i < next.length(); i++) {
                String step = next.substring(i, i + 1);
                drive(scaler, params, step);
                drive(restored, params, step);
                assertEquals(scaler.state(), restored.state(), "after step " + i + " of the continuation");
            }
            assertEquals(new LossScaler.State(256f, 1, 5, 2f, 0.5f, 3), restored.state());
            drive(fresh, params, next);
            assertNotEquals(restored.state(), fresh.state(), "a fresh scaler would not have continued the run");
        }
    }

    @Test
    void scalesThatAreNotPowersOfTwoAreRecordedExactly() throws IOException {
        try (Backend be = Backends.reference();
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(2), Init.Scheme.PYTORCH, 1)) {
            for (float scale : new float[] {0.1f, Math.nextUp(65536f), Float.MIN_VALUE, Float.MAX_VALUE, 3e-7f}) {
                LossScaler.State s =
                        new LossScaler.State(scale, 1999, Long.MAX_VALUE, Math.nextUp(1f), Math.nextDown(1f), 2000);
                Path f = dir.resolve("exact.safetensors");
                Checkpoint.save(f, net, null, LossScaler.restore(be, s), Map.of());
                try (SafeTensors.Reader r = Checkpoint.open(f)) {
                    assertEquals(s, Checkpoint.lossScaler(r));
                }
            }
        }
    }

    @Test
    void aCheckpointWithoutScalerStateIsStillValid() throws IOException {
        try (Backend be = Backends.reference();
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(2), Init.Scheme.PYTORCH, 1)) {
            Path f = dir.resolve("old.safetensors");
            Checkpoint.save(f, net, null, Map.of("epoch", "0"));
            try (SafeTensors.Reader r = Checkpoint.open(f)) {
                assertFalse(r.metadata().containsKey(Checkpoint.LOSS_SCALER));
                assertNull(Checkpoint.lossScaler(r));
            }
        }
    }

    /** Malformed records: (JSON, the field the message must name). */
    private static final List<String[]> MALFORMED = List.of(
            new String[] {"{\"scale\":\"abc\"", "loss_scaler"},
            new String[] {"[1, 2]", "loss_scaler"},
            new String[] {"null", "loss_scaler"},
            new String[] {"{\"scale\":{\"a\":\"1\"}}", "loss_scaler"},
            new String[] {record("scale", "abc"), "loss_scaler.scale"},
            new String[] {record("scale", "NaN"), "loss_scaler.scale"},
            new String[] {record("scale", "Infinity"), "loss_scaler.scale"},
            new String[] {record("scale", "1e39"), "loss_scaler.scale"},
            new String[] {record("scale", "0"), "loss_scaler.scale"},
            new String[] {record("scale", "1e-50"), "loss_scaler.scale"},
            new String[] {record("scale", "-65536"), "loss_scaler.scale"},
            new String[] {record("good_steps", "2000"), "loss_scaler.good_steps"},
            new String[] {record("good_steps", "-1"), "loss_scaler.good_steps"},
            new String[] {record("good_steps", "1.5"), "loss_scaler.good_steps"},
            new String[] {record("good_steps", ""), "loss_scaler.good_steps"},
            new String[] {record("skipped_steps", "-3"), "loss_scaler.skipped_steps"},
            new String[] {record("skipped_steps", "99999999999999999999"), "loss_scaler.skipped_steps"},
            new String[] {record("growth_factor", "1"), "loss_scaler.growth_factor"},
            new String[] {record("backoff_factor", "1"), "loss_scaler.backoff_factor"},
            new String[] {record("backoff_factor", "0"), "loss_scaler.backoff_factor"},
            new String[] {record("growth_interval", "0"), "loss_scaler.growth_interval"},
            new String[] {record("growth_interval", "2147483648"), "loss_scaler.growth_interval"},
            new String[] {record("growth_interval", null), "loss_scaler.growth_interval"},
            new String[] {record("scale", null), "loss_scaler.scale"});

    /** A valid record with one field changed (null: removed). */
    private static String record(String field, String value) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("scale", "65536.0");
        m.put("good_steps", "12");
        m.put("skipped_steps", "3");
        m.put("growth_factor", "2.0");
        m.put("backoff_factor", "0.5");
        m.put("growth_interval", "2000");
        if (value == null) {
            m.remove(field);
        } else {
            m.put(field, value);
        }
        return Checkpoint.toJson(m);
    }

    @Test
    void aMalformedRecordIsRefusedNamingTheFileAndTheField() throws IOException {
        try (Backend be = Backends.reference();
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(2), Init.Scheme.PYTORCH, 1)) {
            Path f = dir.resolve("bad.safetensors");
            Checkpoint.save(f, net, null, Map.of(Checkpoint.LOSS_SCALER, record("good_steps", "1999")));
            try (SafeTensors.Reader r = Checkpoint.open(f)) {
                assertEquals(1999, Checkpoint.lossScaler(r).goodSteps(), "the unchanged record is valid");
            }
            for (String[] c : MALFORMED) {
                Checkpoint.save(f, net, null, Map.of(Checkpoint.LOSS_SCALER, c[0]));
                try (SafeTensors.Reader r = Checkpoint.open(f)) {
                    IOException e = assertThrows(IOException.class, () -> Checkpoint.lossScaler(r), c[0]);
                    assertTrue(
                            e.getMessage().startsWith(f.toString())
                                    && e.getMessage().contains(c[1]),
                            c[0] + ": " + e.getMessage());
                }
            }
        }
    }

    // ------------------------------------------------------------------ the trainer

    /** The wrapped network, with float16's range on the weight gradients (beyond it: infinity). */
    private static final class HalfRangeGradients extends WrappedModel {
        HalfRangeGradients(Backend be, ArUNet net) {
            super(be, net);
        }

        @Override
        protected void afterBackward() {
            for (Parameter p : net.parameters()) {
                float[] g = p.grad().toFloatArray();
                boolean overflow = false;
                for (int i = 0; i < g.length; i++) {
                    if (Math.abs(g[i]) > HALF_MAX) {
                        g[i] = Math.copySign(Float.POSITIVE_INFINITY, g[i]);
                        overflow = true;
                    }
                }
                if (overflow) {
                    p.grad().copyFrom(g);
                }
            }
        }
    }

    /**
     * The scaler of these runs: it starts at 2^18, where this model's gradients overflow float16, and
     * grows every 3 finite steps, so that over 3 epochs of 3 steps it skips a step every few steps
     * (and a resumed run starting again at 2^18 would skip other steps).
     */
    private static LossScaler scaler(Backend be, List<LossScaler> made) {
        LossScaler s = new LossScaler(be, 1 << 18, 2f, 0.5f, 3);
        made.add(s);
        return s;
    }

    private static LossScaler.State recorded(Path checkpoint) throws IOException {
        try (SafeTensors.Reader r = Checkpoint.open(checkpoint)) {
            return Checkpoint.lossScaler(r);
        }
    }

    /** What {@code run} writes to standard error (slf4j-simple's log), also passed on to it. */
    private static String stderrOf(Runnable run) {
        PrintStream original = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            run.run();
        } finally {
            System.setErr(original);
        }
        String s = buf.toString(StandardCharsets.UTF_8);
        original.print(s);
        return s;
    }

    /** The training runs of these tests: the synthetic set of TrainerTest, 3 steps an epoch, 2 threads. */
    private static void withModel(long seed, Consumer<HalfRangeGradients> body) {
        try (Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, seed);
                HalfRangeGradients m = new HalfRangeGradients(be, net)) {
            body.accept(m);
        }
    }

    private static SyntheticData train() {
        return new SyntheticData(6, 32, 3, 11);
    }

    @Test
    void aResumedMixedPrecisionRunEqualsTheUninterruptedOne() throws IOException {
        List<LossScaler> made = new ArrayList<>();
        List<Long> skippedAfterEachStep = new ArrayList<>();
        List<Map<String, byte[]>> uninterrupted = new ArrayList<>();
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                Trainer.on(m)
                        .config(config(3))
                        .data(d, null)
                        .checkpointDir(dir.resolve("a"))
                        .lossScaling(be -> scaler(be, made))
                        .listener(new TrainingListener() {
                            @Override
                            public void onBatch(int epoch, int batch, int batches, double loss, double ips) {
                                skippedAfterEachStep.add(made.get(0).skippedSteps());
                            }
                        })
                        .fit();
            }
            uninterrupted.add(snapshot(m));
        });
        LossScaler.State full = recorded(dir.resolve("a").resolve(Trainer.LAST));
        assertEquals(made.get(0).state(), full, "the last checkpoint holds the scaler's final state");
        assertEquals(9, skippedAfterEachStep.size());
        assertTrue(
                skippedAfterEachStep.get(2) > 0 && full.skippedSteps() > skippedAfterEachStep.get(2),
                "steps were skipped both before and after the end of epoch 1: " + skippedAfterEachStep);

        // Run B dies in the middle of its second epoch.
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                RuntimeException crash = assertThrows(RuntimeException.class, () -> Trainer.on(m)
                        .config(config(3))
                        .data(d, null)
                        .checkpointDir(dir.resolve("b"))
                        .lossScaling(be -> scaler(be, new ArrayList<>()))
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
        });
        Path last = dir.resolve("b").resolve(Trainer.LAST);
        LossScaler.State atCrash = recorded(last);
        assertNotEquals(
                new LossScaler(Backends.reference(), 1 << 18, 2f, 0.5f, 3).state(),
                atCrash,
                "the checkpoint's scaler state differs from a fresh one (else this test could not fail)");

        // A fresh process (other initial weights even) resumes: same parameters, same scaler state.
        withModel(999, m -> {
            try (SyntheticData d = train()) {
                String log = stderrOf(() -> Trainer.on(m)
                        .config(config(3))
                        .data(d, null)
                        .checkpointDir(dir.resolve("b"))
                        .resume(true)
                        .lossScaling(be -> scaler(be, new ArrayList<>()))
                        .fit());
                assertTrue(log.contains("loss scale restored from " + last + ": " + atCrash.scale()), log);
            }
            assertSameState(uninterrupted.get(0), snapshot(m));
        });
        assertEquals(full, recorded(last));
    }

    @Test
    void anFp16CheckpointResumedOnTheCpuIgnoresTheScale() throws IOException {
        Path fp16 = dir.resolve("fp16");
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                Trainer.on(m)
                        .config(config(1))
                        .data(d, null)
                        .checkpointDir(fp16)
                        .lossScaling(be -> scaler(be, new ArrayList<>()))
                        .fit();
            }
        });
        LossScaler.State s = recorded(fp16.resolve(Trainer.LAST));
        assertTrue(s != null && s.skippedSteps() > 0, "the fp16 run skipped steps: " + s);
        Path stripped = dir.resolve("stripped");
        rewriteMetadata(
                fp16.resolve(Trainer.LAST),
                stripped.resolve(Trainer.LAST),
                meta -> meta.remove(Checkpoint.LOSS_SCALER));

        // The CPU trains in fp32 (no scaler): it resumes the fp16 checkpoint exactly as the same
        // checkpoint without the scaler's state, and says so.
        List<Map<String, byte[]>> results = new ArrayList<>();
        for (Path folder : List.of(fp16, stripped)) {
            withModel(999, m -> {
                try (SyntheticData d = train()) {
                    String log = stderrOf(() -> Trainer.on(m)
                            .config(config(2))
                            .data(d, null)
                            .checkpointDir(folder)
                            .resume(true)
                            .fit());
                    assertEquals(
                            folder == fp16,
                            log.contains(folder.resolve(Trainer.LAST)
                                    + " holds the loss scale of fp16 mixed-precision training (" + s.scale()
                                    + "); ignored"),
                            log);
                }
                results.add(snapshot(m));
            });
        }
        assertSameState(results.get(1), results.get(0));
        assertNull(recorded(fp16.resolve(Trainer.LAST)), "fp32 training records no loss scale");

        // A malformed record is refused even though the CPU would not use it: the file is damaged.
        Path bad = dir.resolve("bad");
        rewriteMetadata(
                stripped.resolve(Trainer.LAST),
                bad.resolve(Trainer.LAST),
                meta -> meta.put(Checkpoint.LOSS_SCALER, record("scale", "-1")));
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> Trainer.on(m)
                        .config(config(2))
                        .data(d, null)
                        .checkpointDir(bad)
                        .resume(true)
                        .fit());
                assertTrue(
                        e.getMessage().contains(bad.resolve(Trainer.LAST).toString())
                                && e.getMessage().contains("loss_scaler.scale"),
                        e.getMessage());
            }
        });
    }

    @Test
    void aCheckpointWithoutTheScaleResumedInFp16StartsItAfreshAndSaysSo() throws IOException {
        Path old = dir.resolve("old");
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                Trainer.on(m).config(config(1)).data(d, null).checkpointDir(old).fit();
            }
        });
        assertNull(recorded(old.resolve(Trainer.LAST)), "fp32 training records no loss scale");
        List<LossScaler> made = new ArrayList<>();
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                String log = stderrOf(() -> Trainer.on(m)
                        .config(config(2))
                        .data(d, null)
                        .checkpointDir(old)
                        .resume(true)
                        .lossScaling(be -> scaler(be, made))
                        .fit());
                assertTrue(
                        log.contains(old.resolve(Trainer.LAST) + " holds no loss scale")
                                && log.contains("the loss scale starts again at " + (float) (1 << 18)),
                        log);
            }
        });
        assertEquals(1, made.size());
        LossScaler.State s = recorded(old.resolve(Trainer.LAST));
        assertEquals(made.get(0).state(), s, "the fresh scaler trained epoch 2 and was saved");
        assertTrue(s.skippedSteps() + s.goodSteps() > 0, s.toString());

        // A malformed record is refused with the file and the field named.
        Path bad = dir.resolve("bad");
        rewriteMetadata(
                old.resolve(Trainer.LAST),
                bad.resolve(Trainer.LAST),
                meta -> meta.put(Checkpoint.LOSS_SCALER, record("good_steps", "2000")));
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> Trainer.on(m)
                        .config(config(3))
                        .data(d, null)
                        .checkpointDir(bad)
                        .resume(true)
                        .lossScaling(be -> scaler(be, made))
                        .fit());
                assertTrue(
                        e.getMessage().contains(bad.resolve(Trainer.LAST).toString())
                                && e.getMessage().contains("loss_scaler.good_steps is '2000'"),
                        e.getMessage());
            }
        });
    }

    @Test
    void aResumedRunKeepsTheRecordedScalerSettings() throws IOException {
        Path run = dir.resolve("run");
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                Trainer.on(m)
                        .config(config(1))
                        .data(d, null)
                        .checkpointDir(run)
                        .lossScaling(be -> scaler(be, new ArrayList<>()))
                        .fit();
            }
        });
        assertEquals(3, recorded(run.resolve(Trainer.LAST)).growthInterval());
        // This trainer's scaler would grow every 2000 steps; the run it continues grew every 3.
        withModel(1, m -> {
            try (SyntheticData d = train()) {
                String log = stderrOf(() -> Trainer.on(m)
                        .config(config(2))
                        .data(d, null)
                        .checkpointDir(run)
                        .resume(true)
                        .lossScaling(be -> new LossScaler(be, 1 << 18, 2f, 0.5f, 2000))
                        .fit());
                assertTrue(
                        log.contains("continuing with the recorded loss-scaler settings (growth x2.0 every 3 finite "
                                + "steps, backoff x0.5), not growth x2.0 every 2000"),
                        log);
            }
        });
        assertEquals(3, recorded(run.resolve(Trainer.LAST)).growthInterval());
    }

    /** Copies a checkpoint with its metadata changed by {@code edit}. */
    private static void rewriteMetadata(Path from, Path to, Consumer<Map<String, String>> edit) throws IOException {
        Files.createDirectories(to.getParent());
        try (SafeTensors.Reader r = Checkpoint.open(from)) {
            Map<String, String> meta = new LinkedHashMap<>(r.metadata());
            edit.accept(meta);
            Map<String, Tensor> tensors = Checkpoint.readAll(r, "");
            try {
                SafeTensors.write(to, new LinkedHashMap<>(tensors), meta);
            } finally {
                tensors.values().forEach(Tensor::close);
            }
        }
    }
}

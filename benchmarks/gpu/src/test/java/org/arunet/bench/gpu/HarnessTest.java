package org.arunet.bench.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.arunet.backend.Precision;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.testkit.OpCase;
import org.arunet.testkit.OpCases;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness's GPU-side code paths without a GPU: expected results written by the CPU backend and
 * read back, the parity run (on the reference backend standing in for CUDA), a deliberately wrong
 * expectation caught, a backend that cannot be created reported per case, PyTorch AMP's gradient spread
 * read (or the calibration it falls back to) and applied to the model case, and the throughput loop at a
 * tiny size.
 */
class HarnessTest {

    private static List<OpCase> someCases() {
        return OpCases.all().stream()
                .filter(c -> Set.of("basics", "linear", "loss", "adam").contains(c.group())
                        || c.group().equals("conv2d") && c.name().contains("conv(16->32"))
                .collect(Collectors.toList());
    }

    @Test
    void expectedResultsRoundTripAndParityPasses(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("expected.safetensors");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(buf, true, StandardCharsets.UTF_8);
        try (CpuBackend cpu = new CpuBackend(2)) {
            ExpectedResults.write(file, someCases(), cpu, log);
        }
        ParityRun run = new ParityRun(file, null, p -> new ReferenceBackend(), log);
        run.run(Precision.F32, Set.of("basics", "linear", "loss", "adam", "conv2d"), Set.of(), false);
        List<ParityRun.CaseOutcome> ran = run.outcomes;
        // conv2d cases not in the file are reported as failures, the others pass
        long missing = ran.stream()
                .filter(o -> !o.pass())
                .filter(o -> o.error() != null && o.error().contains("not in the expected-results file"))
                .count();
        long passed = ran.stream().filter(ParityRun.CaseOutcome::pass).count();
        assertEquals(someCases().size(), passed, buf.toString(StandardCharsets.UTF_8));
        assertEquals(ran.size() - passed, missing, "every failure is a case missing from the file");
        assertTrue(run.notRun.isEmpty());
    }

    @Test
    void aBackendThatCannotStartFailsEveryCaseWithTheReason(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("expected.safetensors");
        PrintStream log = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        try (CpuBackend cpu = new CpuBackend(1)) {
            ExpectedResults.write(file, someCases().subList(0, 2), cpu, log);
        }
        ParityRun run = new ParityRun(
                file,
                null,
                p -> {
                    throw new IllegalStateException("no GPU here");
                },
                log);
        run.run(Precision.F16, Set.of("basics"), Set.of(), false);
        assertFalse(run.outcomes.isEmpty());
        assertTrue(run.outcomes.stream().noneMatch(ParityRun.CaseOutcome::pass));
        assertTrue(run.outcomes.get(0).error().contains("no GPU here"));
    }

    /** An amp_gradient_spread.py --json document: bf16 measured with these errors, fp16 skipped. */
    private static String spreadJson(double a, double b, double c) {
        return "{\"torch\": \"2.11.0\", \"device\": \"cuda\", \"gpu\": \"NVIDIA H200\", \"precisions\": {"
                + "\"fp32\": {\"median\": 0.1, \"errors\": {\"a\": 0.1}},"
                + "\"bf16\": {\"median\": " + b + ", \"errors\": {\"a\": " + a + ", \"b\": " + b + ", \"c\": " + c
                + "}}},"
                + "\"skipped\": {\"fp16\": \"RuntimeError: no fp16 autocast here\"}}";
    }

    @Test
    void ampSpreadsAreReadOrFallBackToTheCalibrationSayingWhy(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("amp.json");
        Files.writeString(file, spreadJson(0.4, 0.5, 1.5));
        AmpSpreads s = AmpSpreads.read(file);
        assertTrue(s.isMeasured(Precision.BF16));
        assertEquals(0.5, s.spread(Precision.BF16).median(), 1e-12);
        assertEquals("c", s.spread(Precision.BF16).worstParameter());
        assertTrue(
                s.describe(Precision.BF16).contains("measured in this run: PyTorch 2.11.0 autocast on cuda"),
                s.describe(Precision.BF16));
        assertFalse(s.isMeasured(Precision.F16));
        assertEquals(0.179, s.spread(Precision.F16).median(), 1e-12);
        String fp16 = s.describe(Precision.F16);
        assertTrue(fp16.contains("FALLBACK to the H200 calibration") && fp16.contains("no fp16 autocast here"), fp16);

        AmpSpreads none = AmpSpreads.read(dir.resolve("missing.json"));
        assertFalse(none.isMeasured(Precision.BF16));
        assertTrue(none.describe(Precision.BF16).contains("missing.json not found"), none.describe(Precision.BF16));
        Files.writeString(dir.resolve("bad.json"), "{\"precisions\": ");
        assertTrue(
                AmpSpreads.read(dir.resolve("bad.json")).describe(Precision.F16).contains("cannot read"));
        assertTrue(AmpSpreads.read(null).describe(Precision.BF16).contains("no --amp-spread file given"));
    }

    @Test
    void halfPrecisionModelGradientsAreJudgedAgainstTheSpread(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("expected.safetensors");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(buf, true, StandardCharsets.UTF_8);
        List<OpCase> model =
                OpCases.all().stream().filter(c -> c.group().equals("model")).collect(Collectors.toList());
        try (CpuBackend cpu = new CpuBackend(2)) {
            ExpectedResults.write(file, model, cpu, log);
        }
        // the reference backend computes in float32: its "bf16" gradients are as close as float32 gets, far
        // within PyTorch's spread; the "fp16" ones are judged against the calibration (fp16 skipped in the file)
        Path spread = dir.resolve("amp.json");
        Files.writeString(spread, spreadJson(0.4, 0.5, 1.5));
        ParityRun run = new ParityRun(file, null, p -> new ReferenceBackend(), log);
        run.ampSpreads = AmpSpreads.read(spread);
        run.run(Precision.BF16, Set.of("model"), Set.of(), false);
        run.run(Precision.F16, Set.of("model"), Set.of(), false);
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(2, run.outcomes.size(), out);
        assertTrue(run.outcomes.stream().allMatch(ParityRun.CaseOutcome::pass), out);
        assertEquals(2, run.ampChecks.size());
        assertTrue(run.ampChecks.get(0).measured() && !run.ampChecks.get(1).measured());
        assertTrue(out.contains("PASS model/") && out.contains(":: gradients vs PyTorch AMP: arunet median"), out);
        assertTrue(out.contains("FALLBACK to the H200 calibration"), out);

        // a spread far tighter than float32 rounding: the same gradients must now fail
        Files.writeString(spread, spreadJson(1e-9, 1e-9, 1e-9));
        buf.reset();
        ParityRun strict = new ParityRun(file, null, p -> new ReferenceBackend(), log);
        strict.ampSpreads = AmpSpreads.read(spread);
        strict.run(Precision.BF16, Set.of("model"), Set.of(), false);
        assertFalse(strict.outcomes.get(0).pass(), buf.toString(StandardCharsets.UTF_8));
        assertFalse(strict.ampChecks.get(0).verdict().pass());
        assertTrue(
                strict.failures().get(0).contains("model/"), strict.failures().toString());
    }

    @Test
    void throughputLoopRecordsResultsAndTheDeadline() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(buf, true, StandardCharsets.UTF_8);
        Throughput t = new Throughput(p -> new ReferenceBackend(), 16, 2, 0.01, 1, 0.5, log);
        List<Map<String, Object>> results = new java.util.ArrayList<>();
        t.run(Throughput.parseConfigs("fp32:infer:1,fp32:fused:1,fp32:train:2"), 1000, results::add);
        assertEquals(3, results.size(), buf.toString(StandardCharsets.UTF_8));
        assertEquals("fused", results.get(1).get("mode"));
        for (Map<String, Object> r : results) {
            assertEquals("ok", r.get("status"), r.toString());
            assertTrue(((Number) r.get("images_per_s")).doubleValue() > 0, r.toString());
        }
        results.clear();
        t.run(Throughput.parseConfigs("fp32:infer:1"), -1, results::add);
        assertEquals("skipped", results.get(0).get("status"));
    }

    @Test
    void opProfilePrintsATablePerConfiguration() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(buf, true, StandardCharsets.UTF_8);
        int status = OpProfileRun.run(
                c -> new ReferenceBackend(),
                Throughput.parseConfigs("fp32:infer:1,fp32:fused:1,fp32:train:2,fp32:graph:1"),
                16,
                2,
                2,
                1000,
                log);
        String text = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, text);
        for (String c : new String[] {"fp32:infer:1", "fp32:fused:1", "fp32:train:2"}) {
            assertTrue(text.contains("PROFILE " + c), text);
        }
        assertTrue(text.contains("SKIP profile fp32:graph:1"), text);
        assertTrue(text.contains("conv.fwd"), text);
        assertTrue(text.contains("conv.bwdWeights"), "the training step's table lists weight gradients:\n" + text);
        assertTrue(text.contains("conv.fused"), "the fused pass's table lists fused convolutions:\n" + text);
    }

    @Test
    void optionsAndConfigs() {
        assertEquals(Map.of("a", "1", "b", "x"), GpuHarness.options(new String[] {"--a", "1", "--b", "x"}));
        assertThrows(IllegalArgumentException.class, () -> GpuHarness.options(new String[] {"--a"}));
        assertEquals(
                List.of(
                        new Throughput.Config(Precision.F16, false, "train", 8),
                        new Throughput.Config(Precision.F32, true, "fused", 1)),
                Throughput.parseConfigs("fp16:train:8,tf32:fused:1"));
        assertEquals(
                "tf32:fusedgraph:2",
                Throughput.Config.parse("TF32:fusedgraph:2").toString());
        assertThrows(IllegalArgumentException.class, () -> Throughput.parseConfigs("fp16:fly:8"));
        assertThrows(IllegalArgumentException.class, () -> Throughput.parseConfigs("fp64:infer:8"));
        assertEquals(Set.of("a", "b"), GpuHarness.list(" a, b ,"));
    }
}

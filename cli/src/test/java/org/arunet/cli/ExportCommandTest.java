package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.cli.CliTest.Run;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.tensor.Transpose;
import org.arunet.train.Checkpoint;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arunet export} and {@code arunet bench --vs onnxruntime}, in process (ONNX Runtime is a test dependency). */
class ExportCommandTest {
    @TempDir
    static Path dir;

    static Path checkpoint;

    static final Map<String, String> PRE = Map.of(
            "image_size",
            "32",
            "channels",
            "3",
            "mean",
            "0.5",
            "std",
            "0.25",
            "resize",
            "area when shrinking, bilinear when enlarging");

    @BeforeAll
    static void makeCheckpoint() throws Exception {
        checkpoint = dir.resolve("tiny.safetensors");
        try (Backend be = Backends.cpu(2);
                SegmentationModel m =
                        new ArUNet(be, ArUNetConfig.paper().withWidth(4).withMixerDepth(2), Init.Scheme.PYTORCH, 3)) {
            Checkpoint.save(checkpoint, m, null, Map.of("preprocessing", new ObjectMapper().writeValueAsString(PRE)));
        }
    }

    @Test
    void bioimageioFormatWritesAPackageFromTheBundledSample() throws Exception {
        Path zip = dir.resolve("tiny.bioimageio.zip");
        Run r = CliTest.run(
                "export",
                "--model",
                checkpoint.toString(),
                "--format",
                "bioimageio",
                "--out",
                zip.toString(),
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(Files.size(zip), j.get("bytes").asLong());
        assertEquals(
                "[\"rdf.yaml\",\"weights.onnx\",\"test_input.npy\",\"test_output_logits.npy\","
                        + "\"test_output_probabilities.npy\",\"cover.png\",\"README.md\"]",
                j.get("files").toString());
        assertEquals("arunet tiny", j.get("rdf").get("name").asText());
        assertEquals("Apache-2.0", j.get("rdf").get("license").asText());
        assertEquals(
                3,
                j.get("rdf")
                        .get("inputs")
                        .get(0)
                        .get("axes")
                        .get(1)
                        .get("channel_names")
                        .size());

        Run again = CliTest.run(
                "export", "--model", checkpoint.toString(), "--format", "bioimageio", "--out", zip.toString());
        assertEquals(2, again.code(), "refuses to overwrite without --force");
        Run noOut = CliTest.run("export", "--model", checkpoint.toString(), "--format", "bioimageio");
        assertEquals(2, noOut.code());
        assertTrue(noOut.err().contains("--out FILE is required"), noOut.err());
        Run noOnnx = CliTest.run("export", "--model", checkpoint.toString());
        assertEquals(2, noOnnx.code());
        assertTrue(noOnnx.err().contains("--onnx FILE is required"), noOnnx.err());
    }

    @Test
    void exportWritesAnOnnxFileThatOnnxRuntimeRunsLikeUs() throws Exception {
        Path onnx = dir.resolve("tiny.onnx");
        Run r = CliTest.run("export", "--model", checkpoint.toString(), "--onnx", onnx.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(onnx.toString(), j.get("file").asText());
        assertEquals(Files.size(onnx), j.get("bytes").asLong());
        assertEquals(17, j.get("opset").asInt());
        assertEquals("aru-net", j.get("architecture").get("arch").asText());
        assertEquals("NCHW", j.get("input").get("layout").asText());
        assertEquals("[\"N\",3,\"H\",\"W\"]", j.get("input").get("shape").toString());
        assertEquals("[\"logits\"]", j.get("outputs").toString());
        assertEquals("0.25", j.get("preprocessing").get("std").asText());
        assertTrue(j.get("nodes").asInt() > 100, r.out());

        float[] x = new float[2 * 3 * 32 * 32];
        SplittableRandom rng = new SplittableRandom(4);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rng.nextGaussian();
        }
        float[] ours;
        try (Backend be = Backends.cpu(2);
                SegmentationModel m = Checkpoint.loadModel(checkpoint, be);
                Tensor t = Tensor.of(Transpose.nchwToNhwc(x, 2, 3, 32, 32), Layout.NHWC, 2, 32, 32, 3)) {
            m.eval();
            ours = Transpose.nhwcToNchw(m.forward(t).toFloatArray(), 2, 32, 32, 2);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions());
                OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {2, 3, 32, 32});
                OrtSession.Result out = s.run(Map.of("image", in))) {
            FloatBuffer y = ((OnnxTensor) out.get("logits").orElseThrow()).getFloatBuffer();
            assertEquals(ours.length, y.remaining());
            double max = 0;
            for (float v : ours) {
                max = Math.max(max, Math.abs(v));
            }
            for (int i = 0; i < ours.length; i++) {
                float v = y.get(i);
                assertTrue(
                        Math.abs(v - ours[i]) <= 1e-4 * (Math.abs(ours[i]) + 1e-2 * max),
                        "logit " + i + ": onnxruntime " + v + " vs ours " + ours[i]);
            }
            assertEquals(
                    new ObjectMapper().readTree(new ObjectMapper().writeValueAsString(PRE)),
                    new ObjectMapper()
                            .readTree(s.getMetadata().getCustomMetadata().get("preprocessing")));
        }
    }

    @Test
    void exportRefusesToOverwriteWithoutForceAndSaysWhatItWrote() throws Exception {
        Path onnx = dir.resolve("twice.onnx");
        Run first =
                CliTest.run("export", "--model", checkpoint.toString(), "--onnx", onnx.toString(), "--probabilities");
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().startsWith("wrote " + onnx), first.out());
        assertTrue(first.out().contains("probabilities"), first.out());
        assertTrue(first.out().contains("NCHW [N, 3, H, W]"), first.out());

        Run again = CliTest.run("export", "--model", checkpoint.toString(), "--onnx", onnx.toString());
        assertEquals(2, again.code(), again.err());
        assertTrue(again.err().contains("--force"), again.err());
        Run forced = CliTest.run("export", "--model", checkpoint.toString(), "--onnx", onnx.toString(), "--force");
        assertEquals(0, forced.code(), forced.err());

        Run folder = CliTest.run("export", "--model", checkpoint.toString(), "--onnx", dir.toString());
        assertEquals(2, folder.code());
        assertTrue(folder.err().contains("is a folder"), folder.err());
    }

    @Test
    void exportFailuresAreOneClearLine() throws Exception {
        Run missing = CliTest.run(
                "export",
                "--model",
                dir.resolve("none.safetensors").toString(),
                "--onnx",
                dir.resolve("x.onnx").toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("no such file"), missing.err());
        Path notCkpt = dir.resolve("junk.safetensors");
        Files.writeString(notCkpt, "not a checkpoint");
        Run junk = CliTest.run(
                "export",
                "--model",
                notCkpt.toString(),
                "--onnx",
                dir.resolve("y.onnx").toString());
        assertEquals(1, junk.code());
        assertFalse(junk.err().contains("\tat "), junk.err());
        assertFalse(Files.exists(dir.resolve("y.onnx")));
        Run noOut = CliTest.run("export", "--model", checkpoint.toString());
        assertEquals(2, noOut.code());
        assertTrue(noOut.err().contains("--onnx"), noOut.err());
    }

    @Test
    void exportHelpNamesBothFormats() {
        Run r = CliTest.run("export", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Usage: arunet export"), r.out());
        assertTrue(r.out().contains("--onnx=FILE"), r.out());
        assertTrue(r.out().contains("--json"), r.out());
        assertTrue(r.out().contains("--format=<format>") && r.out().contains("bioimageio"), r.out());
        assertTrue(CliTest.run("--help").out().contains("export"));
    }

    @Test
    void benchVsOnnxRuntimeEndsWithTheRatio() {
        Run r = CliTest.run(
                "bench",
                "--vs",
                "onnxruntime",
                "--image-size",
                "32",
                "--width",
                "4",
                "--iterations",
                "3",
                "--warmup",
                "1",
                "--threads",
                "2");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertTrue(lines[lines.length - 1].matches("ratio ours/onnxruntime: \\d+\\.\\d\\d"), r.out());
        assertTrue(r.out().contains("outputs agree"), r.out());
        assertTrue(r.out().contains("ours:") && r.out().contains("onnxruntime:"), r.out());
        assertTrue(r.out().contains("2 threads"), r.out());
    }

    @Test
    void benchVsOnnxRuntimeJson() throws Exception {
        Run r = CliTest.run(
                "bench",
                "--vs",
                "onnxruntime",
                "--image-size",
                "32",
                "--batch-size",
                "2",
                "--arch",
                "unet",
                "--width",
                "4",
                "--iterations",
                "2",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        double ours = j.get("ours").get("median_ms").asDouble();
        double ort = j.get("onnxruntime").get("median_ms").asDouble();
        assertTrue(ours > 0 && ort > 0, r.out());
        assertEquals(ours / ort, j.get("ratio_ours_over_onnxruntime").asDouble(), 1e-9);
        assertEquals(1, j.get("threads").asInt());
        assertEquals("[2,3,32,32]", j.get("input").toString());
        assertTrue(j.get("max_rel_diff").asDouble() < 1e-4, r.out());
        assertTrue(j.get("onnxruntime_version").asText().startsWith("1."), r.out());
    }

    @Test
    void benchVsRejectsWhatItCannotCompare() {
        Run unknown = CliTest.run("bench", "--vs", "tensorrt");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown engine"), unknown.err());
        Run train = CliTest.run("bench", "--vs", "onnxruntime", "--train");
        assertEquals(2, train.code());
        Run gpu = CliTest.run("bench", "--vs", "onnxruntime", "--device", "cuda");
        assertEquals(2, gpu.code());
        assertTrue(gpu.err().contains("--device cpu"), gpu.err());
    }

    /** Without ONNX Runtime on the class path the comparison is refused with directions, not a linkage error. */
    @Test
    void onnxRuntimeIsFoundByNameOnly() throws Exception {
        assertTrue(OnnxRuntimeBench.available(getClass().getClassLoader()));
        try (URLClassLoader bare = new URLClassLoader(new URL[0], null)) {
            assertFalse(OnnxRuntimeBench.available(bare));
        }
        assertTrue(OnnxRuntimeBench.missingMessage().contains("cli/target/onnxruntime"));
    }
}

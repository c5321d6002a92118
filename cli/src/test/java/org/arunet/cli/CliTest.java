package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The commands end to end on a tiny dataset, in process: train, info, eval, predict, split; usage errors. */
class CliTest {
    @TempDir
    static Path dir;

    static Path data;

    /** Exit code, stdout and stderr of one command. */
    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** Twelve 40 x 40 grey images with a bright disc, and their masks, in images/ + masks/. */
    @BeforeAll
    static void makeData() throws IOException {
        data = dir.resolve("data");
        Files.createDirectories(data.resolve("images"));
        Files.createDirectories(data.resolve("masks"));
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 12; i++) {
            BufferedImage img = new BufferedImage(40, 40, BufferedImage.TYPE_BYTE_GRAY);
            BufferedImage mask = new BufferedImage(40, 40, BufferedImage.TYPE_BYTE_GRAY);
            double cx = 12 + 16 * r.nextDouble();
            double cy = 12 + 16 * r.nextDouble();
            for (int y = 0; y < 40; y++) {
                for (int x = 0; x < 40; x++) {
                    boolean in = Math.hypot(x - cx, y - cy) < 8;
                    img.getRaster().setSample(x, y, 0, (int)
                            Math.max(0, Math.min(255, (in ? 200 : 60) + 30 * r.nextGaussian())));
                    mask.getRaster().setSample(x, y, 0, in ? 255 : 0);
                }
            }
            String name = (i % 2 == 0 ? "benign_" : "malignant_") + i + ".png";
            ImageIO.write(img, "png", data.resolve("images").resolve(name).toFile());
            ImageIO.write(mask, "png", data.resolve("masks").resolve(name).toFile());
        }
    }

    @Test
    void trainInfoEvalPredictEndToEnd() throws IOException {
        Path out = dir.resolve("run");
        Run train = run(
                "train",
                "--data",
                data.toString(),
                "--out",
                out.toString(),
                "--epochs",
                "1",
                "--image-size",
                "32",
                "--width",
                "4",
                "--batch-size",
                "2",
                "--device",
                "cpu",
                "--threads",
                "2",
                "--overlays",
                "2",
                "--json");
        assertEquals(0, train.code(), train.err());
        JsonNode summary = new ObjectMapper().readTree(train.out());
        assertEquals(1, summary.get("epochs_run").asInt());
        assertTrue(summary.get("test").has("lesion_dice_mean"), train.out());
        Path last = out.resolve("checkpoints").resolve("last.safetensors");
        assertTrue(Files.exists(last));
        assertTrue(Files.exists(out.resolve("checkpoints").resolve("best.safetensors")));
        for (String f : new String[] {
            "config.json", "split.json", "history.csv", "loss.png", "dice.png", "test/report.json", "test/per_image.csv"
        }) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        try (var s = Files.list(out.resolve("test").resolve("overlays"))) {
            assertEquals(2, s.count());
        }
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals(32, cfg.get("image-size").asInt());

        Run again = run("train", "--data", data.toString(), "--out", out.toString(), "--epochs", "1");
        assertEquals(2, again.code(), "refuses to overwrite without --force");
        assertTrue(again.err().contains("--force"), again.err());

        Run resumed = run(
                "train",
                "--config",
                out.resolve("config.json").toString(),
                "--epochs",
                "2",
                "--resume",
                "--no-eval-test");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("resuming at epoch 2"), resumed.out());

        Run info = run("info", "--model", last.toString(), "--json");
        assertEquals(0, info.code(), info.err());
        JsonNode i = new ObjectMapper().readTree(info.out());
        assertEquals("aru-net", i.get("architecture").get("arch").asText());
        assertEquals(2, i.get("epochs_completed").asInt());
        assertEquals(32, i.get("preprocessing").get("image_size").asInt());
        assertTrue(i.get("parameters").asLong() > 1000);
        assertFalse(i.has("loss_scaler"), "fp32 training keeps no loss scale");
        assertEquals("f32", i.get("provenance").get("precision").asText());

        Run eval = run(
                "eval",
                "--model",
                last.toString(),
                "--data",
                data.toString(),
                "--split",
                out.resolve("split.json").toString(),
                "--out",
                dir.resolve("eval").toString(),
                "--device",
                "cpu",
                "--json");
        assertEquals(0, eval.code(), eval.err());
        JsonNode e = new ObjectMapper().readTree(eval.out());
        for (String k : new String[] {
            "lesion_dice_mean", "lesion_iou_mean", "miou_paper", "accuracy", "precision", "recall", "f1", "hd95_mean"
        }) {
            assertTrue(e.has(k), "eval --json lacks " + k);
        }

        Run cmp = run(
                "eval",
                "--model",
                last.toString(),
                "--compare",
                out.resolve("checkpoints").resolve("best.safetensors").toString(),
                "--data",
                data.toString(),
                "--part",
                "all",
                "--out",
                dir.resolve("eval2").toString(),
                "--json");
        assertEquals(0, cmp.code(), cmp.err());
        assertTrue(new ObjectMapper().readTree(cmp.out()).get("comparison").has("dice"), cmp.out());

        Path pred = dir.resolve("pred");
        Run p = run(
                "predict",
                "--model",
                last.toString(),
                "--out",
                pred.toString(),
                "--csv",
                "--overlays",
                data.resolve("images").toString(),
                "--json");
        assertEquals(0, p.code(), p.err());
        assertEquals(12, new ObjectMapper().readTree(p.out()).size());
        assertTrue(Files.exists(pred.resolve("benign_0.png")));
        assertTrue(Files.exists(pred.resolve("overlays").resolve("benign_0.png")));
        assertEquals(13, Files.readAllLines(pred.resolve("predictions.csv")).size());
        BufferedImage m = ImageIO.read(pred.resolve("benign_0.png").toFile());
        assertEquals(40, m.getWidth());

        Run p2 = run(
                "predict",
                "--model",
                last.toString(),
                "--out",
                pred.toString(),
                data.resolve("images").resolve("benign_0.png").toString());
        assertEquals(0, p2.code(), "an existing mask is skipped (resume), not overwritten, without --force");
        assertTrue(p2.out().contains("0 masks written") && p2.out().contains("1 input(s) skipped"), p2.out());
        Run glob = run(
                "predict",
                "--model",
                last.toString(),
                "--out",
                pred.toString(),
                "--force",
                data.resolve("images") + "/malignant_*.png",
                "--json");
        assertEquals(0, glob.code(), glob.err());
        assertEquals(6, new ObjectMapper().readTree(glob.out()).size());
    }

    @Test
    void splitReportsCountsAndDuplicateGroups() throws IOException {
        Path f = dir.resolve("split-test.json");
        Run r = run("split", "--data", data.toString(), "--out", f.toString(), "--seed", "3", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(12, j.get("images").asInt());
        assertEquals(
                12,
                j.get("train").asInt() + j.get("val").asInt() + j.get("test").asInt());
        assertTrue(j.has("duplicate_groups"));
        assertEquals(
                2,
                run("split", "--data", data.toString(), "--out", f.toString()).code(),
                "no overwrite");
    }

    @Test
    void trainWithBf16ConvolutionsOrAClearRefusal() throws IOException {
        Path out = dir.resolve("run-bf16");
        Run train = run(
                "train",
                "--data",
                data.toString(),
                "--out",
                out.toString(),
                "--epochs",
                "1",
                "--image-size",
                "32",
                "--width",
                "4",
                "--batch-size",
                "2",
                "--device",
                "cpu",
                "--threads",
                "2",
                "--precision",
                "bf16",
                "--no-eval-test",
                "--json");
        boolean supported;
        try (org.arunet.backend.cpu.CpuBackend cpu = new org.arunet.backend.cpu.CpuBackend(1)) {
            supported = cpu.supportsBf16Inference();
        }
        if (!supported) {
            assertEquals(2, train.code(), train.err());
            assertTrue(train.err().contains("--precision bf16") && train.err().contains("AVX512-BF16"), train.err());
            return;
        }
        assertEquals(0, train.code(), train.err());
        JsonNode summary = new ObjectMapper().readTree(train.out());
        assertTrue(Double.isFinite(summary.get("best_val_loss").asDouble()), train.out());
        Run info = run(
                "info",
                "--model",
                out.resolve("checkpoints").resolve("last.safetensors").toString(),
                "--json");
        assertEquals(
                "bf16",
                new ObjectMapper()
                        .readTree(info.out())
                        .get("provenance")
                        .get("precision")
                        .asText());
    }

    @Test
    void infoShowsTheFp16LossScaleOfACheckpoint() throws IOException {
        Path f = dir.resolve("fp16-like.safetensors");
        try (org.arunet.backend.Backend be = org.arunet.backend.Backends.reference();
                org.arunet.model.ArUNet net =
                        org.arunet.model.ArUNet.builder().backend(be).width(2).build();
                org.arunet.train.Adam adam = org.arunet.train.Adam.of(be, net.namedParameters(), 1e-4f)) {
            org.arunet.train.LossScaler scaler = new org.arunet.train.LossScaler(be, 256f, 2f, 0.5f, 3);
            org.arunet.train.Checkpoint.save(f, net, adam, scaler, java.util.Map.of());
        }
        Run info = run("info", "--model", f.toString(), "--json");
        assertEquals(0, info.code(), info.err());
        JsonNode s = new ObjectMapper().readTree(info.out()).get("loss_scaler");
        assertEquals(256.0, Double.parseDouble(s.get("scale").asText()), info.out());
        assertEquals(3, Integer.parseInt(s.get("growth_interval").asText()), info.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"train", "eval", "predict", "split", "info", "bench", "demo"})
    void everyCommandHasHelp(String cmd) {
        Run r = run(cmd, "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Usage: arunet " + cmd), r.out());
        assertTrue(r.out().contains("--json"), r.out());
    }

    @Test
    void usageErrorsExitWithTwoAndTheUsage() {
        Run r = run("train", "--epochs", "many");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("Usage: arunet train"), r.err());
        Run u = run("frobnicate");
        assertEquals(2, u.code());
        Run m = run("eval", "--data", data.toString());
        assertEquals(2, m.code(), "missing --model");
        assertTrue(m.err().contains("--model"), m.err());
    }

    @Test
    void aMissingDataFolderGivesOneClearLine() {
        Path nowhere = dir.resolve("nowhere");
        Run r = run(
                "train", "--data", nowhere.toString(), "--out", dir.resolve("x").toString());
        assertEquals(1, r.code());
        String[] lines = r.err().strip().split("\n");
        assertTrue(lines[0].contains("--data " + nowhere + ": no such file or folder"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace without --verbose: " + r.err());
    }

    @Test
    void badConfigKeysAreUsageErrors() throws IOException {
        Path cfg = dir.resolve("bad.json");
        Files.writeString(cfg, "{\"epocs\": 3}");
        Run r = run("train", "--config", cfg.toString(), "--data", data.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("'epocs' is not an option"), r.err());
    }

    @Test
    void benchPrintsJson() throws IOException {
        Run r = run(
                "bench",
                "--image-size",
                "32",
                "--width",
                "4",
                "--iterations",
                "2",
                "--warmup",
                "1",
                "--train",
                "--device",
                "cpu",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("forward").get("median_ms").asDouble() > 0);
        assertTrue(j.get("train_step").get("gflops").asDouble() > 0);
    }
}

package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.arunet.io.SafeTensors;
import org.arunet.pretrained.PretrainedModels;
import org.arunet.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train --recipe, pack-model, and --model NAME|FILE with its refusals. */
class RecipeAndModelsCliTest {
    @TempDir
    static Path dir;

    static Path data;

    @BeforeAll
    static void data() throws IOException {
        data = TinyDataset.write(dir.resolve("data"), 10, 40, 3);
    }

    private static JsonNode config(Path out) throws IOException {
        return new ObjectMapper().readTree(out.resolve("config.json").toFile());
    }

    private static CliTest.Run train(Path out, String... extra) {
        String[] base = {
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
            "--device",
            "cpu",
            "--threads",
            "2",
            "--no-eval-test",
            "--force"
        };
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CliTest.run(args);
    }

    @Test
    void recipesFillTheOptionsLeftUnsetAndConfigRecordsThem() throws IOException {
        Path std = dir.resolve("standard");
        CliTest.Run r = train(std, "--batch-size", "2");
        assertEquals(0, r.code(), r.err());
        JsonNode c = config(std);
        assertEquals("standard", c.get("recipe").asText());
        assertEquals(0.001, c.get("lr").asDouble(), 1e-9);
        assertEquals(0.0, c.get("min-lr").asDouble());
        assertEquals(0, c.get("warmup-epochs").asInt());
        assertEquals("pytorch", c.get("init").asText());
        assertEquals(0.8, c.get("crop-scale").get(0).asDouble());
        assertEquals(1.0, c.get("crop-scale").get(1).asDouble());
        assertEquals(2, c.get("batch-size").asInt(), "an option given on the command line wins");

        Path paper = dir.resolve("paper");
        r = train(paper, "--recipe", "paper");
        assertEquals(0, r.code(), r.err());
        c = config(paper);
        assertEquals(1e-4, c.get("lr").asDouble(), 1e-12);
        assertEquals(1e-6, c.get("min-lr").asDouble(), 1e-12);
        assertEquals(3, c.get("warmup-epochs").asInt());
        assertEquals(2, c.get("batch-size").asInt());
        assertEquals("authors", c.get("init").asText());
        assertEquals(0.8, c.get("crop-scale").get(1).asDouble(), "the paper's fixed 80 % crop");
        CliTest.Run info = CliTest.run(
                "info", "--model", paper.resolve("checkpoints/last.safetensors").toString(), "--json");
        JsonNode prov = new ObjectMapper().readTree(info.out()).get("provenance");
        assertEquals("paper", prov.get("recipe").asText());
        assertTrue(prov.get("augmentation").asText().contains("crop_scale=0.8,0.8"), prov.toString());

        // The recorded config repeats the run.
        r = CliTest.run(
                "train",
                "--config",
                paper.resolve("config.json").toString(),
                "--out",
                dir.resolve("paper2").toString(),
                "--no-eval-test");
        assertEquals(0, r.code(), r.err());
        assertEquals(config(paper).get("lr"), config(dir.resolve("paper2")).get("lr"));
    }

    @Test
    void badCropSettingsAreUsageErrors() {
        CliTest.Run r = train(dir.resolve("bad"), "--crop-scale", "0.9,0.8");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--crop-scale") && r.err().contains("0 < min <= max <= 1"), r.err());
        r = train(dir.resolve("bad2"), "--crop-scale", "0.8");
        assertEquals(2, r.code(), r.err());
        r = train(dir.resolve("bad3"), "--recipe", "fast");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("'fast' is not one of standard, paper"), r.err());
    }

    @Test
    void packModelWritesAShippableModel() throws IOException {
        Path run = dir.resolve("to-pack");
        assertEquals(0, train(run, "--batch-size", "2").code());
        Path out = dir.resolve("packed");
        Path card = dir.resolve("card.md");
        Files.writeString(card, "# tiny\n");
        CliTest.Run r = CliTest.run(
                "pack-model",
                "--model",
                run.resolve("checkpoints/best.safetensors").toString(),
                "--name",
                "tiny-test",
                "--summary",
                "a tiny test model",
                "--data",
                "synthetic discs",
                "--card",
                card.toString(),
                "--out",
                out.toString(),
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        Path weights = Path.of(j.get("weights").asText());
        assertEquals(PretrainedModels.sha256(weights), j.get("sha256").asText());
        assertTrue(Files.exists(out.resolve("META-INF/arunet/models.json")));
        assertEquals("# tiny\n", Files.readString(out.resolve("org/arunet/models/tiny-test.md")));
        try (SafeTensors.Reader rd = SafeTensors.open(weights)) {
            assertEquals(DType.F16, rd.entry("model.head.weight").dtype());
            assertFalse(
                    rd.metadata().get("provenance").contains(dir.toString()),
                    "no machine paths: " + rd.metadata().get("provenance"));
        }
        // The packed file is an ordinary checkpoint too.
        CliTest.Run info = CliTest.run("info", "--model", weights.toString(), "--json");
        assertEquals(0, info.code(), info.err());
        assertEquals(
                "4",
                new ObjectMapper()
                        .readTree(info.out())
                        .get("architecture")
                        .get("width")
                        .asText());

        CliTest.Run bad = CliTest.run(
                "pack-model",
                "--model",
                weights.toString(),
                "--name",
                "Tiny Test",
                "--summary",
                "x",
                "--data",
                "x",
                "--out",
                out.toString());
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("--name 'Tiny Test'"), bad.err());
    }

    @Test
    void unknownModelNamesAndMissingFilesAreOneLineErrors() {
        CliTest.Run r = CliTest.run(
                "predict",
                "--model",
                "busi-huge",
                data.resolve("images").toString(),
                "--out",
                dir.resolve("p").toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("--model busi-huge: no such file, and"), r.err());
        assertTrue(
                r.err().strip().lines().count() <= 2 && !r.err().contains("\tat "),
                "one error line, no stack" + " trace: " + r.err());
        if (PretrainedModels.onClassPath().contains("busi-compact")) {
            assertTrue(r.err().contains("known: busi-compact"), r.err());
        }
        r = CliTest.run("info", "--model", "runs/nothing/best.safetensors");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("runs/nothing/best.safetensors: no such file"), r.err());
        r = CliTest.run("info");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--models"), r.err());
    }
}

package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.arunet.pretrained.ModelCard;
import org.arunet.pretrained.PretrainedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped model works out of the box: by name from the command line, and through the README's
 * first Java example, which is the examples/ project's source, compiled and run here. The images are
 * the bundled sample's, which the shipped model's split keeps in its test part (never trained on).
 */
class ShippedModelTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path SAMPLE = ROOT.resolve("datasets/sample/busi-mini");
    static final Path EXAMPLE = ROOT.resolve("examples/src/main/java/org/arunet/examples/SegmentScan.java");

    @TempDir
    Path dir;

    @Test
    void theShippedModelIsOnTheClassPathWithItsCard() throws IOException {
        PretrainedModels zoo = PretrainedModels.onClassPath();
        ModelCard c = zoo.card("busi-compact");
        assertEquals("16", c.architecture().get("width"));
        assertEquals(256, c.imageSize());
        assertTrue(
                zoo.cardText("busi-compact").startsWith("# busi-compact"), "the card is docs/models/busi-compact.md");
        CliTest.Run info = CliTest.run("info", "--model", "busi-compact");
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("Intended use"), info.out());
        CliTest.Run list = CliTest.run("info", "--models");
        assertTrue(list.out().startsWith("busi-compact"), list.out());
    }

    @Test
    void predictByNameWritesAMaskAndAnOverlayThatFindTheLesions() throws IOException {
        Path out = dir.resolve("pred");
        List<String> args = new ArrayList<>(
                List.of("predict", "--model", "busi-compact", "--out", out.toString(), "--csv", "--json"));
        List<String> names = new ArrayList<>();
        try (var s = Files.list(SAMPLE.resolve("images"))) {
            s.map(p -> p.getFileName().toString())
                    .filter(n -> !n.startsWith("normal"))
                    .sorted()
                    .forEach(names::add);
        }
        names.forEach(n -> args.add(SAMPLE.resolve("images").resolve(n).toString()));
        CliTest.Run r = CliTest.run(args.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        JsonNode rows = new ObjectMapper().readTree(r.out());
        assertEquals(names.size(), rows.size());
        double dice = 0;
        for (String n : names) {
            assertTrue(Files.exists(out.resolve("overlays").resolve(n)), "overlay of " + n);
            dice += dice(out.resolve(n), SAMPLE.resolve("masks").resolve(n));
        }
        dice /= names.size();
        // The model card reports the mean lesion Dice on these images; a broken model, wrong weights or a
        // wrong preprocessing gives far less.
        assertTrue(
                dice > 0.6,
                "mean lesion Dice of the shipped model on the sample's " + names.size() + " lesion images: " + dice);
    }

    @Test
    void theReadmeJavaExampleIsTheExamplesProjectAndRuns() throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README has a Java example");
        String source = Files.readString(EXAMPLE, StandardCharsets.UTF_8);
        assertEquals(source.strip(), m.group(1).strip(), "the README's first Java example is " + EXAMPLE);

        Path classes = dir.resolve("classes");
        Files.createDirectories(classes);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int rc = javac.run(
                null,
                null,
                null,
                "-d",
                classes.toString(),
                "-cp",
                System.getProperty("java.class.path"),
                EXAMPLE.toString());
        assertEquals(0, rc, "the example compiles against the library");

        Path image = SAMPLE.resolve("images/benign_028.png");
        Path work = dir.resolve("work");
        Files.createDirectories(work);
        ProcessBuilder pb = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Dorg.bytedeco.javacpp.cachedir="
                                + System.getProperty(
                                        "org.bytedeco.javacpp.cachedir",
                                        dir.resolve("javacpp").toString()),
                        "-cp",
                        classes + java.io.File.pathSeparator + System.getProperty("java.class.path"),
                        "org.arunet.examples.SegmentScan",
                        image.toString())
                .directory(work.toFile())
                .redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.matches("(?s).*lesion area: \\d+ pixels \\(\\d+\\.\\d % of the image\\)\\s*"), out);
        assertTrue(
                dice(work.resolve("mask.png"), SAMPLE.resolve("masks/benign_028.png")) > 0.5,
                "the mask it" + " wrote finds the lesion");
    }

    /** Lesion Dice of two 0/255 mask PNGs of one size. */
    static double dice(Path predicted, Path truth) throws IOException {
        BufferedImage a = ImageIO.read(predicted.toFile());
        BufferedImage b = ImageIO.read(truth.toFile());
        assertEquals(b.getWidth(), a.getWidth(), predicted + " has the image's size");
        assertEquals(b.getHeight(), a.getHeight());
        long inter = 0;
        long na = 0;
        long nb = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                boolean pa = a.getRaster().getSample(x, y, 0) > 0;
                boolean pb = b.getRaster().getSample(x, y, 0) > 0;
                inter += pa && pb ? 1 : 0;
                na += pa ? 1 : 0;
                nb += pb ? 1 : 0;
            }
        }
        return na + nb == 0 ? 1 : 2.0 * inter / (na + nb);
    }
}

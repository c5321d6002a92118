package org.arunet.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ArunetSpark#segment} and {@link SegmentJob} in {@code local[2]} on bundled sample images and
 * hostile files: a row per file, an error and no mask for the bad ones, masks equal to the Java API's
 * written masks, one model load per executor, and a job whose outputs are the same when it runs again.
 */
class ArunetSparkTest {
    @TempDir
    static Path dir;

    static SparkSession spark;
    static Path images;
    static List<String> good;
    static final SegmentOptions CPU = SegmentOptions.of("busi-compact").withDevice("cpu");

    @BeforeAll
    static void setUp() throws Exception {
        images = dir.resolve("images");
        good = HostileFiles.write(images, 4);
        spark = SparkSession.builder()
                .master("local[2]")
                .appName("ArunetSparkTest")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .getOrCreate();
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) {
            spark.stop();
        }
        ExecutorModels.closeAll();
    }

    static List<String> allFiles() throws Exception {
        try (Stream<Path> s = Files.list(images)) {
            return s.filter(p -> !p.toString().endsWith(".txt"))
                    .map(p -> p.toUri().toString())
                    .sorted()
                    .toList();
        }
    }

    static Map<String, Row> byName(List<Row> rows) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : rows) {
            String p = r.getString(0);
            m.put(p.substring(p.lastIndexOf('/') + 1), r);
        }
        return m;
    }

    @Test
    void everyFileGetsARowAndBadOnesAnErrorAndNoMask() throws Exception {
        List<String> files = allFiles();
        List<Row> rows = ArunetSpark.segment(
                        ArunetSpark.readImages(spark, files).repartition(3), CPU)
                .collectAsList();
        // binaryFile skips empty files (SegmentJob gives them their row; see jobWrites... below)
        assertEquals(files.size() - 1, rows.size(), "one row per single-frame file but the empty one");
        Map<String, Row> m = byName(rows);
        for (String bad : HostileFiles.BAD) {
            if (bad.equals("empty.png")) {
                continue;
            }
            Row r = m.get(bad);
            assertNotNull(r, bad + " has no row");
            String error = r.getAs("error");
            assertNotNull(error, bad + " has no error");
            assertTrue(error.contains(bad), "the error names the file: " + error);
            assertTrue(r.isNullAt(r.fieldIndex("mask")), bad + " has a mask");
            assertTrue(r.isNullAt(r.fieldIndex("lesion_pixels")), bad + " has measures");
            assertEquals("busi-compact", r.getAs("model"));
        }
        for (String g : good) {
            Row r = m.get(g);
            assertNull(r.getAs("error"), g + ": " + r.getAs("error"));
            assertEquals(0, (int) r.getAs("frame"));
            assertEquals("busi-compact", r.getAs("model"));
            assertEquals("1", r.getAs("model_version"));
            BufferedImage mask = ImageIO.read(new ByteArrayInputStream(r.getAs("mask")));
            BufferedImage img = ImageIO.read(images.resolve(g).toFile());
            assertEquals(img.getWidth(), mask.getWidth(), g);
            assertEquals(img.getHeight(), mask.getHeight(), g);
            long lesion = 0;
            for (int y = 0; y < mask.getHeight(); y++) {
                for (int x = 0; x < mask.getWidth(); x++) {
                    int v = mask.getRaster().getSample(x, y, 0);
                    assertTrue(v == 0 || v == 255, "mask values are 0 or 255, got " + v);
                    lesion += v == 255 ? 1 : 0;
                }
            }
            assertEquals(lesion, (long) r.getAs("lesion_pixels"), g);
            assertNull(r.getAs("lesion_area_mm2"), "a PNG states no pixel spacing: " + g);
            assertEquals("none: a PNG file states no pixel spacing", r.getAs("pixel_spacing_source"));
            if (lesion > 0) {
                assertNotNull(r.getAs("bbox_w"), g);
                assertNotNull(r.getAs("mean_lesion_probability"), g);
            }
        }
    }

    @Test
    void masksAreTheBytesThatTheJavaApiWrites() throws Exception {
        List<String> files =
                good.stream().map(g -> images.resolve(g).toUri().toString()).toList();
        Map<String, Row> m = byName(
                ArunetSpark.segment(ArunetSpark.readImages(spark, files), CPU).collectAsList());
        try (Segmenter s = Segmenter.builder(
                        org.arunet.pretrained.PretrainedModels.onClassPath().checkpoint("busi-compact"))
                .device("cpu")
                .threads(2)
                .build()) {
            for (String g : good) {
                Segmentation seg = s.segment(images.resolve(g));
                Path written = dir.resolve("api-" + g);
                seg.writeMask(written);
                Row r = m.get(g);
                assertArrayEquals(Files.readAllBytes(written), (byte[]) r.getAs("mask"), g);
                assertEquals(seg.lesionPixels(), (long) r.getAs("lesion_pixels"), g);
                int[] b = seg.boundingBox();
                if (b != null) {
                    assertEquals(b[0], (int) r.getAs("bbox_x"));
                    assertEquals(b[3], (int) r.getAs("bbox_h"));
                    assertEquals(seg.meanLesionProbability(), (double) r.getAs("mean_lesion_probability"), 1e-12);
                }
            }
        }
    }

    @Test
    void anExecutorLoadsItsModelOnceForAllItsTasks() throws Exception {
        ExecutorModels.closeAll();
        int before = ExecutorModels.loads();
        SegmentOptions o = CPU.withBatchSize(2);
        List<String> files = allFiles();
        // 6 partitions over 2 task slots, twice: 12 tasks in the one executor of local[2]
        for (int run = 0; run < 2; run++) {
            long n = ArunetSpark.segment(ArunetSpark.readImages(spark, files).repartition(6), o)
                    .count();
            assertEquals(files.size() - 1, n); // binaryFile skips the empty file
        }
        assertEquals(1, ExecutorModels.loads() - before, "models loaded by 12 tasks of one executor");
        assertEquals(1, ExecutorModels.open());
        // other options make another model
        ArunetSpark.segment(ArunetSpark.readImages(spark, files.subList(0, 1)), o.withFlipTta(true))
                .count();
        assertEquals(2, ExecutorModels.loads() - before);
    }

    @Test
    void measuresOnlyWhenMasksAreOff() throws Exception {
        Row r = ArunetSpark.segment(
                        ArunetSpark.readImages(
                                spark,
                                List.of(images.resolve(good.get(0)).toUri().toString())),
                        CPU.withMasks(false))
                .first();
        assertNull(r.getAs("mask"));
        assertNull(r.getAs("error"));
        assertNotNull(r.getAs("lesion_pixels"));
    }

    @Test
    void refusesImagesWithoutPathAndContent() {
        Dataset<Row> paths = ArunetSpark.readImages(
                        spark, List.of(images.resolve(good.get(0)).toString()))
                .select("path");
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> ArunetSpark.segment(paths, CPU));
        assertTrue(e.getMessage().contains("'content'"), e.getMessage());
        Dataset<Row> wrongType = paths.selectExpr("path", "path AS content");
        e = assertThrows(IllegalArgumentException.class, () -> ArunetSpark.segment(wrongType, CPU));
        assertTrue(e.getMessage().contains("column 'content' is string"), e.getMessage());
    }

    @Test
    void jobWritesParquetAndMasksAndTheSameAgain() throws Exception {
        Path list = dir.resolve("list.txt");
        List<String> lines = new ArrayList<>();
        lines.add("# a list: relative to its folder, absolute, and one that is missing");
        lines.add("images/" + good.get(0));
        lines.add(images.resolve(good.get(1)).toString());
        lines.add("images/gone.png");
        Files.write(list, lines);
        Path out = dir.resolve("out.parquet");
        Path masks = dir.resolve("masks");
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        String[] args = {
            "--input",
            images.toString(),
            "--input",
            list.toString(),
            "--output",
            out.toString(),
            "--masks",
            masks.toString(),
            "--model",
            "busi-compact",
            "--device",
            "cpu",
            "--batch",
            "3",
            "--master",
            "local[2]"
        };
        SegmentJob.Summary first = SegmentJob.run(spark, SegmentJob.parse(args), new PrintStream(printed));
        int files = good.size() + HostileFiles.BAD.size(); // the list's two good files are the folder's
        assertEquals(files + 1, first.files(), "the folder's images and the list's missing file");
        assertEquals(files + 1, first.rows());
        assertEquals(HostileFiles.BAD.size() + 1, first.errors());
        assertTrue(
                !spark.conf().getAll().contains("spark.sql.files.minPartitionNum"),
                "the job's partitioning settings are undone after it");
        String line = printed.toString(StandardCharsets.UTF_8);
        assertTrue(line.contains("images/s") && line.contains("busi-compact"), line);

        List<Row> rows = spark.read().parquet(out.toString()).orderBy("path").collectAsList();
        Map<String, Row> m = byName(rows);
        for (String bad : HostileFiles.BAD) {
            assertTrue(m.get(bad).<String>getAs("error").contains(bad), bad);
        }
        assertTrue(m.get("empty.png").<String>getAs("error").endsWith("empty.png: file is empty (0 bytes)"));
        assertTrue(m.get("gone.png").<String>getAs("error").endsWith("images/gone.png: file does not exist"));
        Map<String, byte[]> maskFiles = new HashMap<>();
        for (String g : good) {
            Path f = masks.resolve(g);
            assertArrayEquals(Files.readAllBytes(f), (byte[]) m.get(g).getAs("mask"), g);
            maskFiles.put(g, Files.readAllBytes(f));
        }
        try (Stream<Path> s = Files.list(masks)) {
            assertEquals(
                    good.size(),
                    s.filter(p -> !p.getFileName().toString().startsWith(".")).count(),
                    "a mask file per good image, none for the bad ones");
        }

        // Again (as after a lost executor, or a re-submitted job): the same rows and the same mask files.
        SegmentJob.run(spark, SegmentJob.parse(args), new PrintStream(new ByteArrayOutputStream()));
        List<Row> again = spark.read().parquet(out.toString()).orderBy("path").collectAsList();
        assertEquals(rows.size(), again.size());
        for (int i = 0; i < rows.size(); i++) {
            for (int c = 0; c < rows.get(i).size(); c++) {
                Object x = rows.get(i).get(c);
                Object y = again.get(i).get(c);
                if (x instanceof byte[] bx) {
                    assertArrayEquals(bx, (byte[]) y);
                } else {
                    assertEquals(x, y, ArunetSpark.SCHEMA.fields()[c].name());
                }
            }
        }
        for (String g : good) {
            assertArrayEquals(maskFiles.get(g), Files.readAllBytes(masks.resolve(g)), g);
        }
    }

    @Test
    void jobRefusesAnUnknownModelAndClashingMaskNamesBeforeItStarts() throws Exception {
        Path other = dir.resolve("other");
        Files.createDirectories(other);
        Files.copy(images.resolve(good.get(0)), other.resolve(good.get(0)));
        String[] clash = {
            "--input",
            images.toString(),
            "--input",
            other.toString(),
            "--output",
            dir.resolve("x").toString(),
            "--masks",
            dir.resolve("xm").toString(),
            "--device",
            "cpu"
        };
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> SegmentJob.run(spark, SegmentJob.parse(clash), new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("same mask " + good.get(0).replace(".png", "") + ".png"), e.getMessage());

        String[] unknown = {
            "--input", images.toString(), "--output", dir.resolve("y").toString(), "--model", "nope"
        };
        java.io.IOException io = assertThrows(
                java.io.IOException.class,
                () -> SegmentJob.run(spark, SegmentJob.parse(unknown), new PrintStream(new ByteArrayOutputStream())));
        assertTrue(io.getMessage().contains("model nope") && io.getMessage().contains("busi-compact"), io.getMessage());

        String[] missingFolder = {"--input", dir.resolve("nowhere").toString(), "--output", "z"};
        e = assertThrows(
                IllegalArgumentException.class,
                () -> SegmentJob.run(
                        spark, SegmentJob.parse(missingFolder), new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("nowhere: no such file or folder"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SegmentJob.parse(new String[] {"--input", "a"}));
        assertThrows(IllegalArgumentException.class, () -> SegmentJob.parse(new String[] {"--bogus"}));
    }
}

package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.arunet.cli.CliTest.Run;
import org.arunet.cli.PredictBatchTest.TinyDicom;
import org.arunet.spark.SegmentJob;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark job ({@code java-api/spark}'s SegmentJob in {@code local[2]}) and {@code arunet predict} on the
 * same folder (bundled sample images, DICOM files with and without pixel spacing, a multi-frame one, and
 * bad files) with the shipped model: the same mask files byte for byte, the same measures as predict's
 * CSV, and the same files failing.
 */
class SparkJobMatchesPredictTest {
    @TempDir
    Path dir;

    static final Path SAMPLES = Path.of("../datasets/sample/busi-mini/images");

    @Test
    void masksMeasuresAndFailuresAreThoseOfPredict() throws Exception {
        Path images = dir.resolve("images");
        Files.createDirectories(images);
        List<Path> samples;
        try (Stream<Path> s = Files.list(SAMPLES)) {
            samples = s.sorted().limit(6).toList();
        }
        for (Path p : samples.subList(0, 4)) {
            Files.copy(p, images.resolve(p.getFileName()));
        }
        BufferedImage a = ImageIO.read(samples.get(4).toFile());
        BufferedImage b = ImageIO.read(samples.get(5).toFile());
        Files.write(
                images.resolve("calibrated.dcm"), TinyDicom.mono8(a.getWidth(), a.getHeight(), grey(a), "0.2\\0.1"));
        Files.write(images.resolve("IM000002"), TinyDicom.mono8(b.getWidth(), b.getHeight(), 1, null, 0.05, grey(b)));
        Files.write(images.resolve("cine.dcm"), TinyDicom.mono8(64, 48, 3, null, 0));
        Files.write(images.resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        Files.writeString(images.resolve("notes.jpg"), "not a jpeg");

        Path predicted = dir.resolve("predict");
        Run r = CliTest.run(
                "predict",
                "--model",
                "busi-compact",
                images.toString(),
                "--out",
                predicted.toString(),
                "--csv",
                "--no-overlays",
                "--device",
                "cpu",
                "--threads",
                "2");
        assertEquals(1, r.code(), "two files fail: " + r.err());

        Path masks = dir.resolve("spark-masks");
        Path parquet = dir.resolve("spark.parquet");
        List<Row> rows;
        SparkSession spark = SparkSession.builder()
                .master("local[2]")
                .appName("SparkJobMatchesPredictTest")
                .config("spark.ui.enabled", "false")
                .getOrCreate();
        try {
            SegmentJob.Summary s = SegmentJob.run(
                    spark,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                    "--input",
                    images.toString(),
                    "--output",
                    parquet.toString(),
                    "--masks",
                    masks.toString(),
                    "--model",
                    "busi-compact",
                    "--device",
                    "cpu");
            assertEquals(9, s.files());
            rows = spark.read().parquet(parquet.toString()).collectAsList();
        } finally {
            spark.stop();
        }

        // The same mask files, byte for byte (cine.dcm: cine_frames/frame_0001.png ... 0003).
        Set<String> predictMasks = pngs(predicted);
        assertEquals(9, predictMasks.size(), predictMasks.toString());
        assertEquals(predictMasks, pngs(masks));
        for (String m : predictMasks) {
            assertArrayEquals(Files.readAllBytes(predicted.resolve(m)), Files.readAllBytes(masks.resolve(m)), m);
        }

        // The same measures as predict's CSV, and the same files failing.
        Map<String, Row> byKey = new HashMap<>();
        Set<String> sparkFailed = new TreeSet<>();
        for (Row row : rows) {
            String name = name(row.getAs("path"));
            if (row.getAs("error") != null) {
                sparkFailed.add(name);
                assertNull(row.getAs("mask"));
            } else {
                byKey.put(name + "#" + row.<Integer>getAs("frame"), row);
            }
        }
        List<String> csv = Files.readAllLines(predicted.resolve("predictions.csv"));
        assertEquals(PredictCommand.CSV_HEADER, csv.get(0));
        assertEquals(csv.size() - 1, byKey.size());
        int withArea = 0;
        for (String line : csv.subList(1, csv.size())) {
            String[] f = line.split(",", -1);
            Row row = byKey.get(name(f[0]) + "#" + f[1]);
            assertNotNull(row, line);
            assertEquals(Long.parseLong(f[4]), (long) row.<Long>getAs("lesion_pixels"), line);
            assertEquals(f[6], str(row.getAs("bbox_x")), line);
            assertEquals(f[9], str(row.getAs("bbox_h")), line);
            Double mean = row.getAs("mean_lesion_probability");
            assertEquals(f[10], mean == null ? "" : String.format(Locale.ROOT, "%.6f", mean), line);
            Double mm2 = row.getAs("lesion_area_mm2");
            assertEquals(f[14], mm2 == null ? PredictCommand.UNKNOWN : String.format(Locale.ROOT, "%.6f", mm2), line);
            withArea += mm2 != null ? 1 : 0;
            String source = row.getAs("pixel_spacing_source");
            assertTrue(f[13].equals(source) || ("none: " + f[13]).equals(source), line + " vs " + source);
        }
        assertEquals(2, withArea, "calibrated.dcm (Pixel Spacing) and IM000002 (ultrasound regions)");
        Set<String> predictFailed = Files.readAllLines(predicted.resolve("failures.csv")).stream()
                .skip(1)
                .map(l -> name(l.substring(0, l.indexOf(','))))
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(Set.of("broken.png", "notes.jpg"), predictFailed);
        assertEquals(predictFailed, sparkFailed);
    }

    private static String str(Integer v) {
        return v == null ? "" : v.toString();
    }

    private static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /** The PNG files under a folder, as relative paths. */
    private static Set<String> pngs(Path root) throws Exception {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(p -> p.toString().endsWith(".png"))
                    .map(p -> root.relativize(p).toString())
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }

    /** The image's luminance as 8-bit grey samples, row-major. */
    private static byte[] grey(BufferedImage img) {
        BufferedImage g = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        g.getGraphics().drawImage(img, 0, 0, null);
        byte[] out = new byte[img.getWidth() * img.getHeight()];
        g.getRaster().getDataElements(0, 0, img.getWidth(), img.getHeight(), out);
        return out;
    }
}

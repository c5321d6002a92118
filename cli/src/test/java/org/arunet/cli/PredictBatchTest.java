package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.cli.CliTest.Run;
import org.arunet.data.io.DataException;
import org.arunet.data.io.PixelSpacing;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.train.Checkpoint;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arunet predict} over a folder that holds bad files, DICOM files (single- and multi-frame, with
 * and without pixel spacing): it goes on past the bad ones, lists them, exits 1, resumes, and gives
 * areas in mm² only where the file states its spacing.
 */
class PredictBatchTest {
    @TempDir
    static Path dir;

    static Path checkpoint;
    static Path images;

    @BeforeAll
    static void setUp() throws Exception {
        checkpoint = dir.resolve("tiny.safetensors");
        Map<String, String> pre = Map.of(
                "image_size",
                "32",
                "channels",
                "1",
                "mean",
                "0.5",
                "std",
                "0.5",
                "resize",
                "area when shrinking, bilinear when enlarging");
        try (Backend be = Backends.cpu(2);
                SegmentationModel m = new ArUNet(
                        be,
                        ArUNetConfig.paper().withWidth(4).withMixerDepth(2).withInChannels(1),
                        Init.Scheme.PYTORCH,
                        3)) {
            Checkpoint.save(checkpoint, m, null, Map.of("preprocessing", new ObjectMapper().writeValueAsString(pre)));
        }
        images = TinyDataset.write(dir.resolve("data"), 4, 40, 3).resolve("images");
        Files.write(images.resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        Files.writeString(images.resolve("notes.jpg"), "not a jpeg");
        Files.write(images.resolve("calibrated.dcm"), TinyDicom.mono8(40, 30, 1, "0.2\\0.1", 0));
        Files.write(images.resolve("IM000002"), TinyDicom.mono8(40, 30, 1, null, 0.05)); // regions: 0.5 mm
        Files.write(images.resolve("cine.dcm"), TinyDicom.mono8(40, 30, 3, null, 0));
    }

    @Test
    void goesOnPastBadFilesListsThemExitsOneAndResumes() throws Exception {
        Path out = dir.resolve("pred");
        Run r = CliTest.run(
                "predict",
                "--model",
                checkpoint.toString(),
                "--device",
                "cpu",
                "--threads",
                "2",
                "--out",
                out.toString(),
                "--csv",
                images.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("FAILED " + images.resolve("broken.png")), r.err());
        assertTrue(r.err().contains("FAILED " + images.resolve("notes.jpg")), r.err());
        assertTrue(r.out().contains("2 of 9 input(s) failed"), r.out());
        assertTrue(r.out().contains("9/9 inputs (0 skipped, 2 failed)"), r.out());
        List<String> failures = Files.readAllLines(out.resolve("failures.csv"));
        assertEquals("image,error", failures.get(0));
        assertEquals(3, failures.size(), failures.toString());
        assertTrue(failures.get(1).startsWith(images.resolve("broken.png") + ","), failures.get(1));

        // 4 PNGs + 2 single-frame DICOM + 3 frames of the cine: 9 masks.
        for (String m : new String[] {
            "benign_0.png",
            "malignant_3.png",
            "calibrated.png",
            "IM000002.png",
            "cine_frames/frame_0001.png",
            "cine_frames/frame_0003.png",
            "overlays/cine_frames/frame_0002.png"
        }) {
            assertTrue(Files.exists(out.resolve(m)), m);
        }
        List<String> csv = Files.readAllLines(out.resolve("predictions.csv"));
        assertEquals(PredictCommand.CSV_HEADER, csv.get(0));
        assertEquals(1 + 9, csv.size(), String.join("\n", csv));
        String calibrated = line(csv, "calibrated.dcm");
        String[] c = calibrated.split(",");
        assertEquals("0.200000", String.format(java.util.Locale.ROOT, "%.6f", Double.parseDouble(c[11])));
        assertEquals("0.100000", String.format(java.util.Locale.ROOT, "%.6f", Double.parseDouble(c[12])));
        assertEquals("Pixel Spacing", c[13]);
        long pixels = Long.parseLong(c[4]);
        assertEquals(pixels * 0.02, Double.parseDouble(c[14]), 1e-4, calibrated);
        String regions = line(csv, "IM000002");
        assertTrue(regions.contains(",Ultrasound Regions,"), regions);
        String png = line(csv, "benign_0.png");
        assertTrue(
                png.endsWith(",none: a PNG file states no pixel spacing,unknown,unknown,unknown,unknown,unknown"), png);
        String cine = line(csv, "cine.dcm,2");
        assertTrue(cine.contains("none: the file has no Pixel Spacing and no ultrasound region calibration"), cine);

        // Resume: nothing to redo but the bad files; the kept rows stay.
        FileTime before = Files.getLastModifiedTime(out.resolve("benign_0.png"));
        Files.delete(out.resolve("malignant_1.png")); // as if the run had stopped before it
        Files.delete(images.resolve("broken.png"));
        Run again = CliTest.run(
                "predict",
                "--model",
                checkpoint.toString(),
                "--device",
                "cpu",
                "--out",
                out.toString(),
                "--csv",
                images.toString(),
                "--json");
        assertEquals(1, again.code(), again.err());
        JsonNode done = new ObjectMapper().readTree(again.out());
        assertEquals(1, done.size(), "only the missing mask was made: " + again.out());
        assertEquals(
                images.resolve("malignant_1.png").toString(),
                done.get(0).get("image").asText());
        assertTrue(again.err().contains("8/8 inputs (6 skipped, 1 failed)"), again.err());
        assertEquals(before, Files.getLastModifiedTime(out.resolve("benign_0.png")));
        assertEquals(1 + 9, Files.readAllLines(out.resolve("predictions.csv")).size());
        assertEquals(2, Files.readAllLines(out.resolve("failures.csv")).size(), "this run's failures only");

        Files.delete(images.resolve("notes.jpg"));
        Run clean = CliTest.run(
                "predict",
                "--model",
                checkpoint.toString(),
                "--device",
                "cpu",
                "--out",
                out.toString(),
                "--csv",
                images.toString());
        assertEquals(0, clean.code(), clean.err());
        assertFalse(Files.exists(out.resolve("failures.csv")));
        assertTrue(clean.out().contains("0 masks written") && clean.out().contains("7 input(s) skipped"), clean.out());

        Run forced = CliTest.run(
                "predict",
                "--model",
                checkpoint.toString(),
                "--device",
                "cpu",
                "--out",
                out.toString(),
                images.resolve("benign_0.png").toString(),
                "--force");
        assertEquals(0, forced.code(), forced.err());
        assertTrue(forced.out().contains("1 masks written"), forced.out());
    }

    @Test
    void failFastStopsAtTheFirstBadFile() throws Exception {
        Path bad = dir.resolve("ff");
        Files.createDirectories(bad);
        Files.copy(images.resolve("benign_0.png"), bad.resolve("a.png"));
        Files.write(bad.resolve("b.png"), new byte[] {1, 2, 3});
        Files.copy(images.resolve("benign_2.png"), bad.resolve("c.png"));
        Run r = CliTest.run(
                "predict",
                "--model",
                checkpoint.toString(),
                "--device",
                "cpu",
                "--out",
                dir.resolve("ff-out").toString(),
                "--fail-fast",
                bad.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains(bad.resolve("b.png").toString()), r.err());
        assertTrue(Files.exists(dir.resolve("ff-out").resolve("a.png")));
        assertFalse(Files.exists(dir.resolve("ff-out").resolve("c.png")), "stopped at b.png");
    }

    @Test
    void theJavaApiSegmentsDicomWithItsSpacingAndEveryFrame() throws Exception {
        try (Segmenter s =
                Segmenter.builder(checkpoint).device("cpu").threads(2).build()) {
            Segmentation one = s.segment(images.resolve("calibrated.dcm"));
            assertEquals(40, one.width());
            assertEquals(new PixelSpacing(0.2, 0.1, PixelSpacing.PIXEL_SPACING), one.spacing());
            assertEquals(one.lesionPixels() * 0.02, one.lesionAreaMm2().getAsDouble(), 1e-9);
            assertTrue(s.segment(images.resolve("benign_0.png")).lesionAreaMm2().isEmpty());
            DataException multi = assertThrows(DataException.class, () -> s.segment(images.resolve("cine.dcm")));
            assertTrue(multi.getMessage().contains("segmentFrames"), multi.getMessage());
            List<Segmentation> frames = s.segmentFrames(images.resolve("cine.dcm"));
            assertEquals(3, frames.size());
            assertTrue(frames.get(2).source().endsWith("cine.dcm#3"));
            assertEquals(0.5, s.segment(images.resolve("IM000002")).spacing().rowMm(), 1e-12);
        }
    }

    @Test
    void trainAndEvalTakeDicomImagesLikePngs() throws Exception {
        Path data = dir.resolve("dicom-data");
        Path pngs = TinyDataset.write(dir.resolve("png-data"), 10, 40, 9);
        Files.createDirectories(data.resolve("images"));
        Files.createDirectories(data.resolve("masks"));
        try (var list = Files.list(pngs.resolve("images"))) {
            for (Path png : list.toList()) {
                String stem = Segmenter.stem(png);
                java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(png.toFile());
                byte[] px = new byte[40 * 40];
                for (int y = 0; y < 40; y++) {
                    for (int x = 0; x < 40; x++) {
                        px[y * 40 + x] = (byte) img.getRaster().getSample(x, y, 0);
                    }
                }
                Files.write(data.resolve("images").resolve(stem + ".dcm"), TinyDicom.mono8(40, 40, px, "0.1\\0.1"));
                Files.copy(
                        pngs.resolve("masks").resolve(stem + ".png"),
                        data.resolve("masks").resolve(stem + ".png"));
            }
        }
        Path run = dir.resolve("dicom-run");
        Run train = CliTest.run(
                "train",
                "--data",
                data.toString(),
                "--out",
                run.toString(),
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
                "--channels",
                "1",
                "--json");
        assertEquals(0, train.code(), train.err());
        assertEquals(
                10,
                new ObjectMapper()
                                .readTree(run.resolve("split.json").toFile())
                                .toString()
                                .split("\\.dcm")
                                .length
                        - 1,
                "all ten DICOM images are in the split");
        Run eval = CliTest.run(
                "eval",
                "--model",
                run.resolve("checkpoints/last.safetensors").toString(),
                "--data",
                data.toString(),
                "--part",
                "all",
                "--out",
                dir.resolve("dicom-eval").toString(),
                "--device",
                "cpu",
                "--json");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(new ObjectMapper().readTree(eval.out()).has("lesion_dice_mean"), eval.out());
    }

    private static String line(List<String> csv, String part) {
        return csv.stream()
                .filter(l -> l.contains(part))
                .findFirst()
                .orElseThrow(() -> new AssertionError(part + " not in " + csv));
    }

    /** Minimal uncompressed DICOM (explicit VR little endian), as the datasets tests' writer makes them. */
    static final class TinyDicom {
        /** One frame of the given pixels. */
        static byte[] mono8(int w, int h, byte[] pixels, String pixelSpacing) {
            return mono8(w, h, 1, pixelSpacing, 0, pixels);
        }

        static byte[] mono8(int w, int h, int frames, String pixelSpacing, double regionCm) {
            return mono8(w, h, frames, pixelSpacing, regionCm, null);
        }

        static byte[] mono8(int w, int h, int frames, String pixelSpacing, double regionCm, byte[] pixels) {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            o.writeBytes(new byte[128]);
            o.writeBytes("DICM".getBytes(StandardCharsets.US_ASCII));
            ByteArrayOutputStream meta = new ByteArrayOutputStream();
            str(meta, 0x00020010, "UI", "1.2.840.10008.1.2.1");
            elem(o, 0x00020000, "UL", le(meta.size(), 4));
            o.writeBytes(meta.toByteArray());
            str(o, 0x00080016, "UI", frames > 1 ? "1.2.840.10008.5.1.4.1.1.3.1" : "1.2.840.10008.5.1.4.1.1.6.1");
            if (regionCm > 0) {
                ByteArrayOutputStream item = new ByteArrayOutputStream();
                elem(item, 0x00186024, "US", le(3, 2));
                elem(item, 0x00186026, "US", le(3, 2));
                elem(item, 0x0018602C, "FD", le(Double.doubleToLongBits(regionCm), 8));
                elem(item, 0x0018602E, "FD", le(Double.doubleToLongBits(regionCm), 8));
                ByteArrayOutputStream seq = new ByteArrayOutputStream();
                seq.writeBytes(le(0xE000FFFEL, 4));
                seq.writeBytes(le(item.size(), 4));
                seq.writeBytes(item.toByteArray());
                elem(o, 0x00186011, "SQ", seq.toByteArray());
            }
            elem(o, 0x00280002, "US", le(1, 2));
            str(o, 0x00280004, "CS", "MONOCHROME2");
            if (frames > 1) {
                str(o, 0x00280008, "IS", Integer.toString(frames));
            }
            elem(o, 0x00280010, "US", le(h, 2));
            elem(o, 0x00280011, "US", le(w, 2));
            if (pixelSpacing != null) {
                str(o, 0x00280030, "DS", pixelSpacing);
            }
            elem(o, 0x00280100, "US", le(8, 2));
            elem(o, 0x00280101, "US", le(8, 2));
            elem(o, 0x00280103, "US", le(0, 2));
            byte[] px = new byte[w * h * frames + (w * h * frames) % 2];
            if (pixels != null) {
                System.arraycopy(pixels, 0, px, 0, pixels.length);
            }
            for (int f = 0; f < frames && pixels == null; f++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        px[f * w * h + y * w + x] = (byte) (Math.hypot(x - 20 - f, y - 15) < 7 ? 200 : 50);
                    }
                }
            }
            elem(o, 0x7FE00010, "OB", px);
            return o.toByteArray();
        }

        private static void str(ByteArrayOutputStream o, int tag, String vr, String v) {
            byte[] b =
                    (v.length() % 2 == 0 ? v : v + (vr.equals("UI") ? "\0" : " ")).getBytes(StandardCharsets.US_ASCII);
            elem(o, tag, vr, b);
        }

        private static void elem(ByteArrayOutputStream o, int tag, String vr, byte[] value) {
            o.writeBytes(le(tag >>> 16, 2));
            o.writeBytes(le(tag & 0xFFFF, 2));
            o.writeBytes(vr.getBytes(StandardCharsets.US_ASCII));
            if (List.of("OB", "OW", "SQ", "UN").contains(vr)) {
                o.writeBytes(new byte[2]);
                o.writeBytes(le(value.length, 4));
            } else {
                o.writeBytes(le(value.length, 2));
            }
            o.writeBytes(value);
        }

        private static byte[] le(long v, int n) {
            byte[] b = new byte[n];
            for (int i = 0; i < n; i++) {
                b[i] = (byte) (v >>> (8 * i));
            }
            return b;
        }
    }

    @Test
    void progressOnLargeFoldersEveryTenSecondsWithRateAndEta() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        long[] now = {0};
        PredictCommand.BatchProgress p = new PredictCommand.BatchProgress(
                new PrintStream(buf, true, StandardCharsets.UTF_8), 40000, () -> now[0]);
        for (int i = 0; i < 1000; i++) { // 1000 inputs in 5 s: no line yet
            now[0] += 5_000_000L;
            p.step(i < 200, i % 400 == 7);
        }
        assertEquals("", buf.toString(StandardCharsets.UTF_8));
        assertFalse(p.due());
        now[0] += 6_000_000_000L; // 11 s: 801 segmented -> 72.82/s; 38,999 left -> 535.6 s
        p.step(false, false);
        assertEquals(
                "1001/40000 inputs (200 skipped, 3 failed), 72.82 images/s, ETA 8m56s\n",
                buf.toString(StandardCharsets.UTF_8));
        now[0] += 1_000_000_000L;
        p.step(false, false);
        assertEquals(1, buf.toString(StandardCharsets.UTF_8).lines().count(), "at most one line per 10 s");
        now[0] += 20_000_000_000L;
        assertTrue(p.due(), "the CSV is rewritten every 30 s");
        assertFalse(p.due());
        for (int i = 1002; i < 40000; i++) {
            p.step(false, false);
        }
        List<String> lines = buf.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(3, lines.size(), lines.toString());
        assertEquals("1003/40000 inputs (200 skipped, 3 failed), 25.09 images/s, ETA 25m54s", lines.get(1));
        assertTrue(
                lines.get(2).startsWith("40000/40000 inputs (200 skipped, 3 failed), ")
                        && lines.get(2).endsWith(", done"),
                lines.get(2));

        ByteArrayOutputStream resumed = new ByteArrayOutputStream();
        now[0] = 0;
        PredictCommand.BatchProgress q = new PredictCommand.BatchProgress(
                new PrintStream(resumed, true, StandardCharsets.UTF_8), 10, () -> now[0]);
        now[0] = 11_000_000_000L;
        q.step(true, false);
        assertEquals(
                "1/10 inputs (1 skipped, 0 failed), 0.00 images/s, ETA unknown\n",
                resumed.toString(StandardCharsets.UTF_8));
    }
}

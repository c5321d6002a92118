package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.arunet.cli.CliTest.Run;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.sample.BusiMini;
import org.arunet.data.video.FrameSource;
import org.arunet.video.SyntheticClip;
import org.arunet.video.VideoFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arunet predict} on clips (a video file, a numbered-frame folder and a multi-frame DICOM with
 * {@code --cine}) and {@code arunet bench --video}: overlay video with every frame at the clip's rate,
 * per-frame CSV, frames/s printed; a damaged clip reported without stopping the others.
 */
class PredictVideoTest {
    @TempDir
    static Path dir;

    static SyntheticClip.Frames clip;
    static Path mp4;

    @BeforeAll
    static void setUp() throws Exception {
        Path sample = BusiMini.extractTo(dir.resolve("busi-mini"));
        ImageReader reader = new ImageReader();
        Raster image = reader.readImage(sample.resolve("images/benign_028.png"), ColorMode.RGB);
        Raster mask = reader.readMask(sample.resolve("masks/benign_028.png"), 2);
        clip = SyntheticClip.make(image, mask, 10, 0, 1);
        mp4 = dir.resolve("clip.mp4");
        SyntheticClip.write(clip, mp4, 12);
    }

    private static int frames(Path video) {
        try (FrameSource s = VideoFiles.open(video, ColorMode.RGB)) {
            int n = 0;
            while (s.next() != null) {
                n++;
            }
            return n;
        }
    }

    @Test
    void aVideoGetsAnOverlayVideoAndAPerFrameCsv() throws Exception {
        Path out = dir.resolve("video-out");
        Run r = CliTest.run(
                "predict", mp4.toString(), "--model", "busi-compact", "--out", out.toString(), "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("10 frames") && r.out().contains("frames/s end to end"), r.out());
        Path overlay = out.resolve("clip_overlay.mp4");
        assertEquals(10, frames(overlay));
        try (FrameSource s = VideoFiles.open(overlay, ColorMode.RGB)) {
            assertEquals(12, s.frameRate(), 1e-6, "same frame rate as the input");
        }
        List<String> csv = Files.readAllLines(out.resolve("clip_frames.csv"));
        assertEquals(Cine.CSV_HEADER, csv.get(0));
        assertEquals(11, csv.size());
        for (int i = 1; i <= 10; i++) {
            String[] f = csv.get(i).split(",", -1);
            assertEquals(String.valueOf(i - 1), f[0]);
            assertEquals((i - 1) / 12.0, Double.parseDouble(f[1]), 1e-3);
            assertTrue(Long.parseLong(f[2]) > 0, "the lesion is found in frame " + (i - 1) + ": " + csv.get(i));
            assertEquals("", f[3], "no mm² for a video file");
        }
    }

    @Test
    void numberedFramesAndMultiFrameDicomAreClipsWithCine() throws Exception {
        Path frames = Files.createDirectories(dir.resolve("frames"));
        for (int i = 0; i < 4; i++) {
            javax.imageio.ImageIO.write(
                    SegmentationFrames.toImage(clip.images().get(i)),
                    "png",
                    frames.resolve("f" + (i + 1) + ".png").toFile());
        }
        Path dcm = dir.resolve("cine.dcm");
        byte[] px = new byte[40 * 30 * 3]; // three frames of the clip, 40 x 30 grey
        for (int i = 0; i < 3; i++) {
            Raster small = org.arunet.data.io.OpenCv.resize(
                    clip.images().get(i), 40, 30, org.arunet.data.io.OpenCv.Interpolation.SMOOTH);
            for (int p = 0; p < 40 * 30; p++) {
                px[i * 40 * 30 + p] = small.data()[3 * p];
            }
        }
        Files.write(dcm, PredictBatchTest.TinyDicom.mono8(40, 30, 3, "0.2\\0.1", 0, px));
        Path out = dir.resolve("cine-out");
        Run r = CliTest.run(
                "predict",
                frames.toString(),
                dcm.toString(),
                "--cine",
                "--frame-rate",
                "8",
                "--model",
                "busi-compact",
                "--out",
                out.toString(),
                "--json",
                "--device",
                "cpu");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.size());
        assertEquals(4, j.get(0).get("frames").asInt());
        assertEquals(8.0, j.get(0).get("frame_rate").asDouble());
        assertEquals(4, frames(out.resolve("frames_overlay.mp4")));
        assertEquals(3, j.get(1).get("frames").asInt());
        assertEquals(3, frames(out.resolve("cine_overlay.mp4")));
        List<String> csv = Files.readAllLines(out.resolve("cine_frames.csv"));
        assertEquals(4, csv.size());
        long lesionPixels = 0;
        for (String line : csv.subList(1, 4)) {
            String[] f = line.split(",", -1);
            long px2 = Long.parseLong(f[2]);
            // mm² where the DICOM states its spacing: 0.2 x 0.1 mm per pixel
            assertEquals(String.format(java.util.Locale.ROOT, "%.4f", px2 * 0.02), f[3], line);
            lesionPixels += px2;
        }
        assertTrue(lesionPixels > 0, "a lesion in the DICOM clip: " + csv);
    }

    @Test
    void aDamagedClipIsReportedAndTheOthersAreDone() throws Exception {
        byte[] all = Files.readAllBytes(mp4);
        Path broken = dir.resolve("broken.mp4");
        Files.write(broken, Arrays.copyOf(all, 200));
        Path empty = Files.createFile(dir.resolve("empty.avi"));
        Path out = dir.resolve("damaged-out");
        Run r = CliTest.run(
                "predict",
                broken.toString(),
                empty.toString(),
                mp4.toString(),
                "--model",
                "busi-compact",
                "--out",
                out.toString(),
                "--device",
                "cpu");
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("FAILED") && r.err().contains(broken.toString()), r.err());
        assertTrue(r.err().contains(empty.toString()), r.err());
        assertEquals(10, frames(out.resolve("clip_overlay.mp4")));
        assertFalse(Files.exists(out.resolve("empty_overlay.avi")));
        List<String> failures = Files.readAllLines(out.resolve("failures.csv"));
        assertEquals(3, failures.size(), "header and the two damaged clips: " + failures);
        assertTrue(
                failures.get(1).startsWith(broken.toString()) || failures.get(2).startsWith(broken.toString()));
    }

    @Test
    void benchVideoReportsThroughputAndLatency() throws Exception {
        Run r = CliTest.run(
                "bench", "--video", "sample", "--video-frames", "12", "--device", "cpu", "--threads", "2", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(12, j.get("frames").asInt());
        assertTrue(j.get("frames_per_second").asDouble() > 0);
        assertTrue(j.get("paced_latency_ms_p99").asDouble()
                >= j.get("paced_latency_ms_p50").asDouble());
        assertEquals(12, j.get("paced").get("frames").asInt());
        assertTrue(j.get("overlay_codec").asText().startsWith("h264"), j.toString());
    }

    /** PNG frames for the folder test. */
    static final class SegmentationFrames {
        static java.awt.image.BufferedImage toImage(Raster r) {
            java.awt.image.BufferedImage b = new java.awt.image.BufferedImage(
                    r.width(), r.height(), java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
            for (int y = 0; y < r.height(); y++) {
                for (int x = 0; x < r.width(); x++) {
                    b.getRaster().setSample(x, y, 0, r.data()[(y * r.width() + x) * r.channels()] & 0xFF);
                }
            }
            return b;
        }
    }
}

package org.arunet.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.DataException;
import org.arunet.data.io.Raster;
import org.arunet.data.video.FrameSource;
import org.arunet.data.video.VideoFrame;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Video files written and read back through FFmpeg, and hostile files refused cleanly. */
class VideoFilesTest {
    @TempDir
    Path tmp;

    private static List<VideoFrame> readAll(FrameSource s) {
        List<VideoFrame> out = new ArrayList<>();
        for (VideoFrame f; (f = s.next()) != null; ) {
            out.add(f);
        }
        return out;
    }

    private static double meanAbsDiff(Raster a, Raster b) {
        long s = 0;
        for (int i = 0; i < a.data().length; i++) {
            s += Math.abs((a.data()[i] & 0xFF) - (b.data()[i] & 0xFF));
        }
        return (double) s / a.data().length;
    }

    @ParameterizedTest
    @ValueSource(strings = {"clip.mp4", "clip.avi", "clip.mkv"})
    void writtenClipsReadBackFrameForFrame(String name) throws IOException {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 12, 0);
        Path f = tmp.resolve(name);
        SyntheticClip.write(clip, f, 25);
        try (FrameSource s = VideoFiles.open(f, ColorMode.RGB)) {
            assertEquals(25, s.frameRate(), 1e-6);
            List<VideoFrame> frames = readAll(s);
            assertEquals(12, frames.size(), name);
            for (int i = 0; i < frames.size(); i++) {
                VideoFrame v = frames.get(i);
                assertEquals(i, v.index());
                assertEquals(i / 25.0, v.timeSeconds(), 1e-3, "time of frame " + i);
                assertEquals(256, v.image().width());
                assertEquals(212, v.image().height());
                double d = meanAbsDiff(clip.images().get(i), v.image());
                assertTrue(d < 4, name + " frame " + i + ": mean difference " + d + " grey levels after encoding");
            }
            assertNull(s.next(), "after the end");
        }
    }

    @Test
    void mp4IsH264() throws IOException {
        try (VideoWriter w = VideoWriter.create(tmp.resolve("a.mp4"), 64, 48, 30, 2)) {
            assertTrue(w.codec().startsWith("h264"), w.codec());
        }
        try (VideoWriter w = VideoWriter.create(tmp.resolve("a.avi"), 64, 48, 30, 2)) {
            assertEquals("mjpeg", w.codec());
        }
    }

    @Test
    void oddSizesArePaddedAndReadBackAtTheCodedSize() throws IOException {
        Raster r = new Raster(33, 21, 1, 8, new byte[33 * 21]);
        Arrays.fill(r.data(), (byte) 200);
        Path f = tmp.resolve("odd.mp4");
        try (VideoWriter w = VideoWriter.create(f, 33, 21, 10, 2)) {
            w.write(r);
            w.write(r);
        }
        try (FrameSource s = VideoFiles.open(f, ColorMode.GREY)) {
            VideoFrame v = s.next();
            assertNotNull(v);
            assertEquals(34, v.image().width());
            assertEquals(22, v.image().height());
            assertEquals(1, v.image().channels());
            assertTrue(Math.abs((v.image().data()[0] & 0xFF) - 200) < 6);
        }
        // RGB rows of 34 x 3 bytes, which FFmpeg pads to a wider stride
        try (FrameSource s = VideoFiles.open(f, ColorMode.RGB)) {
            for (int i = 0; i < 2; i++) {
                VideoFrame v = s.next();
                assertEquals(3, v.image().channels());
                assertEquals(34 * 22 * 3, v.image().data().length);
                assertTrue(Math.abs((v.image().data()[3 * 34 * 10 + 3 * 16 + 1] & 0xFF) - 200) < 6);
            }
        }
    }

    @Test
    void missingEmptyAndNonVideoFilesAreRefusedNamingTheFile() throws IOException {
        Path missing = tmp.resolve("missing.mp4");
        assertNamed(missing, assertThrows(DataException.class, () -> VideoFiles.open(missing, ColorMode.RGB)));
        Path empty = Files.createFile(tmp.resolve("empty.mp4"));
        assertNamed(empty, assertThrows(DataException.class, () -> VideoFiles.open(empty, ColorMode.RGB)));
        Path text = Files.writeString(tmp.resolve("notes.mp4"), "not a video at all\n".repeat(100));
        assertNamed(text, assertThrows(DataException.class, () -> VideoFiles.open(text, ColorMode.RGB)));
        Path png = Clips.sampleDir(tmp).resolve("images/benign_028.png");
        Path renamed = Files.copy(png, tmp.resolve("image.avi"));
        // FFmpeg reads a PNG as a one-frame "video"; whatever it does, it names the file or gives one frame.
        try (FrameSource s = VideoFiles.open(renamed, ColorMode.RGB)) {
            assertTrue(readAll(s).size() <= 1);
        } catch (DataException e) {
            assertNamed(renamed, e);
        }
    }

    @Test
    void truncatedAndCorruptedClipsGiveTheirGoodFramesOrACleanError() throws IOException {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 20, 0);
        for (String name : List.of("t.mp4", "t.avi", "t.mkv")) {
            Path f = tmp.resolve(name);
            SyntheticClip.write(clip, f, 25);
            byte[] all = Files.readAllBytes(f);
            Path cut = tmp.resolve("cut-" + name);
            Files.write(cut, Arrays.copyOf(all, all.length / 2));
            Path noisy = tmp.resolve("noisy-" + name);
            byte[] damaged = all.clone();
            Random rnd = new Random(3);
            for (int i = 0; i < 200; i++) {
                damaged[all.length / 4 + rnd.nextInt(all.length / 2)] = (byte) rnd.nextInt();
            }
            Files.write(noisy, damaged);
            for (Path p : List.of(cut, noisy)) {
                assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                    try (FrameSource s = VideoFiles.open(p, ColorMode.RGB)) {
                        int n = 0;
                        try {
                            while (s.next() != null) {
                                n++;
                            }
                        } catch (DataException e) {
                            assertNamed(p, e);
                        }
                        assertTrue(n <= 20, p + ": " + n + " frames");
                    } catch (DataException e) {
                        assertNamed(p, e); // e.g. the MP4 index is in the lost half
                    }
                });
            }
        }
    }

    @Test
    void absurdDeclaredFrameSizeIsRefusedBeforeDecoding() throws IOException {
        // A YUV4MPEG2 stream header declaring 60000 x 60000 frames, followed by a few bytes.
        Path f = tmp.resolve("huge.y4m");
        Files.write(
                f,
                ("YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + "x".repeat(64))
                        .getBytes(StandardCharsets.US_ASCII));
        DataException e = assertThrows(DataException.class, () -> {
            try (FrameSource s = VideoFiles.open(f, ColorMode.RGB)) {
                s.next();
            }
        });
        assertNamed(f, e);
    }

    @Test
    void aStreamWithNoFramesEndsAtOnce() throws IOException {
        Path f = tmp.resolve("empty.y4m");
        Files.write(f, "YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n".getBytes(StandardCharsets.US_ASCII));
        try (FrameSource s = VideoFiles.open(f, ColorMode.RGB)) {
            assertNull(s.next());
        } catch (DataException e) {
            assertNamed(f, e);
        }
    }

    static void assertNamed(Path f, DataException e) {
        assertTrue(e.getMessage().contains(f.toString()), "message names the file: " + e.getMessage());
    }
}

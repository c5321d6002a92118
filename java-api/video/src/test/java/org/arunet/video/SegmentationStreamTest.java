package org.arunet.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.video.FrameSource;
import org.arunet.data.video.FrameSources;
import org.arunet.data.video.VideoFrame;
import org.arunet.infer.FrameSegmentation;
import org.arunet.infer.SegmentationStream;
import org.arunet.infer.Segmenter;
import org.arunet.infer.StreamException;
import org.arunet.infer.StreamOptions;
import org.arunet.pretrained.PretrainedModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming segmenter on clips made from the bundled sample with the shipped model: the same masks
 * as the still-image path, in order; temporal smoothing; a damaged, stalled or endless source; closing.
 */
class SegmentationStreamTest {
    static Segmenter seg;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() throws IOException {
        seg = Segmenter.builder(PretrainedModels.onClassPath().checkpoint("busi-compact"))
                .device("cpu")
                .threads(2)
                .build();
    }

    @AfterAll
    static void close() {
        seg.close();
    }

    private static List<FrameSegmentation> all(SegmentationStream s) {
        List<FrameSegmentation> out = new ArrayList<>();
        for (FrameSegmentation f; (f = s.next()) != null; ) {
            out.add(f);
        }
        return out;
    }

    @Test
    void videoStreamGivesTheStillImageMasksInOrder() throws IOException {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 16, 0);
        Path f = tmp.resolve("clip.mp4");
        SyntheticClip.write(clip, f, 20);
        List<FrameSegmentation> got;
        try (SegmentationStream s =
                seg.stream(VideoFiles.open(f, seg.preprocessing().colorMode()))) {
            assertEquals(20, s.frameRate(), 1e-9);
            got = all(s);
            assertEquals(16, s.framesDelivered());
            assertTrue(s.framesPerSecond() > 0);
            assertTrue(s.latencyMs(0.99) >= s.latencyMs(0.5));
        }
        assertEquals(16, got.size());
        double diceStream = 0;
        try (FrameSource again = VideoFiles.open(f, seg.preprocessing().colorMode())) {
            for (int i = 0; i < 16; i++) {
                FrameSegmentation r = got.get(i);
                assertEquals(i, r.index());
                assertEquals(i / 20.0, r.timeSeconds(), 1e-3);
                VideoFrame v = again.next();
                assertArrayEquals(v.image().data(), r.image().data(), "frame " + i + " decoded the same");
                assertArrayEquals(
                        seg.segment(v.image()).mask(), r.segmentation().mask(), "mask of frame " + i);
                diceStream += Clips.dice(r.segmentation().mask(), clip.masks().get(i));
            }
        }
        // and close to the masks of the frames before encoding
        double diceOriginal = 0;
        for (int i = 0; i < 16; i++) {
            diceOriginal += Clips.dice(
                    seg.segment(clip.images().get(i)).mask(), clip.masks().get(i));
        }
        System.out.printf(
                "mean Dice vs the known masks: video %.4f, frames before encoding %.4f%n",
                diceStream / 16, diceOriginal / 16);
        assertTrue(Math.abs(diceStream - diceOriginal) / 16 < 0.02, "H.264 changes Dice by < 0.02");
        assertTrue(diceStream / 16 > 0.6, "the lesion is found: Dice " + diceStream / 16);
    }

    @Test
    void numberedFolderIsReadInFrameNumberOrder() throws IOException {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "malignant_011", 12, 0);
        Path dir = tmp.resolve("frames");
        java.nio.file.Files.createDirectories(dir);
        for (int i = 0; i < 12; i++) { // frame_1 ... frame_12: name order would put frame_10 second
            Raster r = clip.images().get(i);
            ImageIO.write(
                    toImage(r), "png", dir.resolve("frame_" + (i + 1) + ".png").toFile());
        }
        ImageReader reader = new ImageReader();
        try (SegmentationStream s =
                seg.stream(FrameSources.folder(dir, 15, seg.preprocessing().colorMode(), reader))) {
            List<FrameSegmentation> got = all(s);
            assertEquals(12, got.size());
            for (int i = 0; i < 12; i++) {
                Raster png = reader.readImage(
                        dir.resolve("frame_" + (i + 1) + ".png"),
                        seg.preprocessing().colorMode());
                assertArrayEquals(
                        seg.segment(png).mask(), got.get(i).segmentation().mask(), "frame " + (i + 1));
                assertEquals(i / 15.0, got.get(i).timeSeconds(), 1e-9);
            }
        }
    }

    static java.awt.image.BufferedImage toImage(Raster r) {
        java.awt.image.BufferedImage b =
                new java.awt.image.BufferedImage(r.width(), r.height(), java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < r.height(); y++) {
            for (int x = 0; x < r.width(); x++) {
                int o = (y * r.width() + x) * r.channels();
                int v = r.data()[o] & 0xFF;
                b.setRGB(x, y, (v << 16) | ((r.data()[o + 1] & 0xFF) << 8) | (r.data()[o + 2] & 0xFF));
            }
        }
        return b;
    }

    /** Frame-to-frame flicker (mean 1 - Dice of consecutive masks) and mean Dice vs the truth. */
    private double[] flickerAndDice(SyntheticClip.Frames clip, double smoothing) {
        List<FrameSegmentation> got;
        try (SegmentationStream s = seg.stream(
                new ListSource(clip.images()), StreamOptions.defaults().withSmoothing(smoothing))) {
            got = all(s);
        }
        double flicker = 0;
        double dice = 0;
        for (int i = 0; i < got.size(); i++) {
            dice += Clips.dice(got.get(i).segmentation().mask(), clip.masks().get(i));
            if (i > 0) {
                flicker += 1
                        - Clips.dice(
                                got.get(i).segmentation().mask(),
                                got.get(i - 1).segmentation().mask());
            }
        }
        return new double[] {flicker / (got.size() - 1), dice / got.size()};
    }

    @Test
    void smoothingSteadiesANoisyClip() {
        // heavy speckle-like noise on a slowly moving lesion
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 40, 40);
        double[] off = flickerAndDice(clip, 1);
        double[] on = flickerAndDice(clip, 0.5);
        System.out.printf(
                "noisy clip (sigma 40): flicker %.4f -> %.4f, Dice vs truth %.4f -> %.4f with smoothing 0.5%n",
                off[0], on[0], off[1], on[1]);
        assertTrue(on[0] < off[0], "smoothing lowers the flicker: " + off[0] + " -> " + on[0]);
        assertTrue(on[1] > off[1] - 0.02, "and keeps Dice: " + off[1] + " -> " + on[1]);
    }

    @Test
    void smoothingOfOneIsTheStillPathExactly() {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 5, 10);
        try (SegmentationStream s = seg.stream(new ListSource(clip.images()), StreamOptions.defaults())) {
            for (int i = 0; i < 5; i++) {
                assertArrayEquals(
                        seg.segment(clip.images().get(i)).mask(),
                        s.next().segmentation().mask());
            }
            assertNull(s.next());
        }
    }

    @Test
    void aDamagedFrameEndsTheStreamAfterTheGoodOnes() {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 8, 0);
        ListSource src = new ListSource(clip.images()) {
            @Override
            public VideoFrame next() {
                if (position() == 5) {
                    throw new DataException(Path.of("clip.avi"), "frame 5 cannot be decoded (test)");
                }
                return super.next();
            }
        };
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            try (SegmentationStream s = seg.stream(src)) {
                for (int i = 0; i < 5; i++) {
                    assertEquals(i, s.next().index());
                }
                StreamException e = assertThrows(StreamException.class, s::next);
                assertTrue(e.getMessage().contains("clip.avi") && e.getMessage().contains("frame 5"), e.getMessage());
                assertThrows(StreamException.class, s::next, "again on the next call");
            }
        });
        assertTrue(src.closed.get(), "the source is closed");
    }

    @Test
    void aStalledSourceIsReportedAndClosingDoesNotHang() {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 3, 0);
        CountDownLatch never = new CountDownLatch(1);
        ListSource src = new ListSource(clip.images()) {
            @Override
            public VideoFrame next() {
                if (position() == 3) {
                    try {
                        never.await(); // a network stream that stops sending
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new DataException(Path.of("live"), "read interrupted");
                    }
                }
                return super.next();
            }
        };
        StreamOptions o = StreamOptions.defaults().withStallTimeout(Duration.ofMillis(500));
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            try (SegmentationStream s = seg.stream(src, o)) {
                for (int i = 0; i < 3; i++) {
                    assertNotNull(s.next());
                }
                StreamException e = assertThrows(StreamException.class, s::next);
                assertTrue(e.getMessage().contains("stalled"), e.getMessage());
            }
        });
        assertTrue(src.closed.get(), "the stalled source is closed");
        assertNoStreamThreads();
    }

    @Test
    void aSlowCallerHoldsTheReaderBackAndCloseStopsEverything() throws InterruptedException {
        SyntheticClip.Frames clip = Clips.fromSample(tmp, "benign_028", 1, 0);
        AtomicInteger reads = new AtomicInteger();
        ListSource endless = new ListSource(clip.images()) {
            @Override
            public VideoFrame next() {
                int i = reads.getAndIncrement();
                return closed.get()
                        ? null
                        : new VideoFrame(i, i / 30.0, clip.images().get(0));
            }
        };
        int cap = 2;
        SegmentationStream s = seg.stream(endless, StreamOptions.defaults().withQueueCapacity(cap));
        try {
            assertNotNull(s.next());
            // the caller stops taking frames: the reader must stop too, once the pipeline is full
            int held = reads.get();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (true) {
                Thread.sleep(500);
                int now = reads.get();
                if (now == held) {
                    break;
                }
                held = now;
                assertTrue(System.nanoTime() < deadline, "the reader never waits for the caller: " + now + " reads");
            }
            // three queues of cap + 1, one frame in each stage's hands, the one delivered
            assertTrue(held <= 3 * (cap + 1) + 3 + 1, "frames read while the caller waits: " + held);
        } finally {
            long t0 = System.nanoTime();
            s.close();
            assertTrue((System.nanoTime() - t0) / 1e9 < 10, "close returns promptly");
        }
        assertNull(s.next(), "a closed stream gives no more frames");
        assertTrue(endless.closed.get(), "the source is closed");
        assertNoStreamThreads();
    }

    static void assertNoStreamThreads() {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            boolean any = Thread.getAllStackTraces().keySet().stream()
                    .anyMatch(t -> t.getName().startsWith("arunet-stream-") && t.isAlive());
            if (!any) {
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("stream threads still running after close()");
    }

    /** Frames from memory; records whether it was closed. */
    static class ListSource implements FrameSource {
        final List<Raster> frames;
        final AtomicBoolean closed = new AtomicBoolean();
        private int next;

        ListSource(List<Raster> frames) {
            this.frames = frames;
        }

        int position() {
            return next;
        }

        @Override
        public String name() {
            return "memory";
        }

        @Override
        public double frameRate() {
            return 30;
        }

        @Override
        public int declaredFrames() {
            return frames.size();
        }

        @Override
        public VideoFrame next() {
            if (closed.get() || next >= frames.size()) {
                return null;
            }
            VideoFrame f = new VideoFrame(next, next / 30.0, frames.get(next));
            next++;
            return f;
        }

        @Override
        public void close() {
            closed.set(true);
        }
    }
}

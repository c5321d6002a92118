package org.arunet.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.testing.SyntheticData;
import org.arunet.train.Trainer;
import org.arunet.train.TrainerConfig;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Inference from a trained checkpoint: every input kind, options, concurrency, bad input. */
class SegmenterTest {
    @TempDir
    static Path dir;

    static Path checkpoint;
    static final List<Path> images = new ArrayList<>();

    @BeforeAll
    static void trainAndWriteImages() throws IOException {
        try (Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(8), Init.Scheme.AUTHORS, 3);
                SyntheticData train = new SyntheticData(16, 32, 3, 21)) {
            Trainer.on(net)
                    .config(TrainerConfig.paper()
                            .withEpochs(8)
                            .withBatchSize(4)
                            .withLearningRate(3e-3f)
                            .withWarmupEpochs(1)
                            .withPatience(0))
                    .data(train, null)
                    .checkpointDir(dir.resolve("ckpt"))
                    .fit();
        }
        checkpoint = dir.resolve("ckpt").resolve(Trainer.LAST);
        // Grey images of other sizes than the network's 32 x 32: a bright disc on a dark, noisy background.
        java.util.SplittableRandom r = new java.util.SplittableRandom(4);
        for (int i = 0; i < 6; i++) {
            int w = 40 + 7 * i;
            int h = 50 - 3 * i;
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
            double cx = w * (0.3 + 0.4 * r.nextDouble());
            double cy = h * (0.3 + 0.4 * r.nextDouble());
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    boolean in = Math.hypot(x - cx, y - cy) < Math.min(w, h) * 0.2;
                    int v = (int) Math.max(0, Math.min(255, (in ? 204 : 51) + 38 * r.nextGaussian()));
                    img.getRaster().setSample(x, y, 0, v);
                }
            }
            Path p = dir.resolve("img" + i + ".png");
            ImageIO.write(img, "png", p.toFile());
            images.add(p);
        }
    }

    private static Segmenter.Builder builder() {
        return Segmenter.builder(checkpoint).device("cpu").imageSize(32);
    }

    @Test
    void everyInputKindGivesTheSameSegmentation() throws IOException {
        try (Segmenter s = builder().threads(2).build()) {
            Path f = images.get(2);
            Segmentation fromFile = s.segment(f);
            BufferedImage bi = ImageIO.read(f.toFile());
            assertEquals(bi.getWidth(), fromFile.width());
            assertEquals(bi.getHeight(), fromFile.height());
            assertTrue(fromFile.lesionPixels() > 0, "the disc is found");
            assertArrayEquals(fromFile.mask(), s.segment(bi).mask(), "BufferedImage");
            try (Mat m = opencv_imgcodecs.imread(f.toString(), opencv_imgcodecs.IMREAD_UNCHANGED)) {
                Raster fromMat = ImageReader.fromMat(m, s.preprocessing().colorMode());
                assertArrayEquals(fromFile.mask(), s.segment(fromMat).mask(), "Mat");
            }
            float[] px = new float[bi.getWidth() * bi.getHeight()];
            for (int y = 0; y < bi.getHeight(); y++) {
                for (int x = 0; x < bi.getWidth(); x++) {
                    px[y * bi.getWidth() + x] = bi.getRaster().getSample(x, y, 0) / 255f;
                }
            }
            Segmentation fromFloats = s.segment(px, bi.getWidth(), bi.getHeight(), 1);
            float[] a = fromFile.lesionProbability();
            float[] b = fromFloats.lesionProbability();
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], 1e-3, "float[] input, pixel " + i);
            }
            int[] box = fromFile.boundingBox();
            assertNotNull(box);
            assertTrue(fromFile.meanLesionProbability() > 0.5);
        }
    }

    @Test
    void flipTtaAndLargestComponent() throws IOException {
        try (Segmenter plain = builder().threads(2).build();
                Segmenter tta = builder().threads(2).flipTta(true).build();
                Segmenter largest = builder().threads(2).largestComponent(true).build()) {
            Path f = images.get(0);
            Segmentation p = plain.segment(f);
            Segmentation t = tta.segment(f);
            // TTA averages with the mirrored prediction: probabilities change but stay probabilities.
            boolean differs = false;
            for (int i = 0; i < p.lesionProbability().length; i++) {
                float v = t.lesionProbability()[i];
                assertTrue(v >= 0 && v <= 1);
                differs |= v != p.lesionProbability()[i];
            }
            assertTrue(differs, "TTA changed nothing");
            Segmentation l = largest.segment(f);
            assertTrue(l.lesionPixels() <= p.lesionPixels());
        }
        // Largest component on a hand-made mask: two blobs, the smaller is removed; 8-connectivity joins diagonals.
        byte[] m = {
            1, 1, 0, 0, 0,
            1, 0, 0, 1, 0,
            0, 0, 0, 0, 1,
            0, 0, 0, 0, 0
        };
        Segmenter.keepLargestComponent(m, 5, 4);
        assertArrayEquals(new byte[] {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, m);
    }

    @Test
    void eightConcurrentCallersGetTheSingleThreadedResults() throws Exception {
        try (Segmenter s = builder().threads(2).replicas(2).build()) {
            List<Segmentation> expected = new ArrayList<>();
            for (Path f : images) {
                expected.add(s.segment(f));
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<Boolean>> futures = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    final int offset = t;
                    futures.add(pool.submit(() -> {
                        for (int round = 0; round < 3; round++) {
                            for (int k = 0; k < images.size(); k++) {
                                int i = (k + offset) % images.size();
                                Segmentation got = s.segment(images.get(i));
                                assertArrayEquals(expected.get(i).mask(), got.mask(), "mask of image " + i);
                                assertArrayEquals(
                                        expected.get(i).lesionProbability(),
                                        got.lesionProbability(),
                                        "probabilities of image " + i);
                            }
                        }
                        return true;
                    }));
                }
                for (Future<Boolean> f : futures) {
                    assertTrue(f.get());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void folderPredictionWritesMaskPngs() throws IOException {
        Path out = dir.resolve("masks");
        Path in = dir.resolve("in");
        Files.createDirectories(in);
        Files.copy(images.get(1), in.resolve("a.png"));
        Files.copy(images.get(3), in.resolve("b.png"));
        Files.writeString(in.resolve("notes.txt"), "not an image");
        try (Segmenter s = builder().build()) {
            List<Segmentation> r = s.segmentFolder(in, out);
            assertEquals(2, r.size());
            BufferedImage mask = ImageIO.read(out.resolve("a.png").toFile());
            assertEquals(r.get(0).width(), mask.getWidth());
            int v = mask.getRaster().getSample(0, 0, 0);
            assertTrue(v == 0 || v == 255);
        }
    }

    @Test
    void badInputIsReportedClearly() throws IOException {
        Path broken = dir.resolve("broken.png");
        Files.write(broken, new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        try (Segmenter s = builder().build()) {
            DataException e = assertThrows(DataException.class, () -> s.segment(broken));
            assertTrue(e.getMessage().contains(broken.toString()), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.segment(new float[10], 5, 5, 1));
            assertThrows(IllegalArgumentException.class, () -> s.segment(new float[] {2f}, 1, 1, 1));
        }
        Path notCkpt = dir.resolve("x.safetensors");
        Files.write(notCkpt, new byte[20]);
        IOException e = assertThrows(IOException.class, () -> Segmenter.load(notCkpt));
        assertTrue(e.getMessage().contains(notCkpt.toString()), e.getMessage());
    }
}

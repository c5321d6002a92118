package org.arunet.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.imageio.ImageIO;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.data.io.ImageReader;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.tensor.HostMemory;
import org.arunet.testing.SyntheticData;
import org.arunet.train.Trainer;
import org.arunet.train.TrainerConfig;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/**
 * Inference under load (docs/RELIABILITY.md, "Load"): many inferences in one process must keep heap
 * (after GC), arunet's native memory and the resident set flat; eight threads segmenting at once must
 * get exactly the single-threaded results. A normal build does 600 inferences and 10 s of
 * concurrency; {@code benchmarks/reliability/run-all.sh} sets {@code -Dreliability.inferences=10000}
 * and {@code -Dreliability.concurrentSeconds=300}. The memory curve goes to
 * {@code target/reliability/memory.csv} and {@code memory.png}, the concurrency counts to
 * {@code concurrency.csv}.
 */
class SegmenterLoadTest {
    private static final int INFERENCES = Integer.getInteger("reliability.inferences", 600);
    private static final int SAMPLE_EVERY = Integer.getInteger("reliability.sampleEvery", 50);
    private static final int CONCURRENT_SECONDS = Integer.getInteger("reliability.concurrentSeconds", 10);
    private static final int THREADS = 8;
    private static final Path REPORT = Path.of(System.getProperty("reliability.report", "target/reliability"));

    @TempDir
    static Path dir;

    static Path checkpoint;
    static final List<Path> images = new ArrayList<>();

    @BeforeAll
    static void trainAndWriteImages() throws IOException {
        try (Backend be = Backends.cpu(2);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 3);
                SyntheticData train = new SyntheticData(8, 32, 3, 21)) {
            Trainer.on(net)
                    .config(TrainerConfig.paper()
                            .withEpochs(3)
                            .withBatchSize(4)
                            .withLearningRate(3e-3f)
                            .withWarmupEpochs(1)
                            .withPatience(0))
                    .data(train, null)
                    .checkpointDir(dir.resolve("ckpt"))
                    .fit();
        }
        checkpoint = dir.resolve("ckpt").resolve(Trainer.LAST);
        // Several sizes and kinds: 8-bit grey PNG, 16-bit grey PNG, colour JPEG, grey BMP.
        SplittableRandom r = new SplittableRandom(4);
        int[][] sizes = {{40, 50}, {33, 31}, {64, 48}, {32, 32}, {57, 23}};
        String[] kinds = {"png", "png16", "jpg", "bmp", "png"};
        for (int i = 0; i < sizes.length; i++) {
            int w = sizes[i][0];
            int h = sizes[i][1];
            String kind = kinds[i];
            int type = kind.equals("png16")
                    ? BufferedImage.TYPE_USHORT_GRAY
                    : kind.equals("jpg") ? BufferedImage.TYPE_3BYTE_BGR : BufferedImage.TYPE_BYTE_GRAY;
            BufferedImage img = new BufferedImage(w, h, type);
            double cx = w * (0.3 + 0.4 * r.nextDouble());
            double cy = h * (0.3 + 0.4 * r.nextDouble());
            int max = kind.equals("png16") ? 65535 : 255;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    boolean in = Math.hypot(x - cx, y - cy) < Math.min(w, h) * 0.25;
                    double v = (in ? 0.8 : 0.2) + 0.15 * r.nextGaussian();
                    int s = (int) Math.max(0, Math.min(max, Math.round(v * max)));
                    for (int b = 0; b < img.getRaster().getNumBands(); b++) {
                        img.getRaster().setSample(x, y, b, s);
                    }
                }
            }
            Path p = dir.resolve("img" + i + "." + (kind.equals("png16") ? "png" : kind));
            ImageIO.write(img, kind.equals("png16") ? "png" : kind, p.toFile());
            images.add(p);
        }
    }

    private static Segmenter.Builder builder() {
        return Segmenter.builder(checkpoint).device("cpu").imageSize(32);
    }

    /** One inference of image {@code i}, through a different input path each time (file, Mat, BufferedImage). */
    private static Segmentation segmentOnce(Segmenter s, int n) throws IOException {
        Path f = images.get(n % images.size());
        switch ((n / images.size()) % 3) {
            case 0:
                return s.segment(f);
            case 1:
                try (Mat m = opencv_imgcodecs.imread(f.toString(), opencv_imgcodecs.IMREAD_UNCHANGED)) {
                    return s.segment(ImageReader.fromMat(m, s.preprocessing().colorMode()));
                }
            default:
                return s.segment(ImageIO.read(f.toFile()));
        }
    }

    private record Sample(int inferences, long heapAfterGc, long hostBytes, long javacppBytes, long rssBytes) {}

    private static Sample sample(int n, MemoryMXBean mem) {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return new Sample(
                n,
                mem.getHeapMemoryUsage().getUsed(),
                HostMemory.bytesInUse(),
                Pointer.totalBytes(),
                Pointer.physicalBytes());
    }

    @Test
    void manyInferencesKeepHeapNativeMemoryAndRssFlat() throws IOException {
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        List<Sample> samples = new ArrayList<>();
        long t0 = System.nanoTime();
        try (Segmenter s =
                builder().threads(2).flipTta(true).largestComponent(true).build()) {
            samples.add(sample(0, mem));
            for (int n = 1; n <= INFERENCES; n++) {
                Segmentation seg = segmentOnce(s, n - 1);
                assertEquals(seg.width() * seg.height(), seg.mask().length);
                if (n % SAMPLE_EVERY == 0) {
                    samples.add(sample(n, mem));
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        writeMemoryRecord(samples, seconds);
        // After a warm-up of a tenth of the run (JIT, OpenCV and oneDNN caches, glibc arenas) nothing may grow.
        List<Sample> steady = samples.subList(Math.max(1, samples.size() / 10), samples.size());
        Sample first = steady.get(0);
        Sample last = steady.get(steady.size() - 1);
        for (Sample x : steady) {
            assertEquals(
                    first.hostBytes(), x.hostBytes(), "arunet native bytes changed at inference " + x.inferences());
            assertEquals(
                    first.javacppBytes(),
                    x.javacppBytes(),
                    "JavaCPP-tracked bytes changed at inference " + x.inferences());
        }
        long heapMin = steady.stream().mapToLong(Sample::heapAfterGc).min().orElseThrow();
        long heapMax = steady.stream().mapToLong(Sample::heapAfterGc).max().orElseThrow();
        assertTrue(heapMax - heapMin < 8L << 20, "heap after GC varies by " + (heapMax - heapMin) + " bytes");
        // RSS: a leak of even 2 KB per inference would add 20 MB over 10,000; allow allocator noise.
        long inferences = last.inferences() - first.inferences();
        long growth = last.rssBytes() - first.rssBytes();
        assertTrue(
                growth < (16L << 20) + 2048L * inferences,
                "resident set grew by " + growth + " bytes over " + inferences + " inferences");
    }

    private static void writeMemoryRecord(List<Sample> samples, double seconds) throws IOException {
        Files.createDirectories(REPORT);
        List<String> lines = new ArrayList<>();
        lines.add("inferences,heap_used_after_gc_bytes,arunet_native_bytes,javacpp_tracked_bytes,rss_bytes");
        for (Sample s : samples) {
            lines.add(s.inferences() + "," + s.heapAfterGc() + "," + s.hostBytes() + "," + s.javacppBytes() + ","
                    + s.rssBytes());
        }
        lines.add(String.format(
                Locale.ROOT,
                "# %d inferences in %.1f s (flip TTA, largest component, inputs "
                        + "cycling through file, OpenCV Mat and BufferedImage)",
                samples.get(samples.size() - 1).inferences(),
                seconds));
        Files.write(REPORT.resolve("memory.csv"), lines, StandardCharsets.UTF_8);
        XYChart c = new XYChartBuilder()
                .width(800)
                .height(450)
                .title("Memory over " + samples.get(samples.size() - 1).inferences() + " inferences in one process")
                .xAxisTitle("inferences")
                .yAxisTitle("MiB")
                .build();
        double[] x = samples.stream().mapToDouble(Sample::inferences).toArray();
        c.addSeries(
                "resident set (RSS)",
                x,
                samples.stream().mapToDouble(s -> s.rssBytes() / 1048576.0).toArray());
        c.addSeries(
                "Java heap after GC",
                x,
                samples.stream().mapToDouble(s -> s.heapAfterGc() / 1048576.0).toArray());
        c.addSeries(
                "arunet native (HostMemory)",
                x,
                samples.stream().mapToDouble(s -> s.hostBytes() / 1048576.0).toArray());
        c.addSeries(
                "JavaCPP-tracked native",
                x,
                samples.stream().mapToDouble(s -> s.javacppBytes() / 1048576.0).toArray());
        c.getStyler().setYAxisMin(0.0);
        BitmapEncoder.saveBitmap(c, REPORT.resolve("memory.png").toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    @Test
    void eightThreadsSegmentingForAWhileGetTheSingleThreadedResults() throws Exception {
        try (Segmenter s = builder().threads(2).replicas(2).flipTta(true).build()) {
            int kinds = images.size() * 3;
            List<Segmentation> expected = new ArrayList<>();
            for (int n = 0; n < kinds; n++) {
                expected.add(segmentOnce(s, n));
            }
            long hostBefore = HostMemory.bytesInUse();
            long deadline = System.nanoTime() + CONCURRENT_SECONDS * 1_000_000_000L;
            AtomicLong done = new AtomicLong();
            AtomicLong mismatches = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<Long>> futures = new ArrayList<>();
            long t0 = System.nanoTime();
            try {
                for (int t = 0; t < THREADS; t++) {
                    final int offset = t * 7;
                    futures.add(pool.submit(() -> {
                        long mine = 0;
                        for (int k = offset; System.nanoTime() < deadline; k++) {
                            int n = k % kinds;
                            Segmentation got = segmentOnce(s, n);
                            if (!java.util.Arrays.equals(expected.get(n).mask(), got.mask())
                                    || !java.util.Arrays.equals(
                                            expected.get(n).lesionProbability(), got.lesionProbability())) {
                                mismatches.incrementAndGet();
                            }
                            done.incrementAndGet();
                            mine++;
                        }
                        return mine;
                    }));
                }
                long[] perThread = new long[THREADS];
                for (int t = 0; t < THREADS; t++) {
                    // An exception in any thread fails the test here; a deadlock fails it after the timeout.
                    perThread[t] = futures.get(t).get(CONCURRENT_SECONDS + 300L, TimeUnit.SECONDS);
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                Files.createDirectories(REPORT);
                Files.write(
                        REPORT.resolve("concurrency.csv"),
                        List.of(
                                "threads,replicas,seconds,inferences,errors,mismatches,per_thread",
                                String.format(
                                        Locale.ROOT,
                                        "%d,2,%.1f,%d,0,%d,%s",
                                        THREADS,
                                        seconds,
                                        done.get(),
                                        mismatches.get(),
                                        java.util.Arrays.toString(perThread).replace(",", ""))),
                        StandardCharsets.UTF_8);
                for (long p : perThread) {
                    assertTrue(p > 0, "a thread never got a replica: " + java.util.Arrays.toString(perThread));
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(0, mismatches.get(), "results differing from the single-threaded ones, of " + done.get());
            assertEquals(hostBefore, HostMemory.bytesInUse(), "native memory grew under concurrency");
        }
    }
}

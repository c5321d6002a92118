package org.arunet.data.loader;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import org.arunet.data.Batch;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.testing.BusiData;

/**
 * Measures the loader on the shared BUSI copy (benign + malignant) at the paper's settings: how fast
 * it produces batches when the consumer takes them at once, and how long a consumer waits per batch
 * when each training step takes a given time.
 *
 * <p>Run: {@code java -cp <test classpath> org.arunet.data.loader.LoaderBenchmark [size] [batch]
 * [threads] [stepMillis...]}; defaults 512 2 2 and steps 0 25 50 100. A step given as a negative
 * number spins on the CPU for that many milliseconds instead of sleeping, like a trainer computing on
 * the same cores as the loader. {@code -Darunet.cacheBytes=0} switches the cache off (every item is
 * decoded from its file each epoch).
 */
public final class LoaderBenchmark {
    private LoaderBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path busi = BusiData.root().orElseThrow(() -> new IllegalStateException("shared BUSI copy not found"));
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int[] steps = args.length > 3
                ? java.util.Arrays.stream(args, 3, args.length)
                        .mapToInt(Integer::parseInt)
                        .toArray()
                : new int[] {0, 25, 50, 100};
        SegmentationDataset ds = Datasets.scan(busi);
        LoaderConfig.Builder builder =
                LoaderConfig.builder().imageSize(size).threads(threads).seed(1);
        String cache = System.getProperty("arunet.cacheBytes");
        if (cache != null) {
            builder.cacheBytes(Long.parseLong(cache)); // 0: decode every item every epoch
        }
        LoaderConfig cfg = builder.build();
        System.out.printf(
                Locale.ROOT,
                "BUSI %d pairs, %dx%dx3, batch %d, %d loader threads, prefetch %d, %d cores%n",
                ds.size(),
                size,
                size,
                batch,
                threads,
                cfg.prefetch(),
                Runtime.getRuntime().availableProcessors());
        try (SegmentationBatchSource src = SegmentationBatchSource.open(ds, cfg)) {
            System.out.println("open: " + src.report());
            int epoch = 0;
            for (int signedStep : steps) {
                int step = Math.abs(signedStep);
                boolean spin = signedStep < 0;
                LoaderStats before = src.stats();
                int maxBatches = step == 0 ? Integer.MAX_VALUE : Math.max(40, 4000 / step);
                long t0 = System.nanoTime();
                int n = 0;
                Iterator<Batch> it = src.epoch(epoch++, batch, true);
                while (it.hasNext() && n < maxBatches) {
                    try (Batch b = it.next()) {
                        n++;
                        if (spin) {
                            long until = System.nanoTime() + step * 1_000_000L;
                            while (System.nanoTime() < until) {
                                Thread.onSpinWait();
                            }
                        } else if (step > 0) {
                            Thread.sleep(step);
                        }
                    }
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                LoaderStats after = src.stats();
                long sb = after.steadyBatches() - before.steadyBatches();
                double meanWait = (after.steadyWaitNanos() - before.steadyWaitNanos()) / 1e6 / Math.max(1, sb);
                System.out.printf(
                        Locale.ROOT,
                        "step %3d ms %s: %4d batches in %6.2f s (%6.1f batches/s, %5.2f ms/item); "
                                + "consumer wait per batch in steady state: mean %.3f ms, max so far %.3f ms%n",
                        step,
                        spin ? "busy " : "sleep",
                        n,
                        secs,
                        n / secs,
                        secs * 1000 / (n * batch),
                        meanWait,
                        after.maxSteadyWaitNanos() / 1e6);
            }
        }
    }
}

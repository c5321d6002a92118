package org.arunet.data.loader;

import static org.bytedeco.opencv.global.opencv_core.CV_64F;

import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.arunet.data.Batch;
import org.arunet.data.BatchSource;
import org.arunet.data.augment.AugmentParams;
import org.arunet.data.augment.Augmenter;
import org.arunet.data.dataset.BadItemPolicy;
import org.arunet.data.dataset.Problem;
import org.arunet.data.dataset.Sample;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImagePair;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.bytedeco.opencv.opencv_core.Mat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link BatchSource} of this module: image/mask samples delivered as normalised NHWC float
 * batches with int class masks, loaded and augmented in background threads.
 *
 * <pre>{@code
 * LoaderConfig cfg = LoaderConfig.builder().imageSize(512).seed(42).build();
 * try (SegmentationBatchSource train = SegmentationBatchSource.open(parts.train(), cfg)) {
 *     for (int epoch = 0; epoch < 150; epoch++) {
 *         Iterator<Batch> it = train.epoch(epoch, 2, true);
 *         while (it.hasNext()) {
 *             try (Batch b = it.next()) {
 *                 // b.images(): [N, S, S, C] floats, b.masks(): [N, S, S] class indices
 *             }
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p><b>Opening</b> decodes every sample once on the loader threads, checks it (readable, mask
 * present, same size as the image, mask values below the class count; see
 * {@link ImageReader}), resizes image (area/bilinear) and mask (nearest) to S x S, and keeps the
 * results in memory while they fit in {@link LoaderConfig#cacheBytes} (items beyond are decoded
 * again when needed). A bad item stops the opening with a {@link DataException} naming the file
 * ({@link BadItemPolicy#FAIL}) or is left out and listed in {@link #report()} ({@link
 * BadItemPolicy#SKIP}), so training never starts on a broken set.
 *
 * <p><b>Items</b>: image values are normalised as {@link Normalization} states (default
 * {@code (v/255 - 0.5) / 0.5}); a grey image gives three equal channels when {@code channels = 3}.
 * Training epochs draw one {@link org.arunet.data.augment.Augmentation} per item, applied as one
 * affine warp to image (bilinear) and mask (nearest).
 *
 * <p><b>Determinism</b>: the order of epoch {@code e} is a permutation seeded by {@code (seed, e)};
 * an item's augmentation is seeded by {@code (seed, e, FNV-1a hash of its id)}. Nothing depends on
 * the thread count, thread timing, batch size, cache hits or earlier epochs, so a resumed run
 * reproduces an uninterrupted one bit for bit.
 *
 * <p><b>Background loading</b>: each batch is one task on a fixed pool of {@link
 * LoaderConfig#threads} threads; an epoch iterator keeps {@link LoaderConfig#prefetch} batches
 * submitted ahead of the consumer (a bounded queue) and hands them out in order. Batch arrays come
 * from a pool and go back on {@link Batch#close()}; each task reuses a workspace of OpenCV buffers.
 * {@link #stats()} reports how long the consumer waited.
 */
public final class SegmentationBatchSource implements BatchSource {
    private static final Logger LOG = LoggerFactory.getLogger(SegmentationBatchSource.class);
    private static final boolean LITTLE = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private final LoaderConfig cfg;
    private final ImageReader reader;
    private final List<Sample> samples;
    private final long[] keys;
    private final Base[] cache;
    private final ExecutorService pool;
    private final ArrayPool arrays;
    private final ConcurrentLinkedQueue<Workspace> workspaces = new ConcurrentLinkedQueue<>();
    private final List<Workspace> allWorkspaces = new ArrayList<>();
    private final float[][] lut8;
    private final LoadReport report;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicLong statBatches = new AtomicLong();
    private final AtomicLong statFirstWait = new AtomicLong();
    private final AtomicLong statSteadyBatches = new AtomicLong();
    private final AtomicLong statSteadyWait = new AtomicLong();
    private final AtomicLong statMaxSteadyWait = new AtomicLong();

    /** An item's image and mask resized to S x S. */
    private record Base(Raster image, Raster mask) {
        long bytes() {
            return image.data().length + mask.data().length;
        }
    }

    /** Opens a source over all samples of a dataset. */
    public static SegmentationBatchSource open(SegmentationDataset dataset, LoaderConfig cfg) {
        return open(dataset.samples(), cfg);
    }

    /**
     * Opens a source over {@code samples} (in this order for non-training epochs): decodes and checks
     * every item, filling the cache; see the class comment.
     */
    public static SegmentationBatchSource open(List<Sample> samples, LoaderConfig cfg) {
        if (samples.isEmpty()) {
            throw new DataException("empty dataset: no samples given to the loader");
        }
        return new SegmentationBatchSource(samples, cfg);
    }

    private SegmentationBatchSource(List<Sample> given, LoaderConfig cfg) {
        this.cfg = cfg;
        this.reader = new ImageReader(cfg.limits());
        this.arrays = new ArrayPool(cfg.prefetch() + 4);
        AtomicInteger threadNo = new AtomicInteger();
        ThreadFactory tf = r -> {
            Thread t = new Thread(r, "arunet-loader-" + threadNo.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.pool = Executors.newFixedThreadPool(cfg.threads(), tf);
        this.lut8 = new float[cfg.channels()][256];
        for (int c = 0; c < cfg.channels(); c++) {
            for (int v = 0; v < 256; v++) {
                lut8[c][v] = cfg.normalization().apply(v, c, 8);
            }
        }
        long t0 = System.nanoTime();
        Base[] decoded = new Base[given.size()];
        DataException[] errors = new DataException[given.size()];
        AtomicLong budget = new AtomicLong(cfg.cacheBytes());
        try {
            List<Future<?>> tasks = new ArrayList<>();
            for (int i = 0; i < given.size(); i++) {
                int idx = i;
                tasks.add(pool.submit(() -> {
                    try {
                        Base b = decodeBase(given.get(idx));
                        if (reserve(budget, b.bytes())) {
                            decoded[idx] = b;
                        }
                    } catch (DataException e) {
                        errors[idx] = e;
                    }
                }));
            }
            for (Future<?> f : tasks) {
                f.get();
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while opening the batch source", e);
        } catch (ExecutionException e) {
            pool.shutdownNow();
            throw new IllegalStateException("loader failed while decoding: " + e.getCause(), e.getCause());
        }
        List<Sample> usable = new ArrayList<>();
        List<Base> cached = new ArrayList<>();
        List<Problem> skipped = new ArrayList<>();
        int bad = 0;
        DataException first = null;
        for (int i = 0; i < given.size(); i++) {
            if (errors[i] != null) {
                bad++;
                first = first == null ? errors[i] : first;
                skipped.add(new Problem(errors[i].file(), errors[i].problem()));
            } else {
                usable.add(given.get(i));
                cached.add(decoded[i]);
            }
        }
        if (bad > 0 && cfg.onBadItem() == BadItemPolicy.FAIL) {
            pool.shutdownNow();
            String more = bad == 1
                    ? ""
                    : " (and " + (bad - 1) + " more bad items: " + skipped.subList(1, Math.min(bad, 4))
                            + (bad > 4 ? ", ..." : "") + ")";
            throw new DataException(first.file(), first.problem() + more, first);
        }
        for (Problem p : skipped) {
            LOG.warn("skipping {}", p);
        }
        if (usable.isEmpty()) {
            pool.shutdownNow();
            throw new DataException(
                    "empty dataset: all " + given.size() + " samples are bad, first: " + first.getMessage());
        }
        this.samples = List.copyOf(usable);
        this.cache = cached.toArray(new Base[0]);
        this.keys = new long[samples.size()];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = Seeds.key(samples.get(i).id());
        }
        int cachedItems = 0;
        long cachedBytes = 0;
        for (Base b : cache) {
            if (b != null) {
                cachedItems++;
                cachedBytes += b.bytes();
            }
        }
        this.report = new LoadReport(
                given.size(), samples.size(), skipped, cachedItems, cachedBytes, (System.nanoTime() - t0) / 1_000_000);
        LOG.info("batch source {}x{}x{}: {}", cfg.imageSize(), cfg.imageSize(), cfg.channels(), report);
    }

    private static boolean reserve(AtomicLong budget, long bytes) {
        while (true) {
            long left = budget.get();
            if (left < bytes) {
                return false;
            }
            if (budget.compareAndSet(left, left - bytes)) {
                return true;
            }
        }
    }

    private Base decodeBase(Sample s) {
        ColorMode mode = cfg.channels() == 1 ? ColorMode.GREY : ColorMode.AUTO;
        ImagePair p = reader.readPair(s.image(), s.masks(), mode, cfg.classes());
        int size = cfg.imageSize();
        return new Base(
                OpenCv.resize(p.image(), size, size, OpenCv.Interpolation.SMOOTH),
                OpenCv.resize(p.mask(), size, size, OpenCv.Interpolation.NEAREST));
    }

    // ---- BatchSource

    @Override
    public int size() {
        return samples.size();
    }

    @Override
    public int channels() {
        return cfg.channels();
    }

    @Override
    public int imageSize() {
        return cfg.imageSize();
    }

    @Override
    public int classes() {
        return cfg.classes();
    }

    /** The samples delivered, in the order of non-training epochs. */
    public List<Sample> samples() {
        return samples;
    }

    @Override
    public Map<String, String> preprocessing() {
        return Preprocessing.of(cfg).toMap();
    }

    public LoaderConfig config() {
        return cfg;
    }

    /** What opening found: usable and skipped items, cache use, time. */
    public LoadReport report() {
        return report;
    }

    /** Consumer wait times so far, over all epochs. */
    public LoaderStats stats() {
        return new LoaderStats(
                statBatches.get(),
                statFirstWait.get(),
                statSteadyBatches.get(),
                statSteadyWait.get(),
                statMaxSteadyWait.get());
    }

    /** Batch arrays allocated so far (the pool's misses); stays flat once batches are closed and reused. */
    public long arrayAllocations() {
        return arrays.allocations();
    }

    /**
     * The order of the samples (indices into {@link #samples()}) in epoch {@code epoch}: a seeded
     * permutation when {@code train}, file order otherwise.
     */
    public int[] order(int epoch, boolean train) {
        if (!train) {
            int[] o = new int[samples.size()];
            for (int i = 0; i < o.length; i++) {
                o[i] = i;
            }
            return o;
        }
        return Seeds.permutation(samples.size(), Seeds.mix(cfg.seed(), epoch, Seeds.SHUFFLE));
    }

    /** The augmentation drawn for sample {@code index} in training epoch {@code epoch}. */
    public AugmentParams augmentation(int epoch, int index) {
        SplittableRandom rng = new SplittableRandom(Seeds.mix(cfg.seed(), epoch, keys[index]));
        return cfg.augmentation().sample(rng, cfg.imageSize());
    }

    @Override
    public Iterator<Batch> epoch(int epoch, int batchSize, boolean train) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must not be negative, got " + epoch);
        }
        checkOpen();
        return new EpochIterator(epoch, batchSize, train);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (Runnable queued : pool.shutdownNow()) {
            if (queued instanceof Future<?> f) {
                f.cancel(false); // wakes a consumer blocked on a batch that will never be built
            }
        }
        try {
            if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("loader threads did not stop within 30 s; their OpenCV buffers are left to the GC");
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        synchronized (allWorkspaces) {
            for (Workspace w : allWorkspaces) {
                w.close();
            }
            allWorkspaces.clear();
        }
        workspaces.clear();
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("batch source is closed");
        }
    }

    // ---- one epoch

    private final class EpochIterator implements Iterator<Batch> {
        private final int epoch;
        private final int batchSize;
        private final boolean train;
        private final int[] order;
        private final int batches;
        private final ArrayDeque<Future<PooledBatch>> window = new ArrayDeque<>();
        private int submitted;
        private int delivered;

        EpochIterator(int epoch, int batchSize, boolean train) {
            this.epoch = epoch;
            this.batchSize = batchSize;
            this.train = train;
            this.order = order(epoch, train);
            this.batches = (order.length + batchSize - 1) / batchSize;
            refill();
        }

        private void refill() {
            while (window.size() < cfg.prefetch() && submitted < batches) {
                int b = submitted++;
                window.add(pool.submit(() -> build(b)));
            }
        }

        private PooledBatch build(int b) {
            int from = b * batchSize;
            int to = Math.min(order.length, from + batchSize);
            int n = to - from;
            int s = cfg.imageSize();
            int plane = s * s;
            PooledBatch batch = new PooledBatch(
                    arrays.floats(n * plane * cfg.channels()),
                    arrays.ints(n * plane),
                    n,
                    s,
                    cfg.channels(),
                    new ArrayList<>(n),
                    arrays);
            Workspace ws = acquireWorkspace();
            try {
                for (int k = 0; k < n; k++) {
                    int item = order[from + k];
                    batch.idList.add(samples.get(item).id());
                    fill(batch, k, item, ws);
                }
            } finally {
                workspaces.offer(ws);
            }
            return batch;
        }

        private void fill(PooledBatch batch, int slot, int item, Workspace ws) {
            Base base = cache[item] != null ? cache[item] : decodeBase(samples.get(item));
            Raster img = base.image();
            byte[] imgBytes = img.data();
            byte[] maskBytes = base.mask().data();
            int s = cfg.imageSize();
            if (train && !cfg.augmentation().isIdentity()) {
                AugmentParams p = augmentation(epoch, item);
                if (!p.isIdentity(s)) {
                    imgBytes = ws.warp(img, p.inverseMatrix(s), false);
                    maskBytes = ws.warp(base.mask(), p.inverseMatrix(s), true);
                }
            }
            writeImage(batch.images, slot, imgBytes, img.channels(), img.bitDepth());
            int plane = s * s;
            int off = slot * plane;
            int[] masks = batch.masks;
            for (int i = 0; i < plane; i++) {
                masks[off + i] = maskBytes[i] & 0xFF;
            }
        }

        @Override
        public boolean hasNext() {
            return delivered < batches;
        }

        @Override
        public Batch next() {
            if (!hasNext()) {
                throw new NoSuchElementException("epoch " + epoch + " has " + batches + " batches");
            }
            checkOpen();
            Future<PooledBatch> f = window.poll();
            long t0 = System.nanoTime();
            PooledBatch batch;
            try {
                batch = f.get();
            } catch (ExecutionException e) {
                for (Future<PooledBatch> rest : window) {
                    rest.cancel(true);
                }
                window.clear();
                delivered = batches;
                if (e.getCause() instanceof DataException de) {
                    throw new DataException(de.file(), de.problem(), de);
                }
                throw new IllegalStateException(
                        "loading a batch of epoch " + epoch + " failed: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a batch", e);
            } catch (java.util.concurrent.CancellationException e) {
                throw new IllegalStateException("batch source was closed while loading epoch " + epoch, e);
            }
            long waited = System.nanoTime() - t0;
            statBatches.incrementAndGet();
            if (delivered == 0) {
                statFirstWait.addAndGet(waited);
            } else {
                statSteadyBatches.incrementAndGet();
                statSteadyWait.addAndGet(waited);
                statMaxSteadyWait.accumulateAndGet(waited, Math::max);
            }
            delivered++;
            refill();
            return batch;
        }
    }

    /** Normalises one item's S x S samples into slot {@code slot} of an NHWC float array. */
    private void writeImage(float[] out, int slot, byte[] src, int srcChannels, int bits) {
        int s = cfg.imageSize();
        int c = cfg.channels();
        int plane = s * s;
        int off = slot * plane * c;
        if (bits == 8) {
            if (srcChannels == c) {
                if (c == 1) {
                    float[] l = lut8[0];
                    for (int i = 0; i < plane; i++) {
                        out[off + i] = l[src[i] & 0xFF];
                    }
                } else {
                    float[] l0 = lut8[0];
                    float[] l1 = lut8[1];
                    float[] l2 = lut8[2];
                    for (int i = 0, j = 0; i < plane; i++, j += 3) {
                        out[off + j] = l0[src[j] & 0xFF];
                        out[off + j + 1] = l1[src[j + 1] & 0xFF];
                        out[off + j + 2] = l2[src[j + 2] & 0xFF];
                    }
                }
            } else { // grey source, 3 output channels
                float[] l0 = lut8[0];
                float[] l1 = lut8[1];
                float[] l2 = lut8[2];
                for (int i = 0, j = 0; i < plane; i++, j += 3) {
                    int v = src[i] & 0xFF;
                    out[off + j] = l0[v];
                    out[off + j + 1] = l1[v];
                    out[off + j + 2] = l2[v];
                }
            }
            return;
        }
        Normalization norm = cfg.normalization();
        for (int i = 0; i < plane; i++) {
            for (int ch = 0; ch < c; ch++) {
                int si = srcChannels == c ? i * c + ch : i;
                int lo = src[2 * si + (LITTLE ? 0 : 1)] & 0xFF;
                int hi = src[2 * si + (LITTLE ? 1 : 0)] & 0xFF;
                out[off + i * c + ch] = norm.apply((hi << 8) | lo, ch, 16);
            }
        }
    }

    private Workspace acquireWorkspace() {
        Workspace w = workspaces.poll();
        if (w == null) {
            w = new Workspace();
            synchronized (allWorkspaces) {
                allWorkspaces.add(w);
            }
        }
        return w;
    }

    /**
     * Native buffers one task reuses from batch to batch: source and destination Mats (re-created
     * only when an item's type differs from the previous one's), the affine matrix and the Java
     * arrays results are read back into. Freed by {@link #close()}.
     */
    private static final class Workspace implements AutoCloseable {
        private final Mat src = new Mat();
        private final Mat dst = new Mat();
        private final Mat matrix = new Mat(2, 3, CV_64F);
        private final Map<Integer, byte[]> imageOut = new HashMap<>();
        private final Map<Integer, byte[]> maskOut = new HashMap<>();

        /**
         * Warps a square raster (bilinear, or nearest for a mask) and returns its samples in an array
         * reused by the next call of the same kind (image or mask) and size.
         */
        byte[] warp(Raster r, double[] inverse, boolean nearest) {
            int type = OpenCv.matType(r.channels(), r.bitDepth());
            src.create(r.height(), r.width(), type);
            OpenCv.copyInto(r, src);
            Augmenter.setMatrix(matrix, inverse);
            Augmenter.warp(src, dst, matrix, r.width(), nearest);
            byte[] b = (nearest ? maskOut : imageOut).computeIfAbsent(r.data().length, byte[]::new);
            dst.data().get(b);
            return b;
        }

        @Override
        public void close() {
            src.close();
            dst.close();
            matrix.close();
        }
    }

    /** A batch whose arrays return to the pool on close. */
    private static final class PooledBatch implements Batch {
        private final float[] images;
        private final int[] masks;
        private final int size;
        private final int side;
        private final int channels;
        private final List<String> idList;
        private final ArrayPool pool;
        private final AtomicBoolean closed = new AtomicBoolean();

        PooledBatch(float[] images, int[] masks, int size, int side, int channels, List<String> ids, ArrayPool pool) {
            this.images = images;
            this.masks = masks;
            this.size = size;
            this.side = side;
            this.channels = channels;
            this.idList = ids;
            this.pool = pool;
        }

        @Override
        public float[] images() {
            checkOpen();
            return images;
        }

        @Override
        public int[] masks() {
            checkOpen();
            return masks;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public int height() {
            return side;
        }

        @Override
        public int width() {
            return side;
        }

        @Override
        public int channels() {
            return channels;
        }

        @Override
        public List<String> ids() {
            return List.copyOf(idList);
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                pool.release(images, masks);
            }
        }

        private void checkOpen() {
            if (closed.get()) {
                throw new IllegalStateException("batch was closed; its arrays went back to the pool");
            }
        }
    }
}

package org.arunet.testing;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import org.arunet.data.Batch;
import org.arunet.data.BatchSource;

/**
 * An in-memory {@link BatchSource} of synthetic "lesions" (a bright disc with noise on a dark
 * background, mask = the disc), deterministic in (seed, epoch) as the contract requires: item i of
 * the set is fixed; epoch e shuffles with seed + e and flips items horizontally at random.
 */
public final class SyntheticData implements BatchSource {
    private final int n;
    private final int size;
    private final int channels;
    private long seed;
    private final float[][] images;
    private final int[][] masks;
    private int nanFromEpoch = Integer.MAX_VALUE;
    private float poison = Float.NaN;

    public SyntheticData(int n, int size, int channels, long seed) {
        this.n = n;
        this.size = size;
        this.channels = channels;
        this.seed = seed;
        this.images = new float[n][];
        this.masks = new int[n][];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            double cy = size * (0.3 + 0.4 * r.nextDouble());
            double cx = size * (0.3 + 0.4 * r.nextDouble());
            double rad = size * (0.12 + 0.12 * r.nextDouble());
            float[] img = new float[size * size * channels];
            int[] m = new int[size * size];
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    boolean in = Math.hypot(y - cy, x - cx) <= rad;
                    m[y * size + x] = in ? 1 : 0;
                    float v = (float) ((in ? 0.6 : -0.6) + 0.3 * r.nextGaussian());
                    for (int c = 0; c < channels; c++) {
                        img[(y * size + x) * channels + c] = v;
                    }
                }
            }
            images[i] = img;
            masks[i] = m;
        }
    }

    /** Changes the seed of shuffling and flips (the images stay). */
    public SyntheticData reseed(long s) {
        seed = s;
        return this;
    }

    /** From this epoch on, every image is NaN (to test non-finite detection). */
    public SyntheticData nanFromEpoch(int epoch) {
        nanFromEpoch = epoch;
        poison = Float.NaN;
        return this;
    }

    /** From this epoch on, every image is +Infinity. */
    public SyntheticData infFromEpoch(int epoch) {
        nanFromEpoch = epoch;
        poison = Float.POSITIVE_INFINITY;
        return this;
    }

    @Override
    public int size() {
        return n;
    }

    @Override
    public int channels() {
        return channels;
    }

    @Override
    public int imageSize() {
        return size;
    }

    @Override
    public int classes() {
        return 2;
    }

    @Override
    public Iterator<Batch> epoch(int epoch, int batchSize, boolean train) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom r = new SplittableRandom(seed * 31 + epoch);
        boolean[] flip = new boolean[n];
        if (train) {
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (int i = 0; i < n; i++) {
                flip[i] = r.nextBoolean();
            }
        }
        List<Batch> batches = new ArrayList<>();
        for (int from = 0; from < n; from += batchSize) {
            int b = Math.min(batchSize, n - from);
            float[] img = new float[b * size * size * channels];
            int[] msk = new int[b * size * size];
            List<String> ids = new ArrayList<>();
            for (int k = 0; k < b; k++) {
                int item = order[from + k];
                ids.add("synthetic_" + item);
                for (int y = 0; y < size; y++) {
                    for (int x = 0; x < size; x++) {
                        int sx = flip[from + k] ? size - 1 - x : x;
                        msk[(k * size + y) * size + x] = masks[item][y * size + sx];
                        for (int c = 0; c < channels; c++) {
                            float v = images[item][(y * size + sx) * channels + c];
                            img[((k * size + y) * size + x) * channels + c] = epoch >= nanFromEpoch ? poison : v;
                        }
                    }
                }
            }
            batches.add(new SimpleBatch(img, msk, b, size, channels, ids));
        }
        Iterator<Batch> it = batches.iterator();
        return new Iterator<>() {
            public boolean hasNext() {
                return it.hasNext();
            }

            public Batch next() {
                if (!it.hasNext()) {
                    throw new NoSuchElementException();
                }
                return it.next();
            }
        };
    }

    @Override
    public void close() {}

    private record SimpleBatch(float[] images, int[] masks, int size, int height, int channels, List<String> ids)
            implements Batch {
        @Override
        public int width() {
            return height;
        }

        @Override
        public void close() {}
    }
}

package org.arunet.data.split;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.arunet.data.dataset.Sample;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;

/**
 * Finds duplicate groups: fingerprints every image ({@link PerceptualHash}) in parallel, links
 * samples by explicit group id, identical pixels and perceptual distance, and closes the links
 * transitively with union-find. The all-pairs comparison is 64-bit XOR + popcount, about a second
 * for 50,000 images.
 */
public final class Duplicates {
    private Duplicates() {}

    /** The fingerprints of one image. */
    public record Fingerprint(long phash, String pixelHash) {}

    /** Fingerprints of every sample's image, in sample order, decoded on {@code threads} threads. */
    public static List<Fingerprint> fingerprints(List<Sample> samples, ImageReader reader, int threads) {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "arunet-fingerprint");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<Fingerprint>> futures = new ArrayList<>();
            for (Sample s : samples) {
                futures.add(pool.submit(() -> {
                    Raster grey = reader.readImage(s.image(), ColorMode.GREY);
                    return new Fingerprint(PerceptualHash.phash(grey), PerceptualHash.pixelHash(grey));
                }));
            }
            List<Fingerprint> out = new ArrayList<>();
            for (Future<Fingerprint> f : futures) {
                out.add(f.get());
            }
            return out;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof DataException de) {
                throw de;
            }
            throw new IllegalStateException("fingerprinting failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while fingerprinting", e);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Decodes the images and groups the samples. */
    public static DuplicateGroups find(List<Sample> samples, Deduplication rule, ImageReader reader, int threads) {
        List<Fingerprint> fp = rule.needsPixels() ? fingerprints(samples, reader, threads) : null;
        return group(samples, fp, rule);
    }

    /**
     * Groups samples from precomputed fingerprints ({@code null} when the rule needs none), in sample
     * order.
     */
    public static DuplicateGroups group(List<Sample> samples, List<Fingerprint> fp, Deduplication rule) {
        int n = samples.size();
        if (rule.needsPixels() && (fp == null || fp.size() != n)) {
            throw new IllegalArgumentException("need one fingerprint per sample for " + rule);
        }
        UnionFind uf = new UnionFind(n);
        int explicit = 0;
        Map<String, Integer> firstOfGroup = new HashMap<>();
        for (int i = 0; i < n; i++) {
            String g = samples.get(i).group();
            if (!g.isEmpty()) {
                Integer first = firstOfGroup.putIfAbsent(g, i);
                if (first != null && uf.union(first, i)) {
                    explicit++;
                }
            }
        }
        int exactPairs = 0;
        int nearPairs = 0;
        if (rule.needsPixels()) {
            long[] h = new long[n];
            for (int i = 0; i < n; i++) {
                h[i] = fp.get(i).phash();
            }
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    boolean same = rule.exact()
                            && fp.get(i).pixelHash().equals(fp.get(j).pixelHash());
                    if (same) {
                        exactPairs++;
                        uf.union(i, j);
                    } else if (rule.maxDistance() >= 0 && Long.bitCount(h[i] ^ h[j]) <= rule.maxDistance()) {
                        nearPairs++;
                        uf.union(i, j);
                    }
                }
            }
        }
        Map<Integer, List<String>> byRoot = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            byRoot.computeIfAbsent(uf.find(i), k -> new ArrayList<>())
                    .add(samples.get(i).id());
        }
        List<List<String>> groups = new ArrayList<>();
        for (List<String> g : byRoot.values()) {
            if (g.size() > 1) {
                g.sort(null);
                groups.add(g);
            }
        }
        groups.sort(Comparator.comparing(g -> g.get(0)));
        return new DuplicateGroups(groups, exactPairs, nearPairs, explicit, rule);
    }

    /** Union-find with path halving and union by size. */
    static final class UnionFind {
        private final int[] parent;
        private final int[] size;

        UnionFind(int n) {
            parent = new int[n];
            size = new int[n];
            for (int i = 0; i < n; i++) {
                parent[i] = i;
                size[i] = 1;
            }
        }

        int find(int x) {
            while (parent[x] != x) {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            return x;
        }

        /** Joins the sets of a and b; false if they were already one. */
        boolean union(int a, int b) {
            int ra = find(a);
            int rb = find(b);
            if (ra == rb) {
                return false;
            }
            if (size[ra] < size[rb]) {
                int t = ra;
                ra = rb;
                rb = t;
            }
            parent[rb] = ra;
            size[ra] += size[rb];
            return true;
        }
    }
}

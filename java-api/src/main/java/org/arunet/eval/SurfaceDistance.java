package org.arunet.eval;

import java.util.Arrays;

/**
 * Boundary distances between two binary masks, in pixels: HD95 as MedPy's {@code hd95} (the 95th
 * percentile, linearly interpolated, of the distances from each boundary pixel of one mask to the
 * nearest boundary pixel of the other, both directions pooled). A boundary pixel is a mask pixel with
 * a 4-neighbour outside the mask or outside the image. Distances use an exact Euclidean distance
 * transform (Felzenszwalb and Huttenlocher).
 */
public final class SurfaceDistance {
    private SurfaceDistance() {}

    /**
     * HD95 between two non-empty masks of {@code h x w} pixels ({@code true} = lesion).
     *
     * @throws IllegalArgumentException if either mask is empty (the distance is undefined)
     */
    public static double hd95(boolean[] a, boolean[] b, int h, int w) {
        boolean[] ba = boundary(a, h, w);
        boolean[] bb = boundary(b, h, w);
        double[] da = distancesTo(ba, bb, h, w);
        double[] db = distancesTo(bb, ba, h, w);
        if (da.length == 0 || db.length == 0) {
            throw new IllegalArgumentException("HD95 is undefined for an empty mask");
        }
        double[] all = new double[da.length + db.length];
        System.arraycopy(da, 0, all, 0, da.length);
        System.arraycopy(db, 0, all, da.length, db.length);
        return percentile(all, 95);
    }

    /** Mask pixels with a 4-neighbour outside the mask or outside the image. */
    static boolean[] boundary(boolean[] m, int h, int w) {
        boolean[] out = new boolean[m.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = y * w + x;
                if (!m[i]) {
                    continue;
                }
                boolean edge = y == 0
                        || x == 0
                        || y == h - 1
                        || x == w - 1
                        || !m[i - w]
                        || !m[i + w]
                        || !m[i - 1]
                        || !m[i + 1];
                out[i] = edge;
            }
        }
        return out;
    }

    /** Distance from each set pixel of {@code from} to the nearest set pixel of {@code to}. */
    private static double[] distancesTo(boolean[] from, boolean[] to, int h, int w) {
        double[] d2 = squaredDistanceTransform(to, h, w);
        int n = 0;
        for (boolean f : from) {
            if (f) {
                n++;
            }
        }
        double[] out = new double[n];
        int j = 0;
        for (int i = 0; i < from.length; i++) {
            if (from[i]) {
                out[j++] = Math.sqrt(d2[i]);
            }
        }
        return out;
    }

    /** Squared Euclidean distance of every pixel to the nearest set pixel (infinite if none). */
    static double[] squaredDistanceTransform(boolean[] set, int h, int w) {
        final double inf = 1e20;
        double[] g = new double[h * w];
        for (int i = 0; i < g.length; i++) {
            g[i] = set[i] ? 0 : inf;
        }
        double[] f = new double[Math.max(h, w)];
        double[] d = new double[Math.max(h, w)];
        int[] v = new int[Math.max(h, w)];
        double[] z = new double[Math.max(h, w) + 1];
        for (int x = 0; x < w; x++) {
            for (int y = 0; y < h; y++) {
                f[y] = g[y * w + x];
            }
            dt1d(f, h, d, v, z);
            for (int y = 0; y < h; y++) {
                g[y * w + x] = d[y];
            }
        }
        for (int y = 0; y < h; y++) {
            System.arraycopy(g, y * w, f, 0, w);
            dt1d(f, w, d, v, z);
            System.arraycopy(d, 0, g, y * w, w);
        }
        return g;
    }

    /** 1-D squared distance transform of sampled function f (lower envelope of parabolas). */
    private static void dt1d(double[] f, int n, double[] d, int[] v, double[] z) {
        int k = 0;
        v[0] = 0;
        z[0] = Double.NEGATIVE_INFINITY;
        z[1] = Double.POSITIVE_INFINITY;
        for (int q = 1; q < n; q++) {
            double s = ((f[q] + (double) q * q) - (f[v[k]] + (double) v[k] * v[k])) / (2.0 * q - 2.0 * v[k]);
            while (s <= z[k]) {
                k--;
                s = ((f[q] + (double) q * q) - (f[v[k]] + (double) v[k] * v[k])) / (2.0 * q - 2.0 * v[k]);
            }
            k++;
            v[k] = q;
            z[k] = s;
            z[k + 1] = Double.POSITIVE_INFINITY;
        }
        k = 0;
        for (int q = 0; q < n; q++) {
            while (z[k + 1] < q) {
                k++;
            }
            d[q] = (double) (q - v[k]) * (q - v[k]) + f[v[k]];
        }
    }

    /** numpy's default (linear) percentile. */
    static double percentile(double[] values, double p) {
        double[] s = values.clone();
        Arrays.sort(s);
        double pos = p / 100.0 * (s.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, s.length - 1);
        return s[lo] + (pos - lo) * (s[hi] - s[lo]);
    }
}

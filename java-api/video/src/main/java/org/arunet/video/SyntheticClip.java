package org.arunet.video;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.arunet.data.io.Raster;

/**
 * A synthetic cine clip made from one still image and its mask, with the true mask of every frame known:
 * the image pans in a slow ellipse, zooms in and out by up to 15 % and turns by up to 5 degrees, like a
 * probe moving over a lesion, with optional Gaussian noise per frame. For tests and for benchmarks when
 * no real clip is at hand ({@code arunet bench --video sample}).
 */
public final class SyntheticClip {
    private SyntheticClip() {}

    /** The frames of the clip (8-bit, the image's channels) and their masks (class indices). */
    public record Frames(List<Raster> images, List<byte[]> masks) {}

    /**
     * Frame {@code t} of {@code n}: the image warped by a similarity transform about its centre (scale
     * {@code 1 + 0.15 sin(2 pi t/n)}, rotation {@code 5 sin(4 pi t/n)} degrees, shift {@code (0.08 w cos,
     * 0.05 h sin)(2 pi t/n)}), bilinear for the image, nearest for the mask, black outside.
     *
     * @param image 8-bit grey or RGB
     * @param mask class indices at the image's size (any non-zero value is lesion)
     * @param noise standard deviation of added Gaussian noise in grey levels (0 = none)
     */
    public static Frames make(Raster image, Raster mask, int n, double noise, long seed) {
        if (image.bitDepth() != 8 || mask.width() != image.width() || mask.height() != image.height()) {
            throw new IllegalArgumentException("an 8-bit image and a mask of its size are needed");
        }
        if (n < 1) {
            throw new IllegalArgumentException("frames " + n + " < 1");
        }
        int w = image.width();
        int h = image.height();
        int c = image.channels();
        Random rnd = new Random(seed);
        List<Raster> frames = new ArrayList<>(n);
        List<byte[]> masks = new ArrayList<>(n);
        for (int t = 0; t < n; t++) {
            double phase = 2 * Math.PI * t / n;
            double scale = 1 + 0.15 * Math.sin(phase);
            double angle = Math.toRadians(5 * Math.sin(2 * phase));
            double tx = 0.08 * w * Math.cos(phase);
            double ty = 0.05 * h * Math.sin(phase);
            double cos = Math.cos(angle) / scale;
            double sin = Math.sin(angle) / scale;
            double cx = (w - 1) / 2.0;
            double cy = (h - 1) / 2.0;
            byte[] px = new byte[w * h * c];
            byte[] m = new byte[w * h];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    // inverse map: output pixel -> source position
                    double dx = x - cx - tx;
                    double dy = y - cy - ty;
                    double sx = cos * dx + sin * dy + cx;
                    double sy = -sin * dx + cos * dy + cy;
                    int o = y * w + x;
                    int nx = (int) Math.round(sx);
                    int ny = (int) Math.round(sy);
                    if (nx >= 0 && nx < w && ny >= 0 && ny < h) {
                        m[o] = (byte) (mask.sample((long) ny * w + nx) != 0 ? 1 : 0);
                    }
                    int x0 = (int) Math.floor(sx);
                    int y0 = (int) Math.floor(sy);
                    double fx = sx - x0;
                    double fy = sy - y0;
                    double e = noise > 0 ? noise * rnd.nextGaussian() : 0; // the same on every channel
                    for (int ch = 0; ch < c; ch++) {
                        double v = (1 - fx) * (1 - fy) * at(image, x0, y0, ch)
                                + fx * (1 - fy) * at(image, x0 + 1, y0, ch)
                                + (1 - fx) * fy * at(image, x0, y0 + 1, ch)
                                + fx * fy * at(image, x0 + 1, y0 + 1, ch);
                        px[o * c + ch] = (byte) Math.max(0, Math.min(255, (int) Math.round(v + e)));
                    }
                }
            }
            frames.add(new Raster(w, h, c, 8, px));
            masks.add(m);
        }
        return new Frames(frames, masks);
    }

    private static double at(Raster r, int x, int y, int ch) {
        if (x < 0 || y < 0 || x >= r.width() || y >= r.height()) {
            return 0;
        }
        return r.sample(((long) y * r.width() + x) * r.channels() + ch);
    }

    /** Writes the frames as a video ({@link VideoWriter}, quality 2) at {@code fps}. */
    public static void write(Frames clip, Path file, double fps) throws IOException {
        Raster first = clip.images().get(0);
        try (VideoWriter vw = VideoWriter.create(file, first.width(), first.height(), fps, 2)) {
            for (Raster r : clip.images()) {
                vw.write(r);
            }
        }
    }
}

package org.arunet.report;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.arunet.data.io.Raster;

/**
 * Overlays for looking at results: the image in grey (or colour) with the ground-truth contour in
 * green and the predicted contour in red (yellow where both coincide). Contours are the lesion
 * pixels (class above 0) with a 4-neighbour outside the lesion, thickened for large images.
 */
public final class Overlays {
    public static final int TRUTH = 0x00C853;
    public static final int PREDICTION = 0xFF1744;
    public static final int BOTH = 0xFFD600;

    private Overlays() {}

    /**
     * @param image the original image (8/16-bit, 1 or 3 channels)
     * @param truth class map at the image size, or null
     * @param pred class map at the image size, or null
     */
    public static BufferedImage draw(Raster image, byte[] truth, byte[] pred) {
        int w = image.width();
        int h = image.height();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int shift = image.bitDepth() == 16 ? 8 : 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                long i = (long) y * w + x;
                int r;
                int g;
                int b;
                if (image.channels() >= 3) {
                    r = image.sample(i * image.channels()) >> shift;
                    g = image.sample(i * image.channels() + 1) >> shift;
                    b = image.sample(i * image.channels() + 2) >> shift;
                } else {
                    r = g = b = image.sample(i * image.channels()) >> shift;
                }
                out.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        int t = Math.max(1, Math.min(w, h) / 256);
        boolean[] ct = truth == null ? null : contour(truth, w, h, t);
        boolean[] cp = pred == null ? null : contour(pred, w, h, t);
        for (int i = 0; i < w * h; i++) {
            boolean a = ct != null && ct[i];
            boolean p = cp != null && cp[i];
            if (a || p) {
                out.setRGB(i % w, i / w, a && p ? BOTH : a ? TRUTH : PREDICTION);
            }
        }
        return out;
    }

    /**
     * The same picture as {@link #draw} (prediction outline only) as an 8-bit RGB raster, written into
     * {@code out} when it is an RGB raster of the image's size (reused frame after frame, e.g. for a
     * video) or into a new one; returns it.
     */
    public static Raster drawRgb(Raster image, byte[] pred, Raster out) {
        int w = image.width();
        int h = image.height();
        if (out == null || out.width() != w || out.height() != h || out.channels() != 3 || out.bitDepth() != 8) {
            out = Raster.zeros8(w, h, 3);
        }
        byte[] dst = out.data();
        byte[] src = image.data();
        int c = image.channels();
        if (image.bitDepth() == 8 && c == 3) {
            System.arraycopy(src, 0, dst, 0, w * h * 3);
        } else if (image.bitDepth() == 8 && c == 1) {
            for (int i = 0; i < w * h; i++) {
                dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
            }
        } else {
            int shift = image.bitDepth() == 16 ? 8 : 0;
            for (int i = 0; i < w * h; i++) {
                for (int k = 0; k < 3; k++) {
                    dst[3 * i + k] = (byte) (image.sample((long) i * c + (c >= 3 ? k : 0)) >> shift);
                }
            }
        }
        if (pred != null) {
            boolean[] cp = contour(pred, w, h, Math.max(1, Math.min(w, h) / 256));
            for (int i = 0; i < w * h; i++) {
                if (cp[i]) {
                    dst[3 * i] = (byte) (PREDICTION >> 16);
                    dst[3 * i + 1] = (byte) (PREDICTION >> 8);
                    dst[3 * i + 2] = (byte) PREDICTION;
                }
            }
        }
        return out;
    }

    /** Writes an overlay as PNG. */
    public static void write(Raster image, byte[] truth, byte[] pred, Path png) throws IOException {
        Files.createDirectories(png.toAbsolutePath().getParent());
        ImageIO.write(draw(image, truth, pred), "png", png.toFile());
    }

    /** Boundary of the lesion region, dilated to thickness t. */
    static boolean[] contour(byte[] m, int w, int h, int t) {
        boolean[] edge = new boolean[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = y * w + x;
                if (m[i] == 0) {
                    continue;
                }
                edge[i] = x == 0
                        || y == 0
                        || x == w - 1
                        || y == h - 1
                        || m[i - 1] == 0
                        || m[i + 1] == 0
                        || m[i - w] == 0
                        || m[i + w] == 0;
            }
        }
        if (t <= 1) {
            return edge;
        }
        boolean[] thick = new boolean[w * h];
        int r = t / 2;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (!edge[y * w + x]) {
                    continue;
                }
                for (int dy = -r; dy <= r; dy++) {
                    for (int dx = -r; dx <= r; dx++) {
                        int yy = y + dy;
                        int xx = x + dx;
                        if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                            thick[yy * w + xx] = true;
                        }
                    }
                }
            }
        }
        return thick;
    }
}

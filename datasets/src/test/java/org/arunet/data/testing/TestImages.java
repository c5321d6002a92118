package org.arunet.data.testing;

import static org.bytedeco.opencv.global.opencv_core.CV_16U;
import static org.bytedeco.opencv.global.opencv_core.CV_8U;
import static org.bytedeco.opencv.global.opencv_core.CV_MAKETYPE;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;

/** Synthetic images for tests, written with OpenCV (or javax.imageio for palette and 1-bit PNG). */
public final class TestImages {
    private TestImages() {}

    /** Uniform noise, smoothed a little so JPEG keeps it close, with every channel different. */
    public static Raster noise(int w, int h, int channels, int bits, long seed) {
        Random rnd = new Random(seed);
        Raster r = new Raster(w, h, channels, bits, new byte[w * h * channels * bits / 8]);
        int max = r.maxValue();
        for (long i = 0; i < r.samples(); i++) {
            r.setSample(i, rnd.nextInt(max + 1));
        }
        return r;
    }

    /** A smooth pattern (gradients and a disc) that survives JPEG well; 8-bit. */
    public static Raster pattern(int w, int h, int channels, long seed) {
        Random rnd = new Random(seed);
        double cx = w * (0.3 + 0.4 * rnd.nextDouble());
        double cy = h * (0.3 + 0.4 * rnd.nextDouble());
        double rad = Math.min(w, h) * (0.15 + 0.1 * rnd.nextDouble());
        double fx = 1 + 3 * rnd.nextDouble();
        double fy = 1 + 3 * rnd.nextDouble();
        Raster r = Raster.zeros8(w, h, channels);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                boolean in = (x - cx) * (x - cx) + (y - cy) * (y - cy) < rad * rad;
                for (int c = 0; c < channels; c++) {
                    double v = 60 + 50 * Math.sin(fx * x / w * Math.PI + c) * Math.cos(fy * y / h * Math.PI);
                    if (in) {
                        v += 120 - 30 * c;
                    }
                    r.setSample(((long) y * w + x) * channels + c, (int) Math.max(0, Math.min(255, Math.round(v))));
                }
            }
        }
        return r;
    }

    /**
     * A random smooth texture: a 7 x 6 grid of random levels interpolated bilinearly, plus a little
     * noise. Different seeds give unrelated low-frequency content (perceptual hashes far apart).
     */
    public static Raster texture(int w, int h, long seed) {
        Random rnd = new Random(seed);
        int gw = 7;
        int gh = 6;
        double[][] g = new double[gh][gw];
        for (double[] row : g) {
            for (int i = 0; i < gw; i++) {
                row[i] = 30 + 190 * rnd.nextDouble();
            }
        }
        Raster r = Raster.zeros8(w, h, 1);
        for (int y = 0; y < h; y++) {
            double fy = (double) y / (h - 1) * (gh - 1);
            int y0 = Math.min(gh - 2, (int) fy);
            double ty = fy - y0;
            for (int x = 0; x < w; x++) {
                double fx = (double) x / (w - 1) * (gw - 1);
                int x0 = Math.min(gw - 2, (int) fx);
                double tx = fx - x0;
                double v = (1 - ty) * ((1 - tx) * g[y0][x0] + tx * g[y0][x0 + 1])
                        + ty * ((1 - tx) * g[y0 + 1][x0] + tx * g[y0 + 1][x0 + 1]);
                v += rnd.nextGaussian() * 4;
                r.setSample((long) y * w + x, (int) Math.max(0, Math.min(255, Math.round(v))));
            }
        }
        return r;
    }

    /** A binary (0/255) image of random discs; its threshold is a natural mask. */
    public static Raster discs(int w, int h, int count, long seed) {
        Random rnd = new Random(seed);
        Raster r = Raster.zeros8(w, h, 1);
        for (int k = 0; k < count; k++) {
            double cx = w * rnd.nextDouble();
            double cy = h * rnd.nextDouble();
            double rad = Math.min(w, h) * (0.08 + 0.12 * rnd.nextDouble());
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < rad * rad) {
                        r.setSample((long) y * w + x, 255);
                    }
                }
            }
        }
        return r;
    }

    /** 1 where {@code image > threshold}, else 0 (8-bit, one channel). */
    public static Raster threshold(Raster image, int threshold) {
        Raster m = Raster.zeros8(image.width(), image.height(), 1);
        for (long p = 0; p < (long) image.width() * image.height(); p++) {
            m.setSample(p, image.sample(p * image.channels()) > threshold ? 1 : 0);
        }
        return m;
    }

    /** A mask raster from 0/1 (or class) values scaled by {@code scale} (255 for a 0/255 binary PNG). */
    public static Raster scaled(Raster mask, int scale) {
        Raster m = Raster.zeros8(mask.width(), mask.height(), 1);
        for (long p = 0; p < mask.samples(); p++) {
            m.setSample(p, Math.min(255, mask.sample(p) * scale));
        }
        return m;
    }

    /** Writes an RGB or grey raster with OpenCV; the extension picks the format. */
    public static Path write(Path file, Raster r) {
        return write(file, r, new int[0]);
    }

    /** Writes with OpenCV encoder parameters (e.g. IMWRITE_JPEG_QUALITY, 100). */
    public static Path write(Path file, Raster r, int[] params) {
        mkdirs(file);
        try (PointerScope scope = new PointerScope()) {
            Mat m = OpenCv.toMat(r.channels() == 3 ? swapRb(r) : r);
            if (!opencv_imgcodecs.imwrite(file.toString(), m, params)) {
                throw new IllegalStateException("OpenCV could not write " + file);
            }
        }
        return file;
    }

    /** Writes an RGBA PNG: {@code rgb} plus an alpha plane. */
    public static Path writeRgba(Path file, Raster rgb, Raster alpha) {
        mkdirs(file);
        int n = rgb.width() * rgb.height();
        byte[] d = new byte[n * 4];
        for (int p = 0; p < n; p++) {
            d[4 * p] = (byte) rgb.sample(3L * p + 2);
            d[4 * p + 1] = (byte) rgb.sample(3L * p + 1);
            d[4 * p + 2] = (byte) rgb.sample(3L * p);
            d[4 * p + 3] = (byte) alpha.sample(p);
        }
        try (PointerScope scope = new PointerScope()) {
            Mat m = new Mat(rgb.height(), rgb.width(), CV_MAKETYPE(CV_8U, 4));
            m.data().put(d);
            if (!opencv_imgcodecs.imwrite(file.toString(), m)) {
                throw new IllegalStateException("OpenCV could not write " + file);
            }
        }
        return file;
    }

    /** Writes a palette PNG (colour type 3) whose pixels are the given indices into a colourful palette. */
    public static Path writePalette(Path file, Raster indices, int paletteSize) {
        byte[] rr = new byte[paletteSize];
        byte[] gg = new byte[paletteSize];
        byte[] bb = new byte[paletteSize];
        for (int i = 0; i < paletteSize; i++) {
            rr[i] = (byte) (i == 0 ? 0 : 255 - 40 * i);
            gg[i] = (byte) (i == 0 ? 0 : 30 * i);
            bb[i] = (byte) (i == 0 ? 0 : 100 + 20 * i);
        }
        int bits = paletteSize <= 2 ? 1 : paletteSize <= 4 ? 2 : paletteSize <= 16 ? 4 : 8;
        IndexColorModel cm = new IndexColorModel(bits, paletteSize, rr, gg, bb);
        BufferedImage img = new BufferedImage(
                indices.width(),
                indices.height(),
                bits == 8 ? BufferedImage.TYPE_BYTE_INDEXED : BufferedImage.TYPE_BYTE_BINARY,
                cm);
        WritableRaster wr = img.getRaster();
        for (int y = 0; y < indices.height(); y++) {
            for (int x = 0; x < indices.width(); x++) {
                wr.setSample(x, y, 0, indices.get(x, y, 0));
            }
        }
        return writeImageIo(file, img);
    }

    /** Writes a 1-bit grey PNG (colour type 0, bit depth 1): pixel set where {@code mask > 0}. */
    public static Path write1Bit(Path file, Raster mask) {
        BufferedImage img = new BufferedImage(mask.width(), mask.height(), BufferedImage.TYPE_BYTE_BINARY);
        WritableRaster wr = img.getRaster();
        for (int y = 0; y < mask.height(); y++) {
            for (int x = 0; x < mask.width(); x++) {
                wr.setSample(x, y, 0, mask.get(x, y, 0) > 0 ? 1 : 0);
            }
        }
        return writeImageIo(file, img);
    }

    /** A 16-bit grey raster from an 8-bit one, v * 257 (so 255 becomes 65535). */
    public static Raster to16(Raster r8) {
        Raster r = new Raster(r8.width(), r8.height(), r8.channels(), 16, new byte[r8.data().length * 2]);
        for (long i = 0; i < r8.samples(); i++) {
            r.setSample(i, r8.sample(i) * 257);
        }
        return r;
    }

    public static int type(Raster r) {
        return CV_MAKETYPE(r.bitDepth() == 8 ? CV_8U : CV_16U, r.channels());
    }

    private static Path writeImageIo(Path file, BufferedImage img) {
        mkdirs(file);
        try {
            String fmt = file.getFileName().toString().replaceAll(".*\\.", "").toLowerCase();
            if (!ImageIO.write(img, fmt.equals("tif") ? "tiff" : fmt, file.toFile())) {
                throw new IllegalStateException("no ImageIO writer for " + file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    private static Raster swapRb(Raster rgb) {
        Raster out = new Raster(
                rgb.width(), rgb.height(), 3, rgb.bitDepth(), rgb.data().clone());
        long n = (long) rgb.width() * rgb.height();
        for (long p = 0; p < n; p++) {
            out.setSample(3 * p, rgb.sample(3 * p + 2));
            out.setSample(3 * p + 2, rgb.sample(3 * p));
        }
        return out;
    }

    private static void mkdirs(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

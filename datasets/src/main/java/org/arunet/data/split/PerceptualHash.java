package org.arunet.data.split;

import static org.bytedeco.opencv.global.opencv_core.CV_32F;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.Size;

/**
 * Image fingerprints for finding duplicates.
 *
 * <p>{@link #phash}: the 64-bit DCT perceptual hash (as in the {@code imagehash} package): grey image
 * scaled to [0, 1], shrunk to 32 x 32 by area averaging, 2-D DCT-II, the 8 x 8 lowest frequencies
 * (DC included) compared with their median, bit {@code 8 * row + col} set where the coefficient is
 * above it. Near-identical images (re-encoded, resized, lightly annotated or slightly shifted) differ
 * in few bits; compare with {@link #distance}.
 *
 * <p>{@link #pixelHash}: SHA-256 of the decoded samples and the size, for exact duplicates whatever
 * the file format (a grey PNG and an RGB PNG with three equal channels read the same in
 * {@link org.arunet.data.io.ColorMode#GREY}).
 */
public final class PerceptualHash {
    private PerceptualHash() {}

    /** The 64-bit DCT hash of an image (colour is converted to grey by channel mean). */
    public static long phash(Raster image) {
        Raster grey = image.channels() == 1 ? image : meanGrey(image);
        try (PointerScope scope = new PointerScope()) {
            Mat m = OpenCv.toMat(grey);
            Mat f = new Mat();
            m.convertTo(f, CV_32F, 1.0 / grey.maxValue(), 0);
            Mat small = new Mat();
            opencv_imgproc.resize(f, small, new Size(32, 32), 0, 0, INTER_AREA);
            Mat dct = new Mat();
            opencv_core.dct(small, dct);
            Mat low = new Mat(dct, new Rect(0, 0, 8, 8)).clone();
            float[] c = new float[64];
            new FloatPointer(low.data()).get(c);
            float[] sorted = c.clone();
            Arrays.sort(sorted);
            double median = (sorted[31] + sorted[32]) / 2.0;
            long h = 0;
            for (int i = 0; i < 64; i++) {
                if (c[i] > median) {
                    h |= 1L << i;
                }
            }
            return h;
        }
    }

    /** Number of differing bits, 0 to 64. */
    public static int distance(long a, long b) {
        return Long.bitCount(a ^ b);
    }

    /** SHA-256 (hex) of width, height, channels, bit depth and samples. */
    public static String pixelHash(Raster image) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((image.width() + "x" + image.height() + "x" + image.channels() + "@" + image.bitDepth() + ";")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            md.update(image.data());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static Raster meanGrey(Raster rgb) {
        int n = rgb.width() * rgb.height();
        Raster out = new Raster(rgb.width(), rgb.height(), 1, rgb.bitDepth(), new byte[n * (rgb.bitDepth() / 8)]);
        for (int p = 0; p < n; p++) {
            long i = 3L * p;
            out.setSample(p, (rgb.sample(i) + rgb.sample(i + 1) + rgb.sample(i + 2) + 1) / 3);
        }
        return out;
    }
}

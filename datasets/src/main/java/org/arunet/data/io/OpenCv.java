package org.arunet.data.io;

import static org.bytedeco.opencv.global.opencv_core.CV_16U;
import static org.bytedeco.opencv.global.opencv_core.CV_8U;
import static org.bytedeco.opencv.global.opencv_core.CV_MAKETYPE;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_NEAREST;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;

/**
 * The few OpenCV operations this module needs, on {@link Raster}s, with every native buffer freed
 * before returning (each call runs in its own {@link PointerScope}). Also the conversions between a
 * raster and a {@link Mat} for code that keeps Mats of its own (the loader's per-thread buffers).
 */
public final class OpenCv {
    private OpenCv() {}

    /** The OpenCV type ({@code CV_8UC1}, {@code CV_16UC3}, ...) matching a raster's layout. */
    public static int matType(int channels, int bitDepth) {
        return CV_MAKETYPE(bitDepth == 8 ? CV_8U : CV_16U, channels);
    }

    /** A new {@code Mat} holding a copy of the raster; the caller owns (closes) it. */
    public static Mat toMat(Raster r) {
        Mat m = new Mat(r.height(), r.width(), matType(r.channels(), r.bitDepth()));
        m.data().put(r.data());
        return m;
    }

    /** Copies the raster into {@code m}, which must already have the raster's size and type. */
    public static void copyInto(Raster r, Mat m) {
        if (m.rows() != r.height()
                || m.cols() != r.width()
                || m.type() != matType(r.channels(), r.bitDepth())
                || !m.isContinuous()) {
            throw new IllegalArgumentException("Mat " + m.cols() + "x" + m.rows() + " type " + m.type()
                    + " does not match raster " + r.width() + "x" + r.height() + "x" + r.channels());
        }
        m.data().put(r.data());
    }

    /** A raster copied from a continuous 8- or 16-bit Mat with 1 or 3 channels. */
    public static Raster toRaster(Mat m) {
        Mat c = m.isContinuous() ? m : m.clone();
        try {
            int bits = c.depth() == CV_8U ? 8 : c.depth() == CV_16U ? 16 : -1;
            if (bits < 0) {
                throw new IllegalArgumentException("Mat depth " + c.depth() + " is neither 8- nor 16-bit unsigned");
            }
            byte[] d = new byte[Math.toIntExact(c.total() * c.elemSize())];
            c.data().get(d);
            return new Raster(c.cols(), c.rows(), c.channels(), bits, d);
        } finally {
            if (c != m) {
                c.close();
            }
        }
    }

    /**
     * Resizes to {@code width x height}. {@link Interpolation#SMOOTH} uses area averaging when shrinking
     * (no aliasing) and bilinear when enlarging; {@link Interpolation#NEAREST} is for masks.
     */
    public static Raster resize(Raster src, int width, int height, Interpolation interpolation) {
        if (src.width() == width && src.height() == height) {
            return src;
        }
        int flag;
        if (interpolation == Interpolation.NEAREST) {
            flag = INTER_NEAREST;
        } else {
            boolean shrink = width <= src.width() && height <= src.height();
            flag = shrink ? INTER_AREA : INTER_LINEAR;
        }
        try (PointerScope scope = new PointerScope()) {
            Mat in = toMat(src);
            Mat out = new Mat();
            opencv_imgproc.resize(in, out, new Size(width, height), 0, 0, flag);
            return toRaster(out);
        }
    }

    /**
     * Bilinear resize ({@code INTER_LINEAR}) of a float image of {@code channels} interleaved channels
     * (row-major {@code height x width x channels}) to {@code newWidth x newHeight}: probability maps
     * going back to an image's own size. Returns a new array.
     */
    public static float[] resizeLinear(float[] src, int width, int height, int channels, int newWidth, int newHeight) {
        if (src.length != (long) width * height * channels) {
            throw new IllegalArgumentException(
                    "resizeLinear: " + src.length + " values for " + width + "x" + height + "x" + channels);
        }
        float[] out = new float[newWidth * newHeight * channels];
        try (Mat in = new Mat(height, width, opencv_core.CV_32FC(channels));
                Mat dst = new Mat();
                Size size = new Size(newWidth, newHeight)) {
            new FloatPointer(in.data()).put(src);
            opencv_imgproc.resize(in, dst, size, 0, 0, INTER_LINEAR);
            new FloatPointer(dst.data()).get(out);
        }
        return out;
    }

    /** How {@link #resize} interpolates. */
    public enum Interpolation {
        /** Area averaging when shrinking, bilinear when enlarging: for images. */
        SMOOTH,
        /** Nearest neighbour: for masks, keeps class indices. */
        NEAREST
    }
}

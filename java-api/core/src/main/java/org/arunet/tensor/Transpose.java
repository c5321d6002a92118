package org.arunet.tensor;

/** Layout conversions on host arrays (PyTorch's NCHW to our NHWC and back). */
public final class Transpose {
    private Transpose() {}

    /** {@code [n, c, h, w]} to {@code [n, h, w, c]}. */
    public static float[] nchwToNhwc(float[] src, int n, int c, int h, int w) {
        check(src.length, n, c, h, w);
        float[] dst = new float[src.length];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                int s = (b * c + ch) * h * w;
                for (int p = 0; p < h * w; p++) {
                    dst[(b * h * w + p) * c + ch] = src[s + p];
                }
            }
        }
        return dst;
    }

    /** {@code [n, h, w, c]} to {@code [n, c, h, w]}. */
    public static float[] nhwcToNchw(float[] src, int n, int h, int w, int c) {
        check(src.length, n, c, h, w);
        float[] dst = new float[src.length];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                int d = (b * c + ch) * h * w;
                for (int p = 0; p < h * w; p++) {
                    dst[d + p] = src[(b * h * w + p) * c + ch];
                }
            }
        }
        return dst;
    }

    private static void check(int len, int n, int c, int h, int w) {
        if ((long) n * c * h * w != len) {
            throw new IllegalArgumentException(len + " values do not form " + n + "x" + c + "x" + h + "x" + w);
        }
    }
}

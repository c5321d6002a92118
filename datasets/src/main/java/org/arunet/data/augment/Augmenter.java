package org.arunet.data.augment;

import static org.bytedeco.opencv.global.opencv_core.BORDER_CONSTANT;
import static org.bytedeco.opencv.global.opencv_core.CV_64F;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_NEAREST;
import static org.bytedeco.opencv.global.opencv_imgproc.WARP_INVERSE_MAP;

import org.arunet.data.io.ImagePair;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.bytedeco.opencv.opencv_core.Size;

/**
 * Applies one {@link AugmentParams} draw to an S x S image and its mask with OpenCV's
 * {@code warpAffine}: bilinear for the image, nearest for the mask, constant 0 outside.
 */
public final class Augmenter {
    private Augmenter() {}

    /** Augments a square image/mask pair of equal size; returns new rasters. */
    public static ImagePair apply(Raster image, Raster mask, AugmentParams params) {
        int s = image.width();
        if (image.height() != s || mask.width() != s || mask.height() != s) {
            throw new IllegalArgumentException("augmentation needs square image and mask of one size, got image "
                    + image.width() + "x" + image.height() + ", mask " + mask.width() + "x" + mask.height());
        }
        if (params.isIdentity(s)) {
            return new ImagePair(image, mask);
        }
        try (PointerScope scope = new PointerScope()) {
            Mat m = new Mat(2, 3, CV_64F);
            setMatrix(m, params.inverseMatrix(s));
            Mat img = OpenCv.toMat(image);
            Mat msk = OpenCv.toMat(mask);
            Mat outImg = new Mat();
            Mat outMsk = new Mat();
            warp(img, outImg, m, s, false);
            warp(msk, outMsk, m, s, true);
            return new ImagePair(OpenCv.toRaster(outImg), OpenCv.toRaster(outMsk));
        }
    }

    /** Writes a 2 x 3 row-major matrix into a {@code CV_64F} 2 x 3 Mat. */
    public static void setMatrix(Mat m, double[] rowMajor2x3) {
        new DoublePointer(m.data()).put(rowMajor2x3, 0, 6);
    }

    /**
     * {@code dst = src} sampled at {@code matrix * (x, y, 1)} for every output pixel of an
     * {@code size x size} output: bilinear, or nearest when {@code nearest} (masks); 0 outside.
     */
    public static void warp(Mat src, Mat dst, Mat matrix, int size, boolean nearest) {
        try (Scalar zero = new Scalar(0.0);
                Size sz = new Size(size, size)) {
            opencv_imgproc.warpAffine(
                    src,
                    dst,
                    matrix,
                    sz,
                    (nearest ? INTER_NEAREST : INTER_LINEAR) | WARP_INVERSE_MAP,
                    BORDER_CONSTANT,
                    zero);
        }
    }
}

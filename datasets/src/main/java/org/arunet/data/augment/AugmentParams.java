package org.arunet.data.augment;

/**
 * One draw of {@link Augmentation}, for an S x S image.
 *
 * <p>Forward (what the picture undergoes): flip horizontally if {@code flip}; rotate by
 * {@code angleDegrees} about the image centre (positive = counter-clockwise on screen, as OpenCV's
 * {@code getRotationMatrix2D}); cut the square {@code [cropX, cropX + cropSide) x [cropY, cropY +
 * cropSide)}; scale it to S x S.
 *
 * @param flip horizontal flip
 * @param angleDegrees rotation angle
 * @param cropSide crop side in pixels ({@code S} = no crop)
 * @param cropX left edge of the crop
 * @param cropY top edge of the crop
 */
public record AugmentParams(boolean flip, double angleDegrees, int cropSide, int cropX, int cropY) {
    /** No flip, no rotation, no crop. */
    public static AugmentParams identity(int size) {
        return new AugmentParams(false, 0, size, 0, 0);
    }

    /** Whether this draw leaves an image of side {@code size} unchanged. */
    public boolean isIdentity(int size) {
        return !flip && angleDegrees == 0 && cropSide == size && cropX == 0 && cropY == 0;
    }

    /**
     * The 2 x 3 matrix {@code [a b c; d e f]} (row-major) mapping an output pixel {@code (x, y)} to
     * the source position {@code (a x + b y + c, d x + e y + f)} to sample, in pixel-index
     * coordinates (pixel centres at integers): the form {@code warpAffine} takes with
     * {@code WARP_INVERSE_MAP}.
     */
    public double[] inverseMatrix(int size) {
        double s = size;
        double half = s / 2;
        // Work in continuous coordinates (pixel i covers [i, i+1)): u = x + 0.5.
        // 1. output -> crop window in the rotated image.
        double[][] m = translate(0.5, 0.5);
        m = mul(scale(cropSide / s), m);
        m = mul(translate(cropX, cropY), m);
        // 2. rotated image -> flipped image: undo the rotation about the centre. Rotating the picture
        // counter-clockwise on screen (y down) maps q to [cos sin; -sin cos] q, as getRotationMatrix2D
        // does; its inverse is [cos -sin; sin cos].
        double t = Math.toRadians(angleDegrees);
        double c = Math.cos(t);
        double sn = Math.sin(t);
        m = mul(translate(-half, -half), m);
        m = mul(new double[][] {{c, -sn, 0}, {sn, c, 0}, {0, 0, 1}}, m);
        m = mul(translate(half, half), m);
        // 3. flipped image -> original: the flip is its own inverse.
        if (flip) {
            m = mul(new double[][] {{-1, 0, s}, {0, 1, 0}, {0, 0, 1}}, m);
        }
        // Back to pixel-index coordinates.
        m = mul(translate(-0.5, -0.5), m);
        return new double[] {m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]};
    }

    private static double[][] translate(double dx, double dy) {
        return new double[][] {{1, 0, dx}, {0, 1, dy}, {0, 0, 1}};
    }

    private static double[][] scale(double k) {
        return new double[][] {{k, 0, 0}, {0, k, 0}, {0, 0, 1}};
    }

    private static double[][] mul(double[][] a, double[][] b) {
        double[][] r = new double[3][3];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                r[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
            }
        }
        return r;
    }
}

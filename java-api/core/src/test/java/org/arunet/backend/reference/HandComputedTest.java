package org.arunet.backend.reference;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Small cases worked out by hand (the expected numbers are in the source, with their derivation), run
 * through the {@link ReferenceBackend} tensor API. Tolerances are float rounding: 1e-6 relative.
 */
class HandComputedTest {
    private static final double ATOL = 1e-6;
    private static final double RTOL = 1e-6;

    private final ReferenceBackend be = new ReferenceBackend();
    private final java.util.List<Tensor> owned = new java.util.ArrayList<>();

    @AfterEach
    void release() {
        owned.forEach(Tensor::close);
        be.close();
    }

    private Tensor nhwc(float[] data, int n, int h, int w, int c) {
        Tensor t = Tensor.of(data, Layout.NHWC, n, h, w, c);
        owned.add(t);
        return t;
    }

    private Tensor plain(float[] data, int... shape) {
        Tensor t = Tensor.of(data, Layout.PLAIN, shape);
        owned.add(t);
        return t;
    }

    private Tensor oihw(float[] data, int o, int i, int kh, int kw) {
        Tensor t = Tensor.of(data, Layout.OIHW, o, i, kh, kw);
        owned.add(t);
        return t;
    }

    private Tensor zeros(Layout layout, int... shape) {
        Tensor t = be.allocate(DType.F32, layout, shape);
        owned.add(t);
        return t;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    private static float[] range(int from, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = from + i;
        }
        return a;
    }

    // ------------------------------------------------------------------ convolution

    /** 1..16 on a 4x4 grid, ones 3x3 kernel, pad 1: each output is the sum of its 3x3 neighbourhood. */
    @Test
    void onesKernelSumsNeighbourhoods() {
        Tensor x = nhwc(range(1, 16), 1, 4, 4, 1);
        Tensor w = oihw(ones(9), 1, 1, 3, 3);
        Tensor y = zeros(Layout.NHWC, 1, 4, 4, 1);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.same(1, 1, 3, 1, 1, false))) {
            conv.forward(x, w, null, y, false);
        }
        assertClose(
                "conv ones 3x3",
                y,
                new float[] {
                    14, 24, 30, 22,
                    33, 54, 63, 45,
                    57, 90, 99, 69,
                    46, 72, 78, 54
                },
                ATOL,
                RTOL);
    }

    /** Cross-correlation, not convolution: a kernel with 1 at tap (0, 0) reads x[i - 1, j - 1]. */
    @Test
    void kernelIsNotFlipped() {
        Tensor x = nhwc(range(1, 16), 1, 4, 4, 1);
        float[] k = new float[9];
        k[0] = 1;
        Tensor w = oihw(k, 1, 1, 3, 3);
        Tensor y = zeros(Layout.NHWC, 1, 4, 4, 1);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.same(1, 1, 3, 1, 1, false))) {
            conv.forward(x, w, null, y, false);
        }
        assertClose(
                "conv shift",
                y,
                new float[] {
                    0, 0, 0, 0,
                    0, 1, 2, 3,
                    0, 5, 6, 7,
                    0, 9, 10, 11
                },
                ATOL,
                RTOL);
    }

    /**
     * Non-square kernels keep H and W apart. x = 1..9 on 3x3. A 1x2 kernel (1, 10) gives
     * y[i, j] = x[i, j] + 10 x[i, j + 1] (3x2); a 2x1 kernel (1, 10) gives y[i, j] = x[i, j] + 10 x[i + 1, j] (2x3).
     */
    @Test
    void nonSquareKernelsKeepAxesApart() {
        Tensor x = nhwc(range(1, 9), 1, 3, 3, 1);
        Tensor wRow = oihw(new float[] {1, 10}, 1, 1, 1, 2);
        Tensor yRow = zeros(Layout.NHWC, 1, 3, 2, 1);
        try (Conv2dOp conv = be.conv2d(new Conv2dSpec(1, 1, 1, 2, 1, 1, 0, 0, 1, 1, 1, false))) {
            conv.forward(x, wRow, null, yRow, false);
        }
        assertClose("conv 1x2", yRow, new float[] {21, 32, 54, 65, 87, 98}, 0, 0);
        Tensor wCol = oihw(new float[] {1, 10}, 1, 1, 2, 1);
        Tensor yCol = zeros(Layout.NHWC, 1, 2, 3, 1);
        try (Conv2dOp conv = be.conv2d(new Conv2dSpec(1, 1, 2, 1, 1, 1, 0, 0, 1, 1, 1, false))) {
            conv.forward(x, wCol, null, yCol, false);
        }
        assertClose("conv 2x1", yCol, new float[] {41, 52, 63, 74, 85, 96}, 0, 0);
    }

    /** Images stay apart: ones 3x3 pad 1 over two 2x2 images sums each image (every window covers it all). */
    @Test
    void batchImagesStayApart() {
        Tensor x = nhwc(new float[] {1, 2, 3, 4, 10, 20, 30, 40}, 2, 2, 2, 1);
        Tensor w = oihw(ones(9), 1, 1, 3, 3);
        Tensor y = zeros(Layout.NHWC, 2, 2, 2, 1);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.same(1, 1, 3, 1, 1, false))) {
            conv.forward(x, w, null, y, false);
        }
        assertClose("conv per image", y, new float[] {10, 10, 10, 10, 100, 100, 100, 100}, 0, 0);
    }

    /** 1x1, 2 -> 2 channels with bias: y0 = 4*2 + 5*3 + 0.5, y1 = -1*2 + 1*3 - 0.5 (weights OIHW). */
    @Test
    void pointwiseWithBias() {
        Tensor x = nhwc(new float[] {2, 3}, 1, 1, 1, 2);
        Tensor w = oihw(new float[] {4, 5, -1, 1}, 2, 2, 1, 1);
        Tensor b = plain(new float[] {0.5f, -0.5f}, 2);
        Tensor y = zeros(Layout.NHWC, 1, 1, 1, 2);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(2, 2, 1, 1, 0, 1, 1, true))) {
            conv.forward(x, w, b, y, true);
        }
        assertClose("conv 1x1 bias", y, new float[] {23.5f, 0.5f}, ATOL, RTOL);
    }

    /** Two groups: output channel g sees only input channel g: y = (2*5, 3*7). */
    @Test
    void groupsSeparateChannels() {
        Tensor x = nhwc(new float[] {5, 7}, 1, 1, 1, 2);
        Tensor w = oihw(new float[] {2, 3}, 2, 1, 1, 1);
        Tensor y = zeros(Layout.NHWC, 1, 1, 1, 2);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(2, 2, 1, 1, 0, 1, 2, false))) {
            conv.forward(x, w, null, y, false);
        }
        assertClose("conv groups", y, new float[] {10, 21}, ATOL, RTOL);
    }

    /** Ones 5x5, ones 3x3 kernel, stride 2, pad 1: 3x3 output counting in-bounds taps (2 or 3 rows/cols). */
    @Test
    void strideTwoCountsInBoundsTaps() {
        Tensor x = nhwc(ones(25), 1, 5, 5, 1);
        Tensor w = oihw(ones(9), 1, 1, 3, 3);
        Tensor y = zeros(Layout.NHWC, 1, 3, 3, 1);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 3, 2, 1, 1, 1, false))) {
            conv.forward(x, w, null, y, false);
        }
        assertClose("conv stride 2", y, new float[] {4, 6, 4, 6, 9, 6, 4, 6, 4}, ATOL, RTOL);
    }

    /** Dilation 2, pad 2, ones kernel, one-hot centre of 5x5: taps at offsets -2, 0, 2 reach it from rows 0, 2, 4. */
    @Test
    void dilationSpreadsTaps() {
        float[] xs = new float[25];
        xs[12] = 1;
        Tensor x = nhwc(xs, 1, 5, 5, 1);
        Tensor w = oihw(ones(9), 1, 1, 3, 3);
        Tensor y = zeros(Layout.NHWC, 1, 5, 5, 1);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.same(1, 1, 3, 2, 1, false))) {
            conv.forward(x, w, null, y, false);
        }
        assertClose(
                "conv dilation 2",
                y,
                new float[] {
                    1, 0, 1, 0, 1,
                    0, 0, 0, 0, 0,
                    1, 0, 1, 0, 1,
                    0, 0, 0, 0, 0,
                    1, 0, 1, 0, 1
                },
                ATOL,
                RTOL);
    }

    /**
     * Backward of the ones 3x3 pad 1 conv on 4x4 with dy = 1: dx counts the windows covering each pixel;
     * with x = 1..16, dw[ky, kx] sums x over rows ky-1..ky+2 and columns kx-1..kx+2 clipped to the grid
     * (e.g. dw[0, 0] = 1+2+3+5+6+7+9+10+11 = 54, dw[1, 1] = 136); db = 16.
     */
    @Test
    void convBackwardByHand() {
        Conv2dSpec s = Conv2dSpec.same(1, 1, 3, 1, 1, true);
        Tensor x = nhwc(range(1, 16), 1, 4, 4, 1);
        Tensor w = oihw(ones(9), 1, 1, 3, 3);
        Tensor dy = nhwc(ones(16), 1, 4, 4, 1);
        Tensor dx = zeros(Layout.NHWC, 1, 4, 4, 1);
        Tensor dw = zeros(Layout.OIHW, 1, 1, 3, 3);
        Tensor db = zeros(Layout.PLAIN, 1);
        try (Conv2dOp conv = be.conv2d(s)) {
            conv.backwardData(dy, w, dx);
            conv.backwardWeights(x, dy, dw, db);
        }
        assertClose("conv dx", dx, new float[] {4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4}, ATOL, RTOL);
        assertClose("conv dw", dw, new float[] {54, 78, 63, 96, 136, 108, 90, 126, 99}, ATOL, RTOL);
        assertClose("conv db", db, new float[] {16}, ATOL, RTOL);
    }

    // ------------------------------------------------------------------ batch normalisation

    /*
     * Two channels over M = 4 positions, eps = 4 (so that the numbers are round):
     *   c0: x = 1, 3, 5, 7  -> mean 4, biased var 5, invStd 1/sqrt(9) = 1/3, xhat = -1, -1/3, 1/3, 1
     *   c1: x = 0, 0, 0, 8  -> mean 2, biased var 12, invStd 1/4,           xhat = -1/2, -1/2, -1/2, 3/2
     * gamma = (2, 1), beta = (1, 0): y0 = 2 xhat + 1 = -1, 1/3, 5/3, 3; y1 = xhat.
     * Running stats from (0, 0) and (1, 1), momentum 0.1, unbiased var = biased * 4/3:
     *   mean = (0.4, 0.2), var = (0.9 + 0.1 * 20/3, 0.9 + 0.1 * 16) = (1.5666667, 2.5).
     */
    private static final float[] BN_X = {1, 0, 3, 0, 5, 0, 7, 8};

    @Test
    void batchNormTrainingByHand() {
        Tensor x = nhwc(BN_X, 1, 2, 2, 2);
        Tensor gamma = plain(new float[] {2, 1}, 2);
        Tensor beta = plain(new float[] {1, 0}, 2);
        Tensor rm = plain(new float[] {0, 0}, 2);
        Tensor rv = plain(new float[] {1, 1}, 2);
        Tensor saveMean = zeros(Layout.PLAIN, 2);
        Tensor saveInvStd = zeros(Layout.PLAIN, 2);
        Tensor y = zeros(Layout.NHWC, 1, 2, 2, 2);
        be.batchNormForward(x, gamma, beta, rm, rv, saveMean, saveInvStd, y, true, 0.1f, 4f, Activation.NONE);
        assertClose("bn y", y, new double[] {-1, -0.5, 1.0 / 3, -0.5, 5.0 / 3, -0.5, 3, 1.5}, ATOL, RTOL);
        assertClose("bn saveMean", saveMean, new float[] {4, 2}, ATOL, RTOL);
        assertClose("bn saveInvStd", saveInvStd, new double[] {1.0 / 3, 0.25}, ATOL, RTOL);
        assertClose("bn runningMean", rm, new double[] {0.4, 0.2}, ATOL, RTOL);
        assertClose("bn runningVar", rv, new double[] {0.9 + 0.1 * 20.0 / 3, 2.5}, ATOL, RTOL);

        be.batchNormForward(x, gamma, beta, rm, rv, saveMean, saveInvStd, y, true, 0.1f, 4f, Activation.RELU);
        assertClose("bn relu y", y, new double[] {0, 0, 1.0 / 3, 0, 5.0 / 3, 0, 3, 1.5}, ATOL, RTOL);
        // a second update: mean = 0.9 * 0.4 + 0.1 * 4
        assertClose("bn runningMean after two steps", rm, new double[] {0.76, 0.38}, ATOL, RTOL);
    }

    /** Inference with running mean (1, 2), var (5, 12), eps 4: y0 = 2 (x - 1) / 3 + 1, y1 = (x - 2) / 4. */
    @Test
    void batchNormInferenceByHand() {
        Tensor x = nhwc(BN_X, 1, 2, 2, 2);
        Tensor gamma = plain(new float[] {2, 1}, 2);
        Tensor beta = plain(new float[] {1, 0}, 2);
        Tensor rm = plain(new float[] {1, 2}, 2);
        Tensor rv = plain(new float[] {5, 12}, 2);
        Tensor y = zeros(Layout.NHWC, 1, 2, 2, 2);
        be.batchNormForward(x, gamma, beta, rm, rv, null, null, y, false, 0.1f, 4f, Activation.NONE);
        assertClose("bn eval y", y, new double[] {1, -0.5, 7.0 / 3, -0.5, 11.0 / 3, -0.5, 5, 1.5}, ATOL, RTOL);
        assertClose("bn eval leaves runningMean", rm, new float[] {1, 2}, 0, 0);
        assertClose("bn eval leaves runningVar", rv, new float[] {5, 12}, 0, 0);
    }

    /*
     * Backward, same statistics: dx = gamma invStd / M (M dz - dBeta - xhat dGamma).
     *   NONE, dy0 = (1, 0, 0, 0): dBeta 1, dGamma -1, dx0 = (1/6)(4 dy - 1 + xhat) = (1/3, -2/9, -1/9, 0)
     *         dy1 = (0, 0, 0, 4): dBeta 4, dGamma 6,  dx1 = (1/16)(4 dy - 4 - 6 xhat) = (-1, -1, -1, 3) / 16
     *   RELU (y0 = 0 at position 0), dy0 = (1, 1, 0, 0) -> dz0 = (0, 1, 0, 0): dBeta 1, dGamma -1/3,
     *         dx0 = (1/6)(4 dz - 1 + xhat / 3) = (-2/9, 13/27, -4/27, -1/9); channel 1 with dy1 = 0 gives 0.
     */
    @Test
    void batchNormBackwardByHand() {
        Tensor x = nhwc(BN_X, 1, 2, 2, 2);
        Tensor gamma = plain(new float[] {2, 1}, 2);
        Tensor mean = plain(new float[] {4, 2}, 2);
        Tensor invStd = plain(new float[] {1f / 3, 0.25f}, 2);
        Tensor dx = zeros(Layout.NHWC, 1, 2, 2, 2);
        Tensor dGamma = zeros(Layout.PLAIN, 2);
        Tensor dBeta = zeros(Layout.PLAIN, 2);
        Tensor dy = nhwc(new float[] {1, 0, 0, 0, 0, 0, 0, 4}, 1, 2, 2, 2);
        be.batchNormBackward(dy, x, null, gamma, mean, invStd, dx, dGamma, dBeta, Activation.NONE);
        assertClose(
                "bn dx",
                dx,
                new double[] {1.0 / 3, -1.0 / 16, -2.0 / 9, -1.0 / 16, -1.0 / 9, -1.0 / 16, 0, 3.0 / 16},
                ATOL,
                RTOL);
        assertClose("bn dGamma", dGamma, new float[] {-1, 6}, ATOL, RTOL);
        assertClose("bn dBeta", dBeta, new float[] {1, 4}, ATOL, RTOL);

        Tensor y = nhwc(new float[] {0, 0, 1f / 3, 0, 5f / 3, 0, 3, 1.5f}, 1, 2, 2, 2);
        Tensor dyRelu = nhwc(new float[] {1, 0, 1, 0, 0, 0, 0, 0}, 1, 2, 2, 2);
        be.batchNormBackward(dyRelu, x, y, gamma, mean, invStd, dx, dGamma, dBeta, Activation.RELU);
        assertClose("bn relu dx", dx, new double[] {-2.0 / 9, 0, 13.0 / 27, 0, -4.0 / 27, 0, -1.0 / 9, 0}, ATOL, RTOL);
        assertClose("bn relu dGamma", dGamma, new double[] {-1.0 / 3, 0}, ATOL, RTOL);
        assertClose("bn relu dBeta", dBeta, new float[] {1, 0}, ATOL, RTOL);
    }

    // ------------------------------------------------------------------ activations

    @Test
    void activationsByHand() {
        Tensor x = plain(new float[] {-1, 0, 2}, 3);
        Tensor y = zeros(Layout.PLAIN, 3);
        Tensor dy = plain(new float[] {5, 6, 7}, 3);
        Tensor dx = zeros(Layout.PLAIN, 3);

        be.activationForward(Activation.RELU, x, y);
        assertClose("relu", y, new float[] {0, 0, 2}, 0, 0);
        be.activationBackward(Activation.RELU, x, null, dy, dx);
        assertClose("relu' (0 at 0)", dx, new float[] {0, 0, 7}, 0, 0);

        be.activationForward(Activation.SIGMOID, x, y);
        double s1 = 1 / (1 + Math.exp(1));
        double s2 = 1 / (1 + Math.exp(-2));
        assertClose("sigmoid", y, new double[] {s1, 0.5, s2}, ATOL, RTOL);
        be.activationBackward(Activation.SIGMOID, null, y, dy, dx);
        assertClose(
                "sigmoid' = y (1 - y)", dx, new double[] {5 * s1 * (1 - s1), 6 * 0.25, 7 * s2 * (1 - s2)}, ATOL, RTOL);

        // gelu(-1) = -Phi(-1), gelu(2) = 2 Phi(2); gelu'(0) = 1/2
        be.activationForward(Activation.GELU, x, y);
        assertClose("gelu", y, new double[] {-0.15865525393145705, 0, 1.9544997361036416}, ATOL, RTOL);
        be.activationBackward(Activation.GELU, x, null, dy, dx);
        assertClose("gelu'", dx, new double[] {5 * -0.083315470587686298, 3, 7 * 1.0852318010781969}, ATOL, RTOL);

        be.activationForward(Activation.NONE, x, y);
        assertClose("identity", y, new float[] {-1, 0, 2}, 0, 0);
        be.activationBackward(Activation.NONE, null, null, dy, dx);
        assertClose("identity'", dx, new float[] {5, 6, 7}, 0, 0);
    }

    // ------------------------------------------------------------------ pooling

    /**
     * Two images, two channels, 2x2 windows (NHWC, channels interleaved):
     * image 0: c0 = (1, 4, 3, 2) -> 4, c1 = (8, 5, 6, 7) -> 8; image 1: c0 = (0, -1, -2, -3) -> 0,
     * c1 = (-5, -4, -9, -6) -> -4.
     */
    @Test
    void maxPoolKeepsImagesAndChannelsApart() {
        Tensor x = nhwc(new float[] {1, 8, 4, 5, 3, 6, 2, 7, 0, -5, -1, -4, -2, -9, -3, -6}, 2, 2, 2, 2);
        Tensor y = zeros(Layout.NHWC, 2, 1, 1, 2);
        be.maxPoolForward(x, y, 2, 2, 0);
        assertClose("maxpool per image and channel", y, new float[] {4, 8, 0, -4}, 0, 0);
        Tensor dy = nhwc(new float[] {1, 2, 3, 4}, 2, 1, 1, 2);
        Tensor dx = zeros(Layout.NHWC, 2, 2, 2, 2);
        be.maxPoolBackward(x, dy, dx, 2, 2, 0);
        assertClose(
                "maxpool dx per image and channel",
                dx,
                new float[] {0, 2, 1, 0, 0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0},
                0,
                0);
    }

    /** All equal 2x2 window: the gradient goes to the first element only. */
    @Test
    void maxPoolTiesPickTheFirst() {
        Tensor x = nhwc(new float[] {5, 5, 5, 5}, 1, 2, 2, 1);
        Tensor y = zeros(Layout.NHWC, 1, 1, 1, 1);
        Tensor dy = nhwc(new float[] {1}, 1, 1, 1, 1);
        Tensor dx = zeros(Layout.NHWC, 1, 2, 2, 1);
        be.maxPoolForward(x, y, 2, 2, 0);
        be.maxPoolBackward(x, dy, dx, 2, 2, 0);
        assertClose("maxpool tie y", y, new float[] {5}, 0, 0);
        assertClose("maxpool tie dx", dx, new float[] {1, 0, 0, 0}, 0, 0);

        // ties at (0, 1) and (1, 0): row-major order picks (0, 1)
        Tensor x2 = nhwc(new float[] {0, 7, 7, 0}, 1, 2, 2, 1);
        be.maxPoolBackward(x2, dy, dx, 2, 2, 0);
        assertClose("maxpool row-major tie dx", dx, new float[] {0, 1, 0, 0}, 0, 0);
    }

    /**
     * 4x4 of -3 except x[1, 2] = -1, kernel 3 stride 2 pad 1 -> 2x2 windows over rows/cols {0,1}, {1,2,3}:
     * y = (-3, -1, -3, -1); padding (which would be 0 if it counted) never wins. Gradient: windows (0,0) and
     * (1,0) pick their first element (0,0) and (1,0); (0,1) and (1,1) both pick (1,2): dx[1,2] = 2 + 4.
     */
    @Test
    void maxPoolPaddingNeverWins() {
        float[] xs = new float[16];
        java.util.Arrays.fill(xs, -3);
        xs[6] = -1;
        Tensor x = nhwc(xs, 1, 4, 4, 1);
        Tensor y = zeros(Layout.NHWC, 1, 2, 2, 1);
        be.maxPoolForward(x, y, 3, 2, 1);
        assertClose("maxpool y", y, new float[] {-3, -1, -3, -1}, 0, 0);
        Tensor dy = nhwc(new float[] {1, 2, 3, 4}, 1, 2, 2, 1);
        Tensor dx = zeros(Layout.NHWC, 1, 4, 4, 1);
        be.maxPoolBackward(x, dy, dx, 3, 2, 1);
        assertClose("maxpool dx", dx, new float[] {1, 0, 0, 0, 3, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 0);
    }

    /**
     * Global pools on 2x2, two channels: c0 = (3, 1, 3, 2) has two maxima, c1 = (0, 4, 1, 1) one.
     * max = (3, 4), avg = (2.25, 1.5). dMax = (1, 2), dAvg = (4, 8): dx0 = (1/2 + 1, 1, 1/2 + 1, 1),
     * dx1 = (2, 2 + 2, 2, 2).
     */
    @Test
    void globalPoolTiesSplitEvenly() {
        Tensor x = nhwc(new float[] {3, 0, 1, 4, 3, 1, 2, 1}, 1, 2, 2, 2);
        Tensor max = zeros(Layout.PLAIN, 1, 2);
        Tensor avg = zeros(Layout.PLAIN, 1, 2);
        be.globalPoolForward(x, max, avg);
        assertClose("global max", max, new float[] {3, 4}, 0, 0);
        assertClose("global avg", avg, new float[] {2.25f, 1.5f}, ATOL, RTOL);
        Tensor dMax = plain(new float[] {1, 2}, 1, 2);
        Tensor dAvg = plain(new float[] {4, 8}, 1, 2);
        Tensor dx = zeros(Layout.NHWC, 1, 2, 2, 2);
        be.globalPoolBackward(x, max, dMax, dAvg, dx);
        assertClose("global pool dx", dx, new float[] {1.5f, 2, 1, 4, 1.5f, 2, 1, 2}, ATOL, RTOL);
        be.globalPoolBackward(x, max, dMax, null, dx);
        assertClose("global max dx", dx, new float[] {0.5f, 0, 0, 2, 0.5f, 0, 0, 0}, ATOL, RTOL);
    }

    /** Channel max/mean of (2, 5, 5, 1): (5, 3.25); dOut = (1, 2): dx = (0, 1/2, 1/2, 0) + 2/4. */
    @Test
    void channelMaxTiesSplitEvenly() {
        Tensor x = nhwc(new float[] {2, 5, 5, 1}, 1, 1, 1, 4);
        Tensor out = zeros(Layout.NHWC, 1, 1, 1, 2);
        be.channelMaxMeanForward(x, out);
        assertClose("channel max/mean", out, new float[] {5, 3.25f}, 0, 0);
        Tensor dOut = nhwc(new float[] {1, 2}, 1, 1, 1, 2);
        Tensor dx = zeros(Layout.NHWC, 1, 1, 1, 4);
        be.channelMaxMeanBackward(x, out, dOut, dx);
        assertClose("channel max/mean dx", dx, new float[] {0.5f, 1, 1, 0.5f}, 0, 0);
    }

    // ------------------------------------------------------------------ resampling and joins

    @Test
    void upsampleByHand() {
        Tensor x = nhwc(new float[] {1, 10, 2, 20}, 1, 1, 2, 2);
        Tensor y = zeros(Layout.NHWC, 1, 2, 4, 2);
        be.upsample2xForward(x, y);
        assertClose("upsample", y, new float[] {1, 10, 1, 10, 2, 20, 2, 20, 1, 10, 1, 10, 2, 20, 2, 20}, 0, 0);
        // one channel: dy = 1..8 on 2x4 -> dx = (1 + 2 + 5 + 6, 3 + 4 + 7 + 8)
        Tensor dy = nhwc(range(1, 8), 1, 2, 4, 1);
        Tensor dx = zeros(Layout.NHWC, 1, 1, 2, 1);
        be.upsample2xBackward(dy, dx);
        assertClose("upsample backward", dx, new float[] {14, 22}, 0, 0);
        // two images of one pixel each
        Tensor x2 = nhwc(new float[] {1, 2}, 2, 1, 1, 1);
        Tensor y2 = zeros(Layout.NHWC, 2, 2, 2, 1);
        be.upsample2xForward(x2, y2);
        assertClose("upsample per image", y2, new float[] {1, 1, 1, 1, 2, 2, 2, 2}, 0, 0);
    }

    @Test
    void concatAndSplitByHand() {
        Tensor a = nhwc(new float[] {1, 2}, 1, 1, 2, 1);
        Tensor b = nhwc(new float[] {3, 4, 5, 6}, 1, 1, 2, 2);
        Tensor out = zeros(Layout.NHWC, 1, 1, 2, 3);
        be.concatChannels(a, b, out);
        assertClose("concat", out, new float[] {1, 3, 4, 2, 5, 6}, 0, 0);
        Tensor da = zeros(Layout.NHWC, 1, 1, 2, 1);
        Tensor db = zeros(Layout.NHWC, 1, 1, 2, 2);
        be.splitChannels(out, da, db);
        assertClose("split a", da, new float[] {1, 2}, 0, 0);
        assertClose("split b", db, new float[] {3, 4, 5, 6}, 0, 0);
    }

    /** x = (1, 2 | 3, 4) on 1x1x2x2. Per pixel w = (10, 100); per channel w = (10, 100). dy = 1. */
    @Test
    void broadcastMulByHand() {
        Tensor x = nhwc(new float[] {1, 2, 3, 4}, 1, 1, 2, 2);
        Tensor dy = nhwc(ones(4), 1, 1, 2, 2);
        Tensor y = zeros(Layout.NHWC, 1, 1, 2, 2);
        Tensor dx = zeros(Layout.NHWC, 1, 1, 2, 2);

        Tensor wPixel = nhwc(new float[] {10, 100}, 1, 1, 2, 1);
        Tensor dwPixel = zeros(Layout.NHWC, 1, 1, 2, 1);
        be.mulForward(x, wPixel, y);
        assertClose("mul per pixel", y, new float[] {10, 20, 300, 400}, 0, 0);
        be.mulBackward(dy, x, wPixel, dx, dwPixel);
        assertClose("mul per pixel dx", dx, new float[] {10, 10, 100, 100}, 0, 0);
        assertClose("mul per pixel dw", dwPixel, new float[] {3, 7}, 0, 0);

        Tensor wChannel = plain(new float[] {10, 100}, 1, 2);
        Tensor dwChannel = zeros(Layout.PLAIN, 1, 2);
        be.mulForward(x, wChannel, y);
        assertClose("mul per channel", y, new float[] {10, 200, 30, 400}, 0, 0);
        be.mulBackward(dy, x, wChannel, dx, dwChannel);
        assertClose("mul per channel dx", dx, new float[] {10, 100, 10, 100}, 0, 0);
        assertClose("mul per channel dw", dwChannel, new float[] {4, 6}, 0, 0);

        Tensor wSame = nhwc(new float[] {2, 3, 4, 5}, 1, 1, 2, 2);
        Tensor dwSame = zeros(Layout.NHWC, 1, 1, 2, 2);
        be.mulForward(x, wSame, y);
        assertClose("mul same", y, new float[] {2, 6, 12, 20}, 0, 0);
        be.mulBackward(dy, x, wSame, dx, dwSame);
        assertClose("mul same dx", dx, new float[] {2, 3, 4, 5}, 0, 0);
        assertClose("mul same dw", dwSame, new float[] {1, 2, 3, 4}, 0, 0);
    }

    /** x = (1, 2), w = [[3, 4], [5, 6]], b = (0.5, -1): y = (11.5, 16); dy = (1, 2): dx = (13, 16). */
    @Test
    void linearByHand() {
        Tensor x = plain(new float[] {1, 2}, 1, 2);
        Tensor w = plain(new float[] {3, 4, 5, 6}, 2, 2);
        Tensor b = plain(new float[] {0.5f, -1}, 2);
        Tensor y = zeros(Layout.PLAIN, 1, 2);
        be.linearForward(x, w, b, y);
        assertClose("linear", y, new float[] {11.5f, 16}, 0, 0);
        be.linearForward(x, w, null, y);
        assertClose("linear without bias", y, new float[] {11, 17}, 0, 0);
        Tensor dy = plain(new float[] {1, 2}, 1, 2);
        Tensor dx = zeros(Layout.PLAIN, 1, 2);
        Tensor dw = zeros(Layout.PLAIN, 2, 2);
        Tensor db = zeros(Layout.PLAIN, 2);
        be.linearBackward(dy, x, w, dx, dw, db);
        assertClose("linear dx", dx, new float[] {13, 16}, 0, 0);
        assertClose("linear dw", dw, new float[] {1, 2, 2, 4}, 0, 0);
        assertClose("linear db", db, new float[] {1, 2}, 0, 0);
    }

    // ------------------------------------------------------------------ softmax and loss

    @Test
    void softmaxByHand() {
        Tensor logits = nhwc(new float[] {0, (float) Math.log(3), 1000, 1000}, 1, 1, 2, 2);
        Tensor p = zeros(Layout.NHWC, 1, 1, 2, 2);
        be.softmax(logits, p);
        assertClose("softmax (and no overflow)", p, new float[] {0.25f, 0.75f, 0.5f, 0.5f}, ATOL, RTOL);
    }

    /*
     * One pixel, K = 2, logits (0, ln 3) -> p = (1/4, 3/4), target 1, smooth 0.
     *   CE = -ln(3/4) = ln(4/3).
     *   Dice: k0: I = 0, P = 1/4, T = 0 -> 0; k1: I = 3/4, P = 3/4, T = 1 -> 1.5 / 1.75 = 6/7.
     *   loss = ln(4/3) + 1 - 3/7.
     *   dCE/dz = p - t = (1/4, -1/4).
     *   dDice/dp_k = -(1/K)(2 t_k D_k - 2 I_k) / D_k^2: k0 -> 0; k1 (D = 7/4) -> -(1/2)(7/2 - 3/2) / (49/16) = -16/49.
     *   through softmax: sum p g = -12/49; dz0 = 1/4 (0 + 12/49) = 3/49, dz1 = 3/4 (-16/49 + 12/49) = -3/49.
     */
    @Test
    void lossOnOnePixelByHand() {
        Tensor logits = nhwc(new float[] {0, (float) Math.log(3)}, 1, 1, 1, 2);
        Tensor target = Tensor.ofInts(new int[] {1}, 1, 1, 1);
        owned.add(target);
        Tensor d = zeros(Layout.NHWC, 1, 1, 1, 2);
        double loss = be.crossEntropyDiceLoss(logits, target, d, 1f, 1f, 0f);
        assertEquals(Math.log(4.0 / 3) + 4.0 / 7, loss, 1e-7);
        assertClose("dLogits", d, new double[] {0.25 + 3.0 / 49, -0.25 - 3.0 / 49}, ATOL, RTOL);

        // weights scale the parts: 0.5 CE + 2 Dice
        double weighted = be.crossEntropyDiceLoss(logits, target, d, 0.5f, 2f, 0f);
        assertEquals(0.5 * Math.log(4.0 / 3) + 2 * 4.0 / 7, weighted, 1e-7);
        assertClose("weighted dLogits", d, new double[] {0.125 + 6.0 / 49, -0.125 - 6.0 / 49}, ATOL, RTOL);
        assertEquals(loss, be.crossEntropyDiceLoss(logits, target, null, 1f, 1f, 0f), 0.0, "loss without gradient");
    }

    /** Bad targets name the value and its (n, h, w) position. */
    @Test
    void lossRejectsTargetsOutsideTheClasses() {
        Tensor logits = nhwc(new float[8], 1, 2, 2, 2);
        for (int bad : new int[] {2, -1}) {
            Tensor target = Tensor.ofInts(new int[] {0, 1, 1, bad}, 1, 2, 2);
            owned.add(target);
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class, () -> be.crossEntropyDiceLoss(logits, target, null, 1f, 1f, 1e-5f));
            assertTrue(e.getMessage().contains("target[0, 1, 1] = " + bad), e.getMessage());
            assertTrue(e.getMessage().contains("crossEntropyDiceLoss"), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ optimizer and basics

    /*
     * Adam, lr 0.1, betas (0.9, 0.999), eps 1e-8, p = 1.
     *   step 1, g = 0.5: m = 0.05, v = 0.00025; m / (1 - 0.9) = 0.5, sqrt(v) / sqrt(1 - 0.999) = 0.5;
     *     p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.9 (+2e-9).
     *   step 2, g = -0.5: m = 0.045 - 0.05 = -0.005, v = 0.00024975 + 0.00025 = 0.00049975;
     *     m / (1 - 0.81) = -0.026315789, sqrt(v / (1 - 0.998001)) = sqrt(0.25) = 0.5;
     *     p = 0.9 + 0.1 * 0.026315789 / 0.5 = 0.905263158.
     * The betas arrive as floats and are used as such: 1 - 0.9f = 0.100000024 and 1 - 0.999f = 0.00099998713
     * (1.3e-5 relative from 0.001), which shows in m and v; the bias corrections use the same floats, so the
     * parameter is unaffected to float precision.
     */
    /** 1 - beta1 and 1 - beta2 for the float betas 0.9f and 0.999f. */
    private static final double B1C = 1 - (double) 0.9f;

    private static final double B2C = 1 - (double) 0.999f;

    @Test
    void adamTwoStepsByHand() {
        Tensor p = plain(new float[] {1}, 1);
        Tensor g = plain(new float[] {0.5f}, 1);
        Tensor m = zeros(Layout.PLAIN, 1);
        Tensor v = zeros(Layout.PLAIN, 1);
        long version = p.version();
        be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1);
        assertTrue(p.version() > version, "adamStep bumps the parameter's version");
        assertClose("adam m1", m, new double[] {B1C * 0.5}, 0, 1e-6);
        assertClose("adam v1", v, new double[] {B2C * 0.25}, 0, 1e-6);
        assertClose("adam p1", p, new double[] {0.9}, 1e-7, 0);
        g.copyFrom(new float[] {-0.5f});
        be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 2);
        assertClose("adam m2", m, new double[] {(1 - B1C) * B1C * 0.5 - B1C * 0.5}, 1e-9, 1e-5);
        assertClose("adam v2", v, new double[] {(1 - B2C) * B2C * 0.25 + B2C * 0.25}, 0, 1e-5);
        assertClose("adam p2", p, new double[] {0.9 + 0.1 * (0.005 / 0.19) / 0.5}, 1e-6, 0);
    }

    /** Weight decay 0.25 adds 0.25 p = 0.5 to g = 0.5: m = 0.1, v = 0.001 (float betas), step = lr * 1 / (1 + 0). */
    @Test
    void adamWeightDecayIsAddedToTheGradient() {
        Tensor p = plain(new float[] {2}, 1);
        Tensor g = plain(new float[] {0.5f}, 1);
        Tensor m = zeros(Layout.PLAIN, 1);
        Tensor v = zeros(Layout.PLAIN, 1);
        be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 0f, 0.25f, 1);
        assertClose("adam wd m", m, new double[] {B1C}, 0, 1e-6);
        assertClose("adam wd v", v, new double[] {B2C}, 0, 1e-6);
        assertClose("adam wd p", p, new double[] {1.9}, 1e-6, 0);
        assertClose("adam leaves grad alone", g, new float[] {0.5f}, 0, 0);
    }

    @Test
    void basicsByHand() {
        Tensor a = plain(new float[] {1, 2, 3}, 3);
        Tensor b = plain(new float[] {10, 20, 30}, 3);
        Tensor y = zeros(Layout.PLAIN, 3);
        be.add(a, b, y);
        assertClose("add", y, new float[] {11, 22, 33}, 0, 0);
        be.addInPlace(y, a);
        assertClose("addInPlace", y, new float[] {12, 24, 36}, 0, 0);
        be.scale(a, -2f, y);
        assertClose("scale", y, new float[] {-2, -4, -6}, 0, 0);
        be.copy(b, y);
        assertClose("copy", y, new float[] {10, 20, 30}, 0, 0);
        be.fill(y, 7f);
        assertClose("fill", y, new float[] {7, 7, 7}, 0, 0);
        assertEquals(14.0, be.sumOfSquares(a), 0.0);
        Tensor bad = plain(new float[] {1, Float.NaN}, 2);
        assertTrue(Double.isNaN(be.sumOfSquares(bad)), "NaN propagates");
        Tensor inf = plain(new float[] {1, Float.POSITIVE_INFINITY}, 2);
        assertEquals(Double.POSITIVE_INFINITY, be.sumOfSquares(inf));
    }
}

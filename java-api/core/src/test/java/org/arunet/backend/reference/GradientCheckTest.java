package org.arunet.backend.reference;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Finite-difference checks, in double precision, of every backward pass in {@link RefOps} against its
 * forward pass: for a random upstream gradient g, {@code d<g, f(x)>/dx} by central differences
 * ({@link GradCheck}, h = 1e-6) must match the analytic gradient to a relative 1e-6 (absolute floor 1e-6
 * times the largest component). Shapes are small and odd (N = 2, H = 5, W = 7) so that index mistakes show.
 * Max-type ops get inputs with no near-ties ({@link Rand#distinct}).
 */
class GradientCheckTest {
    private static final int N = 2;
    private static final int H = 5;
    private static final int W = 7;

    // ------------------------------------------------------------------ the checker itself

    @Test
    void gradCheckRejectsAWrongGradient() {
        Rand r = new Rand(1);
        double[] x = r.uniform(6);
        double[] g = r.uniform(6);
        double[] wrong = new double[6];
        for (int i = 0; i < 6; i++) {
            wrong[i] = 2 * x[i] * g[i] * 1.001; // d(x^2) is 2x; off by 0.1 %
        }
        assertThrows(
                AssertionError.class, () -> GradCheck.check("x^2 with a wrong gradient", x, v -> square(v), g, wrong));
        double[] right = new double[6];
        for (int i = 0; i < 6; i++) {
            right[i] = 2 * x[i] * g[i];
        }
        GradCheck.check("x^2", x, GradientCheckTest::square, g, right);
    }

    private static double[] square(double[] v) {
        double[] y = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            y[i] = v[i] * v[i];
        }
        return y;
    }

    // ------------------------------------------------------------------ convolution

    static Stream<Arguments> convSpecs() {
        return Stream.of(
                Arguments.of("3x3 same, bias", Conv2dSpec.of(3, 4, 3, 1, 1, 1, 1, true)),
                Arguments.of("3x3 stride 2, no bias", Conv2dSpec.of(3, 2, 3, 2, 1, 1, 1, false)),
                Arguments.of("3x3 dilation 2, groups 2", Conv2dSpec.of(4, 6, 3, 1, 2, 2, 2, true)),
                Arguments.of("depthwise 3x3", Conv2dSpec.same(4, 4, 3, 1, 4, true)),
                Arguments.of("depthwise x2 multiplier", Conv2dSpec.same(2, 4, 3, 1, 2, false)),
                Arguments.of("1x1", Conv2dSpec.of(3, 5, 1, 1, 0, 1, 1, true)),
                Arguments.of("7x7 pad 3 (spatial attention)", Conv2dSpec.same(2, 1, 7, 1, 1, false)),
                Arguments.of(
                        "3x2 kernel, strides 2x1, pads 1x0, dilations 1x2",
                        new Conv2dSpec(3, 2, 3, 2, 2, 1, 1, 0, 1, 2, 1, true)),
                Arguments.of("2x2 stride 3, no pad (unused tail)", Conv2dSpec.of(3, 3, 2, 3, 0, 1, 1, true)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("convSpecs")
    void conv2d(String name, Conv2dSpec s) {
        Rand r = new Rand(name.hashCode());
        double[] x = r.uniform(N * H * W * s.inChannels());
        double[] wt = r.uniform(s.outChannels() * s.inChannels() / s.groups() * s.kernelH() * s.kernelW());
        double[] b = s.bias() ? r.uniform(s.outChannels()) : null;
        int oh = s.outH(H);
        int ow = s.outW(W);
        double[] g = r.uniform(N * oh * ow * s.outChannels());

        double[] dx = RefOps.conv2dBackwardData(g, N, H, W, s, wt);
        double[] dw = RefOps.conv2dBackwardWeights(x, N, H, W, s, g);
        GradCheck.check(name + " dx", x, v -> RefOps.conv2dForward(v, N, H, W, s, wt, b), g, dx);
        GradCheck.check(name + " dw", wt, v -> RefOps.conv2dForward(x, N, H, W, s, v, b), g, dw);
        if (b != null) {
            double[] db = RefOps.channelSum(g, N * oh * ow, s.outChannels());
            GradCheck.check(name + " db", b, v -> RefOps.conv2dForward(x, N, H, W, s, wt, v), g, db);
        }
    }

    @Test
    void convUnusedInputsGetZeroGradient() {
        // 2x2 windows at stride 3 on W = 7 read columns 0,1,3,4 only: columns 2, 5, 6 get nothing.
        Conv2dSpec s = Conv2dSpec.of(1, 1, 2, 3, 0, 1, 1, false);
        Rand r = new Rand(3);
        double[] wt = r.uniform(4);
        double[] g = r.uniform(N * s.outH(H) * s.outW(W));
        double[] dx = RefOps.conv2dBackwardData(g, N, H, W, s, wt);
        for (int n = 0; n < N; n++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    boolean read = y != 2 && x != 2 && x != 5 && x != 6;
                    double v = dx[(n * H + y) * W + x];
                    assertTrue(read ? v != 0 : v == 0, "dx[" + n + ", " + y + ", " + x + "] = " + v);
                }
            }
        }
    }

    // ------------------------------------------------------------------ batch normalisation

    @ParameterizedTest
    @EnumSource(
            value = Activation.class,
            names = {"NONE", "RELU"})
    void batchNormTraining(Activation act) {
        boolean relu = act == Activation.RELU;
        int c = 3;
        int m = N * H * W;
        Rand r = new Rand(7 + act.ordinal());
        double[] x = r.uniform(m * c, -2, 3);
        double[] gamma = r.uniform(c, 0.5, 1.5);
        double[] beta = r.uniform(c, -0.3, 0.3);
        double eps = 1e-5;
        RefOps.BatchNormForward f = RefOps.batchNormTrainForward(x, m, c, gamma, beta, eps, relu);
        if (relu) {
            // keep the pre-activations away from the ReLU kink (finite differences move them by ~1e-6)
            double[] z = RefOps.batchNormTrainForward(x, m, c, gamma, beta, eps, false)
                    .y();
            for (double v : z) {
                assertTrue(Math.abs(v) > 1e-4, "pre-activation too close to 0: " + v);
            }
        }
        double[] g = r.uniform(m * c);
        RefOps.BatchNormGrads grads = RefOps.batchNormBackward(g, x, f.y(), m, c, gamma, f.mean(), f.invStd(), relu);
        GradCheck.check(
                "batchNorm " + act + " dx",
                x,
                v -> RefOps.batchNormTrainForward(v, m, c, gamma, beta, eps, relu)
                        .y(),
                g,
                grads.dx());
        GradCheck.check(
                "batchNorm " + act + " dGamma",
                gamma,
                v -> RefOps.batchNormTrainForward(x, m, c, v, beta, eps, relu).y(),
                g,
                grads.dGamma());
        GradCheck.check(
                "batchNorm " + act + " dBeta",
                beta,
                v -> RefOps.batchNormTrainForward(x, m, c, gamma, v, eps, relu).y(),
                g,
                grads.dBeta());
    }

    // ------------------------------------------------------------------ activations

    @ParameterizedTest
    @EnumSource(Activation.class)
    void activations(Activation act) {
        Rand r = new Rand(11 + act.ordinal());
        double[] x = r.uniform(N * H * W * 3, -4, 4);
        if (act == Activation.RELU) {
            for (int i = 0; i < x.length; i++) {
                if (Math.abs(x[i]) < 1e-3) {
                    x[i] = 0.5; // away from the kink
                }
            }
        }
        double[] g = r.uniform(x.length);
        double[] y = RefOps.activationForward(act, x);
        double[] dx = RefOps.activationBackward(
                act, act == Activation.SIGMOID ? null : x, act == Activation.SIGMOID ? y : null, g);
        GradCheck.check(act + " dx", x, v -> RefOps.activationForward(act, v), g, dx);
    }

    // ------------------------------------------------------------------ pooling and resampling

    static Stream<Arguments> pools() {
        return Stream.of(
                Arguments.of(3, 2, 1),
                Arguments.of(2, 2, 0),
                Arguments.of(3, 1, 1),
                Arguments.of(2, 3, 1),
                Arguments.of(5, 2, 2));
    }

    @ParameterizedTest(name = "kernel {0} stride {1} pad {2}")
    @MethodSource("pools")
    void maxPool(int k, int s, int p) {
        int c = 3;
        Rand r = new Rand(k * 100 + s * 10 + p);
        double[] x = r.distinct(N * H * W * c);
        int oh = RefOps.windowOutputSize("test", H, k, s, p, 1);
        int ow = RefOps.windowOutputSize("test", W, k, s, p, 1);
        double[] g = r.uniform(N * oh * ow * c);
        double[] dx = RefOps.maxPoolBackward(x, g, N, H, W, c, k, s, p);
        GradCheck.check(
                "maxPool k" + k + " s" + s + " p" + p, x, v -> RefOps.maxPoolForward(v, N, H, W, c, k, s, p), g, dx);
    }

    @Test
    void globalPools() {
        int c = 4;
        int hw = H * W;
        Rand r = new Rand(21);
        double[] x = r.distinct(N * hw * c);
        double[] gMax = r.uniform(N * c);
        double[] gAvg = r.uniform(N * c);
        double[] max = RefOps.globalMaxPool(x, N, hw, c);
        double[] g = RefOps.concatChannels(gMax, gAvg, 1, N * c, N * c);
        double[] dx = RefOps.globalPoolBackward(x, max, gMax, gAvg, N, hw, c);
        GradCheck.check(
                "globalPool (max and avg)",
                x,
                v -> RefOps.concatChannels(
                        RefOps.globalMaxPool(v, N, hw, c), RefOps.globalAvgPool(v, N, hw, c), 1, N * c, N * c),
                g,
                dx);
        double[] dxMaxOnly = RefOps.globalPoolBackward(x, max, gMax, null, N, hw, c);
        GradCheck.check("globalPool (max only)", x, v -> RefOps.globalMaxPool(v, N, hw, c), gMax, dxMaxOnly);
        double[] dxAvgOnly = RefOps.globalPoolBackward(x, null, null, gAvg, N, hw, c);
        GradCheck.check("globalPool (avg only)", x, v -> RefOps.globalAvgPool(v, N, hw, c), gAvg, dxAvgOnly);
    }

    @Test
    void channelMaxMean() {
        int c = 5;
        int positions = N * H * W;
        Rand r = new Rand(23);
        double[] x = r.distinct(positions * c);
        double[] g = r.uniform(positions * 2);
        double[] out = RefOps.channelMaxMean(x, positions, c);
        double[] dx = RefOps.channelMaxMeanBackward(x, out, g, positions, c);
        GradCheck.check("channelMaxMean", x, v -> RefOps.channelMaxMean(v, positions, c), g, dx);
    }

    @Test
    void upsample2x() {
        int c = 3;
        Rand r = new Rand(25);
        double[] x = r.uniform(N * H * W * c);
        double[] g = r.uniform(4 * N * H * W * c);
        double[] dx = RefOps.upsample2xBackward(g, N, H, W, c);
        GradCheck.check("upsample2x", x, v -> RefOps.upsample2xForward(v, N, H, W, c), g, dx);
    }

    @Test
    void concatAndSplit() {
        int positions = N * H * W;
        int ca = 2;
        int cb = 3;
        Rand r = new Rand(27);
        double[] a = r.uniform(positions * ca);
        double[] b = r.uniform(positions * cb);
        double[] g = r.uniform(positions * (ca + cb));
        double[][] parts = RefOps.splitChannels(g, positions, ca, cb);
        GradCheck.check("concat da", a, v -> RefOps.concatChannels(v, b, positions, ca, cb), g, parts[0]);
        GradCheck.check("concat db", b, v -> RefOps.concatChannels(a, v, positions, ca, cb), g, parts[1]);
    }

    // ------------------------------------------------------------------ products

    @ParameterizedTest
    @EnumSource(RefOps.Broadcast.class)
    void mul(RefOps.Broadcast mode) {
        int c = 3;
        int hw = H * W;
        Rand r = new Rand(31 + mode.ordinal());
        double[] x = r.uniform(N * hw * c);
        double[] w = r.uniform((int) mode.weightCount(N, hw, c));
        double[] g = r.uniform(x.length);
        double[] dx = RefOps.mulBackwardX(g, w, mode, N, hw, c);
        double[] dw = RefOps.mulBackwardW(g, x, mode, N, hw, c);
        GradCheck.check("mul " + mode + " dx", x, v -> RefOps.mulForward(v, w, mode, N, hw, c), g, dx);
        GradCheck.check("mul " + mode + " dw", w, v -> RefOps.mulForward(x, v, mode, N, hw, c), g, dw);
    }

    @Test
    void linear() {
        int n = 3;
        int in = 5;
        int out = 4;
        Rand r = new Rand(37);
        double[] x = r.uniform(n * in);
        double[] w = r.uniform(out * in);
        double[] b = r.uniform(out);
        double[] g = r.uniform(n * out);
        GradCheck.check(
                "linear dx",
                x,
                v -> RefOps.linearForward(v, w, b, n, in, out),
                g,
                RefOps.linearBackwardX(g, w, n, in, out));
        GradCheck.check(
                "linear dw",
                w,
                v -> RefOps.linearForward(x, v, b, n, in, out),
                g,
                RefOps.linearBackwardW(g, x, n, in, out));
        GradCheck.check(
                "linear db", b, v -> RefOps.linearForward(x, w, v, n, in, out), g, RefOps.channelSum(g, n, out));
    }

    // ------------------------------------------------------------------ loss

    static Stream<Arguments> losses() {
        return Stream.of(
                Arguments.of(2, 1f, 1f, 1e-5f),
                Arguments.of(3, 1f, 1f, 1e-5f),
                Arguments.of(2, 0.7f, 0f, 1e-5f),
                Arguments.of(3, 0f, 1.3f, 1f),
                Arguments.of(4, 0.5f, 2f, 0f));
    }

    @ParameterizedTest(name = "K {0} ce {1} dice {2} smooth {3}")
    @MethodSource("losses")
    void crossEntropyDiceLoss(int k, float ceWeight, float diceWeight, float smooth) {
        int positions = N * H * W;
        Rand r = new Rand(41 + k);
        double[] logits = r.uniform(positions * k, -3, 3);
        int[] target = new int[positions];
        for (int i = 0; i < positions; i++) {
            target[i] = r.nextInt(k);
        }
        RefOps.LossResult res =
                RefOps.crossEntropyDiceLoss(logits, target, positions, k, ceWeight, diceWeight, smooth, true);
        GradCheck.check(
                "loss K=" + k,
                logits,
                v -> new double[] {
                    RefOps.crossEntropyDiceLoss(v, target, positions, k, ceWeight, diceWeight, smooth, false)
                            .loss()
                },
                new double[] {1.0},
                res.dLogits());
    }

    static Stream<Arguments> tverskyCases() {
        return Stream.of(
                Arguments.of(2, 0.7, 0.3, 0.75), Arguments.of(3, 0.5, 0.5, 1.0), Arguments.of(2, 0.3, 0.7, 2.0));
    }

    @ParameterizedTest(name = "K {0} alpha {1} beta {2} gamma {3}")
    @MethodSource("tverskyCases")
    void focalTverskyLoss(int k, double alpha, double beta, double gamma) {
        int positions = N * H * W;
        Rand r = new Rand(57 + k);
        double[] logits = r.uniform(positions * k, -3, 3);
        int[] target = new int[positions];
        for (int i = 0; i < positions; i++) {
            target[i] = r.nextInt(k);
        }
        RefOps.LossResult res = RefOps.focalTverskyLoss(logits, target, positions, k, alpha, beta, gamma, 1e-5, true);
        GradCheck.check(
                "focal tversky K=" + k,
                logits,
                v -> new double[] {
                    RefOps.focalTverskyLoss(v, target, positions, k, alpha, beta, gamma, 1e-5, false)
                            .loss()
                },
                new double[] {1.0},
                res.dLogits());
    }
}

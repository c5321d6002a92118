package org.arunet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testing.TensorAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every op of {@link CpuBackend} against the pure-Java {@link ReferenceBackend} (double accumulation):
 * random inputs, random and odd shapes (channels that are not multiples of 8 or 16, sizes like
 * 1x7x5x3 and 2x13x11x17), forward outputs and every backward output. Both backends read the same
 * input tensors and write their own outputs.
 *
 * <p>Tolerance: {@code 1e-5 + 1e-4 |expected|} element-wise; weight gradients of convolutions, long
 * sums over N H W, are also compared norm-wise ({@code ||a - b|| <= 1e-5 ||b||}) and element-wise
 * with a looser absolute part scaled to the gradient's size.
 */
class CpuVsReferenceTest {
    private static final double ATOL = 1e-5;
    private static final double RTOL = 1e-4;

    private static CpuBackend cpu;
    private static ReferenceBackend ref;
    private TestTensors t;
    private Random rnd;

    @BeforeAll
    static void backends() {
        // three threads on a two-core machine: uneven splits and more interleavings, to expose races
        cpu = new CpuBackend(3);
        ref = new ReferenceBackend();
    }

    @AfterAll
    static void closeBackends() {
        cpu.close();
        ref.close();
    }

    @BeforeEach
    void open() {
        t = new TestTensors();
        rnd = new Random(20240611);
    }

    @AfterEach
    void close() {
        t.close();
    }

    // ------------------------------------------------------------------ helpers

    /** Standard-normal values times {@code scale}. */
    private Tensor rand(Layout layout, float scale, int... shape) {
        Tensor x = t.zeros(layout, shape);
        float[] a = new float[(int) x.numel()];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (scale * rnd.nextGaussian());
        }
        x.copyFrom(a);
        return x;
    }

    private Tensor rand(int... nhwc) {
        return rand(Layout.NHWC, 1f, nhwc);
    }

    /** Small integers in [0, levels): many ties for the max reductions. */
    private Tensor ties(int levels, int... nhwc) {
        Tensor x = t.zeros(Layout.NHWC, nhwc);
        float[] a = new float[(int) x.numel()];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextInt(levels);
        }
        x.copyFrom(a);
        return x;
    }

    private Tensor like(Tensor x) {
        return t.zeros(x.layout(), x.shape());
    }

    private static void close(String label, Tensor cpuOut, Tensor refOut) {
        TensorAssert.assertClose(label, cpuOut, refOut, ATOL, RTOL);
    }

    /** Odd NHWC shapes, from tiny to a few thousand pixels. */
    static Stream<int[]> shapes() {
        return Stream.of(
                new int[] {1, 7, 5, 3},
                new int[] {2, 13, 11, 17},
                new int[] {1, 1, 1, 1},
                new int[] {3, 4, 9, 2},
                new int[] {2, 16, 16, 64},
                new int[] {1, 33, 31, 35},
                new int[] {2, 8, 6, 130});
    }

    // ------------------------------------------------------------------ basics

    @ParameterizedTest
    @MethodSource("shapes")
    void basics(int[] s) {
        Tensor a = rand(s);
        Tensor b = rand(s);
        Tensor yc = like(a);
        Tensor yr = like(a);
        cpu.add(a, b, yc);
        ref.add(a, b, yr);
        close("add", yc, yr);
        cpu.scale(a, -0.37f, yc);
        ref.scale(a, -0.37f, yr);
        close("scale", yc, yr);
        Tensor flat = t.zeros(Layout.PLAIN, (int) a.numel());
        Tensor flatR = t.zeros(Layout.PLAIN, (int) a.numel());
        cpu.copy(b, yc);
        cpu.addInPlace(yc, a);
        ref.copy(b, yr);
        ref.addInPlace(yr, a);
        close("addInPlace", yc, yr);
        cpu.fill(flat, 2.5f);
        ref.fill(flatR, 2.5f);
        close("fill", flat, flatR);
        assertEquals(ref.sumOfSquares(a), cpu.sumOfSquares(a), 1e-12 * ref.sumOfSquares(a) + 1e-30, "sumOfSquares");
    }

    // ------------------------------------------------------------------ convolution

    /** kernel 1/3/7, stride 1/2, pad 0..3, dilation 1/2, groups 1/2/depthwise, bias or not. */
    static Stream<Arguments> convCases() {
        List<Arguments> cases = new ArrayList<>();
        Random r = new Random(99);
        for (int k : new int[] {1, 3, 7}) {
            for (int stride : new int[] {1, 2}) {
                for (int pad = 0; pad <= 3; pad++) {
                    for (int dil : new int[] {1, 2}) {
                        if (k == 1 && dil == 2) {
                            continue; // dilation means nothing for a 1x1 kernel
                        }
                        for (String g : new String[] {"1", "2", "dw"}) {
                            boolean bias = r.nextBoolean();
                            int h = 9 + r.nextInt(7);
                            int w = 9 + r.nextInt(7);
                            int span = dil * (k - 1) + 1;
                            if (h + 2 * pad < span || w + 2 * pad < span) {
                                h = w = span; // keep the case, with an input that holds the kernel
                            }
                            int cin;
                            int cout;
                            int groups;
                            switch (g) {
                                case "1" -> {
                                    cin = 1 + r.nextInt(7);
                                    cout = 1 + r.nextInt(9);
                                    groups = 1;
                                }
                                case "2" -> {
                                    cin = 2 * (1 + r.nextInt(4));
                                    cout = 2 * (1 + r.nextInt(5));
                                    groups = 2;
                                }
                                default -> {
                                    cin = 3 + r.nextInt(6);
                                    cout = cin * (1 + r.nextInt(2)); // channel multiplier 1 or 2
                                    groups = cin;
                                }
                            }
                            Conv2dSpec spec =
                                    new Conv2dSpec(cin, cout, k, k, stride, stride, pad, pad, dil, dil, groups, bias);
                            cases.add(Arguments.of(spec, 1 + r.nextInt(2), h, w));
                        }
                    }
                }
            }
        }
        // wider layers with channel counts off the 16-blocks, non-square kernels and strides
        cases.add(Arguments.of(Conv2dSpec.same(17, 19, 3, 1, 1, true), 2, 13, 11));
        cases.add(Arguments.of(Conv2dSpec.same(35, 33, 3, 2, 1, false), 1, 12, 9));
        cases.add(Arguments.of(Conv2dSpec.same(64, 64, 3, 1, 1, false), 2, 8, 8));
        cases.add(Arguments.of(Conv2dSpec.same(130, 66, 1, 1, 1, true), 2, 7, 5));
        // >= 128 channels both sides, kernel > 1: backward weights on channel-blocked x and dy
        // (conv2d.h, Note [blocked backward weights]), dilated and not
        cases.add(Arguments.of(Conv2dSpec.same(128, 144, 3, 1, 1, true), 2, 6, 5));
        cases.add(Arguments.of(Conv2dSpec.same(130, 128, 3, 2, 1, false), 1, 9, 7));
        cases.add(Arguments.of(Conv2dSpec.same(96, 96, 7, 1, 96, true), 1, 11, 9));
        cases.add(Arguments.of(Conv2dSpec.same(48, 48, 3, 1, 48, true), 2, 6, 7));
        cases.add(Arguments.of(Conv2dSpec.same(2, 1, 7, 1, 1, false), 2, 8, 8));
        cases.add(Arguments.of(new Conv2dSpec(5, 7, 3, 5, 2, 1, 1, 2, 1, 2, 1, true), 2, 10, 12));
        cases.add(Arguments.of(new Conv2dSpec(6, 4, 1, 3, 1, 3, 0, 1, 1, 1, 2, false), 1, 5, 14));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} on [{1}, {2}, {3}]")
    @MethodSource("convCases")
    void conv2d(Conv2dSpec spec, int n, int h, int w) {
        int oh = spec.outH(h);
        int ow = spec.outW(w);
        Tensor x = rand(n, h, w, spec.inChannels());
        Tensor wt = rand(Layout.OIHW, 0.3f, spec.weightShape());
        Tensor b = spec.bias() ? rand(Layout.PLAIN, 1f, spec.outChannels()) : null;
        Tensor dy = rand(n, oh, ow, spec.outChannels());
        try (Conv2dOp c = cpu.conv2d(spec);
                Conv2dOp r = ref.conv2d(spec)) {
            Tensor yc = t.nhwc(n, oh, ow, spec.outChannels());
            Tensor yr = t.nhwc(n, oh, ow, spec.outChannels());
            r.forward(x, wt, b, yr, true);
            c.forward(x, wt, b, yc, false);
            close("forward inference", yc, yr);
            c.forward(x, wt, b, yc, true);
            close("forward training", yc, yr);

            Tensor dxc = like(x);
            Tensor dxr = like(x);
            c.backwardData(dy, wt, dxc);
            r.backwardData(dy, wt, dxr);
            close("backward data", dxc, dxr);

            Tensor dwc = like(wt);
            Tensor dwr = like(wt);
            Tensor dbc = spec.bias() ? t.zeros(Layout.PLAIN, spec.outChannels()) : null;
            Tensor dbr = spec.bias() ? t.zeros(Layout.PLAIN, spec.outChannels()) : null;
            c.backwardWeights(x, dy, dwc, dbc);
            r.backwardWeights(x, dy, dwr, dbr);
            TensorAssert.assertCloseNorm("backward weights (norm)", dwc, dwr, 1e-5);
            double terms = (double) n * oh * ow; // each dw is a sum of this many products
            TensorAssert.assertClose("backward weights", dwc, dwr, ATOL * Math.sqrt(terms), RTOL);
            if (spec.bias()) {
                TensorAssert.assertClose("backward bias", dbc, dbr, ATOL * Math.sqrt(terms), RTOL);
            }
        }
    }

    // ------------------------------------------------------------------ batch normalisation

    @ParameterizedTest
    @MethodSource("shapes")
    void batchNorm(int[] s) {
        int c = s[3];
        for (Activation act : new Activation[] {Activation.NONE, Activation.RELU}) {
            Tensor x = rand(Layout.NHWC, 2f, s);
            addOffset(x, 3f); // a mean away from zero
            Tensor gamma = rand(Layout.PLAIN, 1f, c);
            Tensor beta = rand(Layout.PLAIN, 1f, c);
            Tensor rmC = rand(Layout.PLAIN, 1f, c);
            Tensor rvC = t.zeros(Layout.PLAIN, c);
            cpu.activationForward(Activation.SIGMOID, rand(Layout.PLAIN, 1f, c), rvC); // positive
            Tensor rmR = t.keep(Tensor.of(rmC.toFloatArray(), Layout.PLAIN, c));
            Tensor rvR = t.keep(Tensor.of(rvC.toFloatArray(), Layout.PLAIN, c));
            Tensor smC = t.zeros(Layout.PLAIN, c);
            Tensor siC = t.zeros(Layout.PLAIN, c);
            Tensor smR = t.zeros(Layout.PLAIN, c);
            Tensor siR = t.zeros(Layout.PLAIN, c);
            Tensor yc = like(x);
            Tensor yr = like(x);

            // inference first, with the initial running statistics
            cpu.batchNormForward(x, gamma, beta, rmC, rvC, null, null, yc, false, 0.1f, 1e-5f, act);
            ref.batchNormForward(x, gamma, beta, rmR, rvR, null, null, yr, false, 0.1f, 1e-5f, act);
            close("bn inference " + act, yc, yr);

            if ((long) s[0] * s[1] * s[2] < 2) {
                continue; // training needs more than one value per channel
            }
            cpu.batchNormForward(x, gamma, beta, rmC, rvC, smC, siC, yc, true, 0.1f, 1e-5f, act);
            ref.batchNormForward(x, gamma, beta, rmR, rvR, smR, siR, yr, true, 0.1f, 1e-5f, act);
            close("bn training y " + act, yc, yr);
            close("bn saveMean", smC, smR);
            close("bn saveInvStd", siC, siR);
            close("bn runningMean", rmC, rmR);
            close("bn runningVar", rvC, rvR);

            Tensor dy = rand(s);
            Tensor dxc = like(x);
            Tensor dxr = like(x);
            Tensor dgc = t.zeros(Layout.PLAIN, c);
            Tensor dbc = t.zeros(Layout.PLAIN, c);
            Tensor dgr = t.zeros(Layout.PLAIN, c);
            Tensor dbr = t.zeros(Layout.PLAIN, c);
            // both backwards see the reference's saved statistics and output
            cpu.batchNormBackward(dy, x, yr, gamma, smR, siR, dxc, dgc, dbc, act);
            ref.batchNormBackward(dy, x, yr, gamma, smR, siR, dxr, dgr, dbr, act);
            double terms = (double) s[0] * s[1] * s[2];
            close("bn dx " + act, dxc, dxr);
            TensorAssert.assertClose("bn dGamma " + act, dgc, dgr, ATOL * Math.sqrt(terms), RTOL);
            TensorAssert.assertClose("bn dBeta " + act, dbc, dbr, ATOL * Math.sqrt(terms), RTOL);
        }
    }

    private static void addOffset(Tensor x, float offset) {
        float[] a = x.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            a[i] += offset;
        }
        x.copyFrom(a);
    }

    // ------------------------------------------------------------------ activations

    @ParameterizedTest
    @MethodSource("shapes")
    void activations(int[] s) {
        Tensor x = rand(Layout.NHWC, 3f, s);
        Tensor dy = rand(s);
        for (Activation act : Activation.values()) {
            Tensor yc = like(x);
            Tensor yr = like(x);
            cpu.activationForward(act, x, yc);
            ref.activationForward(act, x, yr);
            close("forward " + act, yc, yr);
            Tensor dxc = like(x);
            Tensor dxr = like(x);
            cpu.activationBackward(act, x, yr, dy, dxc);
            ref.activationBackward(act, x, yr, dy, dxr);
            close("backward " + act, dxc, dxr);
        }
    }

    @Test
    void activationsOnADenseSweep() {
        // every float region the vectorized exp / erf approximations handle differently, incl. the clamps
        int n = 200_001;
        float[] xs = new float[n];
        for (int i = 0; i < n; i++) {
            xs[i] = -100f + 200f * i / (n - 1);
        }
        Tensor x = t.plain(xs);
        Tensor dy = t.plain(TestTensors.filled(n, 1f));
        for (Activation act : new Activation[] {Activation.GELU, Activation.SIGMOID}) {
            Tensor yc = like(x);
            Tensor yr = like(x);
            cpu.activationForward(act, x, yc);
            ref.activationForward(act, x, yr);
            TensorAssert.assertClose("sweep forward " + act, yc, yr, 1e-6, 1e-5);
            Tensor dxc = like(x);
            Tensor dxr = like(x);
            cpu.activationBackward(act, x, yr, dy, dxc);
            ref.activationBackward(act, x, yr, dy, dxr);
            TensorAssert.assertClose("sweep backward " + act, dxc, dxr, 1e-6, 1e-5);
        }
        Tensor special = t.plain(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f);
        Tensor sc = like(special);
        Tensor sr = like(special);
        for (Activation act : Activation.values()) {
            cpu.activationForward(act, special, sc);
            ref.activationForward(act, special, sr);
            TensorAssert.assertClose("specials " + act, sc, sr, 0, 0);
        }
    }

    // ------------------------------------------------------------------ pooling

    @ParameterizedTest
    @MethodSource("shapes")
    void maxPool(int[] s) {
        for (boolean tied : new boolean[] {false, true}) {
            Tensor x = tied ? ties(3, s) : rand(s);
            for (int k = 1; k <= 4; k++) {
                for (int stride = 1; stride <= 3; stride++) {
                    for (int pad = 0; pad <= k / 2; pad++) {
                        if (s[1] + 2 * pad < k || s[2] + 2 * pad < k) {
                            continue;
                        }
                        int oh = (s[1] + 2 * pad - k) / stride + 1;
                        int ow = (s[2] + 2 * pad - k) / stride + 1;
                        String what = "maxpool k" + k + " s" + stride + " p" + pad + (tied ? " ties" : "");
                        Tensor yc = t.nhwc(s[0], oh, ow, s[3]);
                        Tensor yr = t.nhwc(s[0], oh, ow, s[3]);
                        cpu.maxPoolForward(x, yc, k, stride, pad);
                        ref.maxPoolForward(x, yr, k, stride, pad);
                        close(what, yc, yr);
                        Tensor dy = rand(s[0], oh, ow, s[3]);
                        Tensor dxc = like(x);
                        Tensor dxr = like(x);
                        cpu.maxPoolBackward(x, dy, dxc, k, stride, pad);
                        ref.maxPoolBackward(x, dy, dxr, k, stride, pad);
                        close(what + " backward", dxc, dxr);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void globalAndChannelPooling(int[] s) {
        for (boolean tied : new boolean[] {false, true}) {
            Tensor x = tied ? ties(2, s) : rand(s);
            String tag = tied ? " ties" : "";
            Tensor maxC = t.zeros(Layout.PLAIN, s[0], s[3]);
            Tensor avgC = t.zeros(Layout.PLAIN, s[0], s[3]);
            Tensor maxR = t.zeros(Layout.PLAIN, s[0], s[3]);
            Tensor avgR = t.zeros(Layout.PLAIN, s[0], s[3]);
            cpu.globalPoolForward(x, maxC, avgC);
            ref.globalPoolForward(x, maxR, avgR);
            close("global max" + tag, maxC, maxR);
            close("global avg" + tag, avgC, avgR);
            Tensor dMax = rand(Layout.PLAIN, 1f, s[0], s[3]);
            Tensor dAvg = rand(Layout.PLAIN, 1f, s[0], s[3]);
            Tensor dxc = like(x);
            Tensor dxr = like(x);
            cpu.globalPoolBackward(x, maxR, dMax, dAvg, dxc);
            ref.globalPoolBackward(x, maxR, dMax, dAvg, dxr);
            close("global backward" + tag, dxc, dxr);
            cpu.globalPoolBackward(x, maxR, dMax, null, dxc);
            ref.globalPoolBackward(x, maxR, dMax, null, dxr);
            close("global backward max only" + tag, dxc, dxr);
            cpu.globalPoolBackward(x, null, null, dAvg, dxc);
            ref.globalPoolBackward(x, null, null, dAvg, dxr);
            close("global backward avg only" + tag, dxc, dxr);

            Tensor outC = t.nhwc(s[0], s[1], s[2], 2);
            Tensor outR = t.nhwc(s[0], s[1], s[2], 2);
            cpu.channelMaxMeanForward(x, outC);
            ref.channelMaxMeanForward(x, outR);
            close("channel max/mean" + tag, outC, outR);
            Tensor dOut = rand(s[0], s[1], s[2], 2);
            cpu.channelMaxMeanBackward(x, outR, dOut, dxc);
            ref.channelMaxMeanBackward(x, outR, dOut, dxr);
            close("channel max/mean backward" + tag, dxc, dxr);
        }
    }

    // ------------------------------------------------------------------ resampling, concatenation, products

    @ParameterizedTest
    @MethodSource("shapes")
    void resampleAndConcat(int[] s) {
        Tensor x = rand(s);
        Tensor yc = t.nhwc(s[0], 2 * s[1], 2 * s[2], s[3]);
        Tensor yr = t.nhwc(s[0], 2 * s[1], 2 * s[2], s[3]);
        cpu.upsample2xForward(x, yc);
        ref.upsample2xForward(x, yr);
        close("upsample", yc, yr);
        Tensor dy = rand(s[0], 2 * s[1], 2 * s[2], s[3]);
        Tensor dxc = like(x);
        Tensor dxr = like(x);
        cpu.upsample2xBackward(dy, dxc);
        ref.upsample2xBackward(dy, dxr);
        close("upsample backward", dxc, dxr);

        int cb = 1 + rnd.nextInt(20);
        Tensor b = rand(s[0], s[1], s[2], cb);
        Tensor oc = t.nhwc(s[0], s[1], s[2], s[3] + cb);
        Tensor or = t.nhwc(s[0], s[1], s[2], s[3] + cb);
        cpu.concatChannels(x, b, oc);
        ref.concatChannels(x, b, or);
        close("concat", oc, or);
        Tensor dOut = rand(s[0], s[1], s[2], s[3] + cb);
        Tensor dac = like(x);
        Tensor dbc = like(b);
        Tensor dar = like(x);
        Tensor dbr = like(b);
        cpu.splitChannels(dOut, dac, dbc);
        ref.splitChannels(dOut, dar, dbr);
        close("split a", dac, dar);
        close("split b", dbc, dbr);
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void broadcastProducts(int[] s) {
        Tensor x = rand(s);
        Tensor dy = rand(s);
        Tensor[] weights = {rand(s), rand(s[0], s[1], s[2], 1), rand(Layout.PLAIN, 1f, s[0], s[3])};
        String[] names = {"same", "pixel", "channel"};
        for (int i = 0; i < 3; i++) {
            Tensor w = weights[i];
            Tensor yc = like(x);
            Tensor yr = like(x);
            cpu.mulForward(x, w, yc);
            ref.mulForward(x, w, yr);
            close("mul " + names[i], yc, yr);
            Tensor dxc = like(x);
            Tensor dxr = like(x);
            Tensor dwc = like(w);
            Tensor dwr = like(w);
            cpu.mulBackward(dy, x, w, dxc, dwc);
            ref.mulBackward(dy, x, w, dxr, dwr);
            close("mul dx " + names[i], dxc, dxr);
            double terms = (double) x.numel() / w.numel();
            TensorAssert.assertClose("mul dw " + names[i], dwc, dwr, ATOL * Math.sqrt(terms), RTOL);
        }
    }

    @Test
    void linear() {
        int[][] sizes = {{1, 1, 1}, {2, 64, 4}, {2, 4, 64}, {3, 37, 5}, {2, 2048, 128}, {5, 7, 2049}};
        for (int[] sz : sizes) {
            int n = sz[0];
            int in = sz[1];
            int out = sz[2];
            Tensor x = rand(Layout.PLAIN, 1f, n, in);
            Tensor w = rand(Layout.PLAIN, 0.2f, out, in);
            for (boolean bias : new boolean[] {false, true}) {
                Tensor b = bias ? rand(Layout.PLAIN, 1f, out) : null;
                Tensor yc = t.zeros(Layout.PLAIN, n, out);
                Tensor yr = t.zeros(Layout.PLAIN, n, out);
                cpu.linearForward(x, w, b, yc);
                ref.linearForward(x, w, b, yr);
                close("linear " + n + "x" + in + "->" + out, yc, yr);
                Tensor dy = rand(Layout.PLAIN, 1f, n, out);
                Tensor dxc = like(x);
                Tensor dxr = like(x);
                Tensor dwc = like(w);
                Tensor dwr = like(w);
                Tensor dbc = bias ? t.zeros(Layout.PLAIN, out) : null;
                Tensor dbr = bias ? t.zeros(Layout.PLAIN, out) : null;
                cpu.linearBackward(dy, x, w, dxc, dwc, dbc);
                ref.linearBackward(dy, x, w, dxr, dwr, dbr);
                close("linear dx", dxc, dxr);
                close("linear dw", dwc, dwr);
                if (bias) {
                    close("linear db", dbc, dbr);
                }
            }
        }
    }

    // ------------------------------------------------------------------ loss and optimizer

    @ParameterizedTest
    @MethodSource("shapes")
    void softmaxAndLoss(int[] s) {
        int k = Math.min(s[3], 5) + 1; // 2..6 classes
        Tensor logits = rand(Layout.NHWC, 2f, s[0], s[1], s[2], k);
        int[] tg = new int[s[0] * s[1] * s[2]];
        for (int i = 0; i < tg.length; i++) {
            tg[i] = rnd.nextInt(k);
        }
        Tensor target = t.ints(tg, s[0], s[1], s[2]);
        Tensor pc = like(logits);
        Tensor pr = like(logits);
        cpu.softmax(logits, pc);
        ref.softmax(logits, pr);
        close("softmax", pc, pr);
        for (float[] wts : new float[][] {{1f, 1f, 1e-5f}, {0.3f, 2f, 1f}, {1f, 0f, 0f}}) {
            Tensor gc = like(logits);
            Tensor gr = like(logits);
            double lc = cpu.crossEntropyDiceLoss(logits, target, gc, wts[0], wts[1], wts[2]);
            double lr = ref.crossEntropyDiceLoss(logits, target, gr, wts[0], wts[1], wts[2]);
            assertEquals(lr, lc, 1e-6 + 1e-6 * Math.abs(lr), "loss");
            assertEquals(
                    lr,
                    cpu.crossEntropyDiceLoss(logits, target, null, wts[0], wts[1], wts[2]),
                    1e-6 + 1e-6 * Math.abs(lr),
                    "loss without gradient");
            // the gradient of a mean over M pixels is O(1 / M): compare relative to its scale
            double scale = 1.0 / tg.length;
            TensorAssert.assertClose("dLogits", gc, gr, ATOL * scale, RTOL);
        }
    }

    @Test
    void adam() {
        int[] sizes = {1, 7, 1000, 65537};
        for (int n : sizes) {
            for (float wd : new float[] {0f, 0.01f}) {
                Tensor pC = rand(Layout.PLAIN, 1f, n);
                Tensor pR = t.keep(Tensor.of(pC.toFloatArray(), Layout.PLAIN, n));
                Tensor mC = t.zeros(Layout.PLAIN, n);
                Tensor vC = t.zeros(Layout.PLAIN, n);
                Tensor mR = t.zeros(Layout.PLAIN, n);
                Tensor vR = t.zeros(Layout.PLAIN, n);
                for (int step = 1; step <= 5; step++) {
                    Tensor g = rand(Layout.PLAIN, 0.1f, n);
                    cpu.adamStep(pC, g, mC, vC, 1e-3f, 0.9f, 0.999f, 1e-8f, wd, step);
                    ref.adamStep(pR, g, mR, vR, 1e-3f, 0.9f, 0.999f, 1e-8f, wd, step);
                    String what = "adam n=" + n + " wd=" + wd + " step " + step;
                    TensorAssert.assertClose(what + " m", mC, mR, 1e-7, 1e-5);
                    TensorAssert.assertClose(what + " v", vC, vR, 1e-9, 1e-5);
                    TensorAssert.assertClose(what + " param", pC, pR, 1e-6, 1e-5);
                }
            }
        }
    }

    @Test
    void aruNetSizedBatchNormAndPooling() {
        // one realistic size: the decoder-1 level at 128x128 (262144 values per channel statistic)
        int[] s = {2, 128, 128, 16};
        Tensor x = rand(Layout.NHWC, 1.5f, s);
        addOffset(x, -0.7f);
        Tensor gamma = rand(Layout.PLAIN, 1f, 16);
        Tensor beta = rand(Layout.PLAIN, 1f, 16);
        Tensor yc = like(x);
        Tensor yr = like(x);
        Tensor[] st = new Tensor[8];
        for (int i = 0; i < 8; i++) {
            st[i] = t.zeros(Layout.PLAIN, 16);
        }
        cpu.batchNormForward(x, gamma, beta, st[0], st[1], st[2], st[3], yc, true, 0.1f, 1e-5f, Activation.RELU);
        ref.batchNormForward(x, gamma, beta, st[4], st[5], st[6], st[7], yr, true, 0.1f, 1e-5f, Activation.RELU);
        close("bn y", yc, yr);
        close("bn mean", st[2], st[6]);
        close("bn invstd", st[3], st[7]);
        close("bn running var", st[1], st[5]);
        Tensor maxC = t.zeros(Layout.PLAIN, 2, 16);
        Tensor avgC = t.zeros(Layout.PLAIN, 2, 16);
        Tensor maxR = t.zeros(Layout.PLAIN, 2, 16);
        Tensor avgR = t.zeros(Layout.PLAIN, 2, 16);
        cpu.globalPoolForward(x, maxC, avgC);
        ref.globalPoolForward(x, maxR, avgR);
        close("global max", maxC, maxR);
        close("global avg", avgC, avgR);
        assertEquals(DType.F32, yc.dtype());
    }
}

package org.arunet.backend.reference;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Memory;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The {@link ReferenceBackend} tensor API against the contract of {@link org.arunet.backend.Backend}:
 * it computes exactly {@link RefOps} on the widened inputs (odd shapes, N = 2), overwrites its outputs,
 * allows exactly the documented aliasing, accepts the documented null arguments, and rejects wrong
 * shapes, dtypes, devices and overlaps with an {@link IllegalArgumentException} that names the operation
 * and the shapes.
 */
class ReferenceBackendTest {
    private static final int N = 2;
    private static final int H = 5;
    private static final int W = 7;

    private final ReferenceBackend be = new ReferenceBackend();
    private final List<Tensor> owned = new ArrayList<>();
    private final Rand rand = new Rand(2024);

    @AfterEach
    void release() {
        owned.forEach(Tensor::close);
        be.close();
    }

    private Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    private Tensor randomNhwc(int n, int h, int w, int c) {
        return own(Tensor.of(rand.floats(n * h * w * c, -1, 1), Layout.NHWC, n, h, w, c));
    }

    private Tensor random(Layout layout, int... shape) {
        return own(Tensor.of(rand.floats((int) Tensor.numel(shape), -1, 1), layout, shape));
    }

    /** A tensor pre-filled with NaN: an op that accumulates into its output instead of overwriting shows. */
    private Tensor garbage(Layout layout, int... shape) {
        Tensor t = own(be.allocate(DType.F32, layout, shape));
        be.fill(t, Float.NaN);
        return t;
    }

    private static double[] d(Tensor t) {
        return Rand.widen(t.toFloatArray());
    }

    /** The double result rounded to float, as the backend must write it. */
    private static double[] rounded(double[] v) {
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = (float) v[i];
        }
        return r;
    }

    private static void assertExact(String label, Tensor actual, double[] refResult) {
        assertClose(label, actual, rounded(refResult), 0, 0);
    }

    // ------------------------------------------------------------------ wiring: tensor API == RefOps

    @Test
    void convMatchesRefOpsAndOverwrites() {
        Conv2dSpec s = new Conv2dSpec(4, 6, 3, 2, 2, 1, 1, 0, 1, 2, 2, true);
        Tensor x = randomNhwc(N, H, W, 4);
        Tensor w = random(Layout.OIHW, s.weightShape());
        Tensor b = random(Layout.PLAIN, 6);
        int oh = s.outH(H);
        int ow = s.outW(W);
        Tensor y = garbage(Layout.NHWC, N, oh, ow, 6);
        Tensor dy = randomNhwc(N, oh, ow, 6);
        Tensor dx = garbage(Layout.NHWC, N, H, W, 4);
        Tensor dw = garbage(Layout.OIHW, s.weightShape());
        Tensor db = garbage(Layout.PLAIN, 6);
        try (Conv2dOp conv = be.conv2d(s)) {
            assertEquals(s, conv.spec());
            conv.forward(x, w, b, y, true);
            conv.backwardData(dy, w, dx);
            conv.backwardWeights(x, dy, dw, db);
        }
        assertExact("conv y", y, RefOps.conv2dForward(d(x), N, H, W, s, d(w), d(b)));
        assertExact("conv dx", dx, RefOps.conv2dBackwardData(d(dy), N, H, W, s, d(w)));
        assertExact("conv dw", dw, RefOps.conv2dBackwardWeights(d(x), N, H, W, s, d(dy)));
        assertExact("conv db", db, RefOps.channelSum(d(dy), N * oh * ow, 6));
    }

    @Test
    void batchNormMatchesRefOpsAndOverwrites() {
        int c = 3;
        int m = N * H * W;
        Tensor x = randomNhwc(N, H, W, c);
        Tensor gamma = random(Layout.PLAIN, c);
        Tensor beta = random(Layout.PLAIN, c);
        Tensor rm = random(Layout.PLAIN, c);
        Tensor rv = own(Tensor.of(new float[] {0.5f, 1f, 2f}, Layout.PLAIN, c));
        double[] rm0 = d(rm);
        double[] rv0 = d(rv);
        Tensor saveMean = garbage(Layout.PLAIN, c);
        Tensor saveInvStd = garbage(Layout.PLAIN, c);
        Tensor y = garbage(Layout.NHWC, N, H, W, c);
        be.batchNormForward(x, gamma, beta, rm, rv, saveMean, saveInvStd, y, true, 0.1f, 1e-5f, Activation.RELU);
        RefOps.BatchNormForward f = RefOps.batchNormTrainForward(d(x), m, c, d(gamma), d(beta), 1e-5f, true);
        RefOps.batchNormUpdateRunningStats(rm0, rv0, f.mean(), f.biasedVar(), m, 0.1f);
        assertExact("bn y", y, f.y());
        assertExact("bn saveMean", saveMean, f.mean());
        assertExact("bn saveInvStd", saveInvStd, f.invStd());
        assertExact("bn runningMean", rm, rm0);
        assertExact("bn runningVar", rv, rv0);

        Tensor dy = randomNhwc(N, H, W, c);
        Tensor dx = garbage(Layout.NHWC, N, H, W, c);
        Tensor dGamma = garbage(Layout.PLAIN, c);
        Tensor dBeta = garbage(Layout.PLAIN, c);
        be.batchNormBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dGamma, dBeta, Activation.RELU);
        RefOps.BatchNormGrads g =
                RefOps.batchNormBackward(d(dy), d(x), d(y), m, c, d(gamma), d(saveMean), d(saveInvStd), true);
        assertExact("bn dx", dx, g.dx());
        assertExact("bn dGamma", dGamma, g.dGamma());
        assertExact("bn dBeta", dBeta, g.dBeta());

        // inference leaves the saved statistics and the running statistics alone
        float[] savedMean = saveMean.toFloatArray();
        float[] runningVar = rv.toFloatArray();
        be.batchNormForward(x, gamma, beta, rm, rv, saveMean, saveInvStd, y, false, 0.1f, 1e-5f, Activation.NONE);
        assertClose("bn eval keeps saveMean", saveMean, savedMean, 0, 0);
        assertClose("bn eval keeps runningVar", rv, runningVar, 0, 0);
        assertExact(
                "bn eval y",
                y,
                RefOps.batchNormInferenceForward(d(x), m, c, d(gamma), d(beta), d(rm), d(rv), 1e-5f, false));
    }

    @Test
    void poolsAndResamplingMatchRefOps() {
        int c = 3;
        Tensor x = randomNhwc(N, H, W, c);
        Tensor y = garbage(Layout.NHWC, N, 3, 4, c);
        be.maxPoolForward(x, y, 3, 2, 1);
        assertExact("maxpool y", y, RefOps.maxPoolForward(d(x), N, H, W, c, 3, 2, 1));
        Tensor dy = randomNhwc(N, 3, 4, c);
        Tensor dx = garbage(Layout.NHWC, N, H, W, c);
        be.maxPoolBackward(x, dy, dx, 3, 2, 1);
        assertExact("maxpool dx", dx, RefOps.maxPoolBackward(d(x), d(dy), N, H, W, c, 3, 2, 1));

        Tensor max = garbage(Layout.PLAIN, N, c);
        Tensor avg = garbage(Layout.PLAIN, N, c);
        be.globalPoolForward(x, max, avg);
        assertExact("global max", max, RefOps.globalMaxPool(d(x), N, H * W, c));
        assertExact("global avg", avg, RefOps.globalAvgPool(d(x), N, H * W, c));
        Tensor dMax = random(Layout.PLAIN, N, c);
        Tensor dAvg = random(Layout.PLAIN, N, c);
        be.fill(dx, Float.NaN);
        be.globalPoolBackward(x, max, dMax, dAvg, dx);
        assertExact("global dx", dx, RefOps.globalPoolBackward(d(x), d(max), d(dMax), d(dAvg), N, H * W, c));
        be.globalPoolBackward(x, null, null, dAvg, dx);
        assertExact("global dx, avg only", dx, RefOps.globalPoolBackward(d(x), null, null, d(dAvg), N, H * W, c));
        be.globalPoolBackward(x, max, null, null, dx);
        assertClose("global dx, no gradient", dx, new float[N * H * W * c], 0, 0);
        Tensor avgOnly = garbage(Layout.PLAIN, N, c);
        be.globalPoolForward(x, null, avgOnly);
        assertExact("global avg alone", avgOnly, RefOps.globalAvgPool(d(x), N, H * W, c));

        Tensor stats = garbage(Layout.NHWC, N, H, W, 2);
        be.channelMaxMeanForward(x, stats);
        assertExact("channel max/mean", stats, RefOps.channelMaxMean(d(x), N * H * W, c));
        Tensor dStats = randomNhwc(N, H, W, 2);
        be.fill(dx, Float.NaN);
        be.channelMaxMeanBackward(x, stats, dStats, dx);
        assertExact("channel max/mean dx", dx, RefOps.channelMaxMeanBackward(d(x), d(stats), d(dStats), N * H * W, c));

        Tensor up = garbage(Layout.NHWC, N, 2 * H, 2 * W, c);
        be.upsample2xForward(x, up);
        assertExact("upsample", up, RefOps.upsample2xForward(d(x), N, H, W, c));
        Tensor dUp = randomNhwc(N, 2 * H, 2 * W, c);
        be.fill(dx, Float.NaN);
        be.upsample2xBackward(dUp, dx);
        assertExact("upsample dx", dx, RefOps.upsample2xBackward(d(dUp), N, H, W, c));

        Tensor b = randomNhwc(N, H, W, 2);
        Tensor cat = garbage(Layout.NHWC, N, H, W, c + 2);
        be.concatChannels(x, b, cat);
        assertExact("concat", cat, RefOps.concatChannels(d(x), d(b), N * H * W, c, 2));
        Tensor da = garbage(Layout.NHWC, N, H, W, c);
        Tensor db = garbage(Layout.NHWC, N, H, W, 2);
        be.splitChannels(cat, da, db);
        assertClose("split a", da, x.toFloatArray(), 0, 0);
        assertClose("split b", db, b.toFloatArray(), 0, 0);
    }

    @Test
    void productsLossAndOptimizerMatchRefOps() {
        int c = 3;
        Tensor x = randomNhwc(N, H, W, c);
        Tensor dy = randomNhwc(N, H, W, c);
        Tensor[] weights = {randomNhwc(N, H, W, c), randomNhwc(N, H, W, 1), random(Layout.PLAIN, N, c)};
        RefOps.Broadcast[] modes = RefOps.Broadcast.values();
        for (int k = 0; k < weights.length; k++) {
            Tensor w = weights[k];
            RefOps.Broadcast mode = modes[k];
            int n = mode == RefOps.Broadcast.SAME ? 1 : N;
            int hw = mode == RefOps.Broadcast.SAME ? 1 : H * W;
            int cc = mode == RefOps.Broadcast.SAME ? N * H * W * c : c;
            Tensor y = garbage(Layout.NHWC, N, H, W, c);
            be.mulForward(x, w, y);
            assertExact("mul " + mode, y, RefOps.mulForward(d(x), d(w), mode, n, hw, cc));
            Tensor dx = garbage(Layout.NHWC, N, H, W, c);
            Tensor dw = garbage(w.layout(), w.shape());
            be.mulBackward(dy, x, w, dx, dw);
            assertExact("mul dx " + mode, dx, RefOps.mulBackwardX(d(dy), d(w), mode, n, hw, cc));
            assertExact("mul dw " + mode, dw, RefOps.mulBackwardW(d(dy), d(x), mode, n, hw, cc));
            be.fill(dw, Float.NaN);
            be.mulBackward(dy, x, w, null, dw);
            assertExact("mul dw alone " + mode, dw, RefOps.mulBackwardW(d(dy), d(x), mode, n, hw, cc));
        }

        Tensor lx = random(Layout.PLAIN, 3, 5);
        Tensor lw = random(Layout.PLAIN, 4, 5);
        Tensor lb = random(Layout.PLAIN, 4);
        Tensor ly = garbage(Layout.PLAIN, 3, 4);
        be.linearForward(lx, lw, lb, ly);
        assertExact("linear", ly, RefOps.linearForward(d(lx), d(lw), d(lb), 3, 5, 4));
        Tensor ldy = random(Layout.PLAIN, 3, 4);
        Tensor ldx = garbage(Layout.PLAIN, 3, 5);
        Tensor ldw = garbage(Layout.PLAIN, 4, 5);
        Tensor ldb = garbage(Layout.PLAIN, 4);
        be.linearBackward(ldy, lx, lw, ldx, ldw, ldb);
        assertExact("linear dx", ldx, RefOps.linearBackwardX(d(ldy), d(lw), 3, 5, 4));
        assertExact("linear dw", ldw, RefOps.linearBackwardW(d(ldy), d(lx), 3, 5, 4));
        assertExact("linear db", ldb, RefOps.channelSum(d(ldy), 3, 4));
        be.fill(ldw, Float.NaN);
        be.linearBackward(ldy, lx, lw, null, ldw, null);
        assertExact("linear dw alone", ldw, RefOps.linearBackwardW(d(ldy), d(lx), 3, 5, 4));

        Tensor logits = randomNhwc(N, H, W, 3);
        int[] t = new int[N * H * W];
        for (int i = 0; i < t.length; i++) {
            t[i] = rand.nextInt(3);
        }
        Tensor target = own(Tensor.ofInts(t, N, H, W));
        Tensor dLogits = garbage(Layout.NHWC, N, H, W, 3);
        double loss = be.crossEntropyDiceLoss(logits, target, dLogits, 0.7f, 1.3f, 1e-5f);
        RefOps.LossResult r = RefOps.crossEntropyDiceLoss(d(logits), t, N * H * W, 3, 0.7f, 1.3f, 1e-5f, true);
        assertEquals(r.loss(), loss, 0.0);
        assertExact("dLogits", dLogits, r.dLogits());
        Tensor probs = garbage(Layout.NHWC, N, H, W, 3);
        be.softmax(logits, probs);
        assertExact("softmax", probs, RefOps.softmax(d(logits), N * H * W, 3));

        Tensor p = random(Layout.PLAIN, 7);
        Tensor g = random(Layout.PLAIN, 7);
        Tensor m = random(Layout.PLAIN, 7);
        Tensor v = own(Tensor.of(rand.floats(7, 0, 1), Layout.PLAIN, 7));
        double[] pd = d(p);
        double[] md = d(m);
        double[] vd = d(v);
        be.adamStep(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 5);
        RefOps.adamStep(pd, d(g), md, vd, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 5);
        assertExact("adam p", p, pd);
        assertExact("adam m", m, md);
        assertExact("adam v", v, vd);
    }

    // ------------------------------------------------------------------ aliasing the contract allows

    @Test
    void documentedAliasingGivesTheSameResults() {
        float[] av = rand.floats(12, -2, 2);
        float[] bv = rand.floats(12, -2, 2);
        Tensor a = own(Tensor.of(av, Layout.NHWC, 1, 2, 2, 3));
        Tensor b = own(Tensor.of(bv, Layout.NHWC, 1, 2, 2, 3));
        Tensor expected = garbage(Layout.NHWC, 1, 2, 2, 3);

        be.add(a, b, expected);
        be.add(a, b, a); // y aliases a
        assertClose("add into a", a, expected, 0, 0);
        a.copyFrom(av);
        be.add(a, b, b); // y aliases b
        assertClose("add into b", b, expected, 0, 0);
        b.copyFrom(bv);

        be.scale(a, 3f, expected);
        be.scale(a, 3f, a);
        assertClose("scale in place", a, expected, 0, 0);
        a.copyFrom(av);

        for (Activation act : Activation.values()) {
            be.activationForward(act, a, expected);
            be.activationForward(act, a, a);
            assertClose(act + " in place", a, expected, 0, 0);
            a.copyFrom(av);
        }

        Tensor y = garbage(Layout.NHWC, 1, 2, 2, 3);
        be.activationForward(Activation.SIGMOID, a, y);
        for (Activation act : Activation.values()) {
            be.activationBackward(act, a, y, b, expected);
            be.activationBackward(act, a, y, b, b); // dx aliases dy
            assertClose(act + " backward in place", b, expected, 0, 0);
            b.copyFrom(bv);
        }

        Tensor w = own(Tensor.of(rand.floats(4, -1, 1), Layout.NHWC, 1, 2, 2, 1));
        be.mulForward(a, w, expected);
        be.mulForward(a, w, a); // y aliases x
        assertClose("mul in place", a, expected, 0, 0);
    }

    // ------------------------------------------------------------------ aliasing it forbids

    private static void assertRejects(String opName, Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, opName);
        assertTrue(e.getMessage().contains(opName), "message should name " + opName + ": " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void overlappingOutputsAreRejected() {
        Tensor x = randomNhwc(1, 3, 3, 2);
        Tensor w = random(Layout.OIHW, 2, 2, 1, 1);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(2, 2, 1, 1, 0, 1, 1, false))) {
            assertRejects("conv2d.forward", () -> conv.forward(x, w, null, x, false), "overlap");
            assertRejects("conv2d.backwardData", () -> conv.backwardData(x, w, x), "overlap");
        }
        assertRejects("addInPlace", () -> be.addInPlace(x, x), "overlap");
        assertRejects("copy", () -> be.copy(x, x), "overlap");
        assertRejects("maxPoolBackward", () -> be.maxPoolBackward(x, x, x, 1, 1, 0), "overlap");
        Tensor g = random(Layout.PLAIN, 2);
        Tensor c = random(Layout.PLAIN, 2);
        assertRejects(
                "batchNormBackward",
                () -> be.batchNormBackward(x, x, null, g, c, c, x, g, c, Activation.NONE),
                "overlap");
        Tensor p = random(Layout.PLAIN, 2);
        assertRejects("adamStep", () -> be.adamStep(p, g, p, c, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1), "overlap");

        // views that overlap partly: rows [0, 2) and [1, 3) of one [3, 4] tensor
        Tensor big = random(Layout.PLAIN, 3, 4);
        Tensor first = big.slice(0, 2);
        Tensor second = big.slice(1, 2);
        assertRejects("addInPlace", () -> be.addInPlace(first, second), "overlap");
        Tensor lw = random(Layout.PLAIN, 4, 4);
        assertRejects("linearForward", () -> be.linearForward(first, lw, null, second), "overlap");
        // disjoint views of the same tensor are fine
        Tensor top = big.slice(0, 1);
        Tensor bottom = big.slice(2, 1);
        float[] expected = new float[4];
        float[] all = big.toFloatArray();
        for (int i = 0; i < 4; i++) {
            expected[i] = all[i] + all[8 + i];
        }
        be.addInPlace(top, bottom);
        assertClose("addInPlace on disjoint views", top, expected, 0, 0);
    }

    // ------------------------------------------------------------------ validation

    @Test
    void convValidation() {
        Conv2dSpec s = Conv2dSpec.same(3, 4, 3, 1, 1, true);
        Tensor x = randomNhwc(N, H, W, 3);
        Tensor w = random(Layout.OIHW, 4, 3, 3, 3);
        Tensor b = random(Layout.PLAIN, 4);
        Tensor y = garbage(Layout.NHWC, N, H, W, 4);
        try (Conv2dOp conv = be.conv2d(s)) {
            Tensor x2 = randomNhwc(N, H, W, 2);
            assertRejects("conv2d.forward", () -> conv.forward(x2, w, b, y, true), "[2, 5, 7, 2]");
            Tensor badW = random(Layout.OIHW, 4, 3, 1, 1);
            assertRejects("conv2d.forward", () -> conv.forward(x, badW, b, y, true), "[4, 3, 1, 1]", "[4, 3, 3, 3]");
            Tensor badY = garbage(Layout.NHWC, N, H, W, 3);
            assertRejects("conv2d.forward", () -> conv.forward(x, w, b, badY, true), "[2, 5, 7, 3]", "[2, 5, 7, 4]");
            assertRejects("conv2d.forward", () -> conv.forward(x, w, null, y, true), "bias");
            Tensor badB = random(Layout.PLAIN, 3);
            assertRejects("conv2d.forward", () -> conv.forward(x, w, badB, y, true), "[3]");
            Tensor dy = randomNhwc(N, H, W, 4);
            Tensor badDx = garbage(Layout.NHWC, N, H + 1, W, 3);
            assertRejects("conv2d.backwardData", () -> conv.backwardData(dy, w, badDx), "[2, 5, 7, 4]");
            Tensor dw = garbage(Layout.OIHW, 4, 3, 3, 3);
            Tensor badDw = garbage(Layout.OIHW, 4, 3, 3, 1);
            assertRejects("conv2d.backwardWeights", () -> conv.backwardWeights(x, dy, badDw, b), "[4, 3, 3, 1]");
            assertRejects("conv2d.backwardWeights", () -> conv.backwardWeights(x, dy, dw, null), "bias");
            Tensor ints = own(Tensor.host(DType.I32, Layout.NHWC, N, H, W, 3));
            assertRejects("conv2d.forward", () -> conv.forward(ints, w, b, y, true), "F32");
        }
        try (Conv2dOp noBias = be.conv2d(Conv2dSpec.same(3, 4, 3, 1, 1, false))) {
            Tensor b4 = random(Layout.PLAIN, 4);
            assertRejects("conv2d.forward", () -> noBias.forward(x, w, b4, y, true), "without bias");
        }
        // a 2x2 input with a 3x3 kernel and no padding is empty in PyTorch: no output rows, and the backend
        // refuses it
        Conv2dSpec valid = Conv2dSpec.of(1, 1, 3, 2, 0, 1, 1, false);
        assertEquals(0, valid.outH(2));
        try (Conv2dOp conv = be.conv2d(valid)) {
            Tensor small = randomNhwc(1, 2, 2, 1);
            Tensor k = random(Layout.OIHW, 1, 1, 3, 3);
            Tensor out = garbage(Layout.NHWC, 1, 1, 1, 1);
            assertRejects("conv2d.forward", () -> conv.forward(small, k, null, out, false), "kernel span 3");
        }
        Conv2dOp closed = be.conv2d(s);
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.forward(x, w, b, y, false));
    }

    @Test
    void normalisationAndActivationValidation() {
        Tensor x = randomNhwc(N, H, W, 3);
        Tensor c3 = random(Layout.PLAIN, 3);
        Tensor c3b = random(Layout.PLAIN, 3);
        Tensor rm = random(Layout.PLAIN, 3);
        Tensor rv = random(Layout.PLAIN, 3);
        Tensor sm = garbage(Layout.PLAIN, 3);
        Tensor si = garbage(Layout.PLAIN, 3);
        Tensor c2 = random(Layout.PLAIN, 2);
        Tensor y = garbage(Layout.NHWC, N, H, W, 3);
        String bn = "batchNormForward";
        assertRejects(
                bn,
                () -> be.batchNormForward(x, c2, c3b, rm, rv, sm, si, y, true, 0.1f, 1e-5f, Activation.NONE),
                "gamma",
                "[2]",
                "[3]");
        assertRejects(
                bn,
                () -> be.batchNormForward(x, c3, c3b, rm, rv, null, si, y, true, 0.1f, 1e-5f, Activation.NONE),
                "saveMean is null");
        assertRejects(
                bn,
                () -> be.batchNormForward(x, c3, c3b, rm, rv, sm, si, y, true, 0.1f, 1e-5f, Activation.GELU),
                "GELU");
        Tensor single = randomNhwc(1, 1, 1, 3);
        Tensor singleY = garbage(Layout.NHWC, 1, 1, 1, 3);
        assertRejects(
                bn,
                () -> be.batchNormForward(single, c3, c3b, rm, rv, sm, si, singleY, true, 0.1f, 1e-5f, Activation.NONE),
                "more than one value",
                "[1, 1, 1, 3]");
        Tensor badY = garbage(Layout.NHWC, N, H, W, 2);
        assertRejects(
                bn,
                () -> be.batchNormForward(x, c3, c3b, rm, rv, sm, si, badY, true, 0.1f, 1e-5f, Activation.NONE),
                "[2, 5, 7, 2]",
                "[2, 5, 7, 3]");
        Tensor dx = garbage(Layout.NHWC, N, H, W, 3);
        Tensor dg = garbage(Layout.PLAIN, 3);
        Tensor dbt = garbage(Layout.PLAIN, 3);
        assertRejects(
                "batchNormBackward",
                () -> be.batchNormBackward(x, x, null, c3, sm, si, dx, dg, dbt, Activation.RELU),
                "y is null");

        Tensor small = randomNhwc(N, H, W, 2);
        assertRejects("activationForward", () -> be.activationForward(Activation.RELU, x, small), "[2, 5, 7, 2]");
        assertRejects(
                "activationBackward", () -> be.activationBackward(Activation.SIGMOID, x, null, x, dx), "y is null");
        assertRejects("activationBackward", () -> be.activationBackward(Activation.GELU, null, x, x, dx), "x is null");
    }

    @Test
    void poolingAndJoinValidation() {
        Tensor x = randomNhwc(N, H, W, 3);
        Tensor y = garbage(Layout.NHWC, N, 3, 4, 3);
        assertRejects("maxPoolForward", () -> be.maxPoolForward(x, y, 3, 2, 2), "pad 2");
        Tensor badY = garbage(Layout.NHWC, N, 3, 3, 3);
        assertRejects("maxPoolForward", () -> be.maxPoolForward(x, badY, 3, 2, 1), "[2, 3, 4, 3]", "[2, 3, 3, 3]");
        Tensor badMax = garbage(Layout.PLAIN, N, 2);
        assertRejects("globalPoolForward", () -> be.globalPoolForward(x, badMax, null), "[2, 3]", "[2, 2]");
        Tensor dMax = random(Layout.PLAIN, N, 3);
        Tensor dx = garbage(Layout.NHWC, N, H, W, 3);
        assertRejects("globalPoolBackward", () -> be.globalPoolBackward(x, null, dMax, null, dx), "max is null");
        Tensor badStats = garbage(Layout.NHWC, N, H, W, 3);
        assertRejects("channelMaxMeanForward", () -> be.channelMaxMeanForward(x, badStats), "[2, 5, 7, 2]");
        Tensor badUp = garbage(Layout.NHWC, N, 2 * H, 2 * W + 1, 3);
        assertRejects("upsample2xForward", () -> be.upsample2xForward(x, badUp), "[2, 10, 14, 3]");
        Tensor other = randomNhwc(N, H + 1, W, 2);
        Tensor cat = garbage(Layout.NHWC, N, H, W, 5);
        assertRejects("concatChannels", () -> be.concatChannels(x, other, cat), "[2, 5, 7, 3]", "[2, 6, 7, 2]");
        Tensor badW = random(Layout.PLAIN, N, 4);
        assertRejects("mulForward", () -> be.mulForward(x, badW, dx), "[2, 4]", "[2, 5, 7, 3]");
        Tensor lx = random(Layout.PLAIN, 3, 5);
        Tensor lw = random(Layout.PLAIN, 4, 6);
        Tensor ly = garbage(Layout.PLAIN, 3, 4);
        assertRejects("linearForward", () -> be.linearForward(lx, lw, null, ly), "[4, 6]", "[3, 5]");
    }

    @Test
    void lossOptimizerAndBasicsValidation() {
        Tensor logits = randomNhwc(N, H, W, 2);
        Tensor floatTarget = random(Layout.PLAIN, N, H, W);
        assertRejects(
                "crossEntropyDiceLoss",
                () -> be.crossEntropyDiceLoss(logits, floatTarget, null, 1, 1, 1e-5f),
                "I32",
                "[2, 5, 7]");
        Tensor shortTarget = own(Tensor.ofInts(new int[N * H], N, H, 1));
        assertRejects(
                "crossEntropyDiceLoss",
                () -> be.crossEntropyDiceLoss(logits, shortTarget, null, 1, 1, 1e-5f),
                "[2, 5, 1]");
        Tensor probs = garbage(Layout.NHWC, N, H, W, 3);
        assertRejects("softmax", () -> be.softmax(logits, probs), "[2, 5, 7, 3]");

        Tensor p = random(Layout.PLAIN, 4);
        Tensor g = random(Layout.PLAIN, 5);
        Tensor g4 = random(Layout.PLAIN, 4);
        Tensor m = random(Layout.PLAIN, 4);
        Tensor v = random(Layout.PLAIN, 4);
        assertRejects("adamStep", () -> be.adamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1), "[5]", "[4]");
        assertRejects("adamStep", () -> be.adamStep(p, g4, m, v, 0.1f, 1f, 0.999f, 1e-8f, 0f, 1), "beta1=1.0");
        assertRejects("adamStep", () -> be.adamStep(p, g4, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 0), "step");

        Tensor ints = own(Tensor.ofInts(new int[4], 4));
        assertRejects("copy", () -> be.copy(ints, p), "I32", "F32");
        assertRejects("add", () -> be.add(p, g, m), "[5]", "[4]");
        assertRejects("addInPlace", () -> be.addInPlace(p, g), "[5]", "[4]");
        assertRejects("fill", () -> be.fill(ints, 1f), "I32");
        assertRejects("sumOfSquares", () -> be.sumOfSquares(ints), "I32");
        // addInPlace needs the same number of elements only
        Tensor p22 = own(Tensor.of(new float[] {1, 2, 3, 4}, Layout.PLAIN, 2, 2));
        Tensor q = own(Tensor.of(new float[] {1, 1, 1, 1}, Layout.PLAIN, 4));
        be.addInPlace(p22, q);
        assertClose("addInPlace across shapes", p22, new float[] {2, 3, 4, 5}, 0, 0);
        // copy handles other dtypes
        Tensor ints2 = own(Tensor.ofInts(new int[] {1, 2, 3, 4}, 4));
        be.copy(ints2, ints);
        assertEquals("[1, 2, 3, 4]", Arrays.toString(ints.toIntArray()));
    }

    /** A tensor whose memory claims to be on the GPU: the reference backend must refuse it. */
    @Test
    void tensorsOnOtherDevicesAndClosedTensorsAreRejected() {
        Tensor onGpu = own(Tensor.wrap(new FakeDeviceMemory(48), DType.F32, Layout.NHWC, 1, 2, 2, 3));
        Tensor y = garbage(Layout.NHWC, 1, 2, 2, 3);
        assertRejects("activationForward", () -> be.activationForward(Activation.RELU, onGpu, y), "CUDA");
        assertRejects("copy", () -> be.copy(onGpu, y), "CUDA");
        Tensor closed = Tensor.of(new float[12], Layout.NHWC, 1, 2, 2, 3);
        closed.close();
        assertRejects("activationForward", () -> be.activationForward(Activation.RELU, closed, y), "closed");
    }

    @Test
    void identity() {
        assertEquals("reference", be.name());
        assertEquals(Device.HOST, be.device());
        Tensor t = own(be.allocate(DType.F32, Layout.NHWC, 1, 2, 3, 4));
        assertEquals(Device.HOST, t.device());
        assertClose("allocate zeroes", t, new float[24], 0, 0);
    }

    /** Ensures the naive loops stay usable: a 2x16x16x32 3x3 conv, forward and both backward passes. */
    @Test
    void convOfModerateSizeIsQuick() {
        Conv2dSpec s = Conv2dSpec.same(32, 32, 3, 1, 1, true);
        Tensor x = randomNhwc(2, 16, 16, 32);
        Tensor w = random(Layout.OIHW, s.weightShape());
        Tensor b = random(Layout.PLAIN, 32);
        Tensor y = garbage(Layout.NHWC, 2, 16, 16, 32);
        Tensor dx = garbage(Layout.NHWC, 2, 16, 16, 32);
        Tensor dw = garbage(Layout.OIHW, s.weightShape());
        Tensor db = garbage(Layout.PLAIN, 32);
        try (Conv2dOp conv = be.conv2d(s)) {
            conv.forward(x, w, b, y, true); // warm-up (JIT)
            long t0 = System.nanoTime();
            conv.forward(x, w, b, y, true);
            conv.backwardData(y, w, dx);
            conv.backwardWeights(x, y, dw, db);
            double seconds = (System.nanoTime() - t0) / 1e9;
            // about 14 M multiply-adds in all; a generous bound that only a pathological change exceeds
            assertTrue(seconds < 3.0, "2x16x16x32 conv forward + backward took " + seconds + " s");
        }
    }

    /** Memory on a pretend device; the backend must reject it before touching its contents. */
    private static final class FakeDeviceMemory implements Memory {
        private final long bytes;

        FakeDeviceMemory(long bytes) {
            this.bytes = bytes;
        }

        @Override
        public long address() {
            return 1L << 40;
        }

        @Override
        public long bytes() {
            return bytes;
        }

        @Override
        public Device device() {
            return Device.CUDA;
        }

        private static UnsupportedOperationException noAccess() {
            return new UnsupportedOperationException("device memory is not readable from the host in this test");
        }

        @Override
        public void read(long byteOffset, float[] dst, int dstPos, int count) {
            throw noAccess();
        }

        @Override
        public void write(long byteOffset, float[] src, int srcPos, int count) {
            throw noAccess();
        }

        @Override
        public void read(long byteOffset, int[] dst, int dstPos, int count) {
            throw noAccess();
        }

        @Override
        public void write(long byteOffset, int[] src, int srcPos, int count) {
            throw noAccess();
        }

        @Override
        public void read(long byteOffset, long[] dst, int dstPos, int count) {
            throw noAccess();
        }

        @Override
        public void write(long byteOffset, long[] src, int srcPos, int count) {
            throw noAccess();
        }

        @Override
        public void read(long byteOffset, byte[] dst, int dstPos, int count) {
            throw noAccess();
        }

        @Override
        public void write(long byteOffset, byte[] src, int srcPos, int count) {
            throw noAccess();
        }

        @Override
        public void zero(long byteOffset, long count) {
            throw noAccess();
        }

        @Override
        public boolean isClosed() {
            return false;
        }

        @Override
        public void close() {}
    }
}

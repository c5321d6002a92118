package org.arunet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testing.TensorAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ARU-Net's blocks composed by hand from {@link CpuBackend} ops, forward and backward in train mode,
 * against PyTorch 1.13 (the fixtures of {@code /work/shared/reference/make_fixtures.py}, see
 * {@code fixtures/README.md}): outputs, input gradients, every parameter gradient and the updated
 * BatchNorm running statistics; then the loss of the tiny model's logits and one Adam step.
 *
 * <p>This checks the PyTorch semantics (biased / unbiased variance, amax tie splitting, the GELU and
 * sigmoid forms, concatenation order, loss pooling) against PyTorch itself rather than against our
 * reading of it. Tolerances: float32 against float32 with different summation orders,
 * {@code 2e-5 + 1e-4 |expected|}; weight gradients also norm-wise within 1e-4.
 */
class PyTorchFixtureTest {
    private static final double ATOL = 2e-5;
    private static final double RTOL = 1e-4;

    private CpuBackend be;
    private TestTensors t;
    private final List<Conv2dOp> convs = new ArrayList<>();

    @BeforeEach
    void open() {
        be = new CpuBackend(2);
        t = new TestTensors();
    }

    @AfterEach
    void close() {
        for (Conv2dOp c : convs) {
            c.close();
        }
        t.close();
        be.close();
    }

    // ------------------------------------------------------------------ helpers

    private Tensor act(Fixture f, String key) {
        int[] s = f.shape(key); // NCHW
        return t.nhwc(f.nhwc(key), s[0], s[2], s[3], s[1]);
    }

    private Tensor like(Tensor x) {
        return t.zeros(x.layout(), x.shape());
    }

    private Tensor nhwc(Tensor x, int channels) {
        return t.nhwc(x.dim(0), x.dim(1), x.dim(2), channels);
    }

    private static void expect(String label, Tensor actual, Fixture f, String key) {
        int[] s = f.shape(key);
        float[] e = s.length == 4 && actual.layout() == Layout.NHWC ? f.nhwc(key) : f.floats(key);
        TensorAssert.assertClose(label + " (" + key + ")", actual, e, ATOL, RTOL);
    }

    /**
     * Weight gradients: {@code ||a - e|| <= 1e-4 ||e|| + 1e-5 sqrt(n)} (the absolute part covers
     * gradients that are zero in exact arithmetic, such as a conv bias followed by BatchNorm, where
     * both sides hold rounding noise), and element-wise within {@code 1e-4 + 1e-3 |e|}.
     */
    private static void expectGrad(String label, Tensor actual, Fixture f, String key) {
        float[] e = f.floats(key);
        float[] a = actual.toFloatArray();
        double diff = 0;
        double ref = 0;
        for (int i = 0; i < e.length; i++) {
            diff += ((double) a[i] - e[i]) * ((double) a[i] - e[i]);
            ref += (double) e[i] * e[i];
        }
        double bound = 1e-4 * Math.sqrt(ref) + 1e-5 * Math.sqrt(e.length);
        if (!(Math.sqrt(diff) <= bound)) {
            org.junit.jupiter.api.Assertions.fail(String.format("%s (%s): ||a - e|| = %.3g > %.3g (||e|| = %.3g)",
                    label, key, Math.sqrt(diff), bound, Math.sqrt(ref)));
        }
        TensorAssert.assertClose(label + " (" + key + ")", actual, e, 1e-4, 1e-3);
    }

    /** A convolution layer with its parameters and gradients. */
    private final class Conv {
        final String name;
        final Conv2dOp op;
        final Tensor w;
        final Tensor b;
        final Tensor dw;
        final Tensor db;

        Conv(Fixture f, String name, int pad, int dilation, int groups, boolean bias) {
            this.name = name;
            int[] ws = f.shape("param." + name + ".weight");
            Conv2dSpec spec = new Conv2dSpec(ws[1] * groups, ws[0], ws[2], ws[3], 1, 1, pad, pad, dilation, dilation,
                    groups, bias);
            op = be.conv2d(spec);
            convs.add(op);
            w = t.oihw(f.floats("param." + name + ".weight"), ws[0], ws[1], ws[2], ws[3]);
            b = bias ? t.plain(f.floats("param." + name + ".bias")) : null;
            dw = like(w);
            db = bias ? like(b) : null;
        }

        Tensor forward(Tensor x) {
            Tensor y = nhwc(x, op.spec().outChannels());
            op.forward(x, w, b, y, true);
            return y;
        }

        /** dx of this layer; also computes dw and db. */
        Tensor backward(Tensor x, Tensor dy) {
            Tensor dx = like(x);
            op.backwardData(dy, w, dx);
            op.backwardWeights(x, dy, dw, db);
            return dx;
        }

        void check(Fixture f) {
            expectGrad(name + " dw", dw, f, "grad." + name + ".weight");
            if (b != null) {
                expectGrad(name + " db", db, f, "grad." + name + ".bias");
            }
        }
    }

    /** A training-mode BatchNorm2d (eps 1e-5, momentum 0.1, running statistics from 0 and 1). */
    private final class Bn {
        final String name;
        final Tensor gamma;
        final Tensor beta;
        final Tensor runningMean;
        final Tensor runningVar;
        final Tensor saveMean;
        final Tensor saveInvStd;
        final Tensor dGamma;
        final Tensor dBeta;

        Bn(Fixture f, String name) {
            this.name = name;
            gamma = t.plain(f.floats("param." + name + ".weight"));
            beta = t.plain(f.floats("param." + name + ".bias"));
            int c = (int) gamma.numel();
            runningMean = t.zeros(Layout.PLAIN, c);
            runningVar = t.plain(TestTensors.filled(c, 1f));
            saveMean = like(gamma);
            saveInvStd = like(gamma);
            dGamma = like(gamma);
            dBeta = like(gamma);
        }

        Tensor forward(Tensor x, Activation act) {
            Tensor y = like(x);
            be.batchNormForward(x, gamma, beta, runningMean, runningVar, saveMean, saveInvStd, y, true, 0.1f, 1e-5f,
                    act);
            return y;
        }

        Tensor backward(Tensor dy, Tensor x, Tensor y, Activation act) {
            Tensor dx = like(x);
            be.batchNormBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dGamma, dBeta, act);
            return dx;
        }

        void check(Fixture f) {
            expect(name + " running mean", runningMean, f, "param." + name + ".running_mean");
            expect(name + " running var", runningVar, f, "param." + name + ".running_var");
            expectGrad(name + " dgamma", dGamma, f, "grad." + name + ".weight");
            expectGrad(name + " dbeta", dBeta, f, "grad." + name + ".bias");
        }
    }

    private Tensor add(Tensor a, Tensor b) {
        Tensor y = like(a);
        be.add(a, b, y);
        return y;
    }

    private Tensor activation(Activation act, Tensor x) {
        Tensor y = like(x);
        be.activationForward(act, x, y);
        return y;
    }

    private Tensor activationGrad(Activation act, Tensor x, Tensor y, Tensor dy) {
        Tensor dx = like(dy);
        be.activationBackward(act, x, y, dy, dx);
        return dx;
    }

    // ------------------------------------------------------------------ blocks

    /** y = ReLU(BN(conv3x3 x)) + conv1x1 x; out = y + ReLU(BN(conv3x3 y)). */
    @Test
    void residual() {
        Fixture f = Fixture.load("module_residual.safetensors");
        Tensor x = act(f, "input");
        Conv ca = new Conv(f, "a.conv", 1, 1, 1, false);
        Bn ba = new Bn(f, "a.bn");
        Conv cb = new Conv(f, "b.conv", 1, 1, 1, false);
        Bn bb = new Bn(f, "b.bn");
        Conv sc = new Conv(f, "shortcut", 0, 1, 1, false);

        Tensor za = ca.forward(x);
        Tensor a = ba.forward(za, Activation.RELU);
        Tensor s = sc.forward(x);
        Tensor y = add(a, s);
        Tensor zb = cb.forward(y);
        Tensor b = bb.forward(zb, Activation.RELU);
        Tensor out = add(y, b);
        expect("residual output", out, f, "output");

        Tensor dout = act(f, "dout");
        Tensor dzb = bb.backward(dout, zb, b, Activation.RELU);
        Tensor dy = cb.backward(y, dzb);
        be.addInPlace(dy, dout);
        Tensor dza = ba.backward(dy, za, a, Activation.RELU);
        Tensor dx = ca.backward(x, dza);
        be.addInPlace(dx, sc.backward(x, dy));
        expect("residual dinput", dx, f, "dinput");
        for (Conv c : new Conv[] {ca, cb, sc}) {
            c.check(f);
        }
        ba.check(f);
        bb.check(f);
    }

    /** out = x * sigmoid(conv7x7([max_c x, mean_c x])). */
    @Test
    void spatialAttention() {
        Fixture f = Fixture.load("module_spatial_attention.safetensors");
        Tensor x = act(f, "input");
        Conv conv = new Conv(f, "conv", 3, 1, 1, false);
        Tensor s = nhwc(x, 2);
        be.channelMaxMeanForward(x, s);
        Tensor z = conv.forward(s);
        Tensor w = activation(Activation.SIGMOID, z);
        Tensor out = like(x);
        be.mulForward(x, w, out);
        expect("spatial attention output", out, f, "output");

        Tensor dout = act(f, "dout");
        Tensor dx = like(x);
        Tensor dw = like(w);
        be.mulBackward(dout, x, w, dx, dw);
        Tensor dz = activationGrad(Activation.SIGMOID, null, w, dw);
        Tensor ds = conv.backward(s, dz);
        Tensor dx2 = like(x);
        be.channelMaxMeanBackward(x, s, ds, dx2);
        be.addInPlace(dx, dx2);
        expect("spatial attention dinput", dx, f, "dinput");
        conv.check(f);
    }

    /** out = x + BN2(GELU(pw(BN1(GELU(dw(x)))))). */
    @Test
    void mixerBlock() {
        Fixture f = Fixture.load("module_mixer_block.safetensors");
        Tensor x = act(f, "input");
        int c = x.dim(3);
        Conv dw = new Conv(f, "dw", 1, 1, c, true);
        Bn bn1 = new Bn(f, "bn1");
        Conv pw = new Conv(f, "pw", 0, 1, 1, true);
        Bn bn2 = new Bn(f, "bn2");

        Tensor h1 = dw.forward(x);
        Tensor g1 = activation(Activation.GELU, h1);
        Tensor y = bn1.forward(g1, Activation.NONE);
        Tensor h2 = pw.forward(y);
        Tensor g2 = activation(Activation.GELU, h2);
        Tensor z = bn2.forward(g2, Activation.NONE);
        Tensor out = add(x, z);
        expect("mixer output", out, f, "output");

        Tensor dout = act(f, "dout");
        Tensor dg2 = bn2.backward(dout, g2, null, Activation.NONE);
        Tensor dh2 = activationGrad(Activation.GELU, h2, null, dg2);
        Tensor dy = pw.backward(y, dh2);
        Tensor dg1 = bn1.backward(dy, g1, null, Activation.NONE);
        Tensor dh1 = activationGrad(Activation.GELU, h1, null, dg1);
        Tensor dx = dw.backward(x, dh1);
        be.addInPlace(dx, dout);
        expect("mixer dinput", dx, f, "dinput");
        dw.check(f);
        pw.check(f);
        bn1.check(f);
        bn2.check(f);
    }

    /** p, o, d = BN(conv(x)); g = sigmoid(BN(conv1x1(ReLU([p, o])))); out = x + d * g. */
    @Test
    void mcsa() {
        Fixture f = Fixture.load("module_mcsa.safetensors");
        Tensor x = act(f, "input");
        int c = x.dim(3);
        Conv p = new Conv(f, "p", 0, 1, 1, true);
        Conv o = new Conv(f, "o", 1, 1, 1, true);
        Conv d = new Conv(f, "d", 2, 2, 1, true);
        Conv g = new Conv(f, "g", 0, 1, 1, true);
        Bn pBn = new Bn(f, "p_bn");
        Bn oBn = new Bn(f, "o_bn");
        Bn dBn = new Bn(f, "d_bn");
        Bn gBn = new Bn(f, "g_bn");

        Tensor zp = p.forward(x);
        Tensor bp = pBn.forward(zp, Activation.NONE);
        Tensor zo = o.forward(x);
        Tensor bo = oBn.forward(zo, Activation.NONE);
        Tensor cat = nhwc(x, 2 * c);
        be.concatChannels(bp, bo, cat);
        Tensor po = activation(Activation.RELU, cat);
        Tensor zg = g.forward(po);
        Tensor bg = gBn.forward(zg, Activation.NONE);
        Tensor gate = activation(Activation.SIGMOID, bg);
        Tensor zd = d.forward(x);
        Tensor bd = dBn.forward(zd, Activation.NONE);
        Tensor prod = like(x);
        be.mulForward(bd, gate, prod);
        Tensor out = add(x, prod);
        expect("mcsa output", out, f, "output");

        Tensor dout = act(f, "dout");
        Tensor dbd = like(x);
        Tensor dgate = like(x);
        be.mulBackward(dout, bd, gate, dbd, dgate);
        Tensor dbg = activationGrad(Activation.SIGMOID, null, gate, dgate);
        Tensor dzg = gBn.backward(dbg, zg, null, Activation.NONE);
        Tensor dpo = g.backward(po, dzg);
        Tensor dcat = activationGrad(Activation.RELU, cat, null, dpo);
        Tensor dbp = like(x);
        Tensor dbo = like(x);
        be.splitChannels(dcat, dbp, dbo);
        Tensor dx = like(x);
        be.copy(dout, dx);
        be.addInPlace(dx, p.backward(x, pBn.backward(dbp, zp, null, Activation.NONE)));
        be.addInPlace(dx, o.backward(x, oBn.backward(dbo, zo, null, Activation.NONE)));
        be.addInPlace(dx, d.backward(x, dBn.backward(dbd, zd, null, Activation.NONE)));
        expect("mcsa dinput", dx, f, "dinput");
        for (Conv conv : new Conv[] {p, o, d, g}) {
            conv.check(f);
        }
        for (Bn bn : new Bn[] {pBn, oBn, dBn, gBn}) {
            bn.check(f);
        }
    }

    /** Paper form: w = sigmoid(fc_out(fc_max(GMP x) * fc_avg(GAP x))); out = x * w. */
    @Test
    void channelAttention() {
        Fixture f = Fixture.load("module_channel_attention.safetensors");
        Tensor x = act(f, "input");
        int n = x.dim(0);
        int c = x.dim(3);
        int[] hs = f.shape("param.fc_max.weight");
        int hidden = hs[0];
        Tensor wMax = t.plain(f.floats("param.fc_max.weight"), hidden, c);
        Tensor wAvg = t.plain(f.floats("param.fc_avg.weight"), hidden, c);
        Tensor wOut = t.plain(f.floats("param.fc_out.weight"), c, hidden);

        Tensor max = t.zeros(Layout.PLAIN, n, c);
        Tensor avg = t.zeros(Layout.PLAIN, n, c);
        be.globalPoolForward(x, max, avg);
        Tensor a = t.zeros(Layout.PLAIN, n, hidden);
        Tensor b = t.zeros(Layout.PLAIN, n, hidden);
        be.linearForward(max, wMax, null, a);
        be.linearForward(avg, wAvg, null, b);
        Tensor h = like(a);
        be.mulForward(a, b, h);
        Tensor v = t.zeros(Layout.PLAIN, n, c);
        be.linearForward(h, wOut, null, v);
        Tensor w = activation(Activation.SIGMOID, v);
        Tensor out = like(x);
        be.mulForward(x, w, out);
        expect("channel attention output", out, f, "output");

        Tensor dout = act(f, "dout");
        Tensor dx = like(x);
        Tensor dw = like(w);
        be.mulBackward(dout, x, w, dx, dw);
        Tensor dv = activationGrad(Activation.SIGMOID, null, w, dw);
        Tensor dh = like(h);
        Tensor dWOut = like(wOut);
        be.linearBackward(dv, h, wOut, dh, dWOut, null);
        Tensor da = like(a);
        Tensor db = like(b);
        be.mulBackward(dh, a, b, da, db);
        Tensor dMax = like(max);
        Tensor dAvg = like(avg);
        Tensor dWMax = like(wMax);
        Tensor dWAvg = like(wAvg);
        be.linearBackward(da, max, wMax, dMax, dWMax, null);
        be.linearBackward(db, avg, wAvg, dAvg, dWAvg, null);
        Tensor dx2 = like(x);
        be.globalPoolBackward(x, max, dMax, dAvg, dx2);
        be.addInPlace(dx, dx2);
        expect("channel attention dinput", dx, f, "dinput");
        expectGrad("fc_max", dWMax, f, "grad.fc_max.weight");
        expectGrad("fc_avg", dWAvg, f, "grad.fc_avg.weight");
        expectGrad("fc_out", dWOut, f, "grad.fc_out.weight");
    }

    // ------------------------------------------------------------------ loss and optimizer

    @Test
    void lossOfTheTinyModelsLogits() {
        Fixture f = Fixture.load("model_tiny_loss_adam.safetensors");
        Tensor logits = act(f, "logits");
        int[] s = f.shape("target");
        Tensor target = t.ints(f.ints("target"), s[0], s[1], s[2]);
        double loss = be.crossEntropyDiceLoss(logits, target, null, 1f, 1f, 1e-5f);
        assertEquals(f.floats("loss")[0], loss, 1e-5 * Math.abs(loss), "cross-entropy + Dice");
    }

    @Test
    void firstAdamStepOfTheTinyModel() {
        Fixture f = Fixture.load("model_tiny_loss_adam.safetensors");
        for (String name : new String[] {"head.weight", "head.bias", "stem.a.conv.weight", "stem.a.bn.weight",
            "mixer.0.dw.weight"}) {
            Tensor p = t.plain(f.floats("param." + name));
            Tensor g = t.plain(f.floats("grad." + name));
            Tensor m = like(p);
            Tensor v = like(p);
            be.adamStep(p, g, m, v, 1e-4f, 0.9f, 0.999f, 1e-8f, 0f, 1);
            TensorAssert.assertClose("adam " + name, p, f.floats("adam1." + name), 1e-7, 1e-5);
        }
    }
}

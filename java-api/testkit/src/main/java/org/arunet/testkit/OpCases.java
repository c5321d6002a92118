package org.arunet.testkit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Adam;

/**
 * The parity cases: every {@link Backend} op, forward and backward, on random inputs of odd and
 * ARU-Net-like shapes (including ties for the max reductions and NaN/infinity for the activations),
 * and the tiny ARU-Net (width 8, 2x32x32x3) through a training step and the losses of three Adam steps.
 *
 * <p>Tolerances (float32, TF32 off): element-wise {@code 1e-5 + 1e-4 |expected|} (the CPU-vs-reference
 * rule), with the absolute part scaled by the square root of the number of terms for outputs that are
 * sums of many products (convolutions, weight and bias gradients, batch-norm parameter gradients), and
 * the model's gradients norm-wise within 1e-3 against at least 1e-4 of the largest gradient norm (as
 * the PyTorch fixture tests). In FP16 / BF16 mode only the convolutions
 * change: their outputs must be within 2e-3 / 1.6e-2 norm-wise, three times the expected rounding error
 * of half-precision operands with float32 accumulation (unit roundoff 2^-11 and 2^-8: about 0.65 u for
 * a sum of products of two rounded operands, plus the rounding of the half output); the tiny model's
 * outputs accumulate that over ~40 layers: logits within 2e-2 / 1.5e-1, losses 1e-2 / 5e-2 relative. Its
 * half-precision gradients have no bound of their own ({@link Tolerance#measured()}): they differ from
 * float32 by 10-50 % per parameter in PyTorch's own autocast too, so they are judged together, relative to
 * PyTorch AMP's spread ({@link AmpGradientCriterion}).
 */
public final class OpCases {
    private static final double ATOL = 1e-5;
    private static final double RTOL = 1e-4;
    private static final Tolerance DEFAULT = Tolerance.elementwise(ATOL, RTOL);
    private static final Tolerance CONV_FP16 = Tolerance.normwise(2e-3);
    private static final Tolerance CONV_BF16 = Tolerance.normwise(1.6e-2);

    private OpCases() {}

    /** Every case, in a fixed order. */
    public static List<OpCase> all() {
        List<OpCase> c = new ArrayList<>();
        basics(c);
        activations(c);
        convolutions(c);
        fused(c);
        fusedModel(c);
        batchNorm(c);
        pooling(c);
        products(c);
        linear(c);
        losses(c);
        optimizer(c);
        model(c);
        return c;
    }

    /** The op families, in order. */
    public static List<String> groups() {
        List<String> g = new ArrayList<>();
        for (OpCase c : all()) {
            if (!g.contains(c.group())) {
                g.add(c.group());
            }
        }
        return g;
    }

    // ------------------------------------------------------------------ generators

    static float[] randn(Random r, long n, float scale, float offset) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (offset + scale * r.nextGaussian());
        }
        return v;
    }

    static HostTensor rn(Random r, Layout l, float scale, int... shape) {
        return HostTensor.f32(l, shape, randn(r, Tensor.numel(shape), scale, 0f));
    }

    static HostTensor nhwc(Random r, int... shape) {
        return rn(r, Layout.NHWC, 1f, shape);
    }

    static HostTensor ties(Random r, int levels, int... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(levels);
        }
        return HostTensor.f32(Layout.NHWC, shape, v);
    }

    static HostTensor positive(Random r, int n) {
        float[] v = randn(r, n, 1f, 0f);
        for (int i = 0; i < n; i++) {
            v[i] = 0.5f + Math.abs(v[i]);
        }
        return HostTensor.f32(Layout.PLAIN, new int[] {n}, v);
    }

    static HostTensor targets(Random r, int k, int... shape) {
        int[] v = new int[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(k);
        }
        return HostTensor.i32(shape, v);
    }

    static Map<String, HostTensor> map(Object... kv) {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] != null) {
                m.put((String) kv[i], (HostTensor) kv[i + 1]);
            }
        }
        return m;
    }

    static String shape(int... s) {
        return java.util.Arrays.toString(s);
    }

    /** An absolute tolerance for sums of {@code terms} products (rounding grows like its square root). */
    static Tolerance sums(double terms) {
        return Tolerance.both(ATOL * Math.sqrt(terms), RTOL, 1e-5);
    }

    // ------------------------------------------------------------------ basics

    private static final int[][] SHAPES = {{1, 7, 5, 3}, {2, 13, 11, 17}, {2, 16, 16, 64}};

    static void basics(List<OpCase> c) {
        for (int[] s : SHAPES) {
            c.add(OpCase.builder("basics", "add, addInPlace, scale, copy, fill on " + shape(s))
                    .inputs(r -> map("a", nhwc(r, s), "b", nhwc(r, s)))
                    .run((sc, in, out) -> {
                        Backend be = sc.backend();
                        Tensor a = in.get("a");
                        Tensor b = in.get("b");
                        Tensor y = sc.like(a);
                        be.add(a, b, y);
                        out.put("add", HostTensor.of(y));
                        be.copy(b, y);
                        out.put("copy", HostTensor.of(y));
                        be.addInPlace(y, a);
                        out.put("addInPlace", HostTensor.of(y));
                        be.scale(a, -0.37f, y);
                        out.put("scale", HostTensor.of(y));
                        be.scale(y, 2f, y);
                        out.put("scale in place", HostTensor.of(y));
                        be.fill(y, 2.5f);
                        out.put("fill", HostTensor.of(y));
                        out.put("sumOfSquares", HostTensor.scalar(be.sumOfSquares(a)));
                    })
                    .tolerance("sumOfSquares", Tolerance.elementwise(0, 1e-12))
                    .build());
        }
        c.add(OpCase.builder("basics", "sumOfSquares of 100003 values and of a NaN")
                .inputs(r -> map(
                        "x",
                        rn(r, Layout.PLAIN, 1f, 100003),
                        "nan",
                        HostTensor.f32(Layout.PLAIN, new int[] {3}, new float[] {1f, Float.NaN, 2f})))
                .run((sc, in, out) -> {
                    out.put("sum", HostTensor.scalar(sc.backend().sumOfSquares(in.get("x"))));
                    out.put("nan", HostTensor.scalar(sc.backend().sumOfSquares(in.get("nan"))));
                })
                .tolerance(Tolerance.elementwise(0, 1e-12))
                .build());
    }

    // ------------------------------------------------------------------ activations

    static void activations(List<OpCase> c) {
        int[] s = {2, 13, 11, 17};
        c.add(OpCase.builder("activation", "forward and backward of NONE, RELU, GELU, SIGMOID on " + shape(s))
                .inputs(r -> map(
                        "x",
                        rn(r, Layout.NHWC, 3f, s),
                        "dy",
                        nhwc(r, s),
                        "special",
                        HostTensor.f32(Layout.PLAIN, new int[] {6}, new float[] {
                            Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 1e-30f
                        })))
                .run((sc, in, out) -> {
                    Backend be = sc.backend();
                    Tensor x = in.get("x");
                    Tensor dy = in.get("dy");
                    Tensor special = in.get("special");
                    for (Activation a : Activation.values()) {
                        Tensor y = sc.like(x);
                        be.activationForward(a, x, y);
                        out.put(a + " forward", HostTensor.of(y));
                        Tensor dx = sc.like(x);
                        be.activationBackward(a, x, y, dy, dx);
                        out.put(a + " backward", HostTensor.of(dx));
                        Tensor ys = sc.like(special);
                        be.activationForward(a, special, ys);
                        out.put(a + " specials", HostTensor.of(ys));
                        Tensor inPlace = sc.like(x);
                        be.copy(x, inPlace);
                        be.activationForward(a, inPlace, inPlace);
                        out.put(a + " in place", HostTensor.of(inPlace));
                    }
                })
                .build());
    }

    // ------------------------------------------------------------------ convolutions

    /** The convolutions ARU-Net has (C=3 stem, bias or not, dilation 2, 1x1, depthwise, 7x7 2->1) and odd ones. */
    static void convolutions(List<OpCase> c) {
        conv(c, Conv2dSpec.same(3, 16, 3, 1, 1, false), 2, 13, 11);
        conv(c, Conv2dSpec.same(16, 32, 3, 1, 1, true), 2, 12, 10);
        conv(c, Conv2dSpec.same(16, 16, 3, 2, 1, true), 1, 13, 11);
        conv(c, Conv2dSpec.same(24, 40, 1, 1, 1, false), 2, 9, 7);
        conv(c, Conv2dSpec.same(64, 2, 1, 1, 1, true), 2, 8, 8);
        conv(c, Conv2dSpec.same(32, 32, 3, 1, 32, true), 2, 8, 8);
        conv(c, Conv2dSpec.same(32, 32, 7, 1, 32, true), 1, 11, 9);
        conv(c, Conv2dSpec.same(2, 1, 7, 1, 1, false), 2, 8, 8);
        conv(c, Conv2dSpec.same(8, 12, 3, 1, 2, true), 1, 9, 9);
        conv(c, Conv2dSpec.of(8, 8, 3, 2, 1, 1, 1, false), 2, 13, 11);
        conv(c, new Conv2dSpec(5, 7, 3, 5, 2, 1, 1, 2, 1, 2, 1, true), 2, 10, 12);
        conv(c, Conv2dSpec.same(64, 64, 3, 1, 1, false), 2, 16, 16);
        conv(c, Conv2dSpec.same(128, 64, 3, 1, 1, true), 1, 16, 16);
        conv(c, Conv2dSpec.same(64, 128, 1, 1, 1, false), 1, 16, 16);
    }

    static void conv(List<OpCase> c, Conv2dSpec spec, int n, int h, int w) {
        int oh = spec.outH(h);
        int ow = spec.outW(w);
        double terms = (double) n * oh * ow;
        c.add(OpCase.builder("conv2d", spec + " on " + shape(n, h, w))
                .inputs(r -> map(
                        "x",
                        nhwc(r, n, h, w, spec.inChannels()),
                        "w",
                        rn(r, Layout.OIHW, 0.3f, spec.weightShape()),
                        "b",
                        spec.bias() ? rn(r, Layout.PLAIN, 1f, spec.outChannels()) : null,
                        "dy",
                        nhwc(r, n, oh, ow, spec.outChannels())))
                .run((sc, in, out) -> {
                    Conv2dOp op = sc.conv(spec);
                    Tensor x = in.get("x");
                    Tensor wt = in.get("w");
                    Tensor b = in.get("b");
                    Tensor dy = in.get("dy");
                    Tensor y = sc.nhwc(n, oh, ow, spec.outChannels());
                    op.forward(x, wt, b, y, false);
                    out.put("forward (inference)", HostTensor.of(y));
                    op.forward(x, wt, b, y, true);
                    out.put("forward", HostTensor.of(y));
                    Tensor dx = sc.like(x);
                    op.backwardData(dy, wt, dx);
                    out.put("backward data", HostTensor.of(dx));
                    Tensor dw = sc.like(wt);
                    Tensor db = spec.bias() ? sc.plain(spec.outChannels()) : null;
                    op.backwardWeights(x, dy, dw, db);
                    out.put("backward weights", HostTensor.of(dw));
                    if (db != null) {
                        out.put("backward bias", HostTensor.of(db));
                    }
                    // the same weights again after an in-place update: the op must notice the new version
                    sc.backend().scale(wt, 0.5f, wt);
                    op.forward(x, wt, b, y, true);
                    out.put("forward after a weight update", HostTensor.of(y));
                })
                .tolerance(sums((double) (spec.inChannels() / spec.groups()) * spec.kernelH() * spec.kernelW()))
                .tolerance(
                        "backward data",
                        sums((double) (spec.outChannels() / spec.groups()) * spec.kernelH() * spec.kernelW()))
                .tolerance("backward weights", sums(terms))
                .tolerance("backward bias", sums(terms))
                .half(CONV_FP16, CONV_BF16)
                .build());
    }

    // ------------------------------------------------------------------ fused inference convolutions

    /**
     * {@link Backend#convForwardFused} with the epilogues ARU-Net's inference path uses (batch norm, ReLU,
     * GELU, sigmoid, the residual SUM, the MCSA gate's MUL and ADD), the two-block input (x, x2) and
     * {@link Backend#conv2dUpsampled} (forward through the epilogue, and its own forward and backward),
     * on channel counts that take the float4 kernels and odd ones that take the scalar ones.
     */
    static void fused(List<OpCase> c) {
        fusedConv(c, Conv2dSpec.same(16, 32, 3, 1, 1, true), 2, 12, 10, false);
        fusedConv(c, Conv2dSpec.same(24, 16, 1, 1, 1, false), 2, 9, 7, false);
        fusedConv(c, Conv2dSpec.same(5, 7, 3, 1, 1, true), 1, 9, 9, false);
        fusedConv(c, Conv2dSpec.same(32, 16, 3, 1, 1, true), 2, 8, 6, true);
        fusedConv(c, Conv2dSpec.same(6, 5, 3, 1, 1, false), 1, 5, 7, true);
    }

    static void fusedConv(List<OpCase> c, Conv2dSpec spec, int n, int h, int w, boolean upsampled) {
        int f = upsampled ? 2 : 1;
        int oh = spec.outH(f * h);
        int ow = spec.outW(f * w);
        int co = spec.outChannels();
        int c1 = spec.inChannels() / 2;
        double terms = (double) (spec.inChannels() / spec.groups()) * spec.kernelH() * spec.kernelW();
        c.add(OpCase.builder(
                        "fused",
                        (upsampled ? "upsampled " : "") + spec + " on " + shape(n, h, w)
                                + ": convForwardFused epilogues"
                                + (upsampled ? ", forward and backward" : ", two-block input"))
                .inputs(r -> map(
                        "x",
                        nhwc(r, n, h, w, spec.inChannels()),
                        "w",
                        rn(r, Layout.OIHW, 0.3f, spec.weightShape()),
                        "b",
                        spec.bias() ? rn(r, Layout.PLAIN, 1f, co) : null,
                        "gamma",
                        rn(r, Layout.PLAIN, 1f, co),
                        "beta",
                        rn(r, Layout.PLAIN, 1f, co),
                        "mean",
                        rn(r, Layout.PLAIN, 1f, co),
                        "var",
                        positive(r, co),
                        "m",
                        nhwc(r, n, oh, ow, co),
                        "a",
                        nhwc(r, n, oh, ow, co),
                        "y0",
                        nhwc(r, n, oh, ow, co),
                        "dy",
                        nhwc(r, n, oh, ow, co)))
                .run((sc, in, out) -> {
                    Backend be = sc.backend();
                    Conv2dOp op = upsampled ? sc.convUpsampled(spec) : sc.conv(spec);
                    Tensor x = in.get("x");
                    Tensor wt = in.get("w");
                    Tensor b = in.get("b");
                    ConvEpilogue.BatchNorm bn = new ConvEpilogue.BatchNorm(
                            in.get("gamma"), in.get("beta"), in.get("mean"), in.get("var"), 1e-5f);
                    Map<String, ConvEpilogue> epilogues = new LinkedHashMap<>();
                    epilogues.put("none", ConvEpilogue.none());
                    epilogues.put(
                            "bn relu",
                            ConvEpilogue.builder()
                                    .batchNorm(bn)
                                    .act(Activation.RELU)
                                    .build());
                    epilogues.put(
                            "bn relu sum",
                            ConvEpilogue.builder()
                                    .batchNorm(bn)
                                    .act(Activation.RELU)
                                    .sum()
                                    .build());
                    epilogues.put(
                            "bn mul add",
                            ConvEpilogue.builder()
                                    .batchNorm(bn)
                                    .mul(in.get("m"))
                                    .add(in.get("a"))
                                    .build());
                    epilogues.put(
                            "gelu bn add",
                            ConvEpilogue.builder()
                                    .act(Activation.GELU)
                                    .batchNorm(bn)
                                    .add(in.get("a"))
                                    .build());
                    epilogues.put(
                            "bn sigmoid",
                            ConvEpilogue.builder()
                                    .batchNorm(bn)
                                    .act(Activation.SIGMOID)
                                    .build());
                    Tensor y = sc.nhwc(n, oh, ow, co);
                    for (Map.Entry<String, ConvEpilogue> e : epilogues.entrySet()) {
                        be.copy(in.get("y0"), y);
                        be.convForwardFused(op, x, null, wt, b, y, e.getValue());
                        out.put("fused " + e.getKey(), HostTensor.of(y));
                    }
                    if (!upsampled) {
                        // the same convolution on cat[x1, x2], the halves given as two blocks
                        float[] xv = in.get("x").toFloatArray();
                        int cin = spec.inChannels();
                        long pixels = (long) n * h * w;
                        float[] v1 = new float[Math.toIntExact(pixels * c1)];
                        float[] v2 = new float[Math.toIntExact(pixels * (cin - c1))];
                        for (long p = 0; p < pixels; p++) {
                            for (int ch = 0; ch < cin; ch++) {
                                float v = xv[(int) (p * cin + ch)];
                                if (ch < c1) {
                                    v1[(int) (p * c1 + ch)] = v;
                                } else {
                                    v2[(int) (p * (cin - c1) + ch - c1)] = v;
                                }
                            }
                        }
                        Tensor x1 = sc.upload(HostTensor.f32(Layout.NHWC, new int[] {n, h, w, c1}, v1));
                        Tensor x2 = sc.upload(HostTensor.f32(Layout.NHWC, new int[] {n, h, w, cin - c1}, v2));
                        be.convForwardFused(op, x1, x2, wt, b, y, epilogues.get("bn relu"));
                        out.put("two blocks, fused bn relu", HostTensor.of(y));
                    } else {
                        op.forward(x, wt, b, y, true);
                        out.put("forward", HostTensor.of(y));
                        Tensor dx = sc.like(x);
                        op.backwardData(in.get("dy"), wt, dx);
                        out.put("backward data", HostTensor.of(dx));
                        Tensor dw = sc.like(wt);
                        Tensor db = spec.bias() ? sc.plain(co) : null;
                        op.backwardWeights(x, in.get("dy"), dw, db);
                        out.put("backward weights", HostTensor.of(dw));
                        if (db != null) {
                            out.put("backward bias", HostTensor.of(db));
                        }
                    }
                })
                // the batch norm multiplies the convolution's rounding by |gamma| / sqrt(var) (about 2 here)
                .tolerance(sums(4 * terms))
                .tolerance("backward data", sums(4 * (double) co * spec.kernelH() * spec.kernelW()))
                .tolerance("backward weights", sums(4.0 * n * oh * ow))
                .tolerance("backward bias", sums(4.0 * n * oh * ow))
                .half(Tolerance.normwise(3 * 2e-3), Tolerance.normwise(3 * 1.6e-2))
                .build());
    }

    // ------------------------------------------------------------------ batch normalisation

    static void batchNorm(List<OpCase> c) {
        for (int[] s : new int[][] {{2, 13, 11, 17}, {2, 16, 16, 64}, {2, 8, 6, 130}, {1, 1, 2, 3}}) {
            for (Activation act : new Activation[] {Activation.NONE, Activation.RELU}) {
                int ch = s[3];
                long m = (long) s[0] * s[1] * s[2];
                c.add(OpCase.builder("batchnorm", act + " on " + shape(s))
                        .inputs(r -> {
                            HostTensor x = HostTensor.f32(Layout.NHWC, s, randn(r, Tensor.numel(s), 2f, 3f));
                            HostTensor gamma = rn(r, Layout.PLAIN, 1f, ch);
                            HostTensor beta = rn(r, Layout.PLAIN, 1f, ch);
                            Map<String, HostTensor> in = map(
                                    "x",
                                    x,
                                    "gamma",
                                    gamma,
                                    "beta",
                                    beta,
                                    "runningMean",
                                    rn(r, Layout.PLAIN, 1f, ch),
                                    "runningVar",
                                    positive(r, ch),
                                    "dy",
                                    nhwc(r, s));
                            // the backward's saved statistics and output, computed here in double, so that both
                            // backends start the backward from the same values
                            float[] xv = x.floats();
                            float[] mean = new float[ch];
                            float[] inv = new float[ch];
                            float[] y = new float[xv.length];
                            for (int cc = 0; cc < ch; cc++) {
                                double s1 = 0;
                                for (long i = 0; i < m; i++) {
                                    s1 += xv[(int) (i * ch + cc)];
                                }
                                double mu = s1 / m;
                                double s2 = 0;
                                for (long i = 0; i < m; i++) {
                                    double d = xv[(int) (i * ch + cc)] - mu;
                                    s2 += d * d;
                                }
                                mean[cc] = (float) mu;
                                inv[cc] = (float) (1.0 / Math.sqrt(s2 / m + 1e-5));
                                for (long i = 0; i < m; i++) {
                                    int k = (int) (i * ch + cc);
                                    double v = gamma.floats()[cc] * (xv[k] - mu) * inv[cc] + beta.floats()[cc];
                                    y[k] = (float) (act == Activation.RELU ? Math.max(v, 0) : v);
                                }
                            }
                            in.put("savedMean", HostTensor.f32(Layout.PLAIN, new int[] {ch}, mean));
                            in.put("savedInvStd", HostTensor.f32(Layout.PLAIN, new int[] {ch}, inv));
                            in.put("savedY", HostTensor.f32(Layout.NHWC, s, y));
                            return in;
                        })
                        .run((sc, in, out) -> {
                            Backend be = sc.backend();
                            Tensor x = in.get("x");
                            Tensor y = sc.like(x);
                            be.batchNormForward(
                                    x,
                                    in.get("gamma"),
                                    in.get("beta"),
                                    in.get("runningMean"),
                                    in.get("runningVar"),
                                    null,
                                    null,
                                    y,
                                    false,
                                    0.1f,
                                    1e-5f,
                                    act);
                            out.put("inference y", HostTensor.of(y));
                            if (m >= 2) {
                                Tensor sm = sc.plain(ch);
                                Tensor si = sc.plain(ch);
                                be.batchNormForward(
                                        x,
                                        in.get("gamma"),
                                        in.get("beta"),
                                        in.get("runningMean"),
                                        in.get("runningVar"),
                                        sm,
                                        si,
                                        y,
                                        true,
                                        0.1f,
                                        1e-5f,
                                        act);
                                out.put("training y", HostTensor.of(y));
                                out.put("saveMean", HostTensor.of(sm));
                                out.put("saveInvStd", HostTensor.of(si));
                                out.put("runningMean", HostTensor.of(in.get("runningMean")));
                                out.put("runningVar", HostTensor.of(in.get("runningVar")));
                                Tensor dx = sc.like(x);
                                Tensor dg = sc.plain(ch);
                                Tensor db = sc.plain(ch);
                                be.batchNormBackward(
                                        in.get("dy"),
                                        x,
                                        in.get("savedY"),
                                        in.get("gamma"),
                                        in.get("savedMean"),
                                        in.get("savedInvStd"),
                                        dx,
                                        dg,
                                        db,
                                        act);
                                out.put("dx", HostTensor.of(dx));
                                out.put("dGamma", HostTensor.of(dg));
                                out.put("dBeta", HostTensor.of(db));
                            }
                        })
                        .tolerance("dGamma", sums(m))
                        .tolerance("dBeta", sums(m))
                        .build());
            }
        }
    }

    // ------------------------------------------------------------------ pooling, resampling, concatenation

    static void pooling(List<OpCase> c) {
        for (int[] s : new int[][] {{2, 13, 11, 17}, {1, 16, 16, 64}}) {
            for (boolean tied : new boolean[] {false, true}) {
                String tag = (tied ? "ties, " : "") + shape(s);
                c.add(OpCase.builder("pool", "max pooling k3 s2 p1, k2 s2 p0, k3 s1 p1 on " + tag)
                        .inputs(r -> map(
                                "x",
                                tied ? ties(r, 3, s) : nhwc(r, s),
                                "dy1",
                                nhwc(r, s[0], (s[1] - 1) / 2 + 1, (s[2] - 1) / 2 + 1, s[3]),
                                "dy2",
                                nhwc(r, s[0], s[1] / 2, s[2] / 2, s[3]),
                                "dy3",
                                nhwc(r, s)))
                        .run((sc, in, out) -> {
                            Backend be = sc.backend();
                            Tensor x = in.get("x");
                            int[][] cfg = {{3, 2, 1}, {2, 2, 0}, {3, 1, 1}};
                            for (int i = 0; i < 3; i++) {
                                Tensor dy = in.get("dy" + (i + 1));
                                Tensor y = sc.like(dy);
                                be.maxPoolForward(x, y, cfg[i][0], cfg[i][1], cfg[i][2]);
                                String k = "k" + cfg[i][0] + "s" + cfg[i][1] + "p" + cfg[i][2];
                                out.put(k + " forward", HostTensor.of(y));
                                Tensor dx = sc.like(x);
                                be.maxPoolBackward(x, dy, dx, cfg[i][0], cfg[i][1], cfg[i][2]);
                                out.put(k + " backward", HostTensor.of(dx));
                            }
                        })
                        .build());
                c.add(OpCase.builder("pool", "global max/avg pooling on " + tag)
                        .inputs(r -> {
                            HostTensor x = tied ? ties(r, 2, s) : nhwc(r, s);
                            float[] mx = new float[s[0] * s[3]];
                            java.util.Arrays.fill(mx, Float.NEGATIVE_INFINITY);
                            for (int i = 0; i < x.floats().length; i++) {
                                int n = i / (s[1] * s[2] * s[3]);
                                int ch = i % s[3];
                                mx[n * s[3] + ch] = Math.max(mx[n * s[3] + ch], x.floats()[i]);
                            }
                            return map(
                                    "x",
                                    x,
                                    "max",
                                    HostTensor.f32(Layout.PLAIN, new int[] {s[0], s[3]}, mx),
                                    "dMax",
                                    rn(r, Layout.PLAIN, 1f, s[0], s[3]),
                                    "dAvg",
                                    rn(r, Layout.PLAIN, 1f, s[0], s[3]));
                        })
                        .run((sc, in, out) -> {
                            Backend be = sc.backend();
                            Tensor x = in.get("x");
                            Tensor mx = sc.plain(s[0], s[3]);
                            Tensor avg = sc.plain(s[0], s[3]);
                            be.globalPoolForward(x, mx, avg);
                            out.put("max", HostTensor.of(mx));
                            out.put("avg", HostTensor.of(avg));
                            be.globalPoolForward(x, null, avg);
                            out.put("avg alone", HostTensor.of(avg));
                            Tensor dx = sc.like(x);
                            be.globalPoolBackward(x, in.get("max"), in.get("dMax"), in.get("dAvg"), dx);
                            out.put("backward", HostTensor.of(dx));
                            be.globalPoolBackward(x, in.get("max"), in.get("dMax"), null, dx);
                            out.put("backward max only", HostTensor.of(dx));
                            be.globalPoolBackward(x, null, null, in.get("dAvg"), dx);
                            out.put("backward avg only", HostTensor.of(dx));
                        })
                        .build());
                c.add(OpCase.builder("pool", "channel max/mean on " + tag)
                        .inputs(r -> {
                            HostTensor x = tied ? ties(r, 2, s) : nhwc(r, s);
                            int p = s[0] * s[1] * s[2];
                            float[] o = new float[2 * p];
                            for (int i = 0; i < p; i++) {
                                float mx = Float.NEGATIVE_INFINITY;
                                double sum = 0;
                                for (int ch = 0; ch < s[3]; ch++) {
                                    float v = x.floats()[i * s[3] + ch];
                                    mx = Math.max(mx, v);
                                    sum += v;
                                }
                                o[2 * i] = mx;
                                o[2 * i + 1] = (float) (sum / s[3]);
                            }
                            return map(
                                    "x",
                                    x,
                                    "out",
                                    HostTensor.f32(Layout.NHWC, new int[] {s[0], s[1], s[2], 2}, o),
                                    "dOut",
                                    nhwc(r, s[0], s[1], s[2], 2));
                        })
                        .run((sc, in, out) -> {
                            Backend be = sc.backend();
                            Tensor x = in.get("x");
                            Tensor o = sc.nhwc(s[0], s[1], s[2], 2);
                            be.channelMaxMeanForward(x, o);
                            out.put("forward", HostTensor.of(o));
                            Tensor dx = sc.like(x);
                            be.channelMaxMeanBackward(x, in.get("out"), in.get("dOut"), dx);
                            out.put("backward", HostTensor.of(dx));
                        })
                        .build());
            }
            int cb = 5;
            c.add(OpCase.builder("pool", "upsample 2x, concat, split on " + shape(s))
                    .inputs(r -> map(
                            "x",
                            nhwc(r, s),
                            "dy",
                            nhwc(r, s[0], 2 * s[1], 2 * s[2], s[3]),
                            "b",
                            nhwc(r, s[0], s[1], s[2], cb),
                            "dOut",
                            nhwc(r, s[0], s[1], s[2], s[3] + cb)))
                    .run((sc, in, out) -> {
                        Backend be = sc.backend();
                        Tensor x = in.get("x");
                        Tensor up = sc.nhwc(s[0], 2 * s[1], 2 * s[2], s[3]);
                        be.upsample2xForward(x, up);
                        out.put("upsample", HostTensor.of(up));
                        Tensor dx = sc.like(x);
                        be.upsample2xBackward(in.get("dy"), dx);
                        out.put("upsample backward", HostTensor.of(dx));
                        Tensor cat = sc.nhwc(s[0], s[1], s[2], s[3] + cb);
                        be.concatChannels(x, in.get("b"), cat);
                        out.put("concat", HostTensor.of(cat));
                        Tensor da = sc.like(x);
                        Tensor db = sc.like(in.get("b"));
                        be.splitChannels(in.get("dOut"), da, db);
                        out.put("split a", HostTensor.of(da));
                        out.put("split b", HostTensor.of(db));
                    })
                    .build());
        }
    }

    // ------------------------------------------------------------------ broadcasting products

    static void products(List<OpCase> c) {
        for (int[] s : new int[][] {{2, 13, 11, 17}, {2, 16, 16, 64}}) {
            c.add(OpCase.builder("mul", "same, per pixel, per channel on " + shape(s))
                    .inputs(r -> map(
                            "x",
                            nhwc(r, s),
                            "dy",
                            nhwc(r, s),
                            "same",
                            nhwc(r, s),
                            "pixel",
                            nhwc(r, s[0], s[1], s[2], 1),
                            "channel",
                            rn(r, Layout.PLAIN, 1f, s[0], s[3])))
                    .run((sc, in, out) -> {
                        Backend be = sc.backend();
                        Tensor x = in.get("x");
                        for (String mode : new String[] {"same", "pixel", "channel"}) {
                            Tensor w = in.get(mode);
                            Tensor y = sc.like(x);
                            be.mulForward(x, w, y);
                            out.put(mode + " forward", HostTensor.of(y));
                            Tensor dx = sc.like(x);
                            Tensor dw = sc.like(w);
                            be.mulBackward(in.get("dy"), x, w, dx, dw);
                            out.put(mode + " dx", HostTensor.of(dx));
                            out.put(mode + " dw", HostTensor.of(dw));
                            be.mulBackward(in.get("dy"), x, w, null, dw);
                            out.put(mode + " dw alone", HostTensor.of(dw));
                        }
                    })
                    .tolerance("pixel dw", sums(s[3]))
                    .tolerance("pixel dw alone", sums(s[3]))
                    .tolerance("channel dw", sums((double) s[1] * s[2]))
                    .tolerance("channel dw alone", sums((double) s[1] * s[2]))
                    .build());
        }
    }

    // ------------------------------------------------------------------ linear

    static void linear(List<OpCase> c) {
        int[][] sizes = {{1, 1, 1}, {2, 64, 4}, {2, 4, 64}, {3, 37, 5}, {2, 1024, 64}, {5, 7, 2049}};
        for (int[] sz : sizes) {
            int n = sz[0];
            int in = sz[1];
            int outF = sz[2];
            c.add(OpCase.builder("linear", "[" + n + ", " + in + "] -> " + outF)
                    .inputs(r -> map(
                            "x",
                            rn(r, Layout.PLAIN, 1f, n, in),
                            "w",
                            rn(r, Layout.PLAIN, 0.2f, outF, in),
                            "b",
                            rn(r, Layout.PLAIN, 1f, outF),
                            "dy",
                            rn(r, Layout.PLAIN, 1f, n, outF)))
                    .run((sc, inp, out) -> {
                        Backend be = sc.backend();
                        Tensor y = sc.plain(n, outF);
                        be.linearForward(inp.get("x"), inp.get("w"), inp.get("b"), y);
                        out.put("forward", HostTensor.of(y));
                        be.linearForward(inp.get("x"), inp.get("w"), null, y);
                        out.put("forward without bias", HostTensor.of(y));
                        Tensor dx = sc.plain(n, in);
                        Tensor dw = sc.plain(outF, in);
                        Tensor db = sc.plain(outF);
                        be.linearBackward(inp.get("dy"), inp.get("x"), inp.get("w"), dx, dw, db);
                        out.put("dx", HostTensor.of(dx));
                        out.put("dw", HostTensor.of(dw));
                        out.put("db", HostTensor.of(db));
                    })
                    .tolerance("forward", sums(in))
                    .tolerance("forward without bias", sums(in))
                    .tolerance("dx", sums(outF))
                    .tolerance("dw", sums(n))
                    .tolerance("db", sums(n))
                    .build());
        }
    }

    // ------------------------------------------------------------------ losses

    static void losses(List<OpCase> c) {
        for (int[] s : new int[][] {{2, 16, 16, 2}, {2, 9, 7, 5}}) {
            int k = s[3];
            c.add(OpCase.builder("loss", "softmax, CE + Dice, focal Tversky on " + shape(s))
                    .inputs(r -> map("logits", rn(r, Layout.NHWC, 2f, s), "target", targets(r, k, s[0], s[1], s[2])))
                    .run((sc, in, out) -> {
                        Backend be = sc.backend();
                        Tensor logits = in.get("logits");
                        Tensor target = in.get("target");
                        Tensor p = sc.like(logits);
                        be.softmax(logits, p);
                        out.put("softmax", HostTensor.of(p));
                        Tensor d = sc.like(logits);
                        out.put(
                                "ce+dice loss",
                                HostTensor.scalar(be.crossEntropyDiceLoss(logits, target, d, 1f, 1f, 1e-5f)));
                        out.put("ce+dice gradient", HostTensor.of(d));
                        out.put(
                                "ce+dice loss (0.3, 1.7)",
                                HostTensor.scalar(be.crossEntropyDiceLoss(logits, target, d, 0.3f, 1.7f, 1e-5f)));
                        out.put("ce+dice gradient (0.3, 1.7)", HostTensor.of(d));
                        out.put(
                                "ce+dice loss alone",
                                HostTensor.scalar(be.crossEntropyDiceLoss(logits, target, null, 1f, 1f, 1e-5f)));
                        out.put(
                                "focal tversky loss",
                                HostTensor.scalar(be.focalTverskyLoss(logits, target, d, 0.7f, 0.3f, 0.75f, 1e-5f)));
                        out.put("focal tversky gradient", HostTensor.of(d));
                    })
                    .tolerance("ce+dice loss", Tolerance.elementwise(0, 1e-5))
                    .tolerance("ce+dice loss (0.3, 1.7)", Tolerance.elementwise(0, 1e-5))
                    .tolerance("ce+dice loss alone", Tolerance.elementwise(0, 1e-5))
                    .tolerance("focal tversky loss", Tolerance.elementwise(0, 1e-5))
                    .tolerance("ce+dice gradient", Tolerance.elementwise(1e-7, 1e-4))
                    .tolerance("ce+dice gradient (0.3, 1.7)", Tolerance.elementwise(1e-7, 1e-4))
                    .tolerance("focal tversky gradient", Tolerance.elementwise(1e-7, 1e-4))
                    .build());
        }
    }

    // ------------------------------------------------------------------ optimizer

    static void optimizer(List<OpCase> c) {
        for (float wd : new float[] {0f, 0.01f}) {
            c.add(OpCase.builder("adam", "3 steps of 4099 values, weight decay " + wd)
                    .inputs(r -> {
                        HostTensor v = rn(r, Layout.PLAIN, 0.01f, 4099);
                        for (int i = 0; i < v.floats().length; i++) {
                            v.floats()[i] = Math.abs(v.floats()[i]);
                        }
                        return map(
                                "param",
                                rn(r, Layout.PLAIN, 1f, 4099),
                                "grad",
                                rn(r, Layout.PLAIN, 1f, 4099),
                                "m",
                                rn(r, Layout.PLAIN, 0.1f, 4099),
                                "v",
                                v);
                    })
                    .run((sc, in, out) -> {
                        Backend be = sc.backend();
                        for (long step = 1; step <= 3; step++) {
                            be.adamStep(
                                    in.get("param"),
                                    in.get("grad"),
                                    in.get("m"),
                                    in.get("v"),
                                    1e-3f,
                                    0.9f,
                                    0.999f,
                                    1e-8f,
                                    wd,
                                    step);
                        }
                        out.put("param", HostTensor.of(in.get("param")));
                        out.put("m", HostTensor.of(in.get("m")));
                        out.put("v", HostTensor.of(in.get("v")));
                    })
                    .tolerance(Tolerance.elementwise(1e-7, 1e-5))
                    .build());
        }
    }

    // ------------------------------------------------------------------ the tiny model

    /** The tiny ARU-Net of the PyTorch fixture (width 8, mixer kernel 3), PyTorch init, seed 1. */
    static ArUNetConfig tinyConfig() {
        return ArUNetConfig.paper().withWidth(8);
    }

    /** Loss scale of the model cases' gradient check (a power of two: exact in fp32). */
    public static final float GRAD_SCALE = 1024f;

    /** A gradient computed from a loss scaled by {@link #GRAD_SCALE}, scaled back, as host values. */
    public static HostTensor unscaled(Tensor grad) {
        float[] g = grad.toFloatArray();
        for (int i = 0; i < g.length; i++) {
            g[i] /= GRAD_SCALE;
        }
        return HostTensor.f32(grad.layout(), grad.shape(), g);
    }

    static void model(List<OpCase> c) {
        int[] s = {2, 32, 32, 3};
        // gradients that are zero in exact arithmetic (a bias feeding a batch norm) hold rounding noise on both
        // sides: their norm-wise error is taken against 1e-4 of the largest gradient norm (the fixture tests' rule)
        Tolerance grads = Tolerance.normwise(1e-3).withRelativeFloor(1e-4);
        OpCase.Builder b = OpCase.builder(
                        "model", "tiny ARU-Net (width 8) on " + shape(s) + ": training step, 3 Adam steps")
                .inputs(r -> map("x", nhwc(r, s), "target", targets(r, 2, s[0], s[1], s[2])))
                .run((sc, in, out) -> {
                    Backend be = sc.backend();
                    ArUNet net = sc.keep(new ArUNet(be, tinyConfig(), Init.Scheme.PYTORCH, 1));
                    Tensor x = in.get("x");
                    Tensor target = in.get("target");
                    Tensor dLogits = sc.nhwc(s[0], s[1], s[2], 2);
                    net.train(true);
                    Tensor logits = net.forward(x);
                    out.put("logits", HostTensor.of(logits));
                    out.put("loss", HostTensor.scalar(be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f)));
                    // Loss scaling, as mixed-precision training does: the tiny model's gradients (1e-5 to 1e-7)
                    // lie below fp16's normal range; a power of two is exact in fp32, so fp32 results do not change.
                    be.scale(dLogits, GRAD_SCALE, dLogits);
                    net.backward(dLogits);
                    for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                        out.put("grad." + e.getKey(), unscaled(e.getValue().grad()));
                    }
                    for (Map.Entry<String, Tensor> e : net.stateDict().entrySet()) {
                        if (e.getKey().endsWith("running_mean") || e.getKey().endsWith("running_var")) {
                            out.put("after." + e.getKey(), HostTensor.of(e.getValue()));
                        }
                    }
                    net.eval();
                    out.put("eval logits", HostTensor.of(net.forward(x)));
                    net.train(true);
                    try (Adam adam = Adam.of(be, net.namedParameters(), 1e-3f)) {
                        for (int step = 1; step <= 3; step++) {
                            Tensor l = net.forward(x);
                            double loss = be.crossEntropyDiceLoss(l, target, dLogits, 1f, 1f, 1e-5f);
                            out.put("loss after " + (step - 1) + " Adam steps", HostTensor.scalar(loss));
                            net.backward(dLogits);
                            adam.step();
                        }
                    }
                    // (no comparison of the parameters after the Adam steps: Adam moves every weight by about lr
                    // whatever its gradient's size, so weights whose gradient is rounding noise move in directions
                    // that differ between backends; the losses are well conditioned and are compared)
                })
                .tolerance(Tolerance.elementwise(1e-5, 1e-4))
                .half(Tolerance.normwise(1e-1), Tolerance.normwise(4e-1))
                .prefix(
                        "grad.",
                        grads,
                        Tolerance.measured().withRelativeFloor(1e-4),
                        Tolerance.measured().withRelativeFloor(1e-4))
                .prefix(
                        "after.",
                        Tolerance.elementwise(1e-6, 1e-4),
                        Tolerance.normwise(2e-2),
                        Tolerance.normwise(1.5e-1))
                .tolerance("loss", Tolerance.elementwise(0, 1e-5))
                .half("loss", Tolerance.elementwise(0, 1e-2), Tolerance.elementwise(0, 5e-2));
        for (String logits : new String[] {"logits", "eval logits"}) {
            b.half(logits, Tolerance.normwise(2e-2), Tolerance.normwise(1.5e-1));
        }
        for (int step = 0; step < 3; step++) {
            // After two Adam steps, the weights whose gradients are rounding noise have moved by up to 2 lr
            // in backend-specific directions (see above): cuDNN against oneDNN on an H200 gave 1.03e-4
            // (2026-12-04), so 1e-3 there; before that, 1e-4 as for every loss.
            b.tolerance("loss after " + step + " Adam steps", Tolerance.elementwise(0, step < 2 ? 1e-4 : 1e-3));
            b.half(
                    "loss after " + step + " Adam steps",
                    Tolerance.elementwise(0, 1e-2),
                    Tolerance.elementwise(0, 5e-2));
        }
        c.add(b.build());
    }

    /**
     * The tiny ARU-Net's eval-mode forward through the fused inference path (planned activation arena,
     * {@link Backend#convForwardFused}, {@link Backend#conv2dUpsampled}) and the unfused one, twice each
     * (the second pass runs on the planned arena), at two input sizes.
     */
    static void fusedModel(List<OpCase> c) {
        int[] s = {2, 32, 32, 3};
        int[] s2 = {1, 48, 64, 3};
        OpCase.Builder b = OpCase.builder(
                        "fused",
                        "tiny ARU-Net (width 8): eval forward, fused and unfused, on " + shape(s) + " and " + shape(s2))
                .inputs(r -> map("x", nhwc(r, s), "x2", nhwc(r, s2)))
                .run((sc, in, out) -> {
                    ArUNet net = sc.keep(new ArUNet(sc.backend(), tinyConfig(), Init.Scheme.PYTORCH, 1));
                    // running statistics away from 0 / 1, as after training
                    net.train(true);
                    net.forward(in.get("x"));
                    net.eval();
                    for (String input : new String[] {"x", "x2"}) {
                        net.setFusedInference(true);
                        net.forward(in.get(input));
                        out.put("fused logits " + input + ", second pass", HostTensor.of(net.forward(in.get(input))));
                        net.setFusedInference(false);
                        out.put("unfused logits " + input, HostTensor.of(net.forward(in.get(input))));
                    }
                })
                .tolerance(Tolerance.both(1e-4, 1e-3, 1e-4))
                .half(Tolerance.normwise(2e-2), Tolerance.normwise(1.5e-1));
        c.add(b.build());
    }
}

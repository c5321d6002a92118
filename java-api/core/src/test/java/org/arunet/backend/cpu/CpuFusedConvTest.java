package org.arunet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.backend.Precision;
import org.arunet.backend.reference.ReferenceBackend;
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
 * The CPU backend's fused inference convolutions ({@link CpuBackend#convForwardFused}: batch norm
 * folded into the weights, oneDNN post-ops, split inputs, bf16) and its upsampling convolution
 * ({@link CpuBackend#conv2dUpsampled}: the 2x2 phase decomposition, forward and both backward passes)
 * against the reference backend, whose defaults compose the same results from its unfused ops
 * (materialised concatenation and upsampling, one elementwise op per step). Random inputs, odd
 * channel counts, batch norms with non-trivial statistics.
 */
class CpuFusedConvTest {
    private static final double ATOL = 2e-5;
    private static final double RTOL = 2e-4;

    private static CpuBackend cpu;
    private static ReferenceBackend ref;
    private TestTensors t;
    private Random rnd;

    @BeforeAll
    static void backends() {
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
        rnd = new Random(77);
        cpu.setInferencePrecision(Precision.F32);
    }

    @AfterEach
    void close() {
        t.close();
    }

    private Tensor rand(Layout layout, double scale, double offset, int... shape) {
        Tensor x = t.zeros(layout, shape);
        float[] a = new float[(int) x.numel()];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (offset + scale * rnd.nextGaussian());
        }
        x.copyFrom(a);
        return x;
    }

    private Tensor rand(int... nhwc) {
        return rand(Layout.NHWC, 1, 0, nhwc);
    }

    /** Batch-norm parameters with non-trivial statistics (variance in [0.25, 2.25]). */
    private ConvEpilogue.BatchNorm bn(int c) {
        Tensor var = t.zeros(Layout.PLAIN, c);
        float[] v = new float[c];
        for (int i = 0; i < c; i++) {
            v[i] = (float) (0.25 + 2 * rnd.nextDouble());
        }
        var.copyFrom(v);
        return new ConvEpilogue.BatchNorm(
                rand(Layout.PLAIN, 0.5, 1, c),
                rand(Layout.PLAIN, 0.5, 0, c),
                rand(Layout.PLAIN, 0.3, 0, c),
                var,
                1e-5f);
    }

    private Tensor weights(Conv2dSpec s) {
        double fan = (double) s.inChannels() / s.groups() * s.kernelH() * s.kernelW();
        return rand(Layout.OIHW, 1 / Math.sqrt(fan), 0, s.weightShape());
    }

    /** The epilogues exercised, as functions of (y-shaped operands a and m, channels). */
    static Stream<Arguments> epilogues() {
        List<Arguments> l = new ArrayList<>();
        l.add(Arguments.of("none", (Function<Ops, ConvEpilogue>) o -> ConvEpilogue.none()));
        l.add(Arguments.of("bn", (Function<Ops, ConvEpilogue>)
                o -> ConvEpilogue.builder().batchNorm(o.bn).build()));
        l.add(Arguments.of("bn relu", (Function<Ops, ConvEpilogue>)
                o -> ConvEpilogue.builder().batchNorm(o.bn).act(Activation.RELU).build()));
        l.add(Arguments.of("bn relu sum", (Function<Ops, ConvEpilogue>) o -> ConvEpilogue.builder()
                .batchNorm(o.bn)
                .act(Activation.RELU)
                .sum()
                .build()));
        l.add(Arguments.of("bn sigmoid", (Function<Ops, ConvEpilogue>) o ->
                ConvEpilogue.builder().batchNorm(o.bn).act(Activation.SIGMOID).build()));
        l.add(Arguments.of("bn relu add", (Function<Ops, ConvEpilogue>) o -> ConvEpilogue.builder()
                .batchNorm(o.bn)
                .act(Activation.RELU)
                .add(o.a)
                .build()));
        l.add(Arguments.of("bn mul add", (Function<Ops, ConvEpilogue>)
                o -> ConvEpilogue.builder().batchNorm(o.bn).mul(o.m).add(o.a).build()));
        l.add(Arguments.of("gelu bn", (Function<Ops, ConvEpilogue>)
                o -> ConvEpilogue.builder().act(Activation.GELU).batchNorm(o.bn).build()));
        l.add(Arguments.of("gelu bn add", (Function<Ops, ConvEpilogue>) o -> ConvEpilogue.builder()
                .act(Activation.GELU)
                .batchNorm(o.bn)
                .add(o.a)
                .build()));
        l.add(Arguments.of("sum sigmoid", (Function<Ops, ConvEpilogue>)
                o -> ConvEpilogue.builder().sum().act(Activation.SIGMOID).build()));
        l.add(Arguments.of("bn bn relu", (Function<Ops, ConvEpilogue>) o -> ConvEpilogue.builder()
                .batchNorm(o.bn)
                .batchNorm(o.bn2)
                .act(Activation.RELU)
                .build()));
        return l.stream();
    }

    /** Operands an epilogue may use. */
    record Ops(ConvEpilogue.BatchNorm bn, ConvEpilogue.BatchNorm bn2, Tensor a, Tensor m) {}

    static Stream<Conv2dSpec> specs() {
        return Stream.of(
                Conv2dSpec.same(5, 7, 3, 1, 1, false),
                Conv2dSpec.same(16, 24, 1, 1, 1, true),
                Conv2dSpec.same(8, 8, 3, 2, 1, true),
                Conv2dSpec.same(16, 16, 3, 1, 16, true),
                Conv2dSpec.same(3, 16, 3, 1, 1, false),
                Conv2dSpec.of(6, 10, 3, 2, 1, 1, 1, true));
    }

    static Stream<Arguments> cases() {
        List<Arguments> l = new ArrayList<>();
        for (Conv2dSpec s : specs().toList()) {
            for (Arguments e : epilogues().toList()) {
                l.add(Arguments.of(s, e.get()[0], e.get()[1]));
            }
        }
        return l.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void fusedForwardMatchesTheComposedOps(Conv2dSpec s, String name, Function<Ops, ConvEpilogue> make) {
        Tensor x = rand(2, 9, 7, s.inChannels());
        Tensor w = weights(s);
        Tensor b = s.bias() ? rand(Layout.PLAIN, 0.2, 0, s.outChannels()) : null;
        int[] ys = {2, s.outH(9), s.outW(7), s.outChannels()};
        Ops o = new Ops(bn(s.outChannels()), bn(s.outChannels()), rand(ys), rand(ys));
        ConvEpilogue e = make.apply(o);
        Tensor prior = rand(ys);
        Tensor yc = t.zeros(Layout.NHWC, ys);
        Tensor yr = t.zeros(Layout.NHWC, ys);
        cpu.copy(prior, yc);
        ref.copy(prior, yr);
        try (Conv2dOp oc = cpu.conv2d(s);
                Conv2dOp or = ref.conv2d(s)) {
            long composed = cpu.composedFusions();
            cpu.convForwardFused(oc, x, null, w, b, yc, e);
            assertEquals(composed, cpu.composedFusions(), "the native path runs " + e);
            ref.convForwardFused(or, x, null, w, b, yr, e);
            TensorAssert.assertClose(s + " " + name, yc, yr, ATOL, RTOL);
            // the cached folded weights and primitives are reused on a second call
            cpu.copy(prior, yc);
            cpu.convForwardFused(oc, x, null, w, b, yc, e);
            TensorAssert.assertClose(s + " " + name + " (second call)", yc, yr, ATOL, RTOL);
        }
    }

    @ParameterizedTest(name = "split {0}+{1}")
    @MethodSource("splits")
    void splitInputMatchesTheConcatenation(int c1, int c2, int kernel) {
        Conv2dSpec s = Conv2dSpec.same(c1 + c2, 12, kernel, 1, 1, true);
        Tensor x = rand(2, 6, 5, c1);
        Tensor x2 = rand(2, 6, 5, c2);
        Tensor w = weights(s);
        Tensor b = rand(Layout.PLAIN, 0.2, 0, 12);
        ConvEpilogue.BatchNorm norm = bn(12);
        Tensor a = rand(2, 6, 5, 12);
        for (ConvEpilogue e : List.of(
                ConvEpilogue.none(),
                ConvEpilogue.builder().batchNorm(norm).act(Activation.RELU).build(),
                ConvEpilogue.builder()
                        .batchNorm(norm)
                        .act(Activation.SIGMOID)
                        .add(a)
                        .build())) {
            Tensor yc = t.zeros(Layout.NHWC, 2, 6, 5, 12);
            Tensor yr = t.zeros(Layout.NHWC, 2, 6, 5, 12);
            try (Conv2dOp oc = cpu.conv2d(s);
                    Conv2dOp or = ref.conv2d(s)) {
                long composed = cpu.composedFusions();
                cpu.convForwardFused(oc, x, x2, w, b, yc, e);
                assertEquals(composed, cpu.composedFusions(), "the native path runs a split " + e);
                ref.convForwardFused(or, x, x2, w, b, yr, e);
                TensorAssert.assertClose("split " + c1 + "+" + c2 + " " + e, yc, yr, ATOL, RTOL);
            }
        }
    }

    static Stream<Arguments> splits() {
        return Stream.of(
                Arguments.of(5, 11, 3), Arguments.of(16, 16, 1), Arguments.of(64, 64, 3), Arguments.of(1, 3, 3));
    }

    @ParameterizedTest(name = "upsampling {0}")
    @MethodSource("upsamplingSpecs")
    void upsamplingConvolutionMatchesUpsampleThenConvolve(Conv2dSpec s) {
        int n = 2;
        int h = 5;
        int wd = 7;
        Tensor x = rand(n, h, wd, s.inChannels());
        Tensor w = weights(s);
        Tensor b = s.bias() ? rand(Layout.PLAIN, 0.2, 0, s.outChannels()) : null;
        int[] ys = {n, 2 * h, 2 * wd, s.outChannels()};
        Tensor dy = rand(ys);
        try (Conv2dOp oc = cpu.conv2dUpsampled(s);
                Conv2dOp or = ref.conv2dUpsampled(s)) {
            assertTrue(((CpuConv2dOp) oc).upsampling());
            for (boolean training : new boolean[] {false, true}) {
                Tensor yc = t.zeros(Layout.NHWC, ys);
                Tensor yr = t.zeros(Layout.NHWC, ys);
                oc.forward(x, w, b, yc, training);
                or.forward(x, w, b, yr, training);
                TensorAssert.assertClose(s + " forward training=" + training, yc, yr, ATOL, RTOL);
            }
            Tensor dxc = t.zeros(Layout.NHWC, x.shape());
            Tensor dxr = t.zeros(Layout.NHWC, x.shape());
            oc.backwardData(dy, w, dxc);
            or.backwardData(dy, w, dxr);
            TensorAssert.assertClose(s + " backwardData", dxc, dxr, 1e-4, RTOL);
            Tensor dwc = t.zeros(Layout.OIHW, s.weightShape());
            Tensor dwr = t.zeros(Layout.OIHW, s.weightShape());
            Tensor dbc = s.bias() ? t.zeros(Layout.PLAIN, s.outChannels()) : null;
            Tensor dbr = s.bias() ? t.zeros(Layout.PLAIN, s.outChannels()) : null;
            oc.backwardWeights(x, dy, dwc, dbc);
            or.backwardWeights(x, dy, dwr, dbr);
            TensorAssert.assertCloseNorm(s + " backwardWeights", dwc, dwr, 1e-5);
            TensorAssert.assertClose(s + " backwardWeights", dwc, dwr, 5e-4, RTOL);
            if (s.bias()) {
                TensorAssert.assertClose(s + " backwardWeights db", dbc, dbr, 5e-4, RTOL);
            }
            // fused inference: folded batch norm and ReLU
            ConvEpilogue e = ConvEpilogue.builder()
                    .batchNorm(bn(s.outChannels()))
                    .act(Activation.RELU)
                    .build();
            Tensor yc = t.zeros(Layout.NHWC, ys);
            Tensor yr = t.zeros(Layout.NHWC, ys);
            long composed = cpu.composedFusions();
            cpu.convForwardFused(oc, x, null, w, b, yc, e);
            assertEquals(composed, cpu.composedFusions(), "the native path runs the upsampling " + e);
            ref.convForwardFused(or, x, null, w, b, yr, e);
            TensorAssert.assertClose(s + " fused", yc, yr, ATOL, RTOL);
            // an epilogue the phase convolution cannot run is composed: still the same result
            Tensor a = rand(ys);
            ConvEpilogue added =
                    ConvEpilogue.builder().act(Activation.RELU).add(a).build();
            cpu.convForwardFused(oc, x, null, w, b, yc, added);
            assertEquals(composed + 1, cpu.composedFusions(), "composed: " + added);
            ref.convForwardFused(or, x, null, w, b, yr, added);
            TensorAssert.assertClose(s + " composed", yc, yr, ATOL, RTOL);
        }
    }

    static Stream<Conv2dSpec> upsamplingSpecs() {
        // 128 -> 4 x 40 phase channels: backward weights on channel-blocked layouts
        return Stream.of(
                Conv2dSpec.same(6, 4, 3, 1, 1, true),
                Conv2dSpec.same(3, 17, 3, 1, 1, false),
                Conv2dSpec.same(32, 16, 3, 1, 1, true),
                Conv2dSpec.same(128, 40, 3, 1, 1, true));
    }

    @Test
    void otherUpsamplingSpecsAreComposed() {
        Conv2dSpec s = Conv2dSpec.same(4, 6, 1, 1, 1, true);
        Tensor x = rand(1, 3, 4, 4);
        Tensor w = weights(s);
        Tensor b = rand(Layout.PLAIN, 0.2, 0, 6);
        try (Conv2dOp oc = cpu.conv2dUpsampled(s);
                Conv2dOp or = ref.conv2dUpsampled(s)) {
            assertFalse(oc instanceof CpuConv2dOp);
            Tensor yc = t.zeros(Layout.NHWC, 1, 6, 8, 6);
            Tensor yr = t.zeros(Layout.NHWC, 1, 6, 8, 6);
            oc.forward(x, w, b, yc, false);
            or.forward(x, w, b, yr, false);
            TensorAssert.assertClose("1x1 after upsampling", yc, yr, ATOL, RTOL);
        }
    }

    @Test
    void foldedWeightsFollowTheirTensorsVersions() {
        Conv2dSpec s = Conv2dSpec.same(8, 8, 3, 1, 1, false);
        Tensor x = rand(1, 6, 6, 8);
        Tensor w = weights(s);
        ConvEpilogue.BatchNorm norm = bn(8);
        ConvEpilogue e =
                ConvEpilogue.builder().batchNorm(norm).act(Activation.RELU).build();
        Tensor yc = t.zeros(Layout.NHWC, 1, 6, 6, 8);
        Tensor yr = t.zeros(Layout.NHWC, 1, 6, 6, 8);
        try (Conv2dOp oc = cpu.conv2d(s);
                Conv2dOp or = ref.conv2d(s)) {
            for (int round = 0; round < 4; round++) {
                switch (round) {
                    case 1 -> norm.var().copyFrom(rand(Layout.PLAIN, 0.1, 1, 8).toFloatArray());
                    case 2 -> w.copyFrom(weights(s).toFloatArray());
                    case 3 -> cpu.scale(norm.gamma(), 2f, norm.gamma());
                    default -> {}
                }
                cpu.convForwardFused(oc, x, null, w, null, yc, e);
                ref.convForwardFused(or, x, null, w, null, yr, e);
                TensorAssert.assertClose("round " + round, yc, yr, ATOL, RTOL);
                // the training forward of the same op keeps its own, unfolded weights
                Tensor plain = t.zeros(Layout.NHWC, 1, 6, 6, 8);
                Tensor plainRef = t.zeros(Layout.NHWC, 1, 6, 6, 8);
                oc.forward(x, w, null, plain, true);
                or.forward(x, w, null, plainRef, true);
                TensorAssert.assertClose("round " + round + " training forward", plain, plainRef, ATOL, RTOL);
            }
        }
    }

    @Test
    void aPerPixelOperandIsComposed() {
        Conv2dSpec s = Conv2dSpec.same(4, 6, 3, 1, 1, true);
        Tensor x = rand(2, 5, 5, 4);
        Tensor w = weights(s);
        Tensor b = rand(Layout.PLAIN, 0.2, 0, 6);
        Tensor pixel = rand(2, 5, 5, 1);
        ConvEpilogue e =
                ConvEpilogue.builder().act(Activation.SIGMOID).mul(pixel).build();
        Tensor yc = t.zeros(Layout.NHWC, 2, 5, 5, 6);
        Tensor yr = t.zeros(Layout.NHWC, 2, 5, 5, 6);
        try (Conv2dOp oc = cpu.conv2d(s);
                Conv2dOp or = ref.conv2d(s)) {
            long composed = cpu.composedFusions();
            cpu.convForwardFused(oc, x, null, w, b, yc, e);
            assertEquals(composed + 1, cpu.composedFusions(), "composed: " + e);
            ref.convForwardFused(or, x, null, w, b, yr, e);
            TensorAssert.assertClose("per-pixel mul", yc, yr, ATOL, RTOL);
        }
    }

    @Test
    void invalidArgumentsAreRefusedBeforeNativeCode() {
        Conv2dSpec s = Conv2dSpec.same(4, 6, 3, 1, 1, true);
        Tensor x = rand(1, 5, 5, 4);
        Tensor w = weights(s);
        Tensor b = rand(Layout.PLAIN, 0.2, 0, 6);
        Tensor y = t.zeros(Layout.NHWC, 1, 5, 5, 6);
        try (Conv2dOp oc = cpu.conv2d(s)) {
            ConvEpilogue wrongBn = ConvEpilogue.builder().batchNorm(bn(5)).build();
            assertThrows(IllegalArgumentException.class, () -> cpu.convForwardFused(oc, x, null, w, b, y, wrongBn));
            ConvEpilogue aliased = ConvEpilogue.builder().add(y).build();
            assertThrows(IllegalArgumentException.class, () -> cpu.convForwardFused(oc, x, null, w, b, y, aliased));
            Tensor x2 = rand(1, 5, 5, 3);
            assertThrows(
                    IllegalArgumentException.class,
                    () -> cpu.convForwardFused(oc, x, x2, w, b, y, ConvEpilogue.none()));
            assertThrows(
                    IllegalArgumentException.class,
                    () -> cpu.convForwardFused(oc, x, null, w, null, y, ConvEpilogue.none()));
        }
    }

    @Test
    void bf16InferenceIsCloseToF32() {
        if (!cpu.supportsBf16Inference()) {
            assertThrows(IllegalArgumentException.class, () -> cpu.setInferencePrecision(Precision.BF16));
            return;
        }
        Conv2dSpec s = Conv2dSpec.same(32, 32, 3, 1, 1, true);
        Tensor x = rand(1, 12, 12, 32);
        Tensor x2 = rand(1, 12, 12, 16);
        Tensor w = weights(s);
        Tensor b = rand(Layout.PLAIN, 0.2, 0, 32);
        ConvEpilogue e =
                ConvEpilogue.builder().batchNorm(bn(32)).act(Activation.RELU).build();
        Tensor y32 = t.zeros(Layout.NHWC, 1, 12, 12, 32);
        Tensor y16 = t.zeros(Layout.NHWC, 1, 12, 12, 32);
        Conv2dSpec up = Conv2dSpec.same(16, 8, 3, 1, 1, true);
        Tensor wu = weights(up);
        Tensor bu = rand(Layout.PLAIN, 0.2, 0, 8);
        Tensor u32 = t.zeros(Layout.NHWC, 1, 24, 24, 8);
        Tensor u16 = t.zeros(Layout.NHWC, 1, 24, 24, 8);
        Conv2dSpec split = Conv2dSpec.same(48, 8, 1, 1, 1, true);
        Tensor ws = weights(split);
        Tensor bs = rand(Layout.PLAIN, 0.2, 0, 8);
        Tensor s32 = t.zeros(Layout.NHWC, 1, 12, 12, 8);
        Tensor s16 = t.zeros(Layout.NHWC, 1, 12, 12, 8);
        try (Conv2dOp oc = cpu.conv2d(s);
                Conv2dOp ou = cpu.conv2dUpsampled(up);
                Conv2dOp os = cpu.conv2d(split)) {
            cpu.convForwardFused(oc, x, null, w, b, y32, e);
            cpu.convForwardFused(ou, x2, null, wu, bu, u32, ConvEpilogue.none());
            cpu.convForwardFused(os, x, x2, ws, bs, s32, ConvEpilogue.none());
            cpu.setInferencePrecision(Precision.BF16);
            assertEquals(Precision.BF16, cpu.inferencePrecision());
            cpu.convForwardFused(oc, x, null, w, b, y16, e);
            cpu.convForwardFused(ou, x2, null, wu, bu, u16, ConvEpilogue.none());
            cpu.convForwardFused(os, x, x2, ws, bs, s16, ConvEpilogue.none());
            assertTrue(((CpuConv2dOp) oc)
                    .fusedImplementation(CpuConv2dOp.POST_RELU, true, 1, 12, 12)
                    .contains("bf16"));
        } finally {
            cpu.setInferencePrecision(Precision.F32);
        }
        // bf16 keeps 8 significant bits: about 0.4 % relative error per product, averaging out in sums
        TensorAssert.assertCloseNorm("bf16 3x3", y16, y32, 1e-2);
        TensorAssert.assertCloseNorm("bf16 upsampling", u16, u32, 1e-2);
        TensorAssert.assertCloseNorm("bf16 split 1x1", s16, s32, 1e-2);
    }
}

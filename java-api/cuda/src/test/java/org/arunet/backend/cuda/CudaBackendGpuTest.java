package org.arunet.backend.cuda;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.arunet.testing.TensorAssert.assertCloseNorm;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.arunet.backend.ArunetException;
import org.arunet.backend.Precision;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testing.Fixture;
import org.arunet.testkit.AmpGradientCriterion;
import org.arunet.testkit.Comparison;
import org.arunet.testkit.HostTensor;
import org.arunet.testkit.OpCase;
import org.arunet.testkit.OpCases;
import org.arunet.train.Adam;
import org.arunet.train.LossScaler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU backend on a GPU (skipped, with the reason, where there is none): every parity case against
 * the CPU backend in float32 and, for the convolutions and the model, in FP16 and BF16; the tiny model
 * against the PyTorch fixture; determinism; memory given back; out-of-memory as an exception; fp16
 * training with loss scaling.
 */
@ExtendWith(RequiresGpu.class)
class CudaBackendGpuTest {
    private static CpuBackend cpu;
    private static CudaBackend cuda;

    @BeforeAll
    static void open() {
        cpu = new CpuBackend();
        cuda = new CudaBackend(Precision.F32);
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
        if (cpu != null) {
            cpu.close();
        }
    }

    static Stream<OpCase> cases() {
        return OpCases.all().stream();
    }

    private static void assertParity(OpCase c, CudaBackend gpu, Precision p) {
        Map<String, HostTensor> inputs = c.inputs();
        Map<String, HostTensor> expected = c.run(cpu, inputs);
        Map<String, HostTensor> actual = c.run(gpu, c.inputs());
        List<Comparison.Result> results = new ArrayList<>(Comparison.compare(c, actual, expected, p));
        Map<String, Double> gradients = AmpGradientCriterion.gradientErrors(results);
        if (p.isHalf() && !gradients.isEmpty()) {
            // the model's half-precision gradients, judged together against PyTorch AMP's spread (its H200
            // calibration here; GpuHarness parity measures it in the same run)
            results.add(AmpGradientCriterion.asResult(
                    c.group(),
                    c.name(),
                    AmpGradientCriterion.judge(gradients, AmpGradientCriterion.h200Calibration(p))));
        }
        String failures = results.stream()
                .filter(r -> !r.pass())
                .map(Comparison.Result::line)
                .collect(Collectors.joining("\n"));
        if (!failures.isEmpty()) {
            fail(c.name() + " (" + p + "):\n" + failures);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fp32MatchesTheCpuBackend(OpCase c) {
        assertParity(c, cuda, Precision.F32);
    }

    static Stream<Arguments> halfCases() {
        return OpCases.all().stream()
                .filter(c -> c.group().equals("conv2d")
                        || c.group().equals("fused")
                        || c.group().equals("model"))
                .flatMap(c -> Stream.of(Arguments.of(c, Precision.F16), Arguments.of(c, Precision.BF16)));
    }

    static Stream<OpCase> convCases() {
        return OpCases.all().stream().filter(c -> c.group().equals("conv2d"));
    }

    /** TF32 operands have fp16's 10-bit mantissa: the convolutions are held to the fp16 tolerances. */
    @ParameterizedTest(name = "tf32 {0}")
    @MethodSource("convCases")
    void tf32ConvolutionsWithinTheirRounding(OpCase c) {
        try (CudaBackend tf32 = new CudaBackend(Precision.F32, true)) {
            assertTrue(tf32.tf32());
            Map<String, HostTensor> expected = c.run(cpu, c.inputs());
            Map<String, HostTensor> actual = c.run(tf32, c.inputs());
            String failures = Comparison.compare(c, actual, expected, Precision.F16).stream()
                    .filter(r -> !r.pass())
                    .map(Comparison.Result::line)
                    .collect(Collectors.joining("\n"));
            if (!failures.isEmpty()) {
                fail(c.name() + " (tf32):\n" + failures);
            }
        }
    }

    @ParameterizedTest(name = "{1} {0}")
    @MethodSource("halfCases")
    void halfPrecisionWithinItsTolerance(OpCase c, Precision p) {
        try (CudaBackend half = new CudaBackend(p)) {
            assertParity(c, half, p);
        }
    }

    @Test
    void tinyModelMatchesPyTorch() {
        try (Fixture f = Fixture.load("model_tiny.safetensors");
                ArUNet net = new ArUNet(cuda, ArUNetConfig.paper().withWidth(8), Init.Scheme.PYTORCH, 1);
                Tensor x = f.nhwcTensor(cuda, "input");
                Tensor target = f.targetTensor(cuda, "target");
                Tensor dLogits = cuda.allocate(DType.F32, Layout.NHWC, 2, 32, 32, 2)) {
            f.loadInto(net, "param.");
            net.train(true);
            Tensor logits = net.forward(x);
            assertClose("logits", Fixture.toNchw(logits), f.floats("logits"), 1e-5, 1e-4);
            double loss = cuda.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
            assertClose("loss", new float[] {(float) loss}, f.floats("loss"), 0, 1e-5);
            net.backward(dLogits);
            double floor = Fixture.GRAD_FLOOR * f.largestNorm("grad.");
            for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                assertCloseNorm(
                        "grad." + e.getKey(),
                        e.getValue().grad().toFloatArray(),
                        f.floats("grad." + e.getKey()),
                        1e-3,
                        floor);
            }
            net.eval();
            assertClose("eval_logits", Fixture.toNchw(net.forward(x)), f.floats("eval_logits"), 1e-5, 1e-4);
        }
    }

    @Test
    void resultsAreBitwiseReproducible() {
        OpCase model = OpCases.all().stream()
                .filter(c -> c.group().equals("model"))
                .findFirst()
                .orElseThrow();
        Map<String, HostTensor> a = model.run(cuda, model.inputs());
        Map<String, HostTensor> b = model.run(cuda, model.inputs());
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            HostTensor x = a.get(k);
            HostTensor y = b.get(k);
            if (x.floats() != null) {
                assertArrayEquals(x.floats(), y.floats(), k);
            } else if (x.longs() != null) {
                assertArrayEquals(x.longs(), y.longs(), k);
            }
        }
    }

    @Test
    void memoryIsGivenBackAndClosedTensorsFail() {
        CudaBackend be = new CudaBackend(Precision.F32);
        Tensor kept;
        long baseline = be.memoryStats().inUseBytes();
        try (ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(8), Init.Scheme.PYTORCH, 3);
                Tensor x = be.allocate(DType.F32, Layout.NHWC, 2, 32, 32, 3)) {
            net.forward(x);
            assertTrue(be.memoryStats().inUseBytes() > baseline);
        }
        long afterModel = be.memoryStats().inUseBytes();
        assertTrue(
                afterModel <= baseline + be.context().workspaceBytes() + (64L << 20),
                "everything but the shared workspaces went back: " + afterModel + " vs " + baseline);
        kept = be.allocate(DType.F32, Layout.PLAIN, 1000);
        be.close();
        assertThrows(IllegalStateException.class, kept::toFloatArray);
        assertThrows(IllegalStateException.class, () -> be.allocate(DType.F32, Layout.PLAIN, 4));
        kept.close();
        be.close();
    }

    @Test
    void outOfMemoryIsAnExceptionNamingTheRequest() {
        ArunetException e = assertThrows(
                ArunetException.class, () -> cuda.allocate(DType.F32, Layout.NHWC, 1 << 16, 1 << 16, 1 << 10, 1));
        assertTrue(e.getMessage().contains("out of memory"), e.getMessage());
        assertTrue(e.getMessage().contains("[65536, 65536, 1024, 1]"), e.getMessage());
        try (Tensor t = cuda.allocate(DType.F32, Layout.PLAIN, 16)) {
            cuda.fill(t, 1f);
            assertEquals(16.0, cuda.sumOfSquares(t));
        }
    }

    @Test
    void badTargetIsRejected() {
        try (Tensor logits = cuda.allocate(DType.F32, Layout.NHWC, 1, 4, 4, 2);
                Tensor target = cuda.allocate(DType.I32, Layout.PLAIN, 1, 4, 4)) {
            int[] t = new int[16];
            t[9] = 2;
            target.copyFrom(t);
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> cuda.crossEntropyDiceLoss(logits, target, null, 1f, 1f, 1e-5f));
            assertTrue(e.getMessage().contains("value 2 at flat index 9"), e.getMessage());
        }
    }

    @Test
    void fp16TrainingWithLossScalingLearns() {
        try (CudaBackend half = new CudaBackend(Precision.F16);
                ArUNet net = new ArUNet(half, ArUNetConfig.paper().withWidth(8), Init.Scheme.PYTORCH, 7);
                Tensor x = half.allocate(DType.F32, Layout.NHWC, 2, 32, 32, 3);
                Tensor target = half.allocate(DType.I32, Layout.PLAIN, 2, 32, 32);
                Tensor d = half.allocate(DType.F32, Layout.NHWC, 2, 32, 32, 2);
                Adam adam = Adam.of(half, net.namedParameters(), 1e-3f)) {
            Random r = new Random(1);
            float[] xv = new float[2 * 32 * 32 * 3];
            int[] tv = new int[2 * 32 * 32];
            for (int i = 0; i < tv.length; i++) {
                int row = (i / 32) % 32;
                int col = i % 32;
                tv[i] = (row - 16) * (row - 16) + (col - 16) * (col - 16) < 64 ? 1 : 0;
                for (int ch = 0; ch < 3; ch++) {
                    xv[3 * i + ch] = (float) (tv[i] + 0.3 * r.nextGaussian());
                }
            }
            x.copyFrom(xv);
            target.copyFrom(tv);
            LossScaler scaler = LossScaler.forBackend(half);
            double first = Double.NaN;
            double last = Double.NaN;
            for (int step = 0; step < 30; step++) {
                Tensor logits = net.forward(x);
                double loss = half.crossEntropyDiceLoss(logits, target, d, 1f, 1f, 1e-5f);
                first = step == 0 ? loss : first;
                last = loss;
                scaler.scaleGradient(d);
                net.backward(d);
                if (Double.isFinite(scaler.unscale(net.parameters()))) {
                    adam.step();
                }
            }
            assertTrue(last < 0.7 * first, "loss " + first + " -> " + last);
            assertFalse(scaler.skippedSteps() > 10, scaler.skippedSteps() + " steps skipped");
        }
    }
}

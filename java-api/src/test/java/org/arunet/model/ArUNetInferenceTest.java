package org.arunet.model;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.HostMemory;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testing.TestBackends;
import org.arunet.train.Adam;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused inference path of {@link ArUNet} (eval mode: batch norms folded, epilogues, split
 * concatenations, pooled activations) against the unfused eval forward of the same model, for every
 * architecture option, on both backends; folded weights follow training steps; the pool reaches a
 * steady state; the CPU's fused path agrees with the reference's unfused one.
 */
class ArUNetInferenceTest {
    private static final double ATOL = 1e-5;
    private static final double RTOL = 2e-4;

    static Stream<Arguments> configs() {
        ArUNetConfig tiny = ArUNetConfig.paper().withWidth(8);
        Stream<Named<ArUNetConfig>> cs = Stream.of(
                Named.of("paper", tiny),
                Named.of("authors' code", ArUNetConfig.authorsCode().withWidth(8)),
                Named.of(
                        "SE attention, mixer 7",
                        tiny.withChannelAttention(ChannelAttention.Kind.SE).withMixerKernel(7)),
                Named.of("no residual, MCSA 4..1", tiny.withResidual(false).withMcsaStages(4, 3, 2, 1)),
                Named.of(
                        "no CA, no SA, grey, 3 classes",
                        tiny.withChannelAttention(ChannelAttention.Kind.NONE)
                                .withSpatialAttention(false)
                                .withInChannels(1)
                                .withClasses(3)));
        return cs.flatMap(c -> TestBackends.all().map(b -> Arguments.of(c, b)));
    }

    /** Random weights and batch-norm statistics far from (0, 1), so a wrong fold shows. */
    static void randomize(ArUNet net, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Map.Entry<String, Tensor> e : net.stateDict().entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype() != DType.F32) {
                continue;
            }
            float[] v = t.toFloatArray();
            String k = e.getKey();
            for (int i = 0; i < v.length; i++) {
                if (k.endsWith("running_var")) {
                    v[i] = (float) (0.2 + 1.5 * r.nextDouble());
                } else if (k.endsWith("running_mean")) {
                    v[i] = (float) (0.3 * r.nextGaussian());
                } else if (k.endsWith("bn.weight") || k.endsWith("_bn.weight") || k.matches(".*bn\\d?\\.weight")) {
                    v[i] = (float) (1 + 0.3 * r.nextGaussian());
                } else {
                    v[i] = v[i] + (float) (0.05 * r.nextGaussian());
                }
            }
            t.copyFrom(v);
        }
    }

    static Tensor input(Backend be, int n, int h, int w, int c, long seed) {
        Tensor x = be.allocate(DType.F32, Layout.NHWC, n, h, w, c);
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[(int) x.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        x.copyFrom(v);
        return x;
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("configs")
    void fusedInferenceEqualsTheUnfusedEvalForward(ArUNetConfig config, Supplier<Backend> backend) {
        try (Backend be = backend.get();
                ArUNet net = new ArUNet(be, config, Init.Scheme.AUTHORS, 3);
                Tensor x = input(be, 2, 32, 48, config.inChannels(), 5)) {
            randomize(net, 11);
            net.eval();
            net.setFusedInference(false);
            float[] unfused = net.forward(x).toFloatArray();
            net.setFusedInference(true);
            Tensor fused = net.forward(x);
            assertEquals(2 * 32 * 48 * config.classes(), fused.numel());
            assertClose("fused vs unfused logits", fused.toFloatArray(), unfused, ATOL, RTOL);
        }
    }

    @Test
    void foldedWeightsFollowTrainingStepsAndModeSwitches() {
        try (Backend be = new CpuBackend(2);
                ArUNet net = ArUNet.builder().backend(be).width(8).build();
                Tensor x = input(be, 2, 32, 32, 3, 7);
                Tensor target = be.allocate(DType.I32, Layout.PLAIN, 2, 32, 32);
                Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, 2, 32, 32, 2);
                Adam adam = Adam.of(be, net.namedParameters(), 1e-2f)) {
            int[] tv = new int[(int) target.numel()];
            for (int i = 0; i < tv.length; i++) {
                tv[i] = (i / 7) % 3 == 0 ? 1 : 0;
            }
            target.copyFrom(tv);
            float[] previous = null;
            for (int step = 0; step < 3; step++) {
                net.train(true);
                Tensor logits = net.forward(x);
                be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
                net.backward(dLogits);
                adam.step();
                net.eval();
                net.setFusedInference(false);
                float[] unfused = net.forward(x).toFloatArray();
                net.setFusedInference(true);
                float[] fused = net.forward(x).toFloatArray();
                assertClose("step " + step, fused, unfused, ATOL, RTOL);
                if (previous != null) {
                    assertTrue(!java.util.Arrays.equals(previous, fused), "the eval output follows the training step");
                }
                previous = fused;
            }
        }
    }

    @Test
    void theInferencePoolReachesASteadyStateAndShrinksMemory() {
        try (Backend be = new CpuBackend(2);
                ArUNet net = ArUNet.builder().backend(be).width(8).build();
                Tensor x = input(be, 1, 64, 64, 3, 9)) {
            net.eval();
            long base = HostMemory.bytesInUse();
            net.forward(x);
            long pool = net.inferencePoolBytes();
            long afterFirst = HostMemory.bytesInUse();
            for (int i = 0; i < 5; i++) {
                net.forward(x);
            }
            assertEquals(afterFirst, HostMemory.bytesInUse(), "no allocation after the first pass");
            assertEquals(pool, net.inferencePoolBytes());
            // the planned arena holds the live peak (plus 64-byte alignment per tensor), no fragmentation
            assertTrue(
                    net.inferencePoolBytes() <= net.inferencePoolPeakBytes() + 64 * 200,
                    "arena " + net.inferencePoolBytes() + " bytes, live peak " + net.inferencePoolPeakBytes());
            net.releaseActivations();
            assertEquals(0, net.inferencePoolBytes());
            net.setFusedInference(false);
            long unfusedBase = HostMemory.bytesInUse();
            net.forward(x);
            long unfused = HostMemory.bytesInUse() - unfusedBase;
            assertTrue(
                    afterFirst - base < unfused / 3,
                    "pooled activations " + (afterFirst - base) + " bytes vs the modules' scratch " + unfused
                            + " bytes");
        }
    }

    @Test
    void cpuFusedInferenceMatchesTheReferenceUnfused() {
        ArUNetConfig config = ArUNetConfig.paper().withWidth(8);
        try (Backend cpu = new CpuBackend(3);
                Backend ref = new ReferenceBackend();
                ArUNet a = new ArUNet(cpu, config, Init.Scheme.AUTHORS, 3);
                ArUNet b = new ArUNet(ref, config, Init.Scheme.AUTHORS, 3);
                Tensor xa = input(cpu, 1, 48, 32, 3, 5);
                Tensor xb = input(ref, 1, 48, 32, 3, 5)) {
            randomize(a, 11);
            randomize(b, 11);
            a.eval();
            b.eval();
            b.setFusedInference(false);
            assertClose(
                    "cpu fused vs reference unfused",
                    a.forward(xa).toFloatArray(),
                    b.forward(xb).toFloatArray(),
                    ATOL,
                    RTOL);
        }
    }
}

package org.arunet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.Precision;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Adam;
import org.junit.jupiter.api.Test;

/**
 * bf16 mixed-precision training convolutions on the CPU (cpu/conv2d.h, Note [bf16]): each pass against
 * the same pass in f32, within bf16's rounding and clearly not f32 (the test fails if bf16 is ignored),
 * on oneDNN's bf16 kernels (no reference kernel), for the convolution kinds ARU-Net trains.
 */
class CpuBf16TrainingTest {
    /**
     * Norm-wise bound: bf16 operands carry a relative rounding of at most 2^-9 each; sums of products of
     * two rounded operands with f32 accumulation stay within a few times that, 1.6e-2 (the GPU's bf16
     * convolution bound) leaves room.
     */
    private static final double BOUND = 1.6e-2;

    private static Tensor random(Backend be, Random r, Layout l, int... shape) {
        Tensor t = be.allocate(DType.F32, l, shape);
        float[] v = new float[Math.toIntExact(t.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        t.copyFrom(v);
        return t;
    }

    private static double normRel(float[] got, float[] want) {
        double d = 0;
        double n = 0;
        for (int i = 0; i < got.length; i++) {
            d += (double) (got[i] - want[i]) * (got[i] - want[i]);
            n += (double) want[i] * want[i];
        }
        return Math.sqrt(d / Math.max(n, 1e-30));
    }

    /** forward, backward data, backward weights (and bias) of one spec, in the backend's training precision. */
    private static List<float[]> passes(CpuBackend be, Conv2dSpec spec, boolean up, int n, int h, int w, long seed) {
        Random r = new Random(seed);
        int f = up ? 2 : 1;
        int oh = spec.outH(f * h);
        int ow = spec.outW(f * w);
        List<float[]> out = new ArrayList<>();
        try (Conv2dOp op = up ? be.conv2dUpsampled(spec) : be.conv2d(spec);
                Tensor x = random(be, r, Layout.NHWC, n, h, w, spec.inChannels());
                Tensor wt = random(be, r, Layout.OIHW, spec.weightShape());
                Tensor b = spec.bias() ? random(be, r, Layout.PLAIN, spec.outChannels()) : null;
                Tensor dy = random(be, r, Layout.NHWC, n, oh, ow, spec.outChannels());
                Tensor y = be.allocate(DType.F32, Layout.NHWC, n, oh, ow, spec.outChannels());
                Tensor dx = be.allocate(DType.F32, Layout.NHWC, n, h, w, spec.inChannels());
                Tensor dw = be.allocate(DType.F32, Layout.OIHW, spec.weightShape());
                Tensor db = spec.bias() ? be.allocate(DType.F32, Layout.PLAIN, spec.outChannels()) : null) {
            op.forward(x, wt, b, y, true);
            out.add(y.toFloatArray());
            op.backwardData(dy, wt, dx);
            out.add(dx.toFloatArray());
            op.backwardWeights(x, dy, dw, db);
            out.add(dw.toFloatArray());
            if (db != null) {
                out.add(db.toFloatArray());
            }
        }
        return out;
    }

    @Test
    void everyPassIsWithinBf16RoundingOfF32() {
        try (CpuBackend be = new CpuBackend(2)) {
            assumeTrue(be.supportsBf16Inference(), "this CPU has no AVX512-BF16 or AMX");
            Object[][] cases = {
                {Conv2dSpec.same(64, 64, 3, 1, 1, false), false, 2, 16, 16},
                {Conv2dSpec.same(3, 16, 3, 1, 1, true), false, 2, 12, 10},
                {Conv2dSpec.same(128, 128, 3, 1, 1, true), false, 1, 8, 8}, // the blocked backward weights
                {Conv2dSpec.same(24, 40, 1, 1, 1, true), false, 2, 9, 7},
                {Conv2dSpec.same(32, 32, 3, 1, 32, true), false, 2, 8, 8}, // depthwise
                {Conv2dSpec.of(16, 16, 3, 2, 1, 1, 1, false), false, 2, 13, 11}, // stride 2
                {Conv2dSpec.of(16, 16, 3, 1, 2, 2, 1, true), false, 1, 12, 12}, // dilation 2
                {Conv2dSpec.same(32, 16, 3, 1, 1, true), true, 2, 8, 6}, // upsampling
            };
            String[] names = {"forward", "backward data", "backward weights", "backward bias"};
            for (Object[] c : cases) {
                Conv2dSpec spec = (Conv2dSpec) c[0];
                boolean up = (Boolean) c[1];
                int n = (Integer) c[2];
                int h = (Integer) c[3];
                int w = (Integer) c[4];
                be.setTrainingPrecision(Precision.F32);
                List<float[]> f32 = passes(be, spec, up, n, h, w, 7);
                be.setTrainingPrecision(Precision.BF16);
                List<float[]> bf16 = passes(be, spec, up, n, h, w, 7);
                assertEquals(f32.size(), bf16.size());
                for (int i = 0; i < f32.size(); i++) {
                    double e = normRel(bf16.get(i), f32.get(i));
                    String what = (up ? "upsampled " : "") + spec + " " + names[i] + ": bf16 vs f32 norm-wise " + e;
                    assertTrue(e < BOUND, what);
                    if (i < 3) { // the bias gradient is a plain f32 sum in both
                        assertTrue(e > 1e-5, what + " (bf16 must actually have been used)");
                    }
                }
            }
        }
    }

    @Test
    void bf16PassesRunOnOneDnnsBf16Kernels() {
        try (CpuBackend be = new CpuBackend(2)) {
            assumeTrue(be.supportsBf16Inference(), "this CPU has no AVX512-BF16 or AMX");
            be.setTrainingPrecision(Precision.BF16);
            for (Conv2dSpec spec : new Conv2dSpec[] {
                Conv2dSpec.same(64, 64, 3, 1, 1, false),
                Conv2dSpec.same(128, 128, 3, 1, 1, true),
                Conv2dSpec.same(64, 128, 1, 1, 1, false),
                Conv2dSpec.same(32, 32, 3, 1, 32, true)
            }) {
                try (Conv2dOp op = be.conv2d(spec)) {
                    CpuConv2dOp cpu = (CpuConv2dOp) op;
                    for (CpuConv2dOp.Pass pass : new CpuConv2dOp.Pass[] {
                        CpuConv2dOp.Pass.FORWARD_TRAINING,
                        CpuConv2dOp.Pass.BACKWARD_DATA,
                        CpuConv2dOp.Pass.BACKWARD_WEIGHTS
                    }) {
                        String impl = cpu.implementation(pass, 2, 32, 32);
                        assertFalse(
                                impl.startsWith("ref") || impl.contains("gemm:ref"), spec + " " + pass + ": " + impl);
                    }
                }
            }
        }
    }

    /** Losses of a few Adam steps of the tiny ARU-Net on fixed data, in the backend's training precision. */
    private static double[] losses(CpuBackend be, int steps) {
        int[] s = {2, 32, 32, 3};
        Random r = new Random(5);
        try (ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(8), Init.Scheme.PYTORCH, 1);
                Tensor x = random(be, r, Layout.NHWC, s);
                Tensor target = be.allocate(DType.I32, Layout.PLAIN, s[0], s[1], s[2]);
                Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, s[0], s[1], s[2], 2);
                Adam adam = Adam.of(be, net.namedParameters(), 1e-3f)) {
            int[] t = new int[s[0] * s[1] * s[2]];
            for (int i = 0; i < t.length; i++) {
                int y = (i / s[2]) % s[1];
                int xx = i % s[2];
                t[i] = (y - 16) * (y - 16) + (xx - 14) * (xx - 14) < 64 ? 1 : 0;
            }
            target.copyFrom(t);
            net.train(true);
            double[] out = new double[steps];
            for (int i = 0; i < steps; i++) {
                Tensor logits = net.forward(x);
                out[i] = be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
                net.backward(dLogits);
                adam.step();
            }
            return out;
        }
    }

    @Test
    void theTinyModelTrainsAlikeInBf16AndF32() {
        try (CpuBackend be = new CpuBackend(2)) {
            assumeTrue(be.supportsBf16Inference(), "this CPU has no AVX512-BF16 or AMX");
            double[] f32 = losses(be, 8);
            be.setTrainingPrecision(Precision.BF16);
            double[] bf16 = losses(be, 8);
            boolean differs = false;
            for (int i = 0; i < f32.length; i++) {
                // the GPU harness's bf16 bound for the tiny model's losses (rounding over ~40 layers)
                assertEquals(f32[i], bf16[i], 5e-2 * Math.abs(f32[i]), "loss after " + i + " Adam steps");
                differs |= bf16[i] != f32[i];
            }
            assertTrue(differs, "bf16 must actually have been used");
            assertTrue(
                    bf16[bf16.length - 1] < 0.9 * bf16[0],
                    "bf16 training lowers the loss: " + java.util.Arrays.toString(bf16));
        }
    }

    @Test
    void bf16TrainingIsRefusedWhereItCannotRunAndByOtherBackends() {
        try (Backend ref = Backends.reference()) {
            assertThrows(IllegalArgumentException.class, () -> ref.setTrainingPrecision(Precision.BF16));
            assertEquals(Precision.F32, ref.trainingPrecision());
        }
        try (CpuBackend be = new CpuBackend(1)) {
            assertThrows(IllegalArgumentException.class, () -> be.setTrainingPrecision(null));
            if (!be.supportsBf16Inference()) {
                assertThrows(IllegalArgumentException.class, () -> be.setTrainingPrecision(Precision.BF16));
            }
        }
    }
}

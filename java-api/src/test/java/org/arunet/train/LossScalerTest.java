package org.arunet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.junit.jupiter.api.Test;

/**
 * Dynamic loss scaling, the mixed-precision answer to overflowing gradients (issue 5: "with mixed
 * precision the step is skipped and the loss scale lowered"), on the CPU: the logic does not depend on
 * where the gradients were computed. The GPU run of fp16 training with it is in CudaBackendGpuTest.
 */
class LossScalerTest {

    @Test
    void unscalesFiniteGradientsAndSkipsOverflowingStepsLoweringTheScale() {
        try (Backend be = Backends.cpu(1);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.PYTORCH, 3)) {
            List<Parameter> params = net.parameters();
            LossScaler scaler = new LossScaler(be, 1024f, 2f, 0.5f, 3);
            SplittableRandom rng = new SplittableRandom(5);
            float[][] clean = new float[params.size()][];
            double expected = 0;
            for (int i = 0; i < params.size(); i++) {
                float[] g = new float[(int) params.get(i).grad().numel()];
                for (int j = 0; j < g.length; j++) {
                    g[j] = (float) rng.nextGaussian();
                    expected += (double) g[j] * g[j];
                }
                clean[i] = g;
                float[] scaled = g.clone();
                for (int j = 0; j < scaled.length; j++) {
                    scaled[j] *= 1024f;
                }
                params.get(i).grad().copyFrom(scaled);
            }
            double g2 = scaler.unscale(params);
            assertEquals(expected, g2, 1e-5 * expected, "squared norm of the unscaled gradient");
            for (int i = 0; i < params.size(); i++) {
                assertArrayEquals(clean[i], params.get(i).grad().toFloatArray(), 1e-6f, "gradient " + i + " unscaled");
            }
            assertEquals(1024f, scaler.scale());

            // One infinite element anywhere: the step must be skipped and the scale halved.
            Parameter last = params.get(params.size() - 1);
            float[] g = last.grad().toFloatArray();
            g[g.length / 2] = Float.POSITIVE_INFINITY;
            last.grad().copyFrom(g);
            assertFalse(Double.isFinite(scaler.unscale(params)), "an overflow must be reported");
            assertEquals(512f, scaler.scale());
            assertEquals(1, scaler.skippedSteps());
            g[g.length / 2] = Float.NaN;
            last.grad().copyFrom(g);
            assertFalse(Double.isFinite(scaler.unscale(params)), "a NaN must be reported");
            assertEquals(256f, scaler.scale());
            assertEquals(2, scaler.skippedSteps());

            // Three finite steps in a row double it again; a skip in between restarts the count.
            g[g.length / 2] = 0f;
            last.grad().copyFrom(g);
            assertTrue(Double.isFinite(scaler.unscale(params)));
            assertTrue(Double.isFinite(scaler.unscale(params)));
            assertEquals(256f, scaler.scale());
            assertTrue(Double.isFinite(scaler.unscale(params)));
            assertEquals(512f, scaler.scale());
            assertEquals(2, scaler.skippedSteps());
        }
    }

    @Test
    void theScaleNeverGrowsToInfinity() {
        // Without the check (PyTorch has it too) 2^127 doubled is +Inf, and from then on every step is
        // skipped for good: +Inf halved stays +Inf.
        try (Backend be = Backends.cpu(1);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.PYTORCH, 3)) {
            float top = Math.scalb(1f, 127);
            LossScaler scaler = new LossScaler(be, top, 2f, 0.5f, 1);
            for (int i = 0; i < 3; i++) {
                for (Parameter p : net.parameters()) {
                    p.grad().copyFrom(new float[(int) p.grad().numel()]);
                }
                assertTrue(Double.isFinite(scaler.unscale(net.parameters())));
                assertEquals(top, scaler.scale(), "step " + i);
                assertEquals(0, scaler.goodSteps());
            }
            assertEquals(0, scaler.skippedSteps());
        }
    }

    @Test
    void onlyFloat16BackendsGetAScalerAndBadSettingsAreRefused() {
        try (Backend be = Backends.cpu(1)) {
            assertNull(LossScaler.forBackend(be), "fp32 training needs no loss scaling");
            assertThrows(IllegalArgumentException.class, () -> new LossScaler(be, 0f, 2f, 0.5f, 1));
            assertThrows(IllegalArgumentException.class, () -> new LossScaler(be, 1f, 1f, 0.5f, 1));
            assertThrows(IllegalArgumentException.class, () -> new LossScaler(be, 1f, 2f, 1f, 1));
            assertThrows(
                    IllegalArgumentException.class, () -> new LossScaler(be, Float.POSITIVE_INFINITY, 2f, 0.5f, 1));
        }
    }
}

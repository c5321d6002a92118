package org.arunet.backend.cpu;

import static org.arunet.backend.cpu.TestTensors.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.backend.Activation;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Activations, broadcasting products and the linear layer on hand-computed values. */
class CpuPointwiseTest {
    private CpuBackend be;
    private TestTensors t;

    @BeforeEach
    void open() {
        be = new CpuBackend(2);
        t = new TestTensors();
    }

    @AfterEach
    void close() {
        t.close();
        be.close();
    }

    // erf values: erf(1/sqrt2) = 0.682689492137, erf(2/sqrt2) = 0.954499736104
    private static final double PHI1 = 0.5 * (1 + 0.682689492137086);
    private static final double PHI2 = 0.5 * (1 + 0.954499736103642);
    private static final double PDF1 = Math.exp(-0.5) / Math.sqrt(2 * Math.PI);
    private static final double PDF2 = Math.exp(-2.0) / Math.sqrt(2 * Math.PI);

    @Test
    void activationsForward() {
        Tensor x = t.plain(-2, -1, 0, 1, 2);
        Tensor y = t.plain(new float[5]);
        be.activationForward(Activation.RELU, x, y);
        assertArrayEquals(new float[] {0, 0, 0, 1, 2}, y.toFloatArray());
        be.activationForward(Activation.GELU, x, y);
        float[] gelu = {(float) (-2 * (1 - PHI2)), (float) (-(1 - PHI1)), 0, (float) PHI1, (float) (2 * PHI2)};
        assertClose("gelu", gelu, y.toFloatArray(), 1e-6, 1e-6);
        be.activationForward(Activation.SIGMOID, x, y);
        float[] sig = new float[5];
        for (int i = 0; i < 5; i++) {
            sig[i] = (float) (1 / (1 + Math.exp(-(i - 2))));
        }
        assertClose("sigmoid", sig, y.toFloatArray(), 1e-7, 1e-6);
        be.activationForward(Activation.NONE, x, y);
        assertArrayEquals(x.toFloatArray(), y.toFloatArray());
        be.activationForward(Activation.RELU, x, x); // in place
        assertArrayEquals(new float[] {0, 0, 0, 1, 2}, x.toFloatArray());
        Tensor nan = t.plain(Float.NaN);
        be.activationForward(Activation.RELU, nan, nan);
        assertTrue(Float.isNaN(nan.toFloatArray()[0]), "ReLU keeps NaN visible");
    }

    @Test
    void activationsBackward() {
        Tensor x = t.plain(-2, -1, 0, 1, 2);
        Tensor dy = t.plain(1, 2, 3, 4, 5);
        Tensor dx = t.plain(new float[5]);
        be.activationBackward(Activation.RELU, x, null, dy, dx);
        assertArrayEquals(new float[] {0, 0, 0, 4, 5}, dx.toFloatArray(), "derivative at 0 is 0");
        be.activationBackward(Activation.GELU, x, null, dy, dx);
        float[] g = {
            (float) (1 * ((1 - PHI2) - 2 * PDF2)),
            (float) (2 * ((1 - PHI1) - PDF1)),
            1.5f,
            (float) (4 * (PHI1 + PDF1)),
            (float) (5 * (PHI2 + 2 * PDF2))
        };
        assertClose("gelu'", g, dx.toFloatArray(), 1e-6, 1e-6);
        Tensor y = t.plain(0.5f, 0.25f, 0, 1, 0.9f);
        be.activationBackward(Activation.SIGMOID, null, y, dy, dx);
        assertClose("sigmoid'", new float[] {0.25f, 2 * 0.1875f, 0, 0, 5 * 0.09f}, dx.toFloatArray(), 1e-7, 1e-6);
        be.activationBackward(Activation.RELU, x, null, dy, dy); // dx may be dy
        assertArrayEquals(new float[] {0, 0, 0, 4, 5}, dy.toFloatArray());
        assertThrows(
                IllegalArgumentException.class,
                () -> be.activationBackward(Activation.SIGMOID, x, null, dy, dx),
                "sigmoid needs y");
        assertThrows(
                IllegalArgumentException.class,
                () -> be.activationBackward(Activation.GELU, null, y, dy, dx),
                "gelu needs x");
    }

    @Test
    void broadcastingProducts() {
        // x [1, 2, 1, 3]: pixels (1, 2, 3) and (4, 5, 6)
        Tensor x = t.nhwc(new float[] {1, 2, 3, 4, 5, 6}, 1, 2, 1, 3);
        Tensor y = t.nhwc(1, 2, 1, 3);
        Tensor same = t.nhwc(new float[] {2, 2, 2, 0, 1, -1}, 1, 2, 1, 3);
        be.mulForward(x, same, y);
        assertArrayEquals(new float[] {2, 4, 6, 0, 5, -6}, y.toFloatArray());
        Tensor pixel = t.nhwc(new float[] {10, -1}, 1, 2, 1, 1);
        be.mulForward(x, pixel, y);
        assertArrayEquals(new float[] {10, 20, 30, -4, -5, -6}, y.toFloatArray());
        Tensor channel = t.plain(new float[] {1, 0, 2}, 1, 3);
        be.mulForward(x, channel, y);
        assertArrayEquals(new float[] {1, 0, 6, 4, 0, 12}, y.toFloatArray());

        Tensor dy = t.nhwc(new float[] {1, 1, 1, 2, 2, 2}, 1, 2, 1, 3);
        Tensor dx = t.nhwc(1, 2, 1, 3);
        Tensor dwPixel = t.nhwc(1, 2, 1, 1);
        be.mulBackward(dy, x, pixel, dx, dwPixel);
        assertArrayEquals(new float[] {10, 10, 10, -2, -2, -2}, dx.toFloatArray());
        assertArrayEquals(new float[] {6, 30}, dwPixel.toFloatArray(), "dw = sum_c dy x");
        Tensor dwChannel = t.zeros(Layout.PLAIN, 1, 3);
        be.mulBackward(dy, x, channel, dx, dwChannel);
        assertArrayEquals(new float[] {1, 0, 2, 2, 0, 4}, dx.toFloatArray());
        assertArrayEquals(new float[] {9, 12, 15}, dwChannel.toFloatArray(), "dw = sum_hw dy x");
        Tensor dwSame = t.nhwc(1, 2, 1, 3);
        be.mulBackward(dy, x, same, null, dwSame);
        assertArrayEquals(new float[] {1, 2, 3, 8, 10, 12}, dwSame.toFloatArray());
        be.mulForward(x, pixel, x); // in place
        assertArrayEquals(new float[] {10, 20, 30, -4, -5, -6}, x.toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> be.mulForward(x, t.plain(1, 2), y));
    }

    @Test
    void linearForwardAndBackward() {
        Tensor x = t.plain(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor w = t.plain(new float[] {1, 0, -1, 0.5f, 0.5f, 0.5f}, 2, 3);
        Tensor b = t.plain(10, 20);
        Tensor y = t.zeros(Layout.PLAIN, 2, 2);
        be.linearForward(x, w, b, y);
        assertArrayEquals(new float[] {8, 23, 8, 27.5f}, y.toFloatArray());
        be.linearForward(x, w, null, y);
        assertArrayEquals(new float[] {-2, 3, -2, 7.5f}, y.toFloatArray());
        Tensor dy = t.plain(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor dx = t.zeros(Layout.PLAIN, 2, 3);
        Tensor dw = t.zeros(Layout.PLAIN, 2, 3);
        Tensor db = t.zeros(Layout.PLAIN, 2);
        be.linearBackward(dy, x, w, dx, dw, db);
        assertArrayEquals(new float[] {2, 1, 0, 5, 2, -1}, dx.toFloatArray(), "dx = dy w");
        assertArrayEquals(new float[] {13, 17, 21, 18, 24, 30}, dw.toFloatArray(), "dw = dy^T x");
        assertArrayEquals(new float[] {4, 6}, db.toFloatArray());
        be.linearBackward(dy, x, w, null, dw, null);
        assertEquals(13f, dw.toFloatArray()[0]);
        assertThrows(IllegalArgumentException.class, () -> be.linearForward(x, t.zeros(Layout.PLAIN, 2, 2), b, y));
    }
}

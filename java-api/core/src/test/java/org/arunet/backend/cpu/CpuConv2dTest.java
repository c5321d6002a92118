package org.arunet.backend.cpu;

import static org.arunet.backend.cpu.TestTensors.assertClose;
import static org.arunet.backend.cpu.TestTensors.filled;
import static org.arunet.backend.cpu.TestTensors.iota;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Hand-computed convolutions (forward, both backwards), the weight cache, and the op's lifecycle. */
class CpuConv2dTest {
    private CpuBackend be;
    private TestTensors t;

    /** Ones 3x3 kernel over a 4x4 input with padding 1: how many pixels each window covers. */
    private static final float[] COVER_4X4 = {4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4};

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

    @Test
    void onesKernelOnOnesCountsTheWindow() {
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 3, 1, 1, 1, 1, false))) {
            Tensor x = t.nhwc(filled(16, 1f), 1, 4, 4, 1);
            Tensor w = t.oihw(filled(9, 1f), 1, 1, 3, 3);
            Tensor y = t.nhwc(1, 4, 4, 1);
            conv.forward(x, w, null, y, false);
            assertArrayEquals(COVER_4X4, y.toFloatArray());
        }
    }

    @Test
    void onesKernelSumsTheNeighbourhoodWithBiasAndStride() {
        float[] sums = {14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54};
        Tensor x = t.nhwc(iota(16), 1, 4, 4, 1);
        Tensor w = t.oihw(filled(9, 1f), 1, 1, 3, 3);
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 3, 1, 1, 1, 1, true))) {
            Tensor b = t.plain(0.5f);
            Tensor y = t.nhwc(1, 4, 4, 1);
            conv.forward(x, w, b, y, true);
            float[] expected = sums.clone();
            for (int i = 0; i < expected.length; i++) {
                expected[i] += 0.5f;
            }
            assertArrayEquals(expected, y.toFloatArray());
        }
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 3, 2, 1, 1, 1, false))) {
            Tensor y = t.nhwc(1, 2, 2, 1);
            conv.forward(x, w, null, y, false);
            assertArrayEquals(new float[] {14, 30, 57, 99}, y.toFloatArray());
        }
    }

    @Test
    void channelsAreNhwcAndWeightsOihw() {
        // 1x1 conv 2 -> 3: y = W x per pixel with W = [[1, 0], [0, 1], [1, 1]] (OIHW [3, 2, 1, 1])
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(2, 3, 1, 1, 0, 1, 1, false))) {
            Tensor x = t.nhwc(new float[] {1, 2, 10, 20}, 1, 1, 2, 2);
            Tensor w = t.oihw(new float[] {1, 0, 0, 1, 1, 1}, 3, 2, 1, 1);
            Tensor y = t.nhwc(1, 1, 2, 3);
            conv.forward(x, w, null, y, false);
            assertArrayEquals(new float[] {1, 2, 3, 10, 20, 30}, y.toFloatArray());
        }
    }

    @Test
    void depthwiseAndDilated() {
        // depthwise 3x3 on 2 channels: channel 0 ones kernel, channel 1 twos kernel
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(2, 2, 3, 1, 1, 1, 2, false))) {
            Tensor x = t.nhwc(filled(32, 1f), 1, 4, 4, 2);
            float[] k = new float[18];
            Arrays.fill(k, 0, 9, 1f);
            Arrays.fill(k, 9, 18, 2f);
            Tensor w = t.oihw(k, 2, 1, 3, 3);
            Tensor y = t.nhwc(1, 4, 4, 2);
            conv.forward(x, w, null, y, false);
            float[] expected = new float[32];
            for (int p = 0; p < 16; p++) {
                expected[2 * p] = COVER_4X4[p];
                expected[2 * p + 1] = 2 * COVER_4X4[p];
            }
            assertArrayEquals(expected, y.toFloatArray());
        }
        // 3x3 dilation 2, padding 2 on 5x5 ones: the taps are 2 apart, so corners see 2x2 real pixels
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.same(1, 1, 3, 2, 1, false))) {
            Tensor x = t.nhwc(filled(25, 1f), 1, 5, 5, 1);
            Tensor w = t.oihw(filled(9, 1f), 1, 1, 3, 3);
            Tensor y = t.nhwc(1, 5, 5, 1);
            conv.forward(x, w, null, y, false);
            float[] out = y.toFloatArray();
            assertEquals(4f, out[0]);
            assertEquals(6f, out[2]); // row 0, col 2: rows {0, 2}, cols {0, 2, 4}
            assertEquals(9f, out[12]); // centre
            assertEquals(4f, out[24]);
        }
    }

    @Test
    void backwardDataOfOnesKernelCountsTheWindowsThatSawEachPixel() {
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 3, 1, 1, 1, 1, false))) {
            Tensor dy = t.nhwc(filled(16, 1f), 1, 4, 4, 1);
            Tensor w = t.oihw(filled(9, 1f), 1, 1, 3, 3);
            Tensor dx = t.nhwc(1, 4, 4, 1);
            dx.copyFrom(filled(16, 123f)); // overwritten, not accumulated
            conv.backwardData(dy, w, dx);
            assertArrayEquals(COVER_4X4, dx.toFloatArray());
        }
    }

    @Test
    void backwardWeightsSumsShiftedInputs() {
        // dw[kh, kw] = sum over outputs of x at the tap's offset; with x = 1..16 and dy = 1:
        float[] expected = {54, 78, 63, 96, 136, 108, 90, 126, 99};
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 3, 1, 1, 1, 1, true))) {
            Tensor x = t.nhwc(iota(16), 1, 4, 4, 1);
            Tensor dy = t.nhwc(filled(16, 1f), 1, 4, 4, 1);
            Tensor dw = t.oihw(filled(9, -7f), 1, 1, 3, 3);
            Tensor db = t.plain(-7f);
            conv.backwardWeights(x, dy, dw, db);
            assertArrayEquals(expected, dw.toFloatArray());
            assertArrayEquals(new float[] {16}, db.toFloatArray());
        }
    }

    @Test
    void weightCacheFollowsIdAndVersion() {
        Random rnd = new Random(7);
        try (Conv2dOp op = be.conv2d(Conv2dSpec.same(64, 64, 3, 1, 1, true))) {
            CpuConv2dOp conv = (CpuConv2dOp) op;
            Tensor x = t.random(rnd, Layout.NHWC, 1, 8, 8, 64);
            Tensor w = t.random(rnd, Layout.OIHW, 64, 64, 3, 3);
            Tensor b = t.random(rnd, Layout.PLAIN, 64);
            Tensor y1 = t.nhwc(1, 8, 8, 64);
            Tensor y2 = t.nhwc(1, 8, 8, 64);
            conv.forward(x, w, b, y1, false);
            assertEquals(1, conv.weightReorders());
            conv.forward(x, w, b, y2, false);
            assertEquals(1, conv.weightReorders(), "same (id, version): cached weights reused");
            assertArrayEquals(y1.toFloatArray(), y2.toFloatArray());

            // new values written behind the tensor's back (no version bump): the cache is still used
            float[] doubled = w.toFloatArray();
            for (int i = 0; i < doubled.length; i++) {
                doubled[i] *= 2;
            }
            w.memory().write(0, doubled, 0, doubled.length);
            conv.forward(x, w, b, y2, false);
            assertEquals(1, conv.weightReorders());
            assertArrayEquals(y1.toFloatArray(), y2.toFloatArray(), "stale weights until bumpVersion");

            w.bumpVersion();
            conv.forward(x, w, b, y2, false);
            assertEquals(2, conv.weightReorders(), "a new version reorders once");
            float[] a = y1.toFloatArray();
            float[] e = new float[a.length];
            float[] bias = b.toFloatArray();
            for (int i = 0; i < a.length; i++) {
                e[i] = 2 * (a[i] - bias[i % 64]) + bias[i % 64];
            }
            assertClose("doubled weights", e, y2.toFloatArray(), 1e-4, 1e-5);

            // another tensor with the same values has another id: reordered again
            Tensor w2 = t.keep(Tensor.of(doubled, Layout.OIHW, 64, 64, 3, 3));
            conv.forward(x, w2, b, y1, false);
            assertEquals(3, conv.weightReorders());
            assertArrayEquals(y2.toFloatArray(), y1.toFloatArray());

            // a backend op writing into the weights bumps their version too: back to the original values
            be.scale(w2, 0.5f, w2);
            conv.forward(x, w2, b, y2, false);
            assertEquals(4, conv.weightReorders());
            assertClose("halved weights", a, y2.toFloatArray(), 1e-4, 1e-5);
        }
    }

    @Test
    void shapesAreCheckedBeforeNative() {
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(3, 4, 3, 1, 1, 1, 1, true))) {
            Tensor x = t.nhwc(1, 5, 5, 3);
            Tensor w = t.zeros(Layout.OIHW, 4, 3, 3, 3);
            Tensor b = t.plain(0, 0, 0, 0);
            Tensor y = t.nhwc(1, 5, 5, 4);
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class, () -> conv.forward(t.nhwc(1, 5, 5, 2), w, b, y, false));
            assertTrue(
                    e.getMessage().contains("conv2d.forward") && e.getMessage().contains("[1, 5, 5, 2]"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, w, null, y, false), "bias missing");
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, w, b, t.nhwc(1, 4, 4, 4), false));
            assertThrows(
                    IllegalArgumentException.class,
                    () -> conv.forward(x, t.zeros(Layout.OIHW, 4, 3, 1, 1), b, y, false));
            assertThrows(IllegalArgumentException.class, () -> conv.forward(x, w, b, x, false), "y aliases x");
            assertThrows(IllegalArgumentException.class, () -> conv.backwardData(y, w, t.nhwc(1, 5, 5, 4)));
            assertThrows(IllegalArgumentException.class, () -> conv.backwardWeights(x, y, w, null));
            Tensor closed = t.nhwc(1, 5, 5, 3);
            closed.close();
            assertThrows(IllegalArgumentException.class, () -> conv.forward(closed, w, b, y, false));
            conv.forward(x, w, b, y, false); // still usable
        }
        try (Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 3, 1, 0, 1, 1, false))) {
            assertThrows(
                    IllegalArgumentException.class,
                    () -> conv.forward(
                            t.nhwc(1, 2, 2, 1), t.zeros(Layout.OIHW, 1, 1, 3, 3), null, t.nhwc(1, 1, 1, 1), false),
                    "input smaller than kernel");
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() {
        Conv2dOp conv = be.conv2d(Conv2dSpec.of(1, 1, 1, 1, 0, 1, 1, false));
        conv.close();
        conv.close();
        assertThrows(
                IllegalStateException.class,
                () -> conv.forward(
                        t.nhwc(1, 2, 2, 1), t.zeros(Layout.OIHW, 1, 1, 1, 1), null, t.nhwc(1, 2, 2, 1), false));
        // the backend closes what is left open
        Conv2dOp open = be.conv2d(Conv2dSpec.of(1, 1, 1, 1, 0, 1, 1, false));
        be.close();
        assertFalse(open.toString().isEmpty());
        assertThrows(
                IllegalStateException.class,
                () -> open.forward(
                        t.nhwc(1, 2, 2, 1), t.zeros(Layout.OIHW, 1, 1, 1, 1), null, t.nhwc(1, 2, 2, 1), false));
    }
}

package org.arunet.backend.cpu;

import static org.arunet.backend.cpu.TestTensors.assertClose;
import static org.arunet.backend.cpu.TestTensors.filled;
import static org.arunet.backend.cpu.TestTensors.iota;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Max pooling (tie rule, padding), global and channel max/mean (ties split), upsampling, concatenation. */
class CpuPoolResampleTest {
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

    @Test
    void maxPoolDistinctValues() {
        Tensor x = t.nhwc(iota(16), 1, 4, 4, 1);
        Tensor y = t.nhwc(1, 2, 2, 1);
        be.maxPoolForward(x, y, 3, 2, 1);
        assertArrayEquals(new float[] {6, 8, 14, 16}, y.toFloatArray());
        Tensor dx = t.nhwc(1, 4, 4, 1);
        dx.copyFrom(filled(16, 9f)); // overwritten
        be.maxPoolBackward(x, t.nhwc(new float[] {1, 2, 3, 4}, 1, 2, 2, 1), dx, 3, 2, 1);
        assertArrayEquals(new float[] {0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4}, dx.toFloatArray());
    }

    @Test
    void maxPoolTiesGoToTheFirstMaximumAndPaddingNeverWins() {
        // all equal and negative: padding (-inf) never wins, ties go to the window's first real pixel
        Tensor x = t.nhwc(filled(16, -5f), 1, 4, 4, 1);
        Tensor y = t.nhwc(1, 2, 2, 1);
        be.maxPoolForward(x, y, 3, 2, 1);
        assertArrayEquals(new float[] {-5, -5, -5, -5}, y.toFloatArray());
        Tensor dx = t.nhwc(1, 4, 4, 1);
        be.maxPoolBackward(x, t.nhwc(new float[] {1, 2, 3, 4}, 1, 2, 2, 1), dx, 3, 2, 1);
        // windows start at (-1,-1), (-1,1), (1,-1), (1,1): first real pixels (0,0), (0,1), (1,0), (1,1)
        assertArrayEquals(new float[] {1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, dx.toFloatArray());

        // two channels whose ties sit in different places; overlapping windows accumulate
        float[] xs = {
            1, 0, 1, 0, 0, 2,
            0, 0, 0, 0, 0, 2,
            0, 0, 0, 0, 0, 0
        };
        Tensor x2 = t.nhwc(xs, 1, 3, 3, 2);
        Tensor y2 = t.nhwc(1, 2, 2, 2);
        be.maxPoolForward(x2, y2, 2, 1, 0);
        assertArrayEquals(new float[] {1, 0, 1, 2, 0, 0, 0, 2}, y2.toFloatArray());
        Tensor dx2 = t.nhwc(1, 3, 3, 2);
        be.maxPoolBackward(x2, t.nhwc(filled(8, 1f), 1, 2, 2, 2), dx2, 2, 1, 0);
        // ch0 windows pick (0,0) (tie with (0,1): first wins), (0,1), (1,0) and (1,1) (all zero: first pixel);
        // ch1 windows pick (0,0) (all zero), (0,2) (tie with (1,2): first wins), (1,0) and (1,2)
        float[] expected = {
            1, 1, 1, 0, 0, 1,
            1, 1, 1, 0, 0, 1,
            0, 0, 0, 0, 0, 0
        };
        assertArrayEquals(expected, dx2.toFloatArray());
    }

    @Test
    void maxPoolChecksItsWindow() {
        Tensor x = t.nhwc(1, 4, 4, 1);
        assertThrows(
                IllegalArgumentException.class,
                () -> be.maxPoolForward(x, t.nhwc(1, 4, 4, 1), 3, 1, 2),
                "pad > kernel / 2");
        assertThrows(
                IllegalArgumentException.class,
                () -> be.maxPoolForward(x, t.nhwc(1, 3, 3, 1), 3, 2, 1),
                "wrong output size");
    }

    @Test
    void globalPoolTiesSplitEvenly() {
        // x [1, 2, 2, 2]: channel 0 = (1, 3, 3, 2), channel 1 = (4, 1, 1, 1)
        Tensor x = t.nhwc(new float[] {1, 4, 3, 1, 3, 1, 2, 1}, 1, 2, 2, 2);
        Tensor max = t.zeros(Layout.PLAIN, 1, 2);
        Tensor avg = t.zeros(Layout.PLAIN, 1, 2);
        be.globalPoolForward(x, max, avg);
        assertArrayEquals(new float[] {3, 4}, max.toFloatArray());
        assertArrayEquals(new float[] {2.25f, 1.75f}, avg.toFloatArray());
        Tensor dx = t.nhwc(1, 2, 2, 2);
        be.globalPoolBackward(x, max, t.plain(new float[] {1, 2}, 1, 2), t.plain(new float[] {4, 8}, 1, 2), dx);
        assertArrayEquals(new float[] {1, 4, 1.5f, 2, 1.5f, 2, 1, 2}, dx.toFloatArray());
        be.globalPoolBackward(x, null, null, t.plain(new float[] {4, 8}, 1, 2), dx);
        assertArrayEquals(new float[] {1, 2, 1, 2, 1, 2, 1, 2}, dx.toFloatArray());
        be.globalPoolBackward(x, max, t.plain(new float[] {1, 2}, 1, 2), null, dx);
        assertArrayEquals(new float[] {0, 2, 0.5f, 0, 0.5f, 0, 0, 0}, dx.toFloatArray());
        be.globalPoolForward(x, null, avg);
        assertThrows(
                IllegalArgumentException.class,
                () -> be.globalPoolBackward(x, null, t.plain(new float[] {1, 2}, 1, 2), null, dx),
                "dMax needs max");
    }

    @Test
    void globalPoolOverManyPixelsMatchesDirectSums() {
        int n = 2;
        int s = 97;
        int c = 5;
        float[] xs = new float[n * s * s * c];
        java.util.Random rnd = new java.util.Random(9);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextGaussian();
        }
        Tensor x = t.nhwc(xs, n, s, s, c);
        Tensor max = t.zeros(Layout.PLAIN, n, c);
        Tensor avg = t.zeros(Layout.PLAIN, n, c);
        be.globalPoolForward(x, max, avg);
        float[] em = new float[n * c];
        float[] ea = new float[n * c];
        java.util.Arrays.fill(em, Float.NEGATIVE_INFINITY);
        double[] sum = new double[n * c];
        for (int i = 0; i < xs.length; i++) {
            int k = (i / (s * s * c)) * c + i % c;
            em[k] = Math.max(em[k], xs[i]);
            sum[k] += xs[i];
        }
        for (int k = 0; k < n * c; k++) {
            ea[k] = (float) (sum[k] / (s * s));
        }
        assertArrayEquals(em, max.toFloatArray());
        assertClose("avg", ea, avg.toFloatArray(), 1e-7, 1e-6);
    }

    @Test
    void channelMaxMeanTiesSplitEvenly() {
        Tensor x = t.nhwc(new float[] {1, 5, 5, -1, -2, -3}, 1, 1, 2, 3);
        Tensor out = t.nhwc(1, 1, 2, 2);
        be.channelMaxMeanForward(x, out);
        assertClose("out", new float[] {5, 11f / 3, -1, -2}, out.toFloatArray(), 1e-6, 1e-6);
        Tensor dx = t.nhwc(1, 1, 2, 3);
        be.channelMaxMeanBackward(x, out, t.nhwc(new float[] {1, 3, 2, 6}, 1, 1, 2, 2), dx);
        assertArrayEquals(new float[] {1, 1.5f, 1.5f, 4, 2, 2}, dx.toFloatArray());
    }

    @Test
    void upsampleAndItsBackward() {
        Tensor x = t.nhwc(new float[] {1, 2, 3, 4}, 1, 2, 2, 1);
        Tensor y = t.nhwc(1, 4, 4, 1);
        be.upsample2xForward(x, y);
        assertArrayEquals(new float[] {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, y.toFloatArray());
        Tensor dx = t.nhwc(1, 2, 2, 1);
        be.upsample2xBackward(t.nhwc(iota(16), 1, 4, 4, 1), dx);
        assertArrayEquals(new float[] {14, 22, 46, 54}, dx.toFloatArray());
        // channels travel together
        Tensor x2 = t.nhwc(new float[] {1, -1}, 1, 1, 1, 2);
        Tensor y2 = t.nhwc(1, 2, 2, 2);
        be.upsample2xForward(x2, y2);
        assertArrayEquals(new float[] {1, -1, 1, -1, 1, -1, 1, -1}, y2.toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> be.upsample2xForward(x, t.nhwc(1, 4, 2, 1)));
    }

    @Test
    void concatAndSplitChannels() {
        Tensor a = t.nhwc(new float[] {1, 2}, 1, 1, 2, 1);
        Tensor b = t.nhwc(new float[] {10, 11, 20, 21}, 1, 1, 2, 2);
        Tensor out = t.nhwc(1, 1, 2, 3);
        be.concatChannels(a, b, out);
        assertArrayEquals(new float[] {1, 10, 11, 2, 20, 21}, out.toFloatArray());
        Tensor da = t.nhwc(1, 1, 2, 1);
        Tensor db = t.nhwc(1, 1, 2, 2);
        be.splitChannels(out, da, db);
        assertArrayEquals(a.toFloatArray(), da.toFloatArray());
        assertArrayEquals(b.toFloatArray(), db.toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> be.concatChannels(a, b, t.nhwc(1, 1, 2, 4)));
        assertThrows(IllegalArgumentException.class, () -> be.concatChannels(a, t.nhwc(1, 2, 1, 2), out));
    }
}

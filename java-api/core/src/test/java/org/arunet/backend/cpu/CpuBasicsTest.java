package org.arunet.backend.cpu;

import static org.arunet.backend.cpu.TestTensors.assertClose;
import static org.arunet.backend.cpu.TestTensors.iota;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** copy, fill, add, addInPlace, scale, sumOfSquares, allocation, threads and lifecycle. */
class CpuBasicsTest {
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
    void identity() {
        assertEquals("cpu", be.name());
        assertEquals(Device.HOST, be.device());
        try (Tensor a = be.allocate(DType.F32, Layout.NHWC, 1, 2, 3, 4)) {
            assertEquals(Device.HOST, a.device());
            assertArrayEquals(new int[] {1, 2, 3, 4}, a.shape());
            assertArrayEquals(new float[24], a.toFloatArray());
            assertEquals(0, a.address() % 64);
        }
    }

    @Test
    void copyFillAddScale() {
        Tensor a = t.plain(1, 2, 3);
        Tensor b = t.plain(10, 20, 30);
        Tensor y = t.plain(0, 0, 0);
        be.add(a, b, y);
        assertArrayEquals(new float[] {11, 22, 33}, y.toFloatArray());
        be.add(a, y, y); // y may alias b
        assertArrayEquals(new float[] {12, 24, 36}, y.toFloatArray());
        be.scale(y, 0.5f, y);
        assertArrayEquals(new float[] {6, 12, 18}, y.toFloatArray());
        be.addInPlace(y, a);
        assertArrayEquals(new float[] {7, 14, 21}, y.toFloatArray());
        // addInPlace needs the same element count only
        Tensor m = t.plain(new float[] {1, 1, 1, 1, 1, 1}, 2, 3);
        Tensor v = t.plain(iota(6));
        be.addInPlace(m, v);
        assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, m.toFloatArray());
        be.fill(y, -1.5f);
        assertArrayEquals(new float[] {-1.5f, -1.5f, -1.5f}, y.toFloatArray());
        be.copy(a, y);
        assertArrayEquals(new float[] {1, 2, 3}, y.toFloatArray());
        Tensor ia = t.ints(new int[] {4, 5, 6}, 3);
        Tensor ib = t.ints(new int[] {0, 0, 0}, 3);
        be.copy(ia, ib);
        assertArrayEquals(new int[] {4, 5, 6}, ib.toIntArray());
    }

    @Test
    void largeElementwiseOpsUseEveryElement() {
        int n = 1_000_003; // parallel path, not a multiple of any vector width
        Random rnd = new Random(3);
        Tensor a = t.random(rnd, Layout.PLAIN, n);
        Tensor b = t.random(rnd, Layout.PLAIN, n);
        Tensor y = t.zeros(Layout.PLAIN, n);
        be.add(a, b, y);
        float[] av = a.toFloatArray();
        float[] bv = b.toFloatArray();
        float[] e = new float[n];
        for (int i = 0; i < n; i++) {
            e[i] = av[i] + bv[i];
        }
        assertArrayEquals(e, y.toFloatArray());
        be.copy(a, y);
        assertArrayEquals(av, y.toFloatArray());
        double ss = 0;
        for (float v : av) {
            ss += (double) v * v;
        }
        assertEquals(ss, be.sumOfSquares(a), 1e-9 * ss);
    }

    @Test
    void sumOfSquaresPropagatesNonFinite() {
        assertEquals(14.0, be.sumOfSquares(t.plain(1, 2, 3)));
        assertTrue(Double.isNaN(be.sumOfSquares(t.plain(1, Float.NaN, 3))));
        assertEquals(Double.POSITIVE_INFINITY, be.sumOfSquares(t.plain(1, Float.NEGATIVE_INFINITY, 3)));
        // float overflow does not happen in double accumulation
        assertEquals(2.0 * 1e38 * 1e38, be.sumOfSquares(t.plain(1e38f, 1e38f)), 1e70);
    }

    @Test
    void threadsSetting() {
        assertEquals(2, be.threads());
        assertEquals(2, be.regionThreads());
        be.setThreads(1);
        assertEquals(1, be.threads());
        assertEquals(1, be.regionThreads());
        assertThrows(IllegalArgumentException.class, () -> be.setThreads(0));
        assertThrows(IllegalArgumentException.class, () -> new CpuBackend(0));
        assertEquals(1, be.threads());
        // the setting holds whichever thread calls next (asserted here, in the test's thread: an
        // assertion failing inside a raw Thread would only print and let the test pass)
        java.util.concurrent.ExecutorService other = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            assertEquals(1, other.submit(be::regionThreads).get(), "threads seen from another thread");
        } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
            throw new AssertionError(e);
        } finally {
            other.shutdownNow();
        }
        be.setThreads(2);
        assertEquals(2, be.regionThreads());
    }

    @Test
    void resultsAgreeAcrossThreadCounts() {
        Random rnd = new Random(11);
        Tensor x = t.random(rnd, Layout.NHWC, 2, 16, 16, 64);
        Tensor w = t.random(rnd, Layout.OIHW, 64, 64, 3, 3);
        Tensor gamma = t.random(rnd, Layout.PLAIN, 64);
        Tensor beta = t.random(rnd, Layout.PLAIN, 64);
        float[][] conv = new float[2][];
        float[][] bn = new float[2][];
        int[] counts = {1, 2};
        try (Conv2dOp op = be.conv2d(Conv2dSpec.same(64, 64, 3, 1, 1, false))) {
            for (int i = 0; i < 2; i++) {
                be.setThreads(counts[i]);
                Tensor y = t.nhwc(2, 16, 16, 64);
                op.forward(x, w, null, y, true); // the plan is rebuilt for the new thread count
                conv[i] = y.toFloatArray();
                Tensor z = t.nhwc(2, 16, 16, 64);
                be.batchNormForward(
                        y,
                        gamma,
                        beta,
                        t.zeros(Layout.PLAIN, 64),
                        t.zeros(Layout.PLAIN, 64),
                        t.zeros(Layout.PLAIN, 64),
                        t.zeros(Layout.PLAIN, 64),
                        z,
                        true,
                        0.1f,
                        1e-5f,
                        Activation.RELU);
                bn[i] = z.toFloatArray();
            }
        }
        assertClose("conv 1 vs 2 threads", conv[0], conv[1], 1e-4, 1e-5);
        assertClose("batch norm 1 vs 2 threads", bn[0], bn[1], 1e-5, 1e-5);
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() {
        CpuBackend other = new CpuBackend(1);
        other.close();
        other.close();
        Tensor a = t.plain(1, 2);
        assertThrows(IllegalStateException.class, () -> other.fill(a, 0f));
        assertThrows(IllegalStateException.class, () -> other.conv2d(Conv2dSpec.of(1, 1, 1, 1, 0, 1, 1, false)));
    }

    @Test
    void workspacesGrowOnceThenStay() {
        Random rnd = new Random(5);
        Tensor x = t.random(rnd, Layout.NHWC, 1, 32, 32, 32);
        Tensor w = t.random(rnd, Layout.OIHW, 32, 32, 3, 3);
        Tensor y = t.nhwc(1, 32, 32, 32);
        Tensor dx = t.nhwc(1, 32, 32, 32);
        Tensor z = t.nhwc(1, 32, 32, 32);
        Tensor dz = t.nhwc(1, 32, 32, 32);
        Tensor dw = t.zeros(Layout.OIHW, 32, 32, 3, 3);
        Tensor g = t.random(rnd, Layout.PLAIN, 32);
        Tensor[] stats = {
            t.zeros(Layout.PLAIN, 32),
            t.zeros(Layout.PLAIN, 32),
            t.zeros(Layout.PLAIN, 32),
            t.zeros(Layout.PLAIN, 32),
            t.zeros(Layout.PLAIN, 32),
            t.zeros(Layout.PLAIN, 32)
        };
        try (Conv2dOp op = be.conv2d(Conv2dSpec.same(32, 32, 3, 1, 1, false))) {
            Runnable step = () -> {
                op.forward(x, w, null, y, true);
                be.batchNormForward(
                        y, g, g, stats[0], stats[1], stats[2], stats[3], z, true, 0.1f, 1e-5f, Activation.RELU);
                be.batchNormBackward(z, y, z, g, stats[2], stats[3], dz, stats[4], stats[5], Activation.RELU);
                op.backwardData(dz, w, dx);
                op.backwardWeights(x, y, dw, null);
            };
            step.run();
            long workspace = be.workspaceBytes();
            long tensors = org.arunet.tensor.HostMemory.bytesInUse();
            assertTrue(workspace > 0);
            for (int i = 0; i < 10; i++) {
                step.run();
            }
            assertEquals(workspace, be.workspaceBytes(), "no workspace growth once warm");
            assertEquals(tensors, org.arunet.tensor.HostMemory.bytesInUse());
        }
    }
}

package org.arunet.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.arunet.backend.Backend;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.tensor.HostMemory;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The activation pool: best fit, recorded plans (greedy by size), replay, and falling back. */
class ActivationPoolTest {
    /** A pass: acquire sizes in order, releasing tensor {@code frees[i]} (or none) after acquire i. */
    private static List<Tensor> pass(ActivationPool pool, int[] sizes, int[] frees, int scale) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            out.add(pool.acquire(1, 1, sizes[i] * scale, 1));
            if (frees[i] >= 0) {
                pool.release(out.get(frees[i]));
                out.set(frees[i], null);
            }
        }
        for (Tensor t : out) {
            pool.release(t);
        }
        return out;
    }

    @Test
    void greedyBySizeNeverOverlapsLiveTensors() {
        Random r = new Random(3);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + r.nextInt(30);
            long[] sizes = new long[n];
            List<long[]> life = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                sizes[i] = 1 + r.nextInt(100);
                long a = r.nextInt(50);
                life.add(new long[] {a, a + 1 + r.nextInt(20)});
            }
            long[] off = ActivationPool.greedyBySize(sizes, life);
            long peak = 0;
            for (long t = 0; t < 80; t++) {
                long live = 0;
                for (int i = 0; i < n; i++) {
                    if (life.get(i)[0] <= t && t < life.get(i)[1]) {
                        live += sizes[i];
                    }
                }
                peak = Math.max(peak, live);
            }
            long top = 0;
            for (int i = 0; i < n; i++) {
                top = Math.max(top, off[i] + sizes[i]);
                for (int j = 0; j < i; j++) {
                    boolean together = life.get(i)[0] < life.get(j)[1] && life.get(j)[0] < life.get(i)[1];
                    boolean apart = off[i] + sizes[i] <= off[j] || off[j] + sizes[j] <= off[i];
                    assertTrue(!together || apart, "tensors " + i + " and " + j + " overlap");
                }
            }
            assertTrue(top >= peak);
        }
    }

    @Test
    void aRecordedPassReplaysScaledInOneArenaAndFallsBackOnADifferentPass() {
        int[] sizes = {64, 32, 64, 16, 128, 64, 32};
        int[] frees = {-1, 0, 1, -1, 2, 3, 4};
        long before = HostMemory.bytesInUse();
        try (Backend be = new CpuBackend(1);
                ActivationPool pool = new ActivationPool(be)) {
            pool.record();
            pass(pool, sizes, frees, 1);
            long arena = pool.plan(4);
            assertTrue(pool.planned());
            assertEquals(arena, pool.bytes());
            long held = HostMemory.bytesInUse();
            for (int round = 0; round < 3; round++) {
                pool.beginPass();
                pass(pool, sizes, frees, 4);
                assertTrue(pool.planned(), "the same pass follows the plan");
                assertEquals(held, HostMemory.bytesInUse(), "nothing allocated while replaying");
            }
            assertTrue(arena <= 4L * 4 * (64 + 128 + 64) + 64, "arena " + arena + " bytes");
            // a different sequence drops the plan and is served by best fit, correctly
            pool.beginPass();
            Tensor a = pool.acquire(1, 1, 100, 1);
            assertFalse(pool.planned());
            Tensor b = pool.acquire(1, 1, 100, 1);
            assertTrue(b.address() + b.bytes() <= a.address() || a.address() + a.bytes() <= b.address());
            pool.release(a);
            pool.release(b);
            assertThrows(IllegalArgumentException.class, () -> pool.release(a));
        }
        assertEquals(before, HostMemory.bytesInUse());
    }
}

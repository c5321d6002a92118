package org.arunet.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import org.junit.jupiter.api.Test;

class HalfTest {
    @Test
    void knownValues() {
        assertEquals(0x3C00, Half.fromFloat(1f) & 0xFFFF);
        assertEquals(0xC000, Half.fromFloat(-2f) & 0xFFFF);
        assertEquals(0x7BFF, Half.fromFloat(65504f) & 0xFFFF, "largest half");
        assertEquals(0x7C00, Half.fromFloat(65520f) & 0xFFFF, "rounds up to infinity");
        assertEquals(0x7BFF, Half.fromFloat(65519f) & 0xFFFF);
        assertEquals(0x0001, Half.fromFloat(0x1p-24f) & 0xFFFF, "smallest subnormal");
        assertEquals(0x0000, Half.fromFloat(0x1p-25f) & 0xFFFF, "half of it ties to even zero");
        assertEquals(0x0001, Half.fromFloat(0x1.8p-25f) & 0xFFFF);
        assertEquals(0x0400, Half.fromFloat(0x1p-14f) & 0xFFFF, "smallest normal");
        assertEquals(0x3555, Half.fromFloat(1f / 3) & 0xFFFF);
        assertEquals(0x8000, Half.fromFloat(-0f) & 0xFFFF);
        assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(Float.NaN))));
        assertEquals(Float.NEGATIVE_INFINITY, Half.toFloat(Half.fromFloat(Float.NEGATIVE_INFINITY)));
    }

    /** Every half converts to a float and back unchanged; rounding of floats is to the nearest half, ties to even. */
    @Test
    void roundTripAndNearest() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Half.toFloat((short) h);
            if (Float.isNaN(f)) {
                continue;
            }
            assertEquals(h, Half.fromFloat(f) & 0xFFFF, "half " + Integer.toHexString(h));
        }
        java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
        for (int i = 0; i < 200_000; i++) {
            float f = (float) ((rng.nextDouble() * 2 - 1) * Math.pow(2, rng.nextInt(-26, 17)));
            short h = Half.fromFloat(f);
            float r = Half.toFloat(h);
            if (Float.isInfinite(r)) {
                assertTrue(Math.abs(f) >= 65520f, "overflow only beyond 65520: " + f);
                continue;
            }
            // No other half is nearer, and on a tie the chosen one is even.
            for (int d : new int[] {-1, 1}) {
                int n = (h & 0xFFFF) + d;
                if ((n & 0x7FFF) >= 0x7C00 || n < 0 || n > 0xFFFF || ((n ^ h) & 0x8000) != 0) {
                    continue;
                }
                BigDecimal mine = new BigDecimal(r).subtract(new BigDecimal(f)).abs();
                BigDecimal other = new BigDecimal(Half.toFloat((short) n))
                        .subtract(new BigDecimal(f))
                        .abs();
                int cmp = mine.compareTo(other);
                assertTrue(
                        cmp < 0 || (cmp == 0 && (h & 1) == 0),
                        f + " -> " + r + ", neighbour " + Half.toFloat((short) n));
            }
        }
    }
}

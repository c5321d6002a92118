package org.arunet.backend.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@link Erf} against values computed with mpmath at 50 digits (at the exact double arguments), and the
 * GELU built on it.
 */
class ErfTest {
    /** {x, erf(x), erfc(x)}. */
    private static final double[][] TABLE = {
        {1e-300, 1.1283791670955126e-300, 1.0},
        {1e-20, 1.1283791670955125e-20, 1.0},
        {1e-10, 1.1283791670955126e-10, 9.9999999988716208e-1},
        {1e-5, 1.1283791670579e-5, 9.9998871620832942e-1},
        {0.01, 1.1283415555849617e-2, 9.8871658444415038e-1},
        {0.1, 1.124629160182849e-1, 8.875370839817151e-1},
        {0.25, 2.7632639016823693e-1, 7.2367360983176307e-1},
        {0.4, 4.2839235504666848e-1, 5.7160764495333152e-1},
        {0.46875, 4.9261347321793799e-1, 5.0738652678206201e-1},
        {0.47, 4.9374505088608211e-1, 5.0625494911391789e-1},
        // both sides of the interval boundaries
        {0.46874999999999994, 0.49261347321793794, 0.50738652678206206},
        {0.46875000000000006, 0.49261347321793804, 0.50738652678206196},
        {3.9999999999999996, 0.9999999845827421, 1.5417257900280075e-8},
        {4.000000000000001, 0.9999999845827421, 1.5417257900279906e-8},
        {0.5, 5.2049987781304654e-1, 4.7950012218695346e-1},
        {0.75, 7.1115563365351513e-1, 2.8884436634648487e-1},
        {1.0, 8.4270079294971487e-1, 1.5729920705028513e-1},
        {1.25, 9.2290012825645823e-1, 7.709987174354177e-2},
        {1.5, 9.6610514647531073e-1, 3.3894853524689273e-2},
        {2.0, 9.9532226501895273e-1, 4.6777349810472658e-3},
        {2.5, 9.9959304798255504e-1, 4.0695201744495894e-4},
        {3.0, 9.9997790950300141e-1, 2.2090496998585441e-5},
        {3.5, 9.9999925690162766e-1, 7.4309837234141275e-7},
        {3.99, 9.9999998326078864e-1, 1.6739211364520814e-8},
        {4.0, 9.999999845827421e-1, 1.5417257900280019e-8},
        {4.01, 9.9999998580306058e-1, 1.4196939421371051e-8},
        {4.5, 9.9999999980338396e-1, 1.9661604415428875e-10},
        {5.0, 9.9999999999846254e-1, 1.5374597944280349e-12},
        {6.0, 9.9999999999999998e-1, 2.1519736712498913e-17},
        {8.0, 1.0, 1.1224297172982927e-29},
        {10.0, 1.0, 2.0884875837625448e-45},
        {15.0, 1.0, 7.2129941724512067e-100},
        {20.0, 1.0, 5.3958656116079009e-176},
        {26.0, 1.0, 5.6631924088561428e-296},
        {-0.3, -3.2862675945912742e-1, 1.3286267594591274},
        {-1.0, -8.4270079294971487e-1, 1.8427007929497149},
        {-3.0, -9.9997790950300141e-1, 1.9999779095030014},
        {-5.0, -9.9999999999846254e-1, 1.9999999999984625},
    };

    /** {x, gelu(x), gelu'(x)} (mpmath: x Phi(x), Phi(x) + x phi(x)). */
    private static final double[][] GELU = {
        {-3.0, -0.0040496940948902836, -0.011945647204183927},
        {-1.0, -0.15865525393145705, -0.083315470587686298},
        {-0.5, -0.15426876936299345, 0.13250487534383716},
        {0.0, 0.0, 0.5},
        {0.5, 0.34573123063700655, 0.86749512465616284},
        {1.0, 0.84134474606854295, 1.0833154705876863},
        {2.0, 1.9544997361036416, 1.0852318010781969},
        {3.0, 2.9959503059051097, 1.0119456472041839},
    };

    private static void assertRelative(String what, double expected, double actual, double rtol) {
        double err = Math.abs(actual - expected);
        assertTrue(
                err <= rtol * Math.abs(expected),
                what + ": " + actual + " vs " + expected + " (relative error " + err / Math.abs(expected) + " > " + rtol
                        + ")");
    }

    @Test
    void erfMatchesHighPrecisionValues() {
        for (double[] row : TABLE) {
            assertRelative("erf(" + row[0] + ")", row[1], Erf.erf(row[0]), 1e-15);
        }
    }

    @Test
    void erfcMatchesHighPrecisionValuesWithoutCancellation() {
        for (double[] row : TABLE) {
            // erfc is a product of two exponentials and a rational function here: a few ulps.
            assertRelative("erfc(" + row[0] + ")", row[2], Erf.erfc(row[0]), 2e-15);
        }
    }

    @Test
    void specialValues() {
        assertEquals(0.0, Erf.erf(0.0));
        assertEquals(1.0, Erf.erf(Double.POSITIVE_INFINITY));
        assertEquals(-1.0, Erf.erf(Double.NEGATIVE_INFINITY));
        assertEquals(0.0, Erf.erfc(Double.POSITIVE_INFINITY));
        assertEquals(2.0, Erf.erfc(Double.NEGATIVE_INFINITY));
        assertEquals(0.0, Erf.erfc(30.0)); // underflows
        assertTrue(Double.isNaN(Erf.erf(Double.NaN)));
        assertTrue(Double.isNaN(Erf.erfc(Double.NaN)));
    }

    @Test
    void oddSymmetryAndMonotonicity() {
        double previous = -1.0;
        for (double x = -6; x <= 6; x += 1.0 / 64) {
            double e = Erf.erf(x);
            assertEquals(-e, Erf.erf(-x), 0.0, "erf(-x) = -erf(x) at " + x);
            assertTrue(e >= previous, "erf decreases at " + x);
            assertEquals(1.0, e + Erf.erfc(x), 2e-16, "erf + erfc = 1 at " + x);
            previous = e;
        }
    }

    @Test
    void geluAndItsDerivative() {
        for (double[] row : GELU) {
            assertEquals(row[1], RefOps.gelu(row[0]), 1e-16 + 1e-15 * Math.abs(row[1]), "gelu(" + row[0] + ")");
            assertEquals(row[2], RefOps.geluDerivative(row[0]), 1e-15, "gelu'(" + row[0] + ")");
        }
    }
}

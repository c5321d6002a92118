package org.arunet.backend.reference;

/**
 * The error function and its complement in double precision, after W. J. Cody, "Rational Chebyshev
 * approximations for the error function", Mathematics of Computation 23 (1969) 631-637, as in Netlib's
 * SPECFUN {@code CALERF}. The rational approximations are accurate to about 18 significant digits, so the
 * results are within a few units in the last place (about 1e-15 relative) of the true values.
 *
 * <p>Three intervals of {@code y = |x|}: {@code y <= 0.46875} (erf directly), {@code 0.46875 < y <= 4}
 * and {@code y > 4} (erfc as {@code exp(-y^2)} times a rational function; {@code exp(-y^2)} is formed as
 * {@code exp(-t^2) exp(-(y - t)(y + t))} with {@code t = y} rounded down to a multiple of 1/16, which keeps
 * the argument of the first exponential exact).
 */
public final class Erf {
    private Erf() {}

    /** 1 / sqrt(pi). */
    private static final double SQRPI = 5.6418958354775628695e-1;
    /** Below this, erf(x) = x * 2 / sqrt(pi) to working precision; x^2 is then taken as 0. */
    private static final double XSMALL = 1.11e-16;
    /** Above this, erfc(x) underflows to 0. */
    private static final double XBIG = 26.543;

    // erf on |x| <= 0.46875
    private static final double[] A = {
        3.16112374387056560e00,
        1.13864154151050156e02,
        3.77485237685302021e02,
        3.20937758913846947e03,
        1.85777706184603153e-1
    };
    private static final double[] B = {
        2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03
    };

    // erfc on 0.46875 < |x| <= 4
    private static final double[] C = {
        5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
        8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
        2.15311535474403846e-8
    };
    private static final double[] D = {
        1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
        3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03
    };

    // erfc on |x| > 4
    private static final double[] P = {
        3.05326634961232344e-1,
        3.60344899949804439e-1,
        1.25781726111229246e-1,
        1.60837851487422766e-2,
        6.58749161529837803e-4,
        1.63153871373020978e-2
    };
    private static final double[] Q = {
        2.56852019228982242e00,
        1.87295284992346047e00,
        5.27905102951428412e-1,
        6.05183413124413191e-2,
        2.33520497626869185e-3
    };

    /** The error function {@code erf(x) = 2 / sqrt(pi) * integral_0^x exp(-t^2) dt}; NaN for NaN. */
    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return Double.NaN;
        }
        double y = Math.abs(x);
        if (y <= 0.46875) {
            return smallArgumentErf(x);
        }
        // erf = 1 - erfc for |x| > 0.46875, where erfc(|x|) < 0.51 so the subtraction loses nothing.
        double r = 0.5 - erfcTail(y) + 0.5;
        return x < 0 ? -r : r;
    }

    /** The complementary error function {@code erfc(x) = 1 - erf(x)}, without cancellation for large x. */
    public static double erfc(double x) {
        if (Double.isNaN(x)) {
            return Double.NaN;
        }
        double y = Math.abs(x);
        if (y <= 0.46875) {
            return 1.0 - smallArgumentErf(x);
        }
        double r = erfcTail(y);
        return x < 0 ? 2.0 - r : r;
    }

    /** erf(x) for |x| <= 0.46875. */
    private static double smallArgumentErf(double x) {
        double y = Math.abs(x);
        double ysq = y > XSMALL ? y * y : 0.0;
        double xnum = A[4] * ysq;
        double xden = ysq;
        for (int i = 0; i < 3; i++) {
            xnum = (xnum + A[i]) * ysq;
            xden = (xden + B[i]) * ysq;
        }
        return x * (xnum + A[3]) / (xden + B[3]);
    }

    /** erfc(y) for y > 0.46875 (0 beyond the underflow threshold, also for y = +infinity). */
    private static double erfcTail(double y) {
        double r;
        if (y <= 4.0) {
            double xnum = C[8] * y;
            double xden = y;
            for (int i = 0; i < 7; i++) {
                xnum = (xnum + C[i]) * y;
                xden = (xden + D[i]) * y;
            }
            r = (xnum + C[7]) / (xden + D[7]);
        } else {
            if (y >= XBIG) {
                return 0.0;
            }
            double ysq = 1.0 / (y * y);
            double xnum = P[5] * ysq;
            double xden = ysq;
            for (int i = 0; i < 4; i++) {
                xnum = (xnum + P[i]) * ysq;
                xden = (xden + Q[i]) * ysq;
            }
            r = ysq * (xnum + P[4]) / (xden + Q[4]);
            r = (SQRPI - r) / y;
        }
        // exp(-y^2) = exp(-t^2) * exp(-(y - t)(y + t)), t = floor(16 y) / 16: t^2 is exact.
        double t = Math.floor(y * 16.0) / 16.0;
        double del = (y - t) * (y + t);
        return Math.exp(-t * t) * Math.exp(-del) * r;
    }
}

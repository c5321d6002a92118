package org.arunet.testkit;

/**
 * How close an output must be to its expected value.
 *
 * <ul>
 *   <li>element-wise: {@code |a - b| <= atol + rtol |b|} for every element (equal values, two NaNs or two
 *       equal infinities always pass; any other NaN or infinity fails); skipped when atol and rtol are
 *       both negative;
 *   <li>norm-wise: {@code ||a - b|| <= normRtol max(||b||, floor)} (2-norms); skipped when normRtol
 *       is negative. The floor serves outputs whose exact value is 0 (both sides then hold rounding noise):
 *       {@code normFloor} itself when positive, or, when negative, {@code -normFloor} times the largest
 *       expected norm among the case's outputs that share this output's name up to its first dot
 *       (all "grad." outputs of a model, say).
 *   <li>measured only: neither, the output passes unless a NaN or infinity mismatches; its norm-wise error
 *       (with the floor) is judged with the case's other outputs elsewhere (the tiny model's mixed-precision
 *       gradients: {@link AmpGradientCriterion}).
 * </ul>
 */
public record Tolerance(double atol, double rtol, double normRtol, double normFloor) {
    /** Element-wise only. */
    public static Tolerance elementwise(double atol, double rtol) {
        return new Tolerance(atol, rtol, -1, 0);
    }

    /** Norm-wise only. */
    public static Tolerance normwise(double rtol) {
        return new Tolerance(-1, -1, rtol, 0);
    }

    /** No bound of its own: measured, and judged elsewhere. */
    public static Tolerance measured() {
        return new Tolerance(-1, -1, -1, 0);
    }

    /** Both. */
    public static Tolerance both(double atol, double rtol, double normRtol) {
        return new Tolerance(atol, rtol, normRtol, 0);
    }

    public Tolerance withFloor(double floor) {
        return new Tolerance(atol, rtol, normRtol, floor);
    }

    /** A floor of {@code fraction} times the largest expected norm of the outputs with the same prefix. */
    public Tolerance withRelativeFloor(double fraction) {
        return new Tolerance(atol, rtol, normRtol, -fraction);
    }

    boolean elementwiseChecked() {
        return atol >= 0 || rtol >= 0;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        if (elementwiseChecked()) {
            s.append(String.format("|d| <= %.1e + %.1e|b|", Math.max(atol, 0), Math.max(rtol, 0)));
        }
        if (normRtol >= 0) {
            s.append(s.length() > 0 ? ", " : "").append(String.format("||d||/||b|| <= %.1e", normRtol));
            if (normFloor > 0) {
                s.append(String.format(" (||b|| >= %.1e)", normFloor));
            } else if (normFloor < 0) {
                s.append(String.format(" (||b|| >= %.1e of the largest)", -normFloor));
            }
        }
        if (s.length() == 0) {
            s.append("measured only");
            if (normFloor < 0) {
                s.append(String.format(" (||b|| >= %.1e of the largest)", -normFloor));
            }
        }
        return s.toString();
    }
}

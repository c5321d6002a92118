package org.arunet.testkit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Precision;
import org.arunet.tensor.DType;

/** Compares a case's outputs with the expected ones, output by output. */
public final class Comparison {
    private Comparison() {}

    /**
     * One output's comparison.
     *
     * @param maxAbs largest |actual - expected| (infinity when a NaN or infinity mismatches)
     * @param normRel ||actual - expected|| / max(||expected||, floor)
     * @param worst index of the largest difference, with both values there
     * @param bad elements outside the element-wise tolerance
     */
    public record Result(
            String group,
            String caseName,
            String output,
            boolean pass,
            long elements,
            long bad,
            double maxAbs,
            double normRel,
            long worst,
            double worstActual,
            double worstExpected,
            String tolerance,
            String note) {

        /** One line: PASS/FAIL, case, output, numbers. */
        public String line() {
            return String.format(
                    "%s %s :: %s  n=%d bad=%d max|d|=%.3g norm-rel=%.3g (at [%d] %.7g vs %.7g; %s)%s",
                    pass ? "PASS" : "FAIL",
                    caseName,
                    output,
                    elements,
                    bad,
                    maxAbs,
                    normRel,
                    worst,
                    worstActual,
                    worstExpected,
                    tolerance,
                    note.isEmpty() ? "" : " " + note);
        }
    }

    /** Compares every expected output of {@code c}; a missing or mis-shaped output fails. */
    public static List<Result> compare(
            OpCase c, Map<String, HostTensor> actual, Map<String, HostTensor> expected, Precision precision) {
        List<Result> out = new ArrayList<>();
        for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
            String name = e.getKey();
            HostTensor want = e.getValue();
            HostTensor got = actual.get(name);
            Tolerance tol = c.tolerance(name, precision);
            if (got == null) {
                out.add(new Result(
                        c.group(),
                        c.name(),
                        name,
                        false,
                        want.numel(),
                        want.numel(),
                        Double.NaN,
                        Double.NaN,
                        -1,
                        Double.NaN,
                        Double.NaN,
                        tol.toString(),
                        "(missing output)"));
                continue;
            }
            if (got.dtype() != want.dtype() || !Arrays.equals(got.shape(), want.shape())) {
                out.add(new Result(
                        c.group(),
                        c.name(),
                        name,
                        false,
                        want.numel(),
                        want.numel(),
                        Double.NaN,
                        Double.NaN,
                        -1,
                        Double.NaN,
                        Double.NaN,
                        tol.toString(),
                        "(got " + got.describe() + ", expected " + want.describe() + ")"));
                continue;
            }
            if (tol.normFloor() < 0) {
                tol = tol.withFloor(-tol.normFloor() * largestNorm(expected, prefix(name)));
            }
            out.add(compare(c.group(), c.name(), name, values(got), values(want), tol));
        }
        for (String name : actual.keySet()) {
            if (!expected.containsKey(name)) {
                out.add(new Result(
                        c.group(),
                        c.name(),
                        name,
                        false,
                        0,
                        0,
                        Double.NaN,
                        Double.NaN,
                        -1,
                        Double.NaN,
                        Double.NaN,
                        "",
                        "(output not in the expected results)"));
            }
        }
        return out;
    }

    private static String prefix(String name) {
        int dot = name.indexOf('.');
        return dot < 0 ? name : name.substring(0, dot + 1);
    }

    private static double largestNorm(Map<String, HostTensor> expected, String prefix) {
        double best = 0;
        for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
            if (e.getKey().startsWith(prefix)) {
                double s = 0;
                for (double v : values(e.getValue())) {
                    if (Double.isFinite(v)) {
                        s += v * v;
                    }
                }
                best = Math.max(best, Math.sqrt(s));
            }
        }
        return best;
    }

    static double[] values(HostTensor t) {
        if (t.dtype() == DType.F32) {
            double[] d = new double[t.floats().length];
            for (int i = 0; i < d.length; i++) {
                d[i] = t.floats()[i];
            }
            return d;
        }
        if (t.dtype() == DType.I32) {
            double[] d = new double[t.ints().length];
            for (int i = 0; i < d.length; i++) {
                d[i] = t.ints()[i];
            }
            return d;
        }
        if (t.isScalar()) {
            return new double[] {t.scalarValue()};
        }
        double[] d = new double[t.longs().length];
        for (int i = 0; i < d.length; i++) {
            d[i] = t.longs()[i];
        }
        return d;
    }

    static Result compare(String group, String caseName, String output, double[] a, double[] b, Tolerance tol) {
        long bad = 0;
        double maxAbs = 0;
        long worst = 0;
        double diff2 = 0;
        double ref2 = 0;
        boolean nonFiniteMismatch = false;
        for (int i = 0; i < a.length; i++) {
            boolean equal = a[i] == b[i] || (Double.isNaN(a[i]) && Double.isNaN(b[i]));
            double d;
            if (equal) {
                d = 0;
            } else if (!Double.isFinite(a[i]) || !Double.isFinite(b[i])) {
                d = Double.POSITIVE_INFINITY;
                nonFiniteMismatch = true;
            } else {
                d = Math.abs(a[i] - b[i]);
            }
            if (!equal) {
                boolean ok =
                        Double.isFinite(d) && d <= Math.max(tol.atol(), 0) + Math.max(tol.rtol(), 0) * Math.abs(b[i]);
                if (tol.elementwiseChecked() && !ok) {
                    bad++;
                }
            }
            if (d > maxAbs || (i == 0 && d == 0)) {
                if (d > maxAbs) {
                    maxAbs = d;
                }
                worst = i;
            }
            if (Double.isFinite(d)) {
                diff2 += d * d;
            }
            if (Double.isFinite(b[i])) {
                ref2 += b[i] * b[i];
            }
        }
        double denom = Math.max(Math.sqrt(ref2), tol.normFloor());
        double normRel =
                nonFiniteMismatch ? Double.POSITIVE_INFINITY : denom == 0 ? Math.sqrt(diff2) : Math.sqrt(diff2) / denom;
        boolean pass = bad == 0 && !nonFiniteMismatch && (tol.normRtol() < 0 || normRel <= tol.normRtol());
        return new Result(
                group,
                caseName,
                output,
                pass,
                a.length,
                bad,
                maxAbs,
                normRel,
                worst,
                a.length == 0 ? Double.NaN : a[(int) worst],
                b.length == 0 ? Double.NaN : b[(int) worst],
                tol.toString(),
                "");
    }
}

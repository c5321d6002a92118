package org.arunet.testkit;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Precision;

/**
 * The tiny model's mixed-precision gradient check, relative to PyTorch AMP's own spread.
 *
 * <p>Half-precision gradients of the tiny ARU-Net (batch 2 of 32x32, width 8, a batch norm after nearly
 * every convolution) differ from float32 by 10-50 % norm-wise per parameter in PyTorch's autocast as in
 * arunet ({@code benchmarks/RESULTS.md}, "Parity"), so no fixed per-parameter bound tells a right gradient
 * from a wrong one. The reference is PyTorch AMP's spread: the norm-wise relative error of each parameter's
 * gradient under {@code torch.autocast} against the fixture's float32 gradient, in the same precision
 * ({@code benchmarks/gpu/amp_gradient_spread.py}, measured on the same GPU in the same run where possible).
 * arunet's gradient errors, measured the same way, pass when
 *
 * <ol>
 *   <li>there is at least one and every one is finite;
 *   <li>their median is at most {@value #MEDIAN_FACTOR} x PyTorch's median (as accurate as PyTorch's AMP
 *       over the whole model);
 *   <li>each parameter's error is at most max({@value #SAME_PARAMETER_FACTOR} x PyTorch's error on the same
 *       parameter, {@value #MEDIAN_MULTIPLE} x PyTorch's median) (no single gradient far off).
 * </ol>
 *
 * The per-parameter bound has a floor of a multiple of PyTorch's median rather than being tied to
 * PyTorch's error on each parameter alone: the two implementations round different tensors (PyTorch
 * keeps activations in half precision, arunet only the convolutions' operands and results): their
 * per-parameter errors agree for most parameters but differ 4-13x on a few (the channel attention's small
 * linear layers), while the medians agree within 10 %. {@code benchmarks/gpu/README.md} has the data. Where no spread was
 * measured, {@link #h200Calibration} is the reference: medians and worst errors only, so the
 * per-parameter bound is the median multiple alone.
 */
public final class AmpGradientCriterion {
    /** arunet's median error may be this many times PyTorch's. */
    public static final double MEDIAN_FACTOR = 1.25;
    /** Each parameter's error may be this many times PyTorch's error on the same parameter ... */
    public static final double SAME_PARAMETER_FACTOR = 2;
    /** ... or, if more, this many times PyTorch's median. */
    public static final double MEDIAN_MULTIPLE = 5;
    /** The name of the verdict among a case's outputs. */
    public static final String OUTPUT = "gradients vs PyTorch AMP";

    private AmpGradientCriterion() {}

    /**
     * PyTorch AMP's gradient errors in one precision.
     *
     * @param errors per parameter (empty when only the summary is known)
     * @param source where the numbers come from, for the log
     */
    public record Spread(
            double median, double worst, String worstParameter, Map<String, Double> errors, String source) {
        public Spread {
            errors = Map.copyOf(errors);
        }

        /** The spread of per-parameter errors (at least one). */
        public static Spread of(Map<String, Double> errors, String source) {
            if (errors.isEmpty()) {
                throw new IllegalArgumentException("no per-parameter errors in " + source);
            }
            String worst = null;
            for (Map.Entry<String, Double> e : errors.entrySet()) {
                if (worst == null || !(e.getValue() <= errors.get(worst))) {
                    worst = e.getKey();
                }
            }
            return new Spread(AmpGradientCriterion.median(errors.values()), errors.get(worst), worst, errors, source);
        }

        /** True when PyTorch's error is known parameter by parameter. */
        public boolean perParameter() {
            return !errors.isEmpty();
        }
    }

    /**
     * The calibration recorded in the repository: PyTorch 2.11 autocast on an H200, 2026-11-27
     * ({@code benchmarks/gpu/results/2026-11-27-h200-amp-gradient-spread.txt}), median and worst only.
     */
    public static Spread h200Calibration(Precision p) {
        String source = "H200 calibration of 2026-11-27 (PyTorch 2.11 autocast; median and worst only,"
                + " benchmarks/gpu/results/2026-11-27-h200-amp-gradient-spread.txt)";
        return switch (p) {
            case F16 -> new Spread(0.179, 0.366, "dec2.ca.fc_avg.weight", Map.of(), source);
            case BF16 -> new Spread(0.496, 11.7, "dec1.fuse.conv.bias", Map.of(), source);
            case F32 -> throw new IllegalArgumentException("no mixed-precision calibration for fp32");
        };
    }

    /**
     * The outcome.
     *
     * @param median arunet's median error (NaN when there is none)
     * @param medianBound {@value #MEDIAN_FACTOR} x PyTorch's median
     * @param overBound the parameters over their bound (or non-finite), with their error
     * @param bounds each parameter's bound, in the order of the errors
     * @param problem why it failed before any comparison (no gradients, a non-finite error), or null
     */
    public record Verdict(
            boolean pass,
            int parameters,
            double median,
            double worst,
            String worstParameter,
            Spread reference,
            double medianBound,
            boolean medianOk,
            Map<String, Double> overBound,
            Map<String, Double> bounds,
            String problem) {

        /** One line: arunet's and PyTorch's median and worst, each condition, the verdict. */
        public String line() {
            StringBuilder s = new StringBuilder();
            s.append(String.format(
                    "arunet median %.3g, worst %.3g (%s) over %d parameters; PyTorch AMP median %.3g,"
                            + " worst %.3g (%s) [%s]",
                    median,
                    worst,
                    worstParameter,
                    parameters,
                    reference.median(),
                    reference.worst(),
                    reference.worstParameter(),
                    reference.source()));
            if (problem != null) {
                s.append("; ").append(problem);
            } else {
                s.append(String.format(
                        "; median <= %.2f x %.3g = %.3g: %s",
                        MEDIAN_FACTOR, reference.median(), medianBound, medianOk ? "yes" : "NO"));
                String bound = String.format(
                        "%.0f x %.3g = %.3g",
                        MEDIAN_MULTIPLE, reference.median(), MEDIAN_MULTIPLE * reference.median());
                s.append("; each parameter <= ")
                        .append(
                                reference.perParameter()
                                        ? String.format("max(%.0f x PyTorch's on it, %s)", SAME_PARAMETER_FACTOR, bound)
                                        : bound)
                        .append(": ")
                        .append(overBound.isEmpty() ? "yes" : "NO, " + overBound.size() + " over");
                int shown = 0;
                for (Map.Entry<String, Double> e : overBound.entrySet()) {
                    if (shown++ == 5) {
                        s.append(", ...");
                        break;
                    }
                    s.append(String.format(
                            shown == 1 ? ": %s %.3g > %.3g" : ", %s %.3g > %.3g",
                            e.getKey(),
                            e.getValue(),
                            bounds.getOrDefault(e.getKey(), Double.NaN)));
                }
            }
            return s.append(pass ? " -> PASS" : " -> FAIL").toString();
        }
    }

    /** Judges arunet's per-parameter gradient errors (name without "grad." -> norm-wise relative error). */
    public static Verdict judge(Map<String, Double> errors, Spread reference) {
        Map<String, Double> over = new LinkedHashMap<>();
        Map<String, Double> bounds = new LinkedHashMap<>();
        double medianBound = MEDIAN_FACTOR * reference.median();
        if (errors.isEmpty()) {
            return new Verdict(
                    false,
                    0,
                    Double.NaN,
                    Double.NaN,
                    "-",
                    reference,
                    medianBound,
                    false,
                    over,
                    bounds,
                    "no gradients to judge");
        }
        String worst = null;
        for (Map.Entry<String, Double> e : errors.entrySet()) {
            double v = e.getValue();
            if (!Double.isFinite(v)) {
                over.put(e.getKey(), v);
            }
            if (worst == null || !(v <= errors.get(worst))) {
                worst = e.getKey();
            }
        }
        if (!over.isEmpty()) {
            return new Verdict(
                    false,
                    errors.size(),
                    Double.NaN,
                    errors.get(worst),
                    worst,
                    reference,
                    medianBound,
                    false,
                    over,
                    bounds,
                    "non-finite error for " + String.join(", ", over.keySet()));
        }
        double median = median(errors.values());
        boolean medianOk = median <= medianBound;
        for (Map.Entry<String, Double> e : errors.entrySet()) {
            double bound = MEDIAN_MULTIPLE * reference.median();
            Double theirs = reference.errors().get(e.getKey());
            if (theirs != null && Double.isFinite(theirs)) {
                bound = Math.max(bound, SAME_PARAMETER_FACTOR * theirs);
            }
            bounds.put(e.getKey(), bound);
            if (!(e.getValue() <= bound)) {
                over.put(e.getKey(), e.getValue());
            }
        }
        return new Verdict(
                medianOk && over.isEmpty(),
                errors.size(),
                median,
                errors.get(worst),
                worst,
                reference,
                medianBound,
                medianOk,
                over,
                bounds,
                null);
    }

    /** The per-parameter gradient errors among a case's results: outputs "grad.NAME" -> NAME. */
    public static Map<String, Double> gradientErrors(Collection<Comparison.Result> results) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (Comparison.Result r : results) {
            if (r.output().startsWith("grad.")) {
                out.put(r.output().substring("grad.".length()), r.normRel());
            }
        }
        return out;
    }

    /** The verdict as one more output of the case (so that it shows wherever outputs are listed). */
    public static Comparison.Result asResult(String group, String caseName, Verdict v) {
        return new Comparison.Result(
                group,
                caseName,
                OUTPUT,
                v.pass(),
                v.parameters(),
                v.overBound().size() + (v.medianOk() ? 0 : 1),
                Double.NaN,
                v.median(),
                -1,
                Double.NaN,
                Double.NaN,
                String.format(
                        "median <= %.2f x PyTorch's, each <= max(%.0f x PyTorch's, %.0f x its median)",
                        MEDIAN_FACTOR, SAME_PARAMETER_FACTOR, MEDIAN_MULTIPLE),
                v.line());
    }

    static double median(Collection<Double> values) {
        List<Double> v = new ArrayList<>(values);
        v.sort(null);
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }
}

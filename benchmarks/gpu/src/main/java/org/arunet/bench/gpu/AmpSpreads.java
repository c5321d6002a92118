package org.arunet.bench.gpu;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.arunet.backend.Precision;
import org.arunet.testkit.AmpGradientCriterion;
import org.arunet.testkit.AmpGradientCriterion.Spread;

/**
 * PyTorch AMP's gradient spread per half precision, the reference of the mixed-precision gradient check:
 * read from {@code amp_gradient_spread.py --json} (run on the same GPU just before the parity phase), or,
 * for a precision it did not measure, {@link AmpGradientCriterion#h200Calibration} with the reason.
 */
final class AmpSpreads {
    private final Map<Precision, Spread> measured = new EnumMap<>(Precision.class);
    private final Map<Precision, String> notMeasured = new EnumMap<>(Precision.class);
    /** What the file says about where it was measured (torch, device, GPU), or null. */
    final Map<String, Object> origin = new LinkedHashMap<>();

    private AmpSpreads() {}

    /** The spreads of {@code file}; null or a missing or unreadable file gives the calibration, with why. */
    static AmpSpreads read(Path file) {
        AmpSpreads s = new AmpSpreads();
        String why = null;
        JsonNode doc = null;
        if (file == null) {
            why = "no --amp-spread file given";
        } else if (!Files.isRegularFile(file)) {
            why = file + " not found (amp_gradient_spread.py failed or did not run)";
        } else {
            try {
                doc = GpuHarness.JSON.readTree(file.toFile());
            } catch (IOException e) {
                why = "cannot read " + file + ": " + e.getMessage();
            }
        }
        String where = "measured in this run";
        if (doc != null) {
            for (String k : new String[] {"torch", "device", "gpu"}) {
                if (doc.hasNonNull(k)) {
                    s.origin.put(k, doc.get(k).asText());
                }
            }
            where = String.format(
                    "measured in this run: PyTorch %s autocast on %s (%s)",
                    s.origin.get("torch"), s.origin.get("device"), s.origin.get("gpu"));
        }
        for (Precision p : new Precision[] {Precision.F16, Precision.BF16}) {
            if (doc == null) {
                s.notMeasured.put(p, why);
                continue;
            }
            JsonNode e = doc.path("precisions").path(p.toString()).path("errors");
            Map<String, Double> errors = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = e.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                errors.put(f.getKey(), f.getValue().isNumber() ? f.getValue().asDouble() : Double.NaN);
            }
            if (!errors.isEmpty() && errors.values().stream().allMatch(Double::isFinite)) {
                s.measured.put(p, Spread.of(errors, where));
            } else if (!errors.isEmpty()) {
                s.notMeasured.put(p, "PyTorch's own " + p + " gradients in " + file + " are not all finite");
            } else {
                String skipped = doc.path("skipped").path(p.toString()).asText("");
                s.notMeasured.put(
                        p,
                        skipped.isEmpty()
                                ? "no " + p + " errors in " + file
                                : "amp_gradient_spread.py did not measure " + p + ": " + skipped);
            }
        }
        return s;
    }

    /** The reference in precision {@code p}: measured, or the H200 calibration saying why. */
    Spread spread(Precision p) {
        Spread m = measured.get(p);
        if (m != null) {
            return m;
        }
        Spread c = AmpGradientCriterion.h200Calibration(p);
        return new Spread(
                c.median(),
                c.worst(),
                c.worstParameter(),
                c.errors(),
                c.source() + "; NOT measured in this run: " + notMeasured.get(p));
    }

    boolean isMeasured(Precision p) {
        return measured.containsKey(p);
    }

    /** One line for the log. */
    String describe(Precision p) {
        Spread s = spread(p);
        return String.format(
                "PyTorch AMP %s gradient spread: median %.3g, worst %.3g (%s), %s; %s",
                p,
                s.median(),
                s.worst(),
                s.worstParameter(),
                s.perParameter() ? "over " + s.errors().size() + " parameters" : "per-parameter errors unknown",
                isMeasured(p) ? s.source() : "FALLBACK to the " + s.source());
    }

    /** For the parity JSON: per precision the reference used, with every parameter's error when measured. */
    Map<String, Object> document() {
        Map<String, Object> d = new LinkedHashMap<>(origin);
        for (Precision p : new Precision[] {Precision.F16, Precision.BF16}) {
            Spread s = spread(p);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("measured", isMeasured(p));
            m.put("source", s.source());
            m.put("median", s.median());
            m.put("worst", s.worst());
            m.put("worst_parameter", s.worstParameter());
            m.put("errors", new java.util.TreeMap<>(s.errors()));
            d.put(p.toString(), m);
        }
        return d;
    }
}

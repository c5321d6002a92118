package org.arunet.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Precision;
import org.junit.jupiter.api.Test;

/** The mixed-precision gradient criterion on small hand-made error maps. */
class AmpGradientCriterionTest {

    /** PyTorch: median 0.2 (of 0.1, 0.2, 0.3, 0.2, 1.5), worst 1.5 on "bias". */
    private static final AmpGradientCriterion.Spread TORCH =
            AmpGradientCriterion.Spread.of(map("a", 0.1, "b", 0.2, "c", 0.3, "d", 0.2, "bias", 1.5), "hand-made");

    private static Map<String, Double> map(Object... kv) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], ((Number) kv[i + 1]).doubleValue());
        }
        return m;
    }

    @Test
    void spreadSummarisesTheErrors() {
        assertEquals(0.2, TORCH.median(), 1e-12);
        assertEquals(1.5, TORCH.worst(), 1e-12);
        assertEquals("bias", TORCH.worstParameter());
        assertTrue(TORCH.perParameter());
        assertEquals(0.25, AmpGradientCriterion.median(List.of(0.1, 0.2, 0.3, 0.4)), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> AmpGradientCriterion.Spread.of(Map.of(), "empty"));
    }

    @Test
    void asAccurateAsPyTorchPasses() {
        // median 0.22 <= 1.25 x 0.2; "c" 0.9 is 3x PyTorch's 0.3 there but under 5 x its median (1.0);
        // "bias" 2.5 is over 5 x the median but under 2 x PyTorch's own 1.5 on it
        var v = AmpGradientCriterion.judge(map("a", 0.2, "b", 0.22, "c", 0.9, "d", 0.1, "bias", 2.5), TORCH);
        assertTrue(v.pass(), v.line());
        assertTrue(v.medianOk());
        assertEquals(0.22, v.median(), 1e-12);
        assertEquals(2.5, v.worst(), 1e-12);
        assertEquals("bias", v.worstParameter());
        assertEquals(3.0, v.bounds().get("bias"), 1e-12);
        assertEquals(1.0, v.bounds().get("c"), 1e-12);
        assertTrue(v.line().endsWith("-> PASS"), v.line());
        assertTrue(v.line().contains("arunet median 0.220") && v.line().contains("PyTorch AMP median 0.200"), v.line());
    }

    @Test
    void aMedianTooHighFails() {
        // every parameter within its bound, but the median 0.3 > 1.25 x 0.2
        var v = AmpGradientCriterion.judge(map("a", 0.3, "b", 0.3, "c", 0.3, "d", 0.3, "bias", 0.3), TORCH);
        assertFalse(v.pass(), v.line());
        assertFalse(v.medianOk());
        assertTrue(v.overBound().isEmpty());
        assertTrue(v.line().contains("NO") && v.line().endsWith("-> FAIL"), v.line());
    }

    @Test
    void oneParameterFarOffFails() {
        // a good median, but "c" 1.2 > max(2 x 0.3, 5 x 0.2): a gradient as wrong as zero would be
        var v = AmpGradientCriterion.judge(map("a", 0.1, "b", 0.2, "c", 1.2, "d", 0.2, "bias", 0.1), TORCH);
        assertFalse(v.pass(), v.line());
        assertTrue(v.medianOk());
        assertEquals(Map.of("c", 1.2), v.overBound());
        assertTrue(v.line().contains("c 1.20 > 1.00"), v.line());
    }

    @Test
    void nonFiniteOrMissingGradientsFail() {
        var nan = AmpGradientCriterion.judge(map("a", 0.1, "b", Double.NaN), TORCH);
        assertFalse(nan.pass(), nan.line());
        assertTrue(nan.line().contains("non-finite error for b"), nan.line());
        var inf = AmpGradientCriterion.judge(map("a", Double.POSITIVE_INFINITY), TORCH);
        assertFalse(inf.pass());
        var none = AmpGradientCriterion.judge(Map.of(), TORCH);
        assertFalse(none.pass());
        assertTrue(none.line().contains("no gradients"), none.line());
    }

    @Test
    void aParameterPyTorchDoesNotHaveIsBoundedByTheMedianMultiple() {
        var v = AmpGradientCriterion.judge(map("a", 0.2, "b", 0.1, "new", 0.99), TORCH);
        assertEquals(1.0, v.bounds().get("new"), 1e-12);
        assertTrue(v.pass(), v.line());
        assertFalse(AmpGradientCriterion.judge(map("a", 0.2, "b", 0.1, "new", 1.01), TORCH)
                .pass());
    }

    @Test
    void theH200CalibrationHasMediansOnly() {
        var fp16 = AmpGradientCriterion.h200Calibration(Precision.F16);
        var bf16 = AmpGradientCriterion.h200Calibration(Precision.BF16);
        assertEquals(0.179, fp16.median());
        assertEquals(0.496, bf16.median());
        assertFalse(fp16.perParameter());
        assertThrows(IllegalArgumentException.class, () -> AmpGradientCriterion.h200Calibration(Precision.F32));
        // arunet's own H200 numbers (fixture, fp16): median 0.171, worst 0.690 -> pass against the calibration
        var v = AmpGradientCriterion.judge(map("x", 0.1, "y", 0.171, "z", 0.69), fp16);
        assertTrue(v.pass(), v.line());
        assertTrue(v.line().contains("H200 calibration"), v.line());
        assertTrue(v.line().contains("each parameter <= 5 x 0.179"), v.line());
        // a gradient of error 1 (as far off as a zero gradient) fails in fp16
        assertFalse(AmpGradientCriterion.judge(map("x", 0.1, "y", 0.171, "z", 1.0), fp16)
                .pass());
    }

    @Test
    void gradientErrorsAndTheVerdictAsAnOutput() {
        var ok = new Comparison.Result("model", "m", "grad.w", true, 4, 0, 0.1, 0.3, 0, 0, 0, "", "");
        var other = new Comparison.Result("model", "m", "logits", true, 4, 0, 0.1, 0.9, 0, 0, 0, "", "");
        Map<String, Double> e = AmpGradientCriterion.gradientErrors(List.of(ok, other));
        assertEquals(Map.of("w", 0.3), e);
        var v = AmpGradientCriterion.judge(e, TORCH);
        Comparison.Result r = AmpGradientCriterion.asResult("model", "m", v);
        assertEquals(AmpGradientCriterion.OUTPUT, r.output());
        assertFalse(r.pass()); // median 0.3 > 1.25 x 0.2
        assertEquals(0.3, r.normRel(), 1e-12);
        assertEquals(v.line(), r.note());
    }

    @Test
    void measuredOnlyToleranceNeverFailsAFiniteOutputAndSaysSo() {
        Tolerance t = Tolerance.measured().withRelativeFloor(1e-4);
        assertEquals("measured only (||b|| >= 1.0e-04 of the largest)", t.toString());
        assertTrue(Comparison.compare("g", "c", "grad.w", new double[] {1, 2}, new double[] {5, -3}, t)
                .pass());
        assertFalse(Comparison.compare("g", "c", "grad.w", new double[] {Double.NaN, 2}, new double[] {5, -3}, t)
                .pass());
    }
}

package org.arunet.eval;

import org.arunet.infer.Segmenter;

/**
 * Not a test: an architecture violation for ArchitectureRulesCatchViolationsTest, the old
 * {@code org.arunet.eval.Evaluator} (eval using infer, which uses train, which uses eval).
 */
public final class ArchViolationEvaluator {
    private ArchViolationEvaluator() {}

    public static int classes(Segmenter segmenter) {
        return segmenter.classes();
    }
}

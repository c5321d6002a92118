package org.arunet.model;

import org.arunet.train.Adam;

/**
 * Not a test: an architecture violation for ArchitectureRulesCatchViolationsTest, a core package (model)
 * using the training layer above it.
 */
public final class ArchViolationTrainingModel {
    private ArchViolationTrainingModel() {}

    public static long steps(Adam adam) {
        return adam.steps();
    }
}

package org.arunet.backend.cuda.archviolation;

/**
 * Not a test: an architecture violation for ArchitectureRulesCatchViolationsTest, a second precision
 * type beside {@code org.arunet.backend.Precision} (as {@code org.arunet.backend.cuda.Precision} was).
 */
public enum Precision {
    FP32,
    FP16,
    BF16
}

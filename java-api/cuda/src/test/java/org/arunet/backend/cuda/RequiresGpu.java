package org.arunet.backend.cuda;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs a test class only where a usable CUDA GPU is present ({@link Cuda#available()}); elsewhere the
 * class is reported as skipped with the probe's reason (e.g. "no usable CUDA GPU: the CUDA runtime could
 * not be loaded (UnsatisfiedLinkError: no jnicudart)...").
 */
public final class RequiresGpu implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        return Cuda.available()
                ? ConditionEvaluationResult.enabled(Cuda.describe())
                : ConditionEvaluationResult.disabled(Cuda.describe());
    }
}

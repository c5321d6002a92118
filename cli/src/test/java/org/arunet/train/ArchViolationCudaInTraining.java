package org.arunet.train;

import org.arunet.backend.Backend;
import org.arunet.backend.Precision;
import org.arunet.backend.cuda.CudaBackend;

/**
 * Not a test: an architecture violation for ArchitectureRulesCatchViolationsTest, what
 * {@code LossScaler.forBackend} was (training code naming the CUDA backend's type).
 */
public final class ArchViolationCudaInTraining {
    private ArchViolationCudaInTraining() {}

    public static boolean needsLossScaling(Backend backend) {
        return backend instanceof CudaBackend cuda && cuda.precision() == Precision.F16;
    }
}

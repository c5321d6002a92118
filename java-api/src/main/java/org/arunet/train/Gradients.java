package org.arunet.train;

import java.util.ArrayList;
import java.util.List;
import org.arunet.backend.Backend;
import org.arunet.nn.Parameter;
import org.arunet.tensor.Tensor;

/**
 * Gradient-wide reductions of a training step, through {@link Backend#scaleAndSumSquares}: on the GPU
 * backend one batch of kernels with a single synchronization instead of one per parameter; elsewhere
 * {@link Backend#scale} and {@link Backend#sumOfSquares} per tensor.
 */
public final class Gradients {
    private Gradients() {}

    /** The squared 2-norm of all gradients (NaN or infinity when any gradient is not finite). */
    public static double squaredNorm(Backend backend, List<Parameter> params) {
        return scaleAndSquaredNorm(backend, params, 1f);
    }

    /** Multiplies every gradient by {@code factor} in place (unless it is 1), then returns the squared norm. */
    public static double scaleAndSquaredNorm(Backend backend, List<Parameter> params, float factor) {
        List<Tensor> grads = new ArrayList<>(params.size());
        for (Parameter p : params) {
            grads.add(p.grad());
        }
        double total = 0;
        for (double s : backend.scaleAndSumSquares(grads, factor)) {
            total += s;
        }
        return total;
    }
}

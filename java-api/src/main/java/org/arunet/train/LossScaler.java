package org.arunet.train;

import java.util.List;
import org.arunet.backend.Backend;
import org.arunet.backend.Precision;
import org.arunet.nn.Parameter;
import org.arunet.tensor.Tensor;

/**
 * Dynamic loss scaling for float16 mixed-precision training, as PyTorch's {@code torch.amp.GradScaler}:
 * the loss gradient is multiplied by the scale S before the backward pass, so that small gradients do
 * not underflow float16 in the half-precision convolutions; afterwards every gradient is divided by S
 * and checked. A step whose gradients are not all finite is skipped (no optimizer update) and S is
 * halved; after {@code growthInterval} finite steps in a row S is doubled (unless that would overflow
 * float32).
 *
 * <pre>{@code
 * LossScaler scaler = LossScaler.forBackend(backend);     // null unless the backend computes in fp16
 * double loss = backend.crossEntropyDiceLoss(logits, target, dLogits, 1, 1, 1e-5f);
 * if (scaler != null) scaler.scaleGradient(dLogits);
 * model.backward(dLogits);
 * double g2 = scaler != null ? scaler.unscale(model.parameters()) : Gradients.squaredNorm(backend, model.parameters());
 * if (Double.isFinite(g2)) adam.step();                    // else: skipped, the scale went down
 * }</pre>
 *
 * <p>Parameters, gradients and optimizer state stay float32 (master weights): only the convolution
 * operands are half precision ({@link Precision#F16}). bfloat16 has float32's exponent range and
 * needs no scaling ({@link #forBackend} returns null for it).
 *
 * <p>The scaler's {@link #state() state} (scale, finite steps since the last change, skipped steps,
 * and its settings) is saved in training checkpoints ({@link Checkpoint#save(java.nio.file.Path,
 * org.arunet.model.SegmentationModel, Adam, LossScaler, java.util.Map)}) so that a resumed run goes on
 * with the scale it had, not from {@link #INITIAL_SCALE}: {@link #restore} rebuilds it.
 */
public final class LossScaler {
    /** PyTorch's defaults. */
    public static final float INITIAL_SCALE = 65536f;

    public static final float GROWTH_FACTOR = 2f;
    public static final float BACKOFF_FACTOR = 0.5f;
    public static final int GROWTH_INTERVAL = 2000;

    private final Backend backend;
    private final float growthFactor;
    private final float backoffFactor;
    private final int growthInterval;
    private float scale;
    private int goodSteps;
    private long skipped;

    public LossScaler(
            Backend backend, float initialScale, float growthFactor, float backoffFactor, int growthInterval) {
        if (!(initialScale > 0)
                || !Float.isFinite(initialScale)
                || !(growthFactor > 1)
                || !(backoffFactor > 0)
                || !(backoffFactor < 1)
                || growthInterval < 1) {
            throw new IllegalArgumentException("LossScaler: need initialScale > 0, growthFactor > 1, 0 < backoffFactor"
                    + " < 1 and growthInterval >= 1, got " + initialScale + ", " + growthFactor + ", " + backoffFactor
                    + ", " + growthInterval);
        }
        this.backend = backend;
        this.scale = initialScale;
        this.growthFactor = growthFactor;
        this.backoffFactor = backoffFactor;
        this.growthInterval = growthInterval;
    }

    /**
     * A scaler with PyTorch's defaults when {@code backend} runs its convolutions in float16 (it says so:
     * {@link Backend#requiresLossScaling()}), else null.
     */
    public static LossScaler forBackend(Backend backend) {
        if (backend.requiresLossScaling()) {
            return new LossScaler(backend, INITIAL_SCALE, GROWTH_FACTOR, BACKOFF_FACTOR, GROWTH_INTERVAL);
        }
        return null;
    }

    /**
     * Everything that decides the scaler's future steps: the current scale, the finite steps since the
     * scale last changed ({@code 0 <= goodSteps < growthInterval}), the settings, and the count of
     * skipped steps (a statistic).
     */
    public record State(
            float scale,
            int goodSteps,
            long skippedSteps,
            float growthFactor,
            float backoffFactor,
            int growthInterval) {}

    /** A snapshot of this scaler, for checkpoints. */
    public State state() {
        return new State(scale, goodSteps, skipped, growthFactor, backoffFactor, growthInterval);
    }

    /**
     * A scaler on {@code backend} that continues exactly where the one {@code state} was taken from
     * stopped (same settings, scale, finite-step count and skip count).
     *
     * @throws IllegalArgumentException when the state is impossible (settings refused by the
     *     constructor, {@code goodSteps} outside {@code [0, growthInterval)}, negative skip count)
     */
    public static LossScaler restore(Backend backend, State state) {
        LossScaler s = new LossScaler(
                backend, state.scale(), state.growthFactor(), state.backoffFactor(), state.growthInterval());
        if (state.goodSteps() < 0 || state.goodSteps() >= state.growthInterval() || state.skippedSteps() < 0) {
            throw new IllegalArgumentException(
                    "LossScaler: need 0 <= goodSteps < growthInterval and skippedSteps >= 0," + " got " + state);
        }
        s.goodSteps = state.goodSteps();
        s.skipped = state.skippedSteps();
        return s;
    }

    /** The current scale. */
    public float scale() {
        return scale;
    }

    /** Steps skipped so far because their gradients overflowed. */
    public long skippedSteps() {
        return skipped;
    }

    /** Finite steps since the scale last changed (the scale grows when this reaches the growth interval). */
    public int goodSteps() {
        return goodSteps;
    }

    /** Multiplies the loss gradient by the scale, in place (before the backward pass). */
    public void scaleGradient(Tensor dLogits) {
        backend.scale(dLogits, scale, dLogits);
    }

    /**
     * Divides every gradient by the scale, in place, and updates the scale. Returns the squared norm of
     * the unscaled gradient: finite when the step may proceed; NaN or infinite when it must be skipped
     * (the scale has then been lowered).
     */
    public double unscale(List<Parameter> params) {
        double g2 = Gradients.scaleAndSquaredNorm(backend, params, 1f / scale);
        if (!Double.isFinite(g2)) {
            scale *= backoffFactor;
            goodSteps = 0;
            skipped++;
        } else if (++goodSteps >= growthInterval) {
            float grown = scale * growthFactor;
            if (Float.isFinite(grown)) { // as PyTorch: a scale that would overflow float32 stays where it is
                scale = grown;
            }
            goodSteps = 0;
        }
        return g2;
    }
}

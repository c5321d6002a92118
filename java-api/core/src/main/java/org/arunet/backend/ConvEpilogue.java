package org.arunet.backend;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.arunet.tensor.Tensor;

/**
 * What an inference convolution does to its result before writing it
 * ({@link Backend#convForwardFused}): an ordered chain of steps applied to
 * {@code t = conv(x, w) + b}, elementwise, each on the previous step's result:
 * <ul>
 *   <li>{@link Kind#BATCH_NORM}: {@code t = gamma (t - mean) / sqrt(var + eps) + beta} per channel
 *       with the given running statistics, as {@link Backend#batchNormForward} in inference mode;
 *   <li>{@link Kind#ACTIVATION}: {@code t = act(t)} (RELU, GELU or SIGMOID);
 *   <li>{@link Kind#SUM}: {@code t = t + y}, y's contents before the call (the one accumulation);
 *   <li>{@link Kind#MUL}: {@code t = t * m}, m shaped like y;
 *   <li>{@link Kind#ADD}: {@code t = t + a}, a shaped like y.
 * </ul>
 * The result is written to y. Backends fuse what they can (a leading batch norm folded into the
 * weights and bias, the rest as the convolution's epilogue) and compose the rest from their ops;
 * results equal the unfused ops' up to float rounding.
 *
 * <p>Immutable; tensors are referenced, not copied. Build with {@link #builder()}.
 */
public final class ConvEpilogue {
    /** The kinds of step. */
    public enum Kind {
        BATCH_NORM,
        ACTIVATION,
        SUM,
        MUL,
        ADD
    }

    /** Inference batch-norm parameters, all {@code [C]}: {@code gamma (t - mean) / sqrt(var + eps) + beta}. */
    public record BatchNorm(Tensor gamma, Tensor beta, Tensor mean, Tensor var, float eps) {
        public BatchNorm {
            Objects.requireNonNull(gamma, "gamma");
            Objects.requireNonNull(beta, "beta");
            Objects.requireNonNull(mean, "mean");
            Objects.requireNonNull(var, "var");
            if (!(eps >= 0f) || Float.isInfinite(eps)) {
                throw new IllegalArgumentException("batch norm eps must be finite and >= 0, got " + eps);
            }
        }
    }

    /** One step: {@code act} for ACTIVATION, {@code tensor} for MUL and ADD, {@code bn} for BATCH_NORM. */
    public record Step(Kind kind, Activation act, Tensor tensor, BatchNorm bn) {}

    private static final ConvEpilogue NONE = new ConvEpilogue(List.of());

    private final List<Step> steps;

    private ConvEpilogue(List<Step> steps) {
        this.steps = Collections.unmodifiableList(new ArrayList<>(steps));
    }

    /** No step: {@code y = conv(x, w) + b}. */
    public static ConvEpilogue none() {
        return NONE;
    }

    public static Builder builder() {
        return new Builder();
    }

    public List<Step> steps() {
        return steps;
    }

    public boolean isEmpty() {
        return steps.isEmpty();
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("epilogue[");
        for (Step st : steps) {
            s.append(s.length() > 9 ? ", " : "")
                    .append(
                            st.kind() == Kind.ACTIVATION
                                    ? st.act().name()
                                    : st.kind().name());
        }
        return s.append(']').toString();
    }

    /** Appends steps in the order they apply. */
    public static final class Builder {
        private final List<Step> steps = new ArrayList<>();

        private Builder() {}

        public Builder batchNorm(BatchNorm bn) {
            steps.add(new Step(Kind.BATCH_NORM, null, null, Objects.requireNonNull(bn, "bn")));
            return this;
        }

        /** RELU, GELU or SIGMOID; NONE adds nothing. */
        public Builder act(Activation act) {
            Objects.requireNonNull(act, "act");
            if (act != Activation.NONE) {
                steps.add(new Step(Kind.ACTIVATION, act, null, null));
            }
            return this;
        }

        /** Adds y's previous contents. */
        public Builder sum() {
            steps.add(new Step(Kind.SUM, null, null, null));
            return this;
        }

        /** Multiplies by a tensor shaped like y. */
        public Builder mul(Tensor m) {
            steps.add(new Step(Kind.MUL, null, Objects.requireNonNull(m, "mul operand"), null));
            return this;
        }

        /** Adds a tensor shaped like y. */
        public Builder add(Tensor a) {
            steps.add(new Step(Kind.ADD, null, Objects.requireNonNull(a, "add operand"), null));
            return this;
        }

        public ConvEpilogue build() {
            return steps.isEmpty() ? NONE : new ConvEpilogue(steps);
        }
    }
}

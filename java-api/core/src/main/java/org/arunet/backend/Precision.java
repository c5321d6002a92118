package org.arunet.backend;

import java.util.Locale;

/**
 * The arithmetic of a backend's convolutions (and, on the GPU, its matrix products): the one precision
 * type of the library.
 * <ul>
 *   <li>{@link #F32}: float32 inputs, weights and accumulation (the default everywhere);
 *   <li>{@link #F16}: mixed precision with float16 operands and float32 accumulation (GPU only). Its
 *       narrow exponent range makes training need dynamic loss scaling
 *       ({@link Backend#requiresLossScaling()});
 *   <li>{@link #BF16}: mixed precision with bfloat16 operands, float32 accumulation and outputs; every
 *       other op stays float32, parameters included (the master weights). bfloat16 has float32's
 *       exponent range: no loss scaling. On the CPU only where the backend says
 *       {@link Backend#supportsBf16Inference()}.
 * </ul>
 * The CPU backend takes it per use ({@link Backend#setInferencePrecision},
 * {@link Backend#setTrainingPrecision}); the GPU backend when it is created (device {@code cuda:fp16},
 * {@code cuda:bf16}).
 *
 * <p>{@link #toString()} is the short lower-case label of device names and reports ({@code fp32},
 * {@code fp16}, {@code bf16}); {@link #name()} the constant.
 */
public enum Precision {
    F32("fp32"),
    F16("fp16"),
    BF16("bf16");

    private final String label;

    Precision(String label) {
        this.label = label;
    }

    /** True for the half-precision modes ({@link #F16}, {@link #BF16}). */
    public boolean isHalf() {
        return this != F32;
    }

    /**
     * {@code fp32}, {@code fp16} or {@code bf16} (case-insensitive; also {@code f32}, {@code float32},
     * {@code f16}, {@code float16}, {@code half}, {@code bfloat16}).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static Precision parse(String s) {
        switch (s.toLowerCase(Locale.ROOT)) {
            case "fp32":
            case "float32":
            case "f32":
                return F32;
            case "fp16":
            case "float16":
            case "half":
            case "f16":
                return F16;
            case "bf16":
            case "bfloat16":
                return BF16;
            default:
                throw new IllegalArgumentException("unknown precision '" + s + "' (use fp32, fp16 or bf16)");
        }
    }

    /** {@code fp32}, {@code fp16} or {@code bf16}. */
    @Override
    public String toString() {
        return label;
    }
}

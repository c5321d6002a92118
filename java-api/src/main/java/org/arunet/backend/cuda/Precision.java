package org.arunet.backend.cuda;

import java.util.Locale;

/**
 * How {@link CudaBackend} runs its convolutions.
 *
 * <ul>
 *   <li>{@link #FP32}: everything in float32, TF32 off (cuDNN FMA math, cuBLAS default math), so that
 *       results match the CPU backend to float32 rounding.
 *   <li>{@link #FP16} and {@link #BF16}: mixed precision. Convolutions run on the tensor cores with
 *       half-precision inputs and weights and float32 accumulation (cuDNN's pseudo-half configuration);
 *       activations, parameters (the float32 master weights), gradients, batch norm, losses and the
 *       optimizer stay float32. Inputs are cast on the fly, weights once per update. FP16 needs dynamic
 *       loss scaling in training ({@link org.arunet.train.LossScaler}); BF16 has float32's exponent
 *       range and does not.
 * </ul>
 */
public enum Precision {
    FP32,
    FP16,
    BF16;

    /** True for the half-precision modes. */
    public boolean isHalf() {
        return this != FP32;
    }

    /** Element size of the convolution operands in bytes. */
    int bytes() {
        return this == FP32 ? 4 : 2;
    }

    /** The dtype code of the conversion kernels (cuda/convert.cu): 0 float, 1 half, 2 bfloat16. */
    int code() {
        return ordinal();
    }

    /** {@code fp32}, {@code fp16} or {@code bf16} (case-insensitive; also {@code float32}, {@code half}, {@code bfloat16}). */
    public static Precision parse(String s) {
        switch (s.toLowerCase(Locale.ROOT)) {
            case "fp32":
            case "float32":
            case "f32":
                return FP32;
            case "fp16":
            case "float16":
            case "half":
            case "f16":
                return FP16;
            case "bf16":
            case "bfloat16":
                return BF16;
            default:
                throw new IllegalArgumentException("unknown precision '" + s + "' (use fp32, fp16 or bf16)");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}

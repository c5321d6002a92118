package org.arunet.tensor;

/**
 * Element types. Activations, parameters and gradients are {@link #F32} today; {@link #F16} and
 * {@link #BF16} are reserved for mixed-precision backends; {@link #I32} holds class-index targets and
 * {@link #I64} the BatchNorm batch counter (as PyTorch's {@code num_batches_tracked}).
 */
public enum DType {
    F32(4, "F32"),
    F16(2, "F16"),
    BF16(2, "BF16"),
    I32(4, "I32"),
    I64(8, "I64");

    private final int bytes;
    private final String safetensorsName;

    DType(int bytes, String safetensorsName) {
        this.bytes = bytes;
        this.safetensorsName = safetensorsName;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** The dtype string used in safetensors headers ("F32", "I64", ...). */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Parses a safetensors dtype string; throws {@link IllegalArgumentException} for others. */
    public static DType fromSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unsupported safetensors dtype '" + name + "'");
    }
}

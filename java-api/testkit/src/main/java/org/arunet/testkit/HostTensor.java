package org.arunet.testkit;

import java.util.Arrays;
import org.arunet.backend.Backend;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * A tensor's values held in Java arrays: F32 in {@code floats}, I32 in {@code ints}, I64 in
 * {@code longs} (a double result, such as a loss, is stored as I64 [1] holding its raw bits, so that it
 * survives a safetensors file exactly).
 */
public record HostTensor(DType dtype, Layout layout, int[] shape, float[] floats, int[] ints, long[] longs) {

    public static HostTensor f32(Layout layout, int[] shape, float[] values) {
        if (values.length != Tensor.numel(shape)) {
            throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
        }
        return new HostTensor(DType.F32, layout, shape.clone(), values, null, null);
    }

    public static HostTensor i32(int[] shape, int[] values) {
        return new HostTensor(DType.I32, Layout.PLAIN, shape.clone(), null, values, null);
    }

    /** A double scalar, stored exactly (raw bits in an I64 [1]). */
    public static HostTensor scalar(double v) {
        return new HostTensor(
                DType.I64, Layout.PLAIN, new int[] {1}, null, null, new long[] {Double.doubleToRawLongBits(v)});
    }

    /** The double of a {@link #scalar}. */
    public double scalarValue() {
        return Double.longBitsToDouble(longs[0]);
    }

    public boolean isScalar() {
        return dtype == DType.I64 && longs.length == 1;
    }

    /** Copies a tensor (any device) into Java arrays. */
    public static HostTensor of(Tensor t) {
        return switch (t.dtype()) {
            case F32 -> new HostTensor(DType.F32, t.layout(), t.shape(), t.toFloatArray(), null, null);
            case I32 -> new HostTensor(DType.I32, t.layout(), t.shape(), null, t.toIntArray(), null);
            case I64 -> new HostTensor(DType.I64, t.layout(), t.shape(), null, null, t.toLongArray());
            default -> throw new IllegalArgumentException("HostTensor: unsupported dtype " + t.dtype());
        };
    }

    /** A new tensor on {@code be} holding these values (the caller closes it). */
    public Tensor upload(Backend be) {
        Tensor t = be.allocate(dtype, layout, shape);
        try {
            copyInto(t);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** A new host tensor holding these values (for writing files). */
    public Tensor toHost() {
        Tensor t = Tensor.host(dtype, layout, shape);
        copyInto(t);
        return t;
    }

    private void copyInto(Tensor t) {
        switch (dtype) {
            case F32 -> t.copyFrom(floats);
            case I32 -> t.copyFrom(ints);
            case I64 -> t.copyFrom(longs);
            default -> throw new IllegalArgumentException("HostTensor: unsupported dtype " + dtype);
        }
    }

    public long numel() {
        return Tensor.numel(shape);
    }

    public String describe() {
        return Arrays.toString(shape) + " " + dtype + " " + layout;
    }
}

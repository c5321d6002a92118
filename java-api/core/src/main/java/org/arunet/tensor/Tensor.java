package org.arunet.tensor;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A dense, row-major n-dimensional array in native memory (host or GPU).
 *
 * <p>A tensor either owns its {@link Memory} (then {@link #close()} frees it at once) or is a view of
 * another tensor's memory ({@link #view}, {@link #slice}); closing a view does nothing, and a view
 * must not outlive its owner. Memory is never left to the garbage collector: every owning tensor has
 * an owner (a layer, an optimizer, a caller's try-with-resources) that closes it.
 *
 * <p>{@link Layout} names what the dimensions mean; activations are {@code NHWC}. {@link #version()}
 * counts writes made from outside the backends' compute ops (uploads, optimizer steps, loads):
 * backends key caches of transformed weights on {@code (id, version)}.
 *
 * <p>Not thread-safe: one tensor is written by one thread at a time.
 */
public final class Tensor implements AutoCloseable {
    private static final AtomicLong IDS = new AtomicLong();

    private final Memory memory;
    private final Tensor owner; // null when this tensor owns memory
    private final long byteOffset;
    private final int[] shape;
    private final long numel;
    private final DType dtype;
    private final Layout layout;
    private final long id;
    private long version;

    private Tensor(Memory memory, Tensor owner, long byteOffset, DType dtype, Layout layout, int[] shape) {
        this.memory = memory;
        this.owner = owner;
        this.byteOffset = byteOffset;
        this.dtype = dtype;
        this.layout = layout;
        this.shape = shape.clone();
        this.numel = numel(shape);
        this.id = IDS.incrementAndGet();
        if (layout == Layout.NHWC || layout == Layout.OIHW) {
            if (shape.length != 4) {
                throw new IllegalArgumentException(layout + " tensors have rank 4, got " + Arrays.toString(shape));
            }
        }
        if (byteOffset + numel * dtype.bytes() > memory.bytes()) {
            throw new IllegalArgumentException("tensor " + Arrays.toString(shape) + " " + dtype + " does not fit in "
                    + memory.bytes() + " bytes at offset " + byteOffset);
        }
    }

    /** Wraps memory the caller just allocated; the tensor becomes its owner. */
    public static Tensor wrap(Memory memory, DType dtype, Layout layout, int... shape) {
        return new Tensor(memory, null, 0, dtype, layout, shape);
    }

    /** Allocates a zeroed host tensor. */
    public static Tensor host(DType dtype, Layout layout, int... shape) {
        long n = numel(shape);
        return wrap(
                HostMemory.allocate(n * dtype.bytes(), dtype + " " + layout + " " + Arrays.toString(shape)),
                dtype,
                layout,
                shape);
    }

    /** A host F32 tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, Layout layout, int... shape) {
        Tensor t = host(DType.F32, layout, shape);
        t.copyFrom(data);
        return t;
    }

    /** A host I32 tensor holding a copy of {@code data}. */
    public static Tensor ofInts(int[] data, int... shape) {
        Tensor t = host(DType.I32, Layout.PLAIN, shape);
        t.copyFrom(data);
        return t;
    }

    /** Number of elements of a shape; throws on negative dimensions. */
    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n *= d;
        }
        return n;
    }

    // ------------------------------------------------------------------ shape

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long numel() {
        return numel;
    }

    public long bytes() {
        return numel * dtype.bytes();
    }

    public DType dtype() {
        return dtype;
    }

    public Layout layout() {
        return layout;
    }

    public Device device() {
        return memory.device();
    }

    /** Unique identity of this tensor object (views have their own). */
    public long id() {
        return id;
    }

    public long version() {
        return version;
    }

    /** Marks the values as changed outside a backend compute op (invalidates cached transforms). */
    public void bumpVersion() {
        version++;
    }

    public boolean hasShape(int... dims) {
        return Arrays.equals(shape, dims);
    }

    public boolean sameShape(Tensor other) {
        return Arrays.equals(shape, other.shape);
    }

    /** "[2, 32, 32, 8] F32 NHWC". */
    public String describe() {
        return Arrays.toString(shape) + " " + dtype + " " + layout;
    }

    @Override
    public String toString() {
        return "Tensor" + describe();
    }

    // ------------------------------------------------------------------ memory

    /** Absolute address of the first element (for native calls). */
    public long address() {
        if (owner != null && owner.memory.isClosed()) {
            throw new IllegalStateException("view " + describe() + " used after its owner was closed");
        }
        return memory.address() + byteOffset;
    }

    public Memory memory() {
        return memory;
    }

    public boolean isView() {
        return owner != null;
    }

    public boolean isClosed() {
        return memory.isClosed();
    }

    /** The same memory seen with another shape or layout (same dtype, same number of elements). */
    public Tensor view(Layout newLayout, int... newShape) {
        if (numel(newShape) != numel) {
            throw new IllegalArgumentException("cannot view " + describe() + " as " + Arrays.toString(newShape));
        }
        return new Tensor(memory, owner == null ? this : owner, byteOffset, dtype, newLayout, newShape);
    }

    /** View of items {@code [start, start+count)} along the first dimension. */
    public Tensor slice(int start, int count) {
        if (start < 0 || count < 0 || start + count > shape[0]) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + (start + count) + ") of " + describe());
        }
        int[] s = shape.clone();
        s[0] = count;
        long stride = numel / Math.max(shape[0], 1) * dtype.bytes();
        return new Tensor(memory, owner == null ? this : owner, byteOffset + start * stride, dtype, layout, s);
    }

    /**
     * View of the {@code numel(shape)} elements starting at element {@code start} of this tensor's
     * memory (row-major, whatever this tensor's shape), seen with the given layout and shape: carving
     * tensors out of one large buffer (more elements than an int can count).
     */
    public Tensor range(long start, Layout newLayout, int... newShape) {
        long count = numel(newShape);
        if (start < 0 || start + count > numel) {
            throw new IndexOutOfBoundsException("range [" + start + ", " + (start + count) + ") of " + describe());
        }
        return new Tensor(
                memory, owner == null ? this : owner, byteOffset + start * dtype.bytes(), dtype, newLayout, newShape);
    }

    /** Sets every element to zero. */
    public void zero() {
        memory.zero(byteOffset, bytes());
        version++;
    }

    private int intCount() {
        if (numel > Integer.MAX_VALUE) {
            throw new IllegalStateException(describe() + " has too many elements for a Java array");
        }
        return (int) numel;
    }

    private void requireType(DType t) {
        if (dtype != t) {
            throw new IllegalArgumentException("tensor is " + dtype + ", not " + t + ": " + describe());
        }
    }

    public float[] toFloatArray() {
        requireType(DType.F32);
        float[] a = new float[intCount()];
        memory.read(byteOffset, a, 0, a.length);
        return a;
    }

    /** Copies the elements into {@code out} (of exactly the element count), without allocating. */
    public void copyTo(float[] out) {
        requireType(DType.F32);
        requireLength(out.length);
        memory.read(byteOffset, out, 0, out.length);
    }

    public int[] toIntArray() {
        requireType(DType.I32);
        int[] a = new int[intCount()];
        memory.read(byteOffset, a, 0, a.length);
        return a;
    }

    public long[] toLongArray() {
        requireType(DType.I64);
        long[] a = new long[intCount()];
        memory.read(byteOffset, a, 0, a.length);
        return a;
    }

    /** Raw little-endian bytes of the elements. */
    public byte[] toByteArray() {
        if (bytes() > Integer.MAX_VALUE) {
            throw new IllegalStateException(describe() + " is too large for a byte array");
        }
        byte[] a = new byte[(int) bytes()];
        memory.read(byteOffset, a, 0, a.length);
        return a;
    }

    public void copyFrom(float[] data) {
        requireType(DType.F32);
        requireLength(data.length);
        memory.write(byteOffset, data, 0, data.length);
        version++;
    }

    public void copyFrom(int[] data) {
        requireType(DType.I32);
        requireLength(data.length);
        memory.write(byteOffset, data, 0, data.length);
        version++;
    }

    public void copyFrom(long[] data) {
        requireType(DType.I64);
        requireLength(data.length);
        memory.write(byteOffset, data, 0, data.length);
        version++;
    }

    /** Copies raw little-endian element bytes (as stored in safetensors). */
    public void copyFromBytes(byte[] data) {
        if (data.length != bytes()) {
            throw new IllegalArgumentException(
                    data.length + " bytes given for " + describe() + " (" + bytes() + " bytes)");
        }
        memory.write(byteOffset, data, 0, data.length);
        version++;
    }

    /** Copies the values of another tensor of the same dtype and element count (any device). */
    public void copyFrom(Tensor src) {
        if (src.dtype != dtype || src.numel != numel) {
            throw new IllegalArgumentException("cannot copy " + src.describe() + " into " + describe());
        }
        copyFromBytes(src.toByteArray());
    }

    private void requireLength(int n) {
        if (n != numel) {
            throw new IllegalArgumentException(n + " values given for " + describe() + " (" + numel + " elements)");
        }
    }

    /** Frees the memory if this tensor owns it; a no-op for views and on second call. */
    @Override
    public void close() {
        if (owner == null) {
            memory.close();
        }
    }
}

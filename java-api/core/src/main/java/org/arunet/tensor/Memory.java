package org.arunet.tensor;

/**
 * A block of native memory owned by one {@link Tensor}. Backends implement it for their device;
 * {@link HostMemory} is the host implementation shared by the CPU and reference backends.
 * Closing it frees the memory at once; every later use throws {@link IllegalStateException}.
 */
public interface Memory extends AutoCloseable {
    /** Start address, 64-byte aligned. */
    long address();

    /** Size in bytes. */
    long bytes();

    Device device();

    /** Copies {@code count} floats starting at {@code byteOffset} into {@code dst[dstPos..]}. */
    void read(long byteOffset, float[] dst, int dstPos, int count);

    /** Copies {@code count} floats from {@code src[srcPos..]} to {@code byteOffset}. */
    void write(long byteOffset, float[] src, int srcPos, int count);

    void read(long byteOffset, int[] dst, int dstPos, int count);

    void write(long byteOffset, int[] src, int srcPos, int count);

    void read(long byteOffset, long[] dst, int dstPos, int count);

    void write(long byteOffset, long[] src, int srcPos, int count);

    /** Raw byte access, used by checkpoint I/O. */
    void read(long byteOffset, byte[] dst, int dstPos, int count);

    void write(long byteOffset, byte[] src, int srcPos, int count);

    /** Sets {@code count} bytes at {@code byteOffset} to zero. */
    void zero(long byteOffset, long count);

    boolean isClosed();

    @Override
    void close();
}

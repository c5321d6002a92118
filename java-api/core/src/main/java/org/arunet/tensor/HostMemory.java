package org.arunet.tensor;

import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Host memory from the C heap ({@code calloc}, so it starts zeroed), aligned to 64 bytes, freed on
 * {@link #close()}. The process-wide number of bytes held is {@link #bytesInUse()}: tests use it to
 * prove that repeated work does not grow native memory.
 */
public final class HostMemory implements Memory {
    private static final int ALIGN = 64;
    private static final AtomicLong IN_USE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();

    private Pointer raw;
    private final long address;
    private final long bytes;

    private HostMemory(Pointer raw, long address, long bytes) {
        this.raw = raw;
        this.address = address;
        this.bytes = bytes;
    }

    /**
     * Allocates {@code bytes} zeroed bytes.
     *
     * @param what a description of the request, used in the out-of-memory message
     * @throws OutOfMemoryError naming {@code what} and the size when the C heap refuses
     */
    public static HostMemory allocate(long bytes, String what) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation for " + what + ": " + bytes);
        }
        long request = Math.max(bytes, 1) + ALIGN;
        Pointer p = Pointer.calloc(1, request);
        if (p == null || p.isNull()) {
            throw new OutOfMemoryError(String.format(
                    "native host memory exhausted allocating %,d bytes for %s (%,d bytes already held by arunet)",
                    bytes, what, IN_USE.get()));
        }
        long aligned = (p.address() + ALIGN - 1) & -ALIGN;
        long now = IN_USE.addAndGet(request);
        PEAK.accumulateAndGet(now, Math::max);
        return new HostMemory(p, aligned, bytes);
    }

    /** Bytes of host memory currently held by arunet tensors (including alignment slack). */
    public static long bytesInUse() {
        return IN_USE.get();
    }

    /** Highest value {@link #bytesInUse()} has had in this process. */
    public static long peakBytesInUse() {
        return PEAK.get();
    }

    @Override
    public long address() {
        check();
        return address;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public Device device() {
        return Device.HOST;
    }

    private void check() {
        if (raw == null) {
            throw new IllegalStateException("tensor memory used after close");
        }
    }

    private void bounds(long byteOffset, long count, int elem) {
        check();
        if (byteOffset < 0 || count < 0 || byteOffset + count * elem > bytes) {
            throw new IndexOutOfBoundsException("access of " + count + " x " + elem + " bytes at offset " + byteOffset
                    + " outside " + bytes + " bytes");
        }
    }

    /** A non-owning pointer at an absolute address (JavaCPP's cast constructors need a Pointer). */
    private static final class At extends Pointer {
        At(long address, long bytes) {
            this.address = address;
            this.limit = bytes;
            this.capacity = bytes;
        }
    }

    @Override
    public void read(long byteOffset, float[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 4);
        new FloatPointer(new At(address + byteOffset, 4L * count)).get(dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, float[] src, int srcPos, int count) {
        bounds(byteOffset, count, 4);
        new FloatPointer(new At(address + byteOffset, 4L * count)).put(src, srcPos, count);
    }

    @Override
    public void read(long byteOffset, int[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 4);
        new IntPointer(new At(address + byteOffset, 4L * count)).get(dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, int[] src, int srcPos, int count) {
        bounds(byteOffset, count, 4);
        new IntPointer(new At(address + byteOffset, 4L * count)).put(src, srcPos, count);
    }

    @Override
    public void read(long byteOffset, long[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 8);
        new LongPointer(new At(address + byteOffset, 8L * count)).get(dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, long[] src, int srcPos, int count) {
        bounds(byteOffset, count, 8);
        new LongPointer(new At(address + byteOffset, 8L * count)).put(src, srcPos, count);
    }

    @Override
    public void read(long byteOffset, byte[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 1);
        new BytePointer(new At(address + byteOffset, count)).get(dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, byte[] src, int srcPos, int count) {
        bounds(byteOffset, count, 1);
        new BytePointer(new At(address + byteOffset, count)).put(src, srcPos, count);
    }

    @Override
    public void zero(long byteOffset, long count) {
        bounds(byteOffset, count, 1);
        Pointer.memset(new At(address + byteOffset, count), 0, count);
    }

    @Override
    public boolean isClosed() {
        return raw == null;
    }

    @Override
    public synchronized void close() {
        if (raw != null) {
            Pointer.free(raw);
            raw = null;
            IN_USE.addAndGet(-(Math.max(bytes, 1) + ALIGN));
        }
    }
}

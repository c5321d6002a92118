package org.arunet.backend.cuda;

import org.arunet.tensor.Device;
import org.arunet.tensor.Memory;

/**
 * A block of GPU memory owned by one tensor: taken from its {@link CudaContext}'s pool, given back by
 * {@link #close()} (deterministically; nothing is left to the garbage collector). Host access
 * ({@code read}/{@code write}/{@code zero}) copies through the context's pinned staging buffer on its
 * stream, so it is ordered after every kernel already queued there and synchronous for the caller.
 *
 * <p>Closing the {@link CudaBackend} frees all its memory at once; a tensor used afterwards throws
 * {@link IllegalStateException}.
 */
final class CudaMemory implements Memory {
    private final CudaContext ctx;
    private final long address;
    private final long bytes;
    private boolean closed;

    CudaMemory(CudaContext ctx, long address, long bytes) {
        this.ctx = ctx;
        this.address = address;
        this.bytes = bytes;
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
        return Device.CUDA;
    }

    private void check() {
        if (closed) {
            throw new IllegalStateException(
                    "CUDA tensor memory used after it was closed (or after its backend was closed)");
        }
    }

    private void bounds(long byteOffset, long count, int elem) {
        check();
        if (byteOffset < 0 || count < 0 || byteOffset + count * elem > bytes) {
            throw new IndexOutOfBoundsException("access of " + count + " x " + elem + " bytes at offset " + byteOffset
                    + " outside " + bytes + " bytes");
        }
    }

    @Override
    public void read(long byteOffset, float[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 4);
        ctx.download(address + byteOffset, dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, float[] src, int srcPos, int count) {
        bounds(byteOffset, count, 4);
        ctx.upload(address + byteOffset, src, srcPos, count);
    }

    @Override
    public void read(long byteOffset, int[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 4);
        ctx.download(address + byteOffset, dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, int[] src, int srcPos, int count) {
        bounds(byteOffset, count, 4);
        ctx.upload(address + byteOffset, src, srcPos, count);
    }

    @Override
    public void read(long byteOffset, long[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 8);
        ctx.download(address + byteOffset, dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, long[] src, int srcPos, int count) {
        bounds(byteOffset, count, 8);
        ctx.upload(address + byteOffset, src, srcPos, count);
    }

    @Override
    public void read(long byteOffset, byte[] dst, int dstPos, int count) {
        bounds(byteOffset, count, 1);
        ctx.download(address + byteOffset, dst, dstPos, count);
    }

    @Override
    public void write(long byteOffset, byte[] src, int srcPos, int count) {
        bounds(byteOffset, count, 1);
        ctx.upload(address + byteOffset, src, srcPos, count);
    }

    @Override
    public void zero(long byteOffset, long count) {
        bounds(byteOffset, count, 1);
        ctx.zero(address + byteOffset, count);
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    /** Gives the block back to the pool. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            ctx.release(this);
        }
    }

    /** Called by the context when it frees everything: later uses throw. */
    void invalidate() {
        closed = true;
    }

    long rawAddress() {
        return address;
    }
}

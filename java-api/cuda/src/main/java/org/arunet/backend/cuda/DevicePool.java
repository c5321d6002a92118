package org.arunet.backend.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.arunet.backend.ArunetException;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * A caching allocator of device memory for one {@link CudaContext}.
 *
 * <p>Requests are rounded up to a size class (512 B steps below 1 MiB, 128 KiB below 32 MiB, 2 MiB
 * above); a freed block goes to a free list of its class and is handed out again for a request of the
 * same class, or of a class at most a quarter smaller, so that a steady training or inference loop
 * stops calling {@code cudaMalloc} after its first iteration. Reuse is safe without events because
 * every use of the memory is ordered on the context's one stream.
 *
 * <p>When {@code cudaMalloc} fails, the cached blocks are returned to the driver and the request is
 * tried once more; if it still fails, an {@link ArunetException} names the request (bytes and what it
 * was for), what arunet holds and what the device reports free. {@link #close()} frees every block,
 * handed out or cached.
 *
 * <p>While a CUDA graph is being captured ({@link #deferFrees}), freed blocks are not reused: the graph
 * refers to them by address, so they stay reserved until the graph is released.
 */
final class DevicePool {
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;

    private final TreeMap<Long, ArrayDeque<Long>> free = new TreeMap<>();
    private final Map<Long, Long> live = new HashMap<>();
    private final Ptr ptr = new Ptr();
    private List<Long> deferred;
    private long inUse;
    private long peakInUse;
    private long reserved;
    private long peakReserved;
    private long cached;
    private long mallocs;

    /** The size class of a request. */
    static long sizeClass(long bytes) {
        long b = Math.max(bytes, 1);
        long step = b < MIB ? 512 : b < 32 * MIB ? 128 * KIB : 2 * MIB;
        return (b + step - 1) / step * step;
    }

    /**
     * A device block of at least {@code bytes} bytes (256-byte aligned, contents undefined).
     *
     * @param what the request in words (dtype and shape), for the out-of-memory message
     */
    long alloc(long bytes, String what) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative device allocation for " + what + ": " + bytes);
        }
        long size = sizeClass(bytes);
        Map.Entry<Long, ArrayDeque<Long>> e = free.ceilingEntry(size);
        if (e != null && e.getKey() <= size + size / 4) {
            long addr = e.getValue().pop();
            if (e.getValue().isEmpty()) {
                free.remove(e.getKey());
            }
            cached -= e.getKey();
            return handOut(addr, e.getKey());
        }
        long addr = malloc(size);
        if (addr == 0) {
            releaseCached();
            addr = malloc(size);
        }
        if (addr == 0) {
            throw outOfMemory(bytes, size, what);
        }
        reserved += size;
        peakReserved = Math.max(peakReserved, reserved);
        mallocs++;
        return handOut(addr, size);
    }

    private long handOut(long addr, long size) {
        live.put(addr, size);
        inUse += size;
        peakInUse = Math.max(peakInUse, inUse);
        return addr;
    }

    /** cudaMalloc, or 0 when the device is out of memory (other errors throw). */
    private long malloc(long size) {
        int status = cudart.cudaMalloc(ptr.at(0), size);
        if (status == cudart.cudaErrorMemoryAllocation) {
            cudart.cudaGetLastError(); // clear the (non-sticky) error
            return 0;
        }
        CudaCheck.runtime(status, "cudaMalloc(" + size + ")");
        return ptr.address();
    }

    /** Returns a block to its free list (or, while a graph is captured, to the deferred list). */
    void free(long addr) {
        Long size = live.remove(addr);
        if (size == null) {
            throw new IllegalStateException(
                    "device block 0x" + Long.toHexString(addr) + " freed twice or never allocated");
        }
        inUse -= size;
        if (deferred != null) {
            deferred.add(addr);
            deferred.add(size);
            return;
        }
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).push(addr);
        cached += size;
    }

    /** Starts (true) or ends (false) deferring frees; returns the blocks deferred so far when ending. */
    List<Long> deferFrees(boolean on) {
        if (on) {
            if (deferred == null) {
                deferred = new ArrayList<>();
            }
            return List.of();
        }
        List<Long> d = deferred == null ? List.of() : deferred;
        deferred = null;
        return d;
    }

    /** Releases blocks whose free was deferred (pairs of address and size class, as {@link #deferFrees} returned). */
    void releaseDeferred(List<Long> blocks) {
        for (int i = 0; i < blocks.size(); i += 2) {
            free.computeIfAbsent(blocks.get(i + 1), k -> new ArrayDeque<>()).push(blocks.get(i));
            cached += blocks.get(i + 1);
        }
    }

    /** Gives every cached (free) block back to the driver. Synchronizes the device (cudaFree does). */
    void releaseCached() {
        for (Map.Entry<Long, ArrayDeque<Long>> e : free.entrySet()) {
            for (long addr : e.getValue()) {
                CudaCheck.runtime(cudart.cudaFree(ptr.at(addr)), "cudaFree");
                reserved -= e.getKey();
            }
        }
        free.clear();
        cached = 0;
    }

    /** Frees every block, handed out or cached. The pool is empty afterwards. */
    void close() {
        RuntimeException first = null;
        for (Map.Entry<Long, Long> e : live.entrySet()) {
            int s = cudart.cudaFree(ptr.at(e.getKey()));
            if (s != cudart.cudaSuccess && first == null) {
                first = new ArunetException("cudaFree failed: " + CudaCheck.runtimeError(s));
            }
        }
        live.clear();
        if (deferred != null) {
            for (int i = 0; i < deferred.size(); i += 2) {
                cudart.cudaFree(ptr.at(deferred.get(i)));
            }
            deferred = null;
        }
        try {
            releaseCached();
        } catch (RuntimeException e) {
            if (first == null) {
                first = e;
            }
        }
        inUse = 0;
        reserved = 0;
        if (first != null) {
            throw first;
        }
    }

    private ArunetException outOfMemory(long bytes, long size, String what) {
        long devFree = -1;
        long devTotal = -1;
        try (SizeTPointer f = new SizeTPointer(1);
                SizeTPointer t = new SizeTPointer(1)) {
            if (cudart.cudaMemGetInfo(f, t) == cudart.cudaSuccess) {
                devFree = f.get();
                devTotal = t.get();
            }
        }
        return new ArunetException(String.format(
                "CUDA out of memory: cannot allocate %,d bytes (%s) for %s; arunet holds %s in tensors and workspaces"
                        + " (peak %s); the device reports %s free of %s",
                bytes,
                gib(size),
                what,
                gib(inUse),
                gib(peakInUse),
                devFree < 0 ? "?" : gib(devFree),
                devTotal < 0 ? "?" : gib(devTotal)));
    }

    static String gib(long bytes) {
        return bytes >= (1L << 30)
                ? String.format("%.2f GiB", bytes / (double) (1L << 30))
                : String.format("%.1f MiB", bytes / (double) MIB);
    }

    long inUse() {
        return inUse;
    }

    long peakInUse() {
        return peakInUse;
    }

    long reserved() {
        return reserved;
    }

    long peakReserved() {
        return peakReserved;
    }

    long cached() {
        return cached;
    }

    long mallocs() {
        return mallocs;
    }

    int liveBlocks() {
        return live.size();
    }

    void resetPeaks() {
        peakInUse = inUse;
        peakReserved = reserved;
    }
}

package org.arunet.backend.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import java.util.Set;
import org.arunet.backend.ArunetException;
import org.arunet.backend.Precision;
import org.arunet.tensor.Tensor;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Everything one {@link CudaBackend} holds on the device: the primary context of device 0, one
 * stream on which every kernel, library call and copy is ordered, the cuDNN and cuBLAS handles bound to
 * it, the kernels, the memory pool, a pinned host staging buffer for transfers, the shared cuDNN
 * workspace, and the cache of half-precision copies of activations ({@link #halfCopy}).
 *
 * <p>Threads: a backend is used by one thread at a time, but any thread may be that thread;
 * {@link #enter()} makes the context current on the calling thread when it changed.
 *
 * <p>Errors: kernel launches and library calls are checked where they are made; failures inside a
 * kernel surface at the next synchronization ({@link #sync}), whose message says so. With
 * {@code -Darunet.cuda.sync=true} (or {@code ARUNET_CUDA_SYNC=1}) the stream is synchronized after every
 * op, so that such a failure is reported by the op that caused it.
 */
final class CudaContext implements AutoCloseable {
    /** Largest pinned staging buffer (transfers go in chunks of this size). */
    private static final long STAGING_MAX = 32L << 20;
    /** cuBLAS workspace: set explicitly so that cuBLAS never allocates during graph capture. */
    private static final long CUBLAS_WORKSPACE = 32L << 20;
    /** Half-precision copies of activations kept (see halfCopy). */
    private static final int HALF_CACHE_ENTRIES = 4;

    final int device;
    final int multiprocessors;
    final boolean syncEachOp;
    private final CUctx_st context;
    final CUstream_st stream;
    final cudnnContext dnn;
    final cublasContext blas;
    final Kernels kernels;
    final DevicePool pool = new DevicePool();
    /** Host scalars 1 and 0 for cuDNN's and cuBLAS's alpha and beta (host pointer mode). */
    final FloatPointer one = new FloatPointer(1f);

    final FloatPointer zero = new FloatPointer(0f);
    private final Set<CudaMemory> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final LinkedList<HalfEntry> halfCache = new LinkedList<>();
    private final Ptr p1 = new Ptr();
    private final Ptr p2 = new Ptr();
    private Pointer staging;
    private long stagingBytes;
    private long workspace;
    private long workspaceBytes;
    private long cublasWorkspace;
    private Thread owner;
    private boolean closed;

    /** A half-precision copy of an activation: valid while no write touched [address, address + bytes). */
    private static final class HalfEntry {
        final long id;
        final long version;
        final long address;
        final long bytes;
        final Precision precision;
        final long copy;

        HalfEntry(long id, long version, long address, long bytes, Precision precision, long copy) {
            this.id = id;
            this.version = version;
            this.address = address;
            this.bytes = bytes;
            this.precision = precision;
            this.copy = copy;
        }
    }

    CudaContext(int device) {
        Cuda.Probe probe = Cuda.probe();
        if (!probe.ok()) {
            throw new ArunetException("CUDA is not available: " + probe.reason());
        }
        this.device = device;
        this.multiprocessors = probe.multiprocessors();
        String sync = System.getProperty("arunet.cuda.sync", System.getenv("ARUNET_CUDA_SYNC"));
        this.syncEachOp = sync != null && (sync.equals("1") || sync.equalsIgnoreCase("true"));
        CudaCheck.runtime(cudart.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        CudaCheck.runtime(cudart.cudaFree(p1.at(0)), "cudaFree(0) (context creation)");
        this.context = new CUctx_st();
        CudaCheck.driver(cudart.cuCtxGetCurrent(context), "cuCtxGetCurrent");
        this.owner = Thread.currentThread();
        CUstream_st s = new CUstream_st();
        CudaCheck.runtime(
                cudart.cudaStreamCreateWithFlags(s, cudart.cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        this.stream = s;
        cudnnContext dnn = null;
        cublasContext blas = null;
        Kernels k = null;
        try {
            dnn = new cudnnContext();
            CudaCheck.cudnn(cudnn.cudnnCreate(dnn), "cudnnCreate");
            CudaCheck.cudnn(cudnn.cudnnSetStream(dnn, stream), "cudnnSetStream");
            blas = new cublasContext();
            CudaCheck.cublas(cublas.cublasCreate_v2(blas), "cublasCreate");
            CudaCheck.cublas(cublas.cublasSetStream_v2(blas, stream), "cublasSetStream");
            // float32 GEMMs without TF32 (the default math mode; TF32 needs CUBLAS_TF32_TENSOR_OP_MATH)
            CudaCheck.cublas(cublas.cublasSetMathMode(blas, cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
            CudaCheck.cublas(
                    cublas.cublasSetPointerMode_v2(blas, cublas.CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
            this.cublasWorkspace = pool.alloc(CUBLAS_WORKSPACE, "cuBLAS workspace");
            CudaCheck.cublas(
                    cublas.cublasSetWorkspace_v2(blas, p1.at(cublasWorkspace), CUBLAS_WORKSPACE), "cublasSetWorkspace");
            k = new Kernels(stream, multiprocessors);
        } catch (RuntimeException e) {
            if (k != null) {
                k.close();
            }
            if (blas != null && !blas.isNull()) {
                cublas.cublasDestroy_v2(blas);
            }
            if (dnn != null && !dnn.isNull()) {
                cudnn.cudnnDestroy(dnn);
            }
            pool.close();
            cudart.cudaStreamDestroy(stream);
            throw e;
        }
        this.dnn = dnn;
        this.blas = blas;
        this.kernels = k;
    }

    /** Lets cuBLAS run float32 GEMMs on TF32 tensor cores (CudaBackend's tf32 mode). */
    void allowTf32() {
        enter();
        CudaCheck.cublas(cublas.cublasSetMathMode(blas, cublas.CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode(TF32)");
    }

    /** Makes this context current on the calling thread if another thread used it last. */
    void enter() {
        if (closed) {
            throw new IllegalStateException("CudaBackend used after close()");
        }
        Thread t = Thread.currentThread();
        if (t != owner) {
            CudaCheck.driver(cudart.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            CudaCheck.runtime(cudart.cudaSetDevice(device), "cudaSetDevice");
            owner = t;
        }
    }

    boolean isClosed() {
        return closed;
    }

    // ------------------------------------------------------------------ memory

    /** A pool block wrapped for a tensor; zeroed (asynchronously, on the stream) when {@code zero}. */
    CudaMemory allocate(long bytes, String what, boolean zero) {
        enter();
        long addr = pool.alloc(bytes, what);
        CudaMemory m = new CudaMemory(this, addr, bytes);
        live.add(m);
        if (zero && bytes > 0) {
            CudaCheck.runtime(cudart.cudaMemsetAsync(p1.at(addr), 0, bytes, stream), "cudaMemsetAsync(" + what + ")");
        }
        invalidate(addr, bytes);
        return m;
    }

    void release(CudaMemory m) {
        if (closed || !live.remove(m)) {
            return;
        }
        invalidate(m.rawAddress(), m.bytes());
        pool.free(m.rawAddress());
    }

    /** A temporary device block for one op (free it with {@link #free} when the op has queued its last use). */
    long temp(long bytes, String what) {
        return pool.alloc(bytes, what);
    }

    void free(long addr) {
        pool.free(addr);
    }

    /** The shared cuDNN workspace, grown to at least {@code bytes}; 0 when none is needed. */
    long workspace(long bytes) {
        if (bytes <= 0) {
            return 0;
        }
        if (bytes > workspaceBytes) {
            if (workspace != 0) {
                pool.free(workspace);
            }
            workspace = 0;
            workspace = pool.alloc(bytes, "cuDNN workspace");
            workspaceBytes = bytes;
        }
        return workspace;
    }

    long workspaceBytes() {
        return workspaceBytes;
    }

    // ------------------------------------------------------------------ host <-> device

    private Pointer staging(long bytes) {
        long want = Math.min(Math.max(bytes, 1 << 16), STAGING_MAX);
        if (staging == null || stagingBytes < want) {
            if (staging != null) {
                CudaCheck.runtime(cudart.cudaFreeHost(staging), "cudaFreeHost");
                staging = null;
            }
            Ptr p = new Ptr().at(0);
            CudaCheck.runtime(cudart.cudaMallocHost(p, want), "cudaMallocHost(" + want + ")");
            staging = new Ptr().at(p.address(), want);
            stagingBytes = want;
        }
        return staging;
    }

    /** Largest element count per staged chunk for elements of {@code elem} bytes. */
    private int chunk(long count, int elem) {
        return (int) Math.min(count, STAGING_MAX / elem);
    }

    private void copy(long dst, long src, long bytes, int kind, String what) {
        CudaCheck.runtime(cudart.cudaMemcpyAsync(p1.at(dst), p2.at(src), bytes, kind, stream), what);
        sync(what);
    }

    void upload(long dst, float[] src, int pos, int count) {
        enter();
        invalidate(dst, 4L * count);
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 4);
            Pointer st = staging(4L * n);
            new FloatPointer(st).put(src, pos + done, n);
            copy(
                    dst + 4L * done,
                    st.address(),
                    4L * n,
                    cudart.cudaMemcpyHostToDevice,
                    "upload of " + count + " floats");
            done += n;
        }
    }

    void upload(long dst, int[] src, int pos, int count) {
        enter();
        invalidate(dst, 4L * count);
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 4);
            Pointer st = staging(4L * n);
            new IntPointer(st).put(src, pos + done, n);
            copy(dst + 4L * done, st.address(), 4L * n, cudart.cudaMemcpyHostToDevice, "upload of " + count + " ints");
            done += n;
        }
    }

    void upload(long dst, long[] src, int pos, int count) {
        enter();
        invalidate(dst, 8L * count);
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 8);
            Pointer st = staging(8L * n);
            new LongPointer(st).put(src, pos + done, n);
            copy(dst + 8L * done, st.address(), 8L * n, cudart.cudaMemcpyHostToDevice, "upload of " + count + " longs");
            done += n;
        }
    }

    void upload(long dst, byte[] src, int pos, int count) {
        enter();
        invalidate(dst, count);
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 1);
            Pointer st = staging(n);
            new BytePointer(st).put(src, pos + done, n);
            copy(dst + done, st.address(), n, cudart.cudaMemcpyHostToDevice, "upload of " + count + " bytes");
            done += n;
        }
    }

    void download(long src, float[] dst, int pos, int count) {
        enter();
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 4);
            Pointer st = staging(4L * n);
            copy(
                    st.address(),
                    src + 4L * done,
                    4L * n,
                    cudart.cudaMemcpyDeviceToHost,
                    "download of " + count + " floats");
            new FloatPointer(st).get(dst, pos + done, n);
            done += n;
        }
    }

    void download(long src, int[] dst, int pos, int count) {
        enter();
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 4);
            Pointer st = staging(4L * n);
            copy(
                    st.address(),
                    src + 4L * done,
                    4L * n,
                    cudart.cudaMemcpyDeviceToHost,
                    "download of " + count + " ints");
            new IntPointer(st).get(dst, pos + done, n);
            done += n;
        }
    }

    void download(long src, long[] dst, int pos, int count) {
        enter();
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 8);
            Pointer st = staging(8L * n);
            copy(
                    st.address(),
                    src + 8L * done,
                    8L * n,
                    cudart.cudaMemcpyDeviceToHost,
                    "download of " + count + " longs");
            new LongPointer(st).get(dst, pos + done, n);
            done += n;
        }
    }

    void download(long src, byte[] dst, int pos, int count) {
        enter();
        for (int done = 0; done < count; ) {
            int n = chunk(count - done, 1);
            Pointer st = staging(n);
            copy(st.address(), src + done, n, cudart.cudaMemcpyDeviceToHost, "download of " + count + " bytes");
            new BytePointer(st).get(dst, pos + done, n);
            done += n;
        }
    }

    /** Downloads {@code count} doubles (small results of reductions). */
    double[] downloadDoubles(long src, int count) {
        enter();
        Pointer st = staging(8L * count);
        copy(st.address(), src, 8L * count, cudart.cudaMemcpyDeviceToHost, "download of " + count + " doubles");
        double[] out = new double[count];
        new org.bytedeco.javacpp.DoublePointer(st).get(out, 0, count);
        return out;
    }

    /** Uploads doubles (small coefficient tables). */
    void uploadDoubles(long dst, double[] src) {
        enter();
        Pointer st = staging(8L * src.length);
        new org.bytedeco.javacpp.DoublePointer(st).put(src, 0, src.length);
        copy(dst, st.address(), 8L * src.length, cudart.cudaMemcpyHostToDevice, "upload of " + src.length + " doubles");
    }

    /** Uploads longs without touching the activation cache (small index tables). */
    void uploadTable(long dst, long[] src) {
        enter();
        Pointer st = staging(8L * src.length);
        new LongPointer(st).put(src, 0, src.length);
        copy(dst, st.address(), 8L * src.length, cudart.cudaMemcpyHostToDevice, "upload of " + src.length + " longs");
    }

    void zero(long dst, long bytes) {
        enter();
        invalidate(dst, bytes);
        CudaCheck.runtime(cudart.cudaMemsetAsync(p1.at(dst), 0, bytes, stream), "cudaMemsetAsync");
        afterOp("zero");
    }

    void memset(long dst, int value, long bytes) {
        CudaCheck.runtime(cudart.cudaMemsetAsync(p1.at(dst), value, bytes, stream), "cudaMemsetAsync");
    }

    void copyDevice(long dst, long src, long bytes) {
        CudaCheck.runtime(
                cudart.cudaMemcpyAsync(p1.at(dst), p2.at(src), bytes, cudart.cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync(device to device, " + bytes + " bytes)");
    }

    // ------------------------------------------------------------------ synchronization and errors

    /** Waits for the stream; a failure of any earlier kernel is reported here, naming {@code where}. */
    void sync(String where) {
        int s = cudart.cudaStreamSynchronize(stream);
        if (s != cudart.cudaSuccess) {
            throw new ArunetException("CUDA error at " + where + ": " + CudaCheck.runtimeError(s)
                    + (syncEachOp
                            ? ""
                            : " (it may come from an earlier kernel: run with -Darunet.cuda.sync=true to"
                                    + " find which)"));
        }
    }

    /** After every op: with -Darunet.cuda.sync=true, synchronizes and checks, naming the op. */
    void afterOp(String op) {
        if (syncEachOp) {
            sync(op);
            int s = cudart.cudaGetLastError();
            if (s != cudart.cudaSuccess) {
                throw new ArunetException("CUDA error after " + op + ": " + CudaCheck.runtimeError(s));
            }
        }
    }

    // ------------------------------------------------------------------ half-precision copies of activations

    /**
     * A half-precision ({@code p} is FP16 or BF16) copy of an F32 tensor, made on the stream or reused.
     *
     * <p>Note [half copies]: the mixed-precision convolutions read their inputs in half precision. Several
     * convolutions often read the same tensor in a row (MCSA's three branches, a residual block's first
     * convolution and its shortcut), and a layer's backward-weights and backward-data passes read the same
     * output gradient; the last few copies are therefore kept, keyed on the tensor's identity, version and
     * memory range. A copy is dropped as soon as anything writes into its source's memory range through
     * this backend (every op reports its outputs to {@link #wrote}, host writes and allocations do too),
     * so a write through a view or an alias is seen as well as a version change.
     */
    long halfCopy(Tensor t, Precision p) {
        long addr = t.address();
        long bytes = t.bytes();
        for (Iterator<HalfEntry> it = halfCache.iterator(); it.hasNext(); ) {
            HalfEntry e = it.next();
            if (e.id == t.id()
                    && e.version == t.version()
                    && e.address == addr
                    && e.bytes == bytes
                    && e.precision == p) {
                it.remove();
                halfCache.addFirst(e);
                return e.copy;
            }
        }
        long copy = pool.alloc(t.numel() * 2, p + " copy of " + t.describe());
        kernels.toHalf(p, copy, addr, t.numel());
        halfCache.addFirst(new HalfEntry(t.id(), t.version(), addr, bytes, p, copy));
        while (halfCache.size() > HALF_CACHE_ENTRIES) {
            pool.free(halfCache.removeLast().copy);
        }
        return copy;
    }

    /** Drops half copies whose source overlaps [addr, addr + bytes). */
    void invalidate(long addr, long bytes) {
        if (halfCache.isEmpty()) {
            return;
        }
        long end = addr + bytes;
        for (Iterator<HalfEntry> it = halfCache.iterator(); it.hasNext(); ) {
            HalfEntry e = it.next();
            if (e.address < end && addr < e.address + e.bytes) {
                it.remove();
                pool.free(e.copy);
            }
        }
    }

    /** An op wrote these tensors: bump their versions and drop the half copies they overlap. */
    void wrote(Tensor... outs) {
        for (Tensor t : outs) {
            if (t != null) {
                t.bumpVersion();
                invalidate(t.address(), t.bytes());
            }
        }
    }

    void clearHalfCache() {
        while (!halfCache.isEmpty()) {
            pool.free(halfCache.removeFirst().copy);
        }
    }

    // ------------------------------------------------------------------ lifecycle

    /** Frees every device block (tensors still open included: they become unusable), the handles and the stream. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        enter();
        List<RuntimeException> errors = new ArrayList<>();
        int s = cudart.cudaStreamSynchronize(stream);
        if (s != cudart.cudaSuccess) {
            errors.add(new ArunetException("CUDA error found while closing the backend: " + CudaCheck.runtimeError(s)));
        }
        closed = true;
        for (CudaMemory m : live) {
            m.invalidate();
        }
        live.clear();
        halfCache.clear();
        try {
            kernels.close();
        } catch (RuntimeException e) {
            errors.add(e);
        }
        cublas.cublasDestroy_v2(blas);
        cudnn.cudnnDestroy(dnn);
        try {
            pool.close();
        } catch (RuntimeException e) {
            errors.add(e);
        }
        if (staging != null) {
            cudart.cudaFreeHost(staging);
            staging = null;
        }
        cudart.cudaStreamDestroy(stream);
        one.close();
        zero.close();
        if (!errors.isEmpty()) {
            throw errors.get(0);
        }
    }
}

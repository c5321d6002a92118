package org.arunet.backend.cuda;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.ArunetException;
import org.arunet.backend.Precision;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * arunet's CUDA kernels ({@code native/src/main/cuda/*.cu}), loaded from the fatbin resources
 * {@code org/arunet/cuda/<module>.fatbin} with the driver API and launched with {@code cuLaunchKernel}
 * on the context's stream.
 *
 * <p>Every kernel has a signature string here, one letter per parameter in order: {@code p} a device
 * pointer, {@code l} a 64-bit integer, {@code i} a 32-bit integer, {@code f} a float, {@code d} a
 * double. A launch pushes its arguments with typed calls and is refused (before reaching the driver)
 * unless they spell the kernel's signature; a build-time test checks every signature against the PTX
 * parameter lists in the fatbins. Arguments are packed into one reused native buffer, eight bytes per
 * slot, whose slot addresses form the {@code kernelParams} array (the driver copies the values at
 * launch, so the buffer is free again when {@code cuLaunchKernel} returns).
 *
 * <p>Launch configurations: one-dimensional kernels use {@link #BLOCK} threads and at most eight blocks
 * per multiprocessor (grid-stride loops; the kernels are correct for any grid); column reductions use
 * blocks of 32 x 8 threads and the chunking of {@link #rowsPerChunk}. Not thread-safe: used by the
 * context's one thread at a time.
 */
final class Kernels implements AutoCloseable {
    /** Threads per block of the one-dimensional kernels (cuda/common.cuh kBlock). */
    static final int BLOCK = 256;
    /** Column reduction blocks: 32 columns by 8 row lanes (kColTile, kColRows). */
    static final int COL_TILE = 32;

    static final int COL_ROWS = 8;
    /** Most chunks a column reduction splits its rows into. */
    static final int MAX_CHUNKS = 1024;

    static final String RESOURCE_DIR = "/org/arunet/cuda/";
    private static final int MAX_ARGS = 16;

    /** Kernel name to signature. */
    static final Map<String, String> SIGNATURES;

    static {
        Map<String, String> s = new LinkedHashMap<>();
        // elementwise.cu
        s.put("k_fill", "pfl");
        s.put("k_add", "pppl");
        s.put("k_scale", "ppfl");
        s.put("k_mul", "pppl");
        s.put("k_mul_pixel", "pppll");
        s.put("k_mul_channel", "pppl" + "ll");
        s.put("k_rowdot", "pppll");
        s.put("k_act_fwd", "ppil");
        s.put("k_act_bwd", "ppppil");
        s.put("k_adam", "pppp" + "l" + "ffffffff");
        s.put("k_sumsq_partial", "pp" + "f" + "i" + "ll");
        s.put("k_sum_final", "ppl");
        s.put("k_sum_segments", "ppp" + "l");
        s.put("k_colsum_partial", "pp" + "llll");
        s.put("k_coldot_partial", "ppp" + "llll");
        s.put("k_colsum_final", "pp" + "ll");
        s.put("k_add4", "pppl");
        s.put("k_mul4", "pppl");
        s.put("k_mul_channel4", "ppp" + "lll");
        // pool.cu
        s.put("k_maxpool_fwd", "pp" + "llllll" + "iii");
        s.put("k_maxpool_argmax", "pp" + "llllll" + "iii");
        s.put("k_maxpool_bwd", "ppp" + "llllll" + "iii");
        s.put("k_upsample_fwd", "pp" + "llll");
        s.put("k_upsample_bwd", "pp" + "llll");
        s.put("k_concat", "ppp" + "lll");
        s.put("k_split", "ppp" + "lll");
        s.put("k_chanmaxmean_fwd", "pp" + "ll");
        s.put("k_chanmaxmean_bwd", "pppp" + "ll");
        s.put("k_gpool_partial", "pp" + "llll");
        s.put("k_gpool_final", "ppp" + "llll");
        s.put("k_gpool_ties_partial", "ppp" + "llll");
        s.put("k_gpool_coef", "ppppp" + "llll");
        s.put("k_gpool_bwd", "ppppp" + "lll" + "i");
        s.put("k_upsample_fwd4", "pp" + "llll");
        s.put("k_upsample_bwd4", "pp" + "llll");
        s.put("k_concat4", "ppp" + "lll");
        s.put("k_split4", "ppp" + "lll");
        s.put("k_upsample_cvt", "pp" + "llll" + "i");
        s.put("k_upsample_cvt4", "pp" + "llll" + "i");
        s.put("k_concat_cvt", "ppp" + "lll" + "i");
        s.put("k_concat_cvt4", "ppp" + "lll" + "i");
        // batchnorm.cu
        s.put("k_bn_stats_partial", "pp" + "lll");
        s.put("k_bn_train_finalize", "pppppppp" + "lll" + "ff");
        s.put("k_bn_eval_coef", "pppp" + "l" + "f");
        s.put("k_bn_apply", "pppp" + "ll" + "i");
        s.put("k_bn_bwd_partial", "ppppp" + "lll" + "i");
        s.put("k_bn_bwd_finalize", "pppppp" + "lll");
        s.put("k_bn_bwd_apply", "pppppp" + "ll" + "i");
        s.put("k_bn_apply4", "pppp" + "ll" + "i");
        s.put("k_bn_bwd_apply4", "pppppp" + "ll" + "i");
        // loss.cu
        s.put("k_softmax", "pp" + "ll");
        s.put("k_softmax_ce", "ppppp" + "ll");
        s.put("k_loss_partial", "pppp" + "lll");
        s.put("k_loss_final", "pp" + "ll");
        s.put("k_loss_grad", "pppp" + "ll" + "d");
        // convert.cu
        s.put("k_to_half", "pp" + "l");
        s.put("k_to_bf16", "pp" + "l");
        s.put("k_half_to_f32_bias", "ppp" + "ll");
        s.put("k_bf16_to_f32_bias", "ppp" + "ll");
        s.put("k_bias_add", "pp" + "ll");
        s.put("k_oihw_to_ohwi", "pp" + "llll" + "i");
        s.put("k_ohwi_to_oihw", "pp" + "llll" + "i");
        s.put("k_to_half4", "pp" + "l");
        s.put("k_to_bf16_4", "pp" + "l");
        s.put("k_half_to_f32_bias4", "ppp" + "ll");
        s.put("k_bf16_to_f32_bias4", "ppp" + "ll");
        s.put("k_bias_add4", "pp" + "ll");
        s.put("k_epilogue", "ppip" + "ll" + "i" + "pppp");
        s.put("k_epilogue4", "ppip" + "ll" + "i" + "pppp");
        SIGNATURES = Collections.unmodifiableMap(s);
    }

    /** A loaded kernel. */
    private static final class Fn {
        final String name;
        final char[] signature;
        final CUfunc_st handle;

        Fn(String name, String signature, CUfunc_st handle) {
            this.name = name;
            this.signature = signature.toCharArray();
            this.handle = handle;
        }
    }

    private final CUstream_st stream;
    private final int maxBlocks;
    private final List<CUmod_st> modules = new ArrayList<>();
    private final Map<String, Fn> functions = new LinkedHashMap<>();
    private final BytePointer argBuffer;
    private final ByteBuffer args;
    private final PointerPointer<?> argPointers;
    private final char[] pushed = new char[MAX_ARGS];
    private int count;
    private Fn current;
    private long launches;

    /**
     * Loads every module named in {@code kernels.index} into the current context.
     *
     * @param multiprocessors the device's multiprocessor count (sizes the grid-stride grids)
     */
    Kernels(CUstream_st stream, int multiprocessors) {
        this.stream = stream;
        this.maxBlocks = Math.max(1, multiprocessors) * 8;
        this.argBuffer = new BytePointer(8L * MAX_ARGS);
        this.args = argBuffer.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        this.argPointers = new PointerPointer<>(MAX_ARGS);
        for (int i = 0; i < MAX_ARGS; i++) {
            argPointers.put(i, new Ptr().at(argBuffer.address() + 8L * i));
        }
        try {
            for (String module : moduleNames()) {
                byte[] image = resource(module + ".fatbin");
                CUmod_st mod = new CUmod_st();
                try (BytePointer data = new BytePointer(image.length + 1L)) {
                    data.put(image, 0, image.length).put(image.length, (byte) 0);
                    CudaCheck.driver(cudart.cuModuleLoadData(mod, data), "cuModuleLoadData(" + module + ".fatbin)");
                }
                modules.add(mod);
            }
            for (Map.Entry<String, String> e : SIGNATURES.entrySet()) {
                functions.put(e.getKey(), new Fn(e.getKey(), e.getValue(), find(e.getKey())));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private CUfunc_st find(String name) {
        for (CUmod_st mod : modules) {
            CUfunc_st f = new CUfunc_st();
            int s = cudart.cuModuleGetFunction(f, mod, name);
            if (s == cudart.CUDA_SUCCESS) {
                return f;
            }
            if (s != cudart.CUDA_ERROR_NOT_FOUND) {
                CudaCheck.driver(s, "cuModuleGetFunction(" + name + ")");
            }
        }
        throw new ArunetException("CUDA kernel " + name + " is in none of the modules " + moduleNames()
                + " (the fatbins do not match this build of arunet)");
    }

    /** The module names listed in {@code kernels.index}. */
    static List<String> moduleNames() {
        String index = new String(resource("kernels.index"), StandardCharsets.UTF_8);
        List<String> names = new ArrayList<>();
        for (String line : index.split("\n")) {
            if (!line.isBlank()) {
                names.add(line.trim());
            }
        }
        return names;
    }

    /** The first kernel resource this build lacks, or null when all are present. */
    static String missingResource() {
        if (Kernels.class.getResource(RESOURCE_DIR + "kernels.index") == null) {
            return RESOURCE_DIR + "kernels.index";
        }
        for (String m : moduleNames()) {
            if (Kernels.class.getResource(RESOURCE_DIR + m + ".fatbin") == null) {
                return RESOURCE_DIR + m + ".fatbin";
            }
        }
        return null;
    }

    static byte[] resource(String name) {
        try (InputStream in = Kernels.class.getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null) {
                throw new ArunetException("CUDA kernel resource " + RESOURCE_DIR + name + " is not on the class path");
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE_DIR + name, e);
        }
    }

    long launches() {
        return launches;
    }

    // ------------------------------------------------------------------ argument packing and launching

    private Kernels begin(String name) {
        Fn f = functions.get(name);
        if (f == null) {
            throw new IllegalStateException("unknown kernel " + name);
        }
        current = f;
        count = 0;
        return this;
    }

    private void slot(char type) {
        if (count == MAX_ARGS) {
            throw new IllegalStateException(current.name + ": more than " + MAX_ARGS + " arguments");
        }
        pushed[count++] = type;
    }

    private Kernels p(long devicePointer) {
        args.putLong(8 * count, devicePointer);
        slot('p');
        return this;
    }

    private Kernels l(long v) {
        args.putLong(8 * count, v);
        slot('l');
        return this;
    }

    private Kernels i(int v) {
        args.putLong(8 * count, 0L);
        args.putInt(8 * count, v);
        slot('i');
        return this;
    }

    private Kernels f(float v) {
        args.putLong(8 * count, 0L);
        args.putFloat(8 * count, v);
        slot('f');
        return this;
    }

    private Kernels d(double v) {
        args.putDouble(8 * count, v);
        slot('d');
        return this;
    }

    private void go(long gridX, long gridY, int blockX, int blockY) {
        Fn f = current;
        if (count != f.signature.length) {
            throw new IllegalStateException(f.name + ": " + count + " arguments pushed, signature "
                    + new String(f.signature) + " has " + f.signature.length);
        }
        for (int k = 0; k < count; k++) {
            if (pushed[k] != f.signature[k]) {
                throw new IllegalStateException(f.name + ": argument " + k + " pushed as '" + pushed[k]
                        + "', signature " + new String(f.signature) + " wants '" + f.signature[k] + "'");
            }
        }
        if (gridX < 1 || gridY < 1 || gridX > Integer.MAX_VALUE || gridY > 65535) {
            throw new IllegalStateException(f.name + ": grid " + gridX + " x " + gridY + " out of range");
        }
        int s = cudart.cuLaunchKernel(
                f.handle, (int) gridX, (int) gridY, 1, blockX, blockY, 1, 0, stream, argPointers, (PointerPointer<?>)
                        null);
        if (s != cudart.CUDA_SUCCESS) {
            throw new ArunetException("cuLaunchKernel(" + f.name + ", grid " + gridX + "x" + gridY + ", block " + blockX
                    + "x" + blockY + ") failed: " + CudaCheck.driverError(s));
        }
        launches++;
    }

    /** A one-dimensional grid-stride launch over n work items. */
    private void go1d(long n) {
        go(blocks(n), 1, BLOCK, 1);
    }

    /** A launch with one warp per row (rows rows). */
    private void goWarps(long rows) {
        go(blocks(32 * rows), 1, BLOCK, 1);
    }

    long blocks(long n) {
        return Math.max(1, Math.min((n + BLOCK - 1) / BLOCK, maxBlocks));
    }

    /**
     * Whether the float4 twin of a kernel may run (cuda/common.cuh, Note [vectorized kernels]): every
     * pointer 16-byte aligned (0 = absent counts as aligned) and the element or channel count a multiple
     * of 4.
     */
    static boolean vec4(long count, long... pointers) {
        long bits = count;
        for (long p : pointers) {
            bits |= p;
        }
        return (bits & 3) == 0 && alignedPointers(pointers);
    }

    private static boolean alignedPointers(long... pointers) {
        long bits = 0;
        for (long p : pointers) {
            bits |= p;
        }
        return (bits & 15) == 0;
    }

    // ------------------------------------------------------------------ column reductions

    /** Rows per chunk of a column reduction over R rows: at least 64, at most MAX_CHUNKS chunks. Depends on R only. */
    static long rowsPerChunk(long rows) {
        return Math.max(64, (rows + MAX_CHUNKS - 1) / MAX_CHUNKS);
    }

    /** The dtype code of the conversion kernels (cuda/convert.cu): 0 float, 1 half, 2 bfloat16. */
    static int code(Precision p) {
        return switch (p) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
        };
    }

    /** Element size of the convolution operands in precision {@code p}, in bytes. */
    static int bytes(Precision p) {
        return p == Precision.F32 ? 4 : 2;
    }

    static long chunks(long rows) {
        long rpc = rowsPerChunk(rows);
        return (rows + rpc - 1) / rpc;
    }

    private void goColumns(long columns, long rows) {
        go((columns + COL_TILE - 1) / COL_TILE, chunks(rows), COL_TILE, COL_ROWS);
    }

    // ------------------------------------------------------------------ elementwise.cu

    void fill(long y, float v, long n) {
        begin("k_fill").p(y).f(v).l(n).go1d(n);
    }

    void add(long y, long a, long b, long n) {
        if (vec4(n, y, a, b)) {
            begin("k_add4").p(y).p(a).p(b).l(n / 4).go1d(n / 4);
        } else {
            begin("k_add").p(y).p(a).p(b).l(n).go1d(n);
        }
    }

    void scale(long y, long x, float alpha, long n) {
        begin("k_scale").p(y).p(x).f(alpha).l(n).go1d(n);
    }

    void mul(long y, long x, long w, long n) {
        if (vec4(n, y, x, w)) {
            begin("k_mul4").p(y).p(x).p(w).l(n / 4).go1d(n / 4);
        } else {
            begin("k_mul").p(y).p(x).p(w).l(n).go1d(n);
        }
    }

    void mulPixel(long y, long x, long w, long pixels, long c) {
        begin("k_mul_pixel").p(y).p(x).p(w).l(pixels).l(c).go1d(pixels * c);
    }

    void mulChannel(long y, long x, long w, long n, long hw, long c) {
        if (vec4(c, y, x, w)) {
            begin("k_mul_channel4").p(y).p(x).p(w).l(n).l(hw).l(c / 4).go1d(n * hw * c / 4);
        } else {
            begin("k_mul_channel").p(y).p(x).p(w).l(n).l(hw).l(c).go1d(n * hw * c);
        }
    }

    void rowDot(long out, long a, long b, long rows, long c) {
        begin("k_rowdot").p(out).p(a).p(b).l(rows).l(c).goWarps(rows);
    }

    void activationForward(long y, long x, int act, long n) {
        begin("k_act_fwd").p(y).p(x).i(act).l(n).go1d(n);
    }

    void activationBackward(long dx, long x, long y, long dy, int act, long n) {
        begin("k_act_bwd").p(dx).p(x).p(y).p(dy).i(act).l(n).go1d(n);
    }

    void adam(
            long param,
            long m,
            long v,
            long grad,
            long n,
            float beta1,
            float beta2,
            float stepSize,
            float bc2Sqrt,
            float eps,
            float weightDecay) {
        begin("k_adam")
                .p(param)
                .p(m)
                .p(v)
                .p(grad)
                .l(n)
                .f(beta1)
                .f(beta2)
                .f(1f - beta1)
                .f(1f - beta2)
                .f(stepSize)
                .f(bc2Sqrt)
                .f(eps)
                .f(weightDecay)
                .go1d(n);
    }

    /** Elements per block of the sum-of-squares partials. */
    static long sumChunk(long n) {
        return Math.max(4096, (n + MAX_CHUNKS - 1) / MAX_CHUNKS);
    }

    /** Number of partials {@link #sumSquaresPartial} writes for n elements. */
    static long sumChunks(long n) {
        long per = sumChunk(n);
        return Math.max(1, (n + per - 1) / per);
    }

    void sumSquaresPartial(long partial, long x, float scale, boolean scaleInPlace, long n) {
        long per = sumChunk(n);
        begin("k_sumsq_partial")
                .p(partial)
                .p(x)
                .f(scale)
                .i(scaleInPlace ? 1 : 0)
                .l(n)
                .l(per)
                .go(sumChunks(n), 1, BLOCK, 1);
    }

    void sumFinal(long out, long partial, long chunks) {
        begin("k_sum_final").p(out).p(partial).l(chunks).go(1, 1, BLOCK, 1);
    }

    void sumSegments(long out, long partial, long offsets, long segments) {
        begin("k_sum_segments").p(out).p(partial).p(offsets).l(segments).go(Math.min(segments, maxBlocks), 1, BLOCK, 1);
    }

    /** Column sums: partial gets chunks(R) x S C doubles. */
    void colSumPartial(long partial, long x, long segments, long rows, long c) {
        begin("k_colsum_partial")
                .p(partial)
                .p(x)
                .l(segments)
                .l(rows)
                .l(c)
                .l(rowsPerChunk(rows))
                .goColumns(segments * c, rows);
    }

    void colDotPartial(long partial, long a, long b, long segments, long rows, long c) {
        begin("k_coldot_partial")
                .p(partial)
                .p(a)
                .p(b)
                .l(segments)
                .l(rows)
                .l(c)
                .l(rowsPerChunk(rows))
                .goColumns(segments * c, rows);
    }

    void colSumFinal(long out, long partial, long columns, long rows) {
        begin("k_colsum_final").p(out).p(partial).l(columns).l(chunks(rows)).go1d(columns);
    }

    // ------------------------------------------------------------------ pool.cu

    void maxPoolForward(long y, long x, long n, long h, long w, long c, long oh, long ow, int k, int s, int pad) {
        begin("k_maxpool_fwd")
                .p(y)
                .p(x)
                .l(n)
                .l(h)
                .l(w)
                .l(c)
                .l(oh)
                .l(ow)
                .i(k)
                .i(s)
                .i(pad)
                .go1d(n * oh * ow * c);
    }

    void maxPoolArgmax(long arg, long x, long n, long h, long w, long c, long oh, long ow, int k, int s, int pad) {
        begin("k_maxpool_argmax")
                .p(arg)
                .p(x)
                .l(n)
                .l(h)
                .l(w)
                .l(c)
                .l(oh)
                .l(ow)
                .i(k)
                .i(s)
                .i(pad)
                .go1d(n * oh * ow * c);
    }

    void maxPoolBackward(
            long dx, long dy, long arg, long n, long h, long w, long c, long oh, long ow, int k, int s, int pad) {
        begin("k_maxpool_bwd")
                .p(dx)
                .p(dy)
                .p(arg)
                .l(n)
                .l(h)
                .l(w)
                .l(c)
                .l(oh)
                .l(ow)
                .i(k)
                .i(s)
                .i(pad)
                .go1d(n * h * w * c);
    }

    void upsampleForward(long y, long x, long n, long h, long w, long c) {
        if (vec4(c, y, x)) {
            begin("k_upsample_fwd4").p(y).p(x).l(n).l(h).l(w).l(c / 4).go1d(n * h * w * c);
        } else {
            begin("k_upsample_fwd").p(y).p(x).l(n).l(h).l(w).l(c).go1d(4 * n * h * w * c);
        }
    }

    void upsampleBackward(long dx, long dy, long n, long h, long w, long c) {
        if (vec4(c, dx, dy)) {
            begin("k_upsample_bwd4").p(dx).p(dy).l(n).l(h).l(w).l(c / 4).go1d(n * h * w * c / 4);
        } else {
            begin("k_upsample_bwd").p(dx).p(dy).l(n).l(h).l(w).l(c).go1d(n * h * w * c);
        }
    }

    void concat(long out, long a, long b, long pixels, long ca, long cb) {
        if (vec4(ca | cb, out, a, b)) {
            begin("k_concat4").p(out).p(a).p(b).l(pixels).l(ca / 4).l(cb / 4).go1d(pixels * (ca + cb) / 4);
        } else {
            begin("k_concat").p(out).p(a).p(b).l(pixels).l(ca).l(cb).go1d(pixels * (ca + cb));
        }
    }

    /** y (dtype of p) = upsample2x(x), x F32 NHWC [n, h, w, c]: a convolution's input made in its precision. */
    void upsampleCvt(Precision p, long y, long x, long n, long h, long w, long c) {
        if (vec4(c, y, x)) {
            begin("k_upsample_cvt4")
                    .p(y)
                    .p(x)
                    .l(n)
                    .l(h)
                    .l(w)
                    .l(c / 4)
                    .i(code(p))
                    .go1d(n * h * w * c);
        } else {
            begin("k_upsample_cvt").p(y).p(x).l(n).l(h).l(w).l(c).i(code(p)).go1d(4 * n * h * w * c);
        }
    }

    /** out (dtype of p) = cat[a, b] over channels, a and b F32. */
    void concatCvt(Precision p, long out, long a, long b, long pixels, long ca, long cb) {
        if (vec4(ca | cb, out, a, b)) {
            begin("k_concat_cvt4")
                    .p(out)
                    .p(a)
                    .p(b)
                    .l(pixels)
                    .l(ca / 4)
                    .l(cb / 4)
                    .i(code(p))
                    .go1d(pixels * (ca + cb) / 4);
        } else {
            begin("k_concat_cvt")
                    .p(out)
                    .p(a)
                    .p(b)
                    .l(pixels)
                    .l(ca)
                    .l(cb)
                    .i(code(p))
                    .go1d(pixels * (ca + cb));
        }
    }

    void split(long da, long db, long dOut, long pixels, long ca, long cb) {
        if (vec4(ca | cb, da, db, dOut)) {
            begin("k_split4").p(da).p(db).p(dOut).l(pixels).l(ca / 4).l(cb / 4).go1d(pixels * (ca + cb) / 4);
        } else {
            begin("k_split").p(da).p(db).p(dOut).l(pixels).l(ca).l(cb).go1d(pixels * (ca + cb));
        }
    }

    void channelMaxMeanForward(long out, long x, long pixels, long c) {
        begin("k_chanmaxmean_fwd").p(out).p(x).l(pixels).l(c).goWarps(pixels);
    }

    void channelMaxMeanBackward(long dx, long x, long out, long dOut, long pixels, long c) {
        begin("k_chanmaxmean_bwd").p(dx).p(x).p(out).p(dOut).l(pixels).l(c).goWarps(pixels);
    }

    /** Partials: chunks(HW) x N C SumMax records (16 bytes each). */
    void globalPoolPartial(long partial, long x, long n, long hw, long c) {
        begin("k_gpool_partial")
                .p(partial)
                .p(x)
                .l(n)
                .l(hw)
                .l(c)
                .l(rowsPerChunk(hw))
                .goColumns(n * c, hw);
    }

    void globalPoolFinal(long max, long avg, long partial, long n, long c, long hw) {
        begin("k_gpool_final")
                .p(max)
                .p(avg)
                .p(partial)
                .l(n)
                .l(c)
                .l(hw)
                .l(chunks(hw))
                .go1d(n * c);
    }

    void globalPoolTiesPartial(long partial, long x, long max, long n, long hw, long c) {
        begin("k_gpool_ties_partial")
                .p(partial)
                .p(x)
                .p(max)
                .l(n)
                .l(hw)
                .l(c)
                .l(rowsPerChunk(hw))
                .goColumns(n * c, hw);
    }

    void globalPoolCoef(long gmax, long gavg, long tiesPartial, long dMax, long dAvg, long n, long c, long hw) {
        begin("k_gpool_coef")
                .p(gmax)
                .p(gavg)
                .p(tiesPartial)
                .p(dMax)
                .p(dAvg)
                .l(n)
                .l(c)
                .l(hw)
                .l(chunks(hw))
                .go1d(n * c);
    }

    void globalPoolBackward(long dx, long x, long max, long gmax, long gavg, long n, long hw, long c, boolean withMax) {
        begin("k_gpool_bwd")
                .p(dx)
                .p(x)
                .p(max)
                .p(gmax)
                .p(gavg)
                .l(n)
                .l(hw)
                .l(c)
                .i(withMax ? 1 : 0)
                .go1d(n * hw * c);
    }

    // ------------------------------------------------------------------ batchnorm.cu

    void bnStatsPartial(long partial, long x, long m, long c) {
        begin("k_bn_stats_partial").p(partial).p(x).l(m).l(c).l(rowsPerChunk(m)).goColumns(c, m);
    }

    void bnTrainFinalize(
            long saveMean,
            long saveInvStd,
            long runningMean,
            long runningVar,
            long coef,
            long x,
            long gamma,
            long partial,
            long m,
            long c,
            float momentum,
            float eps) {
        begin("k_bn_train_finalize")
                .p(saveMean)
                .p(saveInvStd)
                .p(runningMean)
                .p(runningVar)
                .p(coef)
                .p(x)
                .p(gamma)
                .p(partial)
                .l(chunks(m))
                .l(m)
                .l(c)
                .f(momentum)
                .f(eps)
                .go1d(c);
    }

    void bnEvalCoef(long coef, long gamma, long runningMean, long runningVar, long c, float eps) {
        begin("k_bn_eval_coef")
                .p(coef)
                .p(gamma)
                .p(runningMean)
                .p(runningVar)
                .l(c)
                .f(eps)
                .go1d(c);
    }

    void bnApply(long y, long x, long coef, long beta, long m, long c, boolean relu) {
        if (vec4(c, y, x, coef, beta)) {
            begin("k_bn_apply4")
                    .p(y)
                    .p(x)
                    .p(coef)
                    .p(beta)
                    .l(m)
                    .l(c / 4)
                    .i(relu ? 1 : 0)
                    .go1d(m * c / 4);
        } else {
            begin("k_bn_apply")
                    .p(y)
                    .p(x)
                    .p(coef)
                    .p(beta)
                    .l(m)
                    .l(c)
                    .i(relu ? 1 : 0)
                    .go1d(m * c);
        }
    }

    void bnBackwardPartial(long partial, long dy, long x, long y, long saveMean, long m, long c, boolean relu) {
        begin("k_bn_bwd_partial")
                .p(partial)
                .p(dy)
                .p(x)
                .p(y)
                .p(saveMean)
                .l(m)
                .l(c)
                .l(rowsPerChunk(m))
                .i(relu ? 1 : 0)
                .goColumns(c, m);
    }

    void bnBackwardFinalize(
            long dGamma, long dBeta, long coef, long gamma, long saveInvStd, long partial, long m, long c) {
        begin("k_bn_bwd_finalize")
                .p(dGamma)
                .p(dBeta)
                .p(coef)
                .p(gamma)
                .p(saveInvStd)
                .p(partial)
                .l(chunks(m))
                .l(m)
                .l(c)
                .go1d(c);
    }

    void bnBackwardApply(long dx, long dy, long x, long y, long saveMean, long coef, long m, long c, boolean relu) {
        if (vec4(c, dx, dy, x, y, saveMean, coef)) {
            begin("k_bn_bwd_apply4")
                    .p(dx)
                    .p(dy)
                    .p(x)
                    .p(y)
                    .p(saveMean)
                    .p(coef)
                    .l(m)
                    .l(c / 4)
                    .i(relu ? 1 : 0)
                    .go1d(m * c / 4);
        } else {
            begin("k_bn_bwd_apply")
                    .p(dx)
                    .p(dy)
                    .p(x)
                    .p(y)
                    .p(saveMean)
                    .p(coef)
                    .l(m)
                    .l(c)
                    .i(relu ? 1 : 0)
                    .go1d(m * c);
        }
    }

    // ------------------------------------------------------------------ loss.cu

    void softmax(long probs, long logits, long pixels, long k) {
        begin("k_softmax").p(probs).p(logits).l(pixels).l(k).go1d(pixels);
    }

    void softmaxCe(long probs, long ce, long bad, long logits, long target, long pixels, long k) {
        begin("k_softmax_ce")
                .p(probs)
                .p(ce)
                .p(bad)
                .p(logits)
                .p(target)
                .l(pixels)
                .l(k)
                .go1d(pixels);
    }

    /** Partials: chunks(P) x K Sum4 records (32 bytes each). */
    void lossPartial(long partial, long probs, long target, long ce, long pixels, long k) {
        begin("k_loss_partial")
                .p(partial)
                .p(probs)
                .p(target)
                .p(ce)
                .l(pixels)
                .l(k)
                .l(rowsPerChunk(pixels))
                .goColumns(k, pixels);
    }

    void lossFinal(long out, long partial, long pixels, long k) {
        begin("k_loss_final").p(out).p(partial).l(chunks(pixels)).l(k).go1d(k);
    }

    void lossGrad(long dLogits, long target, long c0, long c1, long pixels, long k, double ceScale) {
        begin("k_loss_grad")
                .p(dLogits)
                .p(target)
                .p(c0)
                .p(c1)
                .l(pixels)
                .l(k)
                .d(ceScale)
                .go1d(pixels);
    }

    // ------------------------------------------------------------------ convert.cu

    void toHalf(Precision p, long y, long x, long n) {
        if (vec4(n, y, x)) {
            begin(p == Precision.BF16 ? "k_to_bf16_4" : "k_to_half4")
                    .p(y)
                    .p(x)
                    .l(n / 4)
                    .go1d(n / 4);
        } else {
            begin(p == Precision.BF16 ? "k_to_bf16" : "k_to_half")
                    .p(y)
                    .p(x)
                    .l(n)
                    .go1d(n);
        }
    }

    void halfToFloatBias(Precision p, long y, long x, long bias, long m, long c) {
        if (vec4(c, y, x, bias)) {
            begin(p == Precision.BF16 ? "k_bf16_to_f32_bias4" : "k_half_to_f32_bias4")
                    .p(y)
                    .p(x)
                    .p(bias)
                    .l(m)
                    .l(c / 4)
                    .go1d(m * c / 4);
        } else {
            begin(p == Precision.BF16 ? "k_bf16_to_f32_bias" : "k_half_to_f32_bias")
                    .p(y)
                    .p(x)
                    .p(bias)
                    .l(m)
                    .l(c)
                    .go1d(m * c);
        }
    }

    /**
     * y[m, c] = chain(float(src[m, c]) + bias[c]) (cuda/convert.cu, Note [convolution epilogue]): src in
     * precision p (it may be y itself in F32), bias and the operands may be 0 (absent).
     */
    void epilogue(Precision p, long y, long src, long bias, long m, long c, int prog, long[] ops) {
        if (vec4(c, y, src, bias, ops[0], ops[1], ops[2], ops[3])) {
            begin("k_epilogue4")
                    .p(y)
                    .p(src)
                    .i(code(p))
                    .p(bias)
                    .l(m)
                    .l(c / 4)
                    .i(prog)
                    .p(ops[0])
                    .p(ops[1])
                    .p(ops[2])
                    .p(ops[3])
                    .go1d(m * c / 4);
        } else {
            begin("k_epilogue")
                    .p(y)
                    .p(src)
                    .i(code(p))
                    .p(bias)
                    .l(m)
                    .l(c)
                    .i(prog)
                    .p(ops[0])
                    .p(ops[1])
                    .p(ops[2])
                    .p(ops[3])
                    .go1d(m * c);
        }
    }

    void biasAdd(long y, long bias, long m, long c) {
        if (vec4(c, y, bias)) {
            begin("k_bias_add4").p(y).p(bias).l(m).l(c / 4).go1d(m * c / 4);
        } else {
            begin("k_bias_add").p(y).p(bias).l(m).l(c).go1d(m * c);
        }
    }

    void oihwToOhwi(long dst, long src, long o, long i, long kh, long kw, Precision p) {
        begin("k_oihw_to_ohwi").p(dst).p(src).l(o).l(i).l(kh).l(kw).i(code(p)).go1d(o * i * kh * kw);
    }

    void ohwiToOihw(long dst, long src, long o, long i, long kh, long kw, Precision p) {
        begin("k_ohwi_to_oihw").p(dst).p(src).l(o).l(i).l(kh).l(kw).i(code(p)).go1d(o * i * kh * kw);
    }

    /** Unloads the modules and frees the argument buffers. */
    @Override
    public void close() {
        for (CUmod_st m : modules) {
            cudart.cuModuleUnload(m);
        }
        modules.clear();
        functions.clear();
        argPointers.close();
        argBuffer.close();
    }
}

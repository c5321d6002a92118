package org.arunet.backend.cuda;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.ArunetException;
import org.arunet.backend.Checks;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvChecks;
import org.arunet.backend.Precision;
import org.arunet.tensor.Tensor;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.SizeTPointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One convolution layer on cuDNN's legacy API: x, y, dx, dy are NHWC device tensors used in place
 * (cuDNN NHWC tensor descriptors); w and dw are PyTorch's OIHW.
 *
 * <p>Note [weights for cuDNN]: cuDNN's fast NHWC kernels want NHWC filters, i.e. weights in OHWI order
 * ("KRSC"). The OIHW weights are reordered (and, in the mixed-precision modes, cast to half) once per
 * weight version into a copy this op keeps, keyed on the tensor's {@link Tensor#id()},
 * {@link Tensor#version()} and address, as the CPU backend does: writing new weight values without a
 * version bump (any backend op, {@code copyFrom} and optimizer steps bump it) leaves the old copy in
 * use. When OIHW and OHWI coincide in memory (1x1 kernels, depthwise) the float32 mode uses the weights
 * as they are. The weight gradient comes out of cuDNN in OHWI (in half precision in the mixed modes) and
 * is converted into the caller's OIHW float32 dw.
 *
 * <p>Note [algorithm choice]: per input shape (N, H, W) and pointer alignment, and per pass (forward,
 * backward data, backward filter), the first call runs {@code cudnnFind*AlgorithmEx} on the real
 * buffers with a workspace of up to 1 GiB, keeps the successful deterministic algorithms fastest first
 * and uses the first (the next ones only if the first fails when it really runs). Float32 mode sets
 * {@code CUDNN_FMA_MATH} (no TF32) and skips tensor-op results (in the backend's tf32 mode it sets
 * {@code CUDNN_DEFAULT_MATH} and keeps them); the half modes use the math type cuDNN
 * reports (tensor cores). When no algorithm supports a half-precision configuration (cuDNN's tensor-core
 * kernels want channel counts that suit them), that pass of that shape falls back to float32 and says
 * so once in the log. The workspace is the context's shared one, grown to the largest need. Plans of at
 * most {@value #MAX_PLANS} shapes are kept, least recently used evicted.
 *
 * <p>The bias is added by arunet's own kernels (fused with the conversion back to float32 in the half
 * modes), and db is a deterministic column sum of dy.
 */
final class CudaConv2dOp implements Conv2dOp {
    private static final Logger LOG = LoggerFactory.getLogger(CudaConv2dOp.class);
    static final int MAX_PLANS = 8;
    /** Largest workspace offered to cudnnFind. */
    static final long FIND_WORKSPACE = 1L << 30;

    private final CudaBackend backend;
    private final CudaContext ctx;
    private final Conv2dSpec spec;
    private final Precision precision;
    /** Float32 passes may use TF32 tensor cores (CudaBackend's tf32 mode). */
    private final boolean tf32;

    private final int inPerGroup;
    /** OIHW and OHWI are the same bytes (1x1 kernel, or one input channel per group). */
    private final boolean sameLayout;

    private final String forwardName;
    private final String backwardDataName;
    private final String backwardWeightsName;
    private final ConvChecks checks;
    private final LinkedHashMap<Key, Plan> plans = new LinkedHashMap<>(16, 0.75f, true);
    private final WeightCopy[] weightCopies = new WeightCopy[Precision.values().length];
    private final Ptr px = new Ptr();
    private final Ptr pw = new Ptr();
    private final Ptr py = new Ptr();
    private final Ptr pws = new Ptr();
    private long weightReorders;
    private boolean closed;

    private record Key(int n, int h, int w, boolean aligned) {}

    /** The three passes of a convolution. */
    enum Pass {
        FORWARD,
        BACKWARD_DATA,
        BACKWARD_FILTER
    }

    /** One algorithm result of cudnnFind. */
    record Perf(int algo, int status, float time, long memory, int determinism, int mathType) {}

    private static final class WeightCopy {
        long address;
        long id = -1;
        long version = -1;
        long source;
    }

    CudaConv2dOp(CudaBackend backend, Conv2dSpec spec) {
        this.backend = backend;
        this.ctx = backend.context();
        this.spec = spec;
        this.precision = backend.precision();
        this.tf32 = backend.tf32();
        this.inPerGroup = spec.inChannels() / spec.groups();
        this.sameLayout = spec.kernelH() * spec.kernelW() == 1 || inPerGroup == 1;
        this.forwardName = "conv2d.forward " + spec;
        this.backwardDataName = "conv2d.backwardData " + spec;
        this.backwardWeightsName = "conv2d.backwardWeights " + spec;
        this.checks = new ConvChecks(spec, CudaBackend.DEVICE, true);
    }

    @Override
    public Conv2dSpec spec() {
        return spec;
    }

    private void open() {
        if (closed) {
            throw new IllegalStateException("conv2d " + spec + " used after close()");
        }
    }

    // ------------------------------------------------------------------ validation (ConvChecks, as CpuConv2dOp)

    /** The argument checks of this op (shared with CpuConv2dOp; also used by {@link CudaUpsampledConv2dOp}). */
    ConvChecks checks() {
        return checks;
    }

    private static boolean aligned(Tensor... ts) {
        long bits = 0;
        for (Tensor t : ts) {
            bits |= t.address();
        }
        return (bits & 15) == 0;
    }

    // ------------------------------------------------------------------ compute

    @Override
    public void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training) {
        checks.forward("conv2d.forward", x, w, b, y, 1);
        open();
        ctx.enter();
        backend.run(forwardName, CudaBackend.of(x, w, y), () -> {
            Plan plan = plan(x, aligned(x, y));
            long m = (long) y.dim(0) * y.dim(1) * y.dim(2);
            PassPlan pp = plan.prepare(Pass.FORWARD, p -> {
                Buffers bufs = new Buffers();
                bufs.a = p == Precision.F32 ? x.address() : ctx.halfCopy(x, p);
                bufs.w = weightsFor(w, p);
                bufs.out = p == Precision.F32 ? y.address() : bufs.temp(ctx, m * spec.outChannels() * 2, "conv output");
                return bufs;
            });
            Precision p = pp.precision;
            long xin = p == Precision.F32 ? x.address() : ctx.halfCopy(x, p);
            long win = weightsFor(w, p);
            long yout = p == Precision.F32 ? y.address() : ctx.temp(m * spec.outChannels() * 2, "conv output");
            pp.run(xin, win, yout);
            if (p == Precision.F32) {
                if (b != null) {
                    ctx.kernels.biasAdd(y.address(), b.address(), m, spec.outChannels());
                }
            } else {
                ctx.kernels.halfToFloatBias(p, y.address(), yout, b == null ? 0L : b.address(), m, spec.outChannels());
                ctx.free(yout);
            }
            ctx.wrote(y);
        });
    }

    /** Where the input of {@link #forwardFused} comes from. */
    enum Source {
        /** x itself. */
        PLAIN,
        /** cat[x, x2] over channels, made in the convolution's precision in one pass. */
        CONCAT,
        /** x upsampled 2x (nearest neighbour), made in the convolution's precision in one pass. */
        UPSAMPLED
    }

    /**
     * Validates the arguments of {@link #forwardFused} (the rules of {@link #forward}, for the input the
     * source describes).
     */
    void checkFused(String op, Source source, Tensor x, Tensor x2, Tensor w, Tensor b, Tensor y) {
        switch (source) {
            case PLAIN -> checks.input(op, "x", x, 1);
            case UPSAMPLED -> checks.input(op, "x", x, 2);
            case CONCAT -> {
                Checks.nhwc(op, "x", x, CudaBackend.DEVICE);
                Checks.nhwc(op, "x2", x2, CudaBackend.DEVICE);
                if (x.dim(0) != x2.dim(0)
                        || x.dim(1) != x2.dim(1)
                        || x.dim(2) != x2.dim(2)
                        || x.dim(3) + x2.dim(3) != spec.inChannels()
                        || x.dim(3) <= 0
                        || x2.dim(3) <= 0
                        || x.dim(0) <= 0
                        || x.dim(1) <= 0
                        || x.dim(2) <= 0) {
                    throw new IllegalArgumentException(op + " " + spec + ": x " + x.describe() + " and x2 "
                            + x2.describe() + " must agree in N, H, W (non-empty) and have " + spec.inChannels()
                            + " channels together");
                }
                checks.span(op, "x " + x.describe(), x.dim(1), x.dim(2));
            }
        }
        checks.weights(op, "w", w);
        checks.bias(op, "b", b);
        checks.output(op, "y", y, "x", x, source == Source.UPSAMPLED ? 2 : 1);
    }

    /**
     * Queues the inference forward with an epilogue: {@code y = chain(conv(in, w) + b)} with {@code in} as
     * the source says, {@code chain} the program {@code prog} on the operands {@code ops} (four device
     * pointers, 0 where unused; cuda/convert.cu, Note [convolution epilogue]). {@code readsY}: the chain
     * reads y's previous contents (a SUM step), so the convolution must not write y. Arguments are checked
     * by {@link #checkFused}; the caller wraps this in {@link CudaBackend#run}.
     *
     * <p>Memory traffic per element of y: in float32 the convolution writes y and one epilogue pass reads
     * and writes it again (skipped when there is neither bias nor step); in the half modes the convolution
     * writes a half temporary that the epilogue reads once. The input is cast (and concatenated or
     * upsampled) in one pass; a plain input's half copy is the context's cached one.
     */
    void forwardFused(
            Source source, Tensor x, Tensor x2, Tensor w, Tensor b, Tensor y, int prog, long[] ops, boolean readsY) {
        open();
        ctx.enter();
        int f = source == Source.UPSAMPLED ? 2 : 1;
        long m = (long) y.dim(0) * y.dim(1) * y.dim(2);
        long outBytes = m * spec.outChannels();
        Plan plan = plan(x.dim(0), f * x.dim(1), f * x.dim(2), source == Source.PLAIN ? aligned(x, y) : aligned(y));
        PassPlan pp = plan.prepare(Pass.FORWARD, p -> {
            Buffers bufs = new Buffers();
            bufs.a = fusedInput(source, x, x2, p, bufs.temps);
            bufs.w = weightsFor(w, p);
            bufs.out = p == Precision.F32 && !readsY
                    ? y.address()
                    : bufs.temp(ctx, outBytes * Kernels.bytes(p), "conv output");
            return bufs;
        });
        Precision p = pp.precision;
        List<Long> temps = new ArrayList<>(1);
        long in = fusedInput(source, x, x2, p, temps);
        long win = weightsFor(w, p);
        boolean direct = p == Precision.F32 && !readsY;
        long out = 0;
        try {
            out = direct ? y.address() : ctx.temp(outBytes * Kernels.bytes(p), "conv output");
            pp.run(in, win, out);
            if (!direct || b != null || prog != 0) {
                ctx.kernels.epilogue(
                        p, y.address(), out, b == null ? 0L : b.address(), m, spec.outChannels(), prog, ops);
            }
        } finally {
            for (long t : temps) {
                ctx.free(t);
            }
            if (!direct && out != 0) {
                ctx.free(out);
            }
        }
        ctx.wrote(y);
    }

    /** The convolution input of {@link #forwardFused} in precision p; temporaries it makes are added to temps. */
    private long fusedInput(Source source, Tensor x, Tensor x2, Precision p, List<Long> temps) {
        switch (source) {
            case PLAIN:
                return p == Precision.F32 ? x.address() : ctx.halfCopy(x, p);
            case CONCAT: {
                long pixels = (long) x.dim(0) * x.dim(1) * x.dim(2);
                long t = ctx.temp(pixels * spec.inChannels() * Kernels.bytes(p), p + " concatenated input of " + spec);
                temps.add(t);
                ctx.kernels.concatCvt(p, t, x.address(), x2.address(), pixels, x.dim(3), x2.dim(3));
                return t;
            }
            default: {
                long t = ctx.temp(4L * x.numel() * Kernels.bytes(p), p + " upsampled input of " + spec);
                temps.add(t);
                ctx.kernels.upsampleCvt(p, t, x.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
                return t;
            }
        }
    }

    @Override
    public void backwardData(Tensor dy, Tensor w, Tensor dx) {
        checks.backwardData("conv2d.backwardData", dy, w, dx, 1);
        open();
        ctx.enter();
        backend.run(backwardDataName, CudaBackend.of(dy, w, dx), () -> {
            Plan plan = plan(dx, aligned(dx, dy));
            long mIn = (long) dx.dim(0) * dx.dim(1) * dx.dim(2);
            PassPlan pp = plan.prepare(Pass.BACKWARD_DATA, p -> {
                Buffers bufs = new Buffers();
                bufs.a = p == Precision.F32 ? dy.address() : ctx.halfCopy(dy, p);
                bufs.w = weightsFor(w, p);
                bufs.out = p == Precision.F32
                        ? dx.address()
                        : bufs.temp(ctx, mIn * spec.inChannels() * 2, "conv input gradient");
                return bufs;
            });
            Precision p = pp.precision;
            long dyin = p == Precision.F32 ? dy.address() : ctx.halfCopy(dy, p);
            long win = weightsFor(w, p);
            long dxout =
                    p == Precision.F32 ? dx.address() : ctx.temp(mIn * spec.inChannels() * 2, "conv input gradient");
            pp.run(dyin, win, dxout);
            if (p != Precision.F32) {
                ctx.kernels.halfToFloatBias(p, dx.address(), dxout, 0L, mIn, spec.inChannels());
                ctx.free(dxout);
            }
            ctx.wrote(dx);
        });
    }

    @Override
    public void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
        checks.backwardWeights("conv2d.backwardWeights", x, dy, dw, db, 1);
        open();
        ctx.enter();
        backend.run(backwardWeightsName, CudaBackend.of(x, dy, dw), () -> {
            Plan plan = plan(x, aligned(x, dy));
            long wCount = dw.numel();
            PassPlan pp = plan.prepare(Pass.BACKWARD_FILTER, p -> {
                Buffers bufs = new Buffers();
                bufs.a = p == Precision.F32 ? x.address() : ctx.halfCopy(x, p);
                bufs.w = p == Precision.F32 ? dy.address() : ctx.halfCopy(dy, p);
                bufs.out = p == Precision.F32 && sameLayout
                        ? dw.address()
                        : bufs.temp(ctx, wCount * Kernels.bytes(p), "conv weight gradient");
                return bufs;
            });
            Precision p = pp.precision;
            long xin = p == Precision.F32 ? x.address() : ctx.halfCopy(x, p);
            long dyin = p == Precision.F32 ? dy.address() : ctx.halfCopy(dy, p);
            boolean direct = p == Precision.F32 && sameLayout;
            long dwout = direct ? dw.address() : ctx.temp(wCount * Kernels.bytes(p), "conv weight gradient");
            pp.run(xin, dyin, dwout);
            if (!direct) {
                ctx.kernels.ohwiToOihw(
                        dw.address(), dwout, spec.outChannels(), inPerGroup, spec.kernelH(), spec.kernelW(), p);
                ctx.free(dwout);
            }
            if (db != null) {
                long m = (long) dy.dim(0) * dy.dim(1) * dy.dim(2);
                long partial = ctx.temp(Kernels.chunks(m) * spec.outChannels() * 8L, "conv bias-gradient partials");
                ctx.kernels.colSumPartial(partial, dy.address(), 1, m, spec.outChannels());
                ctx.kernels.colSumFinal(db.address(), partial, spec.outChannels(), m);
                ctx.free(partial);
            }
            ctx.wrote(dw, db);
        });
    }

    /** The weights as cuDNN reads them in precision p (Note [weights for cuDNN]). */
    private long weightsFor(Tensor w, Precision p) {
        if (p == Precision.F32 && sameLayout) {
            return w.address();
        }
        WeightCopy c = weightCopies[p.ordinal()];
        if (c == null) {
            c = new WeightCopy();
            c.address = ctx.temp(w.numel() * Kernels.bytes(p), p + " OHWI weights of " + spec);
            weightCopies[p.ordinal()] = c;
        }
        if (c.id != w.id() || c.version != w.version() || c.source != w.address()) {
            ctx.kernels.oihwToOhwi(
                    c.address, w.address(), spec.outChannels(), inPerGroup, spec.kernelH(), spec.kernelW(), p);
            c.id = w.id();
            c.version = w.version();
            c.source = w.address();
            weightReorders++;
        }
        return c.address;
    }

    // ------------------------------------------------------------------ plans

    private Plan plan(Tensor in, boolean aligned) {
        return plan(in.dim(0), in.dim(1), in.dim(2), aligned);
    }

    private Plan plan(int n, int h, int w, boolean aligned) {
        Key key = new Key(n, h, w, aligned);
        Plan p = plans.get(key);
        if (p == null) {
            p = new Plan(key);
            plans.put(key, p);
            if (plans.size() > MAX_PLANS) {
                Iterator<Map.Entry<Key, Plan>> it = plans.entrySet().iterator();
                Plan old = it.next().getValue();
                it.remove();
                old.close();
            }
        }
        return p;
    }

    /** Device buffers of one Find run (temporaries freed afterwards). */
    private static final class Buffers {
        long a;
        long w;
        long out;
        private final List<Long> temps = new ArrayList<>();

        long temp(CudaContext ctx, long bytes, String what) {
            long t = ctx.temp(bytes, what);
            temps.add(t);
            return t;
        }

        void free(CudaContext ctx) {
            for (long t : temps) {
                ctx.free(t);
            }
            temps.clear();
        }
    }

    /** Makes the buffers of a pass in a given precision. */
    private interface BufferMaker {
        Buffers make(Precision p);
    }

    /** The passes of one input shape. */
    private final class Plan implements AutoCloseable {
        final Key key;
        final int oh;
        final int ow;
        final PassPlan[] passes = new PassPlan[3];

        Plan(Key key) {
            this.key = key;
            this.oh = spec.outH(key.h());
            this.ow = spec.outW(key.w());
        }

        /** The ready plan of a pass, finding its algorithm on first use. */
        PassPlan prepare(Pass pass, BufferMaker buffers) {
            PassPlan pp = passes[pass.ordinal()];
            if (pp != null) {
                return pp;
            }
            pp = find(pass, precision, buffers);
            if (pp == null && precision != Precision.F32) {
                LOG.info(
                        "{} on [{}, {}, {}]: cuDNN has no {} algorithm for {}; this pass runs in fp32",
                        spec,
                        key.n(),
                        key.h(),
                        key.w(),
                        precision,
                        pass);
                pp = find(pass, Precision.F32, buffers);
            }
            if (pp == null) {
                throw new ArunetException("cuDNN has no algorithm for " + pass + " of " + spec + " on NHWC input ["
                        + key.n() + ", " + key.h() + ", " + key.w() + ", " + spec.inChannels() + "] in fp32");
            }
            passes[pass.ordinal()] = pp;
            return pp;
        }

        /**
         * The pass in precision p with its algorithm found, or null when cuDNN has none for it. In a half
         * precision, a cuDNN error while describing or searching (a data type or layout this cuDNN does not
         * support in the legacy API) also means "none" (the caller falls back to fp32); in fp32 it throws.
         */
        private PassPlan find(Pass pass, Precision p, BufferMaker maker) {
            PassPlan pp = null;
            Buffers b = null;
            long ws = 0;
            long wsBytes = 0;
            try {
                pp = new PassPlan(this, pass, p);
                b = maker.make(p);
                wsBytes = findWorkspaceBytes();
                ws = wsBytes > 0 ? ctx.temp(wsBytes, "cudnnFind workspace") : 0;
                List<Perf> found = pp.findAll(b, ws, wsBytes);
                if (!pp.choose(found)) {
                    pp.close();
                    return null;
                }
                return pp;
            } catch (ArunetException e) {
                if (pp != null) {
                    pp.close();
                }
                if (p != Precision.F32
                        && e.getMessage() != null
                        && e.getMessage().contains("cudnn")) {
                    LOG.info(
                            "{} on [{}, {}, {}], {} in {}: {}",
                            spec,
                            key.n(),
                            key.h(),
                            key.w(),
                            pass,
                            p,
                            e.getMessage());
                    return null;
                }
                throw e;
            } catch (RuntimeException e) {
                if (pp != null) {
                    pp.close();
                }
                throw e;
            } finally {
                if (ws != 0) {
                    ctx.free(ws);
                }
                if (b != null) {
                    b.free(ctx);
                }
            }
        }

        @Override
        public void close() {
            for (int i = 0; i < passes.length; i++) {
                if (passes[i] != null) {
                    passes[i].close();
                    passes[i] = null;
                }
            }
        }
    }

    /** A workspace for cudnnFind: up to 1 GiB, at most half of what the device has free beyond 512 MiB. */
    private long findWorkspaceBytes() {
        long free;
        try (SizeTPointer f = new SizeTPointer(1);
                SizeTPointer t = new SizeTPointer(1)) {
            CudaCheck.runtime(org.bytedeco.cuda.global.cudart.cudaMemGetInfo(f, t), "cudaMemGetInfo");
            free = f.get() + ctx.pool.cached();
        }
        long bytes = Math.min(FIND_WORKSPACE, Math.max(0, free - (512L << 20)) / 2);
        return bytes < (1L << 20) ? 0 : DevicePool.sizeClass(bytes);
    }

    /** Descriptors and the chosen algorithm of one pass of one shape, in one precision. */
    private final class PassPlan implements AutoCloseable {
        final Plan plan;
        final Pass pass;
        final Precision precision;
        final cudnnTensorStruct xDesc = new cudnnTensorStruct();
        final cudnnTensorStruct yDesc = new cudnnTensorStruct();
        final cudnnFilterStruct wDesc = new cudnnFilterStruct();
        final cudnnConvolutionStruct convDesc = new cudnnConvolutionStruct();
        private final List<Perf> candidates = new ArrayList<>();
        Perf chosen;
        boolean verified;
        private boolean created;

        PassPlan(Plan plan, Pass pass, Precision precision) {
            this.plan = plan;
            this.pass = pass;
            this.precision = precision;
            int dtype =
                    switch (precision) {
                        case F32 -> cudnn.CUDNN_DATA_FLOAT;
                        case F16 -> cudnn.CUDNN_DATA_HALF;
                        case BF16 -> cudnn.CUDNN_DATA_BFLOAT16;
                    };
            String where = pass + " of " + spec + " (" + precision + ")";
            try {
                describe(dtype, where);
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /** Creates and sets the four descriptors; checks that cuDNN computes the output shape arunet expects. */
        private void describe(int dtype, String where) {
            CudaCheck.cudnn(cudnn.cudnnCreateTensorDescriptor(xDesc), "cudnnCreateTensorDescriptor, " + where);
            created = true;
            CudaCheck.cudnn(cudnn.cudnnCreateTensorDescriptor(yDesc), "cudnnCreateTensorDescriptor, " + where);
            CudaCheck.cudnn(cudnn.cudnnCreateFilterDescriptor(wDesc), "cudnnCreateFilterDescriptor, " + where);
            CudaCheck.cudnn(
                    cudnn.cudnnCreateConvolutionDescriptor(convDesc), "cudnnCreateConvolutionDescriptor, " + where);
            Key k = plan.key;
            CudaCheck.cudnn(
                    cudnn.cudnnSetTensor4dDescriptor(
                            xDesc, cudnn.CUDNN_TENSOR_NHWC, dtype, k.n(), spec.inChannels(), k.h(), k.w()),
                    "cudnnSetTensor4dDescriptor(x), " + where);
            CudaCheck.cudnn(
                    cudnn.cudnnSetTensor4dDescriptor(
                            yDesc, cudnn.CUDNN_TENSOR_NHWC, dtype, k.n(), spec.outChannels(), plan.oh, plan.ow),
                    "cudnnSetTensor4dDescriptor(y), " + where);
            CudaCheck.cudnn(
                    cudnn.cudnnSetFilter4dDescriptor(
                            wDesc,
                            dtype,
                            cudnn.CUDNN_TENSOR_NHWC,
                            spec.outChannels(),
                            inPerGroup,
                            spec.kernelH(),
                            spec.kernelW()),
                    "cudnnSetFilter4dDescriptor, " + where);
            CudaCheck.cudnn(
                    cudnn.cudnnSetConvolution2dDescriptor(
                            convDesc,
                            spec.padH(),
                            spec.padW(),
                            spec.strideH(),
                            spec.strideW(),
                            spec.dilationH(),
                            spec.dilationW(),
                            cudnn.CUDNN_CROSS_CORRELATION,
                            cudnn.CUDNN_DATA_FLOAT),
                    "cudnnSetConvolution2dDescriptor, " + where);
            CudaCheck.cudnn(
                    cudnn.cudnnSetConvolutionGroupCount(convDesc, spec.groups()),
                    "cudnnSetConvolutionGroupCount, " + where);
            CudaCheck.cudnn(
                    cudnn.cudnnSetConvolutionMathType(
                            convDesc,
                            precision == Precision.F32
                                    ? (tf32 ? cudnn.CUDNN_DEFAULT_MATH : cudnn.CUDNN_FMA_MATH)
                                    : cudnn.CUDNN_TENSOR_OP_MATH),
                    "cudnnSetConvolutionMathType, " + where);
            int[] n = new int[1];
            int[] c = new int[1];
            int[] h = new int[1];
            int[] w = new int[1];
            CudaCheck.cudnn(
                    cudnn.cudnnGetConvolution2dForwardOutputDim(convDesc, xDesc, wDesc, n, c, h, w),
                    "cudnnGetConvolution2dForwardOutputDim, " + where);
            if (n[0] != k.n() || c[0] != spec.outChannels() || h[0] != plan.oh || w[0] != plan.ow) {
                throw new ArunetException(where + ": cuDNN computes output [" + n[0] + ", " + h[0] + ", " + w[0] + ", "
                        + c[0] + "], arunet expects [" + k.n() + ", " + plan.oh + ", " + plan.ow + ", "
                        + spec.outChannels() + "]");
            }
        }

        String where() {
            Key k = plan.key;
            return pass + " of " + spec + " on [" + k.n() + ", " + k.h() + ", " + k.w() + "] (" + precision + ")";
        }

        /** Runs cudnnFind*Ex on the buffers; returns every result, fastest first. */
        List<Perf> findAll(Buffers b, long ws, long wsBytes) {
            List<Perf> out = new ArrayList<>();
            int[] returned = new int[1];
            switch (pass) {
                case FORWARD -> {
                    int count = cudnn.CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
                    try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(count)) {
                        CudaCheck.cudnn(
                                cudnn.cudnnFindConvolutionForwardAlgorithmEx(
                                        ctx.dnn,
                                        xDesc,
                                        px.at(b.a),
                                        wDesc,
                                        pw.at(b.w),
                                        convDesc,
                                        yDesc,
                                        py.at(b.out),
                                        count,
                                        returned,
                                        perf,
                                        pws.at(ws),
                                        wsBytes),
                                "cudnnFindConvolutionForwardAlgorithmEx, " + where());
                        for (int i = 0; i < returned[0]; i++) {
                            cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
                            out.add(new Perf(
                                    r.algo(), r.status(), r.time(), r.memory(), r.determinism(), r.mathType()));
                        }
                    }
                }
                case BACKWARD_DATA -> {
                    int count = cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
                    try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(count)) {
                        CudaCheck.cudnn(
                                cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx(
                                        ctx.dnn,
                                        wDesc,
                                        pw.at(b.w),
                                        yDesc,
                                        px.at(b.a),
                                        convDesc,
                                        xDesc,
                                        py.at(b.out),
                                        count,
                                        returned,
                                        perf,
                                        pws.at(ws),
                                        wsBytes),
                                "cudnnFindConvolutionBackwardDataAlgorithmEx, " + where());
                        for (int i = 0; i < returned[0]; i++) {
                            cudnnConvolutionBwdDataAlgoPerf_t r = perf.getPointer(i);
                            out.add(new Perf(
                                    r.algo(), r.status(), r.time(), r.memory(), r.determinism(), r.mathType()));
                        }
                    }
                }
                case BACKWARD_FILTER -> {
                    int count = cudnn.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
                    try (cudnnConvolutionBwdFilterAlgoPerf_t perf = new cudnnConvolutionBwdFilterAlgoPerf_t(count)) {
                        CudaCheck.cudnn(
                                cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx(
                                        ctx.dnn,
                                        xDesc,
                                        px.at(b.a),
                                        yDesc,
                                        pw.at(b.w),
                                        convDesc,
                                        wDesc,
                                        py.at(b.out),
                                        count,
                                        returned,
                                        perf,
                                        pws.at(ws),
                                        wsBytes),
                                "cudnnFindConvolutionBackwardFilterAlgorithmEx, " + where());
                        for (int i = 0; i < returned[0]; i++) {
                            cudnnConvolutionBwdFilterAlgoPerf_t r = perf.getPointer(i);
                            out.add(new Perf(
                                    r.algo(), r.status(), r.time(), r.memory(), r.determinism(), r.mathType()));
                        }
                    }
                }
            }
            return out;
        }

        /** Keeps the usable results (Note [algorithm choice]); false when there is none. */
        boolean choose(List<Perf> found) {
            List<Perf> deterministic = new ArrayList<>();
            List<Perf> any = new ArrayList<>();
            for (Perf r : found) {
                if (r.status() != cudnn.CUDNN_STATUS_SUCCESS || r.algo() < 0) {
                    continue;
                }
                if (precision == Precision.F32 && !tf32 && r.mathType() == cudnn.CUDNN_TENSOR_OP_MATH) {
                    continue; // TF32
                }
                if (precision == Precision.F32 && r.mathType() == cudnn.CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) {
                    continue; // float32 operands converted to half: never, not even in tf32 mode
                }
                any.add(r);
                if (r.determinism() == cudnn.CUDNN_DETERMINISTIC) {
                    deterministic.add(r);
                }
            }
            if (deterministic.isEmpty() && !any.isEmpty()) {
                LOG.warn(
                        "{}: cuDNN offers only non-deterministic algorithms; results may differ in the last bits"
                                + " between runs",
                        where());
            }
            candidates.addAll(deterministic.isEmpty() ? any : deterministic);
            if (candidates.isEmpty()) {
                LOG.debug("{}: no usable algorithm among {}", where(), found);
                return false;
            }
            use(candidates.remove(0));
            return true;
        }

        private void use(Perf r) {
            chosen = r;
            int math = precision == Precision.F32 && !tf32 ? cudnn.CUDNN_FMA_MATH : r.mathType();
            CudaCheck.cudnn(
                    cudnn.cudnnSetConvolutionMathType(convDesc, math), "cudnnSetConvolutionMathType, " + where());
        }

        /**
         * Runs the pass: forward (a = x, b = w, out = y), backward data (a = dy, b = w, out = dx), backward
         * filter (a = x, b = dy, out = dw). Until one run succeeded, a failing algorithm is replaced by the
         * next candidate.
         */
        void run(long a, long b, long out) {
            while (true) {
                long ws = ctx.workspace(chosen.memory());
                int s =
                        switch (pass) {
                            case FORWARD ->
                                cudnn.cudnnConvolutionForward(
                                        ctx.dnn,
                                        ctx.one,
                                        xDesc,
                                        px.at(a),
                                        wDesc,
                                        pw.at(b),
                                        convDesc,
                                        chosen.algo(),
                                        pws.at(ws),
                                        chosen.memory(),
                                        ctx.zero,
                                        yDesc,
                                        py.at(out));
                            case BACKWARD_DATA ->
                                cudnn.cudnnConvolutionBackwardData(
                                        ctx.dnn,
                                        ctx.one,
                                        wDesc,
                                        pw.at(b),
                                        yDesc,
                                        px.at(a),
                                        convDesc,
                                        chosen.algo(),
                                        pws.at(ws),
                                        chosen.memory(),
                                        ctx.zero,
                                        xDesc,
                                        py.at(out));
                            case BACKWARD_FILTER ->
                                cudnn.cudnnConvolutionBackwardFilter(
                                        ctx.dnn,
                                        ctx.one,
                                        xDesc,
                                        px.at(a),
                                        yDesc,
                                        pw.at(b),
                                        convDesc,
                                        chosen.algo(),
                                        pws.at(ws),
                                        chosen.memory(),
                                        ctx.zero,
                                        wDesc,
                                        py.at(out));
                        };
                if (s == cudnn.CUDNN_STATUS_SUCCESS) {
                    verified = true;
                    return;
                }
                if (verified || candidates.isEmpty()) {
                    CudaCheck.cudnn(s, "cuDNN " + pass + " with algorithm " + chosen.algo() + ", " + where());
                }
                LOG.info(
                        "{}: algorithm {} failed ({}); trying algorithm {}",
                        where(),
                        chosen.algo(),
                        CudaCheck.cudnnError(s),
                        candidates.get(0).algo());
                use(candidates.remove(0));
            }
        }

        String describe() {
            return String.format(
                    "%s %s algo %d (%s math, %.3f ms in find, workspace %s)",
                    pass,
                    precision,
                    chosen.algo(),
                    chosen.mathType() == cudnn.CUDNN_TENSOR_OP_MATH
                            ? "tensor-op"
                            : chosen.mathType() == cudnn.CUDNN_FMA_MATH ? "fma" : "default",
                    chosen.time(),
                    DevicePool.gib(chosen.memory()));
        }

        @Override
        public void close() {
            if (!created) {
                return;
            }
            created = false;
            cudnn.cudnnDestroyTensorDescriptor(xDesc);
            cudnn.cudnnDestroyTensorDescriptor(yDesc);
            cudnn.cudnnDestroyFilterDescriptor(wDesc);
            cudnn.cudnnDestroyConvolutionDescriptor(convDesc);
        }
    }

    // ------------------------------------------------------------------ diagnostics

    /** The algorithms chosen so far, one line per shape and pass (benchmark logs). */
    String algorithms() {
        StringBuilder s = new StringBuilder();
        for (Plan p : plans.values()) {
            for (PassPlan pp : p.passes) {
                if (pp != null) {
                    s.append(spec)
                            .append(" [")
                            .append(p.key.n())
                            .append(", ")
                            .append(p.key.h())
                            .append(", ")
                            .append(p.key.w())
                            .append("] ")
                            .append(pp.describe())
                            .append('\n');
                }
            }
        }
        return s.toString();
    }

    /** How many times the OIHW weights were reordered (or cast) for cuDNN so far. */
    long weightReorders() {
        return weightReorders;
    }

    /** Frees the descriptors and the weight copies. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        backend.forget(this);
        if (ctx.isClosed()) {
            return;
        }
        ctx.enter();
        for (Plan p : plans.values()) {
            p.close();
        }
        plans.clear();
        for (int i = 0; i < weightCopies.length; i++) {
            if (weightCopies[i] != null) {
                ctx.free(weightCopies[i].address);
                weightCopies[i] = null;
            }
        }
    }

    @Override
    public String toString() {
        return "CudaConv2dOp" + spec + (closed ? " (closed)" : "");
    }
}

// cuda/pool.cu — pooling, resampling and channel concatenation on NHWC tensors, the CUDA twins of
// cpu/pool.h and cpu/resample.h.
//
// Contents:
//   k_maxpool_fwd                     F.max_pool2d(x, k, s, p), floor mode, padding counts as -inf
//   k_maxpool_argmax, k_maxpool_bwd   backward in two gathers, no atomics: the first pass stores, per
//                                     output, the input pixel (ih W + iw) of the FIRST maximum of its
//                                     window in row-major window order (PyTorch's `v > max || isnan(v)`
//                                     scan); the second pass gives every input element the sum of the dy
//                                     of the windows that chose it (oh, then ow ascending)
//   k_upsample_fwd, k_upsample_bwd    nearest-neighbour 2x upsampling and its adjoint
//   k_concat, k_split                 out = [a, b] over channels, and its inverse
//   k_upsample_fwd4, k_upsample_bwd4, k_concat4, k_split4
//                                     float4 twins, Note [vectorized kernels]
//   k_upsample_cvt, k_concat_cvt, k_upsample_cvt4, k_concat_cvt4
//                                     k_upsample_fwd and k_concat writing F32, F16 or BF16 (dtype code): a
//                                     convolution's input made and cast in one pass (the inference path)
//   k_chanmaxmean_fwd / _bwd          per pixel max and mean over C (one warp per pixel); the max
//                                     gradient is split evenly among tied maxima
//   k_gpool_partial, k_gpool_final    global max and mean over H W per (n, c) in one pass, Note [column
//                                     reductions] with S = N segments of HW rows
//   k_gpool_ties_partial, k_gpool_coef, k_gpool_bwd
//                                     global pooling's backward: tie counts, then dx
//
// Every output is overwritten.
#include "common.cuh"

// ----------------------------------------------------------------------------------------------------
// max pooling

/** One thread per output element (n, oh, ow, c), c fastest. */
ARUNET_KERNEL void k_maxpool_fwd(float* y, const float* x, i64 N, i64 H, i64 W, i64 C, i64 OH, i64 OW, int k,
                                 int s, int p) {
    DIV_LOOP(i, N * OH * OW * C, pc, C) {
        i64 noh, ow, n, oh;
        divmod(pc.q, OW, noh, ow);  // pc.q = (n OH + oh) OW + ow
        divmod(noh, OH, n, oh);
        const i64 h0 = imax(oh * s - p, 0), h1 = imin(oh * s - p + k, H);
        const i64 w0 = imax(ow * s - p, 0), w1 = imin(ow * s - p + k, W);
        const float* xn = x + n * H * W * C + pc.r;
        float best = __int_as_float(0xff800000);  // -inf
        for (i64 ih = h0; ih < h1; ih++) {
            for (i64 iw = w0; iw < w1; iw++) {
                const float v = xn[(ih * W + iw) * C];
                if (replaces(v, best)) best = v;
            }
        }
        y[i] = best;
    }
}

/** arg[n, oh, ow, c] = ih W + iw of the first maximum of the window (windows always hold a pixel). */
ARUNET_KERNEL void k_maxpool_argmax(int* arg, const float* x, i64 N, i64 H, i64 W, i64 C, i64 OH, i64 OW, int k,
                                    int s, int p) {
    DIV_LOOP(i, N * OH * OW * C, pc, C) {
        i64 noh, ow, n, oh;
        divmod(pc.q, OW, noh, ow);  // pc.q = (n OH + oh) OW + ow
        divmod(noh, OH, n, oh);
        const i64 h0 = imax(oh * s - p, 0), h1 = imin(oh * s - p + k, H);
        const i64 w0 = imax(ow * s - p, 0), w1 = imin(ow * s - p + k, W);
        const float* xn = x + n * H * W * C + pc.r;
        float best = __int_as_float(0xff800000);
        i64 where = h0 * W + w0;
        for (i64 ih = h0; ih < h1; ih++) {
            for (i64 iw = w0; iw < w1; iw++) {
                const float v = xn[(ih * W + iw) * C];
                if (replaces(v, best)) {
                    best = v;
                    where = ih * W + iw;
                }
            }
        }
        arg[i] = (int)where;
    }
}

/**
 * One thread per input element (n, ih, iw, c): dx = sum of dy[n, oh, ow, c] over the windows that
 * cover (ih, iw) and chose it; oh in [ceil((ih + p - k + 1) / s), floor((ih + p) / s)] within [0, OH).
 */
ARUNET_KERNEL void k_maxpool_bwd(float* dx, const float* dy, const int* arg, i64 N, i64 H, i64 W, i64 C, i64 OH,
                                 i64 OW, int k, int s, int p) {
    DIV_LOOP(i, N * H * W * C, pc, C) {
        i64 nih, iw, n, ih;
        divmod(pc.q, W, nih, iw);  // pc.q = (n H + ih) W + iw
        divmod(nih, H, n, ih);
        const int me = (int)(ih * W + iw);
        // oh s - p <= ih <= oh s - p + k - 1  <=>  (ih + p - k + 1) / s <= oh <= (ih + p) / s
        const i64 lo_h = ih + p - k + 1, lo_w = iw + p - k + 1;
        const i64 oh0 = imax(lo_h <= 0 ? 0 : (lo_h + s - 1) / s, 0);
        const i64 oh1 = imin((ih + p) / s, OH - 1);
        const i64 ow0 = imax(lo_w <= 0 ? 0 : (lo_w + s - 1) / s, 0);
        const i64 ow1 = imin((iw + p) / s, OW - 1);
        float g = 0.f;
        for (i64 oh = oh0; oh <= oh1; oh++) {
            for (i64 ow = ow0; ow <= ow1; ow++) {
                const i64 o = ((n * OH + oh) * OW + ow) * C + pc.r;
                if (arg[o] == me) g += dy[o];
            }
        }
        dx[i] = g;
    }
}

// ----------------------------------------------------------------------------------------------------
// upsampling, concatenation

/** y[n, 2h + a, 2w + b, c] = x[n, h, w, c]; one thread per output element. */
ARUNET_KERNEL void k_upsample_fwd(float* y, const float* x, i64 N, i64 H, i64 W, i64 C) {
    const i64 OW = 2 * W;
    DIV_LOOP(i, N * 4 * H * W * C, pc, C) {
        i64 noh, ow, n, oh;
        divmod(pc.q, OW, noh, ow);  // pc.q = (n 2H + oh) 2W + ow
        divmod(noh, 2 * H, n, oh);
        y[i] = x[((n * H + oh / 2) * W + ow / 2) * C + pc.r];
    }
}

/** dx[n, h, w, c] = ((dy[2h, 2w] + dy[2h, 2w + 1]) + dy[2h + 1, 2w]) + dy[2h + 1, 2w + 1] (cpu order). */
ARUNET_KERNEL void k_upsample_bwd(float* dx, const float* dy, i64 N, i64 H, i64 W, i64 C) {
    const i64 OW = 2 * W;
    DIV_LOOP(i, N * H * W * C, pc, C) {
        i64 nh, w;
        divmod(pc.q, W, nh, w);  // pc.q = (n H + h) W + w; output rows 2 nh and 2 nh + 1 (2H rows per image)
        const float* g0 = dy + ((2 * nh) * OW + 2 * w) * C + pc.r;
        const float* g1 = g0 + OW * C;
        dx[i] = ((g0[0] + g0[C]) + g1[0]) + g1[C];
    }
}

/** out[p, :] = [a[p, :Ca], b[p, :Cb]]; one thread per output element. */
ARUNET_KERNEL void k_concat(float* out, const float* a, const float* b, i64 P, i64 Ca, i64 Cb) {
    const i64 C = Ca + Cb;
    DIV_LOOP(i, P * C, pc, C) {
        out[i] = pc.r < Ca ? a[pc.q * Ca + pc.r] : b[pc.q * Cb + (pc.r - Ca)];
    }
}

/** da = dout[:, :Ca], db = dout[:, Ca:]; one thread per dout element. */
ARUNET_KERNEL void k_split(float* da, float* db, const float* dout, i64 P, i64 Ca, i64 Cb) {
    const i64 C = Ca + Cb;
    DIV_LOOP(i, P * C, pc, C) {
        if (pc.r < Ca) {
            da[pc.q * Ca + pc.r] = dout[i];
        } else {
            db[pc.q * Cb + (pc.r - Ca)] = dout[i];
        }
    }
}

/** k_upsample_fwd over float4 vectors, C4 = C / 4 per pixel. */
ARUNET_KERNEL void k_upsample_fwd4(float4* y, const float4* x, i64 N, i64 H, i64 W, i64 C4) {
    const i64 OW = 2 * W;
    DIV_LOOP(i, N * 4 * H * W * C4, pc, C4) {
        i64 noh, ow, n, oh;
        divmod(pc.q, OW, noh, ow);
        divmod(noh, 2 * H, n, oh);
        y[i] = x[((n * H + oh / 2) * W + ow / 2) * C4 + pc.r];
    }
}

/** k_upsample_bwd over float4 vectors (the same order of additions per element). */
ARUNET_KERNEL void k_upsample_bwd4(float4* dx, const float4* dy, i64 N, i64 H, i64 W, i64 C4) {
    const i64 OW = 2 * W;
    DIV_LOOP(i, N * H * W * C4, pc, C4) {
        i64 nh, w;
        divmod(pc.q, W, nh, w);
        const float4* g0 = dy + ((2 * nh) * OW + 2 * w) * C4 + pc.r;
        const float4* g1 = g0 + OW * C4;
        const float4 a = g0[0], b = g0[C4], c = g1[0], d = g1[C4];
        dx[i] = float4{((a.x + b.x) + c.x) + d.x, ((a.y + b.y) + c.y) + d.y, ((a.z + b.z) + c.z) + d.z,
                       ((a.w + b.w) + c.w) + d.w};
    }
}

/** k_concat over float4 vectors: Ca4 = Ca / 4, Cb4 = Cb / 4. */
ARUNET_KERNEL void k_concat4(float4* out, const float4* a, const float4* b, i64 P, i64 Ca4, i64 Cb4) {
    const i64 C4 = Ca4 + Cb4;
    DIV_LOOP(i, P * C4, pc, C4) {
        out[i] = pc.r < Ca4 ? a[pc.q * Ca4 + pc.r] : b[pc.q * Cb4 + (pc.r - Ca4)];
    }
}

/** k_split over float4 vectors. */
ARUNET_KERNEL void k_split4(float4* da, float4* db, const float4* dout, i64 P, i64 Ca4, i64 Cb4) {
    const i64 C4 = Ca4 + Cb4;
    DIV_LOOP(i, P * C4, pc, C4) {
        if (pc.r < Ca4) {
            da[pc.q * Ca4 + pc.r] = dout[i];
        } else {
            db[pc.q * Cb4 + (pc.r - Ca4)] = dout[i];
        }
    }
}

// ----------------------------------------------------------------------------------------------------
// per-pixel max / mean over channels (one warp per pixel; blockDim a multiple of 32)

/** out[p, 0] = max_c x[p, c], out[p, 1] = mean_c x[p, c] (sum in double). */
ARUNET_KERNEL void k_chanmaxmean_fwd(float* out, const float* x, i64 P, i64 C) {
    const i64 warps = ((i64)gridDim.x * blockDim.x) / 32;
    const int lane = threadIdx.x % 32;
    for (i64 p = ((i64)blockIdx.x * blockDim.x + threadIdx.x) / 32; p < P; p += warps) {
        const float* xp = x + p * C;
        float m = __int_as_float(0xff800000);
        double s = 0.0;
        for (i64 c = lane; c < C; c += 32) {
            const float v = xp[c];
            if (replaces(v, m)) m = v;
            s += double(v);
        }
        m = warp_max(m);
        s = warp_sum(s);
        if (lane == 0) {
            out[2 * p] = m;
            out[2 * p + 1] = float(s / double(C));
        }
    }
}

/** dx[p, c] = [x == max] dout[p, 0] / count + dout[p, 1] / C. */
ARUNET_KERNEL void k_chanmaxmean_bwd(float* dx, const float* x, const float* out, const float* dout, i64 P, i64 C) {
    const i64 warps = ((i64)gridDim.x * blockDim.x) / 32;
    const int lane = threadIdx.x % 32;
    for (i64 p = ((i64)blockIdx.x * blockDim.x + threadIdx.x) / 32; p < P; p += warps) {
        const float* xp = x + p * C;
        float* d = dx + p * C;
        const float m = out[2 * p];
        int count = 0;
        for (i64 c = lane; c < C; c += 32) count += ties(xp[c], m) ? 1 : 0;
        count = warp_sum_int(count);
        const float gmax = count > 0 ? dout[2 * p] / float(count) : 0.f;
        const float gmean = float(double(dout[2 * p + 1]) / double(C));
        for (i64 c = lane; c < C; c += 32) d[c] = (ties(xp[c], m) ? gmax : 0.f) + gmean;
    }
}

// ----------------------------------------------------------------------------------------------------
// global max / mean over H W per (n, c), Note [column reductions] with S = N, R = HW

ARUNET_KERNEL void k_gpool_partial(SumMax* partial, const float* x, i64 N, i64 HW, i64 C, i64 rows_per_chunk) {
    column_partials<SumMax>(partial, N, HW, C, rows_per_chunk, [&](SumMax& acc, i64 off, i64, i64, i64) {
        const float v = x[off];
        acc.s += double(v);
        if (replaces(v, acc.m)) acc.m = v;
    });
}

/** max[n, c], avg[n, c] from the chunk partials; either output may be null. One thread per (n, c). */
ARUNET_KERNEL void k_gpool_final(float* max, float* avg, const SumMax* partial, i64 N, i64 C, i64 HW, i64 chunks) {
    GRID_STRIDE(j, N * C) {
        const SumMax t = column_total(partial, N * C, chunks, j);
        if (max != nullptr) max[j] = t.m;
        if (avg != nullptr) avg[j] = float(t.s / double(HW));
    }
}

/** Tie counts of the global max: number of q with x[n, q, c] tied to max[n, c]. */
ARUNET_KERNEL void k_gpool_ties_partial(Sum1* partial, const float* x, const float* max, i64 N, i64 HW, i64 C,
                                        i64 rows_per_chunk) {
    column_partials<Sum1>(partial, N, HW, C, rows_per_chunk, [&](Sum1& acc, i64 off, i64 c, i64 s, i64) {
        acc.a += ties(x[off], max[s * C + c]) ? 1.0 : 0.0;
    });
}

/**
 * gmax[n, c] = dmax / count (0 when nothing ties) when dmax is given (ties partials then given),
 * gavg[n, c] = davg / HW (0 when davg is null). One thread per (n, c).
 */
ARUNET_KERNEL void k_gpool_coef(float* gmax, float* gavg, const Sum1* ties_partial, const float* dmax,
                                const float* davg, i64 N, i64 C, i64 HW, i64 chunks) {
    GRID_STRIDE(j, N * C) {
        if (dmax != nullptr) {
            const double count = column_total(ties_partial, N * C, chunks, j).a;
            gmax[j] = count > 0.0 ? dmax[j] / float(count) : 0.f;
        } else {
            gmax[j] = 0.f;
        }
        gavg[j] = davg != nullptr ? float(double(davg[j]) / double(HW)) : 0.f;
    }
}

/** dx[n, q, c] = [x tied to max] gmax[n, c] + gavg[n, c]; max may be null when with_max is 0. */
ARUNET_KERNEL void k_gpool_bwd(float* dx, const float* x, const float* max, const float* gmax, const float* gavg,
                               i64 N, i64 HW, i64 C, int with_max) {
    const i64 per_image = HW * C;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    DivCursor image(i, stride, per_image);
    DivCursor channel(i, stride, C);
    for (; i < N * per_image; i += stride, image.advance(), channel.advance()) {
        const i64 j = image.q * C + channel.r;
        dx[i] = (with_max && ties(x[i], max[j]) ? gmax[j] : 0.f) + gavg[j];
    }
}

// ----------------------------------------------------------------------------------------------------
// upsampling and concatenation into a convolution's input, in the convolution's precision

/** k_upsample_fwd writing dtype `dtype` (kF32, kF16, kBF16). */
ARUNET_KERNEL void k_upsample_cvt(void* y, const float* x, i64 N, i64 H, i64 W, i64 C, int dtype) {
    const i64 OW = 2 * W;
    DIV_LOOP(i, N * 4 * H * W * C, pc, C) {
        i64 noh, ow, n, oh;
        divmod(pc.q, OW, noh, ow);
        divmod(noh, 2 * H, n, oh);
        store_as(y, dtype, i, x[((n * H + oh / 2) * W + ow / 2) * C + pc.r]);
    }
}

ARUNET_KERNEL void k_upsample_cvt4(void* y, const float4* x, i64 N, i64 H, i64 W, i64 C4, int dtype) {
    const i64 OW = 2 * W;
    DIV_LOOP(i, N * 4 * H * W * C4, pc, C4) {
        i64 noh, ow, n, oh;
        divmod(pc.q, OW, noh, ow);
        divmod(noh, 2 * H, n, oh);
        store4_as(y, dtype, i, x[((n * H + oh / 2) * W + ow / 2) * C4 + pc.r]);
    }
}

/** k_concat writing dtype `dtype`. */
ARUNET_KERNEL void k_concat_cvt(void* out, const float* a, const float* b, i64 P, i64 Ca, i64 Cb, int dtype) {
    const i64 C = Ca + Cb;
    DIV_LOOP(i, P * C, pc, C) {
        store_as(out, dtype, i, pc.r < Ca ? a[pc.q * Ca + pc.r] : b[pc.q * Cb + (pc.r - Ca)]);
    }
}

ARUNET_KERNEL void k_concat_cvt4(void* out, const float4* a, const float4* b, i64 P, i64 Ca4, i64 Cb4, int dtype) {
    const i64 C4 = Ca4 + Cb4;
    DIV_LOOP(i, P * C4, pc, C4) {
        store4_as(out, dtype, i, pc.r < Ca4 ? a[pc.q * Ca4 + pc.r] : b[pc.q * Cb4 + (pc.r - Ca4)]);
    }
}

// cuda/batchnorm.cu — 2-D batch normalisation over NHWC activations viewed as (M, C), M = N H W, with
// an optional fused ReLU: the CUDA twin of cpu/batchnorm.h, same numerics.
//
// Contents (each a pass of one op; the Java side launches them in this order):
//   forward, training   k_bn_stats_partial -> k_bn_train_finalize -> k_bn_apply
//   forward, inference  k_bn_eval_coef -> k_bn_apply
//   backward            k_bn_bwd_partial -> k_bn_bwd_finalize -> k_bn_bwd_apply
//   (k_bn_apply4 and k_bn_bwd_apply4: the float4 twins of the apply passes, Note [vectorized kernels])
//
// Statistics: Note [column reductions] of the shifted values d = x - x[0, c] (the first row; the shift
// removes the cancellation of E[x^2] - E[x]^2 when |mean| >> std) and of d^2, in double; the finalize
// kernels combine the chunks in order (Note [determinism]) and compute, per channel and in double,
// exactly what cpu/batchnorm.h computes: save_mean, save_invstd, the running statistics (running_var
// from the unbiased variance, momentum), and the coefficients of the apply pass, kept in a [3, C] float
// scratch row set `coef`.
// Apply: y = act(((x - mean_hi) - mean_lo) a + beta), mean = mean_hi + mean_lo split into two floats
// (cpu/batchnorm.h, Note [normalising without cancellation]); inference uses mean_hi = running_mean,
// mean_lo = 0.
// Backward, with g = dy masked by y > 0 when ReLU was fused: dbeta = sum g, dgamma = invstd sum g (x - mean),
// dx = (g - dbeta / M - (x - mean) invstd^2 sum g (x - mean) / M) gamma invstd.
//
// Outputs y, save_*, dx, dgamma, dbeta are overwritten; running_mean and running_var are updated in place.
#include "common.cuh"

// ----------------------------------------------------------------------------------------------------
// forward

/** Pass 1 of the training forward: per (chunk, c) sums of d = x - x[0, c] and d^2. */
ARUNET_KERNEL void k_bn_stats_partial(Sum2* partial, const float* x, i64 M, i64 C, i64 rows_per_chunk) {
    column_partials<Sum2>(partial, 1, M, C, rows_per_chunk, [&](Sum2& acc, i64 off, i64 c, i64, i64) {
        const double d = double(x[off]) - double(x[c]);
        acc.a += d;
        acc.b += d * d;
    });
}

/**
 * Per channel (one thread each): batch mean and biased variance from the partial sums, save_mean,
 * save_invstd, running statistics, and coef = [a = gamma invstd, mean_hi, mean_lo].
 */
ARUNET_KERNEL void k_bn_train_finalize(float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                                       float* coef, const float* x, const float* gamma, const Sum2* partial,
                                       i64 chunks, i64 M, i64 C, float momentum, float eps) {
    GRID_STRIDE(c, C) {
        const Sum2 t = column_total(partial, C, chunks, c);
        const double m = double(M);
        const double dmean = t.a / m;
        const double mean = double(x[c]) + dmean;
        const double var = fmax(t.b / m - dmean * dmean, 0.0);
        const double invstd = 1.0 / sqrt(var + double(eps));
        save_mean[c] = float(mean);
        save_invstd[c] = float(invstd);
        running_mean[c] = float((1.0 - momentum) * running_mean[c] + double(momentum) * mean);
        running_var[c] = float((1.0 - momentum) * running_var[c] + double(momentum) * var * m / (m - 1.0));
        const float hi = float(mean);
        coef[c] = float(double(gamma[c]) * invstd);
        coef[C + c] = hi;
        coef[2 * C + c] = float(mean - double(hi));
    }
}

/** Inference coefficients: a = gamma / sqrt(running_var + eps) (in double), mean_hi = running_mean, mean_lo = 0. */
ARUNET_KERNEL void k_bn_eval_coef(float* coef, const float* gamma, const float* running_mean,
                                  const float* running_var, i64 C, float eps) {
    GRID_STRIDE(c, C) {
        coef[c] = float(double(gamma[c]) / sqrt(double(running_var[c]) + double(eps)));
        coef[C + c] = running_mean[c];
        coef[2 * C + c] = 0.f;
    }
}

/** y = act(((x - mean_hi) - mean_lo) a + beta); one thread per element. */
ARUNET_KERNEL void k_bn_apply(float* y, const float* x, const float* coef, const float* beta, i64 M, i64 C,
                              int relu) {
    DIV_LOOP(i, M * C, pc, C) {
        const i64 c = pc.r;
        const float v = ((x[i] - coef[C + c]) - coef[2 * C + c]) * coef[c] + beta[c];
        y[i] = relu ? relu_keep_nan(v) : v;
    }
}

/** k_bn_apply over float4 vectors: C4 = C / 4 vectors per row; coef rows are read as float4 too. */
ARUNET_KERNEL void k_bn_apply4(float4* y, const float4* x, const float* coef, const float4* beta, i64 M, i64 C4,
                               int relu) {
    const float4* a = reinterpret_cast<const float4*>(coef);
    const float4* hi = a + C4;
    const float4* lo = a + 2 * C4;
    DIV_LOOP(i, M * C4, pc, C4) {
        const i64 c = pc.r;
        const float4 v = x[i], av = a[c], h = hi[c], l = lo[c], b = beta[c];
        float4 o{((v.x - h.x) - l.x) * av.x + b.x, ((v.y - h.y) - l.y) * av.y + b.y,
                 ((v.z - h.z) - l.z) * av.z + b.z, ((v.w - h.w) - l.w) * av.w + b.w};
        if (relu) {
            o = float4{relu_keep_nan(o.x), relu_keep_nan(o.y), relu_keep_nan(o.z), relu_keep_nan(o.w)};
        }
        y[i] = o;
    }
}

// ----------------------------------------------------------------------------------------------------
// backward

/** Pass 1 of the backward: per (chunk, c) sums of g and g (x - mean), g = dy (masked by y > 0 with ReLU). */
ARUNET_KERNEL void k_bn_bwd_partial(Sum2* partial, const float* dy, const float* x, const float* y,
                                    const float* save_mean, i64 M, i64 C, i64 rows_per_chunk, int relu) {
    column_partials<Sum2>(partial, 1, M, C, rows_per_chunk, [&](Sum2& acc, i64 off, i64 c, i64, i64) {
        const double g = (relu && !(y[off] > 0.f)) ? 0.0 : double(dy[off]);
        acc.a += g;
        acc.b += g * (double(x[off]) - double(save_mean[c]));
    });
}

/** dbeta, dgamma and coef = [a = gamma invstd, gm = sum g / M, k = invstd^2 sum g (x - mean) / M]. */
ARUNET_KERNEL void k_bn_bwd_finalize(float* dgamma, float* dbeta, float* coef, const float* gamma,
                                     const float* save_invstd, const Sum2* partial, i64 chunks, i64 M, i64 C) {
    GRID_STRIDE(c, C) {
        const Sum2 t = column_total(partial, C, chunks, c);
        const double invstd = save_invstd[c];
        const double m = double(M);
        dbeta[c] = float(t.a);
        dgamma[c] = float(t.b * invstd);
        coef[c] = float(double(gamma[c]) * invstd);
        coef[C + c] = float(t.a / m);
        coef[2 * C + c] = float(t.b * invstd * invstd / m);
    }
}

/** dx = (g - gm - (x - mean) k) a; one thread per element. */
ARUNET_KERNEL void k_bn_bwd_apply(float* dx, const float* dy, const float* x, const float* y, const float* save_mean,
                                  const float* coef, i64 M, i64 C, int relu) {
    DIV_LOOP(i, M * C, pc, C) {
        const i64 c = pc.r;
        const float g = (relu && !(y[i] > 0.f)) ? 0.f : dy[i];
        dx[i] = (g - coef[C + c] - (x[i] - save_mean[c]) * coef[2 * C + c]) * coef[c];
    }
}

/** The g of the backward for one element: dy masked by y > 0 when ReLU was fused. */
__device__ __forceinline__ float bn_g(float dy, float y, int relu) { return (relu && !(y > 0.f)) ? 0.f : dy; }

/** k_bn_bwd_apply over float4 vectors (y may be null unless relu). */
ARUNET_KERNEL void k_bn_bwd_apply4(float4* dx, const float4* dy, const float4* x, const float4* y,
                                   const float4* save_mean, const float* coef, i64 M, i64 C4, int relu) {
    const float4* a = reinterpret_cast<const float4*>(coef);
    const float4* gm = a + C4;
    const float4* k = a + 2 * C4;
    DIV_LOOP(i, M * C4, pc, C4) {
        const i64 c = pc.r;
        const float4 g0 = dy[i], xv = x[i], m = save_mean[c], av = a[c], gv = gm[c], kv = k[c];
        const float4 yv = relu ? y[i] : float4{1.f, 1.f, 1.f, 1.f};
        const float4 g{bn_g(g0.x, yv.x, relu), bn_g(g0.y, yv.y, relu), bn_g(g0.z, yv.z, relu), bn_g(g0.w, yv.w, relu)};
        dx[i] = float4{(g.x - gv.x - (xv.x - m.x) * kv.x) * av.x, (g.y - gv.y - (xv.y - m.y) * kv.y) * av.y,
                       (g.z - gv.z - (xv.z - m.z) * kv.z) * av.z, (g.w - gv.w - (xv.w - m.w) * kv.w) * av.w};
    }
}

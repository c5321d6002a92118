// cuda/loss.cu — softmax over channels and the segmentation losses' device passes, NHWC logits viewed as
// (P, K), P = N H W pixels, K classes: the CUDA twin of cpu/loss.h (Note [loss gradient] there).
//
// Contents:
//   k_softmax        probs = softmax(logits) per pixel (max-subtracted, float, as cpu/loss.h)
//   k_softmax_ce     probs, and per pixel ce = logsumexp(z) - z[target] (double); a target outside
//                    [0, K) is recorded in *bad as the smallest such pixel index (an integer atomicMin:
//                    deterministic) and contributes nothing
//   k_loss_partial   Note [column reductions] over the K columns of probs: per (chunk, k) the sums
//                    of p, p t, t (t = one-hot target) and, in column 0, of ce
//   k_loss_final     the class sums in order: out = [CE sum, I[K], P[K], T[K]]
//   k_loss_grad      dlogits (holding p) <- ce_scale (p - t) + p (g - sum_k g_k p_k), g = c0 + c1 t
//
// The loss value and the coefficients c0, c1 are computed on the host from `out`, in double, with the
// formulas of cpu/loss.h (org.arunet.backend.cuda.CudaBackend), then c0, c1 are uploaded for the last pass.
#include "common.cuh"

/** Softmax of one pixel's K logits into p; returns logsumexp(z) (float arithmetic as cpu/loss.h). */
__device__ __forceinline__ float softmax_pixel(float* p, const float* z, i64 K) {
    float m = __int_as_float(0xff800000);
    for (i64 k = 0; k < K; k++) m = (z[k] > m || z[k] != z[k]) ? z[k] : m;
    float s = 0.f;
    for (i64 k = 0; k < K; k++) {
        p[k] = expf(z[k] - m);
        s += p[k];
    }
    const float inv = 1.f / s;
    for (i64 k = 0; k < K; k++) p[k] *= inv;
    return m + logf(s);
}

ARUNET_KERNEL void k_softmax(float* probs, const float* logits, i64 P, i64 K) {
    GRID_STRIDE(p, P) softmax_pixel(probs + p * K, logits + p * K, K);
}

ARUNET_KERNEL void k_softmax_ce(float* probs, double* ce, unsigned long long* bad, const float* logits,
                                const int* target, i64 P, i64 K) {
    GRID_STRIDE(p, P) {
        const float* z = logits + p * K;
        const float lse = softmax_pixel(probs + p * K, z, K);
        const int t = target[p];
        if (t < 0 || (i64)t >= K) {
            atomicMin(bad, (unsigned long long)p);
            ce[p] = 0.0;
        } else {
            ce[p] = double(lse - z[t]);
        }
    }
}

/** Per (chunk, k): sums of p, p [t == k], [t == k], and in column 0 the CE sum. Invalid targets count as no class. */
ARUNET_KERNEL void k_loss_partial(Sum4* partial, const float* probs, const int* target, const double* ce, i64 P,
                                  i64 K, i64 rows_per_chunk) {
    column_partials<Sum4>(partial, 1, P, K, rows_per_chunk, [&](Sum4& acc, i64 off, i64 k, i64, i64 r) {
        const double p = probs[off];
        const bool hit = (i64)target[r] == k;
        acc.p += p;
        acc.pt += hit ? p : 0.0;
        acc.t += hit ? 1.0 : 0.0;
        if (k == 0) acc.ce += ce[r];
    });
}

/** out[0] = CE sum; out[1 + k] = I_k; out[1 + K + k] = P_k; out[1 + 2K + k] = T_k. One thread per class. */
ARUNET_KERNEL void k_loss_final(double* out, const Sum4* partial, i64 chunks, i64 K) {
    GRID_STRIDE(k, K) {
        const Sum4 t = column_total(partial, K, chunks, k);
        if (k == 0) out[0] = t.ce;
        out[1 + k] = t.pt;
        out[1 + K + k] = t.p;
        out[1 + 2 * K + k] = t.t;
    }
}

/** dlogits holds p; overwritten with ce_scale (p - t) + p (g - sum_k g_k p_k), g_k = c0_k + c1_k t_k. */
ARUNET_KERNEL void k_loss_grad(float* dlogits, const int* target, const double* c0, const double* c1, i64 P, i64 K,
                               double ce_scale) {
    GRID_STRIDE(p, P) {
        float* pr = dlogits + p * K;
        const i64 tk = target[p];
        double gp = 0.0;
        for (i64 k = 0; k < K; k++) gp += (c0[k] + (k == tk ? c1[k] : 0.0)) * double(pr[k]);
        for (i64 k = 0; k < K; k++) {
            const double pk = pr[k];
            const double t = k == tk ? 1.0 : 0.0;
            pr[k] = float(ce_scale * (pk - t) + pk * (c0[k] + c1[k] * t - gp));
        }
    }
}

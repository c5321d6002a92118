// cpu/loss.h — softmax over channels and the fused cross-entropy + Dice loss of ARU-Net
// (the reference's aru_net.loss), NHWC logits viewed as (P, K), P = N H W pixels.
//
// Contents:
//   softmax_forward            probs = softmax(logits) per pixel (max-subtracted, float as PyTorch)
//   find_invalid_target        index of the first target outside [0, K), or -1 (validation)
//   cross_entropy_dice         loss = ce_w CE + dice_w (1 - mean_k D_k) and, when dlogits is given,
//                              d loss / d logits (overwritten).
//
// Note [loss gradient]: with p = softmax(z), t = one-hot(target), M = P pixels,
//   CE  = (1/M) sum_p (logsumexp(z_p) - z_{p,target}),   dCE/dz_pj = (p_pj - t_pj) / M;
//   D_k = (2 I_k + s) / den_k, den_k = P_k + T_k + s, with I_k = sum_p p_pk t_pk, P_k = sum_p p_pk,
//   T_k = sum_p t_pk pooled over the batch;
//   d(dice_w (1 - mean_k D_k)) / dp_pk = g_pk = (dice_w / K) (D_k - 2 t_pk) / den_k,
//   and through the softmax Jacobian dz_pj = p_pj (g_pj - sum_k g_pk p_pk).
// Pass 1 computes p (kept in dlogits), the CE sum and I, P, T with per-thread double partials
// combined in thread order; pass 2 turns p into the gradient in place.
#pragma once

#include <cmath>
#include <limits>

#include "cpu/common.h"

namespace arunet {
namespace cpu {

/** Softmax of one pixel's K logits into p; returns log(sum exp(z - max)) + max = logsumexp(z). */
inline float softmax_pixel(float* p, const float* z, std::int64_t K) {
    float m = -std::numeric_limits<float>::infinity();
    for (std::int64_t k = 0; k < K; k++) m = (z[k] > m || z[k] != z[k]) ? z[k] : m;
    float s = 0.f;
    for (std::int64_t k = 0; k < K; k++) {
        p[k] = std::exp(z[k] - m);
        s += p[k];
    }
    const float inv = 1.f / s;
    for (std::int64_t k = 0; k < K; k++) p[k] *= inv;
    return m + std::log(s);
}

inline void softmax_forward(float* probs,         // (P, K)
                            const float* logits,  // (P, K)
                            std::int64_t P, std::int64_t K) {
#pragma omp parallel for if (P * K >= kParallelGrain / 4) schedule(static)
    for (std::int64_t p = 0; p < P; p++) softmax_pixel(probs + p * K, logits + p * K, K);
}

/** First index whose target is outside [0, K), or -1. */
inline std::int64_t find_invalid_target(const std::int32_t* target,  // (P)
                                        std::int64_t P, std::int64_t K) {
    for (std::int64_t p = 0; p < P; p++) {
        if (target[p] < 0 || target[p] >= K) return p;
    }
    return -1;
}

/** Doubles of workspace for cross_entropy_dice. */
inline std::size_t loss_workspace_doubles(int threads, std::int64_t K) {
    return std::size_t(threads) * (1 + 3 * K) + 2 * K + std::size_t(threads) * K;  // partials, D and alpha, p rows
}

/** The loss of Note [loss gradient]; targets must be valid (find_invalid_target). */
inline double cross_entropy_dice(float* dlogits,               // (P, K) or null
                                 const float* logits,          // (P, K)
                                 const std::int32_t* target,   // (P), values in [0, K)
                                 double* ws,                   // loss_workspace_doubles(threads, K)
                                 std::int64_t P, std::int64_t K, int threads, float ce_weight,
                                 float dice_weight, float smooth) {
    const std::int64_t stride = 1 + 3 * K;  // per thread: ce, I[K], Psum[K], T[K]
    int used = 1;
#pragma omp parallel num_threads(threads) if (P * K >= kParallelGrain / 4)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        std::int64_t b, e;
        thread_range(P, nt, t, b, e);
        double* acc = ws + t * stride;
        double* I = acc + 1;
        double* Ps = I + K;
        double* T = Ps + K;
        for (std::int64_t i = 0; i < stride; i++) acc[i] = 0.0;
        float* local = reinterpret_cast<float*>(ws + std::int64_t(threads) * stride + 2 * K + t * K);
        for (std::int64_t p = b; p < e; p++) {
            const float* z = logits + p * K;
            float* pr = dlogits != nullptr ? dlogits + p * K : local;  // p of this pixel
            const std::int32_t tk = target[p];
            const float lse = softmax_pixel(pr, z, K);
            acc[0] += double(lse - z[tk]);
            for (std::int64_t k = 0; k < K; k++) Ps[k] += double(pr[k]);
            I[tk] += double(pr[tk]);
            T[tk] += 1.0;
        }
        if (t == 0) used = nt;
    }
    // combine in thread order
    double ce = 0.0;
    double* tot = ws + std::int64_t(threads) * stride;  // g coefficients: D[K], alpha[K]
    double* D = tot;
    double* alpha = tot + K;
    for (int t = 0; t < used; t++) ce += ws[t * stride];
    const double M = double(P);
    double dice_mean = 0.0;
    for (std::int64_t k = 0; k < K; k++) {
        double I = 0.0, Ps = 0.0, T = 0.0;
        for (int t = 0; t < used; t++) {
            I += ws[t * stride + 1 + k];
            Ps += ws[t * stride + 1 + K + k];
            T += ws[t * stride + 1 + 2 * K + k];
        }
        const double den = Ps + T + double(smooth);
        D[k] = (2.0 * I + double(smooth)) / den;
        alpha[k] = double(dice_weight) / double(K) / den;
        dice_mean += D[k];
    }
    dice_mean /= double(K);
    const double loss = double(ce_weight) * (ce / M) + double(dice_weight) * (1.0 - dice_mean);
    if (dlogits == nullptr) return loss;

    const double ce_scale = double(ce_weight) / M;
#pragma omp parallel for num_threads(threads) if (P * K >= kParallelGrain / 4) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        float* pr = dlogits + p * K;  // holds p from pass 1
        const std::int32_t tk = target[p];
        double gp = 0.0;  // sum_k g_k p_k
        for (std::int64_t k = 0; k < K; k++) {
            const double g = alpha[k] * (D[k] - (k == tk ? 2.0 : 0.0));
            gp += g * double(pr[k]);
        }
        for (std::int64_t k = 0; k < K; k++) {
            const double pk = pr[k];
            const double g = alpha[k] * (D[k] - (k == tk ? 2.0 : 0.0));
            pr[k] = float(ce_scale * (pk - (k == tk ? 1.0 : 0.0)) + pk * (g - gp));
        }
    }
    return loss;
}

}  // namespace cpu
}  // namespace arunet

// cpu/loss.h — softmax over channels and ARU-Net's segmentation losses, NHWC logits viewed as
// (P, K), P = N H W pixels, K classes.
//
// Contents:
//   softmax_forward       probs = softmax(logits) per pixel (max-subtracted, float as PyTorch)
//   find_invalid_target   index of the first target outside [0, K), or -1 (validation)
//   cross_entropy_dice    loss = ce_w CE + dice_w (1 - mean_k D_k)        (the reference's aru_net.loss)
//   focal_tversky         loss = mean_k (1 - TI_k)^gamma                  (Abraham and Khan, 2019)
//   Each returns the loss and, when dlogits is given, writes d loss / d logits (overwritten).
//
// Note [loss gradient]: with p = softmax(z), t = one-hot(target), M = P pixels, both losses are
// functions of the batch-pooled class sums I_k = sum_p p_pk t_pk (= TP_k), P_k = sum_p p_pk and
// T_k = sum_p t_pk (plus CE = (1/M) sum_p (logsumexp(z_p) - z_{p,target})). Their gradient with
// respect to p_pk is linear in t: g_pk = c0_k + c1_k t_pk, and through the softmax Jacobian
//   dz_pj = ce_w (p_pj - t_pj) / M + p_pj (g_pj - sum_k g_pk p_pk).
//   Dice: D_k = (2 I_k + s) / den_k, den_k = P_k + T_k + s;
//         d(dice_w (1 - mean_k D_k)) / dp_pk = (dice_w / K) (D_k - 2 t_pk) / den_k.
//   Tversky: TI_k = a_k / d_k, a_k = I_k + s, d_k = I_k + alpha (T_k - I_k) + beta (P_k - I_k) + s;
//         dL/dTI_k = -(gamma / K) max(1 - TI_k, 1e-12)^(gamma - 1) (the floor keeps gamma < 1 finite),
//         dTI_k/dp_pk = (t d_k - a_k (t (1 - alpha - beta) + beta)) / d_k^2.
// Pass 1 (softmax_class_sums) computes p (kept in dlogits), the CE sum and I, P, T with per-thread
// double partials combined in thread order; pass 2 (loss_gradient) turns p into the gradient in place.
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

/** Doubles of workspace for the losses. */
inline std::size_t loss_workspace_doubles(int threads, std::int64_t K) {
    // per thread: ce, I[K], P[K], T[K] and a p row; then the totals I, P, T and the coefficients c0, c1
    return std::size_t(threads) * (1 + 4 * K) + 5 * std::size_t(K);
}

/** Workspace views of one loss evaluation. */
struct LossSums {
    double ce;          // sum over pixels of -log p_target
    const double* I;    // (K) sum p t
    const double* Ps;   // (K) sum p
    const double* T;    // (K) sum t
    double* c0;         // (K) gradient coefficients, filled by the loss
    double* c1;         // (K)
};

/**
 * Pass 1: p = softmax(z) (written to dlogits when given), and the class sums of Note [loss gradient]
 * pooled over all pixels. Targets must be valid (find_invalid_target).
 */
inline LossSums softmax_class_sums(float* dlogits,              // (P, K) or null
                                   const float* logits,         // (P, K)
                                   const std::int32_t* target,  // (P), values in [0, K)
                                   double* ws,                  // loss_workspace_doubles(threads, K)
                                   std::int64_t P, std::int64_t K, int threads) {
    const std::int64_t stride = 1 + 4 * K;  // per thread: ce, I[K], Psum[K], T[K], p row (K floats)
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
        float* local = reinterpret_cast<float*>(T + K);  // p of one pixel when dlogits is null
        for (std::int64_t i = 0; i < 1 + 3 * K; i++) acc[i] = 0.0;
        for (std::int64_t p = b; p < e; p++) {
            const float* z = logits + p * K;
            float* pr = dlogits != nullptr ? dlogits + p * K : local;
            const std::int32_t tk = target[p];
            const float lse = softmax_pixel(pr, z, K);
            acc[0] += double(lse - z[tk]);
            for (std::int64_t k = 0; k < K; k++) Ps[k] += double(pr[k]);
            I[tk] += double(pr[tk]);
            T[tk] += 1.0;
        }
        if (t == 0) used = nt;
    }
    double* tot = ws + std::int64_t(threads) * stride;  // I, P, T, then c0, c1
    double ce = 0.0;
    for (int t = 0; t < used; t++) ce += ws[t * stride];
    for (std::int64_t k = 0; k < 3 * K; k++) {
        double s = 0.0;
        for (int t = 0; t < used; t++) s += ws[t * stride + 1 + k];
        tot[k] = s;
    }
    return LossSums{ce, tot, tot + K, tot + 2 * K, tot + 3 * K, tot + 4 * K};
}

/** Pass 2: dlogits holds p; overwrites it with ce_scale (p - t) + p (g - sum_k g_k p_k), g = c0 + c1 t. */
inline void loss_gradient(float* dlogits,              // (P, K), p in, gradient out
                          const std::int32_t* target,  // (P)
                          const double* c0,            // (K)
                          const double* c1,            // (K)
                          std::int64_t P, std::int64_t K, int threads, double ce_scale) {
#pragma omp parallel for num_threads(threads) if (P * K >= kParallelGrain / 4) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        float* pr = dlogits + p * K;
        const std::int32_t tk = target[p];
        double gp = 0.0;  // sum_k g_k p_k
        for (std::int64_t k = 0; k < K; k++) gp += (c0[k] + (k == tk ? c1[k] : 0.0)) * double(pr[k]);
        for (std::int64_t k = 0; k < K; k++) {
            const double pk = pr[k];
            const double t = k == tk ? 1.0 : 0.0;
            pr[k] = float(ce_scale * (pk - t) + pk * (c0[k] + c1[k] * t - gp));
        }
    }
}

/** ce_w CE + dice_w (1 - mean_k D_k) of Note [loss gradient]; targets must be valid. */
inline double cross_entropy_dice(float* dlogits,               // (P, K) or null
                                 const float* logits,          // (P, K)
                                 const std::int32_t* target,   // (P), values in [0, K)
                                 double* ws,                   // loss_workspace_doubles(threads, K)
                                 std::int64_t P, std::int64_t K, int threads, float ce_weight,
                                 float dice_weight, float smooth) {
    LossSums s = softmax_class_sums(dlogits, logits, target, ws, P, K, threads);
    double dice_mean = 0.0;
    for (std::int64_t k = 0; k < K; k++) {
        const double den = s.Ps[k] + s.T[k] + double(smooth);
        const double D = (2.0 * s.I[k] + double(smooth)) / den;
        const double alpha = double(dice_weight) / double(K) / den;
        s.c0[k] = alpha * D;
        s.c1[k] = -2.0 * alpha;
        dice_mean += D;
    }
    dice_mean /= double(K);
    const double M = double(P);
    const double loss = double(ce_weight) * (s.ce / M) + double(dice_weight) * (1.0 - dice_mean);
    if (dlogits != nullptr) loss_gradient(dlogits, target, s.c0, s.c1, P, K, threads, double(ce_weight) / M);
    return loss;
}

/** mean_k (1 - TI_k)^gamma of Note [loss gradient]; targets must be valid. */
inline double focal_tversky(float* dlogits,               // (P, K) or null
                            const float* logits,          // (P, K)
                            const std::int32_t* target,   // (P), values in [0, K)
                            double* ws,                   // loss_workspace_doubles(threads, K)
                            std::int64_t P, std::int64_t K, int threads, float alpha, float beta, float gamma,
                            float smooth) {
    LossSums s = softmax_class_sums(dlogits, logits, target, ws, P, K, threads);
    const double al = alpha, be = beta, ga = gamma, sm = smooth;
    double loss = 0.0;
    for (std::int64_t k = 0; k < K; k++) {
        const double a = s.I[k] + sm;
        const double d = s.I[k] + al * (s.T[k] - s.I[k]) + be * (s.Ps[k] - s.I[k]) + sm;
        const double ti = a / d;
        loss += std::pow(1.0 - ti, ga);
        const double dl_dti = -(ga / double(K)) * std::pow(std::max(1.0 - ti, 1e-12), ga - 1.0);
        // dTI/dp = (t d - a (t (1 - alpha - beta) + beta)) / d^2 = c0 + c1 t after scaling by dL/dTI
        s.c0[k] = dl_dti * (-a * be) / (d * d);
        s.c1[k] = dl_dti * (d - a * (1.0 - al - be)) / (d * d);
    }
    loss /= double(K);
    if (dlogits != nullptr) loss_gradient(dlogits, target, s.c0, s.c1, P, K, threads, 0.0);
    return loss;
}

}  // namespace cpu
}  // namespace arunet

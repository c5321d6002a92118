// cpu/batchnorm.h — 2-D batch normalisation over NHWC activations viewed as (M, C), M = N H W,
// with an optional fused ReLU, PyTorch semantics (torch.nn.BatchNorm2d, float32 CPU).
//
// Contents:
//   batchnorm_forward_train  batch statistics -> save_mean, save_invstd; running statistics updated
//                            (running_var with the unbiased variance); y = act(gamma (x - mean) invstd + beta).
//   batchnorm_forward_eval   the same with the running statistics.
//   batchnorm_backward       dx, dgamma, dbeta from dy (masked by y > 0 when ReLU was fused).
//
// Outputs y, save_*, dx, dgamma, dbeta are overwritten; running_mean and running_var are updated in
// place (the one accumulation of the Backend contract).
//
// Note [batch statistics accuracy]: sums run over M up to ~10^6 elements per channel. Each thread
// accumulates, in double, the sums of d = x - x0[c] and d^2 over its rows, where x0 is the first row
// (a shift that removes the cancellation of E[x^2] - E[x]^2 when |mean| >> std); the per-thread
// partials are combined in thread order (deterministic for a given thread count). The reference in
// double agrees to ~1e-7 relative. The backward sums (dy and dy (x - mean)) use the same scheme.
//
// Note [normalising without cancellation]: PyTorch computes y = x a + (beta - mean a), a = gamma
// invstd; when |mean| >> std both terms are large and their float sum loses the digits that matter
// (mean 1000, std 0.01: errors of ~4e-3 in y). We compute y = ((x - mean_hi) - mean_lo) a + beta
// with mean = mean_hi + mean_lo split into two floats: x - mean_hi is exact for x near the mean, so
// y keeps float accuracy; the extra subtraction is free in this memory-bound loop.
#pragma once

#include <cmath>

#include "cpu/common.h"

namespace arunet {
namespace cpu {

/** Doubles of workspace the batch-norm kernels need for `threads` threads and C channels. */
inline std::size_t batchnorm_workspace_doubles(int threads, std::int64_t C) {
    return std::size_t(2 * threads + 2) * C;  // 2 partial sums per thread, then up to 4 float rows of C
}

inline float relu_keep_nan(float v) { return (v > 0.f || v != v) ? v : 0.f; }

/**
 * y = act(((x - mean_hi[c]) - mean_lo[c]) a[c] + beta[c]) over rows [0, M), threads over rows.
 * See Note [normalising without cancellation].
 */
inline void batchnorm_apply(float* y,              // (M, C)
                            const float* x,        // (M, C)
                            const float* mean_hi,  // (C)
                            const float* mean_lo,  // (C)
                            const float* a,        // (C), gamma * invstd
                            const float* beta,     // (C)
                            std::int64_t M, std::int64_t C, bool relu) {
#pragma omp parallel for if (M * C >= kParallelGrain) schedule(static)
    for (std::int64_t r = 0; r < M; r++) {
        const float* xr = x + r * C;
        float* yr = y + r * C;
        if (relu) {
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) {
                yr[c] = relu_keep_nan(((xr[c] - mean_hi[c]) - mean_lo[c]) * a[c] + beta[c]);
            }
        } else {
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) yr[c] = ((xr[c] - mean_hi[c]) - mean_lo[c]) * a[c] + beta[c];
        }
    }
}

/**
 * Training-mode forward: batch mean and biased variance per channel, running statistics updated with
 * momentum (running_var from the unbiased variance var M / (M - 1)), y = act(gamma (x - mean) invstd
 * + beta). Needs M >= 2 (checked by the caller).
 */
inline void batchnorm_forward_train(float* y,                  // (M, C)
                                    float* save_mean,          // (C)
                                    float* save_invstd,        // (C)
                                    float* running_mean,       // (C), updated
                                    float* running_var,        // (C), updated
                                    const float* x,            // (M, C)
                                    const float* gamma,        // (C)
                                    const float* beta,         // (C)
                                    double* ws,                // batchnorm_workspace_doubles(threads, C)
                                    std::int64_t M, std::int64_t C, int threads, float momentum, float eps,
                                    bool relu) {
    const float* x0 = x;  // shift: the first row
    int used = 1;
#pragma omp parallel num_threads(threads) if (M * C >= kParallelGrain)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        std::int64_t rb, re;
        thread_range(M, nt, t, rb, re);
        double* s1 = ws + std::int64_t(2 * t) * C;
        double* s2 = s1 + C;
        for (std::int64_t c = 0; c < C; c++) s1[c] = s2[c] = 0.0;
        for (std::int64_t r = rb; r < re; r++) {
            const float* xr = x + r * C;
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) {
                const double d = double(xr[c]) - double(x0[c]);
                s1[c] += d;
                s2[c] += d * d;
            }
        }
        if (t == 0) used = nt;
    }
    float* a = reinterpret_cast<float*>(ws + std::int64_t(2 * threads) * C);
    float* mean_hi = a + C;
    float* mean_lo = mean_hi + C;
    const double m = double(M);
    for (std::int64_t c = 0; c < C; c++) {
        double s1 = 0.0, s2 = 0.0;
        for (int t = 0; t < used; t++) {
            s1 += ws[std::int64_t(2 * t) * C + c];
            s2 += ws[std::int64_t(2 * t + 1) * C + c];
        }
        const double dmean = s1 / m;
        const double mean = double(x0[c]) + dmean;
        const double var = std::max(s2 / m - dmean * dmean, 0.0);
        const double invstd = 1.0 / std::sqrt(var + double(eps));
        save_mean[c] = float(mean);
        save_invstd[c] = float(invstd);
        running_mean[c] = float((1.0 - momentum) * running_mean[c] + double(momentum) * mean);
        running_var[c] = float((1.0 - momentum) * running_var[c] + double(momentum) * var * m / (m - 1.0));
        a[c] = float(double(gamma[c]) * invstd);
        mean_hi[c] = float(mean);
        mean_lo[c] = float(mean - double(mean_hi[c]));
    }
    batchnorm_apply(y, x, mean_hi, mean_lo, a, beta, M, C, relu);
}

/** Inference-mode forward with the running statistics. */
inline void batchnorm_forward_eval(float* y,                   // (M, C)
                                   const float* x,             // (M, C)
                                   const float* gamma,         // (C)
                                   const float* beta,          // (C)
                                   const float* running_mean,  // (C)
                                   const float* running_var,   // (C)
                                   float* coef,                // (2 C) scratch
                                   std::int64_t M, std::int64_t C, float eps, bool relu) {
    float* a = coef;
    float* zero = coef + C;  // the running mean is a float already: no low part
    for (std::int64_t c = 0; c < C; c++) {
        a[c] = float(double(gamma[c]) / std::sqrt(double(running_var[c]) + double(eps)));
        zero[c] = 0.f;
    }
    batchnorm_apply(y, x, running_mean, zero, a, beta, M, C, relu);
}

/**
 * Backward of the training-mode forward. With g = dy (times [y > 0] when ReLU was fused):
 * dbeta = sum g, dgamma = invstd sum g (x - mean),
 * dx = gamma invstd (g - dbeta / M - (x - mean) invstd^2 sum g (x - mean) / M) (PyTorch's form).
 */
inline void batchnorm_backward(float* dx,                // (M, C)
                               float* dgamma,            // (C)
                               float* dbeta,             // (C)
                               const float* dy,          // (M, C)
                               const float* x,           // (M, C)
                               const float* y,           // (M, C), or null unless relu
                               const float* gamma,       // (C)
                               const float* save_mean,   // (C)
                               const float* save_invstd, // (C)
                               double* ws,               // batchnorm_workspace_doubles(threads, C)
                               std::int64_t M, std::int64_t C, int threads, bool relu) {
    int used = 1;
#pragma omp parallel num_threads(threads) if (M * C >= kParallelGrain)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        std::int64_t rb, re;
        thread_range(M, nt, t, rb, re);
        double* s1 = ws + std::int64_t(2 * t) * C;
        double* s2 = s1 + C;
        for (std::int64_t c = 0; c < C; c++) s1[c] = s2[c] = 0.0;
        for (std::int64_t r = rb; r < re; r++) {
            const float* xr = x + r * C;
            const float* gr = dy + r * C;
            if (relu) {
                const float* yr = y + r * C;
#pragma omp simd
                for (std::int64_t c = 0; c < C; c++) {
                    const float gv = gr[c], yv = yr[c];  // both loaded: the select if-converts
                    const double g = yv > 0.f ? gv : 0.f;
                    s1[c] += g;
                    s2[c] += g * (double(xr[c]) - double(save_mean[c]));
                }
            } else {
#pragma omp simd
                for (std::int64_t c = 0; c < C; c++) {
                    const double g = gr[c];
                    s1[c] += g;
                    s2[c] += g * (double(xr[c]) - double(save_mean[c]));
                }
            }
        }
        if (t == 0) used = nt;
    }
    float* a = reinterpret_cast<float*>(ws + std::int64_t(2 * threads) * C);  // gamma invstd
    float* gm = a + C;                                                        // mean of g
    float* k = gm + C;                                                        // invstd^2 sum g(x-mean) / M
    const double m = double(M);
    for (std::int64_t c = 0; c < C; c++) {
        double s1 = 0.0, s2 = 0.0;
        for (int t = 0; t < used; t++) {
            s1 += ws[std::int64_t(2 * t) * C + c];
            s2 += ws[std::int64_t(2 * t + 1) * C + c];
        }
        const double invstd = save_invstd[c];
        dbeta[c] = float(s1);
        dgamma[c] = float(s2 * invstd);
        a[c] = float(double(gamma[c]) * invstd);
        gm[c] = float(s1 / m);
        k[c] = float(s2 * invstd * invstd / m);
    }
#pragma omp parallel for num_threads(threads) if (M * C >= kParallelGrain) schedule(static)
    for (std::int64_t r = 0; r < M; r++) {
        const float* xr = x + r * C;
        const float* gr = dy + r * C;
        float* d = dx + r * C;
        if (relu) {
            const float* yr = y + r * C;
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) {
                const float g = yr[c] > 0.f ? gr[c] : 0.f;
                d[c] = (g - gm[c] - (xr[c] - save_mean[c]) * k[c]) * a[c];
            }
        } else {
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) {
                d[c] = (gr[c] - gm[c] - (xr[c] - save_mean[c]) * k[c]) * a[c];
            }
        }
    }
}

}  // namespace cpu
}  // namespace arunet

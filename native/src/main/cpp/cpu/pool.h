// cpu/pool.h — max pooling and the max/mean reductions of ARU-Net's attention modules, NHWC.
//
// Contents:
//   maxpool_forward / maxpool_backward    torch.nn.functional.max_pool2d(x, k, s, p), floor mode,
//                                         padding counts as -inf; the gradient of each output goes to
//                                         the FIRST maximum of its window in row-major window order
//                                         (PyTorch's `val > max || isnan(val)` scan, so a NaN wins).
//   globalpool_forward / _backward        max and mean over H W per (n, c); the max gradient is split
//                                         evenly among tied maxima (torch.amax's backward).
//   channelmaxmean_forward / _backward    max and mean over C per pixel, out (P, 2) = [max, mean];
//                                         max gradient split evenly among ties.
//
// Every output is overwritten (the backward kernels zero or fully write dx before scattering).
// Means accumulate in double. Threads split output rows (maxpool), pixels (channel reductions) or
// pixel ranges with per-thread partials combined in thread order (global reductions).
#pragma once

#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/common.h"

namespace arunet {
namespace cpu {

/** The scan rule of PyTorch's max pooling and amax: a later value replaces the current one if greater or NaN. */
inline bool replaces(float v, float best) { return v > best || v != v; }

/** Tie test of amax's backward: equal, or both NaN. */
inline bool ties(float v, float m) { return v == m || (v != v && m != m); }

// ----------------------------------------------------------------------------------------------------
// max pooling

inline void maxpool_forward(float* y,        // (N, OH, OW, C)
                            const float* x,  // (N, H, W, C)
                            std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C, std::int64_t OH,
                            std::int64_t OW, int k, int s, int p) {
    const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for if (N * OH * OW * C * k >= kParallelGrain) schedule(static)
    for (std::int64_t row = 0; row < N * OH; row++) {
        const std::int64_t n = row / OH, oh = row % OH;
        const std::int64_t h0 = std::max<std::int64_t>(oh * s - p, 0);
        const std::int64_t h1 = std::min<std::int64_t>(oh * s - p + k, H);
        for (std::int64_t ow = 0; ow < OW; ow++) {
            const std::int64_t w0 = std::max<std::int64_t>(ow * s - p, 0);
            const std::int64_t w1 = std::min<std::int64_t>(ow * s - p + k, W);
            float* yo = y + ((n * OH + oh) * OW + ow) * C;
            for (std::int64_t c = 0; c < C; c++) yo[c] = ninf;
            for (std::int64_t ih = h0; ih < h1; ih++) {
                for (std::int64_t iw = w0; iw < w1; iw++) {
                    const float* xi = x + ((n * H + ih) * W + iw) * C;
#pragma omp simd
                    for (std::int64_t c = 0; c < C; c++) yo[c] = replaces(xi[c], yo[c]) ? xi[c] : yo[c];
                }
            }
        }
    }
}

/**
 * dx = 0, then each dy[n, oh, ow, c] is added at the first maximum of its window. Output rows are
 * processed in ceil(k / s) phases (oh = phase mod ceil(k/s)) so that the rows one phase runs in
 * parallel read and write disjoint input rows.
 */
inline void maxpool_backward(float* dx,        // (N, H, W, C)
                             const float* x,   // (N, H, W, C)
                             const float* dy,  // (N, OH, OW, C)
                             std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C, std::int64_t OH,
                             std::int64_t OW, int k, int s, int p) {
    constexpr std::int64_t kChunk = 256;  // channels per pass (argmax state lives on the stack)
    const float ninf = -std::numeric_limits<float>::infinity();
    const std::int64_t phases = (k + s - 1) / s;
    const std::int64_t work = N * H * W * C;
#pragma omp parallel if (work >= kParallelGrain)
    {
        {
            std::int64_t b, e;
            thread_range(work, omp_get_num_threads(), omp_get_thread_num(), b, e);
            if (e > b) std::memset(dx + b, 0, sizeof(float) * (e - b));
        }
#pragma omp barrier
        float best[kChunk];
        std::int64_t where[kChunk];
        for (std::int64_t phase = 0; phase < phases; phase++) {
            const std::int64_t rows = (OH - phase + phases - 1) / phases;  // oh = phase + j * phases
            // the barrier above orders the zeroing; the implicit barrier of each omp for orders the phases
#pragma omp for schedule(static)
            for (std::int64_t job = 0; job < N * rows; job++) {
                const std::int64_t n = job / rows, oh = phase + (job % rows) * phases;
                const std::int64_t h0 = std::max<std::int64_t>(oh * s - p, 0);
                const std::int64_t h1 = std::min<std::int64_t>(oh * s - p + k, H);
                float* dxn = dx + n * H * W * C;
                const float* xn = x + n * H * W * C;
                for (std::int64_t ow = 0; ow < OW; ow++) {
                    const std::int64_t w0 = std::max<std::int64_t>(ow * s - p, 0);
                    const std::int64_t w1 = std::min<std::int64_t>(ow * s - p + k, W);
                    const float* g = dy + ((n * OH + oh) * OW + ow) * C;
                    for (std::int64_t c0 = 0; c0 < C; c0 += kChunk) {
                        const std::int64_t cn = std::min(kChunk, C - c0);
                        for (std::int64_t c = 0; c < cn; c++) {
                            best[c] = ninf;
                            where[c] = (h0 * W + w0) * C;  // a window always holds a real pixel
                        }
                        for (std::int64_t ih = h0; ih < h1; ih++) {
                            for (std::int64_t iw = w0; iw < w1; iw++) {
                                const std::int64_t off = (ih * W + iw) * C;
                                const float* xi = xn + off + c0;
#pragma omp simd
                                for (std::int64_t c = 0; c < cn; c++) {
                                    const bool r = replaces(xi[c], best[c]);
                                    best[c] = r ? xi[c] : best[c];
                                    where[c] = r ? off : where[c];
                                }
                            }
                        }
                        for (std::int64_t c = 0; c < cn; c++) dxn[where[c] + c0 + c] += g[c0 + c];
                    }
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------------
// global max / mean over H W

/** Doubles of workspace for the global pooling kernels. */
inline std::size_t globalpool_workspace_doubles(int threads, std::int64_t C) {
    return std::size_t(2 * threads) * C;
}

/** max[n, c] = max_q x[n, q, c], avg[n, c] = mean_q x[n, q, c]; either output may be null. */
inline void globalpool_forward(float* max,       // (N, C) or null
                               float* avg,       // (N, C) or null
                               const float* x,   // (N, HW, C)
                               double* ws,       // globalpool_workspace_doubles(threads, C)
                               std::int64_t N, std::int64_t HW, std::int64_t C, int threads) {
    const float ninf = -std::numeric_limits<float>::infinity();
    for (std::int64_t n = 0; n < N; n++) {
        const float* xn = x + n * HW * C;
        int used = 1;
#pragma omp parallel num_threads(threads) if (HW * C >= kParallelGrain)
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            std::int64_t b, e;
            thread_range(HW, nt, t, b, e);
            double* sum = ws + std::int64_t(2 * t) * C;
            float* mx = reinterpret_cast<float*>(sum + C);
            for (std::int64_t c = 0; c < C; c++) {
                sum[c] = 0.0;
                mx[c] = ninf;
            }
            for (std::int64_t q = b; q < e; q++) {
                const float* xq = xn + q * C;
#pragma omp simd
                for (std::int64_t c = 0; c < C; c++) {
                    sum[c] += double(xq[c]);
                    mx[c] = replaces(xq[c], mx[c]) ? xq[c] : mx[c];
                }
            }
            if (t == 0) used = nt;
        }
        for (std::int64_t c = 0; c < C; c++) {
            double s = 0.0;
            float m = ninf;
            for (int t = 0; t < used; t++) {
                const double* sum = ws + std::int64_t(2 * t) * C;
                const float v = reinterpret_cast<const float*>(sum + C)[c];
                s += sum[c];
                m = replaces(v, m) ? v : m;
            }
            if (max != nullptr) max[n * C + c] = m;
            if (avg != nullptr) avg[n * C + c] = float(s / double(HW));
        }
    }
}

/**
 * dx[n, q, c] = [x == max] dmax[n, c] / count[n, c] + davg[n, c] / HW, count = number of tied maxima.
 * dmax (with max) and davg may each be null.
 */
inline void globalpool_backward(float* dx,          // (N, HW, C)
                                const float* x,     // (N, HW, C)
                                const float* max,   // (N, C), or null when dmax is
                                const float* dmax,  // (N, C) or null
                                const float* davg,  // (N, C) or null
                                double* ws,         // globalpool_workspace_doubles(threads, C)
                                std::int64_t N, std::int64_t HW, std::int64_t C, int threads) {
    // coefficient rows after the partial counts: gmax[c] = dmax / count, gavg[c] = davg / HW
    float* gmax = reinterpret_cast<float*>(ws + std::int64_t(threads) * C);
    float* gavg = gmax + C;
    for (std::int64_t n = 0; n < N; n++) {
        const float* xn = x + n * HW * C;
        float* dxn = dx + n * HW * C;
        const float* mn = max != nullptr ? max + n * C : nullptr;
        if (dmax != nullptr) {
            int used = 1;
#pragma omp parallel num_threads(threads) if (HW * C >= kParallelGrain)
            {
                int nt = omp_get_num_threads(), t = omp_get_thread_num();
                std::int64_t b, e;
                thread_range(HW, nt, t, b, e);
                double* cnt = ws + std::int64_t(t) * C;
                for (std::int64_t c = 0; c < C; c++) cnt[c] = 0.0;
                for (std::int64_t q = b; q < e; q++) {
                    const float* xq = xn + q * C;
#pragma omp simd
                    for (std::int64_t c = 0; c < C; c++) cnt[c] += ties(xq[c], mn[c]) ? 1.0 : 0.0;
                }
                if (t == 0) used = nt;
            }
            for (std::int64_t c = 0; c < C; c++) {
                double count = 0.0;
                for (int t = 0; t < used; t++) count += ws[std::int64_t(t) * C + c];
                // count >= 1 when max is the forward output; a caller-made max may tie nothing
                gmax[c] = count > 0.0 ? dmax[n * C + c] / float(count) : 0.f;
            }
        }
        for (std::int64_t c = 0; c < C; c++) gavg[c] = davg != nullptr ? float(double(davg[n * C + c]) / double(HW)) : 0.f;
        const bool with_max = dmax != nullptr;
#pragma omp parallel for num_threads(threads) if (HW * C >= kParallelGrain) schedule(static)
        for (std::int64_t q = 0; q < HW; q++) {
            const float* xq = xn + q * C;
            float* d = dxn + q * C;
            if (with_max) {
#pragma omp simd
                for (std::int64_t c = 0; c < C; c++) d[c] = (ties(xq[c], mn[c]) ? gmax[c] : 0.f) + gavg[c];
            } else {
#pragma omp simd
                for (std::int64_t c = 0; c < C; c++) d[c] = gavg[c];
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------------
// per-pixel max / mean over channels

/** out[p, 0] = max_c x[p, c], out[p, 1] = mean_c x[p, c]. */
inline void channelmaxmean_forward(float* out,      // (P, 2)
                                   const float* x,  // (P, C)
                                   std::int64_t P, std::int64_t C) {
    const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for if (P * C >= kParallelGrain) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        const float* xp = x + p * C;
        float m = ninf;
        double s = 0.0;
        for (std::int64_t c = 0; c < C; c++) m = replaces(xp[c], m) ? xp[c] : m;
#pragma omp simd reduction(+ : s)
        for (std::int64_t c = 0; c < C; c++) s += double(xp[c]);
        out[2 * p] = m;
        out[2 * p + 1] = float(s / double(C));
    }
}

/** dx[p, c] = [x == max] dout[p, 0] / count + dout[p, 1] / C. */
inline void channelmaxmean_backward(float* dx,          // (P, C)
                                    const float* x,     // (P, C)
                                    const float* out,   // (P, 2), the forward output
                                    const float* dout,  // (P, 2)
                                    std::int64_t P, std::int64_t C) {
#pragma omp parallel for if (P * C >= kParallelGrain) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        const float* xp = x + p * C;
        float* d = dx + p * C;
        const float m = out[2 * p];
        int count = 0;
#pragma omp simd reduction(+ : count)
        for (std::int64_t c = 0; c < C; c++) count += ties(xp[c], m) ? 1 : 0;
        const float gmax = count > 0 ? dout[2 * p] / float(count) : 0.f;
        const float gmean = float(double(dout[2 * p + 1]) / double(C));
#pragma omp simd
        for (std::int64_t c = 0; c < C; c++) d[c] = (ties(xp[c], m) ? gmax : 0.f) + gmean;
    }
}

}  // namespace cpu
}  // namespace arunet

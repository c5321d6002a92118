// cpu/elementwise.h — elementwise and broadcasting kernels, OpenMP over elements or pixels.
//
// Contents: copy, fill, add_forward, add_inplace, scale_forward, sum_of_squares, and the broadcasting
// product mul_forward / mul_backward in its three forms (same shape; one weight per pixel [P, 1];
// one weight per image and channel [N, C]).
//
// Outputs: every output is overwritten except add_inplace (y += x), which accumulates by definition.
// Aliasing: add_forward's y may be a or b, scale_forward's y may be x, mul_forward's y may be x
// (elementwise, so in-place is safe); everything else takes distinct buffers (checked in Java).
// Reductions (sum_of_squares, the dw of mul_backward) accumulate in double, per thread, and combine
// the per-thread partials in thread order, so results do not depend on scheduling.
#pragma once

#include <cmath>
#include <cstring>   // std::memcpy, std::memset

#include "cpu/common.h"

namespace arunet {
namespace cpu {

/** Largest thread count whose per-thread partials live on the stack. */
constexpr int kMaxThreads = 1024;

// ----------------------------------------------------------------------------------------------------
// copy, fill, add, scale

/** dst = src, `bytes` bytes, split among threads in cache-line multiples. */
inline void copy_bytes(void* dst, const void* src, std::int64_t bytes) {
    char* d = static_cast<char*>(dst);
    const char* s = static_cast<const char*>(src);
    if (bytes < 4 * kParallelGrain) {
        std::memcpy(d, s, bytes);
        return;
    }
#pragma omp parallel
    {
        std::int64_t lines = (bytes + 63) / 64, b, e;
        thread_range(lines, omp_get_num_threads(), omp_get_thread_num(), b, e);
        std::int64_t from = b * 64, to = std::min(bytes, e * 64);
        if (to > from) std::memcpy(d + from, s + from, to - from);
    }
}

inline void fill(float* out,  // (n)
                 float value, std::int64_t n) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; i++) out[i] = value;
}

inline void add_forward(float* y,        // (n), may be a or b
                        const float* a,  // (n)
                        const float* b,  // (n)
                        std::int64_t n) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

inline void add_inplace(float* y,        // (n), accumulated
                        const float* x,  // (n)
                        std::int64_t n) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; i++) y[i] += x[i];
}

inline void scale_forward(float* y,        // (n), may be x
                          const float* x,  // (n)
                          float alpha, std::int64_t n) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
}

// ----------------------------------------------------------------------------------------------------
// sum of squares

/** sum x^2 in double; NaN and Inf propagate. Deterministic for a given thread count. */
inline double sum_of_squares(const float* x,  // (n)
                             std::int64_t n) {
    double part[kMaxThreads];
    int used = 1;
#pragma omp parallel if (n >= kParallelGrain)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        std::int64_t b, e;
        thread_range(n, nt, t, b, e);
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (std::int64_t i = b; i < e; i++) s += double(x[i]) * double(x[i]);
        part[t] = s;
        if (t == 0) used = nt;
    }
    double total = 0.0;
    for (int t = 0; t < used; t++) total += part[t];
    return total;
}

// ----------------------------------------------------------------------------------------------------
// broadcasting product: y = x * w

/** Same shape: y = x * w. */
inline void mul_forward_same(float* y,        // (n), may be x
                             const float* x,  // (n)
                             const float* w,  // (n)
                             std::int64_t n) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; i++) y[i] = x[i] * w[i];
}

/** One weight per pixel: y[p, c] = x[p, c] * w[p]. */
inline void mul_forward_pixel(float* y,        // (P, C), may be x
                              const float* x,  // (P, C)
                              const float* w,  // (P)
                              std::int64_t P, std::int64_t C) {
#pragma omp parallel for if (P * C >= kParallelGrain) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        const float wp = w[p];
        float* yp = y + p * C;
        const float* xp = x + p * C;
#pragma omp simd
        for (std::int64_t c = 0; c < C; c++) yp[c] = xp[c] * wp;
    }
}

/** One weight per image and channel: y[n, q, c] = x[n, q, c] * w[n, c], q over the HW pixels. */
inline void mul_forward_channel(float* y,        // (N, HW, C), may be x
                                const float* x,  // (N, HW, C)
                                const float* w,  // (N, C)
                                std::int64_t N, std::int64_t HW, std::int64_t C) {
#pragma omp parallel for if (N * HW * C >= kParallelGrain) schedule(static)
    for (std::int64_t r = 0; r < N * HW; r++) {
        const float* wn = w + (r / HW) * C;
        float* yr = y + r * C;
        const float* xr = x + r * C;
#pragma omp simd
        for (std::int64_t c = 0; c < C; c++) yr[c] = xr[c] * wn[c];
    }
}

/** Same shape: dx = dy * w, dw = dy * x; either output may be null. */
inline void mul_backward_same(float* dx,        // (n) or null
                              float* dw,        // (n) or null
                              const float* dy,  // (n)
                              const float* x,   // (n)
                              const float* w,   // (n)
                              std::int64_t n) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; i++) {
        const float g = dy[i];
        if (dx != nullptr) dx[i] = g * w[i];
        if (dw != nullptr) dw[i] = g * x[i];
    }
}

/** One weight per pixel: dx[p, c] = dy[p, c] w[p]; dw[p] = sum_c dy[p, c] x[p, c] (double). */
inline void mul_backward_pixel(float* dx,        // (P, C) or null
                               float* dw,        // (P) or null
                               const float* dy,  // (P, C)
                               const float* x,   // (P, C)
                               const float* w,   // (P)
                               std::int64_t P, std::int64_t C) {
#pragma omp parallel for if (P * C >= kParallelGrain) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        const float* g = dy + p * C;
        if (dx != nullptr) {
            const float wp = w[p];
            float* d = dx + p * C;
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) d[c] = g[c] * wp;
        }
        if (dw != nullptr) {
            const float* xp = x + p * C;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (std::int64_t c = 0; c < C; c++) s += double(g[c]) * double(xp[c]);
            dw[p] = float(s);
        }
    }
}

/**
 * One weight per image and channel: dx[n, q, c] = dy w[n, c]; dw[n, c] = sum_q dy x (double,
 * per-thread partials over q combined in thread order).
 */
inline void mul_backward_channel(float* dx,        // (N, HW, C) or null
                                 float* dw,        // (N, C) or null
                                 double* partial,  // (threads, C) scratch
                                 const float* dy,  // (N, HW, C)
                                 const float* x,   // (N, HW, C)
                                 const float* w,   // (N, C)
                                 std::int64_t N, std::int64_t HW, std::int64_t C) {
    if (dx != nullptr) mul_forward_channel(dx, dy, w, N, HW, C);
    if (dw == nullptr) return;
    for (std::int64_t n = 0; n < N; n++) {
        const float* g = dy + n * HW * C;
        const float* xn = x + n * HW * C;
        int used = 1;
#pragma omp parallel if (HW * C >= kParallelGrain)
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            std::int64_t b, e;
            thread_range(HW, nt, t, b, e);
            double* s = partial + t * C;
            for (std::int64_t c = 0; c < C; c++) s[c] = 0.0;
            for (std::int64_t q = b; q < e; q++) {
                const float* gq = g + q * C;
                const float* xq = xn + q * C;
#pragma omp simd
                for (std::int64_t c = 0; c < C; c++) s[c] += double(gq[c]) * double(xq[c]);
            }
            if (t == 0) used = nt;
        }
        for (std::int64_t c = 0; c < C; c++) {
            double s = 0.0;
            for (int t = 0; t < used; t++) s += partial[t * C + c];
            dw[n * C + c] = float(s);
        }
    }
}

}  // namespace cpu
}  // namespace arunet

// cpu/linear.h — fully connected layer y = x w^T + b (torch.nn.Linear), for the channel-attention
// FCs: a few images times at most a few thousand features, so plain loops with double accumulation,
// threads over output elements when there is enough work.
//
// Contents: linear_forward, linear_backward. Every output is overwritten; dx and db may be null.
#pragma once

#include "cpu/common.h"

namespace arunet {
namespace cpu {

inline void linear_forward(float* y,        // (N, Out)
                           const float* x,  // (N, In)
                           const float* w,  // (Out, In)
                           const float* b,  // (Out) or null
                           std::int64_t N, std::int64_t In, std::int64_t Out) {
#pragma omp parallel for if (N * In * Out >= kParallelGrain) schedule(static)
    for (std::int64_t j = 0; j < N * Out; j++) {
        const std::int64_t n = j / Out, o = j % Out;
        const float* xn = x + n * In;
        const float* wo = w + o * In;
        double s = b != nullptr ? double(b[o]) : 0.0;
#pragma omp simd reduction(+ : s)
        for (std::int64_t i = 0; i < In; i++) s += double(xn[i]) * double(wo[i]);
        y[j] = float(s);
    }
}

/** dx = dy w, dw = dy^T x, db = sum_n dy. */
inline void linear_backward(float* dx,        // (N, In) or null
                            float* dw,        // (Out, In)
                            float* db,        // (Out) or null
                            const float* dy,  // (N, Out)
                            const float* x,   // (N, In)
                            const float* w,   // (Out, In)
                            std::int64_t N, std::int64_t In, std::int64_t Out) {
    const bool big = N * In * Out >= kParallelGrain;
    if (dx != nullptr) {
#pragma omp parallel for if (big) schedule(static)
        for (std::int64_t j = 0; j < N * In; j++) {
            const std::int64_t n = j / In, i = j % In;
            double s = 0.0;
            for (std::int64_t o = 0; o < Out; o++) s += double(dy[n * Out + o]) * double(w[o * In + i]);
            dx[j] = float(s);
        }
    }
#pragma omp parallel for if (big) schedule(static)
    for (std::int64_t j = 0; j < Out * In; j++) {
        const std::int64_t o = j / In, i = j % In;
        double s = 0.0;
        for (std::int64_t n = 0; n < N; n++) s += double(dy[n * Out + o]) * double(x[n * In + i]);
        dw[j] = float(s);
    }
    if (db != nullptr) {
        for (std::int64_t o = 0; o < Out; o++) {
            double s = 0.0;
            for (std::int64_t n = 0; n < N; n++) s += double(dy[n * Out + o]);
            db[o] = float(s);
        }
    }
}

}  // namespace cpu
}  // namespace arunet

// cpu/resample.h — nearest-neighbour 2x upsampling and channel concatenation, NHWC.
//
// Contents:
//   upsample2x_forward   y[n, 2h + i, 2w + j, c] = x[n, h, w, c], i, j in {0, 1}
//   upsample2x_backward  dx[n, h, w, c] = sum of the four dy it was copied to
//   concat_channels      out[p, :] = [a[p, :Ca], b[p, :Cb]]     (torch.cat([a, b], 1) in NCHW terms)
//   split_channels       da = dout[:, :Ca], db = dout[:, Ca:]   (its backward)
//
// Every output is overwritten. Threads split output rows (upsampling) or pixels (concatenation);
// inner loops run over contiguous channels.
#pragma once

#include <cstring>

#include "cpu/common.h"

namespace arunet {
namespace cpu {

inline void upsample2x_forward(float* y,        // (N, 2H, 2W, C)
                               const float* x,  // (N, H, W, C)
                               std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C) {
    const std::int64_t OW = 2 * W;
#pragma omp parallel for if (4 * N * H * W * C >= kParallelGrain) schedule(static)
    for (std::int64_t row = 0; row < N * H; row++) {  // one input row makes two output rows
        const float* xr = x + row * W * C;
        float* y0 = y + (2 * row) * OW * C;
        float* y1 = y0 + OW * C;
        for (std::int64_t w = 0; w < W; w++) {
            const float* xi = xr + w * C;
            float* a = y0 + 2 * w * C;
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) {
                a[c] = xi[c];
                a[C + c] = xi[c];
            }
        }
        std::memcpy(y1, y0, sizeof(float) * OW * C);
    }
}

inline void upsample2x_backward(float* dx,        // (N, H, W, C)
                                const float* dy,  // (N, 2H, 2W, C)
                                std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t C) {
    const std::int64_t OW = 2 * W;
#pragma omp parallel for if (4 * N * H * W * C >= kParallelGrain) schedule(static)
    for (std::int64_t row = 0; row < N * H; row++) {
        const float* g0 = dy + (2 * row) * OW * C;
        const float* g1 = g0 + OW * C;
        float* d = dx + row * W * C;
        for (std::int64_t w = 0; w < W; w++) {
            const float* a = g0 + 2 * w * C;
            const float* b = g1 + 2 * w * C;
            float* dw = d + w * C;
#pragma omp simd
            for (std::int64_t c = 0; c < C; c++) dw[c] = ((a[c] + a[C + c]) + b[c]) + b[C + c];
        }
    }
}

inline void concat_channels(float* out,      // (P, Ca + Cb)
                            const float* a,  // (P, Ca)
                            const float* b,  // (P, Cb)
                            std::int64_t P, std::int64_t Ca, std::int64_t Cb) {
    const std::int64_t C = Ca + Cb;
#pragma omp parallel for if (P * C >= kParallelGrain) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        std::memcpy(out + p * C, a + p * Ca, sizeof(float) * Ca);
        std::memcpy(out + p * C + Ca, b + p * Cb, sizeof(float) * Cb);
    }
}

inline void split_channels(float* da,          // (P, Ca)
                           float* db,          // (P, Cb)
                           const float* dout,  // (P, Ca + Cb)
                           std::int64_t P, std::int64_t Ca, std::int64_t Cb) {
    const std::int64_t C = Ca + Cb;
#pragma omp parallel for if (P * C >= kParallelGrain) schedule(static)
    for (std::int64_t p = 0; p < P; p++) {
        std::memcpy(da + p * Ca, dout + p * C, sizeof(float) * Ca);
        std::memcpy(db + p * Cb, dout + p * C + Ca, sizeof(float) * Cb);
    }
}

}  // namespace cpu
}  // namespace arunet

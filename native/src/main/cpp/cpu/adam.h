// cpu/adam.h — one Adam step, torch.optim.Adam's single-tensor update (L2 weight decay added to the
// gradient when weight_decay != 0), elementwise with OpenMP.
//
//   g = grad + wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// param, m and v are updated in place; grad is only read. The bias corrections are computed in double
// from the float hyper-parameters (PyTorch computes them in Python floats).
#pragma once

#include <cmath>

#include "cpu/common.h"

namespace arunet {
namespace cpu {

inline void adam_step(float* param,       // (n), updated
                      float* m,           // (n), updated
                      float* v,           // (n), updated
                      const float* grad,  // (n)
                      std::int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                      std::int64_t step) {
    const double bc1 = 1.0 - std::pow(double(beta1), double(step));
    const double bc2 = 1.0 - std::pow(double(beta2), double(step));
    const float step_size = float(double(lr) / bc1);
    const float bc2_sqrt = float(std::sqrt(bc2));
    const float one_minus_b1 = 1.f - beta1;
    const float one_minus_b2 = 1.f - beta2;
    const bool decay = weight_decay != 0.f;
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; i++) {
        const float g = decay ? grad[i] + weight_decay * param[i] : grad[i];
        const float mi = m[i] * beta1 + one_minus_b1 * g;
        const float vi = v[i] * beta2 + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= step_size * (mi / (std::sqrt(vi) / bc2_sqrt + eps));
    }
}

}  // namespace cpu
}  // namespace arunet

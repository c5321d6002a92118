// cpu/activation.h — pointwise activations, forward and backward, OpenMP over elements.
//
// Contents: activation_forward (y = act(x)) and activation_backward (dx = dy * act'(.)) for NONE,
// RELU, GELU (exact erf form, as torch.nn.functional.gelu) and SIGMOID.
// Outputs are overwritten. y may be x (forward) and dx may be dy (backward): each element is read
// before it is written.
// Formulas follow PyTorch's CPU kernels: gelu'(x) = Phi(x) + x phi(x) with
// Phi(x) = 0.5 (1 + erf(x / sqrt 2)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); sigmoid'(x) = y (1 - y);
// relu'(x) = [x > 0]. ReLU keeps NaN (as torch.relu), so non-finite values stay visible.
// erf and exp are the vectorizable approximations of cpu/mathfun.h (erf within 1.5e-7 absolute, as
// PyTorch's vectorized CPU erf; exp within ~2 ulp), so every loop here runs in SIMD.
#pragma once

#include <cmath>

#include "cpu/common.h"
#include "cpu/mathfun.h"  // exp_approx, erf_approx (vectorizable)

namespace arunet {
namespace cpu {

/** Matches org.arunet.backend.Activation's ordinals. */
enum class Act : int { None = 0, Relu = 1, Gelu = 2, Sigmoid = 3 };

inline float relu(float x) { return (x > 0.f || x != x) ? x : 0.f; }

inline float gelu(float x) {
    constexpr float kInvSqrt2 = 0.70710678118654752440f;
    return 0.5f * x * (1.f + erf_approx(x * kInvSqrt2));
}

inline float gelu_grad(float x) {
    constexpr float kInvSqrt2 = 0.70710678118654752440f;
    constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
    const float cdf = 0.5f * (1.f + erf_approx(x * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * exp_approx(-0.5f * x * x);
    return cdf + x * pdf;
}

inline float sigmoid(float x) { return 1.f / (1.f + exp_approx(-x)); }

// ----------------------------------------------------------------------------------------------------

inline void activation_forward(float* y,        // (n), may be x
                               const float* x,  // (n)
                               Act act, std::int64_t n) {
    switch (act) {
        case Act::None:
            if (y != x) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
                for (std::int64_t i = 0; i < n; i++) y[i] = x[i];
            }
            break;
        case Act::Relu:
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
            for (std::int64_t i = 0; i < n; i++) y[i] = relu(x[i]);
            break;
        case Act::Gelu:
#pragma omp parallel for simd if (n >= kParallelGrain / 4) schedule(static)
            for (std::int64_t i = 0; i < n; i++) y[i] = gelu(x[i]);
            break;
        case Act::Sigmoid:
#pragma omp parallel for simd if (n >= kParallelGrain / 4) schedule(static)
            for (std::int64_t i = 0; i < n; i++) y[i] = sigmoid(x[i]);
            break;
    }
}

/** dx = dy * act'(.); RELU and GELU read x, SIGMOID reads y (x may then be null). */
inline void activation_backward(float* dx,        // (n), may be dy
                                const float* x,   // (n) or null for SIGMOID
                                const float* y,   // (n) or null unless SIGMOID
                                const float* dy,  // (n)
                                Act act, std::int64_t n) {
    switch (act) {
        case Act::None:
            if (dx != dy) {
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
                for (std::int64_t i = 0; i < n; i++) dx[i] = dy[i];
            }
            break;
        case Act::Relu:
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
            for (std::int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
            break;
        case Act::Gelu:
#pragma omp parallel for simd if (n >= kParallelGrain / 4) schedule(static)
            for (std::int64_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_grad(x[i]);
            break;
        case Act::Sigmoid:
#pragma omp parallel for simd if (n >= kParallelGrain) schedule(static)
            for (std::int64_t i = 0; i < n; i++) dx[i] = dy[i] * ((1.f - y[i]) * y[i]);
            break;
    }
}

}  // namespace cpu
}  // namespace arunet

// cpu/mathfun.h — exp and erf for float, written so that loops calling them vectorize (libm's
// expf/erff are opaque calls that keep a loop scalar: GELU ran at ~2 GB/s with them).
//
// Contents:
//   exp_approx(x)   Cephes' expf: x = n ln2 + r, |r| <= ln2 / 2, e^r by a degree-6 polynomial, 2^n
//                   applied as two exponent-bit scalings (so denormal results and the overflow to
//                   +inf come out right). Relative error ~2 ulp for normal results; e^-inf = 0,
//                   e^inf = inf, NaN gives NaN.
//   erf_approx(x)   Abramowitz & Stegun 7.1.26: erf x = 1 - (a1 t + ... + a5 t^5) exp(-x^2),
//                   t = 1 / (1 + p |x|), odd extension; absolute error <= 1.5e-7. This is the form
//                   PyTorch's vectorized CPU erf uses (aten/src/ATen/cpu/vec, Vectorized<float>::erf),
//                   so GELU matches PyTorch's CPU kernel closely.
// Both are branch-free (selects only) and need -fno-trapping-math to if-convert the selects.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace arunet {
namespace cpu {

/** 2^n as a float for n in [-126, 127]. */
inline float pow2i(std::int32_t n) {
    const std::int32_t bits = (n + 127) << 23;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

inline float exp_approx(float x) {
    constexpr float kHi = 88.7300f;   // e^x > FLT_MAX above 88.7228: the result overflows to +inf
    constexpr float kLo = -104.0f;    // e^x < half the smallest denormal: the result rounds to 0
    const float xc = x > kHi ? kHi : (x < kLo ? kLo : x);  // +-inf clamp too; NaN passes through
    float fx = std::floor(xc * 1.44269504088896341f + 0.5f);
    fx = fx == fx ? fx : 0.f;  // keep the integer conversion defined for NaN
    float r = xc - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    // 2^n in two halves, n in [-150, 128]: each half is a normal float, the product rounds once
    const std::int32_t n = static_cast<std::int32_t>(fx);
    const std::int32_t n1 = n >> 1;
    const float y = p * pow2i(n1) * pow2i(n - n1);
    return x == x ? y : x;
}

inline float erf_approx(float x) {
    constexpr float kP = 0.3275911f;
    constexpr float kA1 = 0.254829592f;
    constexpr float kA2 = -0.284496736f;
    constexpr float kA3 = 1.421413741f;
    constexpr float kA4 = -1.453152027f;
    constexpr float kA5 = 1.061405429f;
    const float ax = std::fabs(x);
    const float t = 1.f / (kP * ax + 1.f);
    const float poly = ((((kA5 * t + kA4) * t + kA3) * t + kA2) * t + kA1) * t;
    const float e = 1.f - poly * exp_approx(-ax * ax);
    return x < 0.f ? -e : e;  // NaN: poly and e are NaN
}

}  // namespace cpu
}  // namespace arunet

// cpu/conv2d.cpp — class Conv2d (declared in cpu/conv2d.h), one convolution layer over its ConvCores, and
// the helpers of the upsampling convolution.
//
// Note [split input]: conv(cat[x, x2]) over channels equals conv(x, w[:, :C1]) + conv(x2, w[:, C1:]).
// forward_fused with x2 runs the second block into y (no bias) and then the first with a leading
// Sum post-op, so a concatenation is never built (oneDNN's jit kernels refuse strided channel slices
// of a wider tensor: they fall back to ref:any). The weight blocks are sliced (and folded) from the
// user's OIHW weights into plain buffers, then reordered like any weights.
//
// Note [upsampling convolution]: y = conv3x3(up2(x)), pad 1, with up2 nearest-neighbour: each output
// pixel sees only 2x2 distinct input pixels. Output rows 2A-1 and 2A both read input rows A-1 and A:
// row 2A-1 with taps (w0 + w1, w2), row 2A with (w0, w1 + w2) (w0..w2 the 3x3 kernel's rows; same for
// columns). So one 2x2 convolution, pad 1, from C to 4 x OC channels (phase p = 2 pi + pj, pi = 0 for
// row 2A-1, 1 for row 2A) computes z [N, H+1, W+1, 4 OC], and y[n, Y, X, o] = z[n, (Y+1)/2, (X+1)/2,
// 2 ((Y+1)&1) + ((X+1)&1), o] (shuffle; the rows and columns -1 and 2H of z are never read). That is
// 16 instead of 36 multiply-accumulates per input pixel and output channel (x 0.44), no upsampled
// tensor, and the same result up to the rounding of the summed taps. Backward: dz = unshuffle(dy)
// (zeros where z is never read), dx = backward_data(dz) (the upsampling's backward included),
// dw = the adjoint of the tap sums applied to backward_weights(dz), db = sum of the 4 phases' db.

#include <memory>
#include <string>
#include <vector>

#include "cpu/conv2d.h"

namespace arunet {
namespace cpu {

// upsampling convolution helpers (Note [upsampling convolution])

/** Which 3x3 kernel rows (0, 1, 2) phase pi sums into 2x2 tap a: {first, last} inclusive. */
inline void up2_taps(int pi, int a, int& first, int& last) {
    // pi = 0 (output row 2A-1): tap 0 = w0 + w1, tap 1 = w2; pi = 1 (row 2A): tap 0 = w0, tap 1 = w1 + w2
    if (pi == 0) {
        first = a == 0 ? 0 : 2;
        last = a == 0 ? 1 : 2;
    } else {
        first = a == 0 ? 0 : 1;
        last = a == 0 ? 0 : 2;
    }
}

/**
 * w4[(2 pi + pj) OC + o, c, a, b] = scale[o] * sum of w[o, c, kh, kw] over the taps (pi, a) x (pj, b)
 * merge (scale null: 1).
 */
inline void up2_weights(float* w4,            // (4 OC, IC, 2, 2)
                        const float* w,       // (OC, IC, 3, 3)
                        const float* scale,   // (OC) or null
                        std::int64_t OC, std::int64_t IC) {
#pragma omp parallel for if (OC * IC >= 4096) schedule(static)
    for (std::int64_t o = 0; o < OC; o++) {
        const float s = scale != nullptr ? scale[o] : 1.f;
        for (int pi = 0; pi < 2; pi++) {
            for (int pj = 0; pj < 2; pj++) {
                float* dst = w4 + ((2 * pi + pj) * OC + o) * IC * 4;
                for (std::int64_t c = 0; c < IC; c++) {
                    const float* k = w + (o * IC + c) * 9;
                    for (int a = 0; a < 2; a++) {
                        int h0, h1;
                        up2_taps(pi, a, h0, h1);
                        for (int b = 0; b < 2; b++) {
                            int w0, w1;
                            up2_taps(pj, b, w0, w1);
                            float sum = 0.f;
                            for (int kh = h0; kh <= h1; kh++) {
                                for (int kw = w0; kw <= w1; kw++) sum += k[kh * 3 + kw];
                            }
                            dst[c * 4 + a * 2 + b] = sum * s;
                        }
                    }
                }
            }
        }
    }
}

/** The adjoint of up2_weights (scale 1): dw[o, c, kh, kw] = sum of the dw4 taps that kh, kw fed. */
inline void up2_weights_adjoint(float* dw,          // (OC, IC, 3, 3)
                                const float* dw4,   // (4 OC, IC, 2, 2)
                                std::int64_t OC, std::int64_t IC) {
#pragma omp parallel for if (OC * IC >= 4096) schedule(static)
    for (std::int64_t o = 0; o < OC; o++) {
        for (std::int64_t c = 0; c < IC; c++) {
            float* k = dw + (o * IC + c) * 9;
            double acc[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
            for (int pi = 0; pi < 2; pi++) {
                for (int pj = 0; pj < 2; pj++) {
                    const float* src = dw4 + (((2 * pi + pj) * OC + o) * IC + c) * 4;
                    for (int a = 0; a < 2; a++) {
                        int h0, h1;
                        up2_taps(pi, a, h0, h1);
                        for (int b = 0; b < 2; b++) {
                            int w0, w1;
                            up2_taps(pj, b, w0, w1);
                            for (int kh = h0; kh <= h1; kh++) {
                                for (int kw = w0; kw <= w1; kw++) acc[kh * 3 + kw] += src[a * 2 + b];
                            }
                        }
                    }
                }
            }
            for (int i = 0; i < 9; i++) k[i] = float(acc[i]);
        }
    }
}

/** y[n, Y, X, o] = z[n, (Y+1)/2, (X+1)/2, 2((Y+1)&1) + ((X+1)&1), o]. */
inline void up2_shuffle(float* y,         // (N, 2H, 2W, OC)
                        const float* z,   // (N, H+1, W+1, 4, OC)
                        std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t OC) {
    const std::int64_t OH = 2 * H, OW = 2 * W;
#pragma omp parallel for if (N * OH * OW * OC >= kParallelGrain) schedule(static)
    for (std::int64_t row = 0; row < N * OH; row++) {
        const std::int64_t n = row / OH, Y = row % OH;
        const std::int64_t A = (Y + 1) >> 1, pi = (Y + 1) & 1;
        const float* zr = z + ((n * (H + 1) + A) * (W + 1)) * 4 * OC;
        float* yr = y + row * OW * OC;
        for (std::int64_t X = 0; X < OW; X++) {
            const std::int64_t B = (X + 1) >> 1, pj = (X + 1) & 1;
            const float* src = zr + (B * 4 + 2 * pi + pj) * OC;
            float* dst = yr + X * OC;
#pragma omp simd
            for (std::int64_t o = 0; o < OC; o++) dst[o] = src[o];
        }
    }
}

/** The adjoint of up2_shuffle: dz gets dy where z was read, zero elsewhere. */
inline void up2_unshuffle(float* dz,         // (N, H+1, W+1, 4, OC)
                          const float* dy,   // (N, 2H, 2W, OC)
                          std::int64_t N, std::int64_t H, std::int64_t W, std::int64_t OC) {
    const std::int64_t OH = 2 * H, OW = 2 * W;
#pragma omp parallel for if (N * OH * OW * OC >= kParallelGrain) schedule(static)
    for (std::int64_t row = 0; row < N * (H + 1); row++) {
        const std::int64_t n = row / (H + 1), A = row % (H + 1);
        float* zr = dz + row * (W + 1) * 4 * OC;
        for (std::int64_t B = 0; B <= W; B++) {
            for (int pi = 0; pi < 2; pi++) {
                const std::int64_t Y = 2 * A - 1 + pi;
                for (int pj = 0; pj < 2; pj++) {
                    const std::int64_t X = 2 * B - 1 + pj;
                    float* dst = zr + (B * 4 + 2 * pi + pj) * OC;
                    if (Y < 0 || Y >= OH || X < 0 || X >= OW) {
                        for (std::int64_t o = 0; o < OC; o++) dst[o] = 0.f;
                    } else {
                        const float* src = dy + ((n * OH + Y) * OW + X) * OC;
#pragma omp simd
                        for (std::int64_t o = 0; o < OC; o++) dst[o] = src[o];
                    }
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------------
// Conv2d: one layer

Conv2d::Conv2d(CpuContext& ctx, std::int64_t ic, std::int64_t oc, std::int64_t kh, std::int64_t kw, std::int64_t sh,
               std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t dh, std::int64_t dw, std::int64_t groups,
               bool bias, bool up2)
    : ctx_(ctx), ic_(ic), oc_(oc), kh_(kh), kw_(kw), sh_(sh), sw_(sw), ph_(ph), pw_(pw), dh_(dh), dw_(dw),
      groups_(groups), bias_(bias), up2_(up2) {
    if (up2 && !(kh == 3 && kw == 3 && sh == 1 && sw == 1 && ph == 1 && pw == 1 && dh == 1 && dw == 1 && groups == 1)) {
        fail("conv2d", "an upsampling convolution must be 3x3, stride 1, padding 1, dilation 1, groups 1");
    }
    fused_bias_.resize(std::size_t(4 * oc));
}

void Conv2d::forward(float* y,              // (N, OH, OW, OC)
                     const float* x,        // (N, H, W, IC)
                     const float* w,        // (OC, IC / G, KH, KW)
                     std::int64_t w_id, std::int64_t w_version,
                     const float* b,        // (OC) or null
                     std::int64_t n, std::int64_t h, std::int64_t wd, bool training, bool bf16) {
    if (up2_) {
        ConvCore& c = core(kUp, bf16);
        float* z = up2_tmp(n, h, wd);
        c.forward(z, x, up2_tag(w, w_id, w_version, 0), up2_source(w, nullptr),
                  bias_ ? up2_bias(b, nullptr, nullptr) : nullptr, n, h, wd, training);
        up2_shuffle(y, z, n, h, wd, oc_);
        return;
    }
    ConvCore& c = core(kMain, bf16);
    c.forward(y, x, plain_tag(w, w_id, w_version), [w] { return w; }, b, n, h, wd, training);
}

void Conv2d::backward_data(float* dx,          // (N, H, W, IC)
                           const float* dy,    // (N, OH, OW, OC)
                           const float* w,     // (OC, IC / G, KH, KW)
                           std::int64_t w_id, std::int64_t w_version, std::int64_t n, std::int64_t h, std::int64_t wd,
                           bool bf16) {
    if (up2_) {
        ConvCore& c = core(kUp, bf16);
        float* dz = up2_tmp(n, h, wd);
        up2_unshuffle(dz, dy, n, h, wd, oc_);
        c.backward_data(dx, dz, up2_tag(w, w_id, w_version, 0), up2_source(w, nullptr), n, h, wd);
        return;
    }
    core(kMain, bf16).backward_data(dx, dy, plain_tag(w, w_id, w_version), [w] { return w; }, n, h, wd);
}

void Conv2d::backward_weights(float* dw,          // (OC, IC / G, KH, KW)
                              float* db,          // (OC) or null
                              const float* x,     // (N, H, W, IC)
                              const float* dy,    // (N, OH, OW, OC)
                              std::int64_t n, std::int64_t h, std::int64_t wd, bool bf16) {
    if (up2_) {
        ConvCore& c = core(kUp, bf16);
        float* dz = up2_tmp(n, h, wd);
        up2_unshuffle(dz, dy, n, h, wd, oc_);
        float* dw4 = ctx_.conv_weights.as<float>(std::size_t(4 * oc_ * ic_ * 4));
        if (bias_) up2_db_.resize(std::size_t(4 * oc_));
        c.backward_weights(dw4, bias_ ? up2_db_.data() : nullptr, x, dz, n, h, wd);
        up2_weights_adjoint(dw, dw4, oc_, ic_);
        if (bias_ && db != nullptr) {
            for (std::int64_t o = 0; o < oc_; o++) {
                db[o] = float(double(up2_db_[o]) + up2_db_[oc_ + o] + up2_db_[2 * oc_ + o] + up2_db_[3 * oc_ + o]);
            }
        }
        return;
    }
    core(kMain, bf16).backward_weights(dw, db, x, dy, n, h, wd);
}

void Conv2d::forward_fused(float* y, const float* x, const float* x2, std::int64_t c1, const float* w,
                           std::int64_t w_id, std::int64_t w_version, const float* b, const float* scale,
                           const float* shift, std::int64_t fold, int recipe, const float* const* operands,
                           std::int64_t n, std::int64_t h, std::int64_t wd, bool bf16) {
    const bool folded = scale != nullptr;
    if (up2_) {
        for (int i = 0; i < kMaxPostOps; i++) {
            const int op = (recipe >> (4 * i)) & 15;
            if (op == kPostSum || op == kPostMul || op == kPostAdd || op == kPostAffine) {
                fail("conv2d.forwardFused", "an upsampling convolution takes activation post-ops only");
            }
        }
        ConvCore& c = core(kUpFused, bf16);
        float* z = up2_tmp(n, h, wd);
        c.forward_post(z, x, up2_tag(w, w_id, w_version, folded ? fold : 0), up2_source(w, scale),
                       up2_bias(b, scale, shift), recipe, operands, n, h, wd);
        up2_shuffle(y, z, n, h, wd, oc_);
        return;
    }
    const float* bias = fused_bias(b, scale, shift);
    const WeightTag tag{w_id, w_version, folded ? fold : 0, 1, w};
    if (x2 == nullptr) {
        core(kFused, bf16).forward_post(y, x, tag, fold_source(w, scale, 0, ic_ / groups_), bias, recipe, operands,
                                        n, h, wd);
        return;
    }
    if (groups_ != 1) fail("conv2d.forwardFused", "a split input needs groups == 1");
    if (c1 <= 0 || c1 >= ic_) fail("conv2d.forwardFused", "split point ", c1, " outside (0, ", ic_, ")");
    for (int i = 0; i < kMaxPostOps; i++) {
        if (((recipe >> (4 * i)) & 15) == kPostSum) fail("conv2d.forwardFused", "a split input takes no Sum post-op");
    }
    if ((recipe >> (4 * (kMaxPostOps - 1))) != 0) fail("conv2d.forwardFused", "recipe too long for a split input");
    if (split_c1_ != c1) {
        for (auto& c : split_) c.reset();
        split_c1_ = c1;
    }
    // second block first, into y, without bias; then the first block adds it (leading Sum)
    split_core(false, bf16).forward_post(y, x2, tag, fold_source(w, scale, c1, ic_ - c1), nullptr, kPostEnd,
                                         nullptr, n, h, wd);
    split_core(true, bf16).forward_post(y, x, tag, fold_source(w, scale, 0, c1), bias, (recipe << 4) | kPostSum,
                                        operands, n, h, wd);
}

std::string Conv2d::implementation(Pass pass, int recipe, bool bf16, std::int64_t n, std::int64_t h, std::int64_t wd) {
    if (recipe >= 0) return core(up2_ ? kUpFused : kFused, bf16).implementation(pass, recipe, n, h, wd);
    return core(up2_ ? kUp : kMain, bf16).implementation(pass, -1, n, h, wd);
}

std::int64_t Conv2d::weight_reorders() const {
    std::int64_t s = 0;
    for (const auto& c : cores_) {
        if (c) s += c->weight_reorders();
    }
    for (const auto& c : split_) {
        if (c) s += c->weight_reorders();
    }
    return s;
}

ConvCore& Conv2d::core(Role role, bool bf16) {
    std::unique_ptr<ConvCore>& c = cores_[2 * role + (bf16 ? 1 : 0)];
    if (!c) {
        const bool bias = role == kFused || role == kUpFused || bias_;
        if (role == kUp || role == kUpFused) {
            c = std::make_unique<ConvCore>(ctx_, ic_, 4 * oc_, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, bias, bf16);
        } else {
            c = std::make_unique<ConvCore>(ctx_, ic_, oc_, kh_, kw_, sh_, sw_, ph_, ph_, pw_, pw_, dh_, dw_, groups_,
                                           bias, bf16);
        }
    }
    return *c;
}

ConvCore& Conv2d::split_core(bool first, bool bf16) {
    std::unique_ptr<ConvCore>& c = split_[(first ? 0 : 2) + (bf16 ? 1 : 0)];
    if (!c) {
        const std::int64_t ic = first ? split_c1_ : ic_ - split_c1_;
        c = std::make_unique<ConvCore>(ctx_, ic, oc_, kh_, kw_, sh_, sw_, ph_, ph_, pw_, pw_, dh_, dw_, 1, first,
                                       bf16);
    }
    return *c;
}

WeightTag Conv2d::plain_tag(const float* w, std::int64_t id, std::int64_t version) {
    return WeightTag{id, version, 0, 0, w};
}

WeightTag Conv2d::up2_tag(const float* w, std::int64_t id, std::int64_t version, std::int64_t fold) {
    return WeightTag{id, version, fold, 1, w};
}

WeightSource Conv2d::fold_source(const float* w, const float* scale, std::int64_t c0, std::int64_t cn) {
    return [this, w, scale, c0, cn]() -> const float* {
        const std::int64_t per_in = kh_ * kw_;
        const std::int64_t in_total = ic_ / groups_;
        if (scale == nullptr && c0 == 0 && cn == in_total) return w;  // the user's weights as they are
        float* dst = ctx_.conv_weights.as<float>(std::size_t(oc_ * cn * per_in));
        const std::int64_t O = oc_;
#pragma omp parallel for if (O * cn * per_in >= kParallelGrain) schedule(static)
        for (std::int64_t o = 0; o < O; o++) {
            const float s = scale != nullptr ? scale[o] : 1.f;
            const float* src = w + (o * in_total + c0) * per_in;
            float* d = dst + o * cn * per_in;
            for (std::int64_t i = 0; i < cn * per_in; i++) d[i] = src[i] * s;
        }
        return dst;
    };
}

WeightSource Conv2d::up2_source(const float* w, const float* scale) {
    return [this, w, scale]() -> const float* {
        float* w4 = ctx_.conv_weights.as<float>(std::size_t(4 * oc_ * ic_ * 4));
        up2_weights(w4, w, scale, oc_, ic_);
        return w4;
    };
}

const float* Conv2d::fused_bias(const float* b, const float* scale, const float* shift) {
    for (std::int64_t o = 0; o < oc_; o++) {
        const float bo = b != nullptr ? b[o] : 0.f;
        const float so = shift != nullptr ? shift[o] : 0.f;
        fused_bias_[o] = scale != nullptr ? bo * scale[o] + so : bo + so;
    }
    return fused_bias_.data();
}

const float* Conv2d::up2_bias(const float* b, const float* scale, const float* shift) {
    const float* one = fused_bias(b, scale, shift);
    for (int p = 3; p >= 0; p--) {
        for (std::int64_t o = 0; o < oc_; o++) fused_bias_[p * oc_ + o] = one[o];
    }
    return fused_bias_.data();
}

float* Conv2d::up2_tmp(std::int64_t n, std::int64_t h, std::int64_t w) {
    return ctx_.conv_tmp.as<float>(std::size_t(n * (h + 1) * (w + 1) * 4 * oc_));
}

}  // namespace cpu
}  // namespace arunet

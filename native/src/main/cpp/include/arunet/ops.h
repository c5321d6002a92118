// arunet/ops.h — the native entry points of the CPU backend, bound to Java by JavaCPP
// (org.arunet.jni.ArunetNative maps each function here one to one).
//
// Every entry takes the backend's CpuContext first (its thread count is made current on the calling
// thread, and its workspaces serve the reduction kernels), then arguments in the order
// outputs -> saved statistics -> inputs -> parameters -> sizes, with a shape comment per pointer.
// Entries re-check what would make a kernel read or write out of bounds (null pointers, sizes) and
// throw std::invalid_argument naming the op and the sizes; Java has validated shapes, dtypes and
// aliasing before the call. Errors never print, exit or abort: JavaCPP turns a C++ exception into a
// java.lang.RuntimeException carrying what(), which CpuBackend wraps in ArunetException.
//
// The kernels themselves live in ../../cpu/<family>.h (header-only, compiled with the generated JNI file),
// except the convolution, declared in cpu/conv2d.h and defined in cpu/conv_core.cpp and cpu/conv2d.cpp
// (translation units of their own, listed in native/pom.xml):
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "cpu/common.h"       // CpuContext, Buffer, fail, ARUNET_REQUIRE
#include "cpu/activation.h"   // relu, gelu, sigmoid forward / backward (uses cpu/mathfun.h)
#include "cpu/adam.h"         // adam_step
#include "cpu/batchnorm.h"    // batchnorm_forward_train / _eval, batchnorm_backward
#include "cpu/conv2d.h"       // class Conv2d (oneDNN)
#include "cpu/elementwise.h"  // copy, fill, add, scale, sum_of_squares, broadcasting mul
#include "cpu/linear.h"       // linear_forward / _backward
#include "cpu/loss.h"         // softmax_forward, cross_entropy_dice, focal_tversky
#include "cpu/pool.h"         // maxpool, globalpool, channelmaxmean
#include "cpu/resample.h"     // upsample2x, concat / split channels

namespace arunet {

using std::int64_t;

namespace detail {

inline CpuContext& enter(CpuContext* ctx, const char* op) {
    if (ctx == nullptr) fail(op, "the CPU context is null (backend closed?)");
    ctx->enter();
    return *ctx;
}

inline void need(const void* p, const char* op, const char* name) {
    if (p == nullptr) fail(op, name, " is null");
}

inline void sizes_ok(const char* op, std::initializer_list<int64_t> sizes) {
    for (int64_t s : sizes) {
        if (s <= 0) {
            std::ostringstream all;
            for (int64_t v : sizes) all << ' ' << v;
            fail(op, "sizes must be positive, got", all.str());
        }
    }
}

}  // namespace detail

// ----------------------------------------------------------------------------------------------------
// context

/** A context for `threads` OpenMP threads (our kernels and oneDNN). */
inline CpuContext* context_create(int threads) {
    ARUNET_REQUIRE(threads >= 1 && threads <= cpu::kMaxThreads, "context_create", "threads must be in [1, ",
                   cpu::kMaxThreads, "], got ", threads);
    return new CpuContext(threads);
}

inline void context_destroy(CpuContext* ctx) { delete ctx; }

inline void context_set_threads(CpuContext* ctx, int threads) {
    detail::need(ctx, "context_set_threads", "ctx");
    ARUNET_REQUIRE(threads >= 1 && threads <= cpu::kMaxThreads, "context_set_threads", "threads must be in [1, ",
                   cpu::kMaxThreads, "], got ", threads);
    ctx->threads = threads;
}

/** Threads an OpenMP region entered through this context actually gets. */
inline int context_region_threads(CpuContext* ctx) {
    detail::enter(ctx, "context_region_threads");
    int n = 1;
#pragma omp parallel
    {
#pragma omp single
        n = omp_get_num_threads();
    }
    return n;
}

/**
 * True when oneDNN runs bf16 convolutions with a native kernel on this CPU (AVX512-BF16 or AMX):
 * a small bf16 convolution's implementation is not a reference one.
 */
inline bool context_bf16_supported(CpuContext* ctx) {
    detail::enter(ctx, "context_bf16_supported");
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    try {
        dnnl::memory::desc src({1, 32, 8, 8}, dt::bf16, tag::nhwc), w({32, 32, 3, 3}, dt::bf16, tag::any);
        dnnl::memory::desc dst({1, 32, 8, 8}, dt::f32, tag::nhwc);
        dnnl::convolution_forward::primitive_desc pd(ctx->engine, dnnl::prop_kind::forward_inference,
                                                     dnnl::algorithm::convolution_direct, src, w, dst, {1, 1}, {1, 1},
                                                     {1, 1});
        const std::string impl = pd.impl_info_str();
        return impl.find("bf16") != std::string::npos || impl.find("amx") != std::string::npos;
    } catch (const dnnl::error&) {
        return false;
    }
}

/** Bytes held by the context's workspaces (partial sums and the shared oneDNN scratchpad). */
inline int64_t context_workspace_bytes(CpuContext* ctx) {
    detail::need(ctx, "context_workspace_bytes", "ctx");
    return int64_t(ctx->partials.capacity() + ctx->dnnl_scratchpad.capacity() + ctx->conv_weights.capacity() +
                   ctx->conv_tmp.capacity() + ctx->conv_src.capacity() + ctx->conv_blk_src.capacity() +
                   ctx->conv_blk_dst.capacity() + ctx->conv_bwd_weights.capacity() + ctx->conv_dw.capacity());
}

// ----------------------------------------------------------------------------------------------------
// basics

inline void copy_bytes(CpuContext* ctx, void* dst, const void* src, int64_t bytes) {
    const char* op = "copy";
    detail::enter(ctx, op);
    detail::need(dst, op, "dst");
    detail::need(src, op, "src");
    ARUNET_REQUIRE(bytes >= 0, op, "negative size ", bytes);
    cpu::copy_bytes(dst, src, bytes);
}

inline void fill(CpuContext* ctx, float* out, float value, int64_t n) {
    detail::enter(ctx, "fill");
    detail::need(out, "fill", "t");
    ARUNET_REQUIRE(n >= 0, "fill", "negative size ", n);
    cpu::fill(out, value, n);
}

inline void add_forward(CpuContext* ctx, float* y, const float* a, const float* b, int64_t n) {
    detail::enter(ctx, "add");
    detail::need(y, "add", "y");
    detail::need(a, "add", "a");
    detail::need(b, "add", "b");
    ARUNET_REQUIRE(n >= 0, "add", "negative size ", n);
    cpu::add_forward(y, a, b, n);
}

inline void add_inplace(CpuContext* ctx, float* y, const float* x, int64_t n) {
    detail::enter(ctx, "addInPlace");
    detail::need(y, "addInPlace", "y");
    detail::need(x, "addInPlace", "x");
    ARUNET_REQUIRE(n >= 0, "addInPlace", "negative size ", n);
    cpu::add_inplace(y, x, n);
}

inline void scale_forward(CpuContext* ctx, float* y, const float* x, float alpha, int64_t n) {
    detail::enter(ctx, "scale");
    detail::need(y, "scale", "y");
    detail::need(x, "scale", "x");
    ARUNET_REQUIRE(n >= 0, "scale", "negative size ", n);
    cpu::scale_forward(y, x, alpha, n);
}

inline double sum_of_squares(CpuContext* ctx, const float* x, int64_t n) {
    detail::enter(ctx, "sumOfSquares");
    detail::need(x, "sumOfSquares", "x");
    ARUNET_REQUIRE(n >= 0, "sumOfSquares", "negative size ", n);
    return cpu::sum_of_squares(x, n);
}

// ----------------------------------------------------------------------------------------------------
// convolution (oneDNN)

inline cpu::Conv2d* conv2d_create(CpuContext* ctx, int64_t ic, int64_t oc, int64_t kh, int64_t kw, int64_t sh,
                                  int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups,
                                  bool bias, bool up2) {
    const char* op = "conv2d_create";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {ic, oc, kh, kw, sh, sw, dh, dw, groups});
    ARUNET_REQUIRE(ph >= 0 && pw >= 0, op, "negative padding ", ph, "x", pw);
    ARUNET_REQUIRE(ic % groups == 0 && oc % groups == 0, op, "groups ", groups, " must divide in ", ic, " and out ",
                   oc);
    return new cpu::Conv2d(*ctx, ic, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias, up2);
}

inline void conv2d_destroy(cpu::Conv2d* conv) { delete conv; }

namespace detail {
inline void conv_shape_ok(const char* op, const cpu::Conv2d* conv, int64_t n, int64_t h, int64_t w) {
    need(conv, op, "the convolution (closed?)");
    sizes_ok(op, {n, h, w});
    ARUNET_REQUIRE(conv->out_h(h) > 0 && conv->out_w(w) > 0, op, "input ", n, "x", h, "x", w, " is too small");
}
}  // namespace detail

inline void conv2d_forward(CpuContext* ctx, cpu::Conv2d* conv,
                           float* y,        // (N, OH, OW, OC)
                           const float* x,  // (N, H, W, IC)
                           const float* w,  // (OC, IC / G, KH, KW)
                           int64_t w_id, int64_t w_version,
                           const float* b,  // (OC) or null
                           int64_t n, int64_t h, int64_t wd, bool training,
                           bool bf16) {     // bf16 operands, f32 accumulation and output (cpu/conv2d.h, Note [bf16])
    const char* op = "conv2d.forward";
    detail::enter(ctx, op);
    detail::conv_shape_ok(op, conv, n, h, wd);
    detail::need(y, op, "y");
    detail::need(x, op, "x");
    detail::need(w, op, "w");
    conv->forward(y, x, w, w_id, w_version, b, n, h, wd, training, bf16);
}

/**
 * Inference forward with a folded batch norm and a post-op chain (cpu/conv2d.h, Note [post-op
 * recipes]): y = chain(conv(cat[x, x2], w) * scale + (b * scale + shift)).
 */
inline void conv2d_forward_fused(CpuContext* ctx, cpu::Conv2d* conv,
                                 float* y,            // (N, OH, OW, OC); read first with a Sum post-op
                                 const float* x,      // (N, H, W, C1)
                                 const float* x2,     // (N, H, W, IC - C1) or null (then C1 = IC)
                                 int64_t c1,
                                 const float* w,      // (OC, IC / G, KH, KW)
                                 int64_t w_id, int64_t w_version,
                                 const float* b,      // (OC) or null
                                 const float* scale,  // (OC) or null: the folded batch norm's scale
                                 const float* shift,  // (OC) or null: and its shift
                                 int64_t fold,        // tag of (scale, shift) for the weight cache
                                 int recipe,
                                 const float* op0, const float* op1, const float* op2, const float* op3,
                                 int64_t n, int64_t h, int64_t wd, bool bf16) {
    const char* op = "conv2d.forwardFused";
    detail::enter(ctx, op);
    detail::conv_shape_ok(op, conv, n, h, wd);
    detail::need(y, op, "y");
    detail::need(x, op, "x");
    detail::need(w, op, "w");
    ARUNET_REQUIRE((scale == nullptr) == (shift == nullptr), op, "scale and shift come together");
    const float* operands[cpu::kMaxPostOperands] = {op0, op1, op2, op3};
    const int used = cpu::post_operands(recipe);
    ARUNET_REQUIRE(used <= cpu::kMaxPostOperands, op, "recipe ", recipe, " needs ", used, " operands, at most ",
                   cpu::kMaxPostOperands);
    for (int i = 0; i < used; i++) detail::need(operands[i], op, "a post-op operand");
    conv->forward_fused(y, x, x2, c1, w, w_id, w_version, b, scale, shift, fold, recipe, operands, n, h, wd, bf16);
}

inline void conv2d_backward_data(CpuContext* ctx, cpu::Conv2d* conv,
                                 float* dx,        // (N, H, W, IC)
                                 const float* dy,  // (N, OH, OW, OC)
                                 const float* w,   // (OC, IC / G, KH, KW)
                                 int64_t w_id, int64_t w_version, int64_t n, int64_t h, int64_t wd, bool bf16) {
    const char* op = "conv2d.backwardData";
    detail::enter(ctx, op);
    detail::conv_shape_ok(op, conv, n, h, wd);
    detail::need(dx, op, "dx");
    detail::need(dy, op, "dy");
    detail::need(w, op, "w");
    conv->backward_data(dx, dy, w, w_id, w_version, n, h, wd, bf16);
}

inline void conv2d_backward_weights(CpuContext* ctx, cpu::Conv2d* conv,
                                    float* dw,        // (OC, IC / G, KH, KW)
                                    float* db,        // (OC) or null
                                    const float* x,   // (N, H, W, IC)
                                    const float* dy,  // (N, OH, OW, OC)
                                    int64_t n, int64_t h, int64_t wd, bool bf16) {
    const char* op = "conv2d.backwardWeights";
    detail::enter(ctx, op);
    detail::conv_shape_ok(op, conv, n, h, wd);
    detail::need(dw, op, "dw");
    detail::need(x, op, "x");
    detail::need(dy, op, "dy");
    conv->backward_weights(dw, db, x, dy, n, h, wd, bf16);
}

/**
 * pass: 0 forward inference, 1 forward training, 2 backward data, 3 backward weights; recipe >= 0:
 * the fused inference forward with that post-op recipe (f32, or bf16 when asked).
 */
inline std::string conv2d_implementation(CpuContext* ctx, cpu::Conv2d* conv, int pass, int recipe, bool bf16,
                                         int64_t n, int64_t h, int64_t wd) {
    const char* op = "conv2d.implementation";
    detail::enter(ctx, op);
    detail::conv_shape_ok(op, conv, n, h, wd);
    ARUNET_REQUIRE(pass >= 0 && pass <= 3, op, "pass must be 0..3, got ", pass);
    return conv->implementation(static_cast<cpu::Conv2d::Pass>(pass), recipe, bf16, n, h, wd);
}

inline int64_t conv2d_weight_reorders(cpu::Conv2d* conv) {
    detail::need(conv, "conv2d.weightReorders", "the convolution");
    return conv->weight_reorders();
}

// ----------------------------------------------------------------------------------------------------
// batch normalisation

inline void batchnorm_forward_train(CpuContext* ctx,
                                    float* y,             // (M, C)
                                    float* save_mean,     // (C)
                                    float* save_invstd,   // (C)
                                    float* running_mean,  // (C), updated
                                    float* running_var,   // (C), updated
                                    const float* x,       // (M, C)
                                    const float* gamma,   // (C)
                                    const float* beta,    // (C)
                                    int64_t M, int64_t C, float momentum, float eps, bool relu) {
    const char* op = "batchNormForward";
    CpuContext& c = detail::enter(ctx, op);
    detail::sizes_ok(op, {M, C});
    ARUNET_REQUIRE(M >= 2, op, "training needs more than one value per channel, got M = ", M, ", C = ", C);
    for (const void* p : {static_cast<const void*>(y), static_cast<const void*>(save_mean),
                          static_cast<const void*>(save_invstd), static_cast<const void*>(running_mean),
                          static_cast<const void*>(running_var), static_cast<const void*>(x),
                          static_cast<const void*>(gamma), static_cast<const void*>(beta)}) {
        detail::need(p, op, "a tensor");
    }
    double* ws = c.partials.as<double>(cpu::batchnorm_workspace_doubles(c.threads, C));
    cpu::batchnorm_forward_train(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta, ws, M, C,
                                 c.threads, momentum, eps, relu);
}

inline void batchnorm_forward_eval(CpuContext* ctx,
                                   float* y,                   // (M, C)
                                   const float* x,             // (M, C)
                                   const float* gamma,         // (C)
                                   const float* beta,          // (C)
                                   const float* running_mean,  // (C)
                                   const float* running_var,   // (C)
                                   int64_t M, int64_t C, float eps, bool relu) {
    const char* op = "batchNormForward";
    CpuContext& c = detail::enter(ctx, op);
    detail::sizes_ok(op, {M, C});
    for (const void* p : {static_cast<const void*>(y), static_cast<const void*>(x), static_cast<const void*>(gamma),
                          static_cast<const void*>(beta), static_cast<const void*>(running_mean),
                          static_cast<const void*>(running_var)}) {
        detail::need(p, op, "a tensor");
    }
    float* coef = c.partials.as<float>(std::size_t(2 * C));
    cpu::batchnorm_forward_eval(y, x, gamma, beta, running_mean, running_var, coef, M, C, eps, relu);
}

inline void batchnorm_backward(CpuContext* ctx,
                               float* dx,                 // (M, C)
                               float* dgamma,             // (C)
                               float* dbeta,              // (C)
                               const float* dy,           // (M, C)
                               const float* x,            // (M, C)
                               const float* y,            // (M, C), or null unless relu
                               const float* gamma,        // (C)
                               const float* save_mean,    // (C)
                               const float* save_invstd,  // (C)
                               int64_t M, int64_t C, bool relu) {
    const char* op = "batchNormBackward";
    CpuContext& c = detail::enter(ctx, op);
    detail::sizes_ok(op, {M, C});
    for (const void* p : {static_cast<const void*>(dx), static_cast<const void*>(dgamma),
                          static_cast<const void*>(dbeta), static_cast<const void*>(dy), static_cast<const void*>(x),
                          static_cast<const void*>(gamma), static_cast<const void*>(save_mean),
                          static_cast<const void*>(save_invstd)}) {
        detail::need(p, op, "a tensor");
    }
    if (relu) detail::need(y, op, "y (needed for the ReLU mask)");
    double* ws = c.partials.as<double>(cpu::batchnorm_workspace_doubles(c.threads, C));
    cpu::batchnorm_backward(dx, dgamma, dbeta, dy, x, y, gamma, save_mean, save_invstd, ws, M, C, c.threads, relu);
}

// ----------------------------------------------------------------------------------------------------
// activations

inline void activation_forward(CpuContext* ctx, float* y, const float* x, int act, int64_t n) {
    const char* op = "activationForward";
    detail::enter(ctx, op);
    ARUNET_REQUIRE(act >= 0 && act <= 3, op, "unknown activation ", act);
    detail::need(y, op, "y");
    detail::need(x, op, "x");
    ARUNET_REQUIRE(n >= 0, op, "negative size ", n);
    cpu::activation_forward(y, x, static_cast<cpu::Act>(act), n);
}

inline void activation_backward(CpuContext* ctx, float* dx, const float* x, const float* y, const float* dy, int act,
                                int64_t n) {
    const char* op = "activationBackward";
    detail::enter(ctx, op);
    ARUNET_REQUIRE(act >= 0 && act <= 3, op, "unknown activation ", act);
    detail::need(dx, op, "dx");
    detail::need(dy, op, "dy");
    if (act == int(cpu::Act::Sigmoid)) detail::need(y, op, "y");
    if (act == int(cpu::Act::Relu) || act == int(cpu::Act::Gelu)) detail::need(x, op, "x");
    ARUNET_REQUIRE(n >= 0, op, "negative size ", n);
    cpu::activation_backward(dx, x, y, dy, static_cast<cpu::Act>(act), n);
}

// ----------------------------------------------------------------------------------------------------
// pooling

namespace detail {
inline void pool_ok(const char* op, int64_t N, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW, int k, int s,
                    int p) {
    sizes_ok(op, {N, H, W, C, k, s});
    ARUNET_REQUIRE(p >= 0 && 2 * p <= k, op, "padding ", p, " must be in [0, kernel / 2] for kernel ", k);
    ARUNET_REQUIRE(OH == (H + 2 * p - k) / s + 1 && OW == (W + 2 * p - k) / s + 1 && OH > 0 && OW > 0, op,
                   "output ", OH, "x", OW, " does not match input ", H, "x", W, " for k=", k, " s=", s, " p=", p);
}
}  // namespace detail

inline void maxpool_forward(CpuContext* ctx, float* y, const float* x, int64_t N, int64_t H, int64_t W, int64_t C,
                            int64_t OH, int64_t OW, int k, int s, int p) {
    const char* op = "maxPoolForward";
    detail::enter(ctx, op);
    detail::pool_ok(op, N, H, W, C, OH, OW, k, s, p);
    detail::need(y, op, "y");
    detail::need(x, op, "x");
    cpu::maxpool_forward(y, x, N, H, W, C, OH, OW, k, s, p);
}

inline void maxpool_backward(CpuContext* ctx, float* dx, const float* x, const float* dy, int64_t N, int64_t H,
                             int64_t W, int64_t C, int64_t OH, int64_t OW, int k, int s, int p) {
    const char* op = "maxPoolBackward";
    detail::enter(ctx, op);
    detail::pool_ok(op, N, H, W, C, OH, OW, k, s, p);
    detail::need(dx, op, "dx");
    detail::need(x, op, "x");
    detail::need(dy, op, "dy");
    cpu::maxpool_backward(dx, x, dy, N, H, W, C, OH, OW, k, s, p);
}

inline void globalpool_forward(CpuContext* ctx, float* max, float* avg, const float* x, int64_t N, int64_t HW,
                               int64_t C) {
    const char* op = "globalPoolForward";
    CpuContext& c = detail::enter(ctx, op);
    detail::sizes_ok(op, {N, HW, C});
    detail::need(x, op, "x");
    double* ws = c.partials.as<double>(cpu::globalpool_workspace_doubles(c.threads, C));
    cpu::globalpool_forward(max, avg, x, ws, N, HW, C, c.threads);
}

inline void globalpool_backward(CpuContext* ctx, float* dx, const float* x, const float* max, const float* dmax,
                                const float* davg, int64_t N, int64_t HW, int64_t C) {
    const char* op = "globalPoolBackward";
    CpuContext& c = detail::enter(ctx, op);
    detail::sizes_ok(op, {N, HW, C});
    detail::need(dx, op, "dx");
    detail::need(x, op, "x");
    if (dmax != nullptr) detail::need(max, op, "max (required with dMax)");
    double* ws = c.partials.as<double>(cpu::globalpool_workspace_doubles(c.threads, C));
    cpu::globalpool_backward(dx, x, max, dmax, davg, ws, N, HW, C, c.threads);
}

inline void channelmaxmean_forward(CpuContext* ctx, float* out, const float* x, int64_t P, int64_t C) {
    const char* op = "channelMaxMeanForward";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {P, C});
    detail::need(out, op, "out");
    detail::need(x, op, "x");
    cpu::channelmaxmean_forward(out, x, P, C);
}

inline void channelmaxmean_backward(CpuContext* ctx, float* dx, const float* x, const float* out, const float* dout,
                                    int64_t P, int64_t C) {
    const char* op = "channelMaxMeanBackward";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {P, C});
    detail::need(dx, op, "dx");
    detail::need(x, op, "x");
    detail::need(out, op, "out");
    detail::need(dout, op, "dOut");
    cpu::channelmaxmean_backward(dx, x, out, dout, P, C);
}

// ----------------------------------------------------------------------------------------------------
// resampling and concatenation

inline void upsample2x_forward(CpuContext* ctx, float* y, const float* x, int64_t N, int64_t H, int64_t W,
                               int64_t C) {
    const char* op = "upsample2xForward";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {N, H, W, C});
    detail::need(y, op, "y");
    detail::need(x, op, "x");
    cpu::upsample2x_forward(y, x, N, H, W, C);
}

inline void upsample2x_backward(CpuContext* ctx, float* dx, const float* dy, int64_t N, int64_t H, int64_t W,
                                int64_t C) {
    const char* op = "upsample2xBackward";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {N, H, W, C});
    detail::need(dx, op, "dx");
    detail::need(dy, op, "dy");
    cpu::upsample2x_backward(dx, dy, N, H, W, C);
}

inline void concat_channels(CpuContext* ctx, float* out, const float* a, const float* b, int64_t P, int64_t Ca,
                            int64_t Cb) {
    const char* op = "concatChannels";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {P, Ca, Cb});
    detail::need(out, op, "out");
    detail::need(a, op, "a");
    detail::need(b, op, "b");
    cpu::concat_channels(out, a, b, P, Ca, Cb);
}

inline void split_channels(CpuContext* ctx, float* da, float* db, const float* dout, int64_t P, int64_t Ca,
                           int64_t Cb) {
    const char* op = "splitChannels";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {P, Ca, Cb});
    detail::need(da, op, "da");
    detail::need(db, op, "db");
    detail::need(dout, op, "dOut");
    cpu::split_channels(da, db, dout, P, Ca, Cb);
}

// ----------------------------------------------------------------------------------------------------
// broadcasting product; mode 0: w like x (n = N HW C elements), 1: w (N HW) per pixel, 2: w (N, C)

inline void mul_forward(CpuContext* ctx, float* y, const float* x, const float* w, int mode, int64_t N, int64_t HW,
                        int64_t C) {
    const char* op = "mulForward";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {N, HW, C});
    detail::need(y, op, "y");
    detail::need(x, op, "x");
    detail::need(w, op, "w");
    switch (mode) {
        case 0: cpu::mul_forward_same(y, x, w, N * HW * C); break;
        case 1: cpu::mul_forward_pixel(y, x, w, N * HW, C); break;
        case 2: cpu::mul_forward_channel(y, x, w, N, HW, C); break;
        default: fail(op, "unknown broadcast mode ", mode);
    }
}

inline void mul_backward(CpuContext* ctx, float* dx, float* dw, const float* dy, const float* x, const float* w,
                         int mode, int64_t N, int64_t HW, int64_t C) {
    const char* op = "mulBackward";
    CpuContext& c = detail::enter(ctx, op);
    detail::sizes_ok(op, {N, HW, C});
    detail::need(dy, op, "dy");
    if (dx != nullptr) detail::need(w, op, "w");
    if (dw != nullptr) detail::need(x, op, "x");
    switch (mode) {
        case 0: cpu::mul_backward_same(dx, dw, dy, x, w, N * HW * C); break;
        case 1: cpu::mul_backward_pixel(dx, dw, dy, x, w, N * HW, C); break;
        case 2: {
            double* ws = c.partials.as<double>(std::size_t(c.threads) * C);
            cpu::mul_backward_channel(dx, dw, ws, dy, x, w, N, HW, C);
            break;
        }
        default: fail(op, "unknown broadcast mode ", mode);
    }
}

// ----------------------------------------------------------------------------------------------------
// linear

inline void linear_forward(CpuContext* ctx, float* y, const float* x, const float* w, const float* b, int64_t N,
                           int64_t In, int64_t Out) {
    const char* op = "linearForward";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {N, In, Out});
    detail::need(y, op, "y");
    detail::need(x, op, "x");
    detail::need(w, op, "w");
    cpu::linear_forward(y, x, w, b, N, In, Out);
}

inline void linear_backward(CpuContext* ctx, float* dx, float* dw, float* db, const float* dy, const float* x,
                            const float* w, int64_t N, int64_t In, int64_t Out) {
    const char* op = "linearBackward";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {N, In, Out});
    detail::need(dw, op, "dw");
    detail::need(dy, op, "dy");
    detail::need(x, op, "x");
    detail::need(w, op, "w");
    cpu::linear_backward(dx, dw, db, dy, x, w, N, In, Out);
}

// ----------------------------------------------------------------------------------------------------
// softmax and loss

inline void softmax_forward(CpuContext* ctx, float* probs, const float* logits, int64_t P, int64_t K) {
    const char* op = "softmax";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {P, K});
    detail::need(probs, op, "probs");
    detail::need(logits, op, "logits");
    cpu::softmax_forward(probs, logits, P, K);
}

inline int64_t find_invalid_target(CpuContext* ctx, const std::int32_t* target, int64_t P, int64_t K) {
    const char* op = "crossEntropyDiceLoss";
    detail::enter(ctx, op);
    detail::sizes_ok(op, {P, K});
    detail::need(target, op, "target");
    return cpu::find_invalid_target(target, P, K);
}

namespace detail {
/** Common checks of the losses; returns the workspace. */
inline double* loss_ok(CpuContext& c, const char* op, const float* logits, const std::int32_t* target, int64_t P,
                       int64_t K) {
    sizes_ok(op, {P, K});
    need(logits, op, "logits");
    need(target, op, "target");
    const int64_t bad = cpu::find_invalid_target(target, P, K);
    ARUNET_REQUIRE(bad < 0, op, "target value ", (bad < 0 ? 0 : target[bad]), " at pixel ", bad,
                   " is outside [0, ", K, ")");
    return c.partials.as<double>(cpu::loss_workspace_doubles(c.threads, K));
}
}  // namespace detail

inline double cross_entropy_dice(CpuContext* ctx, float* dlogits, const float* logits, const std::int32_t* target,
                                 int64_t P, int64_t K, float ce_weight, float dice_weight, float smooth) {
    const char* op = "crossEntropyDiceLoss";
    CpuContext& c = detail::enter(ctx, op);
    double* ws = detail::loss_ok(c, op, logits, target, P, K);
    return cpu::cross_entropy_dice(dlogits, logits, target, ws, P, K, c.threads, ce_weight, dice_weight, smooth);
}

inline double focal_tversky(CpuContext* ctx, float* dlogits, const float* logits, const std::int32_t* target,
                            int64_t P, int64_t K, float alpha, float beta, float gamma, float smooth) {
    const char* op = "focalTverskyLoss";
    CpuContext& c = detail::enter(ctx, op);
    double* ws = detail::loss_ok(c, op, logits, target, P, K);
    return cpu::focal_tversky(dlogits, logits, target, ws, P, K, c.threads, alpha, beta, gamma, smooth);
}

// ----------------------------------------------------------------------------------------------------
// optimizer

inline void adam_step(CpuContext* ctx, float* param, float* m, float* v, const float* grad, int64_t n, float lr,
                      float beta1, float beta2, float eps, float weight_decay, int64_t step) {
    const char* op = "adamStep";
    detail::enter(ctx, op);
    detail::need(param, op, "param");
    detail::need(m, op, "m");
    detail::need(v, op, "v");
    detail::need(grad, op, "grad");
    ARUNET_REQUIRE(n >= 0, op, "negative size ", n);
    ARUNET_REQUIRE(step >= 1, op, "step starts at 1, got ", step);
    cpu::adam_step(param, m, v, grad, n, lr, beta1, beta2, eps, weight_decay, step);
}

}  // namespace arunet

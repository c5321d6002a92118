// cpu/conv2d.h — 2-D convolution (torch.nn.Conv2d semantics) through oneDNN's C++ API: the declarations.
//
// Contents (definitions in two translation units of their own, compiled into the JNI library next to the
// JavaCPP-generated one: see native/pom.xml):
//   class ConvCore  one oneDNN convolution geometry (asymmetric padding allowed), f32 or bf16 inputs:
//                   primitives cached per input shape, weights reordered into the primitives' layouts
//                   and cached per tag, forward (inference, training, or inference with a post-op
//                   chain), backward data, backward weights.                         -> cpu/conv_core.cpp
//   class Conv2d    one convolution layer (created by CpuBackend.conv2d / conv2dUpsampled, freed by
//                   Conv2dOp.close()). Its forward, backward_data and backward_weights run the spec's
//                   core; forward_fused runs the inference path: batch norm folded into the weights,
//                   a post-op chain, optionally the input given as two channel blocks (a concatenation
//                   that is never materialised), optionally bf16. An upsampling layer (up2) computes
//                   conv3x3(upsample2x(x)) from the low-resolution x; see Note [upsampling convolution].
//                   With the shuffle / unshuffle helpers of the upsampling convolution. -> cpu/conv2d.cpp
//
// Notes: [post-op recipes] below; [weights in the primitive's format], [plans], [blocked backward weights],
// [bf16] and [what oneDNN 3.11 picks on this machine] in cpu/conv_core.cpp; [split input] and
// [upsampling convolution] in cpu/conv2d.cpp.
//
// Layouts: activations are NHWC user memory (x, y, dx, dy are bound to oneDNN by pointer, nothing is
// copied); weights and dw are PyTorch's OIHW, which oneDNN sees as oihw (groups == 1) or goihw
// [G, O/G, I/G, KH, KW] (grouped and depthwise; the same bytes). Outputs are overwritten, except with
// a Sum post-op (y += ...), the one accumulation, asked for explicitly.
//
// Note [post-op recipes]: a chain of up to 7 operations, 4 bits each, the first in the lowest bits,
// applied in order to t = conv(x, w) + b (after the folded batch norm): Sum (t += y's previous
// values), Relu, Gelu (erf form), Sigmoid, Mul (t *= a tensor shaped like y), Add (t += a tensor
// shaped like y), Affine (t = t * scale[c] + shift[c], two per-channel operands: a batch norm after
// an activation). Operands are taken in chain order. They map one to one onto oneDNN post-ops
// (sum, eltwise, binary with full-tensor or per-channel src1), which the brgemm, 1x1 and depthwise
// kernels all execute in their epilogue: nothing is written twice.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpu/common.h"

namespace arunet {
namespace cpu {

/** Post-op codes of a recipe (Note [post-op recipes]). */
enum PostOp : int { kPostEnd = 0, kPostSum = 1, kPostRelu = 2, kPostGelu = 3, kPostSigmoid = 4, kPostMul = 5,
                    kPostAdd = 6, kPostAffine = 7 };

constexpr int kMaxPostOps = 7;
constexpr int kMaxPostOperands = 4;

/** Operands a recipe consumes (Mul, Add: one tensor; Affine: scale and shift). */
inline int post_operands(int recipe) {
    int n = 0;
    for (int i = 0; i < kMaxPostOps; i++) {
        const int op = (recipe >> (4 * i)) & 15;
        if (op == kPostMul || op == kPostAdd) n += 1;
        if (op == kPostAffine) n += 2;
    }
    return n;
}

/** What a cached weight buffer was made from (Note [weights in the primitive's format]). */
struct WeightTag {
    std::int64_t id = 0, version = 0, fold = 0, variant = 0;
    const void* address = nullptr;
    bool operator==(const WeightTag& o) const {
        return id == o.id && version == o.version && fold == o.fold && variant == o.variant && address == o.address;
    }
};

/** Fills (if needed) and returns plain weights in the core's user layout. */
using WeightSource = std::function<const float*()>;

// ----------------------------------------------------------------------------------------------------
// ConvCore (cpu/conv_core.cpp)

class ConvCore {
public:
    /** Which primitive of a plan (for implementation queries). */
    enum class Pass : int { ForwardInference = 0, ForwardTraining = 1, BackwardData = 2, BackwardWeights = 3 };

    ConvCore(CpuContext& ctx, std::int64_t ic, std::int64_t oc, std::int64_t kh, std::int64_t kw, std::int64_t sh,
             std::int64_t sw, std::int64_t ph_l, std::int64_t ph_r, std::int64_t pw_l, std::int64_t pw_r,
             std::int64_t dh, std::int64_t dw, std::int64_t groups, bool bias, bool bf16);

    ConvCore(const ConvCore&) = delete;
    ConvCore& operator=(const ConvCore&) = delete;

    std::int64_t ic() const { return ic_; }
    std::int64_t oc() const { return oc_; }
    std::int64_t out_h(std::int64_t h) const { return (h + ph_l_ + ph_r_ - dh_ * (kh_ - 1) - 1) / sh_ + 1; }
    std::int64_t out_w(std::int64_t w) const { return (w + pw_l_ + pw_r_ - dw_ * (kw_ - 1) - 1) / sw_ + 1; }

    /** y = conv(x, w) + b (inference or training primitive). */
    void forward(float* y,          // (N, OH, OW, OC)
                 const float* x,    // (N, H, W, IC)
                 const WeightTag& tag, const WeightSource& weights,
                 const float* b,    // (OC) or null
                 std::int64_t n, std::int64_t h, std::int64_t w, bool training);

    /** y = chain(conv(x, w) + b), Note [post-op recipes]; operands in chain order. */
    void forward_post(float* y, const float* x, const WeightTag& tag, const WeightSource& weights, const float* b,
                      int recipe, const float* const* operands, std::int64_t n, std::int64_t h, std::int64_t w);

    /** dx = conv_transpose(dy, w). */
    void backward_data(float* dx, const float* dy, const WeightTag& tag, const WeightSource& weights,
                       std::int64_t n, std::int64_t h, std::int64_t w);

    /** dw (plain, the core's user layout) and db (or null) from x and dy; Note [blocked backward weights]. */
    void backward_weights(float* dw, float* db, const float* x, const float* dy, std::int64_t n, std::int64_t h,
                          std::int64_t w);

    /** oneDNN's implementation name of one pass (recipe >= 0: the fused forward with that recipe). */
    std::string implementation(Pass pass, int recipe, std::int64_t n, std::int64_t h, std::int64_t w);

    std::int64_t weight_reorders() const { return weight_reorders_; }

    /** Bytes of the weights held in primitive layouts (cached reorders and diff-weight buffers). */
    std::int64_t weight_bytes() const;

private:
    static constexpr std::size_t kMaxPlans = 8;
    static constexpr std::int64_t kTransient = -1;  // weight-cache variant in the shared buffer

    /** Weights reordered into one primitive's layout, tagged with what they were made from. */
    struct WeightCache {
        dnnl::memory::desc md;
        std::int64_t variant = 0;
        dnnl::memory mem;       // owned by oneDNN, allocated once
        dnnl::reorder reorder;  // user layout -> md
        bool valid = false;
        bool transient = false;  // held in the context's shared buffer, reordered at every use
        WeightTag tag;
    };

    /** One primitive with its bound arguments. */
    struct Prim {
        dnnl::primitive prim;
        std::unordered_map<int, dnnl::memory> args;
        dnnl::memory scratchpad;
        std::size_t scratchpad_bytes = 0;
        std::string impl;
        WeightCache* weights_cache = nullptr;  // forward / backward data: where the weights come from
        dnnl::memory dw_buffer;                // backward weights: diff weights in the primitive's layout
        dnnl::reorder dw_reorder;              //   and its reorder to the user layout (empty when equal)
        std::vector<dnnl::memory> operands;    // fused forward: binary post-op operands in chain order
        bool ready = false;
    };

    /** The primitives of one input shape. */
    struct Plan {
        std::int64_t n, h, w, threads;
        dnnl::memory::desc src_md, src_f32_md, dst_md, w_any_md;
        dnnl::memory src, dst;       // x or dx (bf16 cores: the converted copy), y or dy: handles set per call
        dnnl::memory src_f32;        // bf16 cores: the caller's f32 input (or dx, backward data)
        dnnl::reorder to_bf16;       // bf16 cores: src_f32 -> src
        dnnl::memory::desc dst_bf16_md;  // bf16 cores: dy converted for the backward passes
        dnnl::memory dst_bf16;
        dnnl::reorder dst_to_bf16;   // bf16 cores: dst (the caller's f32 dy) -> dst_bf16
        dnnl::memory::dims strides, dilates, pad_l, pad_r;
        bool have_train_pd = false;
        dnnl::convolution_forward::primitive_desc train_pd;  // hint for the backward primitives
        Prim fwd_inf, fwd_train, bwd_data, bwd_weights;
        std::vector<std::pair<int, std::unique_ptr<Prim>>> fused;
        bool blocked_bwd_w = false;        // Note [blocked backward weights]
        dnnl::memory src_blk, dst_blk;     //   x and dy in the primitive's blocked layouts (context buffers)
        dnnl::reorder src_to_blk, dst_to_blk;

        const dnnl::convolution_forward::primitive_desc& training_pd(ConvCore& c);
        Prim& fwd_inf_prim(ConvCore& c);
        Prim& fwd_train_prim(ConvCore& c);
        Prim& fused_prim(ConvCore& c, int recipe);
        Prim& bwd_data_prim(ConvCore& c);
        Prim& bwd_weights_prim(ConvCore& c);
    };

    /** Note [blocked backward weights] (cpu/conv_core.cpp). */
    bool blocked_backward_weights() const;
    dnnl::primitive_attr attr() const;
    /** oneDNN post-ops of a recipe; operand_mds receives the binary operands' descriptors in order. */
    dnnl::post_ops post_ops(int recipe, const dnnl::memory::desc& dst_md,
                            std::vector<dnnl::memory::desc>& operand_mds) const;
    Plan& plan(std::int64_t n, std::int64_t h, std::int64_t w);
    std::unique_ptr<Plan> make_plan(std::int64_t n, std::int64_t h, std::int64_t w);
    dnnl::convolution_forward::primitive_desc forward_pd(const Plan& p, dnnl::prop_kind kind,
                                                         const dnnl::primitive_attr& a);
    void bind_forward(Plan& p, Prim& prim, const dnnl::convolution_forward::primitive_desc& pd);
    void finish(Prim& prim, dnnl::primitive primitive, const dnnl::memory::desc& scratch_md, const char* impl);
    /**
     * The cache buffer for weights in layout md (created on first request, kept for the core's life).
     * A primitive is bound to the variant-0 buffer of its layout; sync_weights switches it to the
     * variant its tag asks for (Note [weights in the primitive's format]).
     */
    WeightCache& weight_cache(const dnnl::memory::desc& md, std::int64_t variant);
    /**
     * A memory object for diff weights in layout md; its data lives in the context's shared
     * conv_dw buffer (set at each use: the diff weights are reordered to the caller's layout at once).
     */
    dnnl::memory dw_buffer(const dnnl::memory::desc& md);
    /**
     * Points the primitive at the cache of its layout and the tag's variant, refreshing that cache
     * from the weight source when its tag differs.
     */
    void sync_weights(WeightCache*& bound, const WeightTag& tag, const WeightSource& weights);
    void bind_src(Plan& p, const float* x);
    /** bf16 cores: dy (f32, the caller's) converted into the context's conv_dst buffer. */
    void bind_dy_bf16(Plan& p, const float* dy);
    void run(Prim& prim);

    CpuContext& ctx_;
    const std::int64_t ic_, oc_, kh_, kw_, sh_, sw_, ph_l_, ph_r_, pw_l_, pw_r_, dh_, dw_, groups_;
    const bool bias_, bf16_;
    dnnl::memory::desc user_w_md_, bias_md_;  // bias_md_ stays the zero descriptor without bias
    dnnl::memory user_w_mem_, user_dw_mem_, bias_mem_;
    std::vector<std::unique_ptr<Plan>> plans_;
    std::vector<std::unique_ptr<WeightCache>> weight_caches_;
    std::int64_t weight_reorders_ = 0;
};

// ----------------------------------------------------------------------------------------------------
// Conv2d: one layer (cpu/conv2d.cpp)

class Conv2d {
public:
    /** Which primitive of a plan (for implementation queries). */
    using Pass = ConvCore::Pass;

    Conv2d(CpuContext& ctx, std::int64_t ic, std::int64_t oc, std::int64_t kh, std::int64_t kw, std::int64_t sh,
           std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t dh, std::int64_t dw, std::int64_t groups,
           bool bias, bool up2);

    Conv2d(const Conv2d&) = delete;
    Conv2d& operator=(const Conv2d&) = delete;

    bool up2() const { return up2_; }

    std::int64_t out_h(std::int64_t h) const { return up2_ ? 2 * h : (h + 2 * ph_ - dh_ * (kh_ - 1) - 1) / sh_ + 1; }
    std::int64_t out_w(std::int64_t w) const { return up2_ ? 2 * w : (w + 2 * pw_ - dw_ * (kw_ - 1) - 1) / sw_ + 1; }

    /** y = conv(x, w) + b (up2: conv(up2(x), w) + b). */
    void forward(float* y,              // (N, OH, OW, OC)
                 const float* x,        // (N, H, W, IC)
                 const float* w,        // (OC, IC / G, KH, KW)
                 std::int64_t w_id, std::int64_t w_version,
                 const float* b,        // (OC) or null
                 std::int64_t n, std::int64_t h, std::int64_t wd, bool training, bool bf16 = false);

    /** dx = d loss / d x. */
    void backward_data(float* dx,          // (N, H, W, IC)
                       const float* dy,    // (N, OH, OW, OC)
                       const float* w,     // (OC, IC / G, KH, KW)
                       std::int64_t w_id, std::int64_t w_version, std::int64_t n, std::int64_t h, std::int64_t wd,
                       bool bf16 = false);

    /** dw = d loss / d w (OIHW), db = sum of dy over N, H, W. */
    void backward_weights(float* dw,          // (OC, IC / G, KH, KW)
                          float* db,          // (OC) or null
                          const float* x,     // (N, H, W, IC)
                          const float* dy,    // (N, OH, OW, OC)
                          std::int64_t n, std::int64_t h, std::int64_t wd, bool bf16 = false);

    /**
     * Inference: y = chain(conv(cat[x, x2]) * scale + (b * scale + shift)), Note [post-op recipes],
     * [split input], [upsampling convolution], [bf16]. x2 null: one input; c1 = channels of x.
     * scale and shift (a folded batch norm) may both be null; fold tags them for the weight cache.
     */
    void forward_fused(float* y, const float* x, const float* x2, std::int64_t c1, const float* w,
                       std::int64_t w_id, std::int64_t w_version, const float* b, const float* scale,
                       const float* shift, std::int64_t fold, int recipe, const float* const* operands,
                       std::int64_t n, std::int64_t h, std::int64_t wd, bool bf16);

    /** oneDNN's implementation name for one pass (recipe >= 0: the fused forward with that recipe, f32 or bf16). */
    std::string implementation(Pass pass, int recipe, bool bf16, std::int64_t n, std::int64_t h, std::int64_t wd);

    /** Number of weight reorders done so far (each is one weight-cache refresh), over every core. */
    std::int64_t weight_reorders() const;

private:
    // cores: kMain (the spec: training passes), kFused (the spec with a bias slot for a folded batch
    // norm: inference), kUp / kUpFused (the 2x2 phase convolution of an upsampling layer), each f32 or bf16
    enum Role { kMain = 0, kFused = 1, kUp = 2, kUpFused = 3 };

    ConvCore& core(Role role, bool bf16);

    /** The core of the first (x, with the bias) or second (x2) channel block of a split input. */
    ConvCore& split_core(bool first, bool bf16);

    static WeightTag plain_tag(const float* w, std::int64_t id, std::int64_t version);
    static WeightTag up2_tag(const float* w, std::int64_t id, std::int64_t version, std::int64_t fold);

    /** Plain weights for input channels [c0, c0 + cn) times scale[o] (scale null: 1), in conv_weights. */
    WeightSource fold_source(const float* w, const float* scale, std::int64_t c0, std::int64_t cn);
    WeightSource up2_source(const float* w, const float* scale);

    /** b * scale + shift (b null: 0, scale null: 1, shift null: 0) into fused_bias_[0, OC). */
    const float* fused_bias(const float* b, const float* scale, const float* shift);

    /** The fused bias repeated for the 4 phases. */
    const float* up2_bias(const float* b, const float* scale, const float* shift);

    float* up2_tmp(std::int64_t n, std::int64_t h, std::int64_t w);

    CpuContext& ctx_;
    const std::int64_t ic_, oc_, kh_, kw_, sh_, sw_, ph_, pw_, dh_, dw_, groups_;
    const bool bias_, up2_;
    std::unique_ptr<ConvCore> cores_[8];  // Role x (f32, bf16)
    std::int64_t split_c1_ = 0;
    std::unique_ptr<ConvCore> split_[4];  // (first, second block) x (f32, bf16)
    std::vector<float> fused_bias_;
    std::vector<float> up2_db_;
};

}  // namespace cpu
}  // namespace arunet

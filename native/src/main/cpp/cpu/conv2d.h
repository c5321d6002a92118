// cpu/conv2d.h — 2-D convolution (torch.nn.Conv2d semantics) through oneDNN's C++ API.
//
// Contents:
//   class ConvCore  one oneDNN convolution geometry (asymmetric padding allowed), f32 or bf16 inputs:
//                   primitives cached per input shape, weights reordered into the primitives' layouts
//                   and cached per tag, forward (inference, training, or inference with a post-op
//                   chain), backward data, backward weights.
//   class Conv2d    one convolution layer (created by CpuBackend.conv2d / conv2dUpsampled, freed by
//                   Conv2dOp.close()). Its forward, backward_data and backward_weights run the spec's
//                   core; forward_fused runs the inference path: batch norm folded into the weights,
//                   a post-op chain, optionally the input given as two channel blocks (a concatenation
//                   that is never materialised), optionally bf16. An upsampling layer (up2) computes
//                   conv3x3(upsample2x(x)) from the low-resolution x; see Note [upsampling convolution].
//   shuffle / unshuffle helpers of the upsampling convolution.
//
// Layouts: activations are NHWC user memory (x, y, dx, dy are bound to oneDNN by pointer, nothing is
// copied); weights and dw are PyTorch's OIHW, which oneDNN sees as oihw (groups == 1) or goihw
// [G, O/G, I/G, KH, KW] (grouped and depthwise; the same bytes). Outputs are overwritten, except with
// a Sum post-op (y += ...), the one accumulation, asked for explicitly.
//
// Note [weights in the primitive's format]: every primitive is created with weights in format `any`,
// so oneDNN picks its blocked layout (e.g. Acdb64a for brgemm); plain oihw handed to a primitive
// makes oneDNN fall back to reference kernels ~200x slower. Plain weights are reordered into that
// layout once per weight update: one cached buffer per (layout, variant), variant 0 holding the
// user's weights as given and variant 1 weights transformed first (folded batch norm, a channel
// block, phase-combined), each tagged with what it was made from (tensor id, version, address, fold
// tag); a call with the same tag reuses it. Keeping the variants apart means a model that alternates
// training steps (plain weights) and validation passes (folded weights) does not reorder every time.
// Backward-data weights are not cached: backward passes happen in training, where the weights change
// at every step anyway, so they are reordered at each use into the context's shared conv_bwd_weights
// buffer (saving a copy of every layer's weights). backward_weights produces dw in `any` in the
// shared conv_dw buffer and reorders it into the caller's OIHW dw (or writes dw directly when
// oneDNN's choice is plain OIHW already).
//
// Note [plans]: primitives depend on the input shape (N, H, W) and, for the jit kernels' blocking,
// on the thread count; a Plan holds the primitives of one shape (each created on first use, with its
// argument map bound to persistent memory objects whose data handles are set per call), at most
// kMaxPlans of them per core, least recently used evicted. Changing the thread count rebuilds plans
// on their next use. A post-op chain is a recipe (below); each recipe gets its own primitive.
//
// Note [post-op recipes]: a chain of up to 7 operations, 4 bits each, the first in the lowest bits,
// applied in order to t = conv(x, w) + b (after the folded batch norm): Sum (t += y's previous
// values), Relu, Gelu (erf form), Sigmoid, Mul (t *= a tensor shaped like y), Add (t += a tensor
// shaped like y), Affine (t = t * scale[c] + shift[c], two per-channel operands: a batch norm after
// an activation). Operands are taken in chain order. They map one to one onto oneDNN post-ops
// (sum, eltwise, binary with full-tensor or per-channel src1), which the brgemm, 1x1 and depthwise
// kernels all execute in their epilogue: nothing is written twice.
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
//
// Note [bf16]: a bf16 core takes bf16 inputs and weights and accumulates in f32 (oneDNN
// brg_conv_fwd:avx512_core_bf16 with AVX512-BF16 dot products); the f32 input is converted per call
// into the context's conv_src buffer, the weights once per update, the output stays f32. Training
// (mixed precision, the CPU's twin of the GPU's bf16 mode): the forward pass as in inference; backward
// data takes dy converted to bf16 (the context's conv_dst buffer) and the weights reordered to bf16,
// and writes an f32 dx; backward weights takes x and dy converted to bf16 and writes f32 dw and db.
// Parameters, optimizer state and every other op stay f32 (master weights). bf16 keeps f32's exponent
// range: no loss scaling is needed.
//
// Note [what oneDNN 3.11 picks on this machine] (AMD EPYC, CPU family 25 model 17 = Zen 4 with
// AVX-512 + BF16, reported by oneDNN as avx512_core_bf16; f32, NHWC activations, batch 2, every
// ARU-Net layer at 512x512; seen with ONEDNN_VERBOSE=1 and CpuConvImplementationTest):
//   3x3 (3->64 stem, 64..1024 channels, dilation 2), 7x7 2->1 attention conv:
//       fwd  brg_conv_fwd:avx512_core            bwd data     brg_conv_bwd:avx512_core+brg_conv_fwd:avx512_core
//       bwd weights  jit:avx512_core
//   1x1 (shortcuts, mixer pointwise, MCSA, head):
//       fwd  brgconv_1x1:avx512_core             bwd data     brg_conv_bwd:avx512_core+brgconv_1x1:avx512_core
//       bwd weights  jit_1x1:avx512_core
//   depthwise 3x3 / 7x7 on 1024 channels:
//       fwd  brdgmm_dw:avx512_core               bwd data     jit_dw:avx512_core
//       bwd weights  jit_dw:avx512_core (3x3), jit:avx512_core (7x7)
//   2x2 pad 1 (the upsampling convolution's phases): brg_conv_fwd:avx512_core, likewise its backward.
//   Post-op chains (sum, relu, gelu_erf, logistic, binary add/mul full-tensor or per-channel) keep
//   every one of these kernels; a per-pixel [N,1,H,W] binary operand or a strided channel slice
//   does not (ref:any), so neither is used.
// Weight layouts for 64->64 3x3: forward Acdb64a, backward data Bcda64b, diff weights ABcd16b16a,
// each reached by one jit:uni reorder per weight update. None is ref: or gemm:ref. Scratchpads are
// user-mode, in the context's shared buffer.
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
// ConvCore

class ConvCore {
public:
    /** Which primitive of a plan (for implementation queries). */
    enum class Pass : int { ForwardInference = 0, ForwardTraining = 1, BackwardData = 2, BackwardWeights = 3 };

    ConvCore(CpuContext& ctx, std::int64_t ic, std::int64_t oc, std::int64_t kh, std::int64_t kw, std::int64_t sh,
             std::int64_t sw, std::int64_t ph_l, std::int64_t ph_r, std::int64_t pw_l, std::int64_t pw_r,
             std::int64_t dh, std::int64_t dw, std::int64_t groups, bool bias, bool bf16)
        : ctx_(ctx), ic_(ic), oc_(oc), kh_(kh), kw_(kw), sh_(sh), sw_(sw), ph_l_(ph_l), ph_r_(ph_r), pw_l_(pw_l),
          pw_r_(pw_r), dh_(dh), dw_(dw), groups_(groups), bias_(bias), bf16_(bf16) {
        using dt = dnnl::memory::data_type;
        using tag = dnnl::memory::format_tag;
        if (groups == 1) {
            user_w_md_ = dnnl::memory::desc({oc, ic, kh, kw}, dt::f32, tag::oihw);
        } else {
            user_w_md_ = dnnl::memory::desc({groups, oc / groups, ic / groups, kh, kw}, dt::f32, tag::goihw);
        }
        user_w_mem_ = dnnl::memory(user_w_md_, ctx.engine, DNNL_MEMORY_NONE);
        user_dw_mem_ = dnnl::memory(user_w_md_, ctx.engine, DNNL_MEMORY_NONE);
        if (bias) {
            bias_md_ = dnnl::memory::desc({oc}, dt::f32, tag::a);
            bias_mem_ = dnnl::memory(bias_md_, ctx.engine, DNNL_MEMORY_NONE);
        }
    }

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
                 std::int64_t n, std::int64_t h, std::int64_t w, bool training) {
        Plan& p = plan(n, h, w);
        Prim& prim = training ? p.fwd_train_prim(*this) : p.fwd_inf_prim(*this);
        sync_weights(prim.weights_cache, tag, weights);
        bind_src(p, x);
        p.dst.set_data_handle(y);
        if (bias_) bias_mem_.set_data_handle(const_cast<float*>(b));
        run(prim);
    }

    /** y = chain(conv(x, w) + b), Note [post-op recipes]; operands in chain order. */
    void forward_post(float* y, const float* x, const WeightTag& tag, const WeightSource& weights, const float* b,
                      int recipe, const float* const* operands, std::int64_t n, std::int64_t h, std::int64_t w) {
        Plan& p = plan(n, h, w);
        Prim& prim = p.fused_prim(*this, recipe);
        sync_weights(prim.weights_cache, tag, weights);
        bind_src(p, x);
        p.dst.set_data_handle(y);
        if (bias_) bias_mem_.set_data_handle(const_cast<float*>(b));
        for (std::size_t i = 0; i < prim.operands.size(); i++) {
            prim.operands[i].set_data_handle(const_cast<float*>(operands[i]));
        }
        run(prim);
    }

    /** dx = conv_transpose(dy, w). */
    void backward_data(float* dx, const float* dy, const WeightTag& tag, const WeightSource& weights,
                       std::int64_t n, std::int64_t h, std::int64_t w) {
        Plan& p = plan(n, h, w);
        Prim& prim = p.bwd_data_prim(*this);
        sync_weights(prim.weights_cache, tag, weights);
        if (bf16_) {
            p.src_f32.set_data_handle(dx);
            bind_dy_bf16(p, dy);
        } else {
            p.src.set_data_handle(dx);
            p.dst.set_data_handle(const_cast<float*>(dy));
        }
        run(prim);
    }

    /** dw (plain, the core's user layout) and db (or null) from x and dy; Note [blocked backward weights]. */
    void backward_weights(float* dw, float* db, const float* x, const float* dy, std::int64_t n, std::int64_t h,
                          std::int64_t w) {
        Plan& p = plan(n, h, w);
        Prim& prim = p.bwd_weights_prim(*this);
        if (bf16_) {
            bind_src(p, x);
            bind_dy_bf16(p, dy);
        } else {
            p.src.set_data_handle(const_cast<float*>(x));
            p.dst.set_data_handle(const_cast<float*>(dy));
        }
        if (p.blocked_bwd_w) {
            p.src_blk.set_data_handle(ctx_.conv_blk_src.ensure(p.src_blk.get_desc().get_size()));
            p.dst_blk.set_data_handle(ctx_.conv_blk_dst.ensure(p.dst_blk.get_desc().get_size()));
            p.src_to_blk.execute(ctx_.stream, p.src, p.src_blk);
            p.dst_to_blk.execute(ctx_.stream, bf16_ ? p.dst_bf16 : p.dst, p.dst_blk);
            ctx_.stream.wait();
        }
        if (bias_) bias_mem_.set_data_handle(db);
        user_dw_mem_.set_data_handle(dw);
        if (prim.dw_reorder) prim.dw_buffer.set_data_handle(ctx_.conv_dw.ensure(prim.dw_buffer.get_desc().get_size()));
        run(prim);
        if (prim.dw_reorder) {
            prim.dw_reorder.execute(ctx_.stream, prim.dw_buffer, user_dw_mem_);
            ctx_.stream.wait();
        }
    }

    /** oneDNN's implementation name of one pass (recipe >= 0: the fused forward with that recipe). */
    std::string implementation(Pass pass, int recipe, std::int64_t n, std::int64_t h, std::int64_t w) {
        Plan& p = plan(n, h, w);
        if (recipe >= 0) return p.fused_prim(*this, recipe).impl;
        switch (pass) {
            case Pass::ForwardInference: return p.fwd_inf_prim(*this).impl;
            case Pass::ForwardTraining: return p.fwd_train_prim(*this).impl;
            case Pass::BackwardData: return p.bwd_data_prim(*this).impl;
            case Pass::BackwardWeights: return p.bwd_weights_prim(*this).impl;
        }
        return "";
    }

    std::int64_t weight_reorders() const { return weight_reorders_; }

    /** Bytes of the weights held in primitive layouts (cached reorders and diff-weight buffers). */
    std::int64_t weight_bytes() const {
        std::int64_t s = 0;
        for (const auto& wc : weight_caches_) {
            if (!wc->transient) s += std::int64_t(wc->md.get_size());
        }
        return s;
    }

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

        const dnnl::convolution_forward::primitive_desc& training_pd(ConvCore& c) {
            if (!have_train_pd) {
                train_pd = c.forward_pd(*this, dnnl::prop_kind::forward_training, c.attr());
                have_train_pd = true;
            }
            return train_pd;
        }

        Prim& fwd_inf_prim(ConvCore& c) {
            if (!fwd_inf.ready) {
                c.bind_forward(*this, fwd_inf, c.forward_pd(*this, dnnl::prop_kind::forward_inference, c.attr()));
            }
            return fwd_inf;
        }

        Prim& fwd_train_prim(ConvCore& c) {
            if (!fwd_train.ready) c.bind_forward(*this, fwd_train, training_pd(c));
            return fwd_train;
        }

        Prim& fused_prim(ConvCore& c, int recipe) {
            for (auto& f : fused) {
                if (f.first == recipe) return *f.second;
            }
            auto prim = std::make_unique<Prim>();
            dnnl::primitive_attr a = c.attr();
            std::vector<dnnl::memory::desc> operand_mds;
            a.set_post_ops(c.post_ops(recipe, dst_md, operand_mds));
            c.bind_forward(*this, *prim, c.forward_pd(*this, dnnl::prop_kind::forward_inference, a));
            int index = 0;  // position in the post-op chain (sums and eltwise count)
            std::size_t operand = 0;
            for (int i = 0; i < kMaxPostOps; i++) {
                const int op = (recipe >> (4 * i)) & 15;
                if (op == kPostEnd) break;
                const int uses = op == kPostAffine ? 2 : (op == kPostMul || op == kPostAdd) ? 1 : 0;
                for (int u = 0; u < uses; u++) {
                    dnnl::memory m(operand_mds[operand++], c.ctx_.engine, DNNL_MEMORY_NONE);
                    prim->args.insert({DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1, m});
                    prim->operands.push_back(m);
                    index++;
                }
                if (uses == 0) index++;
            }
            fused.emplace_back(recipe, std::move(prim));
            return *fused.back().second;
        }

        Prim& bwd_data_prim(ConvCore& c) {
            if (!bwd_data.ready) {
                // bf16 cores (Note [bf16]): f32 dx from bf16 dy and weights
                dnnl::convolution_backward_data::primitive_desc pd(
                        c.ctx_.engine, dnnl::algorithm::convolution_direct, c.bf16_ ? src_f32_md : src_md, w_any_md,
                        c.bf16_ ? dst_bf16_md : dst_md, strides, dilates, pad_l, pad_r, training_pd(c), c.attr());
                WeightCache& wc = c.weight_cache(pd.weights_desc(), kTransient);
                bwd_data.args = {{DNNL_ARG_DIFF_SRC, c.bf16_ ? src_f32 : src},
                                 {DNNL_ARG_DIFF_DST, c.bf16_ ? dst_bf16 : dst}, {DNNL_ARG_WEIGHTS, wc.mem}};
                c.finish(bwd_data, dnnl::convolution_backward_data(pd), pd.scratchpad_desc(), pd.impl_info_str());
                bwd_data.weights_cache = &wc;
            }
            return bwd_data;
        }

        Prim& bwd_weights_prim(ConvCore& c) {
            if (!bwd_weights.ready) {
                blocked_bwd_w = c.blocked_backward_weights();
                // bf16 cores (Note [bf16]): bf16 x and dy, f32 dw and db
                dnnl::memory::desc s_md = src_md, d_md = c.bf16_ ? dst_bf16_md : dst_md;
                dnnl::memory::desc dw_md = c.bf16_ ? dnnl::memory::desc(c.user_w_md_.get_dims(),
                        dnnl::memory::data_type::f32, dnnl::memory::format_tag::any) : w_any_md;
                dnnl::convolution_forward::primitive_desc hint;
                if (blocked_bwd_w) {
                    using tag = dnnl::memory::format_tag;
                    s_md = dnnl::memory::desc(src_md.get_dims(), src_md.get_data_type(), tag::any);
                    d_md = dnnl::memory::desc(d_md.get_dims(), d_md.get_data_type(), tag::any);
                    hint = dnnl::convolution_forward::primitive_desc(
                            c.ctx_.engine, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                            s_md, w_any_md, c.bias_md_, d_md, strides, dilates, pad_l, pad_r, c.attr());
                } else {
                    hint = training_pd(c);
                }
                dnnl::convolution_backward_weights::primitive_desc pd(
                        c.ctx_.engine, dnnl::algorithm::convolution_direct, s_md, dw_md, c.bias_md_, d_md,
                        strides, dilates, pad_l, pad_r, hint, c.attr());
                Prim& b = bwd_weights;
                dnnl::memory& dy_mem = c.bf16_ ? dst_bf16 : dst;
                if (blocked_bwd_w) {
                    src_blk = dnnl::memory(pd.src_desc(), c.ctx_.engine, DNNL_MEMORY_NONE);
                    dst_blk = dnnl::memory(pd.diff_dst_desc(), c.ctx_.engine, DNNL_MEMORY_NONE);
                    src_to_blk = dnnl::reorder(src, src_blk);
                    dst_to_blk = dnnl::reorder(dy_mem, dst_blk);
                    b.args = {{DNNL_ARG_SRC, src_blk}, {DNNL_ARG_DIFF_DST, dst_blk}};
                } else {
                    b.args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dy_mem}};
                }
                if (c.bias_) b.args.insert({DNNL_ARG_DIFF_BIAS, c.bias_mem_});
                if (pd.diff_weights_desc() == c.user_w_md_) {
                    b.args.insert({DNNL_ARG_DIFF_WEIGHTS, c.user_dw_mem_});
                } else {
                    b.dw_buffer = c.dw_buffer(pd.diff_weights_desc());
                    b.dw_reorder = dnnl::reorder(b.dw_buffer, c.user_dw_mem_);
                    b.args.insert({DNNL_ARG_DIFF_WEIGHTS, b.dw_buffer});
                }
                c.finish(b, dnnl::convolution_backward_weights(pd), pd.scratchpad_desc(), pd.impl_info_str());
            }
            return bwd_weights;
        }
    };

    /**
     * Note [blocked backward weights]: oneDNN 3.11's f32 backward-weights kernel on avx512_core
     * (jit:avx512_core) runs 20-35 % faster on channel-blocked (nChw16c) x and dy than on NHWC when
     * both channel counts are >= 128 and the kernel is larger than 1x1 (dilated and phase
     * convolutions most), even counting the two reorders; with 64 channels or 1x1 kernels NHWC wins.
     * Measured single-threaded on the ARU-Net training shapes (batch 2, 256x256): 2.90 s NHWC, 2.48 s
     * with this rule, 2.45 s for the best of both per layer. The rule is fixed (no timing at run
     * time), so a given shape always runs the same kernel and results stay deterministic.
     */
    bool blocked_backward_weights() const {
        return (kh_ > 1 || kw_ > 1) && groups_ == 1 && std::min(ic_, oc_) >= 128;
    }

    dnnl::primitive_attr attr() const {
        dnnl::primitive_attr a;
        a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        // f32 math for f32 cores whatever ONEDNN_DEFAULT_FPMATH_MODE says; bf16 cores are bf16 by their types
        a.set_fpmath_mode(dnnl::fpmath_mode::strict);
        return a;
    }

    /** oneDNN post-ops of a recipe; operand_mds receives the binary operands' descriptors in order. */
    dnnl::post_ops post_ops(int recipe, const dnnl::memory::desc& dst_md,
                            std::vector<dnnl::memory::desc>& operand_mds) const {
        using dt = dnnl::memory::data_type;
        using tag = dnnl::memory::format_tag;
        const dnnl::memory::desc channel({1, oc_, 1, 1}, dt::f32, tag::nchw);
        dnnl::post_ops po;
        for (int i = 0; i < kMaxPostOps; i++) {
            const int op = (recipe >> (4 * i)) & 15;
            switch (op) {
                case kPostEnd: return po;
                case kPostSum: po.append_sum(1.f); break;
                case kPostRelu: po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
                case kPostGelu: po.append_eltwise(dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f); break;
                case kPostSigmoid: po.append_eltwise(dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
                case kPostMul:
                    po.append_binary(dnnl::algorithm::binary_mul, dst_md);
                    operand_mds.push_back(dst_md);
                    break;
                case kPostAdd:
                    po.append_binary(dnnl::algorithm::binary_add, dst_md);
                    operand_mds.push_back(dst_md);
                    break;
                case kPostAffine:
                    po.append_binary(dnnl::algorithm::binary_mul, channel);
                    po.append_binary(dnnl::algorithm::binary_add, channel);
                    operand_mds.push_back(channel);
                    operand_mds.push_back(channel);
                    break;
                default: fail("conv2d", "unknown post-op code ", op, " in recipe ", recipe);
            }
        }
        return po;
    }

    Plan& plan(std::int64_t n, std::int64_t h, std::int64_t w) {
        for (std::size_t i = 0; i < plans_.size(); i++) {
            Plan& p = *plans_[i];
            if (p.n == n && p.h == h && p.w == w) {
                if (p.threads != ctx_.threads) {  // jit blocking depends on the thread count
                    plans_.erase(plans_.begin() + i);
                    break;
                }
                if (i != 0) std::rotate(plans_.begin(), plans_.begin() + i, plans_.begin() + i + 1);
                return *plans_.front();
            }
        }
        if (plans_.size() >= kMaxPlans) plans_.pop_back();
        plans_.insert(plans_.begin(), make_plan(n, h, w));
        return *plans_.front();
    }

    std::unique_ptr<Plan> make_plan(std::int64_t n, std::int64_t h, std::int64_t w) {
        using dt = dnnl::memory::data_type;
        using tag = dnnl::memory::format_tag;
        auto p = std::make_unique<Plan>();
        p->n = n;
        p->h = h;
        p->w = w;
        p->threads = ctx_.threads;
        const dt in = bf16_ ? dt::bf16 : dt::f32;
        p->src_f32_md = dnnl::memory::desc({n, ic_, h, w}, dt::f32, tag::nhwc);
        p->src_md = dnnl::memory::desc({n, ic_, h, w}, in, tag::nhwc);
        p->dst_md = dnnl::memory::desc({n, oc_, out_h(h), out_w(w)}, dt::f32, tag::nhwc);
        p->w_any_md = dnnl::memory::desc(user_w_md_.get_dims(), in, tag::any);
        p->src = dnnl::memory(p->src_md, ctx_.engine, DNNL_MEMORY_NONE);
        p->dst = dnnl::memory(p->dst_md, ctx_.engine, DNNL_MEMORY_NONE);
        if (bf16_) {
            p->src_f32 = dnnl::memory(p->src_f32_md, ctx_.engine, DNNL_MEMORY_NONE);
            p->to_bf16 = dnnl::reorder(p->src_f32, p->src);
            p->dst_bf16_md = dnnl::memory::desc({n, oc_, out_h(h), out_w(w)}, dt::bf16, tag::nhwc);
            p->dst_bf16 = dnnl::memory(p->dst_bf16_md, ctx_.engine, DNNL_MEMORY_NONE);
            p->dst_to_bf16 = dnnl::reorder(p->dst, p->dst_bf16);
        }
        p->strides = {sh_, sw_};
        p->dilates = {dh_ - 1, dw_ - 1};  // oneDNN counts the gaps: PyTorch dilation - 1
        p->pad_l = {ph_l_, pw_l_};
        p->pad_r = {ph_r_, pw_r_};  // oneDNN checks (H - extent + pl + pr) / s + 1 == OH in integers: PyTorch's floor
        return p;
    }

    dnnl::convolution_forward::primitive_desc forward_pd(const Plan& p, dnnl::prop_kind kind,
                                                         const dnnl::primitive_attr& a) {
        return dnnl::convolution_forward::primitive_desc(ctx_.engine, kind, dnnl::algorithm::convolution_direct,
                                                         p.src_md, p.w_any_md, bias_md_, p.dst_md, p.strides,
                                                         p.dilates, p.pad_l, p.pad_r, a);
    }

    void bind_forward(Plan& p, Prim& prim, const dnnl::convolution_forward::primitive_desc& pd) {
        WeightCache& wc = weight_cache(pd.weights_desc(), 0);
        prim.args = {{DNNL_ARG_SRC, p.src}, {DNNL_ARG_DST, p.dst}, {DNNL_ARG_WEIGHTS, wc.mem}};
        if (bias_) prim.args.insert({DNNL_ARG_BIAS, bias_mem_});
        finish(prim, dnnl::convolution_forward(pd), pd.scratchpad_desc(), pd.impl_info_str());
        prim.weights_cache = &wc;
    }

    void finish(Prim& prim, dnnl::primitive primitive, const dnnl::memory::desc& scratch_md, const char* impl) {
        prim.prim = primitive;
        prim.scratchpad_bytes = scratch_md.get_size();
        if (prim.scratchpad_bytes > 0) {
            prim.scratchpad = dnnl::memory(scratch_md, ctx_.engine, DNNL_MEMORY_NONE);
            prim.args.insert({DNNL_ARG_SCRATCHPAD, prim.scratchpad});
        }
        prim.impl = impl != nullptr ? impl : "";
        prim.ready = true;
    }

    /**
     * The cache buffer for weights in layout md (created on first request, kept for the core's life).
     * A primitive is bound to the variant-0 buffer of its layout; sync_weights switches it to the
     * variant its tag asks for (Note [weights in the primitive's format]).
     */
    WeightCache& weight_cache(const dnnl::memory::desc& md, std::int64_t variant) {
        for (auto& wc : weight_caches_) {
            if (wc->md == md && wc->variant == variant) return *wc;
        }
        auto wc = std::make_unique<WeightCache>();
        wc->md = md;
        wc->variant = variant;
        wc->transient = variant == kTransient;
        wc->mem = wc->transient ? dnnl::memory(md, ctx_.engine, DNNL_MEMORY_NONE) : dnnl::memory(md, ctx_.engine);
        wc->reorder = dnnl::reorder(user_w_mem_, wc->mem);
        weight_caches_.push_back(std::move(wc));
        return *weight_caches_.back();
    }

    /**
     * A memory object for diff weights in layout md; its data lives in the context's shared
     * conv_dw buffer (set at each use: the diff weights are reordered to the caller's layout at once).
     */
    dnnl::memory dw_buffer(const dnnl::memory::desc& md) {
        return dnnl::memory(md, ctx_.engine, DNNL_MEMORY_NONE);
    }

    /**
     * Points the primitive at the cache of its layout and the tag's variant, refreshing that cache
     * from the weight source when its tag differs.
     */
    void sync_weights(WeightCache*& bound, const WeightTag& tag, const WeightSource& weights) {
        if (bound->transient) {
            bound->mem.set_data_handle(ctx_.conv_bwd_weights.ensure(bound->md.get_size()));
            user_w_mem_.set_data_handle(const_cast<float*>(weights()));
            bound->reorder.execute(ctx_.stream, user_w_mem_, bound->mem);
            ctx_.stream.wait();
            weight_reorders_++;
            return;
        }
        WeightCache* wc = bound->variant == tag.variant ? bound : &weight_cache(bound->md, tag.variant);
        if (wc != bound) {
            // rebind: the primitive's argument map holds the memory object, so swap the data handle
            bound = wc;
        }
        if (!(wc->valid && wc->tag == tag)) {
            user_w_mem_.set_data_handle(const_cast<float*>(weights()));
            wc->reorder.execute(ctx_.stream, user_w_mem_, wc->mem);
            ctx_.stream.wait();
            wc->valid = true;
            wc->tag = tag;
            weight_reorders_++;
        }
    }

    void bind_src(Plan& p, const float* x) {
        if (bf16_) {
            const std::size_t bytes = p.src_md.get_size();
            p.src.set_data_handle(ctx_.conv_src.ensure(bytes));
            p.src_f32.set_data_handle(const_cast<float*>(x));
            p.to_bf16.execute(ctx_.stream, p.src_f32, p.src);
            ctx_.stream.wait();
        } else {
            p.src.set_data_handle(const_cast<float*>(x));
        }
    }

    /** bf16 cores: dy (f32, the caller's) converted into the context's conv_dst buffer. */
    void bind_dy_bf16(Plan& p, const float* dy) {
        p.dst_bf16.set_data_handle(ctx_.conv_dst.ensure(p.dst_bf16_md.get_size()));
        p.dst.set_data_handle(const_cast<float*>(dy));
        p.dst_to_bf16.execute(ctx_.stream, p.dst, p.dst_bf16);
        ctx_.stream.wait();
    }

    void run(Prim& prim) {
        if (prim.weights_cache != nullptr) {
            prim.args[DNNL_ARG_WEIGHTS] = prim.weights_cache->mem;
        }
        if (prim.scratchpad_bytes > 0) prim.scratchpad.set_data_handle(ctx_.dnnl_scratchpad.ensure(prim.scratchpad_bytes));
        prim.prim.execute(ctx_.stream, prim.args);
        ctx_.stream.wait();
    }

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

class Conv2d {
public:
    /** Which primitive of a plan (for implementation queries). */
    using Pass = ConvCore::Pass;

    Conv2d(CpuContext& ctx, std::int64_t ic, std::int64_t oc, std::int64_t kh, std::int64_t kw, std::int64_t sh,
           std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t dh, std::int64_t dw, std::int64_t groups,
           bool bias, bool up2)
        : ctx_(ctx), ic_(ic), oc_(oc), kh_(kh), kw_(kw), sh_(sh), sw_(sw), ph_(ph), pw_(pw), dh_(dh), dw_(dw),
          groups_(groups), bias_(bias), up2_(up2) {
        if (up2 && !(kh == 3 && kw == 3 && sh == 1 && sw == 1 && ph == 1 && pw == 1 && dh == 1 && dw == 1 && groups == 1)) {
            fail("conv2d", "an upsampling convolution must be 3x3, stride 1, padding 1, dilation 1, groups 1");
        }
        fused_bias_.resize(std::size_t(4 * oc));
    }

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
                 std::int64_t n, std::int64_t h, std::int64_t wd, bool training, bool bf16 = false) {
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

    /** dx = d loss / d x. */
    void backward_data(float* dx,          // (N, H, W, IC)
                       const float* dy,    // (N, OH, OW, OC)
                       const float* w,     // (OC, IC / G, KH, KW)
                       std::int64_t w_id, std::int64_t w_version, std::int64_t n, std::int64_t h, std::int64_t wd,
                       bool bf16 = false) {
        if (up2_) {
            ConvCore& c = core(kUp, bf16);
            float* dz = up2_tmp(n, h, wd);
            up2_unshuffle(dz, dy, n, h, wd, oc_);
            c.backward_data(dx, dz, up2_tag(w, w_id, w_version, 0), up2_source(w, nullptr), n, h, wd);
            return;
        }
        core(kMain, bf16).backward_data(dx, dy, plain_tag(w, w_id, w_version), [w] { return w; }, n, h, wd);
    }

    /** dw = d loss / d w (OIHW), db = sum of dy over N, H, W. */
    void backward_weights(float* dw,          // (OC, IC / G, KH, KW)
                          float* db,          // (OC) or null
                          const float* x,     // (N, H, W, IC)
                          const float* dy,    // (N, OH, OW, OC)
                          std::int64_t n, std::int64_t h, std::int64_t wd, bool bf16 = false) {
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

    /**
     * Inference: y = chain(conv(cat[x, x2]) * scale + (b * scale + shift)), Note [post-op recipes],
     * [split input], [upsampling convolution], [bf16]. x2 null: one input; c1 = channels of x.
     * scale and shift (a folded batch norm) may both be null; fold tags them for the weight cache.
     */
    void forward_fused(float* y, const float* x, const float* x2, std::int64_t c1, const float* w,
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

    /** oneDNN's implementation name for one pass (recipe >= 0: the fused forward with that recipe, f32 or bf16). */
    std::string implementation(Pass pass, int recipe, bool bf16, std::int64_t n, std::int64_t h, std::int64_t wd) {
        if (recipe >= 0) return core(up2_ ? kUpFused : kFused, bf16).implementation(pass, recipe, n, h, wd);
        return core(up2_ ? kUp : kMain, bf16).implementation(pass, -1, n, h, wd);
    }

    /** Number of weight reorders done so far (each is one weight-cache refresh), over every core. */
    std::int64_t weight_reorders() const {
        std::int64_t s = 0;
        for (const auto& c : cores_) {
            if (c) s += c->weight_reorders();
        }
        for (const auto& c : split_) {
            if (c) s += c->weight_reorders();
        }
        return s;
    }

private:
    // cores: kMain (the spec: training passes), kFused (the spec with a bias slot for a folded batch
    // norm: inference), kUp / kUpFused (the 2x2 phase convolution of an upsampling layer), each f32 or bf16
    enum Role { kMain = 0, kFused = 1, kUp = 2, kUpFused = 3 };

    ConvCore& core(Role role, bool bf16) {
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

    /** The core of the first (x, with the bias) or second (x2) channel block of a split input. */
    ConvCore& split_core(bool first, bool bf16) {
        std::unique_ptr<ConvCore>& c = split_[(first ? 0 : 2) + (bf16 ? 1 : 0)];
        if (!c) {
            const std::int64_t ic = first ? split_c1_ : ic_ - split_c1_;
            c = std::make_unique<ConvCore>(ctx_, ic, oc_, kh_, kw_, sh_, sw_, ph_, ph_, pw_, pw_, dh_, dw_, 1, first,
                                           bf16);
        }
        return *c;
    }

    static WeightTag plain_tag(const float* w, std::int64_t id, std::int64_t version) {
        return WeightTag{id, version, 0, 0, w};
    }

    static WeightTag up2_tag(const float* w, std::int64_t id, std::int64_t version, std::int64_t fold) {
        return WeightTag{id, version, fold, 1, w};
    }

    /** Plain weights for input channels [c0, c0 + cn) times scale[o] (scale null: 1), in conv_weights. */
    WeightSource fold_source(const float* w, const float* scale, std::int64_t c0, std::int64_t cn) {
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

    WeightSource up2_source(const float* w, const float* scale) {
        return [this, w, scale]() -> const float* {
            float* w4 = ctx_.conv_weights.as<float>(std::size_t(4 * oc_ * ic_ * 4));
            up2_weights(w4, w, scale, oc_, ic_);
            return w4;
        };
    }

    /** b * scale + shift (b null: 0, scale null: 1, shift null: 0) into fused_bias_[0, OC). */
    const float* fused_bias(const float* b, const float* scale, const float* shift) {
        for (std::int64_t o = 0; o < oc_; o++) {
            const float bo = b != nullptr ? b[o] : 0.f;
            const float so = shift != nullptr ? shift[o] : 0.f;
            fused_bias_[o] = scale != nullptr ? bo * scale[o] + so : bo + so;
        }
        return fused_bias_.data();
    }

    /** The fused bias repeated for the 4 phases. */
    const float* up2_bias(const float* b, const float* scale, const float* shift) {
        const float* one = fused_bias(b, scale, shift);
        for (int p = 3; p >= 0; p--) {
            for (std::int64_t o = 0; o < oc_; o++) fused_bias_[p * oc_ + o] = one[o];
        }
        return fused_bias_.data();
    }

    float* up2_tmp(std::int64_t n, std::int64_t h, std::int64_t w) {
        return ctx_.conv_tmp.as<float>(std::size_t(n * (h + 1) * (w + 1) * 4 * oc_));
    }

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

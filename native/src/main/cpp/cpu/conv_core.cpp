// cpu/conv_core.cpp — class ConvCore (declared in cpu/conv2d.h): one oneDNN convolution geometry, its
// primitives per input shape, its weight caches, and the forward / backward passes.
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

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpu/conv2d.h"

namespace arunet {
namespace cpu {

ConvCore::ConvCore(CpuContext& ctx, std::int64_t ic, std::int64_t oc, std::int64_t kh, std::int64_t kw, std::int64_t sh,
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

void ConvCore::forward(float* y,          // (N, OH, OW, OC)
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

void ConvCore::forward_post(float* y, const float* x, const WeightTag& tag, const WeightSource& weights, const float* b,
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

void ConvCore::backward_data(float* dx, const float* dy, const WeightTag& tag, const WeightSource& weights,
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

void ConvCore::backward_weights(float* dw, float* db, const float* x, const float* dy, std::int64_t n, std::int64_t h,
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

std::string ConvCore::implementation(Pass pass, int recipe, std::int64_t n, std::int64_t h, std::int64_t w) {
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

std::int64_t ConvCore::weight_bytes() const {
    std::int64_t s = 0;
    for (const auto& wc : weight_caches_) {
        if (!wc->transient) s += std::int64_t(wc->md.get_size());
    }
    return s;
}

// ---- the primitives of one shape (Plan), created on first use

const dnnl::convolution_forward::primitive_desc& ConvCore::Plan::training_pd(ConvCore& c) {
    if (!have_train_pd) {
        train_pd = c.forward_pd(*this, dnnl::prop_kind::forward_training, c.attr());
        have_train_pd = true;
    }
    return train_pd;
}

ConvCore::Prim& ConvCore::Plan::fwd_inf_prim(ConvCore& c) {
    if (!fwd_inf.ready) {
        c.bind_forward(*this, fwd_inf, c.forward_pd(*this, dnnl::prop_kind::forward_inference, c.attr()));
    }
    return fwd_inf;
}

ConvCore::Prim& ConvCore::Plan::fwd_train_prim(ConvCore& c) {
    if (!fwd_train.ready) c.bind_forward(*this, fwd_train, training_pd(c));
    return fwd_train;
}

ConvCore::Prim& ConvCore::Plan::fused_prim(ConvCore& c, int recipe) {
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

ConvCore::Prim& ConvCore::Plan::bwd_data_prim(ConvCore& c) {
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

ConvCore::Prim& ConvCore::Plan::bwd_weights_prim(ConvCore& c) {
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

// ---- plumbing

/**
 * Note [blocked backward weights]: oneDNN 3.11's f32 backward-weights kernel on avx512_core
 * (jit:avx512_core) runs 20-35 % faster on channel-blocked (nChw16c) x and dy than on NHWC when
 * both channel counts are >= 128 and the kernel is larger than 1x1 (dilated and phase
 * convolutions most), even counting the two reorders; with 64 channels or 1x1 kernels NHWC wins.
 * Measured single-threaded on the ARU-Net training shapes (batch 2, 256x256): 2.90 s NHWC, 2.48 s
 * with this rule, 2.45 s for the best of both per layer. The rule is fixed (no timing at run
 * time), so a given shape always runs the same kernel and results stay deterministic.
 */

bool ConvCore::blocked_backward_weights() const {
    return (kh_ > 1 || kw_ > 1) && groups_ == 1 && std::min(ic_, oc_) >= 128;
}

dnnl::primitive_attr ConvCore::attr() const {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    // f32 math for f32 cores whatever ONEDNN_DEFAULT_FPMATH_MODE says; bf16 cores are bf16 by their types
    a.set_fpmath_mode(dnnl::fpmath_mode::strict);
    return a;
}

dnnl::post_ops ConvCore::post_ops(int recipe, const dnnl::memory::desc& dst_md,
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

ConvCore::Plan& ConvCore::plan(std::int64_t n, std::int64_t h, std::int64_t w) {
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

std::unique_ptr<ConvCore::Plan> ConvCore::make_plan(std::int64_t n, std::int64_t h, std::int64_t w) {
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

dnnl::convolution_forward::primitive_desc ConvCore::forward_pd(const Plan& p, dnnl::prop_kind kind,
                                                               const dnnl::primitive_attr& a) {
    return dnnl::convolution_forward::primitive_desc(ctx_.engine, kind, dnnl::algorithm::convolution_direct,
                                                     p.src_md, p.w_any_md, bias_md_, p.dst_md, p.strides,
                                                     p.dilates, p.pad_l, p.pad_r, a);
}

void ConvCore::bind_forward(Plan& p, Prim& prim, const dnnl::convolution_forward::primitive_desc& pd) {
    WeightCache& wc = weight_cache(pd.weights_desc(), 0);
    prim.args = {{DNNL_ARG_SRC, p.src}, {DNNL_ARG_DST, p.dst}, {DNNL_ARG_WEIGHTS, wc.mem}};
    if (bias_) prim.args.insert({DNNL_ARG_BIAS, bias_mem_});
    finish(prim, dnnl::convolution_forward(pd), pd.scratchpad_desc(), pd.impl_info_str());
    prim.weights_cache = &wc;
}

void ConvCore::finish(Prim& prim, dnnl::primitive primitive, const dnnl::memory::desc& scratch_md, const char* impl) {
    prim.prim = primitive;
    prim.scratchpad_bytes = scratch_md.get_size();
    if (prim.scratchpad_bytes > 0) {
        prim.scratchpad = dnnl::memory(scratch_md, ctx_.engine, DNNL_MEMORY_NONE);
        prim.args.insert({DNNL_ARG_SCRATCHPAD, prim.scratchpad});
    }
    prim.impl = impl != nullptr ? impl : "";
    prim.ready = true;
}

ConvCore::WeightCache& ConvCore::weight_cache(const dnnl::memory::desc& md, std::int64_t variant) {
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

dnnl::memory ConvCore::dw_buffer(const dnnl::memory::desc& md) {
    return dnnl::memory(md, ctx_.engine, DNNL_MEMORY_NONE);
}

void ConvCore::sync_weights(WeightCache*& bound, const WeightTag& tag, const WeightSource& weights) {
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

void ConvCore::bind_src(Plan& p, const float* x) {
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

void ConvCore::bind_dy_bf16(Plan& p, const float* dy) {
    p.dst_bf16.set_data_handle(ctx_.conv_dst.ensure(p.dst_bf16_md.get_size()));
    p.dst.set_data_handle(const_cast<float*>(dy));
    p.dst_to_bf16.execute(ctx_.stream, p.dst, p.dst_bf16);
    ctx_.stream.wait();
}

void ConvCore::run(Prim& prim) {
    if (prim.weights_cache != nullptr) {
        prim.args[DNNL_ARG_WEIGHTS] = prim.weights_cache->mem;
    }
    if (prim.scratchpad_bytes > 0) prim.scratchpad.set_data_handle(ctx_.dnnl_scratchpad.ensure(prim.scratchpad_bytes));
    prim.prim.execute(ctx_.stream, prim.args);
    ctx_.stream.wait();
}

}  // namespace cpu
}  // namespace arunet

// cpu/conv2d.h — 2-D convolution (torch.nn.Conv2d semantics) through oneDNN's C++ API.
//
// Contents: class Conv2d, one per convolution layer (created by CpuBackend.conv2d, freed by
// Conv2dOp.close()), with forward (inference or training), backward_data and backward_weights.
//
// Layouts: activations are NHWC user memory (x, y, dx, dy are bound to oneDNN by pointer, nothing is
// copied); weights and dw are PyTorch's OIHW, which oneDNN sees as oihw (groups == 1) or goihw
// [G, O/G, I/G, KH, KW] (grouped and depthwise; the same bytes). Outputs are overwritten.
//
// Note [weights in the primitive's format]: every primitive is created with weights in format `any`,
// so oneDNN picks its blocked layout (e.g. Acdb64a for brgemm); plain oihw handed to a primitive
// makes oneDNN fall back to reference kernels ~200x slower. The user's OIHW weights are reordered
// into that layout once per weight update: one cached buffer per distinct layout (forward and
// backward-data may want different ones), tagged with the tensor's (id, version, address); a call
// with the same tag reuses it. backward_weights produces dw in `any` and reorders it into the
// caller's OIHW dw (or writes dw directly when oneDNN's choice is plain OIHW already).
//
// Note [plans]: primitives depend on the input shape (N, H, W) and, for the jit kernels' blocking,
// on the thread count; a Plan holds the four primitives of one shape (each created on first use,
// with its argument map bound to persistent memory objects whose data handles are set per call),
// at most kMaxPlans of them per layer, least recently used evicted. Changing the thread count
// rebuilds plans on their next use.
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
// Weight layouts for 64->64 3x3: forward Acdb64a, backward data Bcda64b, diff weights ABcd16b16a,
// each reached by one jit:uni reorder per weight update. None is ref: or gemm:ref. Scratchpads are
// user-mode, in the context's shared buffer.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpu/common.h"

namespace arunet {
namespace cpu {

class Conv2d {
public:
    /** Which primitive of a plan (for implementation queries). */
    enum class Pass : int { ForwardInference = 0, ForwardTraining = 1, BackwardData = 2, BackwardWeights = 3 };

    Conv2d(CpuContext& ctx, std::int64_t ic, std::int64_t oc, std::int64_t kh, std::int64_t kw, std::int64_t sh,
           std::int64_t sw, std::int64_t ph, std::int64_t pw, std::int64_t dh, std::int64_t dw, std::int64_t groups,
           bool bias)
        : ctx_(ctx), ic_(ic), oc_(oc), kh_(kh), kw_(kw), sh_(sh), sw_(sw), ph_(ph), pw_(pw), dh_(dh), dw_(dw),
          groups_(groups), bias_(bias) {
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
        attr_.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        attr_.set_fpmath_mode(dnnl::fpmath_mode::strict);  // f32 math, whatever ONEDNN_DEFAULT_FPMATH_MODE says
    }

    Conv2d(const Conv2d&) = delete;
    Conv2d& operator=(const Conv2d&) = delete;

    std::int64_t out_h(std::int64_t h) const { return (h + 2 * ph_ - dh_ * (kh_ - 1) - 1) / sh_ + 1; }
    std::int64_t out_w(std::int64_t w) const { return (w + 2 * pw_ - dw_ * (kw_ - 1) - 1) / sw_ + 1; }

    /** y = conv(x, w) + b. */
    void forward(float* y,              // (N, OH, OW, OC)
                 const float* x,        // (N, H, W, IC)
                 const float* w,        // (OC, IC / G, KH, KW)
                 std::int64_t w_id, std::int64_t w_version,
                 const float* b,        // (OC) or null
                 std::int64_t n, std::int64_t h, std::int64_t wd, bool training) {
        Plan& p = plan(n, h, wd);
        Prim& prim = training ? p.fwd_train_prim(*this) : p.fwd_inf_prim(*this);
        sync_weights(prim.weights_cache, w, w_id, w_version);
        p.src.set_data_handle(const_cast<float*>(x));
        p.dst.set_data_handle(y);
        if (bias_) bias_mem_.set_data_handle(const_cast<float*>(b));
        run(prim);
    }

    /** dx = conv_transpose(dy, w). */
    void backward_data(float* dx,          // (N, H, W, IC)
                       const float* dy,    // (N, OH, OW, OC)
                       const float* w,     // (OC, IC / G, KH, KW)
                       std::int64_t w_id, std::int64_t w_version, std::int64_t n, std::int64_t h, std::int64_t wd) {
        Plan& p = plan(n, h, wd);
        Prim& prim = p.bwd_data_prim(*this);
        sync_weights(prim.weights_cache, w, w_id, w_version);
        p.src.set_data_handle(dx);
        p.dst.set_data_handle(const_cast<float*>(dy));
        run(prim);
    }

    /** dw = d loss / d w (OIHW), db = sum of dy over N, H, W. */
    void backward_weights(float* dw,          // (OC, IC / G, KH, KW)
                          float* db,          // (OC) or null
                          const float* x,     // (N, H, W, IC)
                          const float* dy,    // (N, OH, OW, OC)
                          std::int64_t n, std::int64_t h, std::int64_t wd) {
        Plan& p = plan(n, h, wd);
        Prim& prim = p.bwd_weights_prim(*this);
        p.src.set_data_handle(const_cast<float*>(x));
        p.dst.set_data_handle(const_cast<float*>(dy));
        if (bias_) bias_mem_.set_data_handle(db);
        user_dw_mem_.set_data_handle(dw);
        run(prim);
        if (prim.dw_reorder) {
            prim.dw_reorder.execute(ctx_.stream, prim.dw_buffer, user_dw_mem_);
            ctx_.stream.wait();
        }
    }

    /** oneDNN's implementation name for one pass at one input shape (creates the primitive if needed). */
    std::string implementation(Pass pass, std::int64_t n, std::int64_t h, std::int64_t wd) {
        Plan& p = plan(n, h, wd);
        switch (pass) {
            case Pass::ForwardInference: return p.fwd_inf_prim(*this).impl;
            case Pass::ForwardTraining: return p.fwd_train_prim(*this).impl;
            case Pass::BackwardData: return p.bwd_data_prim(*this).impl;
            case Pass::BackwardWeights: return p.bwd_weights_prim(*this).impl;
        }
        return "";
    }

    /** Number of OIHW -> blocked weight reorders done so far (each is one weight-cache refresh). */
    std::int64_t weight_reorders() const { return weight_reorders_; }

private:
    static constexpr std::size_t kMaxPlans = 8;

    /** Weights reordered into one primitive's layout, tagged with the source tensor's identity. */
    struct WeightCache {
        dnnl::memory::desc md;
        dnnl::memory mem;        // owned by oneDNN, allocated once
        dnnl::reorder reorder;   // user OIHW -> md
        bool valid = false;
        std::int64_t id = 0, version = 0;
        const float* address = nullptr;
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
        dnnl::reorder dw_reorder;              //   and its reorder to OIHW (empty when already OIHW)
        bool ready = false;
    };

    /** The primitives of one input shape. */
    struct Plan {
        std::int64_t n, h, w, threads;
        dnnl::memory::desc src_md, dst_md, w_any_md;
        dnnl::memory src, dst;  // x or dx, y or dy: data handles set per call
        dnnl::memory::dims strides, dilates, pad_l, pad_r;
        bool have_train_pd = false;
        dnnl::convolution_forward::primitive_desc train_pd;  // hint for the backward primitives
        Prim fwd_inf, fwd_train, bwd_data, bwd_weights;

        const dnnl::convolution_forward::primitive_desc& training_pd(Conv2d& c) {
            if (!have_train_pd) {
                train_pd = c.forward_pd(*this, dnnl::prop_kind::forward_training);
                have_train_pd = true;
            }
            return train_pd;
        }

        Prim& fwd_inf_prim(Conv2d& c) {
            if (!fwd_inf.ready) c.bind_forward(*this, fwd_inf, c.forward_pd(*this, dnnl::prop_kind::forward_inference));
            return fwd_inf;
        }

        Prim& fwd_train_prim(Conv2d& c) {
            if (!fwd_train.ready) c.bind_forward(*this, fwd_train, training_pd(c));
            return fwd_train;
        }

        Prim& bwd_data_prim(Conv2d& c) {
            if (!bwd_data.ready) {
                dnnl::convolution_backward_data::primitive_desc pd(
                        c.ctx_.engine, dnnl::algorithm::convolution_direct, src_md, w_any_md, dst_md, strides,
                        dilates, pad_l, pad_r, training_pd(c), c.attr_);
                WeightCache& wc = c.weight_cache(pd.weights_desc());
                bwd_data.args = {{DNNL_ARG_DIFF_SRC, src}, {DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_WEIGHTS, wc.mem}};
                c.finish(bwd_data, dnnl::convolution_backward_data(pd), pd.scratchpad_desc(), pd.impl_info_str());
                bwd_data.weights_cache = &wc;
            }
            return bwd_data;
        }

        Prim& bwd_weights_prim(Conv2d& c) {
            if (!bwd_weights.ready) {
                dnnl::convolution_backward_weights::primitive_desc pd(
                        c.ctx_.engine, dnnl::algorithm::convolution_direct, src_md, w_any_md, c.bias_md_, dst_md,
                        strides, dilates, pad_l, pad_r, training_pd(c), c.attr_);
                Prim& b = bwd_weights;
                b.args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dst}};
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
        p->src_md = dnnl::memory::desc({n, ic_, h, w}, dt::f32, tag::nhwc);
        p->dst_md = dnnl::memory::desc({n, oc_, out_h(h), out_w(w)}, dt::f32, tag::nhwc);
        p->w_any_md = dnnl::memory::desc(user_w_md_.get_dims(), dt::f32, tag::any);
        p->src = dnnl::memory(p->src_md, ctx_.engine, DNNL_MEMORY_NONE);
        p->dst = dnnl::memory(p->dst_md, ctx_.engine, DNNL_MEMORY_NONE);
        p->strides = {sh_, sw_};
        p->dilates = {dh_ - 1, dw_ - 1};  // oneDNN counts the gaps: PyTorch dilation - 1
        p->pad_l = {ph_, pw_};
        p->pad_r = {ph_, pw_};  // oneDNN checks (H - extent + pl + pr) / s + 1 == OH in integers: PyTorch's floor
        return p;
    }

    dnnl::convolution_forward::primitive_desc forward_pd(const Plan& p, dnnl::prop_kind kind) {
        return dnnl::convolution_forward::primitive_desc(ctx_.engine, kind, dnnl::algorithm::convolution_direct,
                                                         p.src_md, p.w_any_md, bias_md_, p.dst_md, p.strides,
                                                         p.dilates, p.pad_l, p.pad_r, attr_);
    }

    void bind_forward(Plan& p, Prim& prim, const dnnl::convolution_forward::primitive_desc& pd) {
        WeightCache& wc = weight_cache(pd.weights_desc());
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

    /** The cache buffer for weights in layout md (created on first request, kept for the layer's life). */
    WeightCache& weight_cache(const dnnl::memory::desc& md) {
        for (auto& wc : weight_caches_) {
            if (wc->md == md) return *wc;
        }
        auto wc = std::make_unique<WeightCache>();
        wc->md = md;
        wc->mem = dnnl::memory(md, ctx_.engine);
        wc->reorder = dnnl::reorder(user_w_mem_, wc->mem);
        weight_caches_.push_back(std::move(wc));
        return *weight_caches_.back();
    }

    /** A buffer for diff weights in layout md, shared by the plans that choose the same layout. */
    dnnl::memory dw_buffer(const dnnl::memory::desc& md) {
        for (auto& m : dw_buffers_) {
            if (m.get_desc() == md) return m;
        }
        dw_buffers_.emplace_back(md, ctx_.engine);
        return dw_buffers_.back();
    }

    /** Refreshes a weight cache from the user's OIHW weights when their tag changed. */
    void sync_weights(WeightCache* wc, const float* w, std::int64_t id, std::int64_t version) {
        if (wc->valid && wc->id == id && wc->version == version && wc->address == w) return;
        user_w_mem_.set_data_handle(const_cast<float*>(w));
        wc->reorder.execute(ctx_.stream, user_w_mem_, wc->mem);
        ctx_.stream.wait();
        wc->valid = true;
        wc->id = id;
        wc->version = version;
        wc->address = w;
        weight_reorders_++;
    }

    void run(Prim& prim) {
        if (prim.scratchpad_bytes > 0) prim.scratchpad.set_data_handle(ctx_.dnnl_scratchpad.ensure(prim.scratchpad_bytes));
        prim.prim.execute(ctx_.stream, prim.args);
        ctx_.stream.wait();
    }

    CpuContext& ctx_;
    const std::int64_t ic_, oc_, kh_, kw_, sh_, sw_, ph_, pw_, dh_, dw_, groups_;
    const bool bias_;
    dnnl::primitive_attr attr_;
    dnnl::memory::desc user_w_md_, bias_md_;  // bias_md_ stays the zero descriptor without bias
    dnnl::memory user_w_mem_, user_dw_mem_, bias_mem_;
    std::vector<std::unique_ptr<Plan>> plans_;
    std::vector<std::unique_ptr<WeightCache>> weight_caches_;
    std::vector<dnnl::memory> dw_buffers_;
    std::int64_t weight_reorders_ = 0;
};

}  // namespace cpu
}  // namespace arunet

// cuda/convert.cu — data-type and layout conversions around the cuDNN convolutions.
//
// Contents:
//   k_to_half, k_to_bf16              activations F32 -> F16 / BF16 (round to nearest even), for the
//                                     convolutions of the mixed-precision modes
//   k_half_to_f32_bias,
//   k_bf16_to_f32_bias                y[m, c] = float(src[m, c]) + b[c] (b may be null): a convolution's
//                                     half-precision output back to F32 with its bias added in the same pass
//   k_bias_add                        y[m, c] += b[c] (the F32 convolutions' bias)
//   k_to_half4, k_to_bf16_4, k_half_to_f32_bias4, k_bf16_to_f32_bias4, k_bias_add4
//                                     float4 twins, Note [vectorized kernels]
//   k_epilogue, k_epilogue4           y[m, c] = steps(float(src[m, c]) + b[c]): a convolution's output (F32,
//                                     F16 or BF16) with its bias and the inference epilogue of
//                                     Backend.convForwardFused in one pass, Note [convolution epilogue]
//   k_oihw_to_ohwi                    weights from PyTorch's OIHW (F32) to the OHWI order ("KRSC", NHWC
//                                     filters) that cuDNN runs fastest with NHWC activations, in F32, F16
//                                     or BF16 (dtype 0, 1, 2): once per weight version
//   k_ohwi_to_oihw                    the weight gradient back: OHWI in F32 / F16 / BF16 -> OIHW F32
//
// With I the input channels per group, OIHW element (o, i, h, w) sits at ((o I + i) KH + h) KW + w and
// OHWI element (o, h, w, i) at ((o KH + h) KW + w) I + i. Outputs are overwritten.
#include "common.cuh"

ARUNET_KERNEL void k_to_half(__half* y, const float* x, i64 n) {
    GRID_STRIDE(i, n) y[i] = __float2half_rn(x[i]);
}

ARUNET_KERNEL void k_to_bf16(__nv_bfloat16* y, const float* x, i64 n) {
    GRID_STRIDE(i, n) y[i] = __float2bfloat16_rn(x[i]);
}

ARUNET_KERNEL void k_half_to_f32_bias(float* y, const __half* x, const float* b, i64 M, i64 C) {
    if (b == nullptr) {
        GRID_STRIDE(i, M * C) y[i] = __half2float(x[i]);
    } else {
        DIV_LOOP(i, M * C, pc, C) y[i] = __half2float(x[i]) + b[pc.r];
    }
}

ARUNET_KERNEL void k_bf16_to_f32_bias(float* y, const __nv_bfloat16* x, const float* b, i64 M, i64 C) {
    if (b == nullptr) {
        GRID_STRIDE(i, M * C) y[i] = __bfloat162float(x[i]);
    } else {
        DIV_LOOP(i, M * C, pc, C) y[i] = __bfloat162float(x[i]) + b[pc.r];
    }
}

ARUNET_KERNEL void k_bias_add(float* y, const float* b, i64 M, i64 C) {
    DIV_LOOP(i, M * C, pc, C) y[i] += b[pc.r];
}

ARUNET_KERNEL void k_to_half4(Half4* y, const float4* x, i64 n4) {
    GRID_STRIDE(i, n4) {
        const float4 v = x[i];
        y[i] = Half4{__float2half_rn(v.x), __float2half_rn(v.y), __float2half_rn(v.z), __float2half_rn(v.w)};
    }
}

ARUNET_KERNEL void k_to_bf16_4(Bf164* y, const float4* x, i64 n4) {
    GRID_STRIDE(i, n4) {
        const float4 v = x[i];
        y[i] = Bf164{__float2bfloat16_rn(v.x), __float2bfloat16_rn(v.y), __float2bfloat16_rn(v.z),
                     __float2bfloat16_rn(v.w)};
    }
}

/** y = float(x) + b per float4 vector, C4 = C / 4 vectors per row; b may be null. */
ARUNET_KERNEL void k_half_to_f32_bias4(float4* y, const Half4* x, const float4* b, i64 M, i64 C4) {
    DIV_LOOP(i, M * C4, pc, C4) {
        const Half4 h = x[i];
        const float4 bv = b != nullptr ? b[pc.r] : float4{0.f, 0.f, 0.f, 0.f};
        float4 o{__half2float(h.x), __half2float(h.y), __half2float(h.z), __half2float(h.w)};
        if (b != nullptr) o = float4{o.x + bv.x, o.y + bv.y, o.z + bv.z, o.w + bv.w};
        y[i] = o;
    }
}

ARUNET_KERNEL void k_bf16_to_f32_bias4(float4* y, const Bf164* x, const float4* b, i64 M, i64 C4) {
    DIV_LOOP(i, M * C4, pc, C4) {
        const Bf164 h = x[i];
        const float4 bv = b != nullptr ? b[pc.r] : float4{0.f, 0.f, 0.f, 0.f};
        float4 o{__bfloat162float(h.x), __bfloat162float(h.y), __bfloat162float(h.z), __bfloat162float(h.w)};
        if (b != nullptr) o = float4{o.x + bv.x, o.y + bv.y, o.z + bv.z, o.w + bv.w};
        y[i] = o;
    }
}

ARUNET_KERNEL void k_bias_add4(float4* y, const float4* b, i64 M, i64 C4) {
    DIV_LOOP(i, M * C4, pc, C4) {
        const float4 v = y[i], bv = b[pc.r];
        y[i] = float4{v.x + bv.x, v.y + bv.y, v.z + bv.z, v.w + bv.w};
    }
}

/** dst[o, h, w, i] = src[o, i, h, w]; one thread per destination element. */
ARUNET_KERNEL void k_oihw_to_ohwi(void* dst, const float* src, i64 O, i64 I, i64 KH, i64 KW, int dtype) {
    const i64 hwi = KH * KW * I;
    GRID_STRIDE(d, O * hwi) {
        i64 o, rest, hw, i;
        divmod(d, hwi, o, rest);   // rest = (h KW + w) I + i
        divmod(rest, I, hw, i);    // hw = h KW + w
        const float v = src[(o * I + i) * KH * KW + hw];
        if (dtype == 1) {
            static_cast<__half*>(dst)[d] = __float2half_rn(v);
        } else if (dtype == 2) {
            static_cast<__nv_bfloat16*>(dst)[d] = __float2bfloat16_rn(v);
        } else {
            static_cast<float*>(dst)[d] = v;
        }
    }
}

/** dst[o, i, h, w] = src[o, h, w, i] (converted to F32); one thread per destination element. */
ARUNET_KERNEL void k_ohwi_to_oihw(float* dst, const void* src, i64 O, i64 I, i64 KH, i64 KW, int dtype) {
    const i64 ihw = I * KH * KW;
    const i64 hw_count = KH * KW;
    GRID_STRIDE(d, O * ihw) {
        i64 o, rest, i, hw;
        divmod(d, ihw, o, rest);        // rest = i KH KW + hw
        divmod(rest, hw_count, i, hw);
        const i64 s = (o * hw_count + hw) * I + i;
        float v;
        if (dtype == 1) {
            v = __half2float(static_cast<const __half*>(src)[s]);
        } else if (dtype == 2) {
            v = __bfloat162float(static_cast<const __nv_bfloat16*>(src)[s]);
        } else {
            v = static_cast<const float*>(src)[s];
        }
        dst[d] = v;
    }
}

// ----------------------------------------------------------------------------------------------------
// Note [convolution epilogue]
//
// The inference path (Backend.convForwardFused) applies a chain of elementwise steps to t = conv + b
// before writing y. `prog` holds the chain, four bits per step, first step in the lowest bits, 0 ends it:
//   kEpiAffine   t = ((t - coef[C + c]) - coef[2C + c]) coef[c] + beta[c]: an inference batch norm with
//                the coefficient rows of k_bn_eval_coef (so the result equals k_bn_apply's bit for bit);
//                takes two operands, coef then beta
//   kEpiRelu, kEpiGelu, kEpiSigmoid   t = act(t)
//   kEpiSum      t = t + y[m, c] (y's contents before the kernel: the one accumulation)
//   kEpiMul      t = t * operand[m, c]        kEpiAdd   t = t + operand[m, c]
// Operands are p0..p3 in the order the steps take them. Every step is the arithmetic of the unfused op
// (k_bn_apply, k_act_fwd, k_add, k_mul), so fused and unfused results are equal bit for bit. src may be
// y itself (F32 convolutions written in place): each element is read before it is written, by the same
// thread. The chain is the same for every element, so the switch does not diverge.

enum : int { kEpiEnd = 0, kEpiAffine = 1, kEpiRelu = 2, kEpiGelu = 3, kEpiSigmoid = 4, kEpiSum = 5, kEpiMul = 6,
             kEpiAdd = 7 };

__device__ __forceinline__ const float* epi_operand(int k, const float* p0, const float* p1, const float* p2,
                                                    const float* p3) {
    return k == 0 ? p0 : k == 1 ? p1 : k == 2 ? p2 : p3;
}

/** The chain on element i (channel c) of y. */
__device__ __forceinline__ float epi_apply(float t, i64 i, i64 c, i64 C, int prog, const float* y, const float* p0,
                                           const float* p1, const float* p2, const float* p3) {
    int k = 0;
    for (int s = prog; s != 0; s >>= 4) {
        switch (s & 15) {
            case kEpiAffine: {
                const float* coef = epi_operand(k, p0, p1, p2, p3);
                const float* beta = epi_operand(k + 1, p0, p1, p2, p3);
                k += 2;
                t = ((t - coef[C + c]) - coef[2 * C + c]) * coef[c] + beta[c];
                break;
            }
            case kEpiRelu: t = relu_keep_nan(t); break;
            case kEpiGelu: t = gelu(t); break;
            case kEpiSigmoid: t = sigmoid(t); break;
            case kEpiSum: t = t + y[i]; break;
            case kEpiMul: t = t * epi_operand(k++, p0, p1, p2, p3)[i]; break;
            case kEpiAdd: t = t + epi_operand(k++, p0, p1, p2, p3)[i]; break;
            default: break;
        }
    }
    return t;
}

/** y = chain(float(src) + b), one thread per element; src has dtype code `dtype`; b may be null. */
ARUNET_KERNEL void k_epilogue(float* y, const void* src, int dtype, const float* b, i64 M, i64 C, int prog,
                              const float* p0, const float* p1, const float* p2, const float* p3) {
    DIV_LOOP(i, M * C, pc, C) {
        float t = load_as(src, dtype, i);
        if (b != nullptr) t = t + b[pc.r];
        y[i] = epi_apply(t, i, pc.r, C, prog, y, p0, p1, p2, p3);
    }
}

/** k_epilogue four channels at a time: C4 = C / 4 vectors per row (every pointer aligned, C % 4 == 0). */
ARUNET_KERNEL void k_epilogue4(float* y, const void* src, int dtype, const float* b, i64 M, i64 C4, int prog,
                               const float* p0, const float* p1, const float* p2, const float* p3) {
    const i64 C = 4 * C4;
    DIV_LOOP(i, M * C4, pc, C4) {
        const float4 v = load4_as(src, dtype, i);
        float t[4] = {v.x, v.y, v.z, v.w};
        if (b != nullptr) {
            const float4 bv = reinterpret_cast<const float4*>(b)[pc.r];
            t[0] = t[0] + bv.x;
            t[1] = t[1] + bv.y;
            t[2] = t[2] + bv.z;
            t[3] = t[3] + bv.w;
        }
        float4 o;
        o.x = epi_apply(t[0], 4 * i, 4 * pc.r, C, prog, y, p0, p1, p2, p3);
        o.y = epi_apply(t[1], 4 * i + 1, 4 * pc.r + 1, C, prog, y, p0, p1, p2, p3);
        o.z = epi_apply(t[2], 4 * i + 2, 4 * pc.r + 2, C, prog, y, p0, p1, p2, p3);
        o.w = epi_apply(t[3], 4 * i + 3, 4 * pc.r + 3, C, prog, y, p0, p1, p2, p3);
        reinterpret_cast<float4*>(y)[i] = o;
    }
}

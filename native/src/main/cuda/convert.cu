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

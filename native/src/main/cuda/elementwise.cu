// cuda/elementwise.cu — pointwise and broadcasting kernels, the CUDA twins of cpu/elementwise.h and
// cpu/activation.h.
//
// Contents:
//   k_fill, k_add, k_scale                       y = v; y = a + b; y = alpha x
//   k_add4, k_mul4, k_mul_channel4               float4 twins, Note [vectorized kernels]
//   k_mul, k_mul_pixel, k_mul_channel            the broadcasting product y = x * w in its three forms
//                                                (same shape; one weight per pixel [P, 1]; one weight
//                                                per image and channel [N, C]); mulBackward's dx uses
//                                                the same kernels with dy in place of x
//   k_rowdot                                     out[p] = sum_c a[p, c] b[p, c] (the per-pixel dw)
//   k_act_fwd, k_act_bwd                         NONE, RELU, GELU (exact erf form), SIGMOID
//   k_adam                                       one Adam step (cpu/adam.h)
//   k_sumsq_partial, k_sum_final,
//   k_sum_segments                               sum of squares (optionally scaling the tensor in place
//                                                first: loss-scale unscaling), Note [determinism]
//   k_colsum_partial, k_coldot_partial,
//   k_colsum_final                               per-column sums of x or of a * b over rows, per segment
//                                                (bias gradients, linear db, the per-channel dw of
//                                                mulBackward), Note [column reductions]
//
// Outputs are overwritten. Aliasing: y may be a, b or x in the pointwise kernels (each element is read
// before it is written, by the same thread), so no pointer here is __restrict__.
// Numerics: GELU and sigmoid use CUDA's erff / expf (within 2 ulp); the CPU kernels use vectorizable
// approximations within 1.5e-7 absolute, so the two backends agree to ~2e-7 absolute.
#include "common.cuh"

// ----------------------------------------------------------------------------------------------------
// fill, add, scale, products

ARUNET_KERNEL void k_fill(float* y, float v, i64 n) {
    GRID_STRIDE(i, n) y[i] = v;
}

ARUNET_KERNEL void k_add(float* y, const float* a, const float* b, i64 n) {
    GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

ARUNET_KERNEL void k_scale(float* y, const float* x, float alpha, i64 n) {
    GRID_STRIDE(i, n) y[i] = alpha * x[i];
}

/** Same shape: y = x * w. */
ARUNET_KERNEL void k_mul(float* y, const float* x, const float* w, i64 n) {
    GRID_STRIDE(i, n) y[i] = x[i] * w[i];
}

/** One weight per pixel: y[p, c] = x[p, c] w[p]; elements i = p C + c. */
ARUNET_KERNEL void k_mul_pixel(float* y, const float* x, const float* w, i64 P, i64 C) {
    DIV_LOOP(i, P * C, pc, C) y[i] = x[i] * w[pc.q];
}

/** One weight per image and channel: y[n, q, c] = x[n, q, c] w[n, c], q over the HW pixels. */
ARUNET_KERNEL void k_mul_channel(float* y, const float* x, const float* w, i64 N, i64 HW, i64 C) {
    const i64 per_image = HW * C;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    DivCursor image(i, stride, per_image);  // q = n
    DivCursor channel(i, stride, C);        // r = c
    for (; i < N * per_image; i += stride, image.advance(), channel.advance()) {
        y[i] = x[i] * w[image.q * C + channel.r];
    }
}

/** k_add over n4 = n / 4 float4 vectors. */
ARUNET_KERNEL void k_add4(float4* y, const float4* a, const float4* b, i64 n4) {
    GRID_STRIDE(i, n4) {
        const float4 u = a[i], v = b[i];
        y[i] = float4{u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w};
    }
}

/** k_mul over n4 = n / 4 float4 vectors. */
ARUNET_KERNEL void k_mul4(float4* y, const float4* x, const float4* w, i64 n4) {
    GRID_STRIDE(i, n4) {
        const float4 u = x[i], v = w[i];
        y[i] = float4{u.x * v.x, u.y * v.y, u.z * v.z, u.w * v.w};
    }
}

/** k_mul_channel with C4 = C / 4 vectors per pixel: y[n, q, c4] = x[n, q, c4] * w[n, c4]. */
ARUNET_KERNEL void k_mul_channel4(float4* y, const float4* x, const float4* w, i64 N, i64 HW, i64 C4) {
    const i64 per_image = HW * C4;
    const i64 stride = (i64)gridDim.x * blockDim.x;
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    DivCursor image(i, stride, per_image);
    DivCursor channel(i, stride, C4);
    for (; i < N * per_image; i += stride, image.advance(), channel.advance()) {
        const float4 u = x[i], v = w[image.q * C4 + channel.r];
        y[i] = float4{u.x * v.x, u.y * v.y, u.z * v.z, u.w * v.w};
    }
}

/** out[p] = sum_c a[p, c] b[p, c], accumulated in double; one warp per row, lanes stride over c. */
ARUNET_KERNEL void k_rowdot(float* out, const float* a, const float* b, i64 P, i64 C) {
    const i64 warps = ((i64)gridDim.x * blockDim.x) / 32;
    const int lane = threadIdx.x % 32;
    for (i64 p = ((i64)blockIdx.x * blockDim.x + threadIdx.x) / 32; p < P; p += warps) {
        const float* ap = a + p * C;
        const float* bp = b + p * C;
        double s = 0.0;
        for (i64 c = lane; c < C; c += 32) s += double(ap[c]) * double(bp[c]);
        s = warp_sum(s);
        if (lane == 0) out[p] = float(s);
    }
}

// ----------------------------------------------------------------------------------------------------
// activations (codes are org.arunet.backend.Activation's ordinals)

// kAct*, gelu and sigmoid are in common.cuh (the convolution epilogue of convert.cu uses them too)

__device__ __forceinline__ float gelu_grad(float x) {
    const float cdf = 0.5f * (1.f + erff(x * 0.70710678118654752440f));
    const float pdf = 0.39894228040143267794f * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

ARUNET_KERNEL void k_act_fwd(float* y, const float* x, int act, i64 n) {
    switch (act) {
        case kActRelu:
            GRID_STRIDE(i, n) y[i] = relu_keep_nan(x[i]);
            break;
        case kActGelu:
            GRID_STRIDE(i, n) y[i] = gelu(x[i]);
            break;
        case kActSigmoid:
            GRID_STRIDE(i, n) y[i] = sigmoid(x[i]);
            break;
        default:
            GRID_STRIDE(i, n) y[i] = x[i];
            break;
    }
}

/** dx = dy * act'(.): RELU and GELU read x, SIGMOID reads y (x may then be null). dx may be dy. */
ARUNET_KERNEL void k_act_bwd(float* dx, const float* x, const float* y, const float* dy, int act, i64 n) {
    switch (act) {
        case kActRelu:
            GRID_STRIDE(i, n) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
            break;
        case kActGelu:
            GRID_STRIDE(i, n) dx[i] = dy[i] * gelu_grad(x[i]);
            break;
        case kActSigmoid:
            GRID_STRIDE(i, n) dx[i] = dy[i] * ((1.f - y[i]) * y[i]);
            break;
        default:
            GRID_STRIDE(i, n) dx[i] = dy[i];
            break;
    }
}

// ----------------------------------------------------------------------------------------------------
// Adam (cpu/adam.h; the bias corrections and step size are computed in Java in double, as there)

ARUNET_KERNEL void k_adam(float* param, float* m, float* v, const float* grad, i64 n, float beta1, float beta2,
                          float one_minus_b1, float one_minus_b2, float step_size, float bc2_sqrt, float eps,
                          float weight_decay) {
    const bool decay = weight_decay != 0.f;
    GRID_STRIDE(i, n) {
        const float g = decay ? grad[i] + weight_decay * param[i] : grad[i];
        const float mi = m[i] * beta1 + one_minus_b1 * g;
        const float vi = v[i] * beta2 + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

// ----------------------------------------------------------------------------------------------------
// sums of squares

/**
 * Block b sums the squares of elements [b perChunk, (b + 1) perChunk) of x (after multiplying x by
 * `scale` in place when `scale_in_place` is set) in double, threads striding, then a fixed tree:
 * partial[b]. Launch with kBlock threads and ceil(n / perChunk) blocks.
 */
ARUNET_KERNEL void k_sumsq_partial(double* partial, float* x, float scale, int scale_in_place, i64 n,
                                   i64 per_chunk) {
    const i64 b0 = (i64)blockIdx.x * per_chunk;
    const i64 b1 = imin(n, b0 + per_chunk);
    double s = 0.0;
    for (i64 i = b0 + threadIdx.x; i < b1; i += blockDim.x) {
        float v = x[i];
        if (scale_in_place) {
            v *= scale;
            x[i] = v;
        }
        s += double(v) * double(v);
    }
    s = block_sum(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

/** out[0] = partial[0] + ... + partial[chunks - 1], in a fixed order; one block of kBlock threads. */
ARUNET_KERNEL void k_sum_final(double* out, const double* partial, i64 chunks) {
    double s = 0.0;
    for (i64 k = threadIdx.x; k < chunks; k += blockDim.x) s += partial[k];
    s = block_sum(s);
    if (threadIdx.x == 0) out[0] = s;
}

/**
 * Segment t of `partial` is [offsets[t], offsets[t + 1]); out[t] = its sum in a fixed order. One block
 * of kBlock threads per segment (grid-stride over segments).
 */
ARUNET_KERNEL void k_sum_segments(double* out, const double* partial, const i64* offsets, i64 segments) {
    for (i64 t = blockIdx.x; t < segments; t += gridDim.x) {
        double s = 0.0;
        for (i64 k = offsets[t] + threadIdx.x; k < offsets[t + 1]; k += blockDim.x) s += partial[k];
        s = block_sum(s);
        if (threadIdx.x == 0) out[t] = s;
    }
}

// ----------------------------------------------------------------------------------------------------
// column sums, Note [column reductions]

/** Per (chunk, column) sums of x over rows: S segments of R rows by C columns. */
ARUNET_KERNEL void k_colsum_partial(Sum1* partial, const float* x, i64 S, i64 R, i64 C, i64 rows_per_chunk) {
    column_partials<Sum1>(partial, S, R, C, rows_per_chunk,
                          [&](Sum1& acc, i64 off, i64, i64, i64) { acc.a += double(x[off]); });
}

/** Per (chunk, column) sums of a * b over rows (in double). */
ARUNET_KERNEL void k_coldot_partial(Sum1* partial, const float* a, const float* b, i64 S, i64 R, i64 C,
                                    i64 rows_per_chunk) {
    column_partials<Sum1>(partial, S, R, C, rows_per_chunk,
                          [&](Sum1& acc, i64 off, i64, i64, i64) { acc.a += double(a[off]) * double(b[off]); });
}

/** out[j] = float(sum of the chunk partials of column j, in chunk order); one thread per column. */
ARUNET_KERNEL void k_colsum_final(float* out, const Sum1* partial, i64 J, i64 chunks) {
    GRID_STRIDE(j, J) out[j] = float(column_total(partial, J, chunks, j).a);
}

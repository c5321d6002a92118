// cuda/common.cuh — what every arunet CUDA kernel file shares.
//
// Contents:
//   i64, ARUNET_KERNEL              64-bit sizes; `extern "C" __global__` so that the driver API finds
//                                   each kernel by its plain name (cuModuleGetFunction).
//   GRID_STRIDE(i, n)               grid-stride loop over [0, n): every kernel is correct for any grid
//                                   size, so the launch configuration chosen in Java
//                                   (org.arunet.backend.cuda.Kernels) affects speed, never results.
//   DivCursor, DIV_LOOP             element index i -> (i / per, i mod per) along a grid-stride loop,
//                                   without a 64-bit division per element.
//   replaces / ties / relu_keep_nan the NaN rules of the CPU kernels (cpu/pool.h, cpu/batchnorm.h).
//   kAct*, gelu, sigmoid            the activations (codes = org.arunet.backend.Activation ordinals).
//   kF32 / kF16 / kBF16, load_as, store_as, load4_as, store4_as
//                                   elements of buffers whose dtype is a run-time code (Precision.code()).
//   Sum1..Sum4, SumMax              accumulators of the column reductions, Note [column reductions].
//   column_partials(...)            pass 1 of a column reduction.
//   block_sum(...)                  a fixed-order tree sum over a block (deterministic).
//
// Build: each kernel file (*.cu) is compiled on its own by nvcc into a fatbin with machine code for
// sm_80 and sm_90 and PTX for compute_90 (native/src/main/cuda/build-fatbins.sh). The same sources also
// compile as plain C++ with native/src/test/cuda/emu.h standing in for the CUDA runtime, so that the
// kernel logic is tested against the CPU kernels on a machine without a GPU
// (native/src/test/cuda/kernel_emu_test.cpp).
//
// Note [determinism]: no kernel uses floating-point atomics. Every reduction splits its input into
// chunks whose bounds depend only on the sizes (never on the GPU's multiprocessor count), sums each
// chunk in a fixed order and combines the chunks in index order, so results are bitwise identical
// from run to run and from GPU to GPU of the same architecture. Sums accumulate in double, as the CPU
// kernels do.
#pragma once

#ifndef ARUNET_EMULATION
#include <cuda_bf16.h>   // __nv_bfloat16, __float2bfloat16_rn, __bfloat162float
#include <cuda_fp16.h>   // __half, __float2half_rn, __half2float
#endif
#include <cstdint>       // std::int64_t

typedef long long i64;

#define ARUNET_KERNEL extern "C" __global__

/** Grid-stride loop: every thread of the grid visits i = its global index, then steps by the grid size. */
#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

/** Threads per block of the one-dimensional kernels (Kernels.BLOCK in Java). */
constexpr int kBlock = 256;

/** Column reductions: a block is kColTile columns (x) by kColRows row lanes (y). */
constexpr int kColTile = 32;
constexpr int kColRows = 8;

__device__ __forceinline__ i64 imin(i64 a, i64 b) { return a < b ? a : b; }
__device__ __forceinline__ i64 imax(i64 a, i64 b) { return a > b ? a : b; }

/** The scan rule of max pooling and amax (cpu/pool.h): a later value replaces the best if greater or NaN. */
__device__ __forceinline__ bool replaces(float v, float best) { return v > best || v != v; }

/** Tie test of amax's backward: equal, or both NaN. */
__device__ __forceinline__ bool ties(float v, float m) { return v == m || (v != v && m != m); }

/** ReLU that keeps NaN visible (torch.relu). */
__device__ __forceinline__ float relu_keep_nan(float v) { return (v > 0.f || v != v) ? v : 0.f; }

/** Activation codes: org.arunet.backend.Activation's ordinals. */
enum : int { kActNone = 0, kActRelu = 1, kActGelu = 2, kActSigmoid = 3 };

/** GELU, exact erf form (torch.nn.GELU()). */
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752440f)); }

__device__ __forceinline__ float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

/** q = a / b and r = a mod b for a >= 0, b > 0; 32-bit unsigned arithmetic when both fit (the usual case). */
__device__ __forceinline__ void divmod(i64 a, i64 b, i64& q, i64& r) {
    if (((a | b) >> 32) == 0) {
        const unsigned ua = (unsigned)a, ub = (unsigned)b;
        const unsigned uq = ua / ub;
        q = uq;
        r = ua - uq * ub;
    } else {
        q = a / b;
        r = a - q * b;
    }
}

/**
 * Tracks q = i / per and r = i mod per along a grid-stride loop: one 64-bit division when the thread
 * starts, then additions and a compare per step (a 64-bit division costs ~70 instructions on the GPU,
 * more than a memory-bound kernel can hide). With per = C, r is the channel of NHWC element i and q
 * its pixel.
 */
struct DivCursor {
    i64 q;
    i64 r;
    i64 per;
    i64 step_q;
    i64 step_r;
    __device__ __forceinline__ DivCursor(i64 i, i64 stride, i64 divisor)
        : q(i / divisor), r(i - (i / divisor) * divisor), per(divisor), step_q(stride / divisor),
          step_r(stride - (stride / divisor) * divisor) {}
    __device__ __forceinline__ void advance() {
        q += step_q;
        r += step_r;
        if (r >= per) {
            r -= per;
            q += 1;
        }
    }
};

/**
 * A grid-stride loop over [0, n) that also keeps `cur` = (i / divisor, i mod divisor) up to date.
 * Declares `i` and a stride variable in the enclosing scope: use once per block scope.
 */
#define DIV_LOOP(i, n, cur, divisor)                                   \
    const i64 i##_stride = (i64)gridDim.x * blockDim.x;                \
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;                \
    for (DivCursor cur(i, i##_stride, (divisor)); i < (n); i += i##_stride, cur.advance())

// ----------------------------------------------------------------------------------------------------
// Note [vectorized kernels]
//
// The memory-bound kernels on ARU-Net's largest tensors have a twin with a "4" suffix that moves four
// floats per access (float4: 16-byte loads and stores, four times the bytes in flight per thread, which
// is what reaches the memory bandwidth). The Java side uses a twin only when every pointer is 16-byte
// aligned and the channel count (or element count) is a multiple of 4, so that four consecutive floats
// are always four channels of one pixel; otherwise the scalar kernel runs. The arithmetic per element is
// the scalar kernel's, so both give bitwise equal results (tested in native/src/test/cuda).

/** Four halves (or bfloat16s) stored together: 8 bytes. */
struct alignas(8) Half4 {
    __half x, y, z, w;
};
struct alignas(8) Bf164 {
    __nv_bfloat16 x, y, z, w;
};

/** Element dtype codes of the mixed-precision buffers (Precision.code() in Java): F32, F16, BF16. */
enum : int { kF32 = 0, kF16 = 1, kBF16 = 2 };

/** Element i of a buffer of the given dtype code, as float. */
__device__ __forceinline__ float load_as(const void* p, int dtype, i64 i) {
    if (dtype == kF16) return __half2float(static_cast<const __half*>(p)[i]);
    if (dtype == kBF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    return static_cast<const float*>(p)[i];
}

/** Stores v as element i of a buffer of the given dtype code (round to nearest even). */
__device__ __forceinline__ void store_as(void* p, int dtype, i64 i, float v) {
    if (dtype == kF16) {
        static_cast<__half*>(p)[i] = __float2half_rn(v);
    } else if (dtype == kBF16) {
        static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    } else {
        static_cast<float*>(p)[i] = v;
    }
}

/** Vector i (four elements) of a buffer of the given dtype code; the buffer is 8- (halves) or 16-byte aligned. */
__device__ __forceinline__ float4 load4_as(const void* p, int dtype, i64 i) {
    if (dtype == kF16) {
        const Half4 h = static_cast<const Half4*>(p)[i];
        return float4{__half2float(h.x), __half2float(h.y), __half2float(h.z), __half2float(h.w)};
    }
    if (dtype == kBF16) {
        const Bf164 h = static_cast<const Bf164*>(p)[i];
        return float4{__bfloat162float(h.x), __bfloat162float(h.y), __bfloat162float(h.z), __bfloat162float(h.w)};
    }
    return static_cast<const float4*>(p)[i];
}

__device__ __forceinline__ void store4_as(void* p, int dtype, i64 i, float4 v) {
    if (dtype == kF16) {
        static_cast<Half4*>(p)[i] = Half4{__float2half_rn(v.x), __float2half_rn(v.y), __float2half_rn(v.z),
                                          __float2half_rn(v.w)};
    } else if (dtype == kBF16) {
        static_cast<Bf164*>(p)[i] = Bf164{__float2bfloat16_rn(v.x), __float2bfloat16_rn(v.y),
                                          __float2bfloat16_rn(v.z), __float2bfloat16_rn(v.w)};
    } else {
        static_cast<float4*>(p)[i] = v;
    }
}

// ----------------------------------------------------------------------------------------------------
// accumulators (plain structs: __shared__ arrays of them need trivial construction)

struct Sum1 {
    double a;
    __device__ __forceinline__ static Sum1 zero() { return Sum1{0.0}; }
    __device__ __forceinline__ void add(const Sum1& o) { a += o.a; }
};

struct Sum2 {
    double a, b;
    __device__ __forceinline__ static Sum2 zero() { return Sum2{0.0, 0.0}; }
    __device__ __forceinline__ void add(const Sum2& o) {
        a += o.a;
        b += o.b;
    }
};

/** The loss sums of one class k: sum p, sum p t, sum t, and (column 0 only) the CE sum. */
struct Sum4 {
    double p, pt, t, ce;
    __device__ __forceinline__ static Sum4 zero() { return Sum4{0.0, 0.0, 0.0, 0.0}; }
    __device__ __forceinline__ void add(const Sum4& o) {
        p += o.p;
        pt += o.pt;
        t += o.t;
        ce += o.ce;
    }
};

/** Sum and max (with the `replaces` rule) of one column: global pooling's two outputs in one pass. */
struct SumMax {
    double s;
    float m;
    __device__ __forceinline__ static SumMax zero() { return SumMax{0.0, __int_as_float(0xff800000)}; }  // -inf
    __device__ __forceinline__ void add(const SumMax& o) {
        s += o.s;
        if (replaces(o.m, m)) m = o.m;
    }
};

// ----------------------------------------------------------------------------------------------------
// Note [column reductions]
//
// Many ops reduce an NHWC tensor over its rows per channel (batch norm statistics, bias gradients,
// global pooling per image). The input is S segments of R rows by C columns, row-major: element
// (s, r, c) lives at base[(s R + r) C + c]; column j = s C + c, J = S C columns in all.
//
// Pass 1 (column_partials): grid (ceil(J / 32), chunks), block (32, 8). Block (bx, chunk) owns
// columns bx*32 .. bx*32+31 and rows [chunk rowsPerChunk, (chunk + 1) rowsPerChunk); thread (tx, ty)
// accumulates rows ty, ty + 8, ... of column bx*32 + tx (a warp reads 32 consecutive floats: coalesced
// for C >= 32), then the 8 row lanes are combined in order 0..7 and written to
// partial[chunk J + j]. Pass 2 is per op (a final kernel combines the chunks of each column in order
// 0..chunks-1, then finishes the op). The chunk size is chosen in Java from R alone
// (Kernels.rowsPerChunk), so the result does not depend on the device.

/**
 * Pass 1 of a column reduction. `load(acc, offset, c, s, r)` adds element (s, r, c), at base offset
 * `offset`, into the accumulator. Launch with blockDim (kColTile, kColRows) and gridDim
 * (ceil(J / kColTile), ceil(R / rowsPerChunk)).
 */
template <class Acc, class Load>
__device__ __forceinline__ void column_partials(Acc* partial, i64 S, i64 R, i64 C, i64 rowsPerChunk, Load load) {
    __shared__ Acc sh[kColRows][kColTile];
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const i64 J = S * C;
    const i64 j = (i64)blockIdx.x * kColTile + tx;
    const i64 chunk = blockIdx.y;
    Acc acc = Acc::zero();
    if (j < J) {
        const i64 s = j / C;
        const i64 c = j - s * C;
        const i64 r0 = chunk * rowsPerChunk;
        const i64 r1 = imin(R, r0 + rowsPerChunk);
        for (i64 r = r0 + ty; r < r1; r += kColRows) load(acc, (s * R + r) * C + c, c, s, r);
    }
    sh[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && j < J) {
        Acc t = sh[0][tx];
        for (int k = 1; k < kColRows; k++) t.add(sh[k][tx]);
        partial[chunk * J + j] = t;
    }
}

/** Combines the chunks of column j in order: partial[0 J + j] + partial[1 J + j] + ... */
template <class Acc>
__device__ __forceinline__ Acc column_total(const Acc* partial, i64 J, i64 chunks, i64 j) {
    Acc t = partial[j];
    for (i64 k = 1; k < chunks; k++) t.add(partial[k * J + j]);
    return t;
}

// ----------------------------------------------------------------------------------------------------
// block-wide sums

/**
 * Sum of one double per thread over a block of kBlock threads, by a fixed tree in shared memory
 * (deterministic). Every thread of the block must call it; thread 0 gets the total (others get an
 * unspecified value).
 */
__device__ __forceinline__ double block_sum(double v) {
    __shared__ double sh[kBlock];
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int width = kBlock / 2; width > 0; width /= 2) {
        if ((int)threadIdx.x < width) sh[threadIdx.x] += sh[threadIdx.x + width];
        __syncthreads();
    }
    const double total = sh[0];
    __syncthreads();  // the array may be reused by the caller's next block_sum
    return total;
}

/** Warp-level sum of a double by xor shuffles (a fixed butterfly: every lane gets the same total). */
__device__ __forceinline__ double warp_sum(double v) {
    for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

/** Warp-level integer sum. */
__device__ __forceinline__ int warp_sum_int(int v) {
    for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

/**
 * Warp-level max with the `replaces` rule. Lane order matters only for which NaN or which of +0 / -0
 * is kept; the value compares equal either way.
 */
__device__ __forceinline__ float warp_max(float v) {
    for (int m = 16; m > 0; m /= 2) {
        const float o = __shfl_xor_sync(0xffffffffu, v, m);
        if (replaces(o, v)) v = o;
    }
    return v;
}

// cuda/emu.h — runs arunet's CUDA kernels as plain C++ on the CPU, to test their logic on machines
// without a GPU (native/src/test/cuda/kernel_emu_test.cpp).
//
// How: the kernel sources are compiled by the host compiler with this header first. Every CUDA thread
// of a block becomes a std::thread (blocks run one after another), so that __syncthreads() is a real
// barrier among the block's threads and warp shuffles exchange values through a per-warp buffer
// between two per-warp barriers. __shared__ variables become function-local statics: one instance,
// shared by the threads of the running block, as on the GPU. Atomics take a global lock.
//
// What this checks: indexing, loop bounds, reductions, NaN rules and the numerics of every kernel,
// for any launch configuration. What it cannot: memory coalescing, races that only a real warp
// schedule exposes, and the hardware's own math functions (the host's libm stands in for erff, expf).
#pragma once

#define ARUNET_EMULATION 1

#include <cuda_bf16.h>      // __nv_bfloat16 and its host-side conversions
#include <cuda_fp16.h>      // __half and its host-side conversions
#include <vector_types.h>   // dim3, uint3

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

// cuda_fp16.h's host_defines.h gave these their host-compiler meanings; here they become plain C++
#undef __global__
#undef __device__
#undef __forceinline__
#undef __shared__
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static

namespace emu {

inline thread_local uint3 thread_idx;
inline thread_local uint3 block_idx;
inline dim3 block_dim;
inline dim3 grid_dim;

/** Barrier of the running block, and one barrier and exchange buffer per warp of it. */
inline std::unique_ptr<std::barrier<>> block_barrier;
inline std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
inline std::vector<std::array<unsigned long long, 32>> warp_exchange;
inline std::mutex atomic_lock;

inline unsigned linear_thread() {
    return thread_idx.x + block_dim.x * (thread_idx.y + block_dim.y * thread_idx.z);
}

/** Runs kernel(args...) over the grid: blocks in order, each block's threads concurrently. */
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, Args... args) {
    const unsigned threads = block.x * block.y * block.z;
    if (threads == 0 || threads > 1024) throw std::invalid_argument("emu::launch: bad block size");
    block_dim = block;
    grid_dim = grid;
    const unsigned warps = (threads + 31) / 32;
    for (unsigned bz = 0; bz < grid.z; bz++) {
        for (unsigned by = 0; by < grid.y; by++) {
            for (unsigned bx = 0; bx < grid.x; bx++) {
                block_barrier = std::make_unique<std::barrier<>>(threads);
                warp_barriers.clear();
                for (unsigned w = 0; w < warps; w++) {
                    const unsigned lanes = std::min(32u, threads - 32 * w);
                    warp_barriers.push_back(std::make_unique<std::barrier<>>(lanes));
                }
                warp_exchange.assign(warps, {});
                std::vector<std::thread> pool;
                pool.reserve(threads);
                for (unsigned t = 0; t < threads; t++) {
                    pool.emplace_back([&, t] {
                        thread_idx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
                        block_idx = uint3{bx, by, bz};
                        kernel(static_cast<Params>(args)...);
                    });
                }
                for (std::thread& th : pool) th.join();
            }
        }
    }
}

template <class T>
T shfl_xor(T v, int lane_mask) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    const unsigned tid = linear_thread();
    const unsigned warp = tid / 32;
    const unsigned lane = tid % 32;
    unsigned long long slot = 0;
    std::memcpy(&slot, &v, sizeof(T));
    warp_exchange[warp][lane] = slot;
    warp_barriers[warp]->arrive_and_wait();
    const unsigned long long other = warp_exchange[warp][lane ^ unsigned(lane_mask)];
    warp_barriers[warp]->arrive_and_wait();
    T r;
    std::memcpy(&r, &other, sizeof(T));
    return r;
}

}  // namespace emu

#define threadIdx (::emu::thread_idx)
#define blockIdx (::emu::block_idx)
#define blockDim (::emu::block_dim)
#define gridDim (::emu::grid_dim)

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }

template <class T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
    return emu::shfl_xor(v, lane_mask);
}

inline float __int_as_float(int bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

inline unsigned long long atomicMin(unsigned long long* address, unsigned long long v) {
    std::lock_guard<std::mutex> g(emu::atomic_lock);
    const unsigned long long old = *address;
    if (v < old) *address = v;
    return old;
}

// cpu/common.h — what every CPU kernel file shares.
//
// Contents:
//   - fail(op, parts...)      throws std::invalid_argument("op: parts...") — the only way native code
//                             reports an error (JavaCPP turns it into a java.lang.RuntimeException,
//                             CpuBackend wraps that into ArunetException). Never print, exit or abort.
//   - Buffer                  a 64-byte aligned block that only grows (workspaces, partial sums).
//   - CpuContext              one per CpuBackend: thread count, oneDNN engine and stream, and the
//                             workspaces the kernels and the oneDNN primitives use (no allocation per
//                             call once they have reached their high-water mark).
//   - thread_range(...)       static split of [0, n) among the threads of a parallel region.
//
// Header-only: everything is included into the single JNI translation unit that JavaCPP generates
// from include/arunet/ops.h.
#pragma once

#include <omp.h>          // omp_set_num_threads, omp_get_thread_num, omp_get_num_threads

#include <algorithm>      // std::min, std::max
#include <cstddef>        // std::size_t
#include <cstdint>        // std::int64_t
#include <cstdlib>        // std::aligned_alloc, std::free
#include <new>            // std::bad_alloc
#include <sstream>        // std::ostringstream (error messages)
#include <stdexcept>      // std::invalid_argument
#include <string>
#include <utility>        // std::forward

#include "dnnl.hpp"       // dnnl::engine, dnnl::stream (oneDNN C++ API)

namespace arunet {

// ----------------------------------------------------------------------------------------------------
// errors

/** Throws std::invalid_argument with "op: " followed by the streamed parts. */
template <typename... Parts>
[[noreturn]] inline void fail(const char* op, Parts&&... parts) {
    std::ostringstream s;
    s << op << ": ";
    (s << ... << std::forward<Parts>(parts));
    throw std::invalid_argument(s.str());
}

/** Checks a condition at a JNI entry; on failure throws naming the op and what was wrong. */
#define ARUNET_REQUIRE(cond, op, ...)                  \
    do {                                               \
        if (!(cond)) ::arunet::fail((op), __VA_ARGS__); \
    } while (0)

// ----------------------------------------------------------------------------------------------------
// growable aligned workspace

/** A 64-byte aligned block that grows to the largest size requested and is freed by its owner. */
class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { std::free(data_); }

    /** At least `bytes` bytes; the previous contents are not kept when it grows. */
    void* ensure(std::size_t bytes) {
        if (bytes > capacity_) {
            std::size_t rounded = (bytes + 63) / 64 * 64;
            void* p = std::aligned_alloc(64, rounded);
            if (p == nullptr) throw std::bad_alloc();
            std::free(data_);
            data_ = p;
            capacity_ = rounded;
        }
        return data_;
    }

    template <typename T>
    T* as(std::size_t count) {
        return static_cast<T*>(ensure(count * sizeof(T)));
    }

    std::size_t capacity() const { return capacity_; }

private:
    void* data_ = nullptr;
    std::size_t capacity_ = 0;
};

// ----------------------------------------------------------------------------------------------------
// context

/**
 * Per-backend state. The thread count is applied to the calling thread (OpenMP's nthreads ICV is per
 * thread) at every entry, so it holds for our kernels and for oneDNN (built with the OpenMP runtime,
 * it uses omp_get_max_threads() of the caller) whichever Java thread calls.
 */
struct CpuContext {
    int threads;
    dnnl::engine engine;
    dnnl::stream stream;
    Buffer partials;        // per-thread partial sums of the reduction kernels
    Buffer dnnl_scratchpad; // oneDNN user-mode scratchpad, shared by every convolution of this context
    Buffer conv_weights;    // plain weights transformed for a primitive (folded, sliced, phase-combined)
    Buffer conv_tmp;        // the phase output of an upsampling convolution (or its gradient)
    Buffer conv_src;        // a convolution input converted to bf16
    Buffer conv_dst;        // an output gradient converted to bf16 (bf16 training's backward passes)
    Buffer conv_blk_src;    // x and dy reordered to channel-blocked layouts for backward weights
    Buffer conv_blk_dst;
    Buffer conv_bwd_weights; // weights in a backward-data primitive's layout (reordered at each use)
    Buffer conv_dw;         // diff weights in a backward-weights primitive's layout

    explicit CpuContext(int nthreads)
        : threads(nthreads), engine(dnnl::engine::kind::cpu, 0), stream(engine) {}

    /** Makes this context's thread count current on the calling thread. */
    void enter() const { omp_set_num_threads(threads); }
};

// ----------------------------------------------------------------------------------------------------
// parallel helpers

/** Contiguous chunk [begin, end) of [0, n) for thread t of nt (the first n % nt chunks are one longer). */
inline void thread_range(std::int64_t n, int nt, int t, std::int64_t& begin, std::int64_t& end) {
    std::int64_t base = n / nt;
    std::int64_t rem = n % nt;
    begin = t * base + std::min<std::int64_t>(t, rem);
    end = begin + base + (t < rem ? 1 : 0);
}

/** Elements below which an elementwise kernel stays on one thread (a parallel region costs ~µs). */
constexpr std::int64_t kParallelGrain = 1 << 15;

}  // namespace arunet

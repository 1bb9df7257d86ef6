/* tests/emu/include/emu_cuda.h: a CPU emulation of the subset of CUDA C++ that src/kernels uses,
 * for the emulation test (tests/emu/test_emu_kernels.cpp). Never seen by nvcc.
 *
 * Execution model
 *   - A launch k<<<grid, block, shmem, stream>>>(args) is rewritten by tests/emu/cu2cpp.py into
 *     emu::launch("k", k, grid, block, shmem, stream, args). The arguments are converted to the
 *     kernel's parameter types once, at the launch (as CUDA does), and every thread gets a copy.
 *   - Blocks run one after another (no concurrency between blocks, no inter-block ordering bugs
 *     can show). The threads of a block are real std::threads running concurrently (a pool,
 *     emu::thread_pool, reused from block to block; thread_locals are reset per CUDA thread).
 *   - __syncthreads() is a std::barrier over the block. A thread that returns drops out of the
 *     barrier, so a uniform early return cannot hang; but every thread's barrier count is recorded
 *     and a block whose threads passed __syncthreads a different number of times is reported as a
 *     violation (divergent barrier: undefined behaviour on the device).
 *   - Warp shuffles (__shfl_sync, __shfl_down_sync, __shfl_xor_sync; width 32 only) go through a
 *     per-warp buffer between two per-warp barriers, so every lane must call them, as the
 *     0xffffffff mask promises; a warp whose lanes made different numbers of shuffle calls is a
 *     violation, and so is a mask other than the full mask of the warp.
 *   - __shared__ becomes `static`: one copy shared by the threads of a block (blocks are
 *     sequential, so that is per-block storage). It is zero at program start and keeps the last
 *     block's values: reads of uninitialised shared memory are NOT detected.
 *   - No memory model: the threads see one coherent host memory; barriers give happens-before.
 *     Races between threads, between blocks, or with other streams are not detected.
 *   - Only 1-D launches (y = z = 1) and no dynamic shared memory; anything else aborts. A launch
 *     configuration the device rejects (grid or block of 0, block > 1024) sets the sticky error
 *     that cudaGetLastError returns, so the launcher's FCE_LAUNCH_CHECK fires as on a GPU.
 *   - Device math (exp, log1p, sqrt, ...) is the host libm: CUDA's own ulp errors are not
 *     emulated. __fmul_rn and friends round each operation once and cannot be contracted into an
 *     FMA. Everything else follows the compiler flags of the emulated kernels (-ffp-contract).
 */
#ifndef FCE_EMU_CUDA_H
#define FCE_EMU_CUDA_H

#include <math.h>

#include <array>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <semaphore>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static
#define __restrict__ __restrict
#define __launch_bounds__(...)

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
        : x(vx), y(vy), z(vz) {}
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;
constexpr int warpSize = 32;

namespace emu {

using barrier = std::barrier<>;

/* State of the block being run. */
struct block_ctx {
    const char *kernel;
    unsigned block;
    std::unique_ptr<barrier> bar;
    std::vector<std::unique_ptr<barrier>> warp_bar;
    std::vector<std::array<unsigned char, 8 * 32>> warp_buf;
    std::vector<unsigned long> syncs, shfls; /* per thread: __syncthreads and shuffle calls */
    std::vector<unsigned> warp_lanes;        /* threads in each warp (32 but for a last partial) */
};

inline thread_local block_ctx *cur_block = nullptr;

/* Violations of the CUDA programming model seen by the emulation (divergent barriers, partial
 * shuffle masks); the test fails when this is not 0. */
inline std::atomic<long> violations{0};
/* Kernel launches so far (the test checks that n = 0 launches nothing). */
inline std::atomic<long> launches{0};
/* FCE_GRID_MAX of common.cuh is rewritten to EMU_GRID_MAX(original): with grid_max_override != 0
 * the grid cap becomes that value, so small problems already need several grid-stride passes. */
inline unsigned grid_max_override = 0;

/* Hooks of the emulated GPU backend (tests/emu/fake_cudart.cpp installs them with its first
 * cudaMalloc; the kernel test, which passes host buffers, never does). Called before every launch
 * that runs: the stream must be a live one, and every pointer argument NULL or inside a device
 * allocation (a host pointer in a kernel is an illegal address on a GPU). */
inline void (*launch_stream_hook)(const char *kernel, cudaStream_t stream) = nullptr;
inline void (*launch_pointer_hook)(const char *kernel, int arg, const void *p) = nullptr;

template <typename T>
inline void check_pointer_arg(const char *kernel, int arg, const T &v) {
    if constexpr (std::is_pointer_v<T>)
        if (launch_pointer_hook) launch_pointer_hook(kernel, arg, (const void *)v);
}

inline block_ctx *need_block(const char *what) {
    if (!cur_block) {
        std::fprintf(stderr, "emu: %s called outside an emulated kernel\n", what);
        std::abort();
    }
    return cur_block;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
inline void violation(const char *kernel, unsigned block, const char *fmt, ...) {
    violations.fetch_add(1);
    std::fprintf(stderr, "emu: VIOLATION in %s, block %u: ", kernel, block);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "\n");
}

/* One shuffle: every lane publishes v, then reads lane src's value (src < 0: its own). */
template <typename T>
T shuffle(unsigned mask, T v, int src, int width, const char *what) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle of a 1..8 byte type");
    block_ctx *b = need_block(what);
    const unsigned tid = threadIdx.x, w = tid / 32, lane = tid % 32;
    const unsigned lanes = b->warp_lanes[w];
    const unsigned full = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
    if (mask != full)
        violation(b->kernel, b->block, "%s: mask 0x%x is not the warp's full mask 0x%x (not emulated)",
                  what, mask, full);
    if (width != 32) {
        std::fprintf(stderr, "emu: %s with width %d is not emulated\n", what, width);
        std::abort();
    }
    b->shfls[tid]++;
    unsigned char *buf = b->warp_buf[w].data();
    std::memcpy(buf + 8 * lane, &v, sizeof v);
    b->warp_bar[w]->arrive_and_wait();
    T out = v;
    if (src >= 0 && (unsigned)src < lanes) std::memcpy(&out, buf + 8 * (unsigned)src, sizeof out);
    b->warp_bar[w]->arrive_and_wait();
    return out;
}

/* The OS threads that run the CUDA threads of a block: created once and reused for every block
 * (creating a std::thread per CUDA thread per block made GPU-sized launches take minutes). run(nt,
 * f) calls f(t) for t = 0 .. nt-1, each on its own thread, all concurrently, and returns when all
 * have returned. One launch at a time (launches come from one host thread). */
class thread_pool {
  public:
    ~thread_pool() {
        stop_.store(true);
        for (auto &w : workers_) w->go.release();
        for (auto &w : workers_) w->th.join();
    }
    template <typename F>
    void run(unsigned nt, F &f) {
        while (workers_.size() < nt) {
            auto w = std::make_unique<worker>();
            worker *wp = w.get();
            unsigned i = (unsigned)workers_.size();
            w->th = std::thread([this, wp, i] { work(wp, i); });
            workers_.push_back(std::move(w));
        }
        job_ = [&f](unsigned t) { f(t); };
        pending_.store(nt);
        for (unsigned t = 0; t < nt; t++) workers_[t]->go.release(); /* wakes exactly nt */
        for (unsigned p = pending_.load(); p != 0; p = pending_.load()) pending_.wait(p);
        job_ = nullptr;
    }

  private:
    struct worker {
        std::binary_semaphore go{0};
        std::thread th;
    };
    void work(worker *w, unsigned i) {
        for (;;) {
            w->go.acquire();
            if (stop_.load()) return;
            job_(i);
            if (pending_.fetch_sub(1) == 1) pending_.notify_one();
        }
    }
    std::vector<std::unique_ptr<worker>> workers_;
    std::function<void(unsigned)> job_;
    std::atomic<unsigned> pending_{0};
    std::atomic<bool> stop_{false};
};

inline thread_pool pool;

/* Runs kernel k over grid × block threads (1-D), blocks in order, threads of a block concurrently. */
template <typename... P, typename... A>
void launch(const char *name, void (*k)(P...), dim3 grid, dim3 block, size_t shmem,
            cudaStream_t stream, A &&...args) {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong argument count");
    /* One in-order emulated device: streams only order work, and all work is synchronous (the
     * stream is only checked, by launch_stream_hook, when the emulated GPU backend is linked). */
    /* Convert the arguments to the parameter types once, as the launch does. */
    const std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 ||
        block.z == 0 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
        (unsigned long)block.x * block.y * block.z > 1024 || grid.x > 2147483647u ||
        grid.y > 65535 || grid.z > 65535) {
        std::fprintf(stderr, "emu: launch of %s with grid (%u,%u,%u) block (%u,%u,%u) is invalid\n",
                     name, grid.x, grid.y, grid.z, block.x, block.y, block.z);
        last_error.store(cudaErrorInvalidConfiguration);
        return;
    }
    if (grid.y != 1 || grid.z != 1 || block.y != 1 || block.z != 1 || shmem != 0) {
        std::fprintf(stderr, "emu: %s: only 1-D launches without dynamic shared memory are emulated\n",
                     name);
        std::abort();
    }
    if (launch_stream_hook) launch_stream_hook(name, stream);
    if (launch_pointer_hook)
        std::apply([name](const auto &...v) {
            int i = 0;
            (check_pointer_arg(name, i++, v), ...);
        }, params);
    launches.fetch_add(1);
    gridDim = grid;
    blockDim = block;
    const unsigned nt = block.x, nw = (nt + 31) / 32;
    for (unsigned bx = 0; bx < grid.x; bx++) {
        block_ctx b;
        b.kernel = name;
        b.block = bx;
        b.bar = std::make_unique<barrier>((std::ptrdiff_t)nt);
        for (unsigned w = 0; w < nw; w++) {
            unsigned lanes = nt - 32 * w < 32 ? nt - 32 * w : 32;
            b.warp_lanes.push_back(lanes);
            b.warp_bar.push_back(std::make_unique<barrier>((std::ptrdiff_t)lanes));
        }
        b.warp_buf.resize(nw);
        b.syncs.assign(nt, 0);
        b.shfls.assign(nt, 0);
        auto body = [&b, &params, k, bx](unsigned t) {
            cur_block = &b;
            threadIdx = uint3{t, 0, 0};
            blockIdx = uint3{bx, 0, 0};
            std::apply(k, params); /* k takes its parameters by value: a copy per thread */
            b.warp_bar[t / 32]->arrive_and_drop();
            b.bar->arrive_and_drop();
            cur_block = nullptr;
        };
        pool.run(nt, body);
        for (unsigned t = 1; t < nt; t++)
            if (b.syncs[t] != b.syncs[0]) {
                violation(name, bx, "threads 0 and %u passed __syncthreads %lu and %lu times "
                          "(divergent barrier)", t, b.syncs[0], b.syncs[t]);
                break;
            }
        for (unsigned t = 0; t < nt; t++)
            if (b.shfls[t] != b.shfls[t - t % 32]) {
                violation(name, bx, "lanes of warp %u made %lu and %lu shuffle calls (divergent)",
                          t / 32, b.shfls[t - t % 32], b.shfls[t]);
                break;
            }
    }
}

/* Rounds once and hides the value from the optimiser, so no FMA contraction can cross it. */
template <typename T>
inline T opaque(T v) {
    volatile T r = v;
    return r;
}

}  // namespace emu

#define EMU_GRID_MAX(v) (::emu::grid_max_override ? ::emu::grid_max_override : (v))

inline void __syncthreads(void) {
    emu::block_ctx *b = emu::need_block("__syncthreads");
    b->syncs[threadIdx.x]++;
    b->bar->arrive_and_wait();
}

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32) {
    return emu::shuffle(mask, var, src_lane & (width - 1), width, "__shfl_sync");
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    unsigned lane = threadIdx.x % 32;
    int src = lane + delta < (unsigned)width ? (int)(lane + delta) : -1;
    return emu::shuffle(mask, var, src, width, "__shfl_down_sync");
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    unsigned lane = threadIdx.x % 32;
    int src = lane >= delta ? (int)(lane - delta) : -1;
    return emu::shuffle(mask, var, src, width, "__shfl_up_sync");
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32) {
    int src = (int)(threadIdx.x % 32) ^ lane_mask;
    return emu::shuffle(mask, var, src < width ? src : -1, width, "__shfl_xor_sync");
}

/* Correctly rounded single operations (round to nearest even), never contracted: the same six in
 * float (__fadd_rn ... __fsqrt_rn) and in double (__dadd_rn ... __dsqrt_rn). */
#define EMU_ROUNDED_OPS(T, add_rn, sub_rn, mul_rn, div_rn, fma_rn, sqrt_rn)                        \
    inline T add_rn(T a, T b) { return emu::opaque(emu::opaque(a) + emu::opaque(b)); }             \
    inline T sub_rn(T a, T b) { return emu::opaque(emu::opaque(a) - emu::opaque(b)); }             \
    inline T mul_rn(T a, T b) { return emu::opaque(emu::opaque(a) * emu::opaque(b)); }             \
    inline T div_rn(T a, T b) { return emu::opaque(emu::opaque(a) / emu::opaque(b)); }             \
    inline T fma_rn(T a, T b, T c) { return std::fma(a, b, c); }                                   \
    inline T sqrt_rn(T a) { return emu::opaque(std::sqrt(emu::opaque(a))); }
EMU_ROUNDED_OPS(float, __fadd_rn, __fsub_rn, __fmul_rn, __fdiv_rn, __fmaf_rn, __fsqrt_rn)
EMU_ROUNDED_OPS(double, __dadd_rn, __dsub_rn, __dmul_rn, __ddiv_rn, __fma_rn, __dsqrt_rn)
#undef EMU_ROUNDED_OPS
/* Round to nearest even (the default rounding mode). Out-of-range inputs are not emulated. */
inline int __float2int_rn(float x) { return (int)std::lrint(x); }
inline int __double2int_rn(double x) { return (int)std::lrint(x); }
inline float __double2float_rn(double x) { return emu::opaque((float)x); }
inline float __int2float_rn(int x) { return (float)x; }
inline int __float_as_int(float x) {
    int i;
    std::memcpy(&i, &x, sizeof i);
    return i;
}
inline float __int_as_float(int i) {
    float x;
    std::memcpy(&x, &i, sizeof x);
    return x;
}

#endif

/* tests/emu/include/emu_cuda.h: a CPU emulation of the subset of CUDA C++ that src/kernels uses,
 * for the emulation test (tests/emu/test_emu_kernels.cpp). Never seen by nvcc.
 *
 * Execution model
 *   - A launch k<<<grid, block, shmem, stream>>>(args) is rewritten by tests/emu/cu2cpp.py into
 *     emu::launch("k", k, grid, block, shmem, stream, args). The arguments are converted to the
 *     kernel's parameter types once, at the launch (as CUDA does), and every thread gets a copy.
 *   - Blocks run one after another (no concurrency between blocks, no inter-block ordering bugs
 *     can show). The threads of a block are fibers (user-level contexts, ucontext) on the one host
 *     thread that launched the kernel: a fiber runs until it returns or reaches a barrier, then
 *     the next one runs (emu::fiber_block). This keeps the whole emulation on one OS thread, so it
 *     costs the machine one core however large the block, and stays fast when other processes
 *     load the machine (it used to run a block's threads as up to 1024 OS threads, whose barriers
 *     took minutes on a loaded 2-core machine). Threads run in index order between barriers; the
 *     kernels are race-free by construction, so no ordering should matter, and none is emulated.
 *   - __syncthreads() is a barrier over the block's live fibers: it releases when every thread that
 *     has not returned is waiting at it. A thread that returns drops out, so a uniform early return
 *     cannot hang; but every thread's barrier count is recorded and a block whose threads passed
 *     __syncthreads a different number of times is reported as a violation (divergent barrier:
 *     undefined behaviour on the device). Fibers stuck at different barriers (a hang on a GPU) are
 *     a violation too, reported and then aborted.
 *   - Warp shuffles (__shfl_sync, __shfl_down_sync, __shfl_xor_sync; width 32 only) go through a
 *     per-warp buffer between two per-warp barriers, so every lane must call them, as the
 *     0xffffffff mask promises; a warp whose lanes made different numbers of shuffle calls is a
 *     violation, and so is a mask other than the full mask of the warp.
 *   - __shared__ becomes `static`: one copy shared by the threads of a block (blocks are
 *     sequential, so that is per-block storage). It is zero at program start and keeps the last
 *     block's values: reads of uninitialised shared memory are NOT detected.
 *   - No memory model: the threads see one coherent host memory; barriers give happens-before.
 *     Races between threads, between blocks, or with other streams are not detected.
 *   - A launch is checked when it is issued (configuration, stream, pointer arguments) and then
 *     handed to its stream as a closure holding the converted arguments: run at once, or, on a
 *     stream being captured (fake_cudart.cpp), recorded and run at each cudaGraphLaunch with the
 *     arguments it was recorded with; it is counted (emu_counters.h) when it runs.
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
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <setjmp.h>
#include <ucontext.h>

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

inline thread_local uint3 threadIdx; /* set by the fiber scheduler before each fiber runs */
inline thread_local uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;
constexpr int warpSize = 32;

namespace emu {

/* Fiber switches: a fiber's first entry goes through setcontext (its fresh stack); every later
 * switch, in either direction, through _setjmp/_longjmp, which unlike swapcontext makes no system
 * call (swapcontext saves and restores the signal mask each time: a third of the emulation's time
 * went to it). Under _FORTIFY_SOURCE, glibc's _longjmp checks that it does not jump to another
 * stack, which fibers do by design, so those builds switch with swapcontext only. */
#if defined(_FORTIFY_SOURCE) && _FORTIFY_SOURCE > 0
#define EMU_FIBER_LONGJMP 0
#else
#define EMU_FIBER_LONGJMP 1
#endif

/* The threads of one block as fibers, run by the launching host thread (see the header comment). */
class fiber_block {
  public:
    enum state : unsigned char { RUNNABLE, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };
    /* Calls f(t) for t = 0 .. nt-1, each on its own fiber, and returns when all have returned.
     * Returns 0, or −1 when the fibers deadlocked at different barriers (reported by the caller). */
    template <typename F>
    int run(unsigned nt, F &f) {
        job_ = [&f](unsigned t) { f(t); };
        nt_ = nt;
        st_.assign(nt, RUNNABLE);
        while (stacks_.size() < nt) stacks_.emplace_back(new char[STACK_BYTES]);
        ctx_.resize(nt);
        jb_.resize(nt);
        started_.assign(nt, 0);
        for (unsigned t = 0; t < nt; t++) {
            getcontext(&ctx_[t]);
            ctx_[t].uc_stack.ss_sp = stacks_[t].get();
            ctx_[t].uc_stack.ss_size = STACK_BYTES;
            ctx_[t].uc_link = &sched_;
            makecontext(&ctx_[t], (void (*)())entry, 0);
        }
        current_runner = this;
        unsigned done = 0;
        int rc = 0;
        while (done < nt) {
            for (unsigned t = 0; t < nt; t++) {
                if (st_[t] != RUNNABLE) continue;
                cur_ = t;
                threadIdx = uint3{t, 0, 0};
                resume(t); /* back here when t waits or returns */
                if (st_[t] == DONE) done++;
            }
            if (done < nt && !release()) { rc = -1; break; }
        }
        current_runner = nullptr;
        job_ = nullptr;
        return rc;
    }
    /* From a fiber: wait at the block barrier (warp = false) or at its warp's barrier. */
    void wait(bool warp) {
        unsigned t = cur_;
        st_[t] = warp ? AT_WARP_BARRIER : AT_BLOCK_BARRIER;
#if EMU_FIBER_LONGJMP
        if (_setjmp(jb_[t].buf) == 0) _longjmp(sched_jb_.buf, 1);
#else
        swapcontext(&ctx_[t], &sched_);
#endif
        threadIdx = uint3{t, 0, 0};
    }
    static inline fiber_block *current_runner = nullptr;

  private:
    static constexpr size_t STACK_BYTES = 256 * 1024; /* kernels keep small frames; generous */
    struct jump_buf {
        jmp_buf buf;
    };
    void resume(unsigned t) {
#if EMU_FIBER_LONGJMP
        if (_setjmp(sched_jb_.buf) == 0) {
            if (started_[t]) _longjmp(jb_[t].buf, 1);
            started_[t] = 1;
            setcontext(&ctx_[t]);
        }
#else
        swapcontext(&sched_, &ctx_[t]);
#endif
    }
    static void entry() {
        fiber_block *r = current_runner;
        r->job_(r->cur_);
        r->st_[r->cur_] = DONE;
#if EMU_FIBER_LONGJMP
        _longjmp(r->sched_jb_.buf, 1);
#endif /* else uc_link returns to the scheduler */
    }
    /* Every live fiber waits: opens each warp barrier all of whose live lanes wait at it, and the
     * block barrier when every live fiber waits at it. False when nothing could be released. */
    bool release() {
        bool any = false;
        for (unsigned w0 = 0; w0 < nt_; w0 += 32) {
            unsigned end = w0 + 32 < nt_ ? w0 + 32 : nt_, waiting = 0, live = 0;
            for (unsigned t = w0; t < end; t++) {
                live += st_[t] != DONE;
                waiting += st_[t] == AT_WARP_BARRIER;
            }
            if (live && waiting == live) {
                for (unsigned t = w0; t < end; t++)
                    if (st_[t] == AT_WARP_BARRIER) st_[t] = RUNNABLE;
                any = true;
            }
        }
        if (any) return true;
        unsigned live = 0, waiting = 0;
        for (unsigned t = 0; t < nt_; t++) {
            live += st_[t] != DONE;
            waiting += st_[t] == AT_BLOCK_BARRIER;
        }
        if (!live || waiting != live) return false;
        for (unsigned t = 0; t < nt_; t++)
            if (st_[t] == AT_BLOCK_BARRIER) st_[t] = RUNNABLE;
        return true;
    }
    std::function<void(unsigned)> job_;
    unsigned nt_ = 0, cur_ = 0;
    std::vector<state> st_;
    std::vector<ucontext_t> ctx_;
    std::vector<std::unique_ptr<char[]>> stacks_;
    std::vector<jump_buf> jb_;
    std::vector<unsigned char> started_;
    ucontext_t sched_;
    jump_buf sched_jb_;
};

/* State of the block being run. */
struct block_ctx {
    const char *kernel;
    unsigned block;
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
/* Cost counters (emu_counters.h): launches outside any FCE_TRAFFIC scope, and the bytes the
 * launchers declared (counted at the first launch of each scope). */
inline std::atomic<long> unaccounted_launches{0};
inline std::atomic<long long> kernel_bytes_read{0}, kernel_bytes_written{0};
/* Count-only mode (emu_counters.h): launches are checked and counted, not run. */
inline std::atomic<bool> skip_compute{false};

/* FCE_TRAFFIC(read, written) of src/kernels/common.cuh in the emulation: the bytes one launcher
 * call reads and writes, attributed to the first kernel it launches in this scope (a launcher
 * with several kernels declares their total once). */
class traffic_scope {
  public:
    traffic_scope(unsigned long long read, unsigned long long written)
        : read_(read), written_(written), prev_(current) {
        current = this;
    }
    ~traffic_scope() { current = prev_; }
    traffic_scope(const traffic_scope &) = delete;
    traffic_scope &operator=(const traffic_scope &) = delete;
    /* Called by launch(); false when no scope is open (an unaccounted launch). *read / *written
     * get the bytes this launch accounts for: the scope's declaration at its first launch, 0 at
     * the others. The caller adds them when the launch RUNS (at once, or at each graph replay). */
    static bool on_launch(unsigned long long *read, unsigned long long *written) {
        *read = *written = 0;
        traffic_scope *s = current;
        if (!s) return false;
        if (!s->counted_) {
            s->counted_ = true;
            *read = s->read_;
            *written = s->written_;
        }
        return true;
    }

  private:
    unsigned long long read_, written_;
    traffic_scope *prev_;
    bool counted_ = false;
    static inline thread_local traffic_scope *current = nullptr;
};
/* FCE_GRID_MAX of common.cuh is rewritten to EMU_GRID_MAX(original): with grid_max_override != 0
 * the grid cap becomes that value, so small problems already need several grid-stride passes. */
inline unsigned grid_max_override = 0;

/* Hooks of the emulated GPU backend (tests/emu/fake_cudart.cpp installs them with its first
 * cudaMalloc; the kernel test, which passes host buffers, never does). Called before every launch
 * that runs: the stream must be a live one, and every pointer argument NULL or inside a device
 * allocation (a host pointer in a kernel is an illegal address on a GPU). */
inline void (*launch_stream_hook)(const char *kernel, cudaStream_t stream) = nullptr;
inline void (*launch_pointer_hook)(const char *kernel, int arg, const void *p) = nullptr;
/* Stream capture (installed with the hooks above): hands a checked launch to its stream, which
 * runs it at once or, while the stream is being captured, records it for cudaGraphLaunch to run
 * (fake_cudart.cpp). Null (the kernel test): run at once. */
inline cudaError_t (*launch_enqueue_hook)(cudaStream_t stream, std::function<void()> work) = nullptr;
/* True on the thread that is replaying a graph (set by cudaGraphLaunch): a recorded launch then
 * checks its pointer arguments again (a buffer freed since the recording is an illegal address). */
inline thread_local bool replaying = false;
/* Stream operations run outside any graph replay: the ones the host submits one by one (the cost
 * counters' host_ops; a step recorded as a graph leaves its uploads and read-back here). */
inline std::atomic<long long> host_ops{0};

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
    fiber_block::current_runner->wait(true);
    T out = v;
    if (src >= 0 && (unsigned)src < lanes) std::memcpy(&out, buf + 8 * (unsigned)src, sizeof out);
    fiber_block::current_runner->wait(true);
    return out;
}

inline fiber_block fibers;

/* Runs kernel k over grid × block threads (1-D), blocks in order, the threads of a block as fibers;
 * params are the launch's converted arguments. */
template <typename... P>
void run_grid(const char *name, void (*k)(P...), dim3 grid, dim3 block,
              const std::tuple<std::decay_t<P>...> &params) {
    gridDim = grid;
    blockDim = block;
    const unsigned nt = block.x, nw = (nt + 31) / 32;
    for (unsigned bx = 0; bx < grid.x; bx++) {
        block_ctx b;
        b.kernel = name;
        b.block = bx;
        for (unsigned w = 0; w < nw; w++) b.warp_lanes.push_back(nt - 32 * w < 32 ? nt - 32 * w : 32);
        b.warp_buf.resize(nw);
        b.syncs.assign(nt, 0);
        b.shfls.assign(nt, 0);
        cur_block = &b;
        blockIdx = uint3{bx, 0, 0};
        auto body = [&params, k](unsigned) {
            std::apply(k, params); /* k takes its parameters by value: a copy per thread */
        };
        if (fibers.run(nt, body) != 0) {
            violation(name, bx, "threads wait at different barriers (a deadlock on the device)");
            std::abort();
        }
        cur_block = nullptr;
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

/* The launch k<<<grid, block, shmem, stream>>>(args): checked now (configuration, stream, pointer
 * arguments), then handed to the stream (launch_enqueue_hook) as a closure holding the converted
 * arguments by value, which counts the launch and its declared bytes and runs the grid when the
 * stream runs it: at once, or at each replay of a captured graph (the arguments baked in). */
template <typename... P, typename... A>
void launch(const char *name, void (*k)(P...), dim3 grid, dim3 block, size_t shmem,
            cudaStream_t stream, A &&...args) {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong argument count");
    /* One in-order emulated device: streams only order work (the stream is checked by
     * launch_stream_hook when the emulated GPU backend is linked). */
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
    unsigned long long rd = 0, wr = 0;
    const bool accounted = traffic_scope::on_launch(&rd, &wr);
    auto work = [name, k, grid, block, params, accounted, rd, wr]() {
        if (replaying && launch_pointer_hook) {
            const long before = violations.load();
            std::apply([name](const auto &...v) {
                int i = 0;
                (check_pointer_arg(name, i++, v), ...);
            }, params);
            if (violations.load() != before) return;
        }
        launches.fetch_add(1);
        if (!replaying) host_ops.fetch_add(1);
        if (!accounted) unaccounted_launches.fetch_add(1);
        kernel_bytes_read.fetch_add((long long)rd);
        kernel_bytes_written.fetch_add((long long)wr);
        if (skip_compute.load(std::memory_order_relaxed)) return;
        run_grid(name, k, grid, block, params);
    };
    if (!launch_enqueue_hook) {
        work();
        return;
    }
    const cudaError_t e = launch_enqueue_hook(stream, std::move(work));
    if (e != cudaSuccess) last_error.store(e); /* refused by a capture: the launch check sees it */
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
    emu::fiber_block::current_runner->wait(false);
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

/* Global-memory ordering and integer atomics. Blocks run one after another and the fibers of a
 * block never run at the same time, so every access is already ordered: the fence is a no-op and
 * an atomic is a plain read-modify-write (the "last block finishes the reduction" pattern then
 * always finds the last block to be the one with the highest index, a legal schedule on a GPU). */
inline void __threadfence(void) {}
inline unsigned atomicAdd(unsigned *address, unsigned val) {
    const unsigned old = *address;
    *address = old + val;
    return old;
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

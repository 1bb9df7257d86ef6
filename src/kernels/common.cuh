/* common.cuh: shared helpers of the CUDA kernels in src/kernels/ (never included from C code).
 *
 * - CEIL_DIV, the named block sizes and fce_grid_1d(): grid sizes for grid-stride loops.
 * - fce_block_sum<BLOCK>() and fce_warp_sum(): block- and warp-wide sums in a FIXED order
 *   (shared-memory / shuffle-down trees), so every reduction compared against the CPU reference
 *   is deterministic run to run. No float atomics anywhere.
 * - FCE_LAUNCH_CHECK(): the check every launcher ends with (cudaGetLastError, logged with
 *   file:line; returns FCE_STATUS_ERR_CUDA).
 *
 * Gradient rule (project-wide, also in backend.h, ref.h and README.md): parameter gradients
 * accumulate (+=); activation gradients overwrite (=); an op that accumulates into an activation
 * gradient ends in _acc. A NULL gradient pointer means "not needed" and skips that work.
 *
 * Accuracy: no fast math. Where the CPU reference computes an element in double (actnorm,
 * invconv, reductions), the kernel does too, so the two usually agree bit for bit. */
#ifndef FCE_KERNELS_COMMON_CUH
#define FCE_KERNELS_COMMON_CUH

#include <stddef.h>

#include <cuda_runtime.h>

#include "fce/log.h"
#include "fce/status.h"

#define CEIL_DIV(a, b) (((a) + (b)-1) / (b))

/* Threads per block of the elementwise (grid-stride) kernels. */
#define FCE_BLOCK_ELEMWISE 256
/* Threads per block of the reduction kernels; a power of two (fce_block_sum's tree needs it). */
#define FCE_BLOCK_REDUCE 256
/* Threads per block of the one-warp-per-sample kernels (FCE_ROWS_BLOCK / 32 samples per block). */
#define FCE_ROWS_BLOCK 256
/* Grid cap of grid-stride kernels: enough blocks to fill an H200 several times over; larger
 * problems loop inside the kernel. */
#define FCE_GRID_MAX 8192u

/* Blocks for n work items at `block` threads each, capped at FCE_GRID_MAX; at least 1. */
static inline unsigned fce_grid_1d(size_t n, unsigned block) {
    size_t g = CEIL_DIV(n, (size_t)block);
    if (g > FCE_GRID_MAX) g = FCE_GRID_MAX;
    return g ? (unsigned)g : 1u;
}

/* Sum of v over the BLOCK threads of a 1-D block, in a fixed order: each thread stores its value,
 * then a halving tree (sh[tid] += sh[tid + s] for s = BLOCK/2 … 1). Every thread gets the result.
 * All threads of the block must call it (it has __syncthreads); `sh` holds BLOCK entries and may be
 * reused by the next call (the leading barrier protects it). Launch with blockDim.x == BLOCK. */
template <int BLOCK, typename T>
__device__ __forceinline__ T fce_block_sum(T v, T *sh) {
    static_assert((BLOCK & (BLOCK - 1)) == 0, "fce_block_sum: BLOCK must be a power of two");
    const int tid = (int)threadIdx.x;
    __syncthreads();
    sh[tid] = v;
    __syncthreads();
#pragma unroll
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (tid < s) sh[tid] += sh[tid + s];
        __syncthreads();
    }
    return sh[0];
}

/* Sum of v over the 32 lanes of a full warp in a fixed order (shuffle-down tree); the result is
 * valid in lane 0 only (the other lanes hold partial sums). All 32 lanes must call it. Used for
 * per-sample sums with one warp per sample. */
__device__ __forceinline__ double fce_warp_sum(double v) {
#pragma unroll
    for (int s = 16; s > 0; s >>= 1) v += __shfl_down_sync(0xffffffffu, v, s);
    return v;
}

/* FCE_TRAFFIC(read, written): the bytes of global memory one call of a launcher reads and writes,
 * by the launcher's own formula (the kernels' essential traffic: every input element once, every
 * output element once, a read-modify-write both ways). Every launcher states it before its first
 * launch. On a GPU it compiles to nothing; in the CUDA emulation (tests/emu) it feeds the cost
 * counters that fce-bench reports per phase (emu_counters.h), and a launch outside it is counted
 * as unaccounted (test_emu_kernels fails then). On a GPU the arguments are evaluated and
 * discarded (a few host integer operations per launch). FCE_F4 is sizeof(float) as an unsigned
 * long long. */
#ifdef FCE_EMU_CUDA_H
#define FCE_TRAFFIC(read_bytes, written_bytes)                                                     \
    ::emu::traffic_scope fce_traffic_scope_((unsigned long long)(read_bytes),                      \
                                            (unsigned long long)(written_bytes))
#else
#define FCE_TRAFFIC(read_bytes, written_bytes) ((void)(read_bytes), (void)(written_bytes))
#endif
#define FCE_F4 4ull

/* Every launcher ends with this: reports a bad launch configuration or an earlier sticky error. */
#define FCE_LAUNCH_CHECK(what)                                                                     \
    do {                                                                                           \
        cudaError_t fce_le_ = cudaGetLastError();                                                  \
        if (fce_le_ != cudaSuccess) {                                                              \
            fce_log_error("CUDA error: %s | %s %s:%d | launch of %s",                              \
                          cudaGetErrorString(fce_le_), __func__, __FILE__, __LINE__, (what));      \
            return FCE_STATUS_ERR_CUDA;                                                            \
        }                                                                                          \
    } while (0)


/* sigmoid(u) without overflow for either sign of u (coupling scales, NCE probabilities). */
static __device__ __forceinline__ double fce_sigmoid_d(double u) {
    if (u >= 0.0) return 1.0 / (1.0 + exp(-u));
    double e = exp(u);
    return e / (1.0 + e);
}

/* softplus(u) = max(u, 0) + log1p(e^{−|u|}), stable for any u. */
static __device__ __forceinline__ double fce_softplus_d(double u) {
    return fmax(u, 0.0) + log1p(exp(-fabs(u)));
}

#endif

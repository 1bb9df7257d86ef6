/* gemm_cpu.h: the fast CPU backend's matrix product, C (M×N) = or += A (M×K) · B (K×N), a
 * cache-blocked SGEMM over packed panels (gemm_cpu.c), used by the dense layer and the
 * convolutions (conv_cpu.c, linear_cpu.c).
 *
 * A and B are views, read only through the packing step, so a convolution's im2col matrix is
 * never formed: its panels are gathered straight from the picture.
 *
 * Rounding (where it differs from the double-summing reference ref/linear_ref.c, conv2d_ref.c):
 * each output is summed in float, in a fixed order that depends neither on the thread count nor
 * on the blocking of M and N: the K products are cut into consecutive blocks of GEMM_KC; each
 * block is summed in index order from 0 (a product, then add, never fused), and the blocks are
 * added to C in order. The first block's sum is stored (plus bias[n] when given) unless
 * `accumulate`, in which case every block is added to the C already there. */
#ifndef FCE_GEMM_CPU_H
#define FCE_GEMM_CPU_H

#include <stddef.h>

#include "cpu/cpu_pool.h"
#include "cpu/gemm_kernel.h"
#include "cpu/gemm_pack.h"

/* The K, M and N block sizes (the micro-tile's are the kernel's: gemm_kernel.h). GEMM_KC fixes the
 * summation order (above); the others only move work around. GEMM_MC and GEMM_NC are multiples of
 * every kernel's MR and of GEMM_KERNEL_NR. */
#define GEMM_KC 256
#define GEMM_MC 128
#define GEMM_NC 512
/* Floats of scratch one thread's product needs: its packed A block and B block. */
#define GEMM_SCRATCH_FLOATS ((size_t)GEMM_MC * GEMM_KC + (size_t)GEMM_KC * GEMM_NC)

/* What a product runs on: the pool's threads and scratch, and the micro-kernel. */
typedef struct cpu_exec {
    cpu_pool *pool;
    const gemm_kernel *kernel;
} cpu_exec;

/* Which dimension cpu threads split: the one whose operand is cheap to pack twice (each thread
 * packs all of the other operand). The other is used when this one has too few tiles. */
typedef enum gemm_split { GEMM_SPLIT_M = 0, GEMM_SPLIT_N } gemm_split;

typedef struct gemm_args {
    int M, N, K;
    gemm_view A, B;
    float *C;
    size_t ldc;
    const float *bias; /* (N) or NULL: added to the first block's sums (not with accumulate) */
    int accumulate;
} gemm_args;

/* The product restricted to rows [m0, m1) and columns [n0, n1) of C, on the calling thread, with
 * GEMM_SCRATCH_FLOATS of 64-byte aligned scratch. */
void gemm_cpu_range(const gemm_kernel *kernel, const gemm_args *g, int m0, int m1, int n0, int n1,
                    float *scratch);
/* The whole product on the pool's threads, split as `split` says (serially when it is small). */
void gemm_cpu(const cpu_exec *ex, const gemm_args *g, gemm_split split);

/* db[o] += Σ_r dy[r·C + o] over `rows` rows, summed in double in row order and added once, as
 * the reference sums a bias gradient (so the two agree bit for bit). */
void cpu_bias_grad(float *db, const float *dy, size_t rows, int C);

#endif

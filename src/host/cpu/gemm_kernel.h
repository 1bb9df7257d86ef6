/* gemm_kernel.h: the CPU GEMM's micro-kernels, one per instruction set, and the choice between
 * them (gemm_kernel.c). A micro-kernel forms one MR × GEMM_KERNEL_NR tile of sums from a packed
 * A panel (MR rows) and a packed B panel (GEMM_KERNEL_NR columns):
 *     tile[i·NR + j] = Σ_k a[k·MR + i]·b[k·NR + j],  k in order from 0, a product then an add.
 * Every kernel performs that same scalar sequence in each lane (no fused multiply-add: the
 * library is built with -ffp-contract=off, and the kernels enable no FMA), so all of them give
 * the same bits; they differ only in how many lanes and tiles they keep in flight. */
#ifndef FCE_GEMM_KERNEL_H
#define FCE_GEMM_KERNEL_H

/* The B panel width of every kernel, and the largest MR. */
#define GEMM_KERNEL_NR 8
#define GEMM_KERNEL_MAX_MR 8

typedef void (*gemm_micro_fn)(int kc, const float *a, const float *b, float *tile);

typedef struct gemm_kernel {
    const char *isa; /* "sse2" (the x86-64 baseline, or the generic vector code elsewhere), "avx2" */
    int mr;
    gemm_micro_fn run;
} gemm_kernel;

/* The kernel to use: FCE_CPU_ISA (sse2 or avx2) when set, else the widest this CPU runs.
 * NULL, logged, when FCE_CPU_ISA names another or one this CPU cannot run. */
const gemm_kernel *gemm_kernel_pick(void);

#endif

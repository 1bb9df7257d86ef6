/* gemm_cpu.c: the cache-blocked SGEMM of the fast CPU backend (gemm_cpu.h).
 *
 * Goto's loop order: for each GEMM_NC-wide column block and each GEMM_KC-deep slice of K, B's
 * slice is packed into NR-wide micro-panels; for each GEMM_MC-high row block, A's slice is packed
 * into MR-high micro-panels, and the micro-kernel (gemm_kernel.h) forms every MR×NR tile from a
 * pair of panels with the tile's sums held in registers; the tile is then stored into C, or added
 * to it. */
#include "cpu/gemm_cpu.h"

#include <string.h>

#include "cpu/gemm_pack.h"

/* Below this many multiply-adds a product runs on the calling thread alone: waking a worker
 * costs some 10–50 µs, which a product this small does not repay. */
#define GEMM_PARALLEL_MIN_MACS (1 << 18)

/* The tile's rows × cols corner into C at (m, n): stored (+ bias) on the first block, else
 * added. */
static void store_tile(const gemm_args *g, const float *tile, int m, int n, int rows, int cols,
                       int first) {
    for (int i = 0; i < rows; i++) {
        float *c = g->C + (size_t)(m + i) * g->ldc + n;
        const float *t = tile + i * GEMM_KERNEL_NR;
        if (!first)
            for (int j = 0; j < cols; j++) c[j] += t[j];
        else if (g->bias)
            for (int j = 0; j < cols; j++) c[j] = t[j] + g->bias[n + j];
        else
            memcpy(c, t, (size_t)cols * sizeof(float));
    }
}

/* C's block [m0, m1) × [n0, n1) as the first block would leave it with no products (K = 0). */
static void store_empty(const gemm_args *g, int m0, int m1, int n0, int n1) {
    if (g->accumulate) return;
    for (int m = m0; m < m1; m++)
        for (int n = n0; n < n1; n++) g->C[(size_t)m * g->ldc + n] = g->bias ? g->bias[n] : 0.0f;
}

static int min_int(int a, int b) { return a < b ? a : b; }

void gemm_cpu_range(const gemm_kernel *kernel, const gemm_args *g, int m0, int m1, int n0, int n1,
                    float *scratch) {
    const int MR = kernel->mr, NR = GEMM_KERNEL_NR;
    if (m0 >= m1 || n0 >= n1) return;
    if (g->K == 0) {
        store_empty(g, m0, m1, n0, n1);
        return;
    }
    float *apack = scratch, *bpack = scratch + (size_t)GEMM_MC * GEMM_KC;
    float tile[GEMM_KERNEL_MAX_MR * GEMM_KERNEL_NR];
    for (int jc = n0; jc < n1; jc += GEMM_NC) {
        const int nc = min_int(GEMM_NC, n1 - jc);
        for (int pc = 0; pc < g->K; pc += GEMM_KC) {
            const int kc = min_int(GEMM_KC, g->K - pc);
            const int first = pc == 0 && !g->accumulate;
            gemm_pack(&g->B, GEMM_SIDE_B, jc, nc, pc, kc, NR, bpack);
            for (int ic = m0; ic < m1; ic += GEMM_MC) {
                const int mc = min_int(GEMM_MC, m1 - ic);
                gemm_pack(&g->A, GEMM_SIDE_A, ic, mc, pc, kc, MR, apack);
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < mc; ir += MR) {
                        kernel->run(kc, apack + (size_t)ir * kc, bpack + (size_t)jr * kc, tile);
                        store_tile(g, tile, ic + ir, jc + jr, min_int(MR, mc - ir),
                                   min_int(NR, nc - jr), first);
                    }
            }
        }
    }
}

typedef struct gemm_job {
    const cpu_exec *ex;
    const gemm_args *g;
    int split_n; /* 1: threads take column ranges, 0: row ranges */
} gemm_job;

/* Thread t's share: a contiguous run of whole micro-tiles along the split dimension. */
static void gemm_job_run(void *arg, int t, int n) {
    const gemm_job *job = arg;
    const gemm_args *g = job->g;
    const int extent = job->split_n ? g->N : g->M;
    const int unit = job->split_n ? GEMM_KERNEL_NR : job->ex->kernel->mr;
    const long tiles = (extent + unit - 1) / unit;
    const int lo = (int)(tiles * t / n) * unit;
    const int hi = min_int((int)(tiles * (t + 1) / n) * unit, extent);
    float *scratch = cpu_pool_scratch(job->ex->pool, t);
    if (job->split_n) gemm_cpu_range(job->ex->kernel, g, 0, g->M, lo, hi, scratch);
    else gemm_cpu_range(job->ex->kernel, g, lo, hi, 0, g->N, scratch);
}

void gemm_cpu(const cpu_exec *ex, const gemm_args *g, gemm_split split) {
    const int threads = cpu_pool_threads(ex->pool), MR = ex->kernel->mr;
    const long tiles_m = (g->M + MR - 1) / MR;
    const long tiles_n = (g->N + GEMM_KERNEL_NR - 1) / GEMM_KERNEL_NR;
    int split_n = split == GEMM_SPLIT_N;
    if (split_n && tiles_n < threads && tiles_m > tiles_n) split_n = 0;
    if (!split_n && tiles_m < threads && tiles_n > tiles_m) split_n = 1;
    const double macs = (double)g->M * g->N * (g->K > 0 ? g->K : 1);
    gemm_job job = {ex, g, split_n};
    cpu_pool_run(ex->pool, gemm_job_run, &job, macs < GEMM_PARALLEL_MIN_MACS);
}

void cpu_bias_grad(float *db, const float *dy, size_t rows, int C) {
    enum { CHUNK = 256 };
    double acc[CHUNK];
    for (int o0 = 0; o0 < C; o0 += CHUNK) {
        const int len = C - o0 < CHUNK ? C - o0 : CHUNK;
        for (int o = 0; o < len; o++) acc[o] = 0.0;
        for (size_t r = 0; r < rows; r++) {
            const float *d = dy + r * (size_t)C + o0;
            for (int o = 0; o < len; o++) acc[o] += d[o];
        }
        for (int o = 0; o < len; o++) db[o0 + o] = (float)((double)db[o0 + o] + acc[o]);
    }
}

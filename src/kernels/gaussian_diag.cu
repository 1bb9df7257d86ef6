/* gaussian_diag.cu: diagonal Gaussian with per-element mean and log-std (the learned split and top
 * priors of the image Glow, SPEC a.9/a.10), the CUDA twin of src/host/ref/gaussian_diag_ref.c
 * (fce_ref_gaussian_diag_logp[_backward_acc]). z, mean, logs are (N, D) row-major.
 *
 *   u = (z − mean)·e^{−logs}
 *   logp[n] += Σ_d −½·u² − logs − ½·log 2π                     (accumulates into the log-density)
 *   backward, g = dlogp[n]:
 *     dz    += −u·e^{−logs}·g   (accumulate: z also feeds the rest of the flow; NULL skips)
 *     dmean  =  u·e^{−logs}·g   (overwrite; NULL skips)
 *     dlogs  = (u² − 1)·g       (overwrite; NULL skips)
 * Element math in double, each output rounded once. As in the reference, Σu² and Σlogs are summed
 * separately in double and combined once: logp += −½·Σu² − Σlogs − (D/2)·log 2π.
 *
 * Kernels (the order of every sum depends only on (N, D): deterministic run to run, no atomics):
 *   gaussian_diag_logp_warp_kernel   D ≤ FCE_GDIAG_WARP_MAX_D: one warp per sample, grid-stride
 *                                    over samples; lane l sums d = l, l + 32, … in double;
 *                                    fce_warp_sum combines the lanes in a fixed shuffle tree (once
 *                                    for Σu², once for Σlogs); lane 0 adds to logp.
 *   gaussian_diag_logp_block_kernel  larger D (e.g. 3072 for CIFAR): one block of FCE_BLOCK_REDUCE
 *                                    threads per sample, grid-stride over samples; thread t sums
 *                                    d = t, t + 256, … in double; fce_block_sum (fixed halving
 *                                    tree, once per sum); thread 0 adds to logp.
 *   gaussian_diag_backward_kernel    elementwise over N·D, grid-stride. */
#include "common.cuh"
#include "fce_kernels.h"

#define FCE_GDIAG_LOG_2PI 1.8378770664093454835606594728112
/* Above this D a sample gets a whole block instead of one warp (≥ 32 values per lane). */
#define FCE_GDIAG_WARP_MAX_D 1024

/* u² of element i; adds logs[i] to *sum_logs. */
static __device__ __forceinline__ double gaussian_diag_u2(const float *z, const float *mean,
                                                          const float *logs, size_t i,
                                                          double *sum_logs) {
    double ls = logs[i];
    double u = ((double)z[i] - (double)mean[i]) * exp(-ls);
    *sum_logs += ls;
    return u * u;
}

/* logp[n] += −½·Σu² − Σlogs − (D/2)·log 2π, rounded once. */
static __device__ __forceinline__ void gaussian_diag_add(float *logp, int n, double sum_sq,
                                                         double sum_logs, int D) {
    logp[n] = (float)((double)logp[n] - 0.5 * sum_sq - sum_logs -
                      0.5 * (double)D * FCE_GDIAG_LOG_2PI);
}

static __global__ void gaussian_diag_logp_warp_kernel(float *logp, const float *z,
                                                      const float *mean, const float *logs, int N,
                                                      int D) {
    const int lane = threadIdx.x % 32, warps_per_block = blockDim.x / 32;
    for (int n = blockIdx.x * warps_per_block + threadIdx.x / 32; n < N;
         n += gridDim.x * warps_per_block) {
        const size_t base = (size_t)n * (size_t)D;
        double sq = 0.0, sl = 0.0;
        for (int d = lane; d < D; d += 32) sq += gaussian_diag_u2(z, mean, logs, base + d, &sl);
        sq = fce_warp_sum(sq);
        sl = fce_warp_sum(sl);
        if (lane == 0) gaussian_diag_add(logp, n, sq, sl, D);
    }
}

static __global__ void gaussian_diag_logp_block_kernel(float *logp, const float *z,
                                                       const float *mean, const float *logs, int N,
                                                       int D) {
    __shared__ double sh[FCE_BLOCK_REDUCE];
    /* n is uniform across the block, so every thread reaches fce_block_sum's barriers. */
    for (int n = (int)blockIdx.x; n < N; n += (int)gridDim.x) {
        const size_t base = (size_t)n * (size_t)D;
        double sq = 0.0, sl = 0.0;
        for (int d = (int)threadIdx.x; d < D; d += FCE_BLOCK_REDUCE)
            sq += gaussian_diag_u2(z, mean, logs, base + d, &sl);
        sq = fce_block_sum<FCE_BLOCK_REDUCE, double>(sq, sh);
        sl = fce_block_sum<FCE_BLOCK_REDUCE, double>(sl, sh);
        if (threadIdx.x == 0) gaussian_diag_add(logp, n, sq, sl, D);
    }
}

static __global__ void gaussian_diag_backward_kernel(float *dz, float *dmean, float *dlogs,
                                                     const float *z, const float *mean,
                                                     const float *logs, const float *dlogp,
                                                     size_t total, int D) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        double g = dlogp[i / (size_t)D];
        double inv = exp(-(double)logs[i]);
        double u = ((double)z[i] - (double)mean[i]) * inv;
        double dm = u * inv * g; /* = −∂/∂z = ∂/∂mean */
        if (dz) dz[i] = (float)((double)dz[i] - dm);
        if (dmean) dmean[i] = (float)dm;
        if (dlogs) dlogs[i] = (float)((u * u - 1.0) * g);
    }
}

extern "C" fce_status fce_cuda_gaussian_diag_logp(float *logp, const float *z, const float *mean,
                                                  const float *logs, int N, int D,
                                                  cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && D >= 0, "gaussian_diag_logp: bad shape N = %d, D = %d", N, D);
    if (N == 0 || D == 0) return FCE_STATUS_OK; /* an empty sum adds 0 (the reference's D = 0) */
    if (D <= FCE_GDIAG_WARP_MAX_D) {
        FCE_TRAFFIC(FCE_F4 * (3 * (size_t)N * D + N), FCE_F4 * N);
        gaussian_diag_logp_warp_kernel<<<fce_grid_1d((size_t)N, FCE_ROWS_BLOCK / 32),
                                         FCE_ROWS_BLOCK, 0, stream>>>(logp, z, mean, logs, N, D);
        FCE_LAUNCH_CHECK("gaussian_diag_logp_warp_kernel");
    } else {
        FCE_TRAFFIC(FCE_F4 * (3 * (size_t)N * D + N), FCE_F4 * N);
        gaussian_diag_logp_block_kernel<<<fce_grid_1d((size_t)N, 1u), FCE_BLOCK_REDUCE, 0,
                                          stream>>>(logp, z, mean, logs, N, D);
        FCE_LAUNCH_CHECK("gaussian_diag_logp_block_kernel");
    }
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_gaussian_diag_logp_backward_acc(float *dz, float *dmean,
                                                               float *dlogs, const float *z,
                                                               const float *mean,
                                                               const float *logs,
                                                               const float *dlogp, int N, int D,
                                                               cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && D >= 0, "gaussian_diag_logp_backward_acc: bad shape N = %d, D = %d", N,
               D);
    size_t total = (size_t)N * (size_t)D;
    if (total == 0 || (!dz && !dmean && !dlogs)) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (3 * total + N + (dz ? total : 0)), FCE_F4 * ((dz ? total : 0) + (dmean ? total : 0) + (dlogs ? total : 0)));
    gaussian_diag_backward_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                                    stream>>>(dz, dmean, dlogs, z, mean, logs, dlogp, total, D);
    FCE_LAUNCH_CHECK("gaussian_diag_backward_kernel");
    return FCE_STATUS_OK;
}

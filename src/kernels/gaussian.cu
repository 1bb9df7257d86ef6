/* gaussian.cu: standard normal prior over D dimensions per sample (SPEC a.10/a.13), the CUDA twin
 * of src/host/ref/gaussian_ref.c.
 *
 *   logp[n]  += −½·Σ_d z[n, d]² − (D/2)·log 2π     (accumulates into the log-density)
 *   dz[n, d] += −z[n, d] · dlogp[n]                 (backward, accumulates: _acc)
 * z is (N, D) row-major.
 *
 * Kernels: gaussian_logp_kernel, one warp per sample (grid-stride over samples): lanes sum z² in
 * double over d = lane, lane + 32, …, fce_warp_sum combines them in a fixed order, lane 0 adds.
 * gaussian_logp_backward_acc_kernel: elementwise over N·D, grid-stride, double math. */
#include "common.cuh"
#include "fce_kernels.h"

#define FCE_LOG_2PI_D 1.8378770664093454835606594728112

static __global__ void gaussian_logp_kernel(float *logp, const float *z, int N, int D) {
    const int lane = threadIdx.x % 32, warps_per_block = blockDim.x / 32;
    for (int n = blockIdx.x * warps_per_block + threadIdx.x / 32; n < N;
         n += gridDim.x * warps_per_block) {
        const float *zn = z + (size_t)n * D;
        double acc = 0.0;
        for (int d = lane; d < D; d += 32) {
            double v = zn[d];
            acc += v * v;
        }
        acc = fce_warp_sum(acc);
        if (lane == 0)
            logp[n] = (float)((double)logp[n] - 0.5 * acc - 0.5 * (double)D * FCE_LOG_2PI_D);
    }
}

static __global__ void gaussian_logp_backward_acc_kernel(float *dz, const float *z,
                                                         const float *dlogp, size_t total, int D) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        double g = dlogp[i / (size_t)D];
        dz[i] = (float)((double)dz[i] - (double)z[i] * g);
    }
}

extern "C" fce_status fce_cuda_gaussian_logp(float *logp, const float *z, int N, int D,
                                             cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && D >= 0, "gaussian_logp: bad shape N = %d, D = %d", N, D);
    if (N == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * ((size_t)N * D + N), FCE_F4 * N);
    gaussian_logp_kernel<<<fce_grid_1d((size_t)N, FCE_ROWS_BLOCK / 32), FCE_ROWS_BLOCK, 0,
                           stream>>>(logp, z, N, D);
    FCE_LAUNCH_CHECK("gaussian_logp_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_gaussian_logp_backward_acc(float *dz, const float *z,
                                                          const float *dlogp, int N, int D,
                                                          cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && D >= 0, "gaussian_logp_backward_acc: bad shape N = %d, D = %d", N, D);
    size_t total = (size_t)N * (size_t)D;
    if (total == 0 || !dz) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (2 * total + N), FCE_F4 * total);
    gaussian_logp_backward_acc_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE,
                                        0, stream>>>(dz, z, dlogp, total, D);
    FCE_LAUNCH_CHECK("gaussian_logp_backward_acc_kernel");
    return FCE_STATUS_OK;
}

/* logdet_consts.cu: logdet_add_consts of fce/ops.def, the CUDA twin of
 * fce_ref_logdet_add_consts (src/host/ref/fused_ref.c): a block's data-independent log-dets
 * (computed once per parameter update by invconv_lu_weights_batch) added to every sample's
 * accumulator in one launch, one term at a time in the order the unfused pass added them (each
 * addition in double, rounded to float), so the result is the unfused one bit for bit. One thread
 * per sample; the terms are few (2K) and read by every thread. */
#include "common.cuh"
#include "fce_kernels.h"

static __global__ void logdet_add_consts_kernel(float *logdet, const double *consts, int n_consts,
                                                int N, int forward) {
    for (int n = (int)(blockIdx.x * blockDim.x + threadIdx.x); n < N;
         n += (int)(gridDim.x * blockDim.x)) {
        float v = logdet[n];
        if (forward)
            for (int j = 0; j < n_consts; j++) v = (float)((double)v + consts[j]);
        else
            for (int j = n_consts - 1; j >= 0; j--) v = (float)((double)v - consts[j]);
        logdet[n] = v;
    }
}

extern "C" fce_status fce_cuda_logdet_add_consts(float *logdet, const double *consts, int n_consts,
                                                 int N, float dir, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && n_consts >= 0, "logdet_add_consts: N = %d, n_consts = %d", N, n_consts);
    if (N == 0 || n_consts == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (size_t)N + 8ull * (size_t)n_consts, FCE_F4 * (size_t)N);
    logdet_add_consts_kernel<<<fce_grid_1d((size_t)N, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                               stream>>>(logdet, consts, n_consts, N, dir > 0 ? 1 : 0);
    FCE_LAUNCH_CHECK("logdet_add_consts_kernel");
    return FCE_STATUS_OK;
}

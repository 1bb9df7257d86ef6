/* scale.cu: y = alpha·x over n floats (y may alias x), the CUDA twin of src/host/ref/scale_ref.c.
 * Used to negate log-det accumulators and their gradients (alpha = −1).
 *
 * Kernel: scale_kernel, elementwise with a grid-stride loop (FCE_BLOCK_ELEMWISE threads). One float
 * multiply per element, as in the reference, so results are bitwise equal. */
#include "common.cuh"
#include "fce_kernels.h"

static __global__ void scale_kernel(float *y, const float *x, size_t n, float alpha) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = alpha * x[i];
}

extern "C" fce_status fce_cuda_scale(float *y, const float *x, size_t n, float alpha,
                                     cudaStream_t stream) {
    if (n == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * n, FCE_F4 * n);
    scale_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(y, x, n,
                                                                                        alpha);
    FCE_LAUNCH_CHECK("scale_kernel");
    return FCE_STATUS_OK;
}

/* activations.cu: leaky ReLU (slope 0 is ReLU), same math as src/host/ref/act_ref.c.
 *
 *   forward:  y = x > 0 ? x : slope·x
 *   backward: dx = x > 0 ? dy : slope·dy   (activation gradient: overwrites; dx may alias dy)
 *
 * Flat arrays of n floats. Kernels: leaky_relu_forward_kernel, leaky_relu_backward_kernel, both
 * elementwise with grid-stride loops (FCE_BLOCK_ELEMWISE threads, capped grid). */
#include "common.cuh"
#include "fce_kernels.h"

static __global__ void leaky_relu_forward_kernel(float *y, const float *x, size_t n, float slope) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = v > 0.0f ? v : slope * v;
    }
}

static __global__ void leaky_relu_backward_kernel(float *dx, const float *dy, const float *x,
                                                  size_t n, float slope) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = dy[i];
        dx[i] = x[i] > 0.0f ? g : slope * g;
    }
}

extern "C" fce_status fce_cuda_leaky_relu_forward(float *y, const float *x, size_t n, float slope,
                                                  cudaStream_t stream) {
    if (n == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * n, FCE_F4 * n);
    leaky_relu_forward_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                                stream>>>(y, x, n, slope);
    FCE_LAUNCH_CHECK("leaky_relu_forward_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_leaky_relu_backward(float *dx, const float *dy, const float *x,
                                                   size_t n, float slope, cudaStream_t stream) {
    if (n == 0 || !dx) return FCE_STATUS_OK;
    FCE_TRAFFIC(2 * FCE_F4 * n, FCE_F4 * n);
    leaky_relu_backward_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                                 stream>>>(dx, dy, x, n, slope);
    FCE_LAUNCH_CHECK("leaky_relu_backward_kernel");
    return FCE_STATUS_OK;
}

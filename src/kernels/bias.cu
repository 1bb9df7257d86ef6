/* bias.cu: the bias half of the cuBLAS dense layer (src/host/cuda/linear_cublas.c).
 *
 *   broadcast: y[n, o] = b[o]                     (y (N, out), row-major; then GEMM with beta = 1)
 *   backward:  db[o] += Σ_n dy[n, o]              (parameter gradient: accumulates)
 *
 * Kernels: bias_broadcast_kernel (elementwise, grid-stride over N·out);
 * bias_backward_kernel: one block of FCE_BLOCK_REDUCE threads per output column o (grid-stride
 * over columns); thread t sums rows t, t + BLOCK, … in double, then fce_block_sum adds the BLOCK
 * partials in a fixed tree order. Deterministic, no atomics; matches linear_ref.c's double sum. */
#include "common.cuh"
#include "fce_kernels.h"

static __global__ void bias_broadcast_kernel(float *y, const float *b, size_t total, int out) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = b[i % (size_t)out];
}

static __global__ void bias_backward_kernel(float *db, const float *dy, int N, int out) {
    __shared__ double sh[FCE_BLOCK_REDUCE];
    for (int o = blockIdx.x; o < out; o += gridDim.x) {
        double acc = 0.0;
        for (int n = threadIdx.x; n < N; n += FCE_BLOCK_REDUCE) acc += dy[(size_t)n * out + o];
        double sum = fce_block_sum<FCE_BLOCK_REDUCE>(acc, sh);
        if (threadIdx.x == 0) db[o] = (float)((double)db[o] + sum);
    }
}

extern "C" fce_status fce_cuda_bias_broadcast(float *y, const float *b, int N, int out,
                                              cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && out >= 0, "bias_broadcast: bad shape N = %d, out = %d", N, out);
    size_t total = (size_t)N * (size_t)out;
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * out, FCE_F4 * total);
    bias_broadcast_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                            stream>>>(y, b, total, out);
    FCE_LAUNCH_CHECK("bias_broadcast_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_bias_backward(float *db, const float *dy, int N, int out,
                                             cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && out >= 0, "bias_backward: bad shape N = %d, out = %d", N, out);
    if (!db || out == 0 || N == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * ((size_t)N * out + out), FCE_F4 * out);
    bias_backward_kernel<<<fce_grid_1d((size_t)out, 1), FCE_BLOCK_REDUCE, 0, stream>>>(db, dy, N,
                                                                                       out);
    FCE_LAUNCH_CHECK("bias_backward_kernel");
    return FCE_STATUS_OK;
}

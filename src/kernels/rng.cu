/* rng.cu: Philox random fills (include/fce/philox.h), bit-identical to src/host/ref/rng_ref.c.
 *
 *   fill_normal:  x[i] = std · normal(seed, offset + i)
 *   fill_uniform: x[i] = lo + (hi − lo) · uniform(seed, offset + i)
 *
 * Each element is a pure function of (seed, offset + i), so one thread per element (grid-stride)
 * reproduces the CPU loop. The uniform fill uses __fmul_rn/__fadd_rn so nvcc cannot contract it
 * into an FMA: the CPU computes it with two roundings, and the uniforms are compared bitwise.
 * Kernels: fill_normal_kernel, fill_uniform_kernel (FCE_BLOCK_ELEMWISE threads, capped grid).
 * Reference: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11). */
#include "common.cuh"
#include "fce/philox.h"
#include "fce_kernels.h"

/* offset_add (fill_normal_at): added to offset from device memory, so a replayed graph draws anew. */
static __global__ void fill_normal_kernel(float *x, size_t n, uint64_t seed, uint64_t offset,
                                          const uint64_t *offset_add, float std) {
    if (offset_add) offset += *offset_add;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = __fmul_rn(std, fce_philox_normal(seed, offset + i));
}

static __global__ void fill_uniform_kernel(float *x, size_t n, uint64_t seed, uint64_t offset,
                                           float lo, float hi) {
    const float range = __fadd_rn(hi, -lo);
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = __fadd_rn(lo, __fmul_rn(range, fce_philox_uniform(seed, offset + i)));
}

extern "C" fce_status fce_cuda_fill_normal(float *x, size_t n, uint64_t seed, uint64_t offset,
                                           float std, cudaStream_t stream) {
    if (n == 0) return FCE_STATUS_OK;
    FCE_ASSERT(x != NULL, "fill_normal: x is NULL for n = %zu", n);
    FCE_TRAFFIC(0, FCE_F4 * n);
    fill_normal_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        x, n, seed, offset, (const uint64_t *)NULL, std);
    FCE_LAUNCH_CHECK("fill_normal_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_fill_normal_at(float *x, size_t n, uint64_t seed, uint64_t offset,
                                              const uint64_t *offset_add, float std,
                                              cudaStream_t stream) {
    if (n == 0) return FCE_STATUS_OK;
    FCE_ASSERT(x != NULL && offset_add != NULL, "fill_normal_at: NULL buffer for n = %zu", n);
    FCE_TRAFFIC(sizeof(uint64_t), FCE_F4 * n);
    fill_normal_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        x, n, seed, offset, offset_add, std);
    FCE_LAUNCH_CHECK("fill_normal_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t offset,
                                            float lo, float hi, cudaStream_t stream) {
    if (n == 0) return FCE_STATUS_OK;
    FCE_ASSERT(x != NULL, "fill_uniform: x is NULL for n = %zu", n);
    FCE_TRAFFIC(0, FCE_F4 * n);
    fill_uniform_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        x, n, seed, offset, lo, hi);
    FCE_LAUNCH_CHECK("fill_uniform_kernel");
    return FCE_STATUS_OK;
}

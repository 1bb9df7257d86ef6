/* preprocess.cu: image dequantization and post-processing (SPEC §1), bit-identical to
 * src/host/ref/preprocess_ref.c (which documents the arithmetic in full). inv = 1/n_bins.
 *
 *   dequantize:  q = u8 >> (8 − n_bits); b = q·inv − ½; h = b + inv (both exact);
 *                x = b + u·inv, u = philox_uniform(seed, offset + i), and x = nextafterf(h, −1)
 *                when the rounded sum reaches h, so x stays in its bin [b, h).
 *   postprocess: NaN → 0; k = floor(clamp(x·n_bins, ±n_bins)) + n_bins/2 (exact);
 *                u8 = clamp(k·256/n_bins, 0, 255).
 *
 * Every float step uses __fmul_rn/__fadd_rn (no FMA contraction: the CPU rounds each step once;
 * here every product is exact anyway, so this only pins the order). One thread per element,
 * grid-stride, FCE_BLOCK_ELEMWISE threads per block, capped grid.
 * Kernels: dequantize_kernel, postprocess_kernel. */
#include "common.cuh"
#include "fce/philox.h"
#include "fce_kernels.h"

/* offset_add (dequantize_at): added to offset from device memory, so a replayed graph draws anew. */
static __global__ void dequantize_kernel(float *x, const uint8_t *u8, size_t n, int shift,
                                         float inv, uint64_t seed, uint64_t offset,
                                         const uint64_t *offset_add) {
    if (offset_add) offset += *offset_add;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float q = (float)(u8[i] >> shift);
        const float u = fce_philox_uniform(seed, offset + i);
        const float b = __fadd_rn(__fmul_rn(q, inv), -0.5f);
        const float v = __fmul_rn(u, inv);
        const float h = __fadd_rn(b, inv);
        const float s = __fadd_rn(b, v);
        x[i] = s < h ? s : nextafterf(h, -1.0f);
    }
}

static __global__ void postprocess_kernel(uint8_t *u8, const float *x, size_t n, float nb,
                                          float half, float step) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float xi = x[i];
        if (isnan(xi)) {
            u8[i] = 0;
            continue;
        }
        float z = __fmul_rn(xi, nb);
        z = fminf(fmaxf(z, -nb), nb);
        const float k = __fadd_rn(floorf(z), half);
        float v = __fmul_rn(k, step);
        v = fminf(fmaxf(v, 0.0f), 255.0f);
        u8[i] = (uint8_t)v;
    }
}

extern "C" fce_status fce_cuda_dequantize(float *x, const uint8_t *u8, size_t n, int n_bits,
                                          uint64_t seed, uint64_t offset, cudaStream_t stream) {
    FCE_ASSERT(n_bits >= 1 && n_bits <= 8, "dequantize: n_bits = %d is outside 1..8", n_bits);
    if (n == 0) return FCE_STATUS_OK;
    FCE_ASSERT(x != NULL && u8 != NULL, "dequantize: NULL buffer for n = %zu", n);
    const float inv = 1.0f / (float)(1 << n_bits);
    FCE_TRAFFIC(n, FCE_F4 * n);
    dequantize_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        x, u8, n, 8 - n_bits, inv, seed, offset, (const uint64_t *)NULL);
    FCE_LAUNCH_CHECK("dequantize_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_dequantize_at(float *x, const uint8_t *u8, size_t n, int n_bits,
                                             uint64_t seed, uint64_t offset,
                                             const uint64_t *offset_add, cudaStream_t stream) {
    FCE_ASSERT(n_bits >= 1 && n_bits <= 8, "dequantize_at: n_bits = %d is outside 1..8", n_bits);
    if (n == 0) return FCE_STATUS_OK;
    FCE_ASSERT(x != NULL && u8 != NULL && offset_add != NULL, "dequantize_at: NULL buffer for n = %zu", n);
    const float inv = 1.0f / (float)(1 << n_bits);
    FCE_TRAFFIC(n + sizeof(uint64_t), FCE_F4 * n);
    dequantize_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        x, u8, n, 8 - n_bits, inv, seed, offset, offset_add);
    FCE_LAUNCH_CHECK("dequantize_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_postprocess(uint8_t *u8, const float *x, size_t n, int n_bits,
                                           cudaStream_t stream) {
    FCE_ASSERT(n_bits >= 1 && n_bits <= 8, "postprocess: n_bits = %d is outside 1..8", n_bits);
    if (n == 0) return FCE_STATUS_OK;
    FCE_ASSERT(x != NULL && u8 != NULL, "postprocess: NULL buffer for n = %zu", n);
    const float nb = (float)(1 << n_bits);
    FCE_TRAFFIC(FCE_F4 * n, n);
    postprocess_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        u8, x, n, nb, 0.5f * nb, 256.0f / nb);
    FCE_LAUNCH_CHECK("postprocess_kernel");
    return FCE_STATUS_OK;
}

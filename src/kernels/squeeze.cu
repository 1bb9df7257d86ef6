/* squeeze.cu: the factor-2 space-to-channel squeeze of the image Glow (SPEC a.1), the CUDA twin of
 * the CPU reference fce_ref_squeeze_forward/inverse (src/host/ref/ref.h).
 *
 * x is (N, H, W, C), y is (N, H/2, W/2, 4C), both NHWC, H and W even:
 *   y[n, i, j, 4c + 2·dy + dx] = x[n, 2i + dy, 2j + dx, c],   dy, dx ∈ {0, 1}
 * inverse: the same assignment read the other way (x from y). Both are permutations, so each is
 * the other's backward; no arithmetic, the copies are exact.
 *
 * Kernels (one thread per OUTPUT element, grid-stride, so the writes are coalesced):
 *   squeeze_forward_kernel   index over y, decodes (n, i, j, c, dy, dx), reads x.
 *   squeeze_inverse_kernel   index over x, decodes (n, h, w, c), reads y.
 * Out-of-place only (y must not alias x). */
#include "common.cuh"
#include "fce_kernels.h"

static __global__ void squeeze_forward_kernel(float *y, const float *x, size_t total, int H, int W,
                                              int C) {
    const int Ho = H / 2, Wo = W / 2;
    const size_t C4 = 4 * (size_t)C;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t q = i % C4, pix = i / C4; /* pix = (n·Ho + oi)·Wo + oj */
        size_t oj = pix % (size_t)Wo, t = pix / (size_t)Wo;
        size_t oi = t % (size_t)Ho, n = t / (size_t)Ho;
        size_t c = q / 4, dy = (q / 2) % 2, dx = q % 2;
        size_t src = ((n * (size_t)H + 2 * oi + dy) * (size_t)W + 2 * oj + dx) * (size_t)C + c;
        y[i] = x[src];
    }
}

static __global__ void squeeze_inverse_kernel(float *x, const float *y, size_t total, int H, int W,
                                              int C) {
    const int Ho = H / 2, Wo = W / 2;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t c = i % (size_t)C, pix = i / (size_t)C; /* pix = (n·H + h)·W + w */
        size_t w = pix % (size_t)W, t = pix / (size_t)W;
        size_t h = t % (size_t)H, n = t / (size_t)H;
        size_t src = ((n * (size_t)Ho + h / 2) * (size_t)Wo + w / 2) * (4 * (size_t)C) + 4 * c +
                     2 * (h % 2) + (w % 2);
        x[i] = y[src];
    }
}

static void squeeze_check(const char *what, int N, int H, int W, int C) {
    FCE_ASSERT(N >= 0 && H >= 0 && W >= 0 && C >= 1 && H % 2 == 0 && W % 2 == 0,
               "%s: bad shape N = %d, H = %d, W = %d, C = %d (H and W must be even)", what, N, H,
               W, C);
}

extern "C" fce_status fce_cuda_squeeze_forward(float *y, const float *x, int N, int H, int W, int C,
                                               cudaStream_t stream) {
    squeeze_check("squeeze_forward", N, H, W, C);
    size_t total = (size_t)N * (size_t)H * (size_t)W * (size_t)C;
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * total, FCE_F4 * total);
    squeeze_forward_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                             stream>>>(y, x, total, H, W, C);
    FCE_LAUNCH_CHECK("squeeze_forward_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_squeeze_inverse(float *x, const float *y, int N, int H, int W, int C,
                                               cudaStream_t stream) {
    squeeze_check("squeeze_inverse", N, H, W, C);
    size_t total = (size_t)N * (size_t)H * (size_t)W * (size_t)C;
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * total, FCE_F4 * total);
    squeeze_inverse_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                             stream>>>(x, y, total, H, W, C);
    FCE_LAUNCH_CHECK("squeeze_inverse_kernel");
    return FCE_STATUS_OK;
}

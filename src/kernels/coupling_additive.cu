/* coupling_additive.cu: additive coupling of the image Glow (SPEC a.7), the CUDA twin of the CPU
 * reference fce_ref_coupling_additive_* (src/host/ref/ref.h).
 *
 * rows = N·HW pixels, C channels (even), NHWC; xa = channels [0, C/2), xb = [C/2, C);
 * h (rows, C/2) = NN(xa):
 *   forward: ya = xa, yb = xb + h          inverse: xa = ya, xb = yb − h        log-det 0
 *   backward (dir = +1 of the forward, −1 of the inverse), dout = gradient w.r.t. the op's output:
 *     din = dout (whole tensor, overwrite), dh = dir·dout_b (overwrite); din may alias dout.
 * Element math in double, rounded once (a sum of two floats rounds the same either way).
 *
 * Kernels (one thread per element of the (rows, C) tensor, grid-stride; each thread reads and
 * writes only its own index of the big tensors, so out = in and din = dout aliasing are safe):
 *   coupling_additive_apply_kernel     forward (dir = +1) and inverse (dir = −1).
 *   coupling_additive_backward_kernel  both backward directions; a NULL din or dh skips that
 *                                      output (din = dout skips the copy). */
#include "common.cuh"
#include "fce_kernels.h"

static __global__ void coupling_additive_apply_kernel(float *out, const float *in, const float *h,
                                                      size_t total, int C, double dir) {
    const size_t Cs = (size_t)C, half = Cs / 2;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / Cs, k = i % Cs;
        if (k < half) out[i] = in[i];
        else out[i] = (float)((double)in[i] + dir * (double)h[row * half + (k - half)]);
    }
}

static __global__ void coupling_additive_backward_kernel(float *din, float *dh, const float *dout,
                                                         size_t total, int C, double dir) {
    const size_t Cs = (size_t)C, half = Cs / 2;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = dout[i];
        size_t row = i / Cs, k = i % Cs;
        if (din) din[i] = g;
        if (dh && k >= half) dh[row * half + (k - half)] = (float)(dir * (double)g);
    }
}

static void coupling_additive_check(const char *what, int C) {
    FCE_ASSERT(C >= 2 && C % 2 == 0, "%s: bad channel count C = %d (must be even and >= 2)", what,
               C);
}

static fce_status coupling_additive_apply(float *out, const float *in, const float *h, size_t rows,
                                          int C, double dir, cudaStream_t stream) {
    size_t total = rows * (size_t)C;
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (total + total / 2), FCE_F4 * total);
    coupling_additive_apply_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                                     stream>>>(out, in, h, total, C, dir);
    FCE_LAUNCH_CHECK("coupling_additive_apply_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_coupling_additive_forward(float *y, const float *x, const float *h,
                                                         size_t rows, int C, cudaStream_t stream) {
    coupling_additive_check("coupling_additive_forward", C);
    return coupling_additive_apply(y, x, h, rows, C, +1.0, stream);
}

extern "C" fce_status fce_cuda_coupling_additive_inverse(float *x, const float *y, const float *h,
                                                         size_t rows, int C, cudaStream_t stream) {
    coupling_additive_check("coupling_additive_inverse", C);
    return coupling_additive_apply(x, y, h, rows, C, -1.0, stream);
}

extern "C" fce_status fce_cuda_coupling_additive_backward(float *din, float *dh, const float *dout,
                                                          size_t rows, int C, float dir,
                                                          cudaStream_t stream) {
    coupling_additive_check("coupling_additive_backward", C);
    size_t total = rows * (size_t)C;
    if (din == dout) din = NULL; /* in place: din already holds dout */
    if (total == 0 || (!din && !dh)) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (din ? total : total / 2), FCE_F4 * ((din ? total : 0) + (dh ? total / 2 : 0)));
    coupling_additive_backward_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE,
                                        0, stream>>>(din, dh, dout, total, C, (double)dir);
    FCE_LAUNCH_CHECK("coupling_additive_backward_kernel");
    return FCE_STATUS_OK;
}

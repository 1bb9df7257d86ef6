/* coupling.cu: affine coupling (SPEC a.8; Glow §3.3, openai/glow's add-then-multiply order), the
 * CUDA twin of src/host/ref/coupling_ref.c.
 *
 * rows = N·HW pixels, C channels (even), NHWC; sample n owns rows [n·HW, (n+1)·HW).
 * xa = channels [0, C/2), xb = [C/2, C). h (rows, C) = NN(xa), interleaved:
 *   t_k = h[row, 2k], r_k = h[row, 2k+1], u = r_k + 2, s_k = sigmoid(u), log s_k = −softplus(−u).
 *   forward: ya = xa, yb = (xb + t)·s,  logdet[n] += Σ_{pix,k} log s
 *   inverse: xa = ya, xb = yb/s − t,    logdet[n] −= Σ_{pix,k} log s
 *   backward of forward: dxa = dya, dxb = dyb·s, dt = dyb·s, dr = (1 − s)·(dyb·yb + dlogdet_n)
 *   backward of inverse: dya = dxa, dyb = dxb/s, dt = −dxb,
 *                        dr = −(1 − s)·(dxb·(xb + t) + dlogdet_n)
 * Element math in double (as the reference), rounded once; 1 − s = sigmoid(−u).
 *
 * Kernels:
 *   coupling_apply_kernel           forward/inverse, one thread per (row, k), grid-stride.
 *   coupling_logdet_kernel          one warp per sample (grid-stride over samples): lane sums of
 *                                   log s in double, fce_warp_sum (fixed order), lane 0 adds.
 *   coupling_backward_kernel        both backward directions, one thread per (row, k). */
#include "common.cuh"
#include "fce_kernels.h"

/* dir = +1 forward (in = x, out = y), −1 inverse (in = y, out = x). */
static __global__ void coupling_apply_kernel(float *out, const float *in, const float *h,
                                             size_t rows, int C, int dir) {
    const int half = C / 2;
    const size_t total = rows * (size_t)half;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / (size_t)half;
        int k = (int)(i % (size_t)half);
        const float *inr = in + row * (size_t)C, *hr = h + row * (size_t)C;
        float *outr = out + row * (size_t)C;
        double s = fce_sigmoid_d((double)hr[2 * k + 1] + 2.0);
        outr[k] = inr[k];
        if (dir > 0) outr[half + k] = (float)(((double)inr[half + k] + hr[2 * k]) * s);
        else outr[half + k] = (float)((double)inr[half + k] / s - hr[2 * k]);
    }
}

static __global__ void coupling_logdet_kernel(float *logdet, const float *h, int N, int HW, int C,
                                              double dir) {
    const int half = C / 2, lane = threadIdx.x % 32;
    const int warps_per_block = blockDim.x / 32;
    const size_t per_sample = (size_t)HW * (size_t)half;
    for (int n = blockIdx.x * warps_per_block + threadIdx.x / 32; n < N;
         n += gridDim.x * warps_per_block) {
        const float *hn = h + (size_t)n * HW * (size_t)C;
        double acc = 0.0;
        for (size_t e = lane; e < per_sample; e += 32) {
            size_t pix = e / (size_t)half, k = e % (size_t)half;
            acc += -fce_softplus_d(-((double)hn[pix * (size_t)C + 2 * k + 1] + 2.0));
        }
        acc = fce_warp_sum(acc);
        if (lane == 0) logdet[n] = (float)((double)logdet[n] + dir * acc);
    }
}

/* inverse = 0: (dout, g, v) = (dx, dy, y); inverse = 1: (dout, g, v) = (dy, dx, x). */
static __global__ void coupling_backward_kernel(float *dout, float *dh, const float *g,
                                                const float *v, const float *h,
                                                const float *dlogdet, int HW, size_t rows, int C,
                                                int inverse) {
    const int half = C / 2;
    const size_t total = rows * (size_t)half;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / (size_t)half;
        int k = (int)(i % (size_t)half);
        size_t base = row * (size_t)C;
        double gl = dlogdet ? (double)dlogdet[row / (size_t)HW] : 0.0;
        double t = h[base + 2 * k];
        double u = (double)h[base + 2 * k + 1] + 2.0;
        double s = fce_sigmoid_d(u), one_minus_s = fce_sigmoid_d(-u);
        double gb = g[base + half + k];
        if (!inverse) {
            if (dout) {
                dout[base + k] = g[base + k];
                dout[base + half + k] = (float)(gb * s);
            }
            if (dh) {
                dh[base + 2 * k] = (float)(gb * s);
                dh[base + 2 * k + 1] = (float)(one_minus_s * (gb * v[base + half + k] + gl));
            }
        } else {
            if (dout) {
                dout[base + k] = g[base + k];
                dout[base + half + k] = (float)(gb / s);
            }
            if (dh) {
                dh[base + 2 * k] = (float)(-gb);
                dh[base + 2 * k + 1] =
                    (float)(-one_minus_s * (gb * ((double)v[base + half + k] + t) + gl));
            }
        }
    }
}

static fce_status coupling_apply(float *out, float *logdet, const float *in, const float *h, int N,
                                 int HW, int C, int dir, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C >= 2 && C % 2 == 0,
               "coupling: bad shape N = %d, HW = %d, C = %d (C must be even)", N, HW, C);
    size_t rows = (size_t)N * (size_t)HW;
    size_t total = rows * (size_t)(C / 2);
    FCE_TRAFFIC(FCE_F4 * (2 * total + 2 * total + (logdet ? total + N : 0)),
                FCE_F4 * (2 * total + (logdet ? (size_t)N : 0)));
    if (total > 0) {
        coupling_apply_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                                stream>>>(out, in, h, rows, C, dir);
        FCE_LAUNCH_CHECK("coupling_apply_kernel");
    }
    if (logdet && N > 0) {
        coupling_logdet_kernel<<<fce_grid_1d((size_t)N, FCE_ROWS_BLOCK / 32), FCE_ROWS_BLOCK, 0,
                                 stream>>>(logdet, h, N, HW, C, (double)dir);
        FCE_LAUNCH_CHECK("coupling_logdet_kernel");
    }
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_coupling_affine_forward(float *y, float *logdet, const float *x,
                                                       const float *h, int N, int HW, int C,
                                                       cudaStream_t stream) {
    return coupling_apply(y, logdet, x, h, N, HW, C, +1, stream);
}

extern "C" fce_status fce_cuda_coupling_affine_inverse(float *x, float *logdet, const float *y,
                                                       const float *h, int N, int HW, int C,
                                                       cudaStream_t stream) {
    return coupling_apply(x, logdet, y, h, N, HW, C, -1, stream);
}

static fce_status coupling_backward(float *dout, float *dh, const float *g, const float *v,
                                    const float *h, const float *dlogdet, int N, int HW, int C,
                                    int inverse, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C >= 2 && C % 2 == 0,
               "coupling backward: bad shape N = %d, HW = %d, C = %d (C must be even)", N, HW, C);
    size_t rows = (size_t)N * (size_t)HW;
    size_t total = rows * (size_t)(C / 2);
    if (total == 0 || (!dout && !dh)) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (2 * total + 2 * total + 2 * total + (dlogdet ? (size_t)N : 0)),
                FCE_F4 * ((dout ? 2 * total : 0) + (dh ? 2 * total : 0)));
    coupling_backward_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                               stream>>>(dout, dh, g, v, h, dlogdet, HW, rows, C, inverse);
    FCE_LAUNCH_CHECK("coupling_backward_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_coupling_affine_backward(float *dx, float *dh, const float *dy,
                                                        const float *y, const float *h,
                                                        const float *dlogdet, int N, int HW, int C,
                                                        cudaStream_t stream) {
    return coupling_backward(dx, dh, dy, y, h, dlogdet, N, HW, C, 0, stream);
}

extern "C" fce_status fce_cuda_coupling_affine_inverse_backward(float *dy, float *dh,
                                                                const float *dx, const float *x,
                                                                const float *h,
                                                                const float *dlogdet, int N,
                                                                int HW, int C,
                                                                cudaStream_t stream) {
    return coupling_backward(dy, dh, dx, x, h, dlogdet, N, HW, C, 1, stream);
}

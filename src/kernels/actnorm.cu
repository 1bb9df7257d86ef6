/* actnorm.cu: ActNorm with log-det (SPEC a.2; Glow, Kingma & Dhariwal 2018, §3.1), the CUDA twin
 * of src/host/ref/actnorm_ref.c.
 *
 * rows = N·HW pixels, C channels, NHWC (x[r·C + c]); sample n owns rows [n·HW, (n+1)·HW).
 * Effective log-scale s_c = 3·logs_c (FCE_ACTNORM_LOGSCALE_FACTOR).
 *   forward:  y = (x + b)·e^s,   logdet[n] += HW·Σ_c s_c
 *   inverse:  x = y·e^{−s} − b,  logdet[n] −= HW·Σ_c s_c
 *   backward of forward: dx = dy·e^s; db_c += Σ dy·e^s; dlogs_c += 3·(Σ dy·y + HW·Σ_n dlogdet_n)
 *   backward of inverse: dy = dx·e^{−s}; db_c += −Σ dx;
 *                        dlogs_c += 3·(−Σ dx·(x + b) − HW·Σ_n dlogdet_n)
 *   init: b = −mean(x), v = mean((x + b)²), logs = log(1/(√v + 1e−6))/3 over all rows.
 * Like the reference, each element is computed in double and rounded once, so results usually
 * match it bit for bit.
 *
 * Kernels:
 *   actnorm_apply_kernel      elementwise forward/inverse (grid-stride over rows·C).
 *   actnorm_logdet_kernel     one block: Σ_c s_c by fce_block_sum (fixed order), then
 *                             logdet[n] ±= HW·Σ for every n.
 *   actnorm_backward_kernel   one block per channel (grid-stride over channels): writes the
 *                             activation gradient of its channel and reduces the channel's sums
 *                             and Σ_n dlogdet in double with fce_block_sum. Both directions.
 *   actnorm_init_kernel       one block per channel: mean, then the centred second moment. */
#include "common.cuh"
#include "fce/backend.h"
#include "fce_kernels.h"

#define FCE_ACTNORM_FACTOR_D ((double)FCE_ACTNORM_LOGSCALE_FACTOR)

/* dir = +1: out = (in + b)·e^s (forward); dir = −1: out = in·e^{−s} − b (inverse). */
static __global__ void actnorm_apply_kernel(float *out, const float *in, const float *bias,
                                            const float *logs, size_t total, int C, int dir) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % (size_t)C);
        double s = FCE_ACTNORM_FACTOR_D * (double)logs[c];
        if (dir > 0) out[i] = (float)(((double)in[i] + bias[c]) * exp(s));
        else out[i] = (float)((double)in[i] * exp(-s) - bias[c]);
    }
}

static __global__ void actnorm_logdet_kernel(float *logdet, const float *logs, int N, int HW, int C,
                                             double dir) {
    __shared__ double sh[FCE_BLOCK_REDUCE];
    double acc = 0.0;
    for (int c = threadIdx.x; c < C; c += FCE_BLOCK_REDUCE) acc += FCE_ACTNORM_FACTOR_D * logs[c];
    double ld = dir * (double)HW * fce_block_sum<FCE_BLOCK_REDUCE>(acc, sh);
    for (int n = threadIdx.x; n < N; n += FCE_BLOCK_REDUCE)
        logdet[n] = (float)((double)logdet[n] + ld);
}

/* inverse = 0: (dact, a, b) = (dx, dy, y), backward of forward.
 * inverse = 1: (dact, a, b) = (dy, dx, x), backward of inverse. */
static __global__ void actnorm_backward_kernel(float *dact, float *dbias, float *dlogs,
                                               const float *g, const float *v,
                                               const float *dlogdet, const float *bias,
                                               const float *logs, int N, int HW, int C,
                                               int inverse) {
    __shared__ double sh[FCE_BLOCK_REDUCE];
    const size_t rows = (size_t)N * (size_t)HW;
    double gl = 0.0;
    if (dlogs && dlogdet) {
        double acc = 0.0;
        for (int n = threadIdx.x; n < N; n += FCE_BLOCK_REDUCE) acc += dlogdet[n];
        gl = fce_block_sum<FCE_BLOCK_REDUCE>(acc, sh);
    }
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        double s = FCE_ACTNORM_FACTOR_D * (double)logs[c];
        double scale = inverse ? exp(-s) : exp(s);
        double b = bias[c];
        double sum_g = 0.0, sum_gv = 0.0;
        for (size_t r = threadIdx.x; r < rows; r += FCE_BLOCK_REDUCE) {
            size_t i = r * (size_t)C + (size_t)c;
            double gi = g[i];
            if (dact) dact[i] = (float)(gi * scale);
            sum_g += gi;
            sum_gv += inverse ? gi * ((double)v[i] + b) : gi * (double)v[i];
        }
        if (dbias) sum_g = fce_block_sum<FCE_BLOCK_REDUCE>(sum_g, sh);
        if (dlogs) sum_gv = fce_block_sum<FCE_BLOCK_REDUCE>(sum_gv, sh);
        if (threadIdx.x == 0) {
            if (dbias) {
                double db = inverse ? -sum_g : sum_g * scale;
                dbias[c] = (float)((double)dbias[c] + db);
            }
            if (dlogs) {
                double gs = inverse ? -sum_gv - (double)HW * gl : sum_gv + (double)HW * gl;
                dlogs[c] = (float)((double)dlogs[c] + FCE_ACTNORM_FACTOR_D * gs);
            }
        }
    }
}

static __global__ void actnorm_init_kernel(float *bias, float *logs, const float *x, size_t rows,
                                           int C) {
    __shared__ double sh[FCE_BLOCK_REDUCE];
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        double acc = 0.0;
        for (size_t r = threadIdx.x; r < rows; r += FCE_BLOCK_REDUCE) acc += x[r * (size_t)C + c];
        double sum = fce_block_sum<FCE_BLOCK_REDUCE>(acc, sh);
        /* The centring uses the bias as stored (rounded to float), as the reference does. */
        float b = (float)(-sum / (double)rows);
        double acc2 = 0.0;
        for (size_t r = threadIdx.x; r < rows; r += FCE_BLOCK_REDUCE) {
            double centred = (double)x[r * (size_t)C + c] + (double)b;
            acc2 += centred * centred;
        }
        double var = fce_block_sum<FCE_BLOCK_REDUCE>(acc2, sh) / (double)rows;
        if (threadIdx.x == 0) {
            bias[c] = b;
            logs[c] = (float)(log(1.0 / (sqrt(var) + 1e-6)) / FCE_ACTNORM_FACTOR_D);
        }
    }
}

static fce_status actnorm_apply(float *out, float *logdet, const float *in, const float *bias,
                                const float *logs, int N, int HW, int C, int dir,
                                cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C > 0, "actnorm: bad shape N = %d, HW = %d, C = %d", N, HW, C);
    size_t total = (size_t)N * (size_t)HW * (size_t)C;
    FCE_TRAFFIC(FCE_F4 * (total + 2 * (size_t)C + (logdet ? (size_t)C + N : 0)),
                FCE_F4 * (total + (logdet ? (size_t)N : 0)));
    if (total > 0) {
        actnorm_apply_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                               stream>>>(out, in, bias, logs, total, C, dir);
        FCE_LAUNCH_CHECK("actnorm_apply_kernel");
    }
    if (logdet && N > 0) {
        actnorm_logdet_kernel<<<1, FCE_BLOCK_REDUCE, 0, stream>>>(logdet, logs, N, HW, C,
                                                                  (double)dir);
        FCE_LAUNCH_CHECK("actnorm_logdet_kernel");
    }
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_actnorm_forward(float *y, float *logdet, const float *x,
                                               const float *bias, const float *logs, int N, int HW,
                                               int C, cudaStream_t stream) {
    return actnorm_apply(y, logdet, x, bias, logs, N, HW, C, +1, stream);
}

extern "C" fce_status fce_cuda_actnorm_inverse(float *x, float *logdet, const float *y,
                                               const float *bias, const float *logs, int N, int HW,
                                               int C, cudaStream_t stream) {
    return actnorm_apply(x, logdet, y, bias, logs, N, HW, C, -1, stream);
}

static fce_status actnorm_backward_launch(float *dact, float *dbias, float *dlogs, const float *g,
                                          const float *v, const float *dlogdet, const float *bias,
                                          const float *logs, int N, int HW, int C, int inverse,
                                          cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C > 0, "actnorm backward: bad shape N = %d, HW = %d, C = %d", N,
               HW, C);
    if (!dact && !dbias && !dlogs) return FCE_STATUS_OK;
    const size_t total = (size_t)N * (size_t)HW * (size_t)C;
    FCE_TRAFFIC(FCE_F4 * (total * (dlogs ? 2 : 1) + 2 * (size_t)C + (dbias ? C : 0) + (dlogs ? C : 0) +
                          (dlogs && dlogdet ? (size_t)N : 0)),
                FCE_F4 * ((dact ? total : 0) + (dbias ? C : 0) + (dlogs ? C : 0)));
    actnorm_backward_kernel<<<fce_grid_1d((size_t)C, 1), FCE_BLOCK_REDUCE, 0, stream>>>(
        dact, dbias, dlogs, g, v, dlogdet, bias, logs, N, HW, C, inverse);
    FCE_LAUNCH_CHECK("actnorm_backward_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_actnorm_backward(float *dx, float *dbias, float *dlogs,
                                                const float *dy, const float *y,
                                                const float *dlogdet, const float *bias,
                                                const float *logs, int N, int HW, int C,
                                                cudaStream_t stream) {
    return actnorm_backward_launch(dx, dbias, dlogs, dy, y, dlogdet, bias, logs, N, HW, C, 0,
                                   stream);
}

extern "C" fce_status fce_cuda_actnorm_inverse_backward(float *dy, float *dbias, float *dlogs,
                                                        const float *dx, const float *x,
                                                        const float *dlogdet, const float *bias,
                                                        const float *logs, int N, int HW, int C,
                                                        cudaStream_t stream) {
    return actnorm_backward_launch(dy, dbias, dlogs, dx, x, dlogdet, bias, logs, N, HW, C, 1,
                                   stream);
}

extern "C" fce_status fce_cuda_actnorm_init(float *bias, float *logs, const float *x, int N, int HW,
                                            int C, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C > 0, "actnorm_init: bad shape N = %d, HW = %d, C = %d", N, HW,
               C);
    size_t rows = (size_t)N * (size_t)HW;
    if (rows == 0) return FCE_STATUS_OK; /* no statistics: parameters unchanged, as in the ref */
    FCE_TRAFFIC(2 * FCE_F4 * rows * C, 2 * FCE_F4 * C); /* two passes over x */
    actnorm_init_kernel<<<fce_grid_1d((size_t)C, 1), FCE_BLOCK_REDUCE, 0, stream>>>(bias, logs, x,
                                                                                    rows, C);
    FCE_LAUNCH_CHECK("actnorm_init_kernel");
    return FCE_STATUS_OK;
}

/* actnorm_fused.cu: the fused actnorm ops of the additive image flow (fce/ops.def "fused ops"),
 * the CUDA twins of src/host/ref/fused_ref.c: actnorm → ReLU forward, actnorm_inverse with the next
 * coupling network's input split off, and every actnorm backward of the fused path as one
 * coalesced two-stage reduction.
 *
 * The backward (actnorm_bwd_kernel): the old actnorm_backward_kernel (actnorm.cu) gives each
 * channel one block that walks the channel's column with a stride of C floats, so a warp reads 32
 * rows' worth of cache lines for 128 bytes; at width 512 that dominated an MLE step. Here a block
 * covers up to 32 adjacent channels (CW) times RL = 256/CW row lanes, so a warp reads 32
 * consecutive floats of a row, and the rows are cut into S splits (a grid of groups × S blocks):
 *   stage 1  every block writes the activation gradient of its tile and its per-channel partial
 *            sums (Σg, Σg·v, in double) to the work buffer;
 *   stage 2  the block that finishes its channel group last (an integer ticket: atomicAdd on the
 *            group's counter after a __threadfence) adds the S partials in split order, adds
 *            Σ_n dlogdet in sample order, updates dbias and dlogs, and resets the counter to 0.
 * One launch, no float atomics, and a result that does not depend on the order the blocks run in:
 * every sum has a fixed order (rows within a lane, lanes 0..RL−1, splits 0..S−1). It differs from
 * the reference's row-order sum by double rounding only (the reduction tolerance class).
 * The element maths is the reference's: in double, rounded once. */
#include "common.cuh"
#include "fce/backend.h"
#include "fce_kernels.h"

#define FCE_ACTNORM_FACTOR_D ((double)FCE_ACTNORM_LOGSCALE_FACTOR)
#define AN_BLOCK 256

/* What the gradient and the activation are in each backward. */
enum an_mode {
    AN_PLAIN = 0,    /* actnorm_backward: g = dy, v = y (the output) */
    AN_INVERSE = 1,  /* actnorm_inverse_backward: g = dx, v = x (the output), e^{−s}, Σg·(v + b) */
    AN_RELU = 2,     /* actnorm → ReLU: g = (v > 0 ? dy : 0·dy), v = the ReLU output */
    AN_COUPLING = 3, /* the coupling network's last actnorm: g = dir·dout[r, C/2 + c], v = h */
};

typedef struct an_bwd_args {
    float *dact, *dbias, *dlogs;
    const float *g;   /* the incoming gradient, row stride ldg, first channel at goff */
    size_t ldg;
    int goff;
    float gdir;       /* AN_COUPLING's dir */
    const float *v, *dlogdet, *bias, *logs;
    int N, HW, C, splits;
    unsigned *counters;
    double *partials; /* [split][channel][2] */
} an_bwd_args;

template <int MODE>
static __global__ void actnorm_bwd_kernel(an_bwd_args a) {
    __shared__ double sh_g[AN_BLOCK], sh_gv[AN_BLOCK];
    __shared__ unsigned ticket;
    const int C = a.C, CW = C < 32 ? C : 32, RL = AN_BLOCK / CW, groups = (C + CW - 1) / CW;
    const int grp = (int)blockIdx.x % groups, split = (int)blockIdx.x / groups;
    const int t = (int)threadIdx.x, cl = t % CW, rl = t / CW, c = grp * CW + cl;
    const bool active = rl < RL && c < C;
    const size_t rows = (size_t)a.N * (size_t)a.HW;
    const size_t chunk = (rows + (size_t)a.splits - 1) / (size_t)a.splits;
    const size_t r0 = (size_t)split * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    double sum_g = 0.0, sum_gv = 0.0;
    if (active) {
        const double s = FCE_ACTNORM_FACTOR_D * (double)a.logs[c];
        const double scale = MODE == AN_INVERSE ? exp(-s) : exp(s);
        const double b = a.bias[c];
        for (size_t r = r0 + (size_t)rl; r < r1; r += (size_t)RL) {
            const size_t i = r * (size_t)C + (size_t)c;
            float gf = a.g[r * a.ldg + (size_t)a.goff + (size_t)c];
            if (MODE == AN_COUPLING) gf = (float)((double)a.gdir * gf);
            const float vf = a.v[i];
            if (MODE == AN_RELU) gf = vf > 0.0f ? gf : 0.0f * gf;
            if (a.dact) a.dact[i] = (float)((double)gf * scale);
            sum_g += gf;
            sum_gv += MODE == AN_INVERSE ? (double)gf * ((double)vf + b) : (double)gf * vf;
        }
    }
    sh_g[t] = sum_g, sh_gv[t] = sum_gv;
    __syncthreads();
    if (t < CW && c < C) { /* the block's partial sums of channel c, lanes in order */
        double pg = 0.0, pgv = 0.0;
        for (int l = 0; l < RL; l++) pg += sh_g[l * CW + t], pgv += sh_gv[l * CW + t];
        a.partials[((size_t)split * C + c) * 2] = pg;
        a.partials[((size_t)split * C + c) * 2 + 1] = pgv;
    }
    __threadfence(); /* the partials are visible before the ticket is taken */
    __syncthreads();
    if (t == 0) ticket = atomicAdd(&a.counters[grp], 1u);
    __syncthreads();

    if (ticket != (unsigned)a.splits - 1u) return; /* not the last block of this channel group */
    __threadfence();
    if (t < CW && c < C) {
        const volatile double *p = a.partials;
        double tg = 0.0, tgv = 0.0;
        for (int sp = 0; sp < a.splits; sp++)
            tg += p[((size_t)sp * C + c) * 2], tgv += p[((size_t)sp * C + c) * 2 + 1];
        double gl = 0.0; /* Σ_n dlogdet in sample order, as the reference */
        if (a.dlogdet && (MODE == AN_PLAIN || MODE == AN_INVERSE))
            for (int n = 0; n < a.N; n++) gl += a.dlogdet[n];
        const double s = FCE_ACTNORM_FACTOR_D * (double)a.logs[c];
        if (a.dbias) {
            const double db = MODE == AN_INVERSE ? -tg : tg * exp(s);
            a.dbias[c] = (float)((double)a.dbias[c] + db);
        }
        if (a.dlogs) {
            const double gs = MODE == AN_INVERSE ? -tgv - (double)a.HW * gl : tgv + (double)a.HW * gl;
            a.dlogs[c] = (float)((double)a.dlogs[c] + FCE_ACTNORM_FACTOR_D * gs);
        }
    }
    if (t == 0) a.counters[grp] = 0u; /* ready for the next call */
}

/* Splits of the rows: enough blocks to fill a GPU, at least 256 rows per split. */
static int an_splits(size_t rows) {
    size_t s = rows / 256;
    if (s < 1) s = 1;
    if (s > FCE_ACTNORM_SPLITS) s = FCE_ACTNORM_SPLITS;
    return (int)s;
}

template <int MODE>
static fce_status an_bwd_launch(an_bwd_args a, float *work, const char *what, cudaStream_t stream) {
    FCE_ASSERT(a.N >= 0 && a.HW >= 0 && a.C > 0 && a.C <= 32 * FCE_ACTNORM_WORK_COUNTERS,
               "%s: bad shape N = %d, HW = %d, C = %d", what, a.N, a.HW, a.C);
    const size_t rows = (size_t)a.N * (size_t)a.HW, total = rows * (size_t)a.C;
    if (!a.dact && !a.dbias && !a.dlogs) return FCE_STATUS_OK;
    if (rows == 0 && !a.dbias && !a.dlogs) return FCE_STATUS_OK;
    FCE_ASSERT(work != NULL, "%s: no work buffer", what);
    a.splits = an_splits(rows);
    a.counters = (unsigned *)work;
    a.partials = (double *)(work + FCE_ACTNORM_WORK_COUNTERS);
    const int CW = a.C < 32 ? a.C : 32, groups = (a.C + CW - 1) / CW;
    FCE_TRAFFIC(FCE_F4 * (2 * total + 2 * (size_t)a.C + (a.dbias ? a.C : 0) + (a.dlogs ? a.C : 0) +
                          (a.dlogdet ? (size_t)a.N : 0)) +
                    16ull * (size_t)a.splits * a.C,
                FCE_F4 * ((a.dact ? total : 0) + (a.dbias ? a.C : 0) + (a.dlogs ? a.C : 0)) +
                    16ull * (size_t)a.splits * a.C);
    actnorm_bwd_kernel<MODE><<<(unsigned)(groups * a.splits), AN_BLOCK, 0, stream>>>(a);
    FCE_LAUNCH_CHECK(what);
    return FCE_STATUS_OK;
}

static an_bwd_args an_args(float *dact, float *dbias, float *dlogs, const float *g, const float *v,
                           const float *dlogdet, const float *bias, const float *logs, int N,
                           int HW, int C) {
    an_bwd_args a = {dact, dbias, dlogs, g, (size_t)C, 0, 1.0f, v, dlogdet, bias, logs,
                     N, HW, C, 1, NULL, NULL};
    return a;
}

/* actnorm_backward_ws (g = dy, v = y) and actnorm_inverse_backward_ws (g = dx, v = x): one
 * parameter list, the mode apart. */
#define AN_BWD_WS_LAUNCHER(op, MODE)                                                               \
    extern "C" fce_status fce_cuda_##op(float *dact, float *dbias, float *dlogs, const float *g,   \
                                        const float *v, const float *dlogdet, const float *bias,   \
                                        const float *logs, int N, int HW, int C, float *work,      \
                                        cudaStream_t stream) {                                     \
        return an_bwd_launch<MODE>(an_args(dact, dbias, dlogs, g, v, dlogdet, bias, logs, N, HW, C), \
                                   work, "actnorm_bwd_kernel (" #op ")", stream);                   \
    }
AN_BWD_WS_LAUNCHER(actnorm_backward_ws, AN_PLAIN)
AN_BWD_WS_LAUNCHER(actnorm_inverse_backward_ws, AN_INVERSE)

extern "C" fce_status fce_cuda_actnorm_relu_backward(float *dx, float *dbias, float *dlogs,
                                                     const float *dy, const float *y,
                                                     const float *bias, const float *logs, int N,
                                                     int HW, int C, float *work,
                                                     cudaStream_t stream) {
    return an_bwd_launch<AN_RELU>(an_args(dx, dbias, dlogs, dy, y, NULL, bias, logs, N, HW, C), work,
                                  "actnorm_bwd_kernel (relu)", stream);
}

extern "C" fce_status fce_cuda_coupling_additive_net_backward(float *draw, float *h_dbias,
                                                              float *h_dlogs, const float *dout,
                                                              const float *h, const float *h_bias,
                                                              const float *h_logs, size_t rows, int C,
                                                              float dir, float *work,
                                                              cudaStream_t stream) {
    FCE_ASSERT(C >= 2 && C % 2 == 0 && rows <= (size_t)0x7fffffff,
               "coupling_additive_net_backward: C = %d (even, >= 2), rows = %zu", C, rows);
    an_bwd_args a = an_args(draw, h_dbias, h_dlogs, dout, h, NULL, h_bias, h_logs, (int)rows, 1, C / 2);
    a.ldg = (size_t)C, a.goff = C / 2, a.gdir = dir;
    return an_bwd_launch<AN_COUPLING>(a, work, "actnorm_bwd_kernel (coupling)", stream);
}

// ---- elementwise: actnorm → ReLU, and the inverse actnorm with its split ----

static __global__ void actnorm_relu_forward_kernel(float *y, const float *x, const float *bias,
                                                   const float *logs, size_t total, int C) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % (size_t)C);
        const float n = (float)(((double)x[i] + bias[c]) * exp(FCE_ACTNORM_FACTOR_D * (double)logs[c]));
        y[i] = n > 0.0f ? n : 0.0f * n;
    }
}

extern "C" fce_status fce_cuda_actnorm_relu_forward(float *y, const float *x, const float *bias,
                                                    const float *logs, int N, int HW, int C,
                                                    cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C > 0, "actnorm_relu_forward: bad shape N = %d, HW = %d, C = %d",
               N, HW, C);
    const size_t total = (size_t)N * (size_t)HW * (size_t)C;
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (total + 2 * (size_t)C), FCE_F4 * total);
    actnorm_relu_forward_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                                  stream>>>(y, x, bias, logs, total, C);
    FCE_LAUNCH_CHECK("actnorm_relu_forward_kernel");
    return FCE_STATUS_OK;
}

static __global__ void actnorm_inverse_split_kernel(float *x, float *xa, const float *y,
                                                    const float *bias, const float *logs,
                                                    size_t total, int C) {
    const int half = C / 2;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % (size_t)C);
        const float v = (float)((double)y[i] * exp(-FCE_ACTNORM_FACTOR_D * (double)logs[c]) - bias[c]);
        x[i] = v;
        if (xa && c < half) xa[(i / (size_t)C) * (size_t)half + (size_t)c] = v;
    }
}

extern "C" fce_status fce_cuda_actnorm_inverse_split(float *x, float *xa, const float *y,
                                                     const float *bias, const float *logs, int N,
                                                     int HW, int C, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C > 0 && (!xa || C % 2 == 0),
               "actnorm_inverse_split: bad shape N = %d, HW = %d, C = %d", N, HW, C);
    const size_t total = (size_t)N * (size_t)HW * (size_t)C;
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (total + 2 * (size_t)C), FCE_F4 * (total + (xa ? total / 2 : 0)));
    actnorm_inverse_split_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0,
                                   stream>>>(x, xa, y, bias, logs, total, C);
    FCE_LAUNCH_CHECK("actnorm_inverse_split_kernel");
    return FCE_STATUS_OK;
}

/* conv_cpu.c: the convolution of the fast CPU backend as GEMMs (conv_cpu.h). With
 * M = N·Ho·Wo output pixels and K = KH·KW·Cin filter taps × channels, and w read as a Cout × K
 * matrix:
 *   forward          y (M × Cout)  = im2col(x) (M × K) · wᵀ, bias on the first block;
 *   backward filter  dw (Cout × K) += dyᵀ (Cout × M) · im2col(x) (M × K);
 *   backward data    dcol (M × K)  = dy (M × Cout) · w, then col2im sums dcol back into dx.
 * im2col(x) is never formed: the GEMM packs its panels straight from x (gemm_pack.c). Backward
 * data forms dcol in chunks of CONV_CHUNK_ROWS rows in the thread's scratch; the threads take
 * disjoint ranges of pictures, so each writes only its own part of dx. When im2col(x) is x itself
 * (a 1×1 conv with stride 1 and no padding, or a filter as large as the unpadded picture) the
 * product reads x and writes dx directly. */
#include "cpu/conv_cpu.h"

#include <string.h>

#include "cpu/gemm_cpu.h"

/* Rows of dcol formed at once by backward data (its scratch is this many rows of K floats). */
#define CONV_CHUNK_ROWS 256
/* Backward data runs on one thread below this many multiply-adds (gemm_cpu.c's reason). */
#define CONV_PARALLEL_MIN_MACS (1 << 18)

static int out_h(const fce_conv_shape *s) { return (s->H + 2 * s->pad - s->KH) / s->stride + 1; }
static int out_w(const fce_conv_shape *s) { return (s->W + 2 * s->pad - s->KW) / s->stride + 1; }
static int taps_k(const fce_conv_shape *s) { return s->KH * s->KW * s->Cin; }

/* im2col(x) is x read as an M × K matrix: every input value sits in exactly one (row, column). */
static int im2col_is_x(const fce_conv_shape *s) {
    if (s->pad != 0) return 0;
    if (s->KH == 1 && s->KW == 1 && s->stride == 1) return 1;
    return s->KH == s->H && s->KW == s->W;
}

static gemm_view x_view(const fce_conv_shape *s, const float *x) {
    if (im2col_is_x(s)) return (gemm_view){.kind = GEMM_DENSE, .p = x, .ld = (size_t)taps_k(s)};
    return (gemm_view){.kind = GEMM_IM2COL, .p = x, .conv = s};
}

size_t conv_cpu_scratch_floats(const fce_conv_shape *s) {
    return GEMM_SCRATCH_FLOATS + (size_t)CONV_CHUNK_ROWS * (size_t)taps_k(s);
}

void conv_cpu_forward(const cpu_exec *ex, const fce_conv_shape *s, float *y, const float *x,
                      const float *w, const float *b) {
    const int K = taps_k(s);
    gemm_args g = {.M = s->N * out_h(s) * out_w(s), .N = s->Cout, .K = K, .A = x_view(s, x),
                   .B = {.kind = GEMM_DENSE_T, .p = w, .ld = (size_t)K}, .C = y,
                   .ldc = (size_t)s->Cout, .bias = b, .accumulate = 0};
    gemm_cpu(ex, &g, GEMM_SPLIT_M);
}

void conv_cpu_backward_filter(const cpu_exec *ex, const fce_conv_shape *s, float *dw, float *db,
                              const float *dy, const float *x) {
    const int M = s->N * out_h(s) * out_w(s), K = taps_k(s);
    if (dw) {
        gemm_args g = {.M = s->Cout, .N = K, .K = M,
                       .A = {.kind = GEMM_DENSE_T, .p = dy, .ld = (size_t)s->Cout},
                       .B = x_view(s, x), .C = dw, .ldc = (size_t)K, .bias = NULL,
                       .accumulate = 1};
        gemm_cpu(ex, &g, GEMM_SPLIT_N);
    }
    if (db) cpu_bias_grad(db, dy, (size_t)M, s->Cout);
}

/* dx[n, p, q, :] += dcol[r, (ky, kx), :] for the output pixels r of [r0, r0 + rows), in order. */
static void col2im(const fce_conv_shape *s, float *dx, const float *dcol, int r0, int rows) {
    const int Ho = out_h(s), Wo = out_w(s), K = taps_k(s), Cin = s->Cin;
    for (int r = r0; r < r0 + rows; r++) {
        const int n = r / (Ho * Wo), i = r % (Ho * Wo) / Wo, j = r % Wo;
        const float *col = dcol + (size_t)(r - r0) * K;
        for (int ky = 0; ky < s->KH; ky++) {
            const int p = i * s->stride + ky - s->pad;
            if (p < 0 || p >= s->H) continue;
            for (int kx = 0; kx < s->KW; kx++) {
                const int q = j * s->stride + kx - s->pad;
                if (q < 0 || q >= s->W) continue;
                float *d = dx + (((size_t)n * s->H + p) * s->W + q) * Cin;
                const float *c = col + (size_t)(ky * s->KW + kx) * Cin;
                for (int ci = 0; ci < Cin; ci++) d[ci] += c[ci];
            }
        }
    }
}

typedef struct bwd_data_job {
    const cpu_exec *ex;
    const fce_conv_shape *s;
    float *dx;
    const float *dy, *w;
} bwd_data_job;

/* Thread t: pictures [N·t/n, N·(t+1)/n): dx zeroed, then dcol chunk by chunk, each summed back. */
static void bwd_data_run(void *arg, int t, int n) {
    const bwd_data_job *job = arg;
    const fce_conv_shape *s = job->s;
    const int P = out_h(s) * out_w(s), K = taps_k(s);
    const int img0 = (int)((long)s->N * t / n), img1 = (int)((long)s->N * (t + 1) / n);
    const size_t img_floats = (size_t)s->H * s->W * s->Cin;
    if (img1 <= img0) return;
    memset(job->dx + img0 * img_floats, 0, (size_t)(img1 - img0) * img_floats * sizeof(float));
    float *scratch = cpu_pool_scratch(job->ex->pool, t), *dcol = scratch + GEMM_SCRATCH_FLOATS;
    for (int r0 = img0 * P; r0 < img1 * P; r0 += CONV_CHUNK_ROWS) {
        const int rows = img1 * P - r0 < CONV_CHUNK_ROWS ? img1 * P - r0 : CONV_CHUNK_ROWS;
        gemm_args g = {.M = rows, .N = K, .K = s->Cout,
                       .A = {.kind = GEMM_DENSE, .p = job->dy + (size_t)r0 * s->Cout,
                             .ld = (size_t)s->Cout},
                       .B = {.kind = GEMM_DENSE, .p = job->w, .ld = (size_t)K}, .C = dcol,
                       .ldc = (size_t)K, .bias = NULL, .accumulate = 0};
        gemm_cpu_range(job->ex->kernel, &g, 0, rows, 0, K, scratch);
        col2im(s, job->dx, dcol, r0, rows);
    }
}

void conv_cpu_backward_data(const cpu_exec *ex, const fce_conv_shape *s, float *dx, const float *dy,
                            const float *w) {
    const int M = s->N * out_h(s) * out_w(s), K = taps_k(s);
    if (im2col_is_x(s)) { /* dx read as M × K is dcol itself */
        gemm_args g = {.M = M, .N = K, .K = s->Cout,
                       .A = {.kind = GEMM_DENSE, .p = dy, .ld = (size_t)s->Cout},
                       .B = {.kind = GEMM_DENSE, .p = w, .ld = (size_t)K}, .C = dx,
                       .ldc = (size_t)K, .bias = NULL, .accumulate = 0};
        gemm_cpu(ex, &g, GEMM_SPLIT_M);
        return;
    }
    bwd_data_job job = {ex, s, dx, dy, w};
    const double macs = (double)M * K * s->Cout;
    cpu_pool_run(ex->pool, bwd_data_run, &job, macs < CONV_PARALLEL_MIN_MACS);
}

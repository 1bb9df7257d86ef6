/* bench_ops.c: the registry of op entries and their validation and timing (STYLE 6.12).
 *
 * An entry is one op call at one shape, on the path the model runs it: {name (the op), variant
 * ("prod" = the op table's production kernel / library call; candidates are added next to it with
 * bench_registry_add_variant), tag (where the model runs it), shape, flops, bytes, buffers, run}.
 * Shapes come from the preset's Glow and the image EBM at the op batch N (the EBM at 2N: data and
 * samples in one pass, as the FCE trainer runs it).
 *
 * Validation, before any timing: every buffer is filled on the host from a seeded generator, the
 * same bytes go to the active backend and to a CPU reference context, the variant runs on the
 * active backend and the production op on the reference, and every output is compared
 * elementwise: |got − ref| ≤ atol + rtol·|ref| (the tolerance classes of tests/gpu/). Overwritten
 * outputs start as the same garbage on both sides, accumulated ones as the same random values, so
 * = versus += is checked too. An entry that fails is reported FAILED and is not timed.
 * The reference is plain C and single-threaded, so the large convolutions are validated on a batch
 * prefix: the active backend still runs the timed plan at batch N, with the inputs of images
 * n_val..N−1 set to zero (they then add nothing to any reduction, e.g. the filter gradient), and
 * the first n_val images of each per-image output (all of each reduced output) are compared with
 * the reference run at batch n_val. n_val is the largest batch whose reference cost stays under
 * VAL_FLOP_BUDGET, at least 1; it is printed with the entry. Timing then uses full random inputs. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "fce/log.h"

#define VAL_FLOP_BUDGET 4e8 /* reference FLOPs per conv entry (~1 s of the plain C reference) */

/* tolerance classes (tests/gpu/test_gpu_ops.c, test_gpu_conv.c) */
#define TOL_ELEM_ATOL 1e-6
#define TOL_ELEM_RTOL 1e-6
#define TOL_RED_ATOL 1e-5
#define TOL_RED_RTOL 1e-5
#define TOL_GEMM_ATOL 1e-5 /* at a sum of K ≤ 64 products; grows as √(K/64) */
#define TOL_GEMM_RTOL 1e-4
#define GARBAGE 777.0f

static double gemm_atol(double K) { return K > 64 ? TOL_GEMM_ATOL * sqrt(K / 64.0) : TOL_GEMM_ATOL; }

#define F(i) ((float *)b[i])

// ---- production run functions: the op table, exactly as the model calls it ----

/* actnorm_forward: y, logdet, x, bias, logs */
static fce_status run_actnorm_forward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                      const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->actnorm_forward(ctx, F(0), F(1), F(2), F(3), F(4), N, e->HW, e->C);
}

/* test-only: the production op, then y *= 1.001 (a 1e-3 relative error validation must catch) */
static fce_status run_actnorm_forward_bad(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                          const fce_conv_plan *p) {
    FCE_TRY(run_actnorm_forward(ctx, e, b, N, p));
    return ctx->ops->scale(ctx, F(0), F(0), (size_t)N * (size_t)e->HW * (size_t)e->C, 1.001f);
}

/* actnorm_backward: dx, dbias, dlogs, dy, y, dlogdet, bias, logs */
static fce_status run_actnorm_backward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                       const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->actnorm_backward(ctx, F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), N, e->HW,
                                      e->C);
}

/* leaky_relu_forward (ReLU, slope 0): y, x */
static fce_status run_relu_forward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                   const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->leaky_relu_forward(ctx, F(0), F(1), (size_t)N * (size_t)e->HW * (size_t)e->C,
                                        0.0f);
}

/* leaky_relu_backward: dx, dy, x */
static fce_status run_relu_backward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                    const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->leaky_relu_backward(ctx, F(0), F(1), F(2),
                                         (size_t)N * (size_t)e->HW * (size_t)e->C, 0.0f);
}

/* invertible 1×1 conv as a GEMM, linear_forward: y, x, W (rows = N·HW, C → C) */
static fce_status run_invconv_forward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                      const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->linear_forward(ctx, F(0), F(1), F(2), NULL, N * e->HW, e->C, e->C);
}

/* linear_backward: dx, dW, dy, x, W */
static fce_status run_invconv_backward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                       const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->linear_backward(ctx, F(0), F(1), NULL, F(2), F(3), F(4), N * e->HW, e->C,
                                     e->C);
}

/* coupling_additive_forward: y, x, h */
static fce_status run_additive_forward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                       const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->coupling_additive_forward(ctx, F(0), F(1), F(2), (size_t)N * (size_t)e->HW,
                                               e->C);
}

/* coupling_additive_inverse: x, y, h */
static fce_status run_additive_inverse(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                       const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->coupling_additive_inverse(ctx, F(0), F(1), F(2), (size_t)N * (size_t)e->HW,
                                               e->C);
}

/* squeeze_forward: y, x (H, W, C of x) */
static fce_status run_squeeze_forward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                      const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->squeeze_forward(ctx, F(0), F(1), N, e->H, e->W, e->C);
}

/* gaussian_diag_logp (split / top prior): logp, z, mean, logs (D = e->n) */
static fce_status run_prior_logp(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                 const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->gaussian_diag_logp(ctx, F(0), F(1), F(2), F(3), N, (int)e->n);
}

/* gaussian_diag_logp_backward_acc: dz, dmean, dlogs, z, mean, logs, dlogp */
static fce_status run_prior_backward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                     const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->gaussian_diag_logp_backward_acc(ctx, F(0), F(1), F(2), F(3), F(4), F(5), F(6),
                                                     N, (int)e->n);
}

/* conv2d_forward: y, x, w[, b] */
static fce_status run_conv_forward(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                   const fce_conv_plan *p) {
    (void)N;
    return ctx->ops->conv2d_forward(ctx, p, F(0), F(1), F(2), e->n_bufs > 3 ? F(3) : NULL);
}

/* conv2d_backward_data: dx, dy, w */
static fce_status run_conv_backward_data(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                         const fce_conv_plan *p) {
    (void)N, (void)e;
    return ctx->ops->conv2d_backward_data(ctx, p, F(0), F(1), F(2));
}

/* conv2d_backward_filter: dw, dy, x[, db] */
static fce_status run_conv_backward_filter(fce_ctx *ctx, const bench_entry *e, void *const *b,
                                           int N, const fce_conv_plan *p) {
    (void)N;
    return ctx->ops->conv2d_backward_filter(ctx, p, F(0), e->n_bufs > 3 ? F(3) : NULL, F(1), F(2));
}

/* dequantize (8 bits): x, u8 (D = e->n per image) */
static fce_status run_dequantize(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                 const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->dequantize(ctx, F(0), (const uint8_t *)b[1], (size_t)N * e->n, 8, 12345u, 777u);
}

/* postprocess (8 bits): u8, x */
static fce_status run_postprocess(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                                  const fce_conv_plan *p) {
    (void)p;
    return ctx->ops->postprocess(ctx, (uint8_t *)b[0], F(1), (size_t)N * e->n, 8);
}

/* nce_loss (EBM's loss, gscale +1): stats, dfx, dfxt, dlq, dlqt, dc, fx, fxt, lq, lqt, c —
 * 11 buffers do not fit BENCH_MAX_BUFS, so dfx/dfxt, dlq/dlqt, fx/fxt and lq/lqt are the two
 * halves of one buffer each. (2 values per item in the registry's bookkeeping; the entry is always
 * validated at n_val = N, so the halves' layout does not matter there.) */
static fce_status run_nce_loss(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                               const fce_conv_plan *p) {
    (void)p, (void)e;
    float *d = F(1), *dq = F(2), *f = F(4), *lq = F(5);
    return ctx->ops->nce_loss(ctx, F(0), d, d + N, dq, dq + N, F(3), f, f + N, lq, lq + N, F(6), N,
                              1.0f);
}

/* adam_step / adamax_step (t = 10): p, g, m, v */
static fce_status run_adam(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                           const fce_conv_plan *p) {
    (void)p, (void)N;
    return ctx->ops->adam_step(ctx, F(0), F(1), F(2), F(3), e->n, 1e-3f, 0.9f, 0.999f, 1e-7f, 10);
}

static fce_status run_adamax(fce_ctx *ctx, const bench_entry *e, void *const *b, int N,
                             const fce_conv_plan *p) {
    (void)p, (void)N;
    return ctx->ops->adamax_step(ctx, F(0), F(1), F(2), F(3), e->n, 1e-3f, 0.9f, 0.999f, 1e-7f, 10);
}

// ---- building the registry ----

static bench_entry *add(bench_registry *r, const char *name, const char *tag, int N,
                        bench_run_fn run) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        bench_entry *ne = realloc(r->e, (size_t)cap * sizeof *ne);
        if (!ne) return NULL;
        r->e = ne;
        r->cap = cap;
    }
    bench_entry *e = &r->e[r->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->variant, sizeof e->variant, "prod");
    snprintf(e->tag, sizeof e->tag, "%s", tag);
    e->N = e->n_val = N;
    e->run = e->ref_run = run;
    e->atol = TOL_ELEM_ATOL;
    e->rtol = TOL_ELEM_RTOL;
    return e;
}

#define ADD(var, name, tag, N, run)                                                                \
    bench_entry *var = add(r, (name), (tag), (N), (run));                                          \
    if (!var) return FCE_STATUS_ERR_NOMEM

static void buf(bench_entry *e, const char *name, size_t per_item, size_t fixed, bench_buf_role role,
                float lo, float hi) {
    FCE_ASSERT(e->n_bufs < BENCH_MAX_BUFS, "bench entry %s: too many buffers", e->name);
    bench_buf *bb = &e->bufs[e->n_bufs++];
    bb->name = name;
    bb->per_item = per_item;
    bb->fixed = fixed;
    bb->role = role;
    bb->lo = lo;
    bb->hi = hi;
}

static void buf_u8(bench_entry *e, const char *name, size_t per_item, bench_buf_role role) {
    buf(e, name, per_item, 0, role, 0, 0);
    e->bufs[e->n_bufs - 1].u8 = 1;
}

static void set_tol(bench_entry *e, double atol, double rtol) {
    e->atol = atol;
    e->rtol = rtol;
}

/* (N, HW, C) as "NxHxWxC" when H·W is square, else "NxHWxC" */
static void shape_nhwc(char *s, size_t len, int N, int HW, int C) {
    int h = (int)(sqrt((double)HW) + 0.5);
    if (h * h == HW) snprintf(s, len, "%dx%dx%dx%d", N, h, h, C);
    else snprintf(s, len, "%dx%dx%d", N, HW, C);
}

static fce_status add_actnorm(bench_registry *r, const char *tag, int N, int HW, int C) {
    const size_t per = (size_t)HW * C;
    const double nb = (double)N * (double)per;
    ADD(f, "actnorm_forward", tag, N, run_actnorm_forward);
    f->HW = HW, f->C = C;
    shape_nhwc(f->shape, sizeof f->shape, N, HW, C);
    buf(f, "y", per, 0, BENCH_OUT_SET, 0, 0);
    buf(f, "logdet", 1, 0, BENCH_OUT_ACC, -1, 1);
    buf(f, "x", per, 0, BENCH_IN, -2, 2);
    buf(f, "bias", 0, (size_t)C, BENCH_IN, -0.5f, 0.5f);
    buf(f, "logs", 0, (size_t)C, BENCH_IN, -0.3f, 0.3f);
    f->bytes = 4.0 * (2 * nb + 2.0 * N + 2.0 * C);
    set_tol(f, TOL_RED_ATOL, TOL_RED_RTOL); /* logdet is a sum */
    ADD(bw, "actnorm_backward", tag, N, run_actnorm_backward);
    bw->HW = HW, bw->C = C;
    shape_nhwc(bw->shape, sizeof bw->shape, N, HW, C);
    buf(bw, "dx", per, 0, BENCH_OUT_SET, 0, 0);
    buf(bw, "dbias", 0, (size_t)C, BENCH_OUT_ACC, -1, 1);
    buf(bw, "dlogs", 0, (size_t)C, BENCH_OUT_ACC, -1, 1);
    buf(bw, "dy", per, 0, BENCH_IN, -1, 1);
    buf(bw, "y", per, 0, BENCH_IN, -2, 2);
    buf(bw, "dlogdet", 1, 0, BENCH_IN, -1, 1);
    buf(bw, "bias", 0, (size_t)C, BENCH_IN, -0.5f, 0.5f);
    buf(bw, "logs", 0, (size_t)C, BENCH_IN, -0.3f, 0.3f);
    bw->bytes = 4.0 * (3 * nb + 6.0 * C + N);
    set_tol(bw, TOL_RED_ATOL, TOL_RED_RTOL);
    return FCE_STATUS_OK;
}

static fce_status add_relu(bench_registry *r, const char *tag, int N, int HW, int C) {
    const size_t per = (size_t)HW * C;
    const double nb = (double)N * (double)per;
    ADD(f, "relu_forward", tag, N, run_relu_forward);
    f->HW = HW, f->C = C;
    shape_nhwc(f->shape, sizeof f->shape, N, HW, C);
    buf(f, "y", per, 0, BENCH_OUT_SET, 0, 0);
    buf(f, "x", per, 0, BENCH_IN, -1, 1);
    f->bytes = 8.0 * nb;
    ADD(bw, "relu_backward", tag, N, run_relu_backward);
    bw->HW = HW, bw->C = C;
    shape_nhwc(bw->shape, sizeof bw->shape, N, HW, C);
    buf(bw, "dx", per, 0, BENCH_OUT_SET, 0, 0);
    buf(bw, "dy", per, 0, BENCH_IN, -1, 1);
    buf(bw, "x", per, 0, BENCH_IN, -1, 1);
    bw->bytes = 12.0 * nb;
    return FCE_STATUS_OK;
}

static fce_status add_invconv(bench_registry *r, const char *tag, int N, int HW, int C) {
    const size_t per = (size_t)HW * C;
    const double rows = (double)N * HW, w = 1.0 / sqrt((double)C);
    ADD(f, "linear_forward", tag, N, run_invconv_forward);
    f->HW = HW, f->C = C;
    snprintf(f->shape, sizeof f->shape, "rows %d, %d->%d", N * HW, C, C);
    buf(f, "y", per, 0, BENCH_OUT_SET, 0, 0);
    buf(f, "x", per, 0, BENCH_IN, -1, 1);
    buf(f, "W", 0, (size_t)C * C, BENCH_IN, (float)-w, (float)w);
    f->flops = 2.0 * rows * C * C;
    f->bytes = 4.0 * (2 * rows * C + (double)C * C);
    set_tol(f, gemm_atol(C), TOL_GEMM_RTOL);
    ADD(bw, "linear_backward", tag, N, run_invconv_backward);
    bw->HW = HW, bw->C = C;
    snprintf(bw->shape, sizeof bw->shape, "rows %d, %d->%d", N * HW, C, C);
    buf(bw, "dx", per, 0, BENCH_OUT_SET, 0, 0);
    buf(bw, "dW", 0, (size_t)C * C, BENCH_OUT_ACC, -1, 1);
    buf(bw, "dy", per, 0, BENCH_IN, -1, 1);
    buf(bw, "x", per, 0, BENCH_IN, -1, 1);
    buf(bw, "W", 0, (size_t)C * C, BENCH_IN, (float)-w, (float)w);
    bw->flops = 4.0 * rows * C * C;
    bw->bytes = 4.0 * (3 * rows * C + 2.0 * C * C);
    set_tol(bw, gemm_atol(rows > C ? rows : C), TOL_GEMM_RTOL);
    return FCE_STATUS_OK;
}

static fce_status add_additive(bench_registry *r, const char *tag, int N, int HW, int C) {
    const size_t per = (size_t)HW * C;
    const double nb = (double)N * (double)per;
    for (int inv = 0; inv < 2; inv++) {
        ADD(e, inv ? "coupling_additive_inverse" : "coupling_additive_forward", tag, N,
            inv ? run_additive_inverse : run_additive_forward);
        e->HW = HW, e->C = C;
        shape_nhwc(e->shape, sizeof e->shape, N, HW, C);
        buf(e, inv ? "x" : "y", per, 0, BENCH_OUT_SET, 0, 0);
        buf(e, inv ? "y" : "x", per, 0, BENCH_IN, -1, 1);
        buf(e, "h", per / 2, 0, BENCH_IN, -1, 1);
        e->bytes = 4.0 * 2.5 * nb;
    }
    return FCE_STATUS_OK;
}

static fce_status add_squeeze(bench_registry *r, const char *tag, int N, int H, int W, int C) {
    const size_t per = (size_t)H * W * C;
    ADD(e, "squeeze_forward", tag, N, run_squeeze_forward);
    e->H = H, e->W = W, e->C = C;
    snprintf(e->shape, sizeof e->shape, "%dx%dx%dx%d", N, H, W, C);
    buf(e, "y", per, 0, BENCH_OUT_SET, 0, 0);
    buf(e, "x", per, 0, BENCH_IN, -1, 1);
    e->bytes = 8.0 * N * (double)per;
    return FCE_STATUS_OK;
}

static fce_status add_prior(bench_registry *r, const char *tag, int N, int D) {
    ADD(f, "gaussian_diag_logp", tag, N, run_prior_logp);
    f->n = (size_t)D;
    snprintf(f->shape, sizeof f->shape, "%dx%d", N, D);
    buf(f, "logp", 1, 0, BENCH_OUT_ACC, -1, 1);
    buf(f, "z", (size_t)D, 0, BENCH_IN, -2, 2);
    buf(f, "mean", (size_t)D, 0, BENCH_IN, -1, 1);
    buf(f, "logs", (size_t)D, 0, BENCH_IN, -0.5f, 0.5f);
    f->bytes = 12.0 * N * D;
    set_tol(f, TOL_RED_ATOL, TOL_RED_RTOL);
    ADD(bw, "gaussian_diag_logp_backward_acc", tag, N, run_prior_backward);
    bw->n = (size_t)D;
    snprintf(bw->shape, sizeof bw->shape, "%dx%d", N, D);
    buf(bw, "dz", (size_t)D, 0, BENCH_OUT_ACC, -1, 1);
    buf(bw, "dmean", (size_t)D, 0, BENCH_OUT_SET, 0, 0);
    buf(bw, "dlogs", (size_t)D, 0, BENCH_OUT_SET, 0, 0);
    buf(bw, "z", (size_t)D, 0, BENCH_IN, -2, 2);
    buf(bw, "mean", (size_t)D, 0, BENCH_IN, -1, 1);
    buf(bw, "logs", (size_t)D, 0, BENCH_IN, -0.5f, 0.5f);
    buf(bw, "dlogp", 1, 0, BENCH_IN, -1, 1);
    bw->bytes = 4.0 * 7 * N * (double)D;
    return FCE_STATUS_OK;
}

/* fwd, bwd-data and bwd-filter of one conv (square kernel k) */
static fce_status add_conv(bench_registry *r, const char *tag, int N, int H, int W, int Cin,
                           int Cout, int KH, int KW, int stride, int pad, int bias) {
    fce_conv_shape cs = {.N = N, .H = H, .W = W, .Cin = Cin, .Cout = Cout, .KH = KH, .KW = KW,
                         .stride = stride, .pad = pad};
    const int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
    const size_t nx = (size_t)H * W * Cin, ny = (size_t)Ho * Wo * Cout;
    const size_t nw = (size_t)Cout * KH * KW * Cin;
    const double per_flops = 2.0 * Ho * Wo * (double)Cout * KH * KW * Cin;
    int n_val = (int)(VAL_FLOP_BUDGET / per_flops);
    if (n_val < 1) n_val = 1;
    if (n_val > N) n_val = N;
    const float ws = (float)(1.0 / sqrt((double)Cin * KH * KW));
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d k%dx%d s%d p%d ->%d", N, H, W, Cin, KH, KW, stride,
             pad, Cout);
    static const char *const names[3] = {"conv2d_forward", "conv2d_backward_data",
                                         "conv2d_backward_filter"};
    static const bench_run_fn runs[3] = {run_conv_forward, run_conv_backward_data,
                                         run_conv_backward_filter};
    for (int d = 0; d < 3; d++) {
        ADD(e, names[d], tag, N, runs[d]);
        e->has_conv = 1;
        e->cs = cs;
        e->n_val = n_val;
        snprintf(e->shape, sizeof e->shape, "%s", shape);
        double K;
        if (d == 0) {
            buf(e, "y", ny, 0, BENCH_OUT_SET, 0, 0);
            buf(e, "x", nx, 0, BENCH_IN, -1, 1);
            buf(e, "w", 0, nw, BENCH_IN, -ws, ws);
            if (bias) buf(e, "b", 0, (size_t)Cout, BENCH_IN, -1, 1);
            e->bytes = 4.0 * ((double)N * (nx + ny) + (double)nw);
            K = (double)Cin * KH * KW;
        } else if (d == 1) {
            buf(e, "dx", nx, 0, BENCH_OUT_SET, 0, 0);
            buf(e, "dy", ny, 0, BENCH_IN, -1, 1);
            buf(e, "w", 0, nw, BENCH_IN, -ws, ws);
            e->bytes = 4.0 * ((double)N * (nx + ny) + (double)nw);
            K = (double)Cout * KH * KW;
        } else {
            buf(e, "dw", 0, nw, BENCH_OUT_ACC, -1, 1);
            buf(e, "dy", ny, 0, BENCH_IN, -1, 1);
            buf(e, "x", nx, 0, BENCH_IN, -1, 1);
            if (bias) buf(e, "db", 0, (size_t)Cout, BENCH_OUT_ACC, -1, 1);
            e->bytes = 4.0 * ((double)N * (nx + ny) + 2.0 * (double)nw);
            K = (double)n_val * Ho * Wo;
        }
        e->flops = per_flops * N;
        set_tol(e, gemm_atol(K), TOL_GEMM_RTOL);
    }
    return FCE_STATUS_OK;
}

static fce_status add_optim(bench_registry *r, const char *name, const char *tag, size_t n,
                            bench_run_fn run) {
    ADD(e, name, tag, 1, run);
    e->n = n;
    snprintf(e->shape, sizeof e->shape, "n %.2fM", (double)n / 1e6);
    buf(e, "p", 0, n, BENCH_OUT_ACC, -1, 1);
    buf(e, "g", 0, n, BENCH_IN, -1, 1);
    buf(e, "m", 0, n, BENCH_OUT_ACC, -0.1f, 0.1f);
    buf(e, "v", 0, n, BENCH_OUT_ACC, 0.0f, 0.01f);
    e->bytes = 4.0 * 7 * (double)n;
    set_tol(e, TOL_ELEM_ATOL, TOL_RED_RTOL);
    return FCE_STATUS_OK;
}

fce_status bench_registry_build(bench_registry *r, const bench_env *env, int N) {
    memset(r, 0, sizeof *r);
    const fce_iglow_config *g = &env->gc;
    char tag[40];
    int Hin = g->H, Win = g->W, Cin = g->C;
    for (int l = 0; l < g->L; l++) {
        const int h = Hin / 2, w = Win / 2, c = 4 * Cin, hw = h * w, half = c / 2, Wd = g->width;
        const int top = l == g->L - 1;
        const int cout_nn = g->affine ? c : half;
        snprintf(tag, sizeof tag, "glow.l%d.squeeze", l);
        FCE_TRY(add_squeeze(r, tag, N, Hin, Win, Cin));
        snprintf(tag, sizeof tag, "glow.l%d.actnorm", l);
        FCE_TRY(add_actnorm(r, tag, N, hw, c));
        snprintf(tag, sizeof tag, "glow.l%d.invconv", l);
        FCE_TRY(add_invconv(r, tag, N, hw, c));
        if (!g->affine) {
            snprintf(tag, sizeof tag, "glow.l%d.coupling", l);
            FCE_TRY(add_additive(r, tag, N, hw, c));
        }
        snprintf(tag, sizeof tag, "glow.l%d.nn.conv3x3_in", l);
        FCE_TRY(add_conv(r, tag, N, h, w, half, Wd, 3, 3, 1, 1, 0));
        snprintf(tag, sizeof tag, "glow.l%d.nn.actnorm", l);
        FCE_TRY(add_actnorm(r, tag, N, hw, Wd));
        if (l == 0) {
            snprintf(tag, sizeof tag, "glow.l%d.nn.relu", l);
            FCE_TRY(add_relu(r, tag, N, hw, Wd));
        }
        snprintf(tag, sizeof tag, "glow.l%d.nn.conv1x1", l);
        FCE_TRY(add_conv(r, tag, N, h, w, Wd, Wd, 1, 1, 1, 0, 0));
        snprintf(tag, sizeof tag, "glow.l%d.nn.zeroconv", l);
        FCE_TRY(add_conv(r, tag, N, h, w, Wd, cout_nn, 3, 3, 1, 1, 0));
        if (!top) {
            snprintf(tag, sizeof tag, "glow.l%d.split_prior", l);
            FCE_TRY(add_conv(r, tag, N, h, w, half, c, 3, 3, 1, 1, 1));
            FCE_TRY(add_prior(r, tag, N, hw * half));
        } else {
            snprintf(tag, sizeof tag, "glow.l%d.top_prior", l);
            FCE_TRY(add_prior(r, tag, N, hw * c));
        }
        Hin = h, Win = w, Cin = half;
    }
    /* A library reference, not a layer of this model (its NN has a 1×1 conv at width 512, no 3×3
     * conv at 512→512): cuDNN's 3×3 512→512 at the three level sizes. */
    if (g->width >= 256) {
        int hh = g->H / 2;
        for (int l = 0; l < g->L; l++, hh /= 2) {
            snprintf(tag, sizeof tag, "lib.c3x3_%d (not in model)", g->width);
            FCE_TRY(add_conv(r, tag, N, hh, hh, g->width, g->width, 3, 3, 1, 1, 0));
        }
    }
    /* the image EBM (ebm_image.h) on 2N images: data and samples in one pass */
    {
        const int s = env->ebm_width_scale ? env->ebm_width_scale : 1;
        const int widths[5] = {g->C, 64 / s, 128 / s, 256 / s, 1};
        int H = g->H, W = g->W;
        for (int l = 0; l < 4; l++) {
            const int last = l == 3;
            snprintf(tag, sizeof tag, "ebm.conv%d", l);
            FCE_TRY(add_conv(r, tag, 2 * N, H, W, widths[l], widths[l + 1], last ? H : 4,
                             last ? W : 4, last ? 1 : 2, last ? 0 : 1, 1));
            H = last ? 1 : H / 2;
            W = last ? 1 : W / 2;
        }
    }
    /* data in and samples out */
    {
        const size_t D = (size_t)g->H * g->W * g->C;
        ADD(dq, "dequantize", "data", N, run_dequantize);
        dq->n = D;
        snprintf(dq->shape, sizeof dq->shape, "%dx%dx%dx%d u8", N, g->H, g->W, g->C);
        buf(dq, "x", D, 0, BENCH_OUT_SET, 0, 0);
        buf_u8(dq, "u8", D, BENCH_IN);
        dq->bytes = 5.0 * N * (double)D;
        set_tol(dq, 0, 0); /* Philox on both sides: bitwise */
        ADD(pp, "postprocess", "sample", N, run_postprocess);
        pp->n = D;
        snprintf(pp->shape, sizeof pp->shape, "%dx%dx%dx%d", N, g->H, g->W, g->C);
        buf_u8(pp, "u8", D, BENCH_OUT_SET);
        buf(pp, "x", D, 0, BENCH_IN, -0.6f, 0.6f);
        pp->bytes = 5.0 * N * (double)D;
        set_tol(pp, 0, 0);
    }
    /* the NCE value function (one pass over N data and N samples) */
    {
        ADD(e, "nce_loss", "fce.loss", N, run_nce_loss);
        snprintf(e->shape, sizeof e->shape, "n %d", N);
        buf(e, "stats", 0, 2, BENCH_OUT_SET, 0, 0);
        buf(e, "dfx|dfxt", 2, 0, BENCH_OUT_SET, 0, 0);
        buf(e, "dlq|dlqt", 2, 0, BENCH_OUT_SET, 0, 0);
        buf(e, "dc", 0, 1, BENCH_OUT_ACC, -1, 1);
        buf(e, "fx|fxt", 2, 0, BENCH_IN, -5, 5);
        buf(e, "lq|lqt", 2, 0, BENCH_IN, -5, 5);
        buf(e, "c", 0, 1, BENCH_IN, -1, 1);
        e->bytes = 4.0 * 8 * N;
        set_tol(e, TOL_RED_ATOL, TOL_RED_RTOL);
    }
    /* optimizers over the models' trainable arenas */
    {
        const size_t nf = bench_glow_trainable(g);
        const size_t ne = bench_ebm_trainable(g->H, g->W, g->C, env->ebm_width_scale);
        FCE_TRY(add_optim(r, "adamax_step", "opt.flow (Adamax)", nf, run_adamax));
        FCE_TRY(add_optim(r, "adam_step", "opt.ebm (Adam)", ne, run_adam));
        FCE_TRY(add_optim(r, "adam_step", "opt.flow-size Adam", nf, run_adam));
    }
    return FCE_STATUS_OK;
}

void bench_registry_free(bench_registry *r) {
    free(r->e);
    memset(r, 0, sizeof *r);
}

fce_status bench_registry_add_variant(bench_registry *r, int base, const char *variant,
                                      bench_run_fn run) {
    FCE_ASSERT(base >= 0 && base < r->n, "bench: no entry %d", base);
    bench_entry copy = r->e[base];
    ADD(e, copy.name, copy.tag, copy.N, run);
    *e = copy;
    snprintf(e->variant, sizeof e->variant, "%s", variant);
    e->run = run; /* ref_run stays the production op */
    return FCE_STATUS_OK;
}

fce_status bench_registry_inject_bad(bench_registry *r) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->e[i].name, "actnorm_forward") && !strcmp(r->e[i].variant, "prod"))
            return bench_registry_add_variant(r, i, "test_bad_scale", run_actnorm_forward_bad);
    fce_log_error("fce-bench: no actnorm_forward entry to attach the test variant to");
    return FCE_STATUS_ERR_CONFIG;
}

static int list_match(const char *list, const char *a, const char *b) {
    if (!list[0] || !strcmp(list, "all")) return 1;
    if (!strcmp(list, "none")) return 0;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (strstr(a, tok) || strstr(b, tok)) return 1;
    return 0;
}

int bench_entry_selected(const bench_opts *o, const bench_entry *e) {
    if (strcmp(o->variant, "all") && strcmp(o->variant, e->variant)) return 0;
    return list_match(o->filter, e->name, e->tag);
}

// ---- validation and timing ----

typedef struct run_arg {
    fce_ctx *ctx;
    const bench_entry *e;
    void **b;
    int N;
    const fce_conv_plan *plan;
} run_arg;

static fce_status run_once(void *p) {
    run_arg *a = p;
    return a->e->run(a->ctx, a->e, a->b, a->N, a->plan);
}

static size_t n_elems(const bench_buf *bb, int N) {
    return bb->per_item ? bb->per_item * (size_t)N : bb->fixed;
}

static size_t elem_bytes(const bench_buf *bb) { return bb->u8 ? 1 : sizeof(float); }

/* Host contents of buffer i at batch N: inputs and accumulated outputs random, overwritten outputs
 * garbage; with zero_from < N, the batch-major inputs of items ≥ zero_from are zero. */
static void fill_host(const bench_entry *e, int i, void *h, int N, int zero_from, uint64_t seed) {
    const bench_buf *bb = &e->bufs[i];
    size_t n = n_elems(bb, N);
    if (bb->u8) {
        if (bb->role == BENCH_OUT_SET) memset(h, 0xAB, n);
        else bench_fill_u8(h, n, seed);
    } else if (bb->role == BENCH_OUT_SET) {
        float *f = h;
        for (size_t k = 0; k < n; k++) f[k] = GARBAGE;
    } else {
        bench_fill_uniform(h, n, seed, bb->lo, bb->hi);
    }
    if (bb->role == BENCH_IN && bb->per_item && zero_from < N) {
        size_t from = bb->per_item * (size_t)zero_from;
        memset((char *)h + from * elem_bytes(bb), 0, (n - from) * elem_bytes(bb));
    }
}

/* Compares n values; updates the entry's max errors; returns 1 when all pass. */
static int compare(bench_entry *e, const bench_buf *bb, const void *got, const void *ref, size_t n) {
    int ok = 1;
    for (size_t k = 0; k < n; k++) {
        double g, r;
        if (bb->u8) g = ((const uint8_t *)got)[k], r = ((const uint8_t *)ref)[k];
        else g = ((const float *)got)[k], r = ((const float *)ref)[k];
        if (isnan(r) && isnan(g)) continue;
        double d = fabs(g - r);
        if (!isfinite(g) || !isfinite(r)) d = g == r ? 0.0 : INFINITY;
        double tol = e->atol + e->rtol * fabs(r);
        double ratio = tol > 0 ? d / tol : (d > 0 ? INFINITY : 0.0);
        if (d > e->max_abs_err) e->max_abs_err = d;
        if (ratio > e->err_ratio) e->err_ratio = ratio;
        if (!(ratio <= 1.0)) {
            if (ok && !e->fail_reason[0])
                snprintf(e->fail_reason, sizeof e->fail_reason,
                         "%s[%zu]: got %.9g, reference %.9g (|diff| %.3g > atol %.3g + rtol %.3g·|ref|)",
                         bb->name, k, g, r, d, e->atol, e->rtol);
            ok = 0;
        }
    }
    return ok;
}

fce_status bench_entry_run(bench_env *env, bench_entry *e) {
    fce_ctx *act = &env->ctx, *cpu = &env->cpu;
    const int N = e->N, nv = e->n_val;
    void *h[BENCH_MAX_BUFS] = {0}, *d_act[BENCH_MAX_BUFS] = {0}, *d_ref[BENCH_MAX_BUFS] = {0};
    void *got = NULL, *ref = NULL;
    double *ms = NULL;
    fce_conv_plan *p_act = NULL, *p_ref = NULL;
    fce_status st = FCE_STATUS_OK;
    uint64_t seed = 0x5eedULL;
    for (const char *c = e->tag; *c; c++) seed = seed * 131 + (unsigned char)*c;
    for (const char *c = e->name; *c; c++) seed = seed * 131 + (unsigned char)*c;
    e->validated_ok = 0;
    e->timed = 0;
    e->max_abs_err = e->err_ratio = 0;
    e->fail_reason[0] = '\0';

    if (e->has_conv) {
        fce_conv_shape cs = e->cs;
        cs.N = N;
        FCE_TRY_GOTO(st, act->ops->conv_plan_init(act, &p_act, &cs));
        cs.N = nv;
        FCE_TRY_GOTO(st, cpu->ops->conv_plan_init(cpu, &p_ref, &cs));
    }
    size_t max_bytes = 0;
    for (int i = 0; i < e->n_bufs; i++) {
        const bench_buf *bb = &e->bufs[i];
        size_t nb = n_elems(bb, N) * elem_bytes(bb);
        if (nb > max_bytes) max_bytes = nb;
        h[i] = malloc(nb ? nb : 1);
        if (!h[i]) {
            st = FCE_STATUS_ERR_NOMEM;
            goto cleanup;
        }
        fill_host(e, i, h[i], N, nv, seed + 977u * (uint64_t)i);
        FCE_TRY_GOTO(st, act->ops->alloc(act, &d_act[i], nb));
        FCE_TRY_GOTO(st, act->ops->upload(act, d_act[i], h[i], nb));
        size_t nr = n_elems(bb, nv) * elem_bytes(bb);
        FCE_TRY_GOTO(st, cpu->ops->alloc(cpu, &d_ref[i], nr));
        FCE_TRY_GOTO(st, cpu->ops->upload(cpu, d_ref[i], h[i], nr)); /* the prefix */
    }
    got = malloc(max_bytes ? max_bytes : 1);
    ref = malloc(max_bytes ? max_bytes : 1);
    if (!got || !ref) {
        st = FCE_STATUS_ERR_NOMEM;
        goto cleanup;
    }
    /* validate */
    FCE_TRY_GOTO(st, e->run(act, e, d_act, N, p_act));
    FCE_TRY_GOTO(st, e->ref_run(cpu, e, d_ref, nv, p_ref));
    FCE_TRY_GOTO(st, act->ops->sync(act));
    int ok = 1;
    for (int i = 0; i < e->n_bufs; i++) {
        const bench_buf *bb = &e->bufs[i];
        if (bb->role == BENCH_IN) continue;
        size_t n = n_elems(bb, nv);
        FCE_TRY_GOTO(st, act->ops->download(act, got, d_act[i], n * elem_bytes(bb)));
        FCE_TRY_GOTO(st, cpu->ops->download(cpu, ref, d_ref[i], n * elem_bytes(bb)));
        ok = compare(e, bb, got, ref, n) && ok;
    }
    e->validated_ok = ok;
    if (!ok) goto cleanup; /* FAILED entries are not timed */
    /* time, from full random inputs */
    if (nv < N)
        for (int i = 0; i < e->n_bufs; i++) {
            const bench_buf *bb = &e->bufs[i];
            if (bb->role != BENCH_IN || !bb->per_item) continue;
            fill_host(e, i, h[i], N, N, seed + 977u * (uint64_t)i);
            FCE_TRY_GOTO(st, act->ops->upload(act, d_act[i], h[i], n_elems(bb, N) * elem_bytes(bb)));
        }
    const int reps = env->opt.reps;
    ms = malloc((size_t)(reps > 0 ? reps : 1) * sizeof *ms);
    if (!ms) {
        st = FCE_STATUS_ERR_NOMEM;
        goto cleanup;
    }
    run_arg arg = {act, e, d_act, N, p_act};
    FCE_TRY_GOTO(st, bench_time(env, act, env->opt.warmup, reps, run_once, &arg, ms));
    bench_stats_of(ms, reps, &e->ms);
    e->timed = reps > 0;
cleanup:
    if (act->ops) act->ops->sync(act);
    for (int i = 0; i < BENCH_MAX_BUFS; i++) {
        if (d_act[i]) act->ops->release(act, d_act[i]);
        if (d_ref[i]) cpu->ops->release(cpu, d_ref[i]);
        free(h[i]);
    }
    if (p_act) act->ops->conv_plan_free(act, p_act);
    if (p_ref) cpu->ops->conv_plan_free(cpu, p_ref);
    free(got);
    free(ref);
    free(ms);
    return st;
}

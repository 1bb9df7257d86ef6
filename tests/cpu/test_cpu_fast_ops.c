/* test_cpu_fast_ops.c: the fast CPU backend (src/host/cpu/: blocked GEMM, convolutions, branch-free
 * leaky ReLU, a pool of threads) against the CPU reference (fce_ref_*, the oracle), the way
 * test_gpu_ops.c and test_gpu_conv.c check the CUDA backend.
 *
 * Three fast contexts are made: 1 thread with the baseline SSE2 micro-kernel (FCE_CPU_ISA=sse2),
 * and 2 and 3 threads with the kernel the CPU picks (AVX2 where it has it). For every case of the
 * op-case registry (tests/ops/op_cases.c) with a family, at every shape, and for every
 * convolution shape of the registry (the models' shapes, the tiny flow and the EBM at 16×16, and
 * odd ones):
 *   - the 2-thread result is compared with the reference within the op's tolerance class, the
 *     same classes the GPU comparison uses (op_cases.h explains them); the ops that the fast
 *     backend does not compute as products (all but the dense layer's) must equal the reference
 *     bit for bit;
 *   - the products (dense layer, convolutions) must also satisfy the worst-case bound of their
 *     float summation, |fast − ref| ≤ (L + 2)·2⁻²⁴·Σ|a·b|, where Σ|a·b| is the same product of the
 *     absolute values (computed by the reference, as test_gpu_conv.c's TF32 bound) and L the
 *     longest chain of float additions any term goes through: min(K, GEMM_KC) − 1 in its block,
 *     ⌈K/GEMM_KC⌉ to add the blocks (the first onto a bias or an accumulated value), and for
 *     backward data the col2im sum of up to ⌈KH/s⌉·⌈KW/s⌉ taps; the reference itself is within
 *     2⁻²⁴·|result| of exact (it sums in double), hence the + 2;
 *   - the bias gradients are summed as the reference sums them and must equal it bit for bit;
 *   - the other two contexts' results must equal the 2-thread result bit for bit: work is split
 *     by output blocks and each output's summation order is fixed, whatever the thread count or
 *     the kernel's vector width.
 * The dense layer is also run at shapes that cross every block edge of the GEMM (K, M and N
 * blocks, partial micro-tiles). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/gemm_cpu.h"
#include "fce/backend.h"
#include "fce_test.h"
#include "op_cases.h"
#include "test_util.h"

#define N_FAST 3
#define MAIN_FAST 1 /* the 2-thread context: compared with the reference */
static const char *const THREADS[N_FAST] = {"1", "2", "3"};
static const char *const ISA[N_FAST] = {"sse2", "", ""}; /* "": the CPU's choice */
static fce_ctx g_ref, g_fast[N_FAST];

static float *copy_of(const float *h, size_t n) {
    float *c = fce_test_alloc(n ? n : 1);
    if (n) memcpy(c, h, n * sizeof(float));
    return c;
}

static void abs_of(float *d, const float *s, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = fabsf(s[i]);
}

/* Every fast context's result equals the main one bit for bit. */
static int same_bits(const char *name, float *const got[N_FAST], size_t n) {
    int ok = 1;
    for (int k = 0; k < N_FAST; k++) {
        if (k == MAIN_FAST || memcmp(got[k], got[MAIN_FAST], n * sizeof(float)) == 0) continue;
        size_t i = 0;
        while (memcmp(&got[k][i], &got[MAIN_FAST][i], sizeof(float)) == 0) i++;
        fprintf(stderr, "    %s: %s differs from %s at %zu (%.9g vs %.9g)\n", name,
                g_fast[k].device_name, g_fast[MAIN_FAST].device_name, i, (double)got[k][i],
                (double)got[MAIN_FAST][i]);
        ok = 0;
    }
    return ok;
}

/* |got − ref| ≤ (L + 2)·2⁻²⁴·abs_sum elementwise, L = min(K, KC) − 1 + ⌈K/KC⌉ + extra. */
static int within_sum_bound(const char *name, const float *got, const float *ref,
                            const float *abs_sum, size_t n, long long K, int extra) {
    const long long kc = K < GEMM_KC ? K : GEMM_KC;
    const double L = (double)(kc - 1 + (K + GEMM_KC - 1) / GEMM_KC + extra);
    const double unit = (L + 2.0) * ldexp(1.0, -24);
    double worst = 0.0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)got[i] - ref[i]), bound = unit * abs_sum[i] + 1e-37;
        if (!(err <= bound) && bad++ < 3)
            fprintf(stderr, "    %s[%zu]: got %.9g ref %.9g, |diff| %.3g > bound %.3g\n", name, i,
                    (double)got[i], (double)ref[i], err, bound);
        if (err / bound > worst) worst = err / bound;
    }
    if (bad) fprintf(stderr, "    %s: %zu of %zu beyond the summation bound\n", name, bad, n);
    return bad == 0 && worst <= 1.0;
}

// ---- the op-case registry ----

/* One case at one shape on the reference and every fast context. 0 = pass. */
static int registry_case(const op_case *oc, int case_idx, const op_shape *s, int shape_idx) {
    const int nb = op_case_n_bufs(oc);
    float *b[1 + N_FAST][OP_MAX_BUFS] = {{0}};
    size_t n[OP_MAX_BUFS] = {0};
    int fails = 0;
    for (int i = 0; i < nb; i++) {
        n[i] = op_buf_count(&oc->bufs[i], s);
        float *h = fce_test_alloc(n[i] ? n[i] : 1);
        const uint64_t seed = 0xFA57ull + case_idx * 7919ull + shape_idx * 104729ull + i * 31ull;
        op_buf_init(h, n[i], &oc->bufs[i], s, seed, fce_test_fill_uniform);
        for (int k = 0; k <= N_FAST; k++) b[k][i] = copy_of(h, n[i]);
        free(h);
    }
    for (int k = 0; k <= N_FAST; k++) {
        fce_ctx *ctx = k == 0 ? &g_ref : &g_fast[k - 1];
        if (oc->run(ctx, (void *const *)b[k], s, NULL) != FCE_STATUS_OK) {
            fprintf(stderr, "  FAIL %s[%d]: the op failed on %s\n", oc->name, shape_idx,
                    ctx->device_name);
            fails++;
        }
    }
    for (int i = 0; i < nb && !fails; i++) {
        if (oc->bufs[i].role == OP_IN) continue;
        char label[128];
        snprintf(label, sizeof label, "%s[%d].%s", oc->name, shape_idx, oc->bufs[i].name);
        double atol = 0.0, rtol = 0.0;
        op_tol_of(oc->bufs[i].tol, s, &atol, &rtol);
        float *fast[N_FAST] = {b[1][i], b[2][i], b[3][i]};
        fails += !fce_test_close(label, fast[MAIN_FAST], b[0][i], n[i], atol, rtol);
        fails += !same_bits(label, fast, n[i]);
        if (strcmp(oc->family, "linear") != 0 &&
            memcmp(fast[MAIN_FAST], b[0][i], n[i] * sizeof(float)) != 0) {
            fprintf(stderr, "    %s: not bit-identical to the reference\n", label);
            fails++;
        }
    }
    for (int k = 0; k <= N_FAST; k++)
        for (int i = 0; i < nb; i++) free(b[k][i]);
    return fails;
}

TEST(registry_cases) {
    int failed = 0, cases = 0;
    for (int c = 0; c < op_n_cases; c++) {
        const op_case *oc = &op_cases[c];
        if (!oc->family) continue; /* the convolutions: conv_shapes below */
        int fails = 0;
        for (int k = 0; k < oc->n_shapes; k++) fails += registry_case(oc, c, &oc->shapes[k], k);
        if (fails) fprintf(stderr, "  FAIL %s (%d shapes)\n", oc->name, oc->n_shapes);
        failed += fails != 0;
        cases++;
    }
    fprintf(stderr, "  %d registry cases, %d failed\n", cases, failed);
    ASSERT_TRUE(cases > 0);
    ASSERT_EQ_INT(failed, 0);
    return 0;
}

// ---- convolutions ----

/* The outputs of one context: y, y with bias, dx, dw (+ db), dw again without db. */
typedef struct conv_out {
    float *y, *yb, *dx, *dw, *db, *dw_nodb;
} conv_out;

typedef struct conv_data {
    const fce_conv_shape *s;
    size_t nx, ny, nw, nb;
    float *x, *w, *b, *dy, *dw0, *db0;
} conv_data;

/* all: every output; else (the reference's runs) no y without bias and no second dw when
 * abs_only, and never the second dw (the reference's db = NULL path is not what is tested). */
static int conv_run(fce_ctx *ctx, const conv_data *d, conv_out *o, int all, int abs_only) {
    fce_conv_plan *plan = NULL;
    ASSERT_OK(ctx->ops->conv_plan_init(ctx, &plan, d->s));
    o->y = fce_test_alloc(d->ny), o->yb = fce_test_alloc(d->ny), o->dx = fce_test_alloc(d->nx);
    fce_test_fill_const(o->y, d->ny, 77.0f); /* garbage: = is checked, not += */
    fce_test_fill_const(o->yb, d->ny, 77.0f);
    fce_test_fill_const(o->dx, d->nx, -55.0f);
    o->dw = copy_of(d->dw0, d->nw), o->db = copy_of(d->db0, d->nb);
    o->dw_nodb = copy_of(d->dw0, d->nw);
    if (!abs_only) ASSERT_OK(ctx->ops->conv2d_forward(ctx, plan, o->y, d->x, d->w, NULL));
    ASSERT_OK(ctx->ops->conv2d_forward(ctx, plan, o->yb, d->x, d->w, d->b));
    ASSERT_OK(ctx->ops->conv2d_backward_data(ctx, plan, o->dx, d->dy, d->w));
    ASSERT_OK(ctx->ops->conv2d_backward_filter(ctx, plan, o->dw, o->db, d->dy, d->x));
    if (all) ASSERT_OK(ctx->ops->conv2d_backward_filter(ctx, plan, o->dw_nodb, NULL, d->dy, d->x));
    ctx->ops->conv_plan_free(ctx, plan);
    return 0;
}

static void conv_out_free(conv_out *o) {
    FCE_TEST_FREE(o->y, o->yb, o->dx, o->dw, o->db, o->dw_nodb);
}

/* The sums of absolute values: the same convolutions of |x|, |w|, |b|, |dy| on the reference. */
static int conv_abs_sums(const conv_data *d, conv_out *a) {
    conv_data ad = *d;
    ad.x = fce_test_alloc(d->nx), ad.w = fce_test_alloc(d->nw), ad.b = fce_test_alloc(d->nb);
    ad.dy = fce_test_alloc(d->ny), ad.dw0 = fce_test_alloc(d->nw), ad.db0 = fce_test_alloc(d->nb);
    abs_of(ad.x, d->x, d->nx), abs_of(ad.w, d->w, d->nw), abs_of(ad.b, d->b, d->nb);
    abs_of(ad.dy, d->dy, d->ny), abs_of(ad.dw0, d->dw0, d->nw), abs_of(ad.db0, d->db0, d->nb);
    int rc = conv_run(&g_ref, &ad, a, 0, 1);
    FCE_TEST_FREE(ad.x, ad.w, ad.b, ad.dy, ad.dw0, ad.db0);
    return rc;
}

static int conv_check_outputs(const conv_data *d, conv_out *ref, conv_out *fast,
                              conv_out *abs_sum) {
    const fce_conv_shape *s = d->s;
    const int Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    const int Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    const long long K_fwd = (long long)s->Cin * s->KH * s->KW, K_bf = (long long)s->N * Ho * Wo;
    const int taps = ((s->KH + s->stride - 1) / s->stride) * ((s->KW + s->stride - 1) / s->stride);
    conv_out *m = &fast[MAIN_FAST];
    int ok = 1;
    /* the GPU comparison's classes (test_gpu_conv.c) */
    ok &= fce_test_close("y", m->y, ref->y, d->ny, op_tol_conv_atol((double)K_fwd), TOL_CONV_RTOL);
    ok &= fce_test_close("y (bias)", m->yb, ref->yb, d->ny, op_tol_conv_atol((double)K_fwd + 1),
                         TOL_CONV_RTOL);
    ok &= fce_test_close("dx", m->dx, ref->dx, d->nx,
                         op_tol_conv_atol((double)s->Cout * s->KH * s->KW), TOL_CONV_RTOL);
    ok &= fce_test_close("dw", m->dw, ref->dw, d->nw, op_tol_conv_atol((double)K_bf + 1),
                         TOL_CONV_RTOL);
    /* the worst-case bound of the float sums */
    ok &= within_sum_bound("y", m->y, ref->y, abs_sum->yb, d->ny, K_fwd, 0); /* |b| only widens */
    ok &= within_sum_bound("y (bias)", m->yb, ref->yb, abs_sum->yb, d->ny, K_fwd, 0);
    ok &= within_sum_bound("dx", m->dx, ref->dx, abs_sum->dx, d->nx, s->Cout, taps);
    ok &= within_sum_bound("dw", m->dw, ref->dw, abs_sum->dw, d->nw, K_bf, 0);
    /* db as the reference sums it; dw without db the same as with it */
    if (memcmp(m->db, ref->db, d->nb * sizeof(float)) != 0) {
        fprintf(stderr, "    db differs from the reference's bits\n");
        ok = 0;
    }
    if (memcmp(m->dw_nodb, m->dw, d->nw * sizeof(float)) != 0) {
        fprintf(stderr, "    dw with db = NULL differs from dw with db\n");
        ok = 0;
    }
    /* every thread count, the same bits */
    float *y[N_FAST], *dx[N_FAST], *dw[N_FAST], *yb[N_FAST];
    for (int k = 0; k < N_FAST; k++)
        y[k] = fast[k].y, yb[k] = fast[k].yb, dx[k] = fast[k].dx, dw[k] = fast[k].dw;
    ok &= same_bits("y", y, d->ny) & same_bits("y (bias)", yb, d->ny) & same_bits("dx", dx, d->nx) &
          same_bits("dw", dw, d->nw);
    return ok;
}

static int conv_check_shape(const fce_conv_shape *s, uint64_t seed) {
    const int Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    const int Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    conv_data d = {.s = s, .nx = (size_t)s->N * s->H * s->W * s->Cin,
                   .ny = (size_t)s->N * Ho * Wo * s->Cout,
                   .nw = (size_t)s->Cout * s->KH * s->KW * s->Cin, .nb = (size_t)s->Cout};
    d.x = fce_test_alloc(d.nx), d.w = fce_test_alloc(d.nw), d.b = fce_test_alloc(d.nb);
    d.dy = fce_test_alloc(d.ny), d.dw0 = fce_test_alloc(d.nw), d.db0 = fce_test_alloc(d.nb);
    const float wscale = 1.0f / sqrtf((float)(s->Cin * s->KH * s->KW)); /* as the models init */
    fce_test_fill_uniform(d.x, d.nx, seed + 1, -1.0f, 1.0f);
    fce_test_fill_uniform(d.w, d.nw, seed + 2, -wscale, wscale);
    fce_test_fill_uniform(d.b, d.nb, seed + 3, -1.0f, 1.0f);
    fce_test_fill_uniform(d.dy, d.ny, seed + 4, -1.0f, 1.0f);
    fce_test_fill_uniform(d.dw0, d.nw, seed + 5, -1.0f, 1.0f); /* nonzero: dw += is checked */
    fce_test_fill_uniform(d.db0, d.nb, seed + 6, -1.0f, 1.0f);
    conv_out ref = {0}, abs_sum = {0}, fast[N_FAST] = {{0}};
    int rc = conv_run(&g_ref, &d, &ref, 0, 0) || conv_abs_sums(&d, &abs_sum);
    for (int k = 0; k < N_FAST && !rc; k++) rc = conv_run(&g_fast[k], &d, &fast[k], 1, 0);
    int ok = !rc && conv_check_outputs(&d, &ref, fast, &abs_sum);
    fprintf(stderr, "  %s N=%d %dx%d %d->%d k%dx%d s%d p%d\n", ok ? "ok  " : "FAIL", s->N, s->H,
            s->W, s->Cin, s->Cout, s->KH, s->KW, s->stride, s->pad);
    conv_out_free(&ref), conv_out_free(&abs_sum);
    for (int k = 0; k < N_FAST; k++) conv_out_free(&fast[k]);
    FCE_TEST_FREE(d.x, d.w, d.b, d.dy, d.dw0, d.db0);
    return ok;
}

TEST(conv_shapes) {
    int failed = 0;
    for (int i = 0; i < op_n_conv_shapes; i++)
        failed += !conv_check_shape(&op_conv_shapes[i], 3000u + 10u * (uint64_t)i);
    ASSERT_EQ_INT(failed, 0);
    return 0;
}

// ---- the dense layer across the GEMM's block edges ----

static int linear_check(int N, int in, int out, uint64_t seed) {
    const size_t nx = (size_t)N * in, ny = (size_t)N * out, nw = (size_t)out * in;
    float *x = fce_test_alloc(nx), *W = fce_test_alloc(nw), *b = fce_test_alloc(out);
    float *dy = fce_test_alloc(ny), *dW0 = fce_test_alloc(nw), *db0 = fce_test_alloc(out);
    fce_test_fill_uniform(x, nx, seed + 1, -1.0f, 1.0f);
    fce_test_fill_uniform(W, nw, seed + 2, -1.0f, 1.0f);
    fce_test_fill_uniform(b, out, seed + 3, -1.0f, 1.0f);
    fce_test_fill_uniform(dy, ny, seed + 4, -1.0f, 1.0f);
    fce_test_fill_uniform(dW0, nw, seed + 5, -1.0f, 1.0f);
    fce_test_fill_uniform(db0, out, seed + 6, -1.0f, 1.0f);
    /* per context c (0 the reference, 1 + k fast, 1 + N_FAST the reference on absolute values):
     * y, dx, dW, db */
    float *r[2 + N_FAST][4];
    for (int c = 0; c < 2 + N_FAST; c++) {
        fce_ctx *ctx = c == 0 || c == 1 + N_FAST ? &g_ref : &g_fast[c - 1];
        const int a = c == 1 + N_FAST;
        float *xx = copy_of(x, nx), *WW = copy_of(W, nw), *bb = copy_of(b, out);
        float *dd = copy_of(dy, ny);
        r[c][0] = fce_test_alloc(ny), r[c][1] = fce_test_alloc(nx);
        r[c][2] = copy_of(dW0, nw), r[c][3] = copy_of(db0, out);
        if (a) abs_of(xx, x, nx), abs_of(WW, W, nw), abs_of(bb, b, out), abs_of(dd, dy, ny),
            abs_of(r[c][2], dW0, nw), abs_of(r[c][3], db0, out);
        ASSERT_OK(ctx->ops->linear_forward(ctx, r[c][0], xx, WW, bb, N, in, out));
        ASSERT_OK(
            ctx->ops->linear_backward(ctx, r[c][1], r[c][2], r[c][3], dd, xx, WW, N, in, out));
        FCE_TEST_FREE(xx, WW, bb, dd);
    }
    float **ref = r[0], **fast = r[1 + MAIN_FAST], **abs_sum = r[1 + N_FAST];
    int ok = within_sum_bound("linear y", fast[0], ref[0], abs_sum[0], ny, in, 0) &
             within_sum_bound("linear dx", fast[1], ref[1], abs_sum[1], nx, out, 0) &
             within_sum_bound("linear dW", fast[2], ref[2], abs_sum[2], nw, N, 0) &
             (memcmp(fast[3], ref[3], (size_t)out * sizeof(float)) == 0);
    const size_t len[3] = {ny, nx, nw};
    for (int o = 0; o < 3; o++) {
        float *per[N_FAST] = {r[1][o], r[2][o], r[3][o]};
        ok &= same_bits("linear", per, len[o]);
    }
    fprintf(stderr, "  %s linear N=%d in=%d out=%d\n", ok ? "ok  " : "FAIL", N, in, out);
    for (int c = 0; c < 2 + N_FAST; c++) FCE_TEST_FREE(r[c][0], r[c][1], r[c][2], r[c][3]);
    FCE_TEST_FREE(x, W, b, dy, dW0, db0);
    return ok;
}

TEST(linear_block_edges) {
    /* K past one and two K blocks with a remainder, N past the N block, M past the M block, none a
     * multiple of a tile; a 1×1×1 product; the 2D models' thin layers */
    static const int shapes[][3] = {{300, 600, 520}, {5, 257, 9}, {131, 513, 3}, {1, 1, 1},
                                    {200, 1, 128}, {400, 128, 1}, {2, 3, 1025}};
    int failed = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        failed += !linear_check(shapes[i][0], shapes[i][1], shapes[i][2], 900u + 10u * i);
    ASSERT_EQ_INT(failed, 0);
    return 0;
}

/* The device names say which backend each context is, and the environment picks it. */
TEST(contexts) {
    ASSERT_TRUE(strcmp(g_ref.device_name, "cpu (reference backend)") == 0);
    ASSERT_TRUE(strcmp(g_fast[0].device_name, "cpu (fast backend, 1 thread, sse2)") == 0);
    ASSERT_TRUE(strncmp(g_fast[2].device_name, "cpu (fast backend, 3 threads, ", 30) == 0);
    fce_ctx c;
    ASSERT_OK(fce_ctx_init(&c, "cpu-ref"));
    ASSERT_TRUE(strcmp(c.device_name, "cpu (reference backend)") == 0);
    fce_ctx_free(&c);
    setenv("FCE_CPU_REF", "1", 1);
    ASSERT_OK(fce_ctx_init(&c, "cpu"));
    ASSERT_TRUE(strcmp(c.device_name, "cpu (reference backend)") == 0);
    fce_ctx_free(&c);
    unsetenv("FCE_CPU_REF");
    setenv("FCE_CPU_THREADS", "two", 1);
    ASSERT_EQ_INT(fce_ctx_init(&c, "cpu"), FCE_STATUS_ERR_CONFIG);
    setenv("FCE_CPU_THREADS", "0", 1);
    ASSERT_EQ_INT(fce_ctx_init(&c, "cpu"), FCE_STATUS_ERR_CONFIG);
    unsetenv("FCE_CPU_THREADS");
    setenv("FCE_CPU_ISA", "avx512", 1);
    ASSERT_EQ_INT(fce_ctx_init(&c, "cpu"), FCE_STATUS_ERR_CONFIG);
    unsetenv("FCE_CPU_ISA");
    return 0;
}

FCE_TEST_MAIN_BEGIN
    unsetenv("FCE_CPU_REF");
    if (fce_ctx_init_cpu(&g_ref) != FCE_STATUS_OK) return 1;
    for (int k = 0; k < N_FAST; k++) {
        setenv("FCE_CPU_THREADS", THREADS[k], 1);
        setenv("FCE_CPU_ISA", ISA[k], 1);
        if (fce_ctx_init(&g_fast[k], "cpu") != FCE_STATUS_OK) return 1;
    }
    unsetenv("FCE_CPU_THREADS");
    unsetenv("FCE_CPU_ISA");
    fprintf(stderr, "comparing %s against %s; %s and %s must give the same bits\n",
            g_fast[MAIN_FAST].device_name, g_ref.device_name, g_fast[0].device_name,
            g_fast[2].device_name);
    RUN_TEST(contexts);
    RUN_TEST(registry_cases);
    RUN_TEST(linear_block_edges);
    RUN_TEST(conv_shapes);
    for (int k = 0; k < N_FAST; k++) fce_ctx_free(&g_fast[k]);
    fce_ctx_free(&g_ref);
FCE_TEST_MAIN_END

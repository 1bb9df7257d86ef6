/* test_convnet.c: the conv coupling network (convnet.c, SPEC a.6) on the CPU backend.
 *  (a) init: the output is exactly zero (zero last conv, b, logs), before and after the
 *      data-dependent init, and after it each inner actnorm output has per-channel mean ≈ 0 and
 *      std ≈ 1 over (N, H, W);
 *  (b) with every parameter perturbed, every parameter gradient and dx against central finite
 *      differences of L = Σ w ⊙ out, at N = 2, Cin = 2, Wd = 4, Cout = 4 and H×W = 4×4 and 3×5.
 *      ReLU kinks: coordinates whose differences at h and h/2 disagree (a kink inside the stencil)
 *      are excluded and counted, at most KINK_MAX_FRAC of them;
 *  (c) backward with param_grads = 0 leaves the gradients untouched (and gives the same dx), and
 *      with param_grads = 1 they accumulate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/convnet.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"

#define NB 2
#define CIN 2
#define WD 4
#define COUT 4
/* Finite-difference noise. L sums NB·H·W·COUT = 120..128 float outputs of size ~1 (|out| < 2 here);
 * each carries a rounding error of a few ulp (~1e-7 relative: the 3×3 conv sums 9·WD products in
 * float), and those errors do not cancel between the +h and −h passes. Over ~128 outputs weighted by
 * |w| ≤ 1 that is an error in L of ~√128·1e-7·|out| ≈ 1e-6, i.e. ~5e-4 in the difference quotient
 * over the stencil 2h = 2e-3 (h/2 doubles it: the kink screen allows for that). Measured on these
 * seeds: max |fd − analytic| 4.9e-4 (4×4) and 6.1e-4 (3×5), printed on every run, even for
 * conv2.b, whose gradient is exact by construction. GRAD_ATOL is ~3× that; a real gradient error
 * is structural and far larger (skipping the ReLU backward gives errors of order 1). */
#define GRAD_ATOL 2e-3
#define GRAD_RTOL 1e-2
#define KINK_MAX_FRAC 0.05

typedef struct fixture {
    fce_ctx ctx;
    fce_param_table t;
    fce_convnet net;
    fce_param_arena a;
    fce_convnet_tape tp;
    int H, W;
} fixture;

static int setup(fixture *f, int H, int W) {
    memset(f, 0, sizeof *f);
    f->H = H;
    f->W = W;
    ASSERT_OK(fce_ctx_init_cpu(&f->ctx));
    ASSERT_OK(fce_convnet_declare(&f->net, &f->t, "nn", CIN, WD, COUT));
    fce_param_table_plan(&f->t);
    ASSERT_OK(fce_param_arena_init(&f->a, &f->t, &f->ctx));
    fce_convnet_bind(&f->net, &f->t, &f->a);
    float *host = fce_test_alloc(f->t.n_total);
    memset(host, 0, f->t.n_total * sizeof(float));
    fce_convnet_init_host(&f->net, &f->t, host, 7);
    ASSERT_OK(fce_param_arena_upload(&f->a, &f->ctx, host));
    free(host);
    ASSERT_OK(fce_convnet_tape_init(&f->tp, &f->net, &f->ctx, NB, H, W));
    return 0;
}

static void teardown(fixture *f) {
    fce_convnet_tape_free(&f->tp, &f->ctx);
    fce_param_arena_free(&f->a, &f->ctx);
    fce_param_table_free(&f->t);
    fce_ctx_free(&f->ctx);
}

static size_t n_out(const fixture *f) { return (size_t)NB * f->H * f->W * COUT; }
static size_t n_in(const fixture *f) { return (size_t)NB * f->H * f->W * CIN; }

/* (a) */
TEST(convnet_init) {
    fixture f;
    if (setup(&f, 4, 4)) return 1;
    const size_t pix = (size_t)NB * 4 * 4;
    float *x = fce_test_alloc(n_in(&f));
    fce_test_fill_normal(x, n_in(&f), 11, 1.0f);
    x[3] += 2.0f; /* a non-centred input */
    /* the zero last layer makes the output exactly zero, whatever the inner actnorms hold */
    ASSERT_OK(fce_convnet_forward(&f.net, &f.tp, &f.ctx, x, NB, 0));
    for (size_t i = 0; i < n_out(&f); i++) ASSERT_TRUE(fce_convnet_output(&f.tp)[i] == 0.0f);
    ASSERT_OK(fce_convnet_forward(&f.net, &f.tp, &f.ctx, x, NB, 1));
    for (size_t i = 0; i < n_out(&f); i++) ASSERT_TRUE(fce_convnet_output(&f.tp)[i] == 0.0f);
    /* the inner actnorm outputs (the tape keeps only their ReLUs): conv l of its input, then the
     * actnorm with the parameters the init chose */
    float *conv = fce_test_alloc(pix * WD), *n = fce_test_alloc(pix * WD);
    for (int l = 0; l < 2; l++) {
        ASSERT_OK(f.ctx.ops->conv2d_forward(&f.ctx, f.tp.plan[l], conv, l ? f.tp.a[0] : x, f.net.w[l], NULL));
        ASSERT_OK(f.ctx.ops->actnorm_forward(&f.ctx, n, NULL, conv, f.net.an_b[l], f.net.an_s[l], NB, 16, WD));
        for (int c = 0; c < WD; c++) {
            double s = 0, s2 = 0;
            for (size_t p = 0; p < pix; p++) {
                double v = n[p * WD + c];
                s += v;
                s2 += v * v;
            }
            double mean = s / (double)pix, var = s2 / (double)pix - mean * mean;
            ASSERT_NEAR(mean, 0.0, 1e-5);
            ASSERT_NEAR(sqrt(var), 1.0, 1e-4);
        }
        /* the init actually moved the actnorm away from its zero start */
        ASSERT_TRUE(f.net.an_s[l][0] != 0.0f);
    }
    free(conv);
    free(n);
    free(x);
    teardown(&f);
    return 0;
}

/* L = Σ w ⊙ out (the finite differences' loss) */
static double loss(void *fx, const float *x, const float *w) {
    fixture *f = fx;
    if (fce_convnet_forward(&f->net, &f->tp, &f->ctx, x, NB, 0)) abort();
    const float *out = fce_convnet_output(&f->tp);
    double L = 0;
    for (size_t i = 0; i < n_out(f); i++) L += (double)w[i] * out[i];
    return L;
}


static void perturb(fixture *f) {
    fce_param_arena *a = &f->a;
    for (int s = 0; s < f->t.n; s++) {
        const fce_param_spec *sp = &f->t.specs[s];
        /* weights scaled to keep every layer's output O(1) (fan-in 18, 4, 36); biases O(0.5) */
        float std = strstr(sp->name, "conv0.w") ? 0.3f
                  : strstr(sp->name, "conv1.w") ? 0.5f
                  : strstr(sp->name, "conv2.w") ? 0.2f : 0.5f;
        /* actnorm log-scales act as e^{3·logs}: a spread of 0.1 (scales ~0.7..1.4) is what
         * data-dependent init gives; larger makes the network too curved for h = 1e-3 */
        if (strstr(sp->name, ".logs")) std = 0.1f;
        for (size_t i = 0; i < sp->numel; i++)
            a->params[sp->offset + i] = std * fce_philox_normal(41 + (uint64_t)s, i);
    }
}

/* (b) and (c) at one spatial shape */
static int check_grads(int H, int W) {
    fixture f;
    if (setup(&f, H, W)) return 1;
    perturb(&f);
    const size_t nx = n_in(&f), no = n_out(&f), np = f.a.n_trainable;
    float *x = fce_test_alloc(nx), *w = fce_test_alloc(no), *dx = fce_test_alloc(nx);
    float *dx2 = fce_test_alloc(nx);
    fce_test_fill_normal(x, nx, 42, 1.0f);
    fce_test_fill_uniform(w, no, 43, -1.0f, 1.0f);

    /* analytic gradients; dx is pre-filled with garbage to check it is overwritten */
    for (size_t i = 0; i < nx; i++) dx[i] = 1e3f;
    ASSERT_OK(fce_param_arena_zero_grad(&f.a, &f.ctx));
    ASSERT_OK(fce_convnet_forward(&f.net, &f.tp, &f.ctx, x, NB, 0));
    double out_max = 0;
    for (size_t i = 0; i < no; i++) out_max = fmax(out_max, fabs(fce_convnet_output(&f.tp)[i]));
    ASSERT_OK(fce_convnet_backward(&f.net, &f.tp, &f.ctx, w, dx, NB, 1));
    size_t n_coord = np + nx, kinks = 0;
    float *ana = fce_test_alloc(n_coord), *num = fce_test_alloc(n_coord);
    memcpy(ana, f.a.grads, np * sizeof(float));
    memcpy(ana + np, dx, nx * sizeof(float));

    /* (c) param_grads = 0: grads untouched, same dx; param_grads = 1 again: grads accumulate */
    ASSERT_OK(fce_convnet_backward(&f.net, &f.tp, &f.ctx, w, dx2, NB, 0));
    ASSERT_TRUE(memcmp(f.a.grads, ana, np * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(dx2, dx, nx * sizeof(float)) == 0);
    ASSERT_OK(fce_convnet_backward(&f.net, &f.tp, &f.ctx, w, NULL, NB, 1));
    for (size_t i = 0; i < np; i++) ASSERT_NEAR(f.a.grads[i], 2.0 * ana[i], 1e-5 * (1 + fabs(ana[i])));

    /* (b) central differences at h and h/2; where they disagree, a kink inside the stencil */
    double max_err;
    kinks = fce_test_fd_sweep(loss, &f, w, f.a.params, np, x, nx, ana, num, 1e-3, GRAD_ATOL,
                              GRAD_RTOL, &max_err);
    fprintf(stderr, "    %dx%d: max |out| %.3g, max |fd - analytic| %.3g, %zu of %zu coordinates "
            "excluded as kinks\n", H, W, out_max, max_err, kinks, n_coord);
    int ok = fce_test_close_params(&f.t, ana, num, GRAD_ATOL, GRAD_RTOL);
    ok &= fce_test_close("dx", ana + np, num + np, nx, GRAD_ATOL, GRAD_RTOL);
    free(ana);
    free(num);
    free(x);
    free(w);
    free(dx);
    free(dx2);
    teardown(&f);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(kinks <= (size_t)(KINK_MAX_FRAC * (double)n_coord));
    return 0;
}

TEST(convnet_grads_4x4) { return check_grads(4, 4); }
TEST(convnet_grads_3x5) { return check_grads(3, 5); }

FCE_TEST_MAIN_BEGIN
RUN_TEST(convnet_init);
RUN_TEST(convnet_grads_4x4);
RUN_TEST(convnet_grads_3x5);
FCE_TEST_MAIN_END

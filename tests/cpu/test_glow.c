/* test_glow.c: whole-flow invariants of the 2D Glow on the CPU backend:
 *  - inverse(forward(x)) = x, and log q from the inverse equals log q of a forward pass on x̃;
 *  - log q(x) = log N(z) + log|det ∂z/∂x| with the Jacobian by central differences (brute force);
 *  - the gradients of both backward passes (forward direction with ∂L/∂log q, inverse direction
 *    with ∂L/∂x̃ and ∂L/∂log q(x̃), i.e. the sampling path FCE uses) against finite differences
 *    of the loss over every trainable parameter;
 *  - data-dependent actnorm init standardises the first actnorm's output.
 * With actnorm inside the coupling networks (nn_actnorm) the whole flow is checked for
 * invertibility here; its gradients are checked at the network level in test_mlp.c, where few
 * ReLU units make finite differences reliable (through 3 flow steps with actnorm-scaled hidden
 * layers, a unit sitting on its kink at the evaluation point was indistinguishable from an error).
 * Parameters are perturbed away from their init first, so the zero-initialised coupling output
 * layers do not make the test trivially pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/glow.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"

#define N_PTS 6
#define GRAD_ATOL 2e-3 /* float32 central differences of a sum of ~10 log-dets: h = 1e-2 */
#define GRAD_RTOL 2e-2
#define KINK_MAX_FRAC 0.05
/* Smooth coordinates give central differences at h and h/2 that agree to O(h²) plus float noise
 * (covered by GRAD_ATOL); a kink within the stencil moves them apart by O(1)·(slope change). The
 * screen keeps the absolute tolerance and a quarter of the relative one (a kink whose two
 * differences differed by 99% of the full budget slipped through a full-budget screen). */
#define KINK_SCREEN 0.25 /* share of coordinates that may sit on a ReLU kink */

static fce_status make_flow(fce_ctx *ctx, fce_glow **g, fce_glow_tape **tp, int K, int width,
                            float perturb, int nn_actnorm) {
    fce_glow_config cfg = {2, K, width, nn_actnorm};
    FCE_TRY(fce_glow_init(g, ctx, &cfg, 7));
    FCE_TRY(fce_glow_tape_init(tp, *g, 64));
    /* perturb every trainable parameter (CPU backend: arena memory is host memory) */
    fce_param_arena *a = fce_glow_arena(*g);
    for (size_t i = 0; i < a->n_trainable; i++) a->params[i] += perturb * fce_philox_normal(99, i);
    return fce_glow_refresh(*g);
}

static int invert_check(int nn_actnorm) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_glow *g;
    fce_glow_tape *tp, *tp2;
    ASSERT_OK(make_flow(&ctx, &g, &tp, 4, 16, 0.1f, nn_actnorm)); /* well-conditioned: float round trips */
    ASSERT_OK(fce_glow_tape_init(&tp2, g, 64));
    float x[2 * N_PTS], eps[2 * N_PTS];
    fce_test_fill_normal(x, 2 * N_PTS, 5, 1.5f);
    fce_test_fill_normal(eps, 2 * N_PTS, 6, 1.0f);
    ASSERT_OK(fce_glow_forward(g, tp, x, N_PTS));
    ASSERT_OK(fce_glow_inverse(g, tp2, fce_glow_tape_z(tp), N_PTS));
    EXPECT_CLOSE("inverse(forward(x))", fce_glow_tape_x(tp2), x, 2 * N_PTS, 1e-5, 1e-5);
    EXPECT_CLOSE("logq inverse vs forward", fce_glow_tape_logq(tp2), fce_glow_tape_logq(tp), N_PTS,
                 1e-4, 1e-5);
    /* sampling path: log q(x̃) from the inverse equals a forward pass on x̃ */
    ASSERT_OK(fce_glow_inverse(g, tp2, eps, N_PTS));
    float xs[2 * N_PTS], lqs[N_PTS];
    memcpy(xs, fce_glow_tape_x(tp2), sizeof xs);
    memcpy(lqs, fce_glow_tape_logq(tp2), sizeof lqs);
    ASSERT_OK(fce_glow_forward(g, tp, xs, N_PTS));
    EXPECT_CLOSE("logq(x~) sample vs encode", fce_glow_tape_logq(tp), lqs, N_PTS, 1e-4, 1e-5);
    EXPECT_CLOSE("forward(inverse(eps))", fce_glow_tape_z(tp), eps, 2 * N_PTS, 1e-4, 1e-4);
    fce_glow_tape_free(tp);
    fce_glow_tape_free(tp2);
    fce_glow_free(g);
    fce_ctx_free(&ctx);
    return 0;
}

TEST(logdet_brute_force) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_glow *g;
    fce_glow_tape *tp;
    ASSERT_OK(make_flow(&ctx, &g, &tp, 5, 16, 0.3f, 0));
    float x[2 * N_PTS];
    fce_test_fill_normal(x, 2 * N_PTS, 11, 1.5f);
    ASSERT_OK(fce_glow_forward(g, tp, x, N_PTS));
    float lq[N_PTS], z[2 * N_PTS];
    memcpy(lq, fce_glow_tape_logq(tp), sizeof lq);
    memcpy(z, fce_glow_tape_z(tp), sizeof z);
    /* all 4 perturbed copies of every point in one batch: rows 4i + (2j + side) */
    const float h = 1e-2f;
    float xp[4 * 2 * N_PTS];
    for (int i = 0; i < N_PTS; i++)
        for (int j = 0; j < 2; j++)
            for (int side = 0; side < 2; side++) {
                float *r = xp + 2 * (4 * i + 2 * j + side);
                r[0] = x[2 * i];
                r[1] = x[2 * i + 1];
                r[j] += side ? -h : h;
            }
    ASSERT_OK(fce_glow_forward(g, tp, xp, 4 * N_PTS));
    const float *zp = fce_glow_tape_z(tp);
    float want[N_PTS];
    for (int i = 0; i < N_PTS; i++) {
        double J[2][2];
        for (int j = 0; j < 2; j++)
            for (int o = 0; o < 2; o++)
                J[o][j] = ((double)zp[2 * (4 * i + 2 * j) + o] - zp[2 * (4 * i + 2 * j + 1) + o]) / (2.0 * h);
        double logdet = log(fabs(J[0][0] * J[1][1] - J[0][1] * J[1][0]));
        double lprior = -0.5 * ((double)z[2 * i] * z[2 * i] + (double)z[2 * i + 1] * z[2 * i + 1]) -
                        log(2.0 * 3.14159265358979323846);
        want[i] = (float)(lprior + logdet);
    }
    EXPECT_CLOSE("logq vs brute-force det J", lq, want, N_PTS, 2e-3, 1e-3);
    fce_glow_tape_free(tp);
    fce_glow_free(g);
    fce_ctx_free(&ctx);
    return 0;
}

/* L = Σ w·log q(x) [forward] + Σ u·log q(x̃) + Σ v·x̃ [inverse], in double. */
static double flow_loss(fce_glow *g, fce_glow_tape *tf, fce_glow_tape *ti, const float *x,
                        const float *eps, const float *w, const float *u, const float *v) {
    if (fce_glow_forward(g, tf, x, N_PTS) || fce_glow_inverse(g, ti, eps, N_PTS)) abort();
    double L = 0;
    for (int i = 0; i < N_PTS; i++) {
        L += (double)w[i] * fce_glow_tape_logq(tf)[i] + (double)u[i] * fce_glow_tape_logq(ti)[i];
        for (int d = 0; d < 2; d++) L += (double)v[2 * i + d] * fce_glow_tape_x(ti)[2 * i + d];
    }
    return L;
}

static int gradcheck(int use_forward, int use_inverse, int nn_actnorm) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_glow *g;
    fce_glow_tape *tf, *ti;
    ASSERT_OK(make_flow(&ctx, &g, &tf, 3, 8, 0.3f, nn_actnorm));
    ASSERT_OK(fce_glow_tape_init(&ti, g, 64));
    float x[2 * N_PTS], eps[2 * N_PTS], w[N_PTS], u[N_PTS], v[2 * N_PTS];
    fce_test_fill_normal(x, 2 * N_PTS, 21, 1.5f);
    fce_test_fill_normal(eps, 2 * N_PTS, 22, 1.0f);
    fce_test_fill_uniform(w, N_PTS, 23, -1.0f, 1.0f);
    fce_test_fill_uniform(u, N_PTS, 24, -1.0f, 1.0f);
    fce_test_fill_uniform(v, 2 * N_PTS, 25, -1.0f, 1.0f);
    if (!use_forward) memset(w, 0, sizeof w);
    if (!use_inverse) {
        memset(u, 0, sizeof u);
        memset(v, 0, sizeof v);
    }
    /* analytic */
    ASSERT_OK(fce_glow_zero_grad(g));
    ASSERT_OK(fce_glow_forward(g, tf, x, N_PTS));
    ASSERT_OK(fce_glow_backward(g, tf, w, N_PTS));
    ASSERT_OK(fce_glow_inverse(g, ti, eps, N_PTS));
    ASSERT_OK(fce_glow_inverse_backward(g, ti, v, u, N_PTS));
    ASSERT_OK(fce_glow_finish_grad(g));
    fce_param_arena *a = fce_glow_arena(g);
    const fce_param_table *t = fce_glow_params(g);
    size_t nt = a->n_trainable;
    float *ana = fce_test_alloc(nt), *num = fce_test_alloc(nt);
    memcpy(ana, a->grads, nt * sizeof(float));
    /* numeric, every trainable entry (padding entries have zero gradient both ways);
     * entries the LU mask ignores (diagonal and upper part of L, lower part of U) must be 0 too */
    /* ReLU kinks: where the central differences at h and h/2 disagree, a hidden unit crossed
     * zero inside the stencil and the loss is not differentiable there; such coordinates are
     * excluded (the analytic value is kept) and counted, and at most KINK_MAX_FRAC may be. */
    const double h = 1e-2;
    size_t kinks = 0, checked = 0;
    for (size_t i = 0; i < nt; i++) {
        double fd[2];
        for (int r = 0; r < 2; r++) {
            double hr = r ? h / 2 : h;
            float keep = a->params[i];
            a->params[i] = keep + (float)hr;
            ASSERT_OK(fce_glow_refresh(g));
            double lp = flow_loss(g, tf, ti, x, eps, w, u, v);
            a->params[i] = keep - (float)hr;
            ASSERT_OK(fce_glow_refresh(g));
            double lm = flow_loss(g, tf, ti, x, eps, w, u, v);
            a->params[i] = keep;
            fd[r] = (lp - lm) / (2 * hr);
        }
        num[i] = (float)fd[1];
        if (getenv("FCE_TEST_VERBOSE")) fprintf(stderr, "      [%zu] ana %.6f fd(h) %.6f fd(h/2) %.6f\n", i, ana[i], fd[0], fd[1]);
        if (fabs(fd[0] - fd[1]) > GRAD_ATOL + KINK_SCREEN * GRAD_RTOL * fabs(fd[1])) {
            num[i] = ana[i];
            kinks++;
        }
        checked++;
    }
    ASSERT_OK(fce_glow_refresh(g));
    fprintf(stderr, "    %zu of %zu coordinates excluded as ReLU kinks\n", kinks, checked);
    ASSERT_TRUE(kinks <= (size_t)(KINK_MAX_FRAC * (double)checked));
    const int ok = fce_test_close_params(t, ana, num, GRAD_ATOL, GRAD_RTOL);
    free(ana);
    free(num);
    fce_glow_tape_free(tf);
    fce_glow_tape_free(ti);
    fce_glow_free(g);
    fce_ctx_free(&ctx);
    ASSERT_TRUE(ok);
    return 0;
}

TEST(invert_and_logq_consistency) { return invert_check(0); }
TEST(invert_with_nn_actnorm) { return invert_check(1); }
TEST(grad_forward_direction) { return gradcheck(1, 0, 0); }
TEST(grad_inverse_direction) { return gradcheck(0, 1, 0); }
TEST(grad_both_directions) { return gradcheck(1, 1, 0); }

TEST(actnorm_data_init) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_glow *g;
    fce_glow_tape *tp;
    fce_glow_config cfg = {2, 3, 16, 1}; /* with actnorm in the coupling networks too */
    ASSERT_OK(fce_glow_init(&g, &ctx, &cfg, 3));
    ASSERT_OK(fce_glow_tape_init(&tp, g, 512));
    float *x = fce_test_alloc(2 * 500);
    fce_test_fill_normal(x, 2 * 500, 31, 2.0f);
    for (int i = 0; i < 500; i++) x[2 * i] += 3.0f;
    ASSERT_TRUE(!fce_glow_actnorm_initialized(g));
    ASSERT_OK(fce_glow_data_init(g, tp, x, 500));
    ASSERT_TRUE(fce_glow_actnorm_initialized(g));
    /* the first actnorm's output is the first step's y1; recompute it from the parameters */
    const fce_param_table *t = fce_glow_params(g);
    const float *b = fce_glow_arena(g)->params + t->specs[0].offset;
    const float *ls = fce_glow_arena(g)->params + t->specs[1].offset;
    for (int c = 0; c < 2; c++) {
        double m = 0, v = 0;
        for (int i = 0; i < 500; i++) m += (x[2 * i + c] + b[c]) * exp(3.0 * ls[c]);
        m /= 500;
        for (int i = 0; i < 500; i++) {
            double y = (x[2 * i + c] + b[c]) * exp(3.0 * ls[c]) - m;
            v += y * y;
        }
        v /= 500;
        ASSERT_NEAR(m, 0.0, 1e-5);
        ASSERT_NEAR(v, 1.0, 1e-4);
    }
    /* a second call must not re-initialise (SPEC h.4) */
    float keep = b[0];
    ASSERT_OK(fce_glow_data_init(g, tp, x + 2, 400));
    ASSERT_TRUE(b[0] == keep);
    free(x);
    fce_glow_tape_free(tp);
    fce_glow_free(g);
    fce_ctx_free(&ctx);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(invert_and_logq_consistency);
RUN_TEST(invert_with_nn_actnorm);
RUN_TEST(logdet_brute_force);
RUN_TEST(grad_forward_direction);
RUN_TEST(grad_inverse_direction);
RUN_TEST(grad_both_directions);
RUN_TEST(actnorm_data_init);
FCE_TEST_MAIN_END

/* test_image_fce_grad.c: the image FCE flow update's gradient (train_image_fce.c, grad_flow) on the
 * CPU backend: through log q at the data, and through the sampling path (x̃ = g(ε), log q(x̃), and
 * ∂V/∂x̃ from the EBM's input gradient), against central finite differences of the value V (the
 * nce_loss value, gscale −1 for the flow) over every trainable flow parameter. A tiny setup: a
 * folder of 8×8 RGB pictures, batch 4, flow L 2, K 1, width 4, EBM width_scale 16; the flow is
 * perturbed away from init (zero-initialised coupling outputs and priors would hide terms). As in
 * test_iglow.c: Richardson extrapolation of the differences at h and h/2, and two kink screens.
 * Twice: the paper's EBM, and an EBM on a flow base (--ebm-base flow: f = log q₀ + g, q₀ the flow
 * before the perturbation, so that q ≠ q₀), where ∂V/∂x̃ also carries ∇ₓ log q₀ (the flow's input
 * gradient, fce_iglow_backward_input). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fce/image_io.h"
#include "fce/philox.h"
#include "fce/train_image.h"
#include "fce_test.h"
#include "test_util.h"
#include "train/train_image_fce.h"

#define NB 4
#define GRAD_RTOL 2e-2
#define KINK_MAX_FRAC 0.05
#define KINK_SCREEN 0.25
#define EPS_F 5.96e-8 /* 2^-24: float rounding, relative */

static int write_pictures(const char *dir, int n) {
    const fce_test_checker pattern = {.square = 4, .hi = 90, .lo = 40, .jitter = 15};
    uint32_t s = 777u;
    for (int k = 0; k < n; k++) {
        unsigned char rgb[8 * 8 * 3];
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                for (int c = 0; c < 3; c++)
                    rgb[(y * 8 + x) * 3 + c] = fce_test_checker_value(&pattern, k, x, y, c, &s);
        char p[600];
        snprintf(p, sizeof p, "%.400s/img%03d.png", dir, k);
        if (fce_image_write_rgb(p, rgb, 8, 8) != FCE_STATUS_OK) return 0;
    }
    return 1;
}

static double value_at(fce_ifce *t, int64_t step) {
    float v = NAN;
    if (fce_ifce_flow_value(t, step, 0, &v) != FCE_STATUS_OK) return NAN;
    return v;
}

typedef struct fd_state {
    fce_ifce *t;
    fce_iglow *g;
    int64_t step;
} fd_state;

/* V after refreshing the flow's derived parameters (the finite differences' loss) */
static double refreshed_value(void *st) {
    fd_state *s = st;
    if (fce_iglow_refresh(s->g) != FCE_STATUS_OK) abort();
    return value_at(s->t, s->step);
}

/* perturb scales the perturbation away from init: on a flow base, q's distance from q₀ is what
 * the logits see, and the full perturbation saturates them (V ≈ 0, no gradient) */
static int flow_grad_check(const char *ebm_base, float perturb) {
    fce_image_train_config c;
    fce_image_train_config_defaults(&c);
    snprintf(c.mode, sizeof c.mode, "fce");
    snprintf(c.dataset, sizeof c.dataset, "folder");
    snprintf(c.data_dir, sizeof c.data_dir, "%s", fce_test_path("pics"));
    snprintf(c.preset, sizeof c.preset, "tiny");
    snprintf(c.device, sizeof c.device, "cpu");
    snprintf(c.out_dir, sizeof c.out_dir, "%s", fce_test_path(ebm_base));
    snprintf(c.ebm_base, sizeof c.ebm_base, "%s", ebm_base);
    c.L = 2;
    c.K = 1;
    c.width = 4;
    c.batch = NB;
    c.steps = 1;
    c.quiet = 1;
    c.ebm_width_scale = 16;
    fce_ifce *t;
    ASSERT_OK(fce_ifce_create(&t, &c));
    fce_iglow *g = fce_ifce_flow(t);
    fce_param_arena *a = fce_iglow_arena(g); /* CPU backend: arena memory is host memory */
    const fce_param_table *pt = fce_iglow_params(g);
    /* away from init (scales as test_iglow.c's make_flow) */
    for (int s = 0; s < pt->n; s++) {
        const fce_param_spec *sp = &pt->specs[s];
        if (sp->flags & FCE_PARAM_FLAG_FROZEN) continue;
        float p = 0.1f;
        if (strstr(sp->name, "logs")) p = 0.05f;
        else if (strstr(sp->name, "conv2.w")) p = 0.02f;
        else if (strstr(sp->name, "prior.w")) p = 0.005f;
        for (size_t i = 0; i < sp->numel; i++)
            a->params[sp->offset + i] += perturb * p * fce_philox_normal(91, sp->offset + i);
    }
    ASSERT_OK(fce_iglow_refresh(g));
    /* one EBM step (the first turn is the EBM's) with a probe: the magnitudes of the terms of V at
     * step 0, the batch the check uses (the flow is unchanged by it) */
    float fx[NB], fxt[NB], lq[NB], lqt[NB];
    fce_ifce_probe pr = {fx, fxt, lq, lqt, 0, 0, 0, 0};
    ASSERT_OK(fce_ifce_step(t, &pr));
    ASSERT_EQ_INT(pr.flow_turn, 0);
    const int64_t step = 0;
    /* FD noise: V = −(1/n)Σ[softplus(−a_i) + softplus(b_i)], a_i = f(x_i) − c − log q(x_i), b_i
     * likewise at x̃_i; softplus' ≤ 1, so V carries the float rounding of its inputs, each a few
     * ulps of the sums behind it (log q: ~D = 192 log-det and prior terms; f; c), plus V's own
     * ulp. With A = (1/n)Σ(|f(x)| + |f(x̃)| + |log q(x)| + |log q(x̃)| + 2|c|) + |V|, the error
     * of one V is taken as e = 16·ε·A (ε = 2^-24; 16 covers the summation growth and the
     * cancellation inside log q). A central difference at h has noise ≤ 2e/(2h) = e/h, at h/2
     * ≤ 2e/h, and the Richardson combination (4·fd(h/2) − fd(h))/3 ≤ (8 + 1)/3·e/h = 3e/h. */
    double A = fabs(pr.value);
    for (int i = 0; i < NB; i++)
        A += (fabs(fx[i]) + fabs(fxt[i]) + fabs(lq[i]) + fabs(lqt[i]) + 2 * fabs(pr.c)) / NB;
    const double h = 1e-2, e = 16 * EPS_F * A, atol = 3 * e / h;
    float V0;
    ASSERT_OK(fce_ifce_flow_value(t, step, 1, &V0));
    const size_t nt = a->n_trainable;
    float *ana = fce_test_alloc(nt), *num = fce_test_alloc(nt);
    memcpy(ana, a->grads, nt * sizeof(float));
    double gmax = 0;
    for (size_t i = 0; i < nt; i++) gmax = fmax(gmax, fabs(ana[i]));
    fprintf(stderr, "    V %.6f, c %.4g, A %.4g: per-V error %.3g, gradient atol %.3g; %zu parameters, "
            "max |dV/dθ| %.4g\n", (double)V0, (double)pr.c, A, e, atol, nt, gmax);
    ASSERT_TRUE(isfinite(V0) && gmax > 100 * atol);
    double *kd = malloc(4 * nt * sizeof *kd);
    ASSERT_TRUE(kd != NULL);
    const double l0 = value_at(t, step);
    fd_state fs = {t, g, step};
    fce_test_fd_richardson(refreshed_value, &fs, a->params, nt, h, &l0, num, kd);
    ASSERT_OK(fce_iglow_refresh(g));
    /* kink screens as test_iglow.c: (a) fd(h) vs fd(h/2); (b) second differences k(h) vs 4·k(h/2)
     * above their noise floor (2× the 90th percentile of |k(h) − 4·k(h/2)|, at least h·atol/4) */
    double floor_b;
    const size_t kinks = fce_test_kink_screen(kd, nt, ana, num, h, atol, GRAD_RTOL, KINK_SCREEN, NULL,
                                              NULL, &floor_b);
    double maxerr = 0, maxrel = 0;
    for (size_t i = 0; i < nt; i++) {
        const double err = fabs((double)ana[i] - num[i]);
        maxerr = fmax(maxerr, err);
        maxrel = fmax(maxrel, err / (atol + GRAD_RTOL * fabs(num[i])));
    }
    free(kd);
    fprintf(stderr, "    %zu of %zu coordinates excluded as kinks (floor %.3g); max |ana − fd| %.3g, "
            "max error / (atol + rtol·|fd|) %.3g\n", kinks, nt, floor_b, maxerr, maxrel);
    const int ok = fce_test_close_params(pt, ana, num, atol, GRAD_RTOL);
    free(ana);
    free(num);
    fce_ifce_free(t);
    ASSERT_TRUE(kinks <= (size_t)(KINK_MAX_FRAC * (double)nt));
    ASSERT_TRUE(ok);
    return 0;
}

TEST(flow_grad_matches_finite_differences) { return flow_grad_check("none", 1.0f); }
TEST(flow_grad_on_a_flow_base_matches_finite_differences) { return flow_grad_check("flow", 0.03f); }

FCE_TEST_MAIN_BEGIN
const char *dir = fce_test_tmpdir("/tmp/fce_test_image_fce_grad_XXXXXX");
if (!dir) return 1;
if (mkdir(fce_test_path("pics"), 0700) != 0 || !write_pictures(fce_test_path("pics"), 12)) return 1;
RUN_TEST(flow_grad_matches_finite_differences);
RUN_TEST(flow_grad_on_a_flow_base_matches_finite_differences);
if (!fce_test_rm_tree(dir)) fprintf(stderr, "could not remove %s\n", dir);
FCE_TEST_MAIN_END

/* test_ebm_image.c: the image EBM (ebm_image.c, SPEC d, paper Table 4) on the CPU backend.
 *  (1) forward against an independent double-precision hand loop (direct NHWC convolution), at
 *      N = 2, C = 3, H×W = 8×8 (last kernel 1×1) and 16×16 (last kernel 2×2), width_scale 16;
 *  (2) every parameter gradient and dx against central finite differences of L = Σ w ⊙ f at N = 2,
 *      H = W = 16, C = 3, width_scale 16 (widths 4, 8, 16: the test-only config field, so the
 *      ~4,400 coordinates × 4 forward passes take well under a second). lReLU kinks: coordinates whose
 *      differences at h and h/2 disagree are excluded and counted, at most KINK_MAX_FRAC of them;
 *  (3) param_grads = 0 leaves the gradients untouched (c's included) and gives the same dx;
 *      param_grads = 1 accumulates; dx is overwritten;
 *  (4) the parameter count at the paper's 32×32×3 with full widths: 662,978 including c (SPEC d),
 *      and the Glorot-uniform / zero-bias init ranges there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/ebm_image.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"

#define NB 2
#define CH 3
#define WSCALE 16
/* Finite-difference noise. f is computed in float: the largest conv sums 4·4·8 = 128 products, the
 * last one 2·2·16 = 64, each rounding at ~6e-8 relative; with |f| and the per-layer partial sums
 * O(1) the float error in each f is ~1e-7..1e-6 and does not cancel between the +h and −h passes.
 * L sums NB = 2 such values weighted by |w| ≤ 1, so the error in L is ~1e-6 and in the difference
 * quotient over the stencil 2h = 2e-3 it is at most ~5e-4 (twice that at h/2: the kink screen
 * allows for it), typically far less since the roundings partly average out. Measured on these seeds
 * (printed every run): max |fd − analytic| 3.4e-5. GRAD_ATOL = 5e-4 is that worst-case estimate,
 * ~15× the measurement; a real gradient error is structural and far larger (mutation checks: using
 * slope 0 instead of 0.2 in the lReLU backward, or dropping the bias gradient, fail by 1e-2..1e-1). */
#define GRAD_ATOL 5e-4
#define GRAD_RTOL 1e-2
#define KINK_MAX_FRAC 0.05

typedef struct fixture {
    fce_ctx ctx;
    fce_ebm_image *e;
    fce_ebm_image_tape *tp;
    int H, W;
} fixture;

static int setup(fixture *f, int H, int W, int wscale) {
    memset(f, 0, sizeof *f);
    f->H = H;
    f->W = W;
    ASSERT_OK(fce_ctx_init_cpu(&f->ctx));
    fce_ebm_image_config cfg = {.H = H, .W = W, .C = CH, .width_scale = wscale};
    ASSERT_OK(fce_ebm_image_init(&f->e, &f->ctx, &cfg, 5));
    ASSERT_OK(fce_ebm_image_tape_init(&f->tp, f->e, NB));
    return 0;
}

static void teardown(fixture *f) {
    fce_ebm_image_tape_free(f->tp);
    fce_ebm_image_free(f->e);
    fce_ctx_free(&f->ctx);
}

static size_t n_in(const fixture *f) { return (size_t)NB * f->H * f->W * CH; }

static const float *param(fixture *f, const char *name) {
    const fce_param_table *t = fce_ebm_image_params(f->e);
    for (int s = 0; s < t->n; s++)
        if (strcmp(t->specs[s].name, name) == 0) return fce_ebm_image_arena(f->e)->params + t->specs[s].offset;
    abort();
}

/* Biases nonzero (init has them 0) so that a bias mistake shows in forward and gradients. */
static void perturb_biases(fixture *f) {
    const fce_param_table *t = fce_ebm_image_params(f->e);
    fce_param_arena *a = fce_ebm_image_arena(f->e);
    for (int s = 0; s < t->n; s++)
        if (strstr(t->specs[s].name, ".b"))
            for (size_t i = 0; i < t->specs[s].numel; i++)
                a->params[t->specs[s].offset + i] = 0.1f * fce_philox_normal(77 + (uint64_t)s, i);
}

/* Direct NHWC conv for one image, in double: y (Ho, Wo, Co) from x (H, W, Ci), w (Co, K, K, Ci). */
static void hand_conv(double *y, const double *x, int H, int W, int Ci, const float *w,
                      const float *b, int Co, int KH, int KW, int stride, int pad, int *Ho, int *Wo) {
    *Ho = (H + 2 * pad - KH) / stride + 1;
    *Wo = (W + 2 * pad - KW) / stride + 1;
    for (int oy = 0; oy < *Ho; oy++)
        for (int ox = 0; ox < *Wo; ox++)
            for (int co = 0; co < Co; co++) {
                double s = b[co];
                for (int ky = 0; ky < KH; ky++)
                    for (int kx = 0; kx < KW; kx++) {
                        int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        for (int ci = 0; ci < Ci; ci++)
                            s += (double)w[((co * KH + ky) * KW + kx) * Ci + ci] *
                                 x[(iy * W + ix) * Ci + ci];
                    }
                y[(oy * *Wo + ox) * Co + co] = s;
            }
}

static double hand_f(fixture *f, const float *x1) {
    int H = f->H, W = f->W, C = CH;
    double *cur = malloc(sizeof(double) * (size_t)H * W * C), *nxt;
    for (int i = 0; i < H * W * C; i++) cur[i] = x1[i];
    char name[32];
    for (int l = 0; l < 4; l++) {
        const int last = l == 3;
        const int Co = last ? 1 : fce_ebm_image_width(f->e, l);
        nxt = malloc(sizeof(double) * (size_t)H * W * (size_t)(Co > C ? Co : C));
        snprintf(name, sizeof name, "ebm.conv%d.w", l);
        const float *w = param(f, name);
        snprintf(name, sizeof name, "ebm.conv%d.b", l);
        const float *b = param(f, name);
        int Ho, Wo;
        hand_conv(nxt, cur, H, W, C, w, b, Co, last ? H : 4, last ? W : 4, last ? 1 : 2, last ? 0 : 1,
                  &Ho, &Wo);
        if (!last)
            for (int i = 0; i < Ho * Wo * Co; i++) nxt[i] = nxt[i] > 0 ? nxt[i] : 0.2 * nxt[i];
        free(cur);
        cur = nxt;
        H = Ho;
        W = Wo;
        C = Co;
    }
    double r = cur[0];
    free(cur);
    return r;
}

/* (1) */
static int check_forward(int H, int W) {
    fixture f;
    if (setup(&f, H, W, WSCALE)) return 1;
    perturb_biases(&f);
    float *x = fce_test_alloc(n_in(&f));
    fce_test_fill_normal(x, n_in(&f), 21, 1.0f);
    const float *out;
    ASSERT_OK(fce_ebm_image_forward(f.e, f.tp, x, NB, &out));
    for (int n = 0; n < NB; n++) {
        double ref = hand_f(&f, x + (size_t)n * H * W * CH);
        fprintf(stderr, "    %dx%d image %d: f = %.6g, hand loop %.6g\n", H, W, n, out[n], ref);
        ASSERT_NEAR(out[n], ref, 1e-5 * (1 + fabs(ref)));
    }
    free(x);
    teardown(&f);
    return 0;
}

TEST(ebm_image_forward_8x8) { return check_forward(8, 8); }
TEST(ebm_image_forward_16x16) { return check_forward(16, 16); }

/* L = Σ w ⊙ f (the finite differences' loss) */
static double loss(void *fx, const float *x, const float *w) {
    fixture *f = fx;
    const float *out;
    if (fce_ebm_image_forward(f->e, f->tp, x, NB, &out)) abort();
    double L = 0;
    for (int n = 0; n < NB; n++) L += (double)w[n] * out[n];
    return L;
}


/* (2) and (3) */
TEST(ebm_image_grads_16x16) {
    fixture f;
    if (setup(&f, 16, 16, WSCALE)) return 1;
    perturb_biases(&f);
    fce_param_arena *a = fce_ebm_image_arena(f.e);
    const fce_param_table *t = fce_ebm_image_params(f.e);
    const size_t nx = n_in(&f), np = a->n_trainable;
    float *x = fce_test_alloc(nx), *dx = fce_test_alloc(nx), *dx2 = fce_test_alloc(nx);
    float w[NB] = {0.8f, -0.6f};
    fce_test_fill_normal(x, nx, 42, 1.0f);

    for (size_t i = 0; i < nx; i++) dx[i] = 1e3f; /* garbage: dx must be overwritten */
    ASSERT_OK(fce_param_arena_zero_grad(a, &f.ctx));
    *fce_ebm_image_dc(f.e) = 0.125f; /* c's gradient belongs to the NCE op: must stay as is */
    const float *out;
    ASSERT_OK(fce_ebm_image_forward(f.e, f.tp, x, NB, &out));
    fprintf(stderr, "    f = %.4g, %.4g\n", out[0], out[1]);
    ASSERT_OK(fce_ebm_image_backward(f.e, f.tp, w, dx, NB, 1));
    ASSERT_TRUE(*fce_ebm_image_dc(f.e) == 0.125f);
    const size_t n_coord = np + nx;
    float *ana = fce_test_alloc(n_coord), *num = fce_test_alloc(n_coord);
    memcpy(ana, a->grads, np * sizeof(float));
    memcpy(ana + np, dx, nx * sizeof(float));

    /* (3) param_grads = 0: grads untouched, same dx; param_grads = 1 again: grads accumulate */
    ASSERT_OK(fce_ebm_image_backward(f.e, f.tp, w, dx2, NB, 0));
    ASSERT_TRUE(memcmp(a->grads, ana, np * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(dx2, dx, nx * sizeof(float)) == 0);
    ASSERT_OK(fce_ebm_image_backward(f.e, f.tp, w, NULL, NB, 1));
    for (size_t i = 0; i < np; i++) {
        if (a->grads + i == fce_ebm_image_dc(f.e)) continue;
        ASSERT_NEAR(a->grads[i], 2.0 * ana[i], 1e-5 * (1 + fabs(ana[i])));
    }
    ASSERT_TRUE(*fce_ebm_image_dc(f.e) == 0.125f);
    /* c does not enter f: its analytic "gradient of L" is 0 (the stored 0.125 is the NCE op's) */
    ana[fce_ebm_image_dc(f.e) - a->grads] = 0.0f;

    /* (2) central differences at h and h/2; where they disagree, a kink inside the stencil */
    double max_err;
    const size_t kinks = fce_test_fd_sweep(loss, &f, w, a->params, np, x, nx, ana, num, 1e-3,
                                           GRAD_ATOL, GRAD_RTOL, &max_err);
    fprintf(stderr, "    16x16: max |fd - analytic| %.3g, %zu of %zu coordinates excluded as kinks\n",
            max_err, kinks, n_coord);
    int ok = fce_test_close_params(t, ana, num, GRAD_ATOL, GRAD_RTOL);
    ok &= fce_test_close("dx", ana + np, num + np, nx, GRAD_ATOL, GRAD_RTOL);
    /* the gradients are not trivially small: the check has teeth */
    double gmax = 0;
    for (size_t i = 0; i < n_coord; i++) gmax = fmax(gmax, fabs(ana[i]));
    fprintf(stderr, "    max |analytic gradient| %.3g\n", gmax);
    ASSERT_TRUE(gmax > 0.05);
    free(ana);
    free(num);
    free(x);
    free(dx);
    free(dx2);
    teardown(&f);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(kinks <= (size_t)(KINK_MAX_FRAC * (double)n_coord));
    return 0;
}

/* (4) */
TEST(ebm_image_paper_size) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_ebm_image *e;
    fce_ebm_image_config cfg = {.H = 32, .W = 32, .C = 3, .width_scale = 0};
    ASSERT_OK(fce_ebm_image_init(&e, &ctx, &cfg, 1));
    const fce_param_table *t = fce_ebm_image_params(e);
    size_t total = 0;
    for (int s = 0; s < t->n; s++) total += t->specs[s].numel;
    fprintf(stderr, "    32x32x3: %zu parameters in %d tensors\n", total, t->n);
    ASSERT_TRUE(total == 662978);
    ASSERT_EQ_INT(fce_ebm_image_width(e, 0), 64);
    ASSERT_EQ_INT(fce_ebm_image_width(e, 1), 128);
    ASSERT_EQ_INT(fce_ebm_image_width(e, 2), 256);
    /* init: weights within ±sqrt(6 / (k²·(Cin + Cout))) and spread over it, biases and c zero */
    const int cin[4] = {3, 64, 128, 256}, cout[4] = {64, 128, 256, 1};
    int k = 0;
    for (int s = 0; s < t->n; s++) {
        const fce_param_spec *sp = &t->specs[s];
        const float *v = fce_ebm_image_arena(e)->params + sp->offset;
        double vmax = 0;
        for (size_t i = 0; i < sp->numel; i++) vmax = fmax(vmax, fabs(v[i]));
        if (strstr(sp->name, ".w")) {
            ASSERT_TRUE(k < 4);
            const double limit = sqrt(6.0 / (16.0 * (cin[k] + cout[k])));
            ASSERT_EQ_INT(sp->rows, cout[k]);
            ASSERT_EQ_INT(sp->cols, 16 * cin[k]);
            ASSERT_TRUE(vmax <= limit && vmax > 0.9 * limit);
            k++;
        } else {
            ASSERT_TRUE(vmax == 0.0);
        }
    }
    ASSERT_EQ_INT(k, 4);
    ASSERT_TRUE(*fce_ebm_image_c(e) == 0.0f);
    /* one batch of the paper's shape runs and gives finite values */
    fce_ebm_image_tape *tp;
    ASSERT_OK(fce_ebm_image_tape_init(&tp, e, 2));
    float *x = fce_test_alloc(2 * 32 * 32 * 3);
    fce_test_fill_uniform(x, 2 * 32 * 32 * 3, 3, -0.5f, 0.5f);
    const float *f;
    ASSERT_OK(fce_ebm_image_forward(e, tp, x, 2, &f));
    ASSERT_TRUE(isfinite(f[0]) && isfinite(f[1]) && f[0] != f[1]);
    free(x);
    fce_ebm_image_tape_free(tp);
    fce_ebm_image_free(e);
    /* bad configs are refused */
    fce_ebm_image_config bad = {.H = 12, .W = 16, .C = 3, .width_scale = 0};
    ASSERT_TRUE(fce_ebm_image_init(&e, &ctx, &bad, 1) == FCE_STATUS_ERR_CONFIG && e == NULL);
    bad.H = 16;
    bad.width_scale = 3;
    ASSERT_TRUE(fce_ebm_image_init(&e, &ctx, &bad, 1) == FCE_STATUS_ERR_CONFIG && e == NULL);
    fce_ctx_free(&ctx);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(ebm_image_forward_8x8);
RUN_TEST(ebm_image_forward_16x16);
RUN_TEST(ebm_image_grads_16x16);
RUN_TEST(ebm_image_paper_size);
FCE_TEST_MAIN_END

/* test_iglow.c: whole-flow invariants of the multi-scale image Glow (fce/iglow.h) on the CPU backend,
 * additive and affine coupling, L = 2 (one split prior + the learned top prior):
 *  - inverse(forward(x)) = x with ε recovered from the forward's z's, and equal log q both ways;
 *  - log q(x̃) from the inverse equals a forward pass on x̃ (T = 1), and at T ≠ 1 it differs from the
 *    flow density by the documented parameter-free term Σ[½(T²−1)ε² − log T];
 *  - log q(x) = Σ log-priors (recomputed here in double from the z's and prior parameters the
 *    forward pass reports) + log|det ∂(z_0, z_1)/∂x| with the 48×48 Jacobian by central differences;
 *  - the gradients of both backward passes against finite differences over every trainable
 *    parameter (ReLU-kink screening with h and h/2, as in test_glow.c), and the input gradient
 *    ∇ₓ log q of the density pass over every input value;
 *  - data-dependent init standardises the first actnorm's output per channel.
 * Every trainable parameter is perturbed away from its init first (log-scales by 0.05 only), so the
 * zero-initialised coupling outputs and priors do not make the tests trivially pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/iglow.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"

#define GRAD_ATOL 2e-3 /* float32 central differences of sums of ~100 log terms, h = 1e-2 */
#define GRAD_RTOL 2e-2
#define KINK_MAX_FRAC 0.05
#define KINK_SCREEN 0.25 /* as in test_glow.c: share of the relative budget the h vs h/2 screen uses */
#define LOG2PI 1.8378770664093453

static fce_iglow_config small_cfg(int affine) { /* 4×4×3: 48 dims, for Jacobians and gradients */
    fce_iglow_config c = fce_iglow_config_tiny(affine);
    c.H = c.W = 4;
    return c;
}

static fce_status make_flow(fce_ctx *ctx, fce_iglow **g, const fce_iglow_config *cfg, float perturb) {
    FCE_TRY(fce_iglow_init(g, ctx, cfg, 7));
    /* CPU backend: arena memory is host memory */
    fce_param_arena *a = fce_iglow_arena(*g);
    const fce_param_table *t = fce_iglow_params(*g);
    for (int s = 0; s < t->n; s++) {
        const fce_param_spec *sp = &t->specs[s];
        if (sp->flags & FCE_PARAM_FLAG_FROZEN) continue;
        /* log-scales (×3 inside the ops) 0.05; the zero-initialised output convs of the coupling
         * networks and the split priors (fan-in 9·width, 9·c/2) a fifth of the rest, so that the
         * perturbed flow stays well-conditioned (log q of order −10² per sample) */
        float p = perturb;
        if (strstr(sp->name, "logs")) p = 0.05f;
        else if (strstr(sp->name, "conv2.w")) p = 0.2f * perturb;
        else if (strstr(sp->name, "prior.w")) p = 0.05f * perturb;
        for (size_t i = 0; i < sp->numel; i++)
            a->params[sp->offset + i] += p * fce_philox_normal(99, sp->offset + i);
    }
    return fce_iglow_refresh(*g);
}

/* What the flow tests start from: a CPU context, a perturbed flow (make_flow) and two tapes, a of
 * na samples and b of nb (an inference tape when b_inference is set). */
typedef struct flow_fixture {
    fce_ctx ctx;
    fce_iglow_config cfg;
    fce_iglow *g;
    fce_iglow_tape *a, *b;
    int D; /* values per picture: H·W·C */
} flow_fixture;

static int flow_setup(flow_fixture *f, fce_iglow_config cfg, float perturb, int na, int nb,
                      int b_inference) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->D = cfg.H * cfg.W * cfg.C;
    ASSERT_OK(fce_ctx_init_cpu(&f->ctx));
    ASSERT_OK(make_flow(&f->ctx, &f->g, &f->cfg, perturb));
    ASSERT_OK(fce_iglow_tape_init(&f->a, f->g, na));
    if (b_inference) ASSERT_OK(fce_iglow_tape_init_inference(&f->b, f->g, nb));
    else ASSERT_OK(fce_iglow_tape_init(&f->b, f->g, nb));
    return 0;
}

static void flow_teardown(flow_fixture *f) {
    fce_iglow_tape_free(f->a);
    fce_iglow_tape_free(f->b);
    fce_iglow_free(f->g);
    fce_ctx_free(&f->ctx);
}

/* ε_l = (z_l − μ_l)·e^{−ρ_l} of the last pass (T = 1) */
static float **eps_from_tape(const fce_iglow *g, const fce_iglow_tape *tp, int N) {
    const int L = fce_iglow_cfg(g)->L;
    float **e = calloc((size_t)L, sizeof *e);
    for (int l = 0; l < L; l++) {
        const size_t n = (size_t)N * fce_iglow_n_z(g, l);
        e[l] = fce_test_alloc(n);
        const float *z = fce_iglow_tape_z(tp, l), *m = fce_iglow_tape_prior_mean(tp, l),
                    *s = fce_iglow_tape_prior_logs(tp, l);
        for (size_t i = 0; i < n; i++) e[l][i] = (float)(((double)z[i] - m[i]) * exp(-(double)s[i]));
    }
    return e;
}

static float **random_eps(const fce_iglow *g, int N, uint64_t seed) {
    const int L = fce_iglow_cfg(g)->L;
    float **e = calloc((size_t)L, sizeof *e);
    for (int l = 0; l < L; l++) {
        const size_t n = (size_t)N * fce_iglow_n_z(g, l);
        e[l] = fce_test_alloc(n);
        fce_test_fill_normal(e[l], n, seed + (uint64_t)l, 1.0f);
    }
    return e;
}

static void free_eps(float **e, int L) {
    for (int l = 0; l < L; l++) free(e[l]);
    free(e);
}

static int invert_check(int affine) {
    enum { N = 3 };
    flow_fixture f;
    if (flow_setup(&f, fce_iglow_config_tiny(affine), 0.1f, N, N, 0)) return 1;
    fce_iglow *const g = f.g;
    fce_iglow_tape *const tf = f.a, *const ti = f.b; /* forward, inverse */
    const int L = f.cfg.L, D = f.D;
    float *x = fce_test_alloc((size_t)N * D);
    fce_test_fill_normal(x, (size_t)N * D, 5, 1.0f);
    ASSERT_OK(fce_iglow_forward(g, tf, x, N));
    float **e = eps_from_tape(g, tf, N);
    ASSERT_OK(fce_iglow_inverse(g, ti, (const float *const *)e, 1.0f, N));
    EXPECT_CLOSE("inverse(forward(x))", fce_iglow_tape_x(ti), x, (size_t)N * D, 1e-4, 0.0);
    EXPECT_CLOSE("logq inverse vs forward", fce_iglow_tape_logq(ti), fce_iglow_tape_logq(tf), N, 2e-3, 1e-5);
    free_eps(e, L);
    /* sampling path: log q(x̃) from the inverse equals a forward pass on x̃ */
    float *xs = fce_test_alloc((size_t)N * D), lqs[N];
    e = random_eps(g, N, 40);
    ASSERT_OK(fce_iglow_inverse(g, ti, (const float *const *)e, 1.0f, N));
    memcpy(xs, fce_iglow_tape_x(ti), (size_t)N * D * sizeof(float));
    memcpy(lqs, fce_iglow_tape_logq(ti), sizeof lqs);
    ASSERT_OK(fce_iglow_forward(g, tf, xs, N));
    EXPECT_CLOSE("logq(x~) sample vs encode, T = 1", fce_iglow_tape_logq(tf), lqs, N, 2e-3, 1e-5);
    /* T ≠ 1: the returned density is that of the tempered sampler */
    const float T = 0.7f;
    ASSERT_OK(fce_iglow_inverse(g, ti, (const float *const *)e, T, N));
    memcpy(xs, fce_iglow_tape_x(ti), (size_t)N * D * sizeof(float));
    memcpy(lqs, fce_iglow_tape_logq(ti), sizeof lqs);
    ASSERT_OK(fce_iglow_forward(g, tf, xs, N));
    float want[N];
    for (int i = 0; i < N; i++) {
        double corr = 0;
        for (int l = 0; l < L; l++) {
            const int nz = fce_iglow_n_z(g, l);
            for (int d = 0; d < nz; d++) {
                const double ev = e[l][(size_t)i * nz + d];
                corr += 0.5 * ((double)T * T - 1.0) * ev * ev - log((double)T);
            }
        }
        want[i] = (float)(fce_iglow_tape_logq(tf)[i] + corr);
    }
    EXPECT_CLOSE("logq(x~) at T = 0.7 vs tempered density", lqs, want, N, 2e-3, 1e-5);
    free_eps(e, L);
    free(x);
    free(xs);
    flow_teardown(&f);
    return 0;
}

/* log|det A| of an n×n matrix (row-major, destroyed) by LU with partial pivoting */
static double logabsdet(double *A, int n) {
    double ld = 0;
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        if (p != c)
            for (int j = 0; j < n; j++) {
                double t = A[c * n + j];
                A[c * n + j] = A[p * n + j];
                A[p * n + j] = t;
            }
        ld += log(fabs(A[c * n + c]));
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
        }
    }
    return ld;
}

/* concatenation of all latents of sample i of the last pass */
static void gather_z(const fce_iglow *g, const fce_iglow_tape *tp, int i, double *out) {
    int o = 0;
    for (int l = 0; l < fce_iglow_cfg(g)->L; l++) {
        const int nz = fce_iglow_n_z(g, l);
        for (int d = 0; d < nz; d++) out[o++] = fce_iglow_tape_z(tp, l)[(size_t)i * nz + d];
    }
}

static int logdet_check(int affine) {
    enum { NP = 2, D = 48 };
    flow_fixture f;
    if (flow_setup(&f, small_cfg(affine), 0.2f, NP, NP * 2 * D, 0)) return 1;
    ASSERT_TRUE(f.D == D);
    fce_iglow *const g = f.g;
    const fce_iglow_config cfg = f.cfg;
    fce_iglow_tape *const tp = f.a, *const tb = f.b; /* the samples; their perturbed copies */
    float x[NP * D];
    fce_test_fill_normal(x, NP * D, 11, 1.0f);
    ASSERT_OK(fce_iglow_forward(g, tp, x, NP));
    /* Σ log-priors from the reported z's and prior parameters, in double */
    double lprior[NP] = {0};
    for (int l = 0; l < cfg.L; l++) {
        const int nz = fce_iglow_n_z(g, l);
        for (int i = 0; i < NP; i++)
            for (int d = 0; d < nz; d++) {
                const size_t j = (size_t)i * nz + d;
                const double m = fce_iglow_tape_prior_mean(tp, l)[j], s = fce_iglow_tape_prior_logs(tp, l)[j];
                const double u = (fce_iglow_tape_z(tp, l)[j] - m) * exp(-s);
                lprior[i] += -0.5 * u * u - s - 0.5 * LOG2PI;
            }
    }
    float lq[NP];
    memcpy(lq, fce_iglow_tape_logq(tp), sizeof lq);
    /* Jacobian by central differences at h and h/2: rows 2·D·i + 2·j + side */
    double ld[2][NP];
    float *xp = fce_test_alloc((size_t)NP * 2 * D * D);
    double *J = malloc(sizeof(double) * D * D), *zp = malloc(sizeof(double) * D),
           *zm = malloc(sizeof(double) * D);
    for (int r = 0; r < 2; r++) {
        const float h = r ? 5e-3f : 1e-2f;
        for (int i = 0; i < NP; i++)
            for (int j = 0; j < D; j++)
                for (int side = 0; side < 2; side++) {
                    float *row = xp + (size_t)(2 * D * i + 2 * j + side) * D;
                    memcpy(row, x + i * D, D * sizeof(float));
                    row[j] += side ? -h : h;
                }
        ASSERT_OK(fce_iglow_forward(g, tb, xp, NP * 2 * D));
        for (int i = 0; i < NP; i++) {
            for (int j = 0; j < D; j++) {
                gather_z(g, tb, 2 * D * i + 2 * j, zp);
                gather_z(g, tb, 2 * D * i + 2 * j + 1, zm);
                for (int o = 0; o < D; o++) J[o * D + j] = (zp[o] - zm[o]) / (2.0 * h);
            }
            ld[r][i] = logabsdet(J, D);
        }
    }
    for (int i = 0; i < NP; i++) {
        /* tolerance from the FD error: the h vs h/2 spread (truncation + float noise), floored */
        const double tol = 5e-3 + 4.0 * fabs(ld[0][i] - ld[1][i]);
        const double want = lprior[i] + ld[1][i];
        fprintf(stderr, "    sample %d: logq %.5f, priors + brute-force logdet %.5f (h: %.5f), tol %.4f\n",
                i, lq[i], want, lprior[i] + ld[0][i], tol);
        ASSERT_NEAR(lq[i], want, tol);
    }
    free(xp);
    free(J);
    free(zp);
    free(zm);
    flow_teardown(&f);
    return 0;
}

typedef struct gc_ctx {
    fce_iglow *g;
    fce_iglow_tape *tf, *ti;
    const float *x, *w, *u, *v;
    float **eps;
    float T;
    int N, D;
} gc_ctx;

/* L = Σ w·log q(x) [forward] + Σ u·log q(x̃) + Σ v·x̃ [inverse], in double */
static double flow_loss(const gc_ctx *c) {
    if (fce_iglow_forward(c->g, c->tf, c->x, c->N) ||
        fce_iglow_inverse(c->g, c->ti, (const float *const *)c->eps, c->T, c->N))
        abort();
    double L = 0;
    for (int i = 0; i < c->N; i++) {
        L += (double)c->w[i] * fce_iglow_tape_logq(c->tf)[i] + (double)c->u[i] * fce_iglow_tape_logq(c->ti)[i];
        for (int d = 0; d < c->D; d++)
            L += (double)c->v[(size_t)i * c->D + d] * fce_iglow_tape_x(c->ti)[(size_t)i * c->D + d];
    }
    return L;
}

/* Σ of the magnitudes of the float terms in L (after flow_loss): sets the finite-difference noise */
static double flow_loss_abs(const gc_ctx *c) {
    double A = 0;
    for (int i = 0; i < c->N; i++) {
        A += fabs((double)c->w[i] * fce_iglow_tape_logq(c->tf)[i]) +
             fabs((double)c->u[i] * fce_iglow_tape_logq(c->ti)[i]);
        for (int d = 0; d < c->D; d++)
            A += fabs((double)c->v[(size_t)i * c->D + d] * fce_iglow_tape_x(c->ti)[(size_t)i * c->D + d]);
    }
    return A;
}

/* flow_loss after refreshing the flow's derived parameters (the finite differences' loss) */
static double refreshed_loss(void *st) {
    gc_ctx *c = st;
    if (fce_iglow_refresh(c->g)) abort();
    return flow_loss(c);
}

static int gradcheck(int affine, int use_forward, int use_inverse) {
    enum { N = 2 };
    flow_fixture f;
    if (flow_setup(&f, small_cfg(affine), 0.1f, N, N, 0)) return 1;
    fce_iglow *const g = f.g;
    const int D = f.D;
    gc_ctx c = {.g = g, .tf = f.a, .ti = f.b, .N = N, .D = D, .T = 0.8f};
    float *x = fce_test_alloc((size_t)N * D), *v = fce_test_alloc((size_t)N * D), w[N], u[N];
    fce_test_fill_normal(x, (size_t)N * D, 21, 1.0f);
    fce_test_fill_uniform(w, N, 23, -1.0f, 1.0f);
    fce_test_fill_uniform(u, N, 24, -1.0f, 1.0f);
    fce_test_fill_uniform(v, (size_t)N * D, 25, -1.0f, 1.0f);
    if (!use_forward) memset(w, 0, sizeof w);
    if (!use_inverse) {
        memset(u, 0, sizeof u);
        memset(v, 0, (size_t)N * D * sizeof(float));
    }
    c.x = x;
    c.w = w;
    c.u = u;
    c.v = v;
    c.eps = random_eps(g, N, 22);
    /* analytic */
    ASSERT_OK(fce_iglow_zero_grad(g));
    ASSERT_OK(fce_iglow_forward(g, c.tf, x, N));
    ASSERT_OK(fce_iglow_backward(g, c.tf, w, N));
    ASSERT_OK(fce_iglow_inverse(g, c.ti, (const float *const *)c.eps, c.T, N));
    ASSERT_OK(fce_iglow_inverse_backward(g, c.ti, v, u, N));
    ASSERT_OK(fce_iglow_finish_grad(g));
    fce_param_arena *a = fce_iglow_arena(g);
    const fce_param_table *t = fce_iglow_params(g);
    const size_t nt = a->n_trainable;
    float *ana = fce_test_alloc(nt), *num = fce_test_alloc(nt);
    memcpy(ana, a->grads, nt * sizeof(float));
    /* numeric, every trainable entry (padding and LU-masked entries must have 0 both ways); where
     * the differences at h and h/2 disagree a ReLU unit crossed zero inside the stencil: such
     * coordinates keep the analytic value and are counted (≤ KINK_MAX_FRAC) */
    const double h = 1e-2;
    /* FD noise tolerance: each float log q carries a rounding error of a few ulps of its magnitude
     * (ε·Σ|terms| ≈ 6e-8·A), and a central difference divides two of them by 2h (h/2: by h; the
     * Richardson combination weighs that by 4/3); atol = GRAD_ATOL + 2·ε·A/h covers it (A is
     * printed; for A ~ 10³ this adds ~1e-2 to the 2e-3 of test_glow.c) */
    (void)flow_loss(&c);
    const double A = flow_loss_abs(&c);
    const double atol = GRAD_ATOL + 2 * 6e-8 * A / h;
    fprintf(stderr, "    loss magnitude %.4g, gradient atol %.3g\n", A, atol);
    double *kd = malloc(4 * nt * sizeof *kd); /* per coordinate: fd(h), fd(h/2), k(h), k(h/2) */
    /* Richardson: (4·fd(h/2) − fd(h))/3 cancels the O(h²) truncation error, which is not
     * negligible here (log-scales enter through e^{3·logs} and the priors through e^{−2ρ}) */
    fce_test_fd_richardson(refreshed_loss, &c, a->params, nt, h, NULL, num, kd);
    /* Kink screens. (a) as in test_glow.c: central differences at h and h/2 disagree (a kink inside
     * the stencil, well off-centre). (b) a kink at distance d ≲ h/4 from the point leaves both
     * central differences near the mean of the two slopes, so (a) misses it; the second differences
     * k(s) = L(+s) − 2L(0) + L(−s) see it: smooth, k(h) ≈ 4·k(h/2) (quadratic); with a slope jump
     * 2a at d < h/2, k(h) − 4·k(h/2) = a·(6d − 2h), so k(h)/k(h/2) leaves [3.2, 5.33] unless
     * 0.27 < d/h < 0.38, where (a) sees a spread of ~0.3a. The deviation |k(h) − 4·k(h/2)| must also
     * stand above its noise floor, measured as 2× its 90th percentile over all coordinates (≥ 95% are
     * smooth: there it is float noise of the loss plus O(h⁴) terms), and matter (> h·atol/4). */
    size_t na, nb;
    double floor_b;
    const size_t kinks = fce_test_kink_screen(kd, nt, ana, num, h, atol, GRAD_RTOL, KINK_SCREEN, &na,
                                              &nb, &floor_b);
    free(kd);
    ASSERT_OK(fce_iglow_refresh(g));
    fprintf(stderr, "    %zu of %zu coordinates excluded as ReLU kinks (%zu by h vs h/2, %zu more by the "
            "second differences, noise floor %.3g)\n", kinks, nt, na, nb, floor_b);
    ASSERT_TRUE(kinks <= (size_t)(KINK_MAX_FRAC * (double)nt));
    const int ok = fce_test_close_params(t, ana, num, atol, GRAD_RTOL);
    free(ana);
    free(num);
    free(x);
    free(v);
    free_eps(c.eps, f.cfg.L);
    flow_teardown(&f);
    ASSERT_TRUE(ok);
    return 0;
}

/* ∇ₓ of Σ w_i·log q(x_i) (fce_iglow_backward_input: the flow turn of an EBM on a flow base needs it)
 * against Richardson-extrapolated central differences over every input value, with the same kink
 * screens; dx is pre-filled with NaN (it must be overwritten); the parameter gradients must be
 * bit-identical to fce_iglow_backward's. */
typedef struct xg_ctx {
    fce_iglow *g;
    fce_iglow_tape *tp;
    const float *x, *w;
    int N;
} xg_ctx;

static double weighted_logq(void *st) {
    const xg_ctx *c = st;
    if (fce_iglow_forward(c->g, c->tp, c->x, c->N)) abort();
    double L = 0;
    for (int i = 0; i < c->N; i++) L += (double)c->w[i] * fce_iglow_tape_logq(c->tp)[i];
    return L;
}

static int input_gradcheck(int affine) {
    enum { N = 2 };
    flow_fixture f;
    if (flow_setup(&f, small_cfg(affine), 0.1f, N, N, 0)) return 1;
    const size_t nx = (size_t)N * f.D;
    const size_t np = fce_iglow_arena(f.g)->n_total;
    float *x = fce_test_alloc(nx), *dx = fce_test_alloc(nx), *num = fce_test_alloc(nx), w[N];
    float *pg = fce_test_alloc(np);
    fce_test_fill_normal(x, nx, 51, 1.0f);
    fce_test_fill_uniform(w, N, 52, -1.0f, 1.0f);
    for (size_t i = 0; i < nx; i++) dx[i] = NAN;
    xg_ctx c = {f.g, f.a, x, w, N};
    ASSERT_OK(fce_iglow_zero_grad(f.g));
    ASSERT_OK(fce_iglow_forward(f.g, f.a, x, N));
    ASSERT_OK(fce_iglow_backward_input(f.g, f.a, w, dx, N));
    memcpy(pg, fce_iglow_arena(f.g)->grads, np * sizeof(float));
    ASSERT_OK(fce_iglow_zero_grad(f.g));
    ASSERT_OK(fce_iglow_forward(f.g, f.a, x, N));
    ASSERT_OK(fce_iglow_backward(f.g, f.a, w, N));
    ASSERT_TRUE(memcmp(pg, fce_iglow_arena(f.g)->grads, np * sizeof(float)) == 0);
    double A = 0, gmax = 0; /* the loss's float terms (as gradcheck's atol) and the gradient's size */
    for (int i = 0; i < N; i++) A += fabs((double)w[i] * fce_iglow_tape_logq(f.a)[i]);
    for (size_t i = 0; i < nx; i++) gmax = fmax(gmax, fabs(dx[i]));
    const double h = 1e-2, atol = GRAD_ATOL + 2 * 6e-8 * A / h;
    double *kd = malloc(4 * nx * sizeof *kd);
    ASSERT_TRUE(kd != NULL);
    fce_test_fd_richardson(weighted_logq, &c, x, nx, h, NULL, num, kd);
    double floor_b;
    const size_t kinks = fce_test_kink_screen(kd, nx, dx, num, h, atol, GRAD_RTOL, KINK_SCREEN, NULL,
                                              NULL, &floor_b);
    free(kd);
    fprintf(stderr, "    |log q| terms %.4g, atol %.3g, max |dx| %.4g; %zu of %zu inputs excluded as "
            "kinks (floor %.3g)\n", A, atol, gmax, kinks, nx, floor_b);
    ASSERT_TRUE(gmax > 100 * atol);
    ASSERT_TRUE(kinks <= (size_t)(KINK_MAX_FRAC * (double)nx));
    EXPECT_CLOSE("d/dx sum w log q(x)", dx, num, nx, atol, GRAD_RTOL);
    free(x);
    free(dx);
    free(num);
    free(pg);
    flow_teardown(&f);
    return 0;
}

TEST(actnorm_data_init) {
    enum { N = 32 };
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_iglow_config cfg = fce_iglow_config_tiny(1);
    fce_iglow *g;
    fce_iglow_tape *tp;
    ASSERT_OK(fce_iglow_init(&g, &ctx, &cfg, 3));
    ASSERT_OK(fce_iglow_tape_init(&tp, g, N));
    const int H = cfg.H, W = cfg.W, C = cfg.C, D = H * W * C;
    float *x = fce_test_alloc((size_t)N * D);
    fce_test_fill_normal(x, (size_t)N * D, 31, 2.0f);
    for (size_t i = 0; i < (size_t)N * D; i += C) x[i] += 3.0f; /* channel 0 off-centre */
    ASSERT_TRUE(!fce_iglow_actnorm_initialized(g));
    ASSERT_OK(fce_iglow_data_init(g, tp, x, N));
    ASSERT_TRUE(fce_iglow_actnorm_initialized(g));
    /* first actnorm: on squeeze(x), channel 4c + 2dy + dx = x[2i + dy, 2j + dx, c] */
    const fce_param_table *t = fce_iglow_params(g);
    ASSERT_TRUE(strcmp(t->specs[0].name, "iglow.l0.k0.actnorm.bias") == 0);
    ASSERT_TRUE(strcmp(t->specs[1].name, "iglow.l0.k0.actnorm.logs") == 0);
    const float *b = fce_iglow_arena(g)->params + t->specs[0].offset;
    const float *ls = fce_iglow_arena(g)->params + t->specs[1].offset;
    for (int ch = 0; ch < 4 * C; ch++) {
        const int c = ch / 4, dy = (ch / 2) % 2, dx = ch % 2;
        double m = 0, v = 0;
        int cnt = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < H / 2; i++)
                for (int j = 0; j < W / 2; j++) {
                    const double xv = x[(((size_t)n * H + 2 * i + dy) * W + 2 * j + dx) * C + c];
                    m += (xv + b[ch]) * exp(3.0 * ls[ch]);
                    cnt++;
                }
        m /= cnt;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < H / 2; i++)
                for (int j = 0; j < W / 2; j++) {
                    const double xv = x[(((size_t)n * H + 2 * i + dy) * W + 2 * j + dx) * C + c];
                    const double y = (xv + b[ch]) * exp(3.0 * ls[ch]);
                    v += (y - m) * (y - m);
                }
        v /= cnt;
        ASSERT_NEAR(m, 0.0, 1e-5);
        ASSERT_NEAR(v, 1.0, 1e-4);
    }
    /* a second call must not re-initialise (SPEC h.4) */
    const float keep = b[0];
    ASSERT_OK(fce_iglow_data_init(g, tp, x, N));
    ASSERT_TRUE(b[0] == keep);
    free(x);
    fce_iglow_tape_free(tp);
    fce_iglow_free(g);
    fce_ctx_free(&ctx);
    return 0;
}

TEST(invert_additive) { return invert_check(0); }
TEST(invert_affine) { return invert_check(1); }

/* An inference tape (one coupling-network tape per level, shared by its K steps) gives bit-identical
 * forward and inverse results to a training tape: each step's network is done with its activations
 * before the next step starts. */
static int inference_tape_check(int affine) {
    enum { N = 3 };
    ASSERT_TRUE(fce_iglow_config_tiny(affine).K >= 2); /* otherwise nothing is shared */
    flow_fixture f;
    if (flow_setup(&f, fce_iglow_config_tiny(affine), 0.1f, N, N, 1)) return 1;
    fce_iglow_tape *const tt = f.a, *const ti = f.b; /* training, inference */
    const int L = f.cfg.L, D = f.D;
    float *x = fce_test_alloc((size_t)N * D);
    fce_test_fill_normal(x, (size_t)N * D, 7, 1.0f);
    ASSERT_OK(fce_iglow_forward(f.g, tt, x, N));
    ASSERT_OK(fce_iglow_forward(f.g, ti, x, N));
    ASSERT_TRUE(memcmp(fce_iglow_tape_logq(tt), fce_iglow_tape_logq(ti), N * sizeof(float)) == 0);
    for (int l = 0; l < L; l++)
        ASSERT_TRUE(memcmp(fce_iglow_tape_z(tt, l), fce_iglow_tape_z(ti, l),
                           (size_t)N * fce_iglow_n_z(f.g, l) * sizeof(float)) == 0);
    float **e = random_eps(f.g, N, 41);
    ASSERT_OK(fce_iglow_inverse(f.g, tt, (const float *const *)e, 0.8f, N));
    ASSERT_OK(fce_iglow_inverse(f.g, ti, (const float *const *)e, 0.8f, N));
    ASSERT_TRUE(memcmp(fce_iglow_tape_x(tt), fce_iglow_tape_x(ti), (size_t)N * D * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(fce_iglow_tape_logq(tt), fce_iglow_tape_logq(ti), N * sizeof(float)) == 0);
    free_eps(e, L);
    free(x);
    flow_teardown(&f);
    return 0;
}
TEST(inference_tape_additive) { return inference_tape_check(0); }
TEST(inference_tape_affine) { return inference_tape_check(1); }
TEST(logdet_brute_force_additive) { return logdet_check(0); }
TEST(logdet_brute_force_affine) { return logdet_check(1); }
TEST(grad_additive_both_directions) { return gradcheck(0, 1, 1); }
TEST(grad_affine_forward_direction) { return gradcheck(1, 1, 0); }
TEST(grad_affine_inverse_direction) { return gradcheck(1, 0, 1); }
TEST(input_grad_additive) { return input_gradcheck(0); }
TEST(input_grad_affine) { return input_gradcheck(1); }

FCE_TEST_MAIN_BEGIN
RUN_TEST(invert_additive);
RUN_TEST(invert_affine);
RUN_TEST(inference_tape_additive);
RUN_TEST(inference_tape_affine);
RUN_TEST(logdet_brute_force_additive);
RUN_TEST(logdet_brute_force_affine);
RUN_TEST(actnorm_data_init);
RUN_TEST(grad_additive_both_directions);
RUN_TEST(grad_affine_forward_direction);
RUN_TEST(grad_affine_inverse_direction);
RUN_TEST(input_grad_additive);
RUN_TEST(input_grad_affine);
FCE_TEST_MAIN_END

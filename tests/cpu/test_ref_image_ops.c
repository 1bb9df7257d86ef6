/* test_ref_image_ops.c: the image Glow reference ops of src/host/ref/ref.h (squeeze, additive
 * coupling, diagonal Gaussian prior, conv2d) against hand examples, independent loops and finite
 * differences (SPEC a.1, a.6, a.7, a.9, a.10).
 *
 * Gradient checks use L = Σ w⊙outputs with fixed random weights w: the analytic gradient is the
 * backward op called with the output gradient w, the numeric one central differences of L
 * evaluated in double from the op's float outputs. Parameter gradients (and the accumulating dz)
 * are pre-filled with a constant to check +=; overwritten gradients are pre-filled with garbage.
 * The CPU backend's op-table wrappers are exercised once at the end. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

/* Finite-difference tolerances for the nonlinear Gaussian prior: the gradcheck table of STYLE 6.11
 * (same as test_ref_gradcheck.c), 4-point stencil with step 2^-7. */
#define GRAD_ATOL 1e-3
#define GRAD_RTOL 1e-2
#define FD_H_CURVED 0x1p-7
/* Step for ops that are linear in the perturbed input (additive coupling): a power of two, so
 * x ± h is exact in float for |x| < 2 and the 2-point difference is exact up to the rounding of L. */
#define FD_H_LINEAR 0x1p-8
/* conv2d is linear in x, w and b, so central differences have no truncation error; h = 1e-2. The
 * denominator is the perturbation actually applied, (float)(p + h) − (float)(p − h), so the
 * rounding of p ± h does not bias the quotient. What is left is the float rounding of the y values
 * the perturbation touches (≤ KH·KW·Cout of them, |y| up to ~5, half an ulp ≈ 2e-7 each): ~2e-6 in
 * L, divided by 2h = 0.02, ~1e-4 (the observed worst case). atol 1e-3, rtol 1e-3 leave a margin
 * of ~10× over that and still catch any wrong index (a missing term is O(0.1–1)). */
#define CONV_FD_H 1e-2
#define CONV_GRAD_ATOL 1e-3
#define CONV_GRAD_RTOL 1e-3
/* conv2d forward against the im2col loop: both sum the same products in double and round once;
 * only the summation order differs (relative ~1e-16), which can move the float result by at most
 * one ulp (6e-8 relative). */
#define CONV_FWD_ATOL 1e-6
#define CONV_FWD_RTOL 1e-6
/* Additive coupling round trip: (x + h) − h in float is within one ulp of x's magnitude scale. */
#define COUPLING_ROUNDTRIP_ATOL 1e-6
/* Hand-computed log-densities (double formula, float result): a few float ulps of values ~5. */
#define LOGP_HAND_ATOL 2e-6
#define PREFILL_ACC 0.5f
#define PREFILL_GARBAGE 777.0f

#define CHECK_GRAD FCE_TEST_CHECK_GRAD

// ---- squeeze ----

/* Squeezing the one 2×2×C picture x (C ≤ 2) gives expect, and unsqueezing that gives x back, bit
 * for bit. */
static int check_squeeze_2x2(const float *x, const float *expect, int C) {
    const size_t bytes = (size_t)4 * C * sizeof(float);
    float y[8], back[8];
    ASSERT_TRUE(C <= 2);
    fce_ref_squeeze_forward(y, x, 1, 2, 2, C);
    ASSERT_TRUE(memcmp(y, expect, bytes) == 0);
    fce_ref_squeeze_inverse(back, y, 1, 2, 2, C);
    ASSERT_TRUE(memcmp(back, x, bytes) == 0);
    return 0;
}

TEST(squeeze_hand_c1) {
    /* x (1, 2, 2, 1) = [[a, b], [c, d]]: y[0, 0, 0, 2dy + dx] = x[dy, dx]. */
    const float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    const float expect[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    return check_squeeze_2x2(x, expect, 1);
}

TEST(squeeze_hand_c2) {
    /* x[0, h, w, c] = 100c + 10h + w, stored NHWC: index (2h + w)·2 + c. */
    const float x[8] = {0.0f, 100.0f, 1.0f, 101.0f, 10.0f, 110.0f, 11.0f, 111.0f};
    /* y[0, 0, 0, 4c + 2dy + dx] = x[dy, dx, c] = 100c + 10dy + dx. */
    const float expect[8] = {0.0f, 1.0f, 10.0f, 11.0f, 100.0f, 101.0f, 110.0f, 111.0f};
    return check_squeeze_2x2(x, expect, 2);
}

TEST(squeeze_general) {
    const int N = 2, H = 4, W = 6, C = 3, Ho = H / 2, Wo = W / 2, Co = 4 * C;
    size_t n = (size_t)N * H * W * C;
    float *x = fce_test_alloc(n), *y = fce_test_alloc(n), *back = fce_test_alloc(n);
    /* Distinct values 0..n−1 (exact in float): the output must hold each exactly once. */
    for (size_t i = 0; i < n; i++) x[i] = (float)i;
    fce_test_fill_const(y, n, -1.0f);
    fce_ref_squeeze_forward(y, x, N, H, W, C);
    int *seen = calloc(n, sizeof *seen);
    ASSERT_TRUE(seen != NULL);
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(y[i] >= 0.0f && y[i] < (float)n && y[i] == floorf(y[i]));
        seen[(size_t)y[i]]++;
    }
    for (size_t i = 0; i < n; i++) ASSERT_EQ_INT(seen[i], 1);
    free(seen);
    /* The index formula, written out independently of squeeze_ref.c. */
    for (int b = 0; b < N; b++)
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++)
                for (int c = 0; c < C; c++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            size_t yi = (((size_t)b * Ho + i) * Wo + j) * Co + 4 * c + 2 * dy + dx;
                            size_t xi = (((size_t)b * H + 2 * i + dy) * W + 2 * j + dx) * C + c;
                            ASSERT_TRUE(y[yi] == x[xi]);
                        }
    /* inverse(forward(x)) == x bit for bit, on random values. */
    fce_test_fill_normal(x, n, 31, 1.0f);
    fce_ref_squeeze_forward(y, x, N, H, W, C);
    fce_ref_squeeze_inverse(back, y, N, H, W, C);
    ASSERT_TRUE(memcmp(back, x, n * sizeof(float)) == 0);
    /* forward(inverse(y)) == y as well. */
    fce_test_fill_normal(y, n, 32, 1.0f);
    fce_ref_squeeze_inverse(x, y, N, H, W, C);
    fce_ref_squeeze_forward(back, x, N, H, W, C);
    ASSERT_TRUE(memcmp(back, y, n * sizeof(float)) == 0);
    /* The backward of forward is inverse on the gradients: <g, fwd(x)> == <inv(g), x>. */
    float *g = fce_test_alloc(n), *gx = fce_test_alloc(n);
    fce_test_fill_normal(x, n, 33, 1.0f);
    fce_test_fill_normal(g, n, 34, 1.0f);
    fce_ref_squeeze_forward(y, x, N, H, W, C);
    fce_ref_squeeze_inverse(gx, g, N, H, W, C);
    /* Same products, different order: equal up to double rounding. */
    ASSERT_NEAR(fce_test_dot(g, y, n), fce_test_dot(gx, x, n), 1e-9);
    free(x); free(y); free(back); free(g); free(gx);
    return 0;
}

// ---- additive coupling ----

typedef struct {
    float *in, *h, *out, *w;
    size_t rows;
    int C;
    float dir; /* +1: L = Σ w⊙forward(in, h); −1: L = Σ w⊙inverse(in, h) */
} additive_case;

static double additive_loss(void *st) {
    additive_case *s = st;
    if (s->dir > 0)
        fce_ref_coupling_additive_forward(s->out, s->in, s->h, s->rows, s->C);
    else
        fce_ref_coupling_additive_inverse(s->out, s->in, s->h, s->rows, s->C);
    return fce_test_dot(s->w, s->out, s->rows * (size_t)s->C);
}

TEST(coupling_additive_roundtrip) {
    const size_t rows = 2 * 3 * 5;
    const int C = 6;
    size_t n = rows * C, nh = rows * (C / 2);
    float *x = fce_test_alloc(n), *h = fce_test_alloc(nh), *y = fce_test_alloc(n),
          *back = fce_test_alloc(n);
    fce_test_fill_normal(x, n, 41, 1.0f);
    fce_test_fill_normal(h, nh, 42, 1.0f);
    fce_ref_coupling_additive_forward(y, x, h, rows, C);
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < C / 2; k++) {
            ASSERT_TRUE(y[r * C + k] == x[r * C + k]);
            ASSERT_TRUE(y[r * C + C / 2 + k] == x[r * C + C / 2 + k] + h[r * (C / 2) + k]);
        }
    fce_ref_coupling_additive_inverse(back, y, h, rows, C);
    EXPECT_CLOSE("additive inverse(forward(x))", back, x, n, COUPLING_ROUNDTRIP_ATOL, 0.0);
    free(x); free(h); free(y); free(back);
    return 0;
}

static int check_additive_backward(float dir) {
    additive_case s = {.rows = 2 * 4 * 3, .C = 4, .dir = dir};
    size_t n = s.rows * s.C, nh = s.rows * (s.C / 2);
    s.in = fce_test_alloc(n);
    s.h = fce_test_alloc(nh);
    s.out = fce_test_alloc(n);
    s.w = fce_test_alloc(n);
    fce_test_fill_uniform(s.in, n, 51, -1.5f, 1.5f);
    fce_test_fill_uniform(s.h, nh, 52, -1.5f, 1.5f);
    fce_test_fill_normal(s.w, n, 53, 1.0f);

    float *din = fce_test_alloc(n), *dh = fce_test_alloc(nh);
    fce_test_fill_const(din, n, PREFILL_GARBAGE);
    fce_test_fill_const(dh, nh, PREFILL_GARBAGE);
    fce_ref_coupling_additive_backward(din, dh, s.w, s.rows, s.C, dir);
    const char *nin = dir > 0 ? "additive fwd din" : "additive inv din";
    const char *nhn = dir > 0 ? "additive fwd dh" : "additive inv dh";
    CHECK_GRAD(nin, additive_loss, &s, s.in, n, din, FCE_TEST_FD2_APPLIED, FD_H_LINEAR, GRAD_ATOL, GRAD_RTOL);
    CHECK_GRAD(nhn, additive_loss, &s, s.h, nh, dh, FCE_TEST_FD2_APPLIED, FD_H_LINEAR, GRAD_ATOL, GRAD_RTOL);

    /* din may alias dout: same result in place. */
    float *inplace = fce_test_alloc(n), *dh2 = fce_test_alloc(nh);
    memcpy(inplace, s.w, n * sizeof(float));
    fce_test_fill_const(dh2, nh, PREFILL_GARBAGE);
    fce_ref_coupling_additive_backward(inplace, dh2, inplace, s.rows, s.C, dir);
    ASSERT_TRUE(memcmp(inplace, din, n * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(dh2, dh, nh * sizeof(float)) == 0);

    free(s.in); free(s.h); free(s.out); free(s.w); free(din); free(dh); free(inplace); free(dh2);
    return 0;
}

TEST(coupling_additive_backward_fwd) { return check_additive_backward(+1.0f); }
TEST(coupling_additive_backward_inv) { return check_additive_backward(-1.0f); }

// ---- diagonal Gaussian ----

TEST(gaussian_diag_hand) {
    /* One sample, D = 2: z = (1, 0.5), mean = (0, 1.5), logs = (0, 0.5).
     *   d0: u = 1,                 term = −½ − 0 − ½ log 2π
     *   d1: u = −1·e^{−0.5},       term = −½ e^{−1} − 0.5 − ½ log 2π */
    const float z[2] = {1.0f, 0.5f}, mean[2] = {0.0f, 1.5f}, logs[2] = {0.0f, 0.5f};
    const double log2pi = 1.8378770664093454835606594728112; /* log 2π */
    double expect = 1.25 + (-0.5 - 0.5 * log2pi) + (-0.5 * exp(-1.0) - 0.5 - 0.5 * log2pi);
    float logp = 1.25f; /* accumulates */
    fce_ref_gaussian_diag_logp(&logp, z, mean, logs, 1, 2);
    ASSERT_NEAR(logp, expect, LOGP_HAND_ATOL);

    /* Backward with g = 2: dz += −u e^{−logs} g, dmean = u e^{−logs} g, dlogs = (u² − 1) g. */
    const float g = 2.0f;
    float dz[2] = {PREFILL_ACC, PREFILL_ACC}, dmean[2] = {PREFILL_GARBAGE, PREFILL_GARBAGE},
          dlogs[2] = {PREFILL_GARBAGE, PREFILL_GARBAGE};
    fce_ref_gaussian_diag_logp_backward_acc(dz, dmean, dlogs, z, mean, logs, &g, 1, 2);
    ASSERT_NEAR(dz[0], PREFILL_ACC - 2.0, LOGP_HAND_ATOL);
    ASSERT_NEAR(dz[1], PREFILL_ACC + 2.0 * exp(-1.0), LOGP_HAND_ATOL);
    ASSERT_NEAR(dmean[0], 2.0, LOGP_HAND_ATOL);
    ASSERT_NEAR(dmean[1], -2.0 * exp(-1.0), LOGP_HAND_ATOL);
    ASSERT_NEAR(dlogs[0], 0.0, LOGP_HAND_ATOL);
    ASSERT_NEAR(dlogs[1], 2.0 * (exp(-1.0) - 1.0), LOGP_HAND_ATOL);
    return 0;
}

TEST(gaussian_diag_matches_standard_normal) {
    const int N = 3, D = 17;
    size_t n = (size_t)N * D;
    float *z = fce_test_alloc(n), *zero = fce_test_alloc(n);
    float lp_diag[3] = {0.25f, -1.0f, 3.0f}, lp_std[3] = {0.25f, -1.0f, 3.0f};
    float dlogp[3] = {0.7f, -1.3f, 0.2f};
    fce_test_fill_normal(z, n, 61, 1.5f);
    fce_test_fill_const(zero, n, 0.0f);
    fce_ref_gaussian_diag_logp(lp_diag, z, zero, zero, N, D);
    fce_ref_gaussian_logp(lp_std, z, N, D);
    /* Same double sums rounded once; allow one float ulp for summation-order freedom. */
    for (int i = 0; i < N; i++) ASSERT_NEAR(lp_diag[i], lp_std[i], 2.0 * FLT_EPSILON * fabsf(lp_std[i]));

    float *dz_diag = fce_test_alloc(n), *dz_std = fce_test_alloc(n);
    fce_test_fill_const(dz_diag, n, PREFILL_ACC);
    fce_test_fill_const(dz_std, n, PREFILL_ACC);
    fce_ref_gaussian_diag_logp_backward_acc(dz_diag, NULL, NULL, z, zero, zero, dlogp, N, D);
    fce_ref_gaussian_logp_backward_acc(dz_std, z, dlogp, N, D);
    EXPECT_CLOSE("diag dz vs standard normal dz", dz_diag, dz_std, n, 0.0, FLT_EPSILON);
    free(z); free(zero); free(dz_diag); free(dz_std);
    return 0;
}

typedef struct {
    float *z, *mean, *logs, *wl, *logp;
    int N, D;
} diag_case;

static double diag_loss(void *st) {
    diag_case *s = st;
    fce_test_fill_const(s->logp, (size_t)s->N, 0.0f);
    fce_ref_gaussian_diag_logp(s->logp, s->z, s->mean, s->logs, s->N, s->D);
    return fce_test_dot(s->wl, s->logp, (size_t)s->N);
}

TEST(gaussian_diag_backward) {
    diag_case s = {.N = 3, .D = 10};
    size_t n = (size_t)s.N * s.D;
    s.z = fce_test_alloc(n);
    s.mean = fce_test_alloc(n);
    s.logs = fce_test_alloc(n);
    s.wl = fce_test_alloc((size_t)s.N);
    s.logp = fce_test_alloc((size_t)s.N);
    fce_test_fill_normal(s.z, n, 71, 1.0f);
    fce_test_fill_normal(s.mean, n, 72, 0.5f);
    fce_test_fill_uniform(s.logs, n, 73, -0.7f, 0.7f);
    fce_test_fill_normal(s.wl, (size_t)s.N, 74, 1.0f);

    float *dz = fce_test_alloc(n), *dmean = fce_test_alloc(n), *dlogs = fce_test_alloc(n);
    fce_test_fill_const(dz, n, PREFILL_ACC);
    fce_test_fill_const(dmean, n, PREFILL_GARBAGE);
    fce_test_fill_const(dlogs, n, PREFILL_GARBAGE);
    fce_ref_gaussian_diag_logp_backward_acc(dz, dmean, dlogs, s.z, s.mean, s.logs, s.wl, s.N, s.D);
    fce_test_sub_const(dz, n, PREFILL_ACC);
    CHECK_GRAD("diag dz", diag_loss, &s, s.z, n, dz, FCE_TEST_FD4, FD_H_CURVED, GRAD_ATOL, GRAD_RTOL);
    CHECK_GRAD("diag dmean", diag_loss, &s, s.mean, n, dmean, FCE_TEST_FD4, FD_H_CURVED, GRAD_ATOL,
               GRAD_RTOL);
    CHECK_GRAD("diag dlogs", diag_loss, &s, s.logs, n, dlogs, FCE_TEST_FD4, FD_H_CURVED, GRAD_ATOL,
               GRAD_RTOL);

    /* NULL dmean / dlogs are skipped and do not change dz; each alone matches the full call. */
    float *dz2 = fce_test_alloc(n), *dmean2 = fce_test_alloc(n), *dlogs2 = fce_test_alloc(n);
    fce_test_fill_const(dz2, n, PREFILL_ACC);
    fce_ref_gaussian_diag_logp_backward_acc(dz2, NULL, NULL, s.z, s.mean, s.logs, s.wl, s.N, s.D);
    fce_test_sub_const(dz2, n, PREFILL_ACC);
    ASSERT_TRUE(memcmp(dz2, dz, n * sizeof(float)) == 0);
    fce_test_fill_const(dz2, n, PREFILL_ACC);
    fce_test_fill_const(dmean2, n, PREFILL_GARBAGE);
    fce_ref_gaussian_diag_logp_backward_acc(dz2, dmean2, NULL, s.z, s.mean, s.logs, s.wl, s.N, s.D);
    ASSERT_TRUE(memcmp(dmean2, dmean, n * sizeof(float)) == 0);
    fce_test_fill_const(dz2, n, PREFILL_ACC);
    fce_test_fill_const(dlogs2, n, PREFILL_GARBAGE);
    fce_ref_gaussian_diag_logp_backward_acc(dz2, NULL, dlogs2, s.z, s.mean, s.logs, s.wl, s.N, s.D);
    ASSERT_TRUE(memcmp(dlogs2, dlogs, n * sizeof(float)) == 0);

    free(s.z); free(s.mean); free(s.logs); free(s.wl); free(s.logp);
    free(dz); free(dmean); free(dlogs); free(dz2); free(dmean2); free(dlogs2);
    return 0;
}

// ---- conv2d ----

typedef struct {
    int N, H, W, Cin, Cout, KH, KW, stride, pad;
} conv_shape;

static int conv_ho(const conv_shape *c) { return (c->H + 2 * c->pad - c->KH) / c->stride + 1; }
static int conv_wo(const conv_shape *c) { return (c->W + 2 * c->pad - c->KW) / c->stride + 1; }

/* Independent forward: explicit im2col, then a (rows × K)·(K × Cout) product in double.
 * cols[(n, i, j), (ky, kx, c)] = x at the tap, 0 in the padding; K = KH·KW·Cin is also the length
 * of one filter w[o] in its (KH, KW, Cin) layout. */
static void conv_im2col_forward(float *y, const float *x, const float *w, const float *b,
                                const conv_shape *c) {
    int Ho = conv_ho(c), Wo = conv_wo(c);
    size_t K = (size_t)c->KH * c->KW * c->Cin, rows = (size_t)c->N * Ho * Wo;
    float *cols = fce_test_alloc(rows * K);
    for (size_t r = 0; r < rows; r++) {
        int n = (int)(r / ((size_t)Ho * Wo)), i = (int)(r / Wo % Ho), j = (int)(r % Wo);
        for (size_t k = 0; k < K; k++) {
            int ch = (int)(k % c->Cin), kx = (int)(k / c->Cin % c->KW),
                ky = (int)(k / ((size_t)c->Cin * c->KW));
            int yy = i * c->stride - c->pad + ky, xx = j * c->stride - c->pad + kx;
            int inside = yy >= 0 && yy < c->H && xx >= 0 && xx < c->W;
            cols[r * K + k] =
                inside ? x[(((size_t)n * c->H + yy) * c->W + xx) * c->Cin + ch] : 0.0f;
        }
    }
    for (size_t r = 0; r < rows; r++)
        for (int o = 0; o < c->Cout; o++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++) acc += (double)cols[r * K + k] * w[(size_t)o * K + k];
            if (b) acc += b[o];
            y[r * c->Cout + o] = (float)acc;
        }
    free(cols);
}

typedef struct {
    conv_shape sh;
    float *x, *w, *b, *y, *wt; /* wt: the loss weights */
} conv_case;

static double conv_loss(void *st) {
    conv_case *s = st;
    const conv_shape *c = &s->sh;
    fce_ref_conv2d_forward(s->y, s->x, s->w, s->b, c->N, c->H, c->W, c->Cin, c->Cout, c->KH, c->KW,
                           c->stride, c->pad);
    return fce_test_dot(s->wt, s->y, (size_t)c->N * conv_ho(c) * conv_wo(c) * c->Cout);
}

static int check_conv(conv_shape c, uint64_t seed) {
    conv_case s = {.sh = c};
    int Ho = conv_ho(&c), Wo = conv_wo(&c);
    size_t nx = (size_t)c.N * c.H * c.W * c.Cin, nw = (size_t)c.Cout * c.KH * c.KW * c.Cin,
           ny = (size_t)c.N * Ho * Wo * c.Cout, nb = (size_t)c.Cout;
    fprintf(stderr, "  conv N=%d H=%d W=%d Cin=%d Cout=%d K=%dx%d stride=%d pad=%d -> %dx%d\n", c.N,
            c.H, c.W, c.Cin, c.Cout, c.KH, c.KW, c.stride, c.pad, Ho, Wo);
    s.x = fce_test_alloc(nx);
    s.w = fce_test_alloc(nw);
    s.b = fce_test_alloc(nb);
    s.y = fce_test_alloc(ny);
    s.wt = fce_test_alloc(ny);
    fce_test_fill_normal(s.x, nx, seed, 1.0f);
    fce_test_fill_normal(s.w, nw, seed + 1, 0.5f);
    fce_test_fill_normal(s.b, nb, seed + 2, 0.5f);
    fce_test_fill_normal(s.wt, ny, seed + 3, 1.0f);

    /* Forward, with and without bias, against im2col. */
    float *yref = fce_test_alloc(ny);
    fce_ref_conv2d_forward(s.y, s.x, s.w, s.b, c.N, c.H, c.W, c.Cin, c.Cout, c.KH, c.KW, c.stride,
                           c.pad);
    conv_im2col_forward(yref, s.x, s.w, s.b, &c);
    EXPECT_CLOSE("conv forward vs im2col", s.y, yref, ny, CONV_FWD_ATOL, CONV_FWD_RTOL);
    fce_ref_conv2d_forward(s.y, s.x, s.w, NULL, c.N, c.H, c.W, c.Cin, c.Cout, c.KH, c.KW, c.stride,
                           c.pad);
    conv_im2col_forward(yref, s.x, s.w, NULL, &c);
    EXPECT_CLOSE("conv forward (b = NULL) vs im2col", s.y, yref, ny, CONV_FWD_ATOL, CONV_FWD_RTOL);

    /* Backward: dx overwrite, dw/db accumulate. */
    float *dx = fce_test_alloc(nx), *dw = fce_test_alloc(nw), *db = fce_test_alloc(nb);
    fce_test_fill_const(dx, nx, PREFILL_GARBAGE);
    fce_test_fill_const(dw, nw, PREFILL_ACC);
    fce_test_fill_const(db, nb, PREFILL_ACC);
    fce_ref_conv2d_backward_data(dx, s.wt, s.w, c.N, c.H, c.W, c.Cin, c.Cout, c.KH, c.KW, c.stride,
                                 c.pad);
    fce_ref_conv2d_backward_filter(dw, db, s.wt, s.x, c.N, c.H, c.W, c.Cin, c.Cout, c.KH, c.KW,
                                   c.stride, c.pad);
    fce_test_sub_const(dw, nw, PREFILL_ACC);
    fce_test_sub_const(db, nb, PREFILL_ACC);
    CHECK_GRAD("conv dx", conv_loss, &s, s.x, nx, dx, FCE_TEST_FD2_APPLIED, CONV_FD_H, CONV_GRAD_ATOL,
               CONV_GRAD_RTOL);
    CHECK_GRAD("conv dw", conv_loss, &s, s.w, nw, dw, FCE_TEST_FD2_APPLIED, CONV_FD_H, CONV_GRAD_ATOL,
               CONV_GRAD_RTOL);
    CHECK_GRAD("conv db", conv_loss, &s, s.b, nb, db, FCE_TEST_FD2_APPLIED, CONV_FD_H, CONV_GRAD_ATOL,
               CONV_GRAD_RTOL);

    /* db = NULL is skipped and leaves dw as it was; a second call adds the gradient again. */
    float *dw2 = fce_test_alloc(nw);
    fce_test_fill_const(dw2, nw, 0.0f);
    fce_ref_conv2d_backward_filter(dw2, NULL, s.wt, s.x, c.N, c.H, c.W, c.Cin, c.Cout, c.KH, c.KW,
                                   c.stride, c.pad);
    float *twice = fce_test_alloc(nw);
    memcpy(twice, dw2, nw * sizeof(float));
    fce_ref_conv2d_backward_filter(twice, NULL, s.wt, s.x, c.N, c.H, c.W, c.Cin, c.Cout, c.KH,
                                   c.KW, c.stride, c.pad);
    for (size_t i = 0; i < nw; i++) dw2[i] *= 2.0f; /* exact: g + g == 2g in float */
    ASSERT_TRUE(memcmp(twice, dw2, nw * sizeof(float)) == 0);

    free(s.x); free(s.w); free(s.b); free(s.y); free(s.wt); free(yref);
    free(dx); free(dw); free(db); free(dw2); free(twice);
    return 0;
}

/* One test per shape: check_conv((conv_shape){N, H, W, Cin, Cout, KH, KW, stride, pad}, seed). */
TEST(conv2d_3x3_pad1)             { return check_conv((conv_shape){1, 4, 4, 2, 2, 3, 3, 1, 1}, 101); }
TEST(conv2d_3x3_pad1_odd_n2)      { return check_conv((conv_shape){2, 5, 7, 3, 4, 3, 3, 1, 1}, 111); }
TEST(conv2d_1x1)                  { return check_conv((conv_shape){2, 3, 5, 4, 6, 1, 1, 1, 0}, 121); }
TEST(conv2d_4x4_stride2_pad1)     { return check_conv((conv_shape){2, 8, 6, 3, 5, 4, 4, 2, 1}, 131); }
TEST(conv2d_3x3_stride2_pad0_odd) { return check_conv((conv_shape){1, 7, 5, 2, 3, 3, 3, 2, 0}, 141); }
TEST(conv2d_3x2_nonsquare_kernel) { return check_conv((conv_shape){2, 5, 6, 2, 3, 3, 2, 1, 1}, 151); }

// ---- the CPU op table routes to the reference ops ----

TEST(cpu_backend_table) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    const fce_backend_ops *ops = ctx.ops;
    ASSERT_TRUE(ops->squeeze_forward && ops->squeeze_inverse && ops->coupling_additive_forward &&
                ops->coupling_additive_inverse && ops->coupling_additive_backward &&
                ops->gaussian_diag_logp && ops->gaussian_diag_logp_backward_acc);
    const int N = 2, H = 4, W = 2, C = 2;
    size_t n = (size_t)N * H * W * C, rows = n / 8, nh = rows * 4;
    float *x = fce_test_alloc(n), *y = fce_test_alloc(n), *yr = fce_test_alloc(n),
          *h = fce_test_alloc(nh), *dh = fce_test_alloc(nh), *dhr = fce_test_alloc(nh);
    fce_test_fill_normal(x, n, 201, 1.0f);
    fce_test_fill_normal(h, nh, 202, 1.0f);

    ASSERT_OK(ops->squeeze_forward(&ctx, y, x, N, H, W, C));
    fce_ref_squeeze_forward(yr, x, N, H, W, C);
    ASSERT_TRUE(memcmp(y, yr, n * sizeof(float)) == 0);
    ASSERT_OK(ops->squeeze_inverse(&ctx, y, x, N, H, W, C));
    fce_ref_squeeze_inverse(yr, x, N, H, W, C);
    ASSERT_TRUE(memcmp(y, yr, n * sizeof(float)) == 0);

    /* (rows, 4C = 8) after the squeeze: h is (rows, 4), rows = N·(H/2)·(W/2). */
    ASSERT_OK(ops->coupling_additive_forward(&ctx, y, x, h, rows, 8));
    fce_ref_coupling_additive_forward(yr, x, h, rows, 8);
    ASSERT_TRUE(memcmp(y, yr, n * sizeof(float)) == 0);
    ASSERT_OK(ops->coupling_additive_inverse(&ctx, y, x, h, rows, 8));
    fce_ref_coupling_additive_inverse(yr, x, h, rows, 8);
    ASSERT_TRUE(memcmp(y, yr, n * sizeof(float)) == 0);
    ASSERT_OK(ops->coupling_additive_backward(&ctx, y, dh, x, rows, 8, -1.0f));
    fce_ref_coupling_additive_backward(yr, dhr, x, rows, 8, -1.0f);
    ASSERT_TRUE(memcmp(y, yr, n * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(dh, dhr, nh * sizeof(float)) == 0);

    /* Diagonal Gaussian over D = n/N values per sample. */
    const int D = (int)(n / N);
    float lp[2] = {0.5f, -0.5f}, lpr[2] = {0.5f, -0.5f}, g[2] = {1.5f, -0.25f};
    float *mean = fce_test_alloc(n), *logs = fce_test_alloc(n), *dz = fce_test_alloc(n),
          *dzr = fce_test_alloc(n), *dm = fce_test_alloc(n), *dmr = fce_test_alloc(n);
    fce_test_fill_normal(mean, n, 203, 0.5f);
    fce_test_fill_uniform(logs, n, 204, -0.5f, 0.5f);
    ASSERT_OK(ops->gaussian_diag_logp(&ctx, lp, x, mean, logs, N, D));
    fce_ref_gaussian_diag_logp(lpr, x, mean, logs, N, D);
    ASSERT_TRUE(memcmp(lp, lpr, sizeof lp) == 0);
    fce_test_fill_const(dz, n, PREFILL_ACC);
    fce_test_fill_const(dzr, n, PREFILL_ACC);
    ASSERT_OK(ops->gaussian_diag_logp_backward_acc(&ctx, dz, dm, NULL, x, mean, logs, g, N, D));
    fce_ref_gaussian_diag_logp_backward_acc(dzr, dmr, NULL, x, mean, logs, g, N, D);
    ASSERT_TRUE(memcmp(dz, dzr, n * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(dm, dmr, n * sizeof(float)) == 0);

    free(x); free(y); free(yr); free(h); free(dh); free(dhr);
    free(mean); free(logs); free(dz); free(dzr); free(dm); free(dmr);
    fce_ctx_free(&ctx);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(squeeze_hand_c1);
RUN_TEST(squeeze_hand_c2);
RUN_TEST(squeeze_general);
RUN_TEST(coupling_additive_roundtrip);
RUN_TEST(coupling_additive_backward_fwd);
RUN_TEST(coupling_additive_backward_inv);
RUN_TEST(gaussian_diag_hand);
RUN_TEST(gaussian_diag_matches_standard_normal);
RUN_TEST(gaussian_diag_backward);
RUN_TEST(conv2d_3x3_pad1);
RUN_TEST(conv2d_3x3_pad1_odd_n2);
RUN_TEST(conv2d_1x1);
RUN_TEST(conv2d_4x4_stride2_pad1);
RUN_TEST(conv2d_3x3_stride2_pad0_odd);
RUN_TEST(conv2d_3x2_nonsquare_kernel);
RUN_TEST(cpu_backend_table);
FCE_TEST_MAIN_END

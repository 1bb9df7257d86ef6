/* test_ref_gradcheck.c: every backward in src/host/ref/ref.h against finite differences of its
 * forward (STYLE 6.8 "who checks the oracle", 6.11).
 *
 * For each op the scalar loss is L = Σ w⊙outputs with fixed random weights w, including a weight
 * wl on the per-sample log-det output when the op has one. The analytic gradient comes from the
 * backward op called with dy = w (and dlogdet = wl); the numeric one from central differences of
 * L, evaluated in double from the op's float outputs: a 2-point stencil for ops that are linear
 * in the perturbed input (exact up to rounding), the 4-point stencil (ggml grad_precise) for ops
 * with curvature. At most 200 coordinates per tensor are checked.
 * Parameter gradients are pre-filled with a constant to check that they accumulate (+=);
 * activation gradients are pre-filled with garbage to check that they are overwritten (=). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce_test.h"
#include "op_cases.h"
#include "ref/ref.h"
#include "test_util.h"

/* The analytic value is compared with the FD value as reference: |ana − fd| ≤ atol + rtol·|fd|,
 * with the finite-difference class of the op tolerances (TOL_FD_*, tests/ops/op_cases.h). */
/* Step sizes are powers of two so x ± h and x ± 2h are exact in float for the |x| < 2 inputs
 * used here. 2^-7 ≈ 7.8e-3 for the 4-point stencil (truncation O(h⁴) ≈ 4e-9 times the fifth
 * derivative; rounding noise ≈ 1e-7/h ≈ 1e-5); 2^-8 for linear maps where only rounding counts. */
#define FD_H_CURVED 0x1p-7
#define FD_H_LINEAR 0x1p-8
/* Pre-fill values: parameter gradients must come back as PREFILL_ACC + gradient; activation
 * gradients must not depend on their previous contents. */
#define PREFILL_ACC 0.5f
#define PREFILL_GARBAGE 777.0f

/* The FD step by stencil: FD_H_CURVED for the 4-point one, FD_H_LINEAR for the 2-point one; the
 * check covers ≤ 200 evenly spread coordinates (fce_test_check_grad). */
#define CHECK_GRAD(name, f, st, param, n, analytic, stencil)                                       \
    FCE_TEST_CHECK_GRAD(name, f, st, param, n, analytic, stencil,                                  \
                        (stencil) == FCE_TEST_FD4 ? FD_H_CURVED : FD_H_LINEAR, TOL_FD_ATOL,         \
                        TOL_FD_RTOL)

/* A tensor of n values in ±[lo, hi]: magnitude uniform in [lo, hi], random sign. Keeps inputs
 * away from 0 where that matters (the ReLU kink). */
static void fill_away_from_zero(float *x, size_t n, uint64_t seed, float lo, float hi) {
    float *sgn = fce_test_alloc(n);
    fce_test_fill_uniform(x, n, seed, lo, hi);
    fce_test_fill_uniform(sgn, n, seed + 1000, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
        if (sgn[i] < 0.0f) x[i] = -x[i];
    free(sgn);
}

// ---- linear ----

typedef struct {
    float *x, *W, *b, *y, *w;
    int N, in, out;
} linear_case;

static double linear_loss(void *st) {
    linear_case *s = st;
    fce_ref_linear_forward(s->y, s->x, s->W, s->b, s->N, s->in, s->out);
    return fce_test_dot(s->w, s->y, (size_t)s->N * s->out);
}

TEST(linear) {
    linear_case s = {.N = 3, .in = 4, .out = 5};
    size_t nx = (size_t)s.N * s.in, nW = (size_t)s.out * s.in, ny = (size_t)s.N * s.out;
    s.x = fce_test_alloc(nx);
    s.W = fce_test_alloc(nW);
    s.b = fce_test_alloc((size_t)s.out);
    s.y = fce_test_alloc(ny);
    s.w = fce_test_alloc(ny);
    fce_test_fill_normal(s.x, nx, 11, 1.0f);
    fce_test_fill_normal(s.W, nW, 12, 0.5f);
    fce_test_fill_normal(s.b, (size_t)s.out, 13, 0.5f);
    fce_test_fill_normal(s.w, ny, 14, 1.0f);

    float *dx = fce_test_alloc(nx), *dW = fce_test_alloc(nW), *db = fce_test_alloc((size_t)s.out);
    fce_test_fill_const(dx, nx, PREFILL_GARBAGE);
    fce_test_fill_const(dW, nW, PREFILL_ACC);
    fce_test_fill_const(db, (size_t)s.out, PREFILL_ACC);
    fce_ref_linear_backward(dx, dW, db, s.w, s.x, s.W, s.N, s.in, s.out);
    fce_test_sub_const(dW, nW, PREFILL_ACC);
    fce_test_sub_const(db, (size_t)s.out, PREFILL_ACC);

    CHECK_GRAD("linear dx", linear_loss, &s, s.x, nx, dx, FCE_TEST_FD2);
    CHECK_GRAD("linear dW", linear_loss, &s, s.W, nW, dW, FCE_TEST_FD2);
    CHECK_GRAD("linear db", linear_loss, &s, s.b, (size_t)s.out, db, FCE_TEST_FD2);

    /* NULL outputs are skipped: only dx requested must give the same dx. */
    float *dx2 = fce_test_alloc(nx);
    fce_ref_linear_backward(dx2, NULL, NULL, s.w, s.x, s.W, s.N, s.in, s.out);
    ASSERT_TRUE(memcmp(dx, dx2, nx * sizeof(float)) == 0);

    /* Without a bias the output is the bias-free product. */
    float *b = s.b;
    s.b = NULL;
    float *dW2 = fce_test_alloc(nW);
    fce_ref_linear_backward(NULL, dW2, NULL, s.w, s.x, s.W, s.N, s.in, s.out);
    CHECK_GRAD("linear dW (b = NULL)", linear_loss, &s, s.W, nW, dW2, FCE_TEST_FD2);

    free(s.x); free(s.W); free(b); free(s.y); free(s.w);
    free(dx); free(dW); free(db); free(dx2); free(dW2);
    return 0;
}

// ---- leaky ReLU ----

typedef struct {
    float *x, *y, *w;
    size_t n;
    float slope;
} relu_case;

static double relu_loss(void *st) {
    relu_case *s = st;
    fce_ref_leaky_relu_forward(s->y, s->x, s->n, s->slope);
    return fce_test_dot(s->w, s->y, s->n);
}

static int check_leaky_relu(float slope) {
    relu_case s = {.n = 64, .slope = slope};
    s.x = fce_test_alloc(s.n);
    s.y = fce_test_alloc(s.n);
    s.w = fce_test_alloc(s.n);
    /* |x| ≥ 0.1 ≫ FD_H_LINEAR: no stencil point crosses the kink (ggml grad_expect). */
    fill_away_from_zero(s.x, s.n, 21, 0.1f, 1.5f);
    fce_test_fill_normal(s.w, s.n, 22, 1.0f);

    float *dx = fce_test_alloc(s.n);
    fce_test_fill_const(dx, s.n, PREFILL_GARBAGE);
    fce_ref_leaky_relu_backward(dx, s.w, s.x, s.n, slope);
    CHECK_GRAD(slope == 0.0f ? "relu dx" : "leaky_relu(0.2) dx", relu_loss, &s, s.x, s.n, dx,
               FCE_TEST_FD2);

    /* dx may alias dy. */
    float *inplace = fce_test_alloc(s.n);
    memcpy(inplace, s.w, s.n * sizeof(float));
    fce_ref_leaky_relu_backward(inplace, inplace, s.x, s.n, slope);
    ASSERT_TRUE(memcmp(inplace, dx, s.n * sizeof(float)) == 0);

    free(s.x); free(s.y); free(s.w); free(dx); free(inplace);
    return 0;
}

TEST(leaky_relu_slope_0_2) { return check_leaky_relu(0.2f); }
TEST(relu_slope_0) { return check_leaky_relu(0.0f); }

// ---- channels_copy ----

typedef struct {
    float *dst0, *dst, *src, *w;
    int dst_C, dst_c0, src_C, src_c0, count, accumulate;
    size_t rows;
} chan_case;

static double chan_loss(void *st) {
    chan_case *s = st;
    memcpy(s->dst, s->dst0, s->rows * (size_t)s->dst_C * sizeof(float));
    fce_ref_channels_copy(s->dst, s->dst_C, s->dst_c0, s->src, s->src_C, s->src_c0, s->count,
                          s->rows, s->accumulate);
    return fce_test_dot(s->w, s->dst, s->rows * (size_t)s->dst_C);
}

static int check_channels_copy(int accumulate) {
    chan_case s = {.dst_C = 4, .dst_c0 = 2, .src_C = 5, .src_c0 = 1, .count = 2,
                   .accumulate = accumulate, .rows = 3};
    size_t nd = s.rows * (size_t)s.dst_C, ns = s.rows * (size_t)s.src_C;
    s.dst0 = fce_test_alloc(nd);
    s.dst = fce_test_alloc(nd);
    s.src = fce_test_alloc(ns);
    s.w = fce_test_alloc(nd);
    fce_test_fill_normal(s.dst0, nd, 31, 1.0f);
    fce_test_fill_normal(s.src, ns, 32, 1.0f);
    fce_test_fill_normal(s.w, nd, 33, 1.0f);

    /* The map itself, element by element. */
    chan_loss(&s);
    for (size_t r = 0; r < s.rows; r++) {
        for (int c = 0; c < s.dst_C; c++) {
            float want = s.dst0[r * s.dst_C + c];
            int k = c - s.dst_c0;
            if (k >= 0 && k < s.count) {
                float v = s.src[r * s.src_C + s.src_c0 + k];
                want = accumulate ? want + v : v;
            }
            ASSERT_TRUE(s.dst[r * s.dst_C + c] == want);
        }
    }

    /* Its adjoint: dsrc = reverse copy of w with accumulate; d(dst0) = w, except the slice when
     * the copy overwrites. */
    float *dsrc = fce_test_alloc(ns), *ddst0 = fce_test_alloc(nd);
    fce_ref_channels_copy(dsrc, s.src_C, s.src_c0, s.w, s.dst_C, s.dst_c0, s.count, s.rows, 1);
    memcpy(ddst0, s.w, nd * sizeof(float));
    if (!accumulate)
        for (size_t r = 0; r < s.rows; r++)
            for (int k = 0; k < s.count; k++) ddst0[r * s.dst_C + s.dst_c0 + k] = 0.0f;
    CHECK_GRAD(accumulate ? "channels_copy(acc) dsrc" : "channels_copy dsrc", chan_loss, &s, s.src,
               ns, dsrc, FCE_TEST_FD2);
    CHECK_GRAD(accumulate ? "channels_copy(acc) ddst" : "channels_copy ddst", chan_loss, &s, s.dst0,
               nd, ddst0, FCE_TEST_FD2);

    free(s.dst0); free(s.dst); free(s.src); free(s.w); free(dsrc); free(ddst0);
    return 0;
}

TEST(channels_copy_overwrite) { return check_channels_copy(0); }
TEST(channels_copy_accumulate) { return check_channels_copy(1); }

// ---- flow layers with a log-det: actnorm, affine coupling ----

/* A flow layer's loss: L = Σ w⊙out + Σ wl⊙logdet (the log-det term only with use_logdet), with
 * the log-det accumulator starting at LOGDET_START. run computes out and logdet from in and the
 * layer's parameters (the forward, or the inverse with `inverse`). */
typedef struct layer_io layer_io;
struct layer_io {
    float *in, *out, *logdet, *w, *wl;
    float *param[2]; /* actnorm: bias, logs; affine coupling: h */
    int N, HW, C, inverse, use_logdet;
    void (*run)(const layer_io *io);
};

#define LOGDET_START 0.75f /* log-det accumulators start nonzero: the ops add to them */

/* in, w, wl ~ N(0, 1) from seeds seed, seed + w_off, seed + w_off + 1. */
static void layer_io_init(layer_io *io, uint64_t seed, uint64_t w_off) {
    size_t n = (size_t)io->N * io->HW * io->C, N = (size_t)io->N;
    io->in = fce_test_alloc(n);
    io->out = fce_test_alloc(n);
    io->logdet = fce_test_alloc(N);
    io->w = fce_test_alloc(n);
    io->wl = fce_test_alloc(N);
    fce_test_fill_normal(io->in, n, seed, 1.0f);
    fce_test_fill_normal(io->w, n, seed + w_off, 1.0f);
    fce_test_fill_normal(io->wl, N, seed + w_off + 1, 1.0f);
}

static void layer_io_free(layer_io *io) {
    free(io->in); free(io->out); free(io->logdet); free(io->w); free(io->wl);
    free(io->param[0]); free(io->param[1]);
}

static double layer_loss(void *st) {
    layer_io *io = st;
    fce_test_fill_const(io->logdet, (size_t)io->N, LOGDET_START);
    io->run(io);
    double L = fce_test_dot(io->w, io->out, (size_t)io->N * io->HW * io->C);
    if (io->use_logdet) L += fce_test_dot(io->wl, io->logdet, (size_t)io->N);
    return L;
}

/* "<op> <what>" and " (no logdet)" without the log-det term, e.g. "actnorm_inv dbias". */
static const char *layer_grad_name(char *buf, size_t len, const layer_io *io, const char *op,
                                   const char *what) {
    snprintf(buf, len, "%s%s %s%s", op, io->inverse ? "_inv" : "", what,
             io->use_logdet ? "" : " (no logdet)");
    return buf;
}

/* din: the gradient w.r.t. the layer's input, the name of which depends on the direction. */
#define LAYER_DIN_NAME(io) ((io)->inverse ? "dy" : "dx")

static void actnorm_run(const layer_io *io) {
    (io->inverse ? fce_ref_actnorm_inverse : fce_ref_actnorm_forward)(
        io->out, io->logdet, io->in, io->param[0], io->param[1], io->N, io->HW, io->C);
}

static int check_actnorm(int inverse, int use_logdet) {
    layer_io s = {.N = 2, .HW = 3, .C = 3, .inverse = inverse, .use_logdet = use_logdet,
                  .run = actnorm_run};
    layer_io *io = &s;
    const size_t n = (size_t)io->N * io->HW * io->C, C = (size_t)io->C;
    layer_io_init(io, 41, 3);
    float *bias = io->param[0] = fce_test_alloc(C), *logs = io->param[1] = fce_test_alloc(C);
    fce_test_fill_normal(bias, C, 42, 0.5f);
    fce_test_fill_normal(logs, C, 43, 0.15f);

    layer_loss(io); /* io->out = the op's output at the base point */
    float *din = fce_test_alloc(n), *dbias = fce_test_alloc(C), *dlogs = fce_test_alloc(C);
    fce_test_fill_const(din, n, PREFILL_GARBAGE);
    fce_test_fill_const(dbias, C, PREFILL_ACC);
    fce_test_fill_const(dlogs, C, PREFILL_ACC);
    const float *dlogdet = use_logdet ? io->wl : NULL;
    (inverse ? fce_ref_actnorm_inverse_backward : fce_ref_actnorm_backward)(
        din, dbias, dlogs, io->w, io->out, dlogdet, bias, logs, io->N, io->HW, io->C);
    fce_test_sub_const(dbias, C, PREFILL_ACC);
    fce_test_sub_const(dlogs, C, PREFILL_ACC);

    char name[64];
    CHECK_GRAD(layer_grad_name(name, sizeof name, io, "actnorm", LAYER_DIN_NAME(io)), layer_loss,
               io, io->in, n, din, FCE_TEST_FD4);
    CHECK_GRAD(layer_grad_name(name, sizeof name, io, "actnorm", "dbias"), layer_loss, io, bias, C,
               dbias, FCE_TEST_FD4);
    CHECK_GRAD(layer_grad_name(name, sizeof name, io, "actnorm", "dlogs"), layer_loss, io, logs, C,
               dlogs, FCE_TEST_FD4);

    layer_io_free(io);
    free(din); free(dbias); free(dlogs);
    return 0;
}

TEST(actnorm_backward) { return check_actnorm(0, 1); }
TEST(actnorm_backward_no_logdet) { return check_actnorm(0, 0); }
TEST(actnorm_inverse_backward) { return check_actnorm(1, 1); }
TEST(actnorm_inverse_backward_no_logdet) { return check_actnorm(1, 0); }

// ---- invconv (LU) ----

/* Loss through the weights: the forward direction y = x Wᵀ with logdet dir +1, the inverse
 * direction x = y Winvᵀ with logdet dir −1, or both at once (G then has both terms). */
enum { INVCONV_FWD = 1, INVCONV_INV = 2, INVCONV_BOTH = 3 };

typedef struct {
    float *perm, *sign, *L, *U, *logs, *W, *Winv;
    float *xf, *yf, *wf, *ldf, *wlf; /* forward direction: input, output, weights */
    float *yi, *xi, *wi, *ldi, *wli; /* inverse direction */
    int N, HW, C, mode;
} invconv_case;

static double invconv_loss(void *st) {
    invconv_case *s = st;
    int rows = s->N * s->HW;
    size_t n = (size_t)rows * s->C;
    double L = 0.0;
    fce_ref_invconv_lu_weights(s->W, s->Winv, s->perm, s->sign, s->L, s->U, s->logs, s->C);
    if (s->mode & INVCONV_FWD) {
        fce_ref_linear_forward(s->yf, s->xf, s->W, NULL, rows, s->C, s->C);
        fce_test_fill_const(s->ldf, (size_t)s->N, LOGDET_START);
        fce_ref_invconv_logdet(s->ldf, s->logs, s->N, s->HW, s->C, +1.0f);
        L += fce_test_dot(s->wf, s->yf, n) + fce_test_dot(s->wlf, s->ldf, (size_t)s->N);
    }
    if (s->mode & INVCONV_INV) {
        fce_ref_linear_forward(s->xi, s->yi, s->Winv, NULL, rows, s->C, s->C);
        fce_test_fill_const(s->ldi, (size_t)s->N, LOGDET_START);
        fce_ref_invconv_logdet(s->ldi, s->logs, s->N, s->HW, s->C, -1.0f);
        L += fce_test_dot(s->wi, s->xi, n) + fce_test_dot(s->wli, s->ldi, (size_t)s->N);
    }
    return L;
}

static int check_invconv(int C, const float *perm, const float *sign, int mode, uint64_t seed) {
    invconv_case s = {.N = 2, .HW = 3, .C = C, .mode = mode};
    size_t CC = (size_t)C * C, n = (size_t)s.N * s.HW * C, N = (size_t)s.N;
    s.perm = fce_test_alloc((size_t)C);
    s.sign = fce_test_alloc((size_t)C);
    memcpy(s.perm, perm, (size_t)C * sizeof(float));
    memcpy(s.sign, sign, (size_t)C * sizeof(float));
    s.L = fce_test_alloc(CC);
    s.U = fce_test_alloc(CC);
    s.logs = fce_test_alloc((size_t)C);
    s.W = fce_test_alloc(CC);
    s.Winv = fce_test_alloc(CC);
    float **bufs[] = {&s.xf, &s.yf, &s.wf, &s.yi, &s.xi, &s.wi};
    for (int b = 0; b < 6; b++) *bufs[b] = fce_test_alloc(n);
    s.ldf = fce_test_alloc(N);
    s.wlf = fce_test_alloc(N);
    s.ldi = fce_test_alloc(N);
    s.wli = fce_test_alloc(N);
    /* Masked-out entries of L and U get values too: they must be ignored (FD gradient 0). */
    fce_test_fill_normal(s.L, CC, seed + 1, 0.5f);
    fce_test_fill_normal(s.U, CC, seed + 2, 0.5f);
    fce_test_fill_normal(s.logs, (size_t)C, seed + 3, 0.3f);
    fce_test_fill_normal(s.xf, n, seed + 4, 1.0f);
    fce_test_fill_normal(s.wf, n, seed + 5, 1.0f);
    fce_test_fill_normal(s.yi, n, seed + 6, 1.0f);
    fce_test_fill_normal(s.wi, n, seed + 7, 1.0f);
    fce_test_fill_normal(s.wlf, N, seed + 8, 1.0f);
    fce_test_fill_normal(s.wli, N, seed + 9, 1.0f);

    invconv_loss(&s); /* W, Winv at the base point */
    float *dW = fce_test_alloc(CC), *dWinv = fce_test_alloc(CC);
    float *dxf = fce_test_alloc(n), *dyi = fce_test_alloc(n);
    float *dL = fce_test_alloc(CC), *dU = fce_test_alloc(CC), *dlogs = fce_test_alloc((size_t)C);
    fce_test_fill_const(dL, CC, PREFILL_ACC);
    fce_test_fill_const(dU, CC, PREFILL_ACC);
    fce_test_fill_const(dlogs, (size_t)C, PREFILL_ACC);
    int rows = s.N * s.HW;
    if (mode & INVCONV_FWD) {
        fce_ref_linear_backward(dxf, dW, NULL, s.wf, s.xf, s.W, rows, C, C);
        fce_ref_invconv_logdet_backward(dlogs, s.wlf, s.N, s.HW, C, +1.0f);
    }
    if (mode & INVCONV_INV) {
        fce_ref_linear_backward(dyi, dWinv, NULL, s.wi, s.yi, s.Winv, rows, C, C);
        fce_ref_invconv_logdet_backward(dlogs, s.wli, s.N, s.HW, C, -1.0f);
    }
    fce_ref_invconv_lu_backward(dL, dU, dlogs, (mode & INVCONV_FWD) ? dW : NULL,
                                (mode & INVCONV_INV) ? dWinv : NULL, s.Winv, s.perm, s.sign, s.L,
                                s.U, s.logs, C);
    fce_test_sub_const(dL, CC, PREFILL_ACC);
    fce_test_sub_const(dU, CC, PREFILL_ACC);
    fce_test_sub_const(dlogs, (size_t)C, PREFILL_ACC);

    static const char *mode_name[] = {"", "fwd", "inv", "fwd+inv"};
    char name[64];
    snprintf(name, sizeof name, "invconv C=%d %s dL", C, mode_name[mode]);
    CHECK_GRAD(name, invconv_loss, &s, s.L, CC, dL, FCE_TEST_FD4);
    snprintf(name, sizeof name, "invconv C=%d %s dU", C, mode_name[mode]);
    CHECK_GRAD(name, invconv_loss, &s, s.U, CC, dU, FCE_TEST_FD4);
    snprintf(name, sizeof name, "invconv C=%d %s dlogs", C, mode_name[mode]);
    CHECK_GRAD(name, invconv_loss, &s, s.logs, (size_t)C, dlogs, FCE_TEST_FD4);
    if (mode & INVCONV_FWD) {
        snprintf(name, sizeof name, "invconv C=%d %s dx", C, mode_name[mode]);
        CHECK_GRAD(name, invconv_loss, &s, s.xf, n, dxf, FCE_TEST_FD2);
    }
    if (mode & INVCONV_INV) {
        snprintf(name, sizeof name, "invconv C=%d %s dy", C, mode_name[mode]);
        CHECK_GRAD(name, invconv_loss, &s, s.yi, n, dyi, FCE_TEST_FD2);
    }

    free(s.perm); free(s.sign); free(s.L); free(s.U); free(s.logs); free(s.W); free(s.Winv);
    for (int b = 0; b < 6; b++) free(*bufs[b]);
    free(s.ldf); free(s.wlf); free(s.ldi); free(s.wli);
    free(dW); free(dWinv); free(dxf); free(dyi); free(dL); free(dU); free(dlogs);
    return 0;
}

static const float PERM2[2] = {1.0f, 0.0f}, SIGN2[2] = {-1.0f, 1.0f};
static const float PERM4[4] = {2.0f, 0.0f, 3.0f, 1.0f}, SIGN4[4] = {1.0f, -1.0f, -1.0f, 1.0f};

TEST(invconv_lu_backward_c2_dW) { return check_invconv(2, PERM2, SIGN2, INVCONV_FWD, 500); }
TEST(invconv_lu_backward_c2_dWinv) { return check_invconv(2, PERM2, SIGN2, INVCONV_INV, 510); }
TEST(invconv_lu_backward_c2_both) { return check_invconv(2, PERM2, SIGN2, INVCONV_BOTH, 520); }
TEST(invconv_lu_backward_c4_dW) { return check_invconv(4, PERM4, SIGN4, INVCONV_FWD, 530); }
TEST(invconv_lu_backward_c4_dWinv) { return check_invconv(4, PERM4, SIGN4, INVCONV_INV, 540); }
TEST(invconv_lu_backward_c4_both) { return check_invconv(4, PERM4, SIGN4, INVCONV_BOTH, 550); }

typedef struct {
    float *logs, *logdet, *wl;
    int N, HW, C;
    float dir;
} ildet_case;

static double invconv_logdet_loss(void *st) {
    ildet_case *s = st;
    fce_test_fill_const(s->logdet, (size_t)s->N, LOGDET_START);
    fce_ref_invconv_logdet(s->logdet, s->logs, s->N, s->HW, s->C, s->dir);
    return fce_test_dot(s->wl, s->logdet, (size_t)s->N);
}

static int check_invconv_logdet(float dir) {
    ildet_case s = {.N = 3, .HW = 4, .C = 5, .dir = dir};
    s.logs = fce_test_alloc((size_t)s.C);
    s.logdet = fce_test_alloc((size_t)s.N);
    s.wl = fce_test_alloc((size_t)s.N);
    fce_test_fill_normal(s.logs, (size_t)s.C, 61, 0.5f);
    fce_test_fill_normal(s.wl, (size_t)s.N, 62, 1.0f);
    float *dlogs = fce_test_alloc((size_t)s.C);
    fce_test_fill_const(dlogs, (size_t)s.C, PREFILL_ACC);
    fce_ref_invconv_logdet_backward(dlogs, s.wl, s.N, s.HW, s.C, dir);
    fce_test_sub_const(dlogs, (size_t)s.C, PREFILL_ACC);
    CHECK_GRAD(dir > 0 ? "invconv_logdet(+1) dlogs" : "invconv_logdet(-1) dlogs",
               invconv_logdet_loss, &s, s.logs, (size_t)s.C, dlogs, FCE_TEST_FD2);
    free(s.logs); free(s.logdet); free(s.wl); free(dlogs);
    return 0;
}

TEST(invconv_logdet_backward_fwd) { return check_invconv_logdet(+1.0f); }
TEST(invconv_logdet_backward_inv) { return check_invconv_logdet(-1.0f); }

// ---- affine coupling ----

static void coupling_run(const layer_io *io) {
    (io->inverse ? fce_ref_coupling_affine_inverse : fce_ref_coupling_affine_forward)(
        io->out, io->logdet, io->in, io->param[0], io->N, io->HW, io->C);
}

static int check_coupling(int inverse, int use_logdet) {
    layer_io s = {.N = 2, .HW = 3, .C = 4, .inverse = inverse, .use_logdet = use_logdet,
                  .run = coupling_run};
    layer_io *io = &s;
    const size_t n = (size_t)io->N * io->HW * io->C;
    layer_io_init(io, 71, 2);
    float *h = io->param[0] = fce_test_alloc(n);
    fce_test_fill_normal(h, n, 72, 1.0f); /* r + 2 spans roughly [−1, 5]: s from 0.27 to 0.99 */

    layer_loss(io);
    float *din = fce_test_alloc(n), *dh = fce_test_alloc(n);
    fce_test_fill_const(din, n, PREFILL_GARBAGE);
    fce_test_fill_const(dh, n, PREFILL_GARBAGE);
    const float *dlogdet = use_logdet ? io->wl : NULL;
    (inverse ? fce_ref_coupling_affine_inverse_backward : fce_ref_coupling_affine_backward)(
        din, dh, io->w, io->out, h, dlogdet, io->N, io->HW, io->C);

    char name[64];
    CHECK_GRAD(layer_grad_name(name, sizeof name, io, "coupling", LAYER_DIN_NAME(io)), layer_loss,
               io, io->in, n, din, FCE_TEST_FD4);
    CHECK_GRAD(layer_grad_name(name, sizeof name, io, "coupling", "dh"), layer_loss, io, h, n, dh,
               FCE_TEST_FD4);

    layer_io_free(io);
    free(din); free(dh);
    return 0;
}

TEST(coupling_affine_backward) { return check_coupling(0, 1); }
TEST(coupling_affine_backward_no_logdet) { return check_coupling(0, 0); }
TEST(coupling_affine_inverse_backward) { return check_coupling(1, 1); }
TEST(coupling_affine_inverse_backward_no_logdet) { return check_coupling(1, 0); }

// ---- gaussian prior ----

typedef struct {
    float *z, *logp, *wl;
    int N, D;
} gauss_case;

static double gauss_loss(void *st) {
    gauss_case *s = st;
    fce_test_fill_const(s->logp, (size_t)s->N, LOGDET_START);
    fce_ref_gaussian_logp(s->logp, s->z, s->N, s->D);
    return fce_test_dot(s->wl, s->logp, (size_t)s->N);
}

TEST(gaussian_logp_backward_acc) {
    gauss_case s = {.N = 3, .D = 4};
    size_t n = (size_t)s.N * s.D;
    s.z = fce_test_alloc(n);
    s.logp = fce_test_alloc((size_t)s.N);
    s.wl = fce_test_alloc((size_t)s.N);
    fce_test_fill_normal(s.z, n, 81, 1.0f);
    fce_test_fill_normal(s.wl, (size_t)s.N, 82, 1.0f);
    float *dz = fce_test_alloc(n);
    fce_test_fill_const(dz, n, PREFILL_ACC); /* _acc: accumulates into an activation gradient */
    fce_ref_gaussian_logp_backward_acc(dz, s.z, s.wl, s.N, s.D);
    fce_test_sub_const(dz, n, PREFILL_ACC);
    /* logp is quadratic in z, so the 2-point central difference is exact up to rounding. */
    CHECK_GRAD("gaussian_logp dz", gauss_loss, &s, s.z, n, dz, FCE_TEST_FD2);
    free(s.z); free(s.logp); free(s.wl); free(dz);
    return 0;
}

// ---- NCE value function ----

typedef struct {
    float *fx, *fxt, *lq, *lqt, *c;
    int n;
    float gscale;
} nce_case;

/* L = gscale·(−V), V = stats[0]. */
static double nce_loss_value(void *st) {
    nce_case *s = st;
    float stats[2];
    fce_ref_nce_loss(stats, NULL, NULL, NULL, NULL, NULL, s->fx, s->fxt, s->lq, s->lqt, s->c, s->n,
                     s->gscale);
    return (double)s->gscale * -(double)stats[0];
}

static int check_nce(float gscale) {
    nce_case s = {.n = 6, .gscale = gscale};
    size_t n = (size_t)s.n;
    s.fx = fce_test_alloc(n);
    s.fxt = fce_test_alloc(n);
    s.lq = fce_test_alloc(n);
    s.lqt = fce_test_alloc(n);
    s.c = fce_test_alloc(1);
    fce_test_fill_normal(s.fx, n, 91, 1.5f);
    fce_test_fill_normal(s.fxt, n, 92, 1.5f);
    fce_test_fill_normal(s.lq, n, 93, 1.5f);
    fce_test_fill_normal(s.lqt, n, 94, 1.5f);
    s.c[0] = 0.3f;

    float stats[2];
    float *dfx = fce_test_alloc(n), *dfxt = fce_test_alloc(n), *dlq = fce_test_alloc(n),
          *dlqt = fce_test_alloc(n), *dc = fce_test_alloc(1);
    fce_test_fill_const(dfx, n, PREFILL_GARBAGE);
    fce_test_fill_const(dfxt, n, PREFILL_GARBAGE);
    fce_test_fill_const(dlq, n, PREFILL_GARBAGE);
    fce_test_fill_const(dlqt, n, PREFILL_GARBAGE);
    dc[0] = PREFILL_ACC;
    fce_ref_nce_loss(stats, dfx, dfxt, dlq, dlqt, dc, s.fx, s.fxt, s.lq, s.lqt, s.c, s.n, gscale);
    dc[0] -= PREFILL_ACC;

    const char *g = gscale > 0 ? "(+1)" : "(-1)";
    char name[64];
    snprintf(name, sizeof name, "nce%s dfx", g);
    CHECK_GRAD(name, nce_loss_value, &s, s.fx, n, dfx, FCE_TEST_FD4);
    snprintf(name, sizeof name, "nce%s dfxt", g);
    CHECK_GRAD(name, nce_loss_value, &s, s.fxt, n, dfxt, FCE_TEST_FD4);
    snprintf(name, sizeof name, "nce%s dlq", g);
    CHECK_GRAD(name, nce_loss_value, &s, s.lq, n, dlq, FCE_TEST_FD4);
    snprintf(name, sizeof name, "nce%s dlqt", g);
    CHECK_GRAD(name, nce_loss_value, &s, s.lqt, n, dlqt, FCE_TEST_FD4);
    snprintf(name, sizeof name, "nce%s dc", g);
    CHECK_GRAD(name, nce_loss_value, &s, s.c, 1, dc, FCE_TEST_FD4);

    free(s.fx); free(s.fxt); free(s.lq); free(s.lqt); free(s.c);
    free(dfx); free(dfxt); free(dlq); free(dlqt); free(dc);
    return 0;
}

TEST(nce_loss_gscale_plus1) { return check_nce(+1.0f); }
TEST(nce_loss_gscale_minus1) { return check_nce(-1.0f); }

// ---- every gradient op of the one op list is checked ----

/* Where each op of include/fce/ops.def that computes a gradient is checked against finite
 * differences: a test of this file, or another file. */
static const struct {
    const char *op, *checked_by;
} FD_CHECKED[] = {
    {"linear_backward", "linear"},
    {"leaky_relu_backward", "leaky_relu_slope_0_2, relu_slope_0"},
    {"actnorm_backward", "actnorm_backward*"},
    {"actnorm_inverse_backward", "actnorm_inverse_backward*"},
    {"invconv_lu_backward", "invconv_lu_backward_*"},
    {"invconv_logdet_backward", "invconv_logdet_backward_*"},
    {"coupling_affine_backward", "coupling_affine_backward*"},
    {"coupling_affine_inverse_backward", "coupling_affine_inverse_backward*"},
    {"coupling_additive_backward", "tests/cpu/test_ref_image_ops.c"},
    {"gaussian_diag_logp_backward_acc", "tests/cpu/test_ref_image_ops.c"},
    {"gaussian_logp_backward_acc", "gaussian_logp_backward_acc"},
    {"nce_loss", "nce_loss_gscale_*"},
    {"softmax_xent", "tests/cpu/test_softmax.c"},
    /* issue 12's fused, batched and FP32-pinned ops: bit for bit the composition of the ops
     * checked above (tests/cpu/test_ref_fused.c), so their gradients are those */
    {"invconv_backward", "tests/cpu/test_ref_fused.c"},
    {"actnorm_relu_backward", "tests/cpu/test_ref_fused.c"},
    {"actnorm_backward_ws", "tests/cpu/test_ref_fused.c"},
    {"actnorm_inverse_backward_ws", "tests/cpu/test_ref_fused.c"},
    {"coupling_additive_net_backward", "tests/cpu/test_ref_fused.c"},
    {"invconv_lu_backward_batch", "tests/cpu/test_ref_fused.c"},
    {"invconv_logdet_backward_batch", "tests/cpu/test_ref_fused.c"},
};

/* An op whose name says it is a backward must have a row above: adding one to fce/ops.def
 * without its finite-difference check fails here. */
TEST(every_backward_op_is_fd_checked) {
#define FCE_OP(name, params, args) #name,
    static const char *const ops[] = {
#include "fce/ops.def"
    };
    int missing = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!strstr(ops[i], "backward")) continue;
        int found = 0;
        for (size_t k = 0; k < sizeof FD_CHECKED / sizeof FD_CHECKED[0]; k++)
            found |= !strcmp(FD_CHECKED[k].op, ops[i]);
        if (!found) {
            fprintf(stderr, "  op %s has no finite-difference check listed\n", ops[i]);
            missing++;
        }
    }
    ASSERT_EQ_INT(missing, 0);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(linear);
RUN_TEST(leaky_relu_slope_0_2);
RUN_TEST(relu_slope_0);
RUN_TEST(channels_copy_overwrite);
RUN_TEST(channels_copy_accumulate);
RUN_TEST(actnorm_backward);
RUN_TEST(actnorm_backward_no_logdet);
RUN_TEST(actnorm_inverse_backward);
RUN_TEST(actnorm_inverse_backward_no_logdet);
RUN_TEST(invconv_lu_backward_c2_dW);
RUN_TEST(invconv_lu_backward_c2_dWinv);
RUN_TEST(invconv_lu_backward_c2_both);
RUN_TEST(invconv_lu_backward_c4_dW);
RUN_TEST(invconv_lu_backward_c4_dWinv);
RUN_TEST(invconv_lu_backward_c4_both);
RUN_TEST(invconv_logdet_backward_fwd);
RUN_TEST(invconv_logdet_backward_inv);
RUN_TEST(coupling_affine_backward);
RUN_TEST(coupling_affine_backward_no_logdet);
RUN_TEST(coupling_affine_inverse_backward);
RUN_TEST(coupling_affine_inverse_backward_no_logdet);
RUN_TEST(gaussian_logp_backward_acc);
RUN_TEST(nce_loss_gscale_plus1);
RUN_TEST(nce_loss_gscale_minus1);
RUN_TEST(every_backward_op_is_fd_checked);
FCE_TEST_MAIN_END

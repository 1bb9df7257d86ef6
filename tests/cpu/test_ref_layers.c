/* test_ref_layers.c: invariants of the reference flow layers (STYLE 6.8, 6.11; SPEC a.2, a.5, a.8).
 *
 * - inverse(forward(x)) == x for actnorm, the LU invertible map and affine coupling, and the
 *   per-sample log-det accumulators return to their start (forward adds, inverse subtracts);
 * - each layer's log-det equals log|det J| of the Jacobian of the map of one sample, built by
 *   central finite differences (4-point stencil, evaluated in double) and factored by LU with
 *   partial pivoting in double. For coupling, h is a fixed smooth function of xa inside the map,
 *   so J is genuinely block-triangular rather than block-diagonal;
 * - invconv: W·Winv == I, det W = det(P)·Π sign·exp(Σ logs), identity parameters give W = I;
 * - actnorm data-dependent init gives per-channel mean 0 and std 1;
 * - coupling with h = 0 scales xb by sigmoid(2) and adds HW·(C/2)·log sigmoid(2) to the log-det. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

/* inverse(forward(x)) round trip, elementwise (the brief's 1e-5: a few float roundings of O(1)
 * values, amplified by the conditioning of W for invconv). */
#define ROUNDTRIP_ATOL 1e-5
/* Reductions (STYLE 6.11 table): log-det sums, init statistics, W·Winv. */
#define REDUCTION_ATOL 1e-5
/* log-det vs brute-force log|det J|. J comes from float outputs by the 4-point stencil with step
 * 2^-4: rounding noise ≈ 18·6e-8/(12·2^-4) ≈ 1.5e-6 per entry, which moves log|det J| by about
 * Σ|J⁻¹ ΔJ| ≲ 8 · 1.5e-6 · cond(J) for these D ≤ 8 maps. */
#define LOGDET_FD_ATOL 1e-4
#define JAC_H 0x1p-4

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

/* log|det A| and its sign for a D×D matrix (overwritten), LU with partial pivoting in double. */
static double log_abs_det(double *A, int D, int *sign_out) {
    int sign = 1;
    double logabs = 0.0;
    for (int k = 0; k < D; k++) {
        int piv = k;
        for (int i = k + 1; i < D; i++)
            if (fabs(A[(size_t)i * D + k]) > fabs(A[(size_t)piv * D + k])) piv = i;
        if (A[(size_t)piv * D + k] == 0.0) {
            *sign_out = 0;
            return -INFINITY;
        }
        if (piv != k) {
            for (int j = 0; j < D; j++) {
                double t = A[(size_t)k * D + j];
                A[(size_t)k * D + j] = A[(size_t)piv * D + j];
                A[(size_t)piv * D + j] = t;
            }
            sign = -sign;
        }
        double pivot = A[(size_t)k * D + k];
        if (pivot < 0) sign = -sign;
        logabs += log(fabs(pivot));
        for (int i = k + 1; i < D; i++) {
            double f = A[(size_t)i * D + k] / pivot;
            for (int j = k; j < D; j++) A[(size_t)i * D + j] -= f * A[(size_t)k * D + j];
        }
    }
    *sign_out = sign;
    return logabs;
}

/* A map of one sample (D = HW·C values) with its log-det increment. */
typedef void (*map_fn)(void *st, float *out, float *logdet, const float *in);

/* log|det J| of `map` at x by central differences (4-point stencil, step JAC_H). */
static double brute_force_logdet(map_fn map, void *st, const float *x, int D) {
    double *J = calloc((size_t)D * D, sizeof(double));
    float *xp = fce_test_alloc((size_t)D), *out[4];
    for (int k = 0; k < 4; k++) out[k] = fce_test_alloc((size_t)D);
    static const double offs[4] = {2.0, 1.0, -1.0, -2.0};
    static const double coef[4] = {-1.0, 8.0, -8.0, 1.0};
    for (int j = 0; j < D; j++) {
        for (int k = 0; k < 4; k++) {
            memcpy(xp, x, (size_t)D * sizeof(float));
            xp[j] = (float)(x[j] + offs[k] * JAC_H);
            float ld = 0.0f;
            map(st, out[k], &ld, xp);
        }
        for (int i = 0; i < D; i++) {
            double acc = 0.0;
            for (int k = 0; k < 4; k++) acc += coef[k] * out[k][i];
            J[(size_t)i * D + j] = acc / (12.0 * JAC_H);
        }
    }
    int sign;
    double ld = log_abs_det(J, D, &sign);
    free(J);
    free(xp);
    for (int k = 0; k < 4; k++) free(out[k]);
    return ld;
}

/* Checks the map's own log-det (logdet starting at 0) against brute force at a random x. */
static int check_logdet_vs_jacobian(const char *name, map_fn map, void *st, int D, uint64_t seed) {
    float *x = fce_test_alloc((size_t)D), *y = fce_test_alloc((size_t)D);
    fce_test_fill_normal(x, (size_t)D, seed, 1.0f);
    float ld = 0.0f;
    map(st, y, &ld, x);
    double bf = brute_force_logdet(map, st, x, D);
    fprintf(stderr, "    %-34s D=%d logdet %.7f brute force %.7f |diff| %.2g\n", name, D, ld, bf,
            fabs(ld - bf));
    free(x);
    free(y);
    if (!(fabs(ld - bf) <= LOGDET_FD_ATOL)) {
        fprintf(stderr, "  FAIL: %s log-det differs from log|det J|\n", name);
        return 0;
    }
    return 1;
}

// ---- actnorm ----

typedef struct {
    float *bias, *logs;
    int HW, C, inverse;
} actnorm_map;

static void actnorm_apply(void *st, float *out, float *logdet, const float *in) {
    actnorm_map *m = st;
    if (m->inverse) fce_ref_actnorm_inverse(out, logdet, in, m->bias, m->logs, 1, m->HW, m->C);
    else fce_ref_actnorm_forward(out, logdet, in, m->bias, m->logs, 1, m->HW, m->C);
}

TEST(actnorm_roundtrip) {
    int N = 3, HW = 4, C = 4;
    size_t n = (size_t)N * HW * C;
    float *x = fce_test_alloc(n), *y = fce_test_alloc(n), *x2 = fce_test_alloc(n);
    float bias[4], logs[4], ld[3] = {0, 0, 0};
    fce_test_fill_normal(x, n, 101, 1.0f);
    fce_test_fill_normal(bias, 4, 102, 0.5f);
    fce_test_fill_normal(logs, 4, 103, 0.2f);
    fce_ref_actnorm_forward(y, ld, x, bias, logs, N, HW, C);
    double expect = 0.0;
    for (int c = 0; c < C; c++) expect += 3.0 * logs[c];
    ASSERT_NEAR(ld[0], HW * expect, REDUCTION_ATOL);
    fce_ref_actnorm_inverse(x2, ld, y, bias, logs, N, HW, C);
    ASSERT_TRUE(max_abs_diff(x, x2, n) < ROUNDTRIP_ATOL);
    for (int i = 0; i < N; i++) ASSERT_NEAR(ld[i], 0.0, REDUCTION_ATOL);
    free(x); free(y); free(x2);
    return 0;
}

TEST(actnorm_logdet_vs_jacobian) {
    static const int HWs[3] = {1, 1, 2}, Cs[3] = {2, 4, 2};
    for (int k = 0; k < 3; k++) {
        float bias[4], logs[4];
        fce_test_fill_normal(bias, 4, 111 + k, 0.5f);
        fce_test_fill_normal(logs, 4, 121 + k, 0.2f);
        for (int inv = 0; inv < 2; inv++) {
            actnorm_map m = {bias, logs, HWs[k], Cs[k], inv};
            char name[64];
            snprintf(name, sizeof name, "actnorm%s HW=%d C=%d", inv ? " inverse" : "", HWs[k],
                     Cs[k]);
            ASSERT_TRUE(check_logdet_vs_jacobian(name, actnorm_apply, &m, HWs[k] * Cs[k], 131 + k));
        }
    }
    return 0;
}

TEST(actnorm_init_standardises) {
    int N = 64, HW = 4, C = 3;
    size_t rows = (size_t)N * HW, n = rows * C;
    float *x = fce_test_alloc(n), *y = fce_test_alloc(n);
    static const float mean[3] = {3.0f, -1.5f, 0.2f}, stdv[3] = {2.5f, 0.1f, 1.0f};
    fce_test_fill_normal(x, n, 141, 1.0f);
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) x[r * C + c] = mean[c] + stdv[c] * x[r * C + c];
    float bias[3], logs[3];
    fce_ref_actnorm_init(bias, logs, x, N, HW, C);
    fce_ref_actnorm_forward(y, NULL, x, bias, logs, N, HW, C);
    for (int c = 0; c < C; c++) {
        double s1 = 0.0, s2 = 0.0, sx = 0.0, sxx = 0.0;
        for (size_t r = 0; r < rows; r++) {
            s1 += y[r * C + c];
            s2 += (double)y[r * C + c] * y[r * C + c];
            sx += x[r * C + c];
        }
        double mx = sx / rows;
        for (size_t r = 0; r < rows; r++) sxx += (x[r * C + c] - mx) * (x[r * C + c] - mx);
        double m = s1 / rows, sd = sqrt(s2 / rows - m * m), sdx = sqrt(sxx / rows);
        /* The init divides by √v + 1e−6, so the output std is σ/(σ + 1e−6), not exactly 1: for the
         * σ = 0.1 channel that is 1 − 1e−5. */
        double sd_expect = sdx / (sdx + 1e-6);
        fprintf(stderr, "    channel %d: mean %.3g std %.8f (expect %.8f; input %.4f ± %.4f)\n",
                c, m, sd, sd_expect, mx, sdx);
        ASSERT_NEAR(bias[c], -mx, REDUCTION_ATOL);
        ASSERT_NEAR(m, 0.0, REDUCTION_ATOL);
        ASSERT_NEAR(sd, sd_expect, REDUCTION_ATOL);
    }
    free(x); free(y);
    return 0;
}

// ---- invconv (LU) ----

typedef struct {
    const float *W, *Winv, *logs;
    int HW, C, inverse;
} invconv_map;

static void invconv_apply(void *st, float *out, float *logdet, const float *in) {
    invconv_map *m = st;
    fce_ref_linear_forward(out, in, m->inverse ? m->Winv : m->W, NULL, m->HW, m->C, m->C);
    fce_ref_invconv_logdet(logdet, m->logs, 1, m->HW, m->C, m->inverse ? -1.0f : 1.0f);
}

typedef struct {
    float perm[4], sign[4], L[16], U[16], logs[4], W[16], Winv[16];
    int C;
} invconv_params;

static void invconv_make(invconv_params *p, int C, uint64_t seed) {
    static const float perm2[2] = {1, 0}, sign2[2] = {-1, 1};
    static const float perm4[4] = {2, 0, 3, 1}, sign4[4] = {1, -1, -1, 1};
    p->C = C;
    memcpy(p->perm, C == 2 ? perm2 : perm4, (size_t)C * sizeof(float));
    memcpy(p->sign, C == 2 ? sign2 : sign4, (size_t)C * sizeof(float));
    fce_test_fill_normal(p->L, (size_t)C * C, seed, 0.5f);
    fce_test_fill_normal(p->U, (size_t)C * C, seed + 1, 0.5f);
    fce_test_fill_normal(p->logs, (size_t)C, seed + 2, 0.3f);
    fce_ref_invconv_lu_weights(p->W, p->Winv, p->perm, p->sign, p->L, p->U, p->logs, C);
}

TEST(invconv_roundtrip) {
    for (int C = 2; C <= 4; C += 2) {
        invconv_params p;
        invconv_make(&p, C, 200 + (uint64_t)C);
        int N = 3, HW = 4, rows = N * HW;
        size_t n = (size_t)rows * C;
        float *x = fce_test_alloc(n), *y = fce_test_alloc(n), *x2 = fce_test_alloc(n);
        float ld[3] = {0, 0, 0};
        fce_test_fill_normal(x, n, 210, 1.0f);
        fce_ref_linear_forward(y, x, p.W, NULL, rows, C, C);
        fce_ref_invconv_logdet(ld, p.logs, N, HW, C, 1.0f);
        fce_ref_linear_forward(x2, y, p.Winv, NULL, rows, C, C);
        fce_ref_invconv_logdet(ld, p.logs, N, HW, C, -1.0f);
        float err = max_abs_diff(x, x2, n);
        fprintf(stderr, "    invconv C=%d round trip max abs err %.3g\n", C, err);
        ASSERT_TRUE(err < ROUNDTRIP_ATOL);
        for (int i = 0; i < N; i++) ASSERT_NEAR(ld[i], 0.0, REDUCTION_ATOL);
        free(x); free(y); free(x2);
    }
    return 0;
}

TEST(invconv_w_times_winv_is_identity) {
    for (int C = 2; C <= 4; C += 2) {
        invconv_params p;
        invconv_make(&p, C, 220 + (uint64_t)C);
        for (int i = 0; i < C; i++) {
            for (int j = 0; j < C; j++) {
                double acc = 0.0, acc_t = 0.0;
                for (int k = 0; k < C; k++) {
                    acc += (double)p.W[i * C + k] * p.Winv[k * C + j];
                    acc_t += (double)p.Winv[i * C + k] * p.W[k * C + j];
                }
                ASSERT_NEAR(acc, i == j ? 1.0 : 0.0, REDUCTION_ATOL);
                ASSERT_NEAR(acc_t, i == j ? 1.0 : 0.0, REDUCTION_ATOL);
            }
        }
    }
    return 0;
}

/* Sign of the permutation i → perm[i] (by counting inversions). */
static int perm_parity(const float *perm, int C) {
    int sign = 1;
    for (int i = 0; i < C; i++)
        for (int j = i + 1; j < C; j++)
            if (perm[i] > perm[j]) sign = -sign;
    return sign;
}

TEST(invconv_det_is_signed_exp_sum_logs) {
    for (int C = 2; C <= 4; C += 2) {
        invconv_params p;
        invconv_make(&p, C, 230 + (uint64_t)C);
        double A[16], sum_logs = 0.0;
        int expect_sign = perm_parity(p.perm, C), sign;
        for (int i = 0; i < C * C; i++) A[i] = p.W[i];
        for (int c = 0; c < C; c++) {
            sum_logs += p.logs[c];
            if (p.sign[c] < 0) expect_sign = -expect_sign;
        }
        double ld = log_abs_det(A, C, &sign);
        fprintf(stderr, "    C=%d log|det W| %.8f Σ logs %.8f sign %d (expect %d)\n", C, ld,
                sum_logs, sign, expect_sign);
        ASSERT_NEAR(ld, sum_logs, REDUCTION_ATOL);
        ASSERT_EQ_INT(sign, expect_sign);
    }
    return 0;
}

TEST(invconv_identity_parameters) {
    float perm[3] = {0, 1, 2}, sign[3] = {1, 1, 1}, logs[3] = {0, 0, 0};
    float L[9], U[9], W[9], Winv[9];
    fce_test_fill_normal(L, 9, 240, 1.0f);
    fce_test_fill_normal(U, 9, 241, 1.0f);
    /* Only the masked (ignored) entries are random: zero the strict triangles. */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            if (i > j) L[i * 3 + j] = 0.0f;
            if (i < j) U[i * 3 + j] = 0.0f;
        }
    fce_ref_invconv_lu_weights(W, Winv, perm, sign, L, U, logs, 3);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            ASSERT_TRUE(W[i * 3 + j] == (i == j ? 1.0f : 0.0f));
            ASSERT_TRUE(Winv[i * 3 + j] == (i == j ? 1.0f : 0.0f));
        }
    return 0;
}

TEST(invconv_logdet_vs_jacobian) {
    for (int C = 2; C <= 4; C += 2) {
        for (int HW = 1; HW <= 2; HW++) {
            invconv_params p;
            invconv_make(&p, C, 250 + (uint64_t)(C * 10 + HW));
            for (int inv = 0; inv < 2; inv++) {
                invconv_map m = {p.W, p.Winv, p.logs, HW, C, inv};
                char name[64];
                snprintf(name, sizeof name, "invconv%s HW=%d C=%d", inv ? " inverse" : "", HW, C);
                ASSERT_TRUE(
                    check_logdet_vs_jacobian(name, invconv_apply, &m, HW * C, 260 + (uint64_t)C));
            }
        }
    }
    return 0;
}

// ---- affine coupling ----

TEST(coupling_roundtrip) {
    int N = 3, HW = 4, C = 6;
    size_t n = (size_t)N * HW * C;
    float *x = fce_test_alloc(n), *h = fce_test_alloc(n), *y = fce_test_alloc(n),
          *x2 = fce_test_alloc(n);
    float ld[3] = {0, 0, 0};
    fce_test_fill_normal(x, n, 301, 1.0f);
    fce_test_fill_normal(h, n, 302, 1.5f);
    fce_ref_coupling_affine_forward(y, ld, x, h, N, HW, C);
    for (size_t r = 0; r < (size_t)N * HW; r++)
        for (int k = 0; k < C / 2; k++) ASSERT_TRUE(y[r * C + k] == x[r * C + k]);
    fce_ref_coupling_affine_inverse(x2, ld, y, h, N, HW, C);
    float err = max_abs_diff(x, x2, n);
    fprintf(stderr, "    coupling round trip max abs err %.3g\n", err);
    ASSERT_TRUE(err < ROUNDTRIP_ATOL);
    for (int i = 0; i < N; i++) ASSERT_NEAR(ld[i], 0.0, REDUCTION_ATOL);
    free(x); free(h); free(y); free(x2);
    return 0;
}

TEST(coupling_zero_h_gives_sigmoid_2) {
    int N = 2, HW = 3, C = 4;
    size_t n = (size_t)N * HW * C;
    float *x = fce_test_alloc(n), *h = fce_test_alloc(n), *y = fce_test_alloc(n);
    float ld[2] = {0, 0};
    fce_test_fill_normal(x, n, 311, 1.0f);
    fce_ref_coupling_affine_forward(y, ld, x, h, N, HW, C);
    double s = 1.0 / (1.0 + exp(-2.0));
    for (size_t r = 0; r < (size_t)N * HW; r++) {
        for (int k = 0; k < C / 2; k++) {
            ASSERT_TRUE(y[r * C + k] == x[r * C + k]);
            ASSERT_NEAR(y[r * C + C / 2 + k], x[r * C + C / 2 + k] * s, 1e-6);
        }
    }
    for (int i = 0; i < N; i++) ASSERT_NEAR(ld[i], HW * (C / 2) * log(s), REDUCTION_ATOL);
    free(x); free(h); free(y);
    return 0;
}

/* h = NN(xa) stand-in, per pixel: h[2k] = 0.8·tanh(Σ_j A[2k][j]·xa_j + 0.1),
 * h[2k+1] = 1.5·tanh(Σ_j A[2k+1][j]·xa_j − 0.2). The coupling's Jacobian then has a nonzero
 * ∂yb/∂xa block, which must not change its determinant. */
typedef struct {
    float A[4 * 2]; /* (C, C/2) for C ≤ 4 */
    int HW, C, inverse;
} coupling_map;

static void coupling_nn(const coupling_map *m, float *h, const float *in) {
    int half = m->C / 2;
    for (int p = 0; p < m->HW; p++) {
        for (int o = 0; o < m->C; o++) {
            double acc = (o % 2 == 0) ? 0.1 : -0.2;
            for (int j = 0; j < half; j++) acc += (double)m->A[o * half + j] * in[p * m->C + j];
            h[p * m->C + o] = (float)((o % 2 == 0 ? 0.8 : 1.5) * tanh(acc));
        }
    }
}

static void coupling_apply(void *st, float *out, float *logdet, const float *in) {
    coupling_map *m = st;
    float h[8];
    coupling_nn(m, h, in); /* xa = ya, so the same NN input in both directions */
    if (m->inverse) fce_ref_coupling_affine_inverse(out, logdet, in, h, 1, m->HW, m->C);
    else fce_ref_coupling_affine_forward(out, logdet, in, h, 1, m->HW, m->C);
}

TEST(coupling_logdet_vs_jacobian) {
    for (int C = 2; C <= 4; C += 2) {
        for (int HW = 1; HW <= 2; HW++) {
            coupling_map m = {.HW = HW, .C = C};
            fce_test_fill_normal(m.A, 8, 320 + (uint64_t)C, 1.0f);
            for (int inv = 0; inv < 2; inv++) {
                m.inverse = inv;
                char name[64];
                snprintf(name, sizeof name, "coupling%s HW=%d C=%d", inv ? " inverse" : "", HW, C);
                ASSERT_TRUE(
                    check_logdet_vs_jacobian(name, coupling_apply, &m, HW * C, 330 + (uint64_t)C));
            }
        }
    }
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(actnorm_roundtrip);
RUN_TEST(actnorm_logdet_vs_jacobian);
RUN_TEST(actnorm_init_standardises);
RUN_TEST(invconv_roundtrip);
RUN_TEST(invconv_w_times_winv_is_identity);
RUN_TEST(invconv_det_is_signed_exp_sum_logs);
RUN_TEST(invconv_identity_parameters);
RUN_TEST(invconv_logdet_vs_jacobian);
RUN_TEST(coupling_roundtrip);
RUN_TEST(coupling_zero_h_gives_sigmoid_2);
RUN_TEST(coupling_logdet_vs_jacobian);
FCE_TEST_MAIN_END

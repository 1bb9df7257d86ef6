/* test_data2d.c: the built-in 2D datasets (data2d.h): determinism and offset semantics, ranges,
 * the exact gmm8/gmm25 densities (normalisation, agreement with the sampler) and the moments. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/data2d.h"
#include "fce_test.h"
#include "test_util.h"

#define SEED 0x5EEDF00DULL

TEST(names_roundtrip) {
    static const char *const names[] = {"gmm8",     "gmm25", "pinwheel",     "spiral",
                                        "2spirals", "rings", "checkerboard", "moons"};
    for (int k = 0; k < FCE_DATA2D_COUNT; k++) {
        fce_data2d_kind got = FCE_DATA2D_COUNT;
        ASSERT_OK(fce_data2d_from_name(names[k], &got));
        ASSERT_EQ_INT(got, k);
        ASSERT_TRUE(strcmp(fce_data2d_name(got), names[k]) == 0);
    }
    fce_data2d_kind untouched = FCE_DATA2D_MOONS;
    fprintf(stderr, "  (an error about 'gmm9' is expected next)\n");
    ASSERT_EQ_INT(fce_data2d_from_name("gmm9", &untouched), FCE_STATUS_ERR_CONFIG);
    ASSERT_EQ_INT(untouched, FCE_DATA2D_MOONS);
    ASSERT_EQ_INT(fce_data2d_from_name("", &untouched), FCE_STATUS_ERR_CONFIG);
    ASSERT_TRUE(strcmp(fce_data2d_name(FCE_DATA2D_COUNT), "unknown") == 0);
    return 0;
}

/* Same (seed, offset) -> same bits; sample(offset = o, n) == rows o.. of a longer call; another
 * seed gives other points. */
TEST(determinism_and_offsets) {
    enum { N = 1000, O = 337, M = 250 };
    float *a = fce_test_alloc(2 * N), *b = fce_test_alloc(2 * N), *c = fce_test_alloc(2 * M);
    for (int k = 0; k < FCE_DATA2D_COUNT; k++) {
        fce_data2d_sample((fce_data2d_kind)k, a, N, SEED, 0);
        fce_data2d_sample((fce_data2d_kind)k, b, N, SEED, 0);
        ASSERT_TRUE(memcmp(a, b, sizeof(float) * 2 * N) == 0);
        fce_data2d_sample((fce_data2d_kind)k, c, M, SEED, O);
        ASSERT_TRUE(memcmp(a + 2 * O, c, sizeof(float) * 2 * M) == 0);
        /* batch by batch == one call */
        for (int t = 0; t < N / 200; t++)
            fce_data2d_sample((fce_data2d_kind)k, b + 400 * t, 200, SEED, 200 * (uint64_t)t);
        ASSERT_TRUE(memcmp(a, b, sizeof(float) * 2 * N) == 0);
        fce_data2d_sample((fce_data2d_kind)k, b, N, SEED + 1, 0);
        int differ = 0;
        for (int i = 0; i < 2 * N; i++) differ += a[i] != b[i];
        ASSERT_TRUE(differ > N); /* checkerboard/moons share no coordinate by chance */
    }
    free(a);
    free(b);
    free(c);
    return 0;
}

/* Finite values and ≥ 99.9% of points in [−4.5, 4.5]²; also prints the per-dataset extent. */
TEST(finite_and_range) {
    enum { N = 100000 };
    float *xy = fce_test_alloc(2 * N);
    for (int k = 0; k < FCE_DATA2D_COUNT; k++) {
        fce_data2d_sample((fce_data2d_kind)k, xy, N, SEED, 12345);
        size_t inside = 0;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < 2 * (size_t)N; i++) {
            ASSERT_TRUE(isfinite(xy[i]));
            if (xy[i] < lo) lo = xy[i];
            if (xy[i] > hi) hi = xy[i];
        }
        for (size_t i = 0; i < N; i++)
            inside += fabsf(xy[2 * i]) <= 4.5f && fabsf(xy[2 * i + 1]) <= 4.5f;
        fprintf(stderr, "  %-12s range [%.3f, %.3f], %.4f%% inside [-4.5, 4.5]^2\n",
                fce_data2d_name((fce_data2d_kind)k), lo, hi, 100.0 * (double)inside / N);
        ASSERT_TRUE((double)inside >= 0.999 * N);
    }
    free(xy);
    return 0;
}

/* Midpoint rule of exp(log p) on [−5, 5]², step h: exact to ~1e−9 once h ≤ the component std. */
static double integrate_density(fce_data2d_kind k, double h) {
    int n = (int)lround(10.0 / h);
    double s = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            s += exp(fce_data2d_log_density(k, -5.0 + (i + 0.5) * h, -5.0 + (j + 0.5) * h));
    return s * h * h;
}

TEST(density_normalised) {
    ASSERT_TRUE(fce_data2d_has_density(FCE_DATA2D_GMM8));
    ASSERT_TRUE(fce_data2d_has_density(FCE_DATA2D_GMM25));
    for (int k = 0; k < FCE_DATA2D_COUNT; k++) {
        if (k == FCE_DATA2D_GMM8 || k == FCE_DATA2D_GMM25) continue;
        ASSERT_TRUE(!fce_data2d_has_density((fce_data2d_kind)k));
        ASSERT_TRUE(isnan(fce_data2d_log_density((fce_data2d_kind)k, 0.0, 0.0)));
    }
    double z8 = integrate_density(FCE_DATA2D_GMM8, 0.02);
    double z25 = integrate_density(FCE_DATA2D_GMM25, 0.01); /* component std 0.0177 */
    fprintf(stderr, "  integral gmm8 %.6f, gmm25 %.6f\n", z8, z25);
    ASSERT_NEAR(z8, 1.0, 1e-3);
    ASSERT_NEAR(z25, 1.0, 1e-3);
    return 0;
}

/* Hand values: gmm8 at a centre; gmm25 at a centre and far away (log-sum-exp stays finite). */
TEST(density_values) {
    const double pi = 3.14159265358979323846;
    /* At μ₀ = (2√2, 0): (1/8)·1/(2π/8) plus the neighbours' exp(−d²/(2/8)) terms, d² = 8·(2 − √2)
     * for k = ±1, tiny beyond. */
    double r = 2.0 * sqrt(2.0), lp = fce_data2d_log_density(FCE_DATA2D_GMM8, r, 0.0);
    double ref = 0.0;
    for (int k = 0; k < 8; k++) {
        double dx = r - r * cos(k * pi / 4), dy = -r * sin(k * pi / 4);
        ref += exp(-(dx * dx + dy * dy) * 4.0) / (2.0 * pi / 8.0) / 8.0;
    }
    ASSERT_NEAR(lp, log(ref), 1e-12);
    ASSERT_NEAR(lp, -log(2.0 * pi / 8.0) - log(8.0), 1e-3);
    double s = 0.05 / 2.828;
    double lp25 = fce_data2d_log_density(FCE_DATA2D_GMM25, 2.0 / 2.828, -4.0 / 2.828);
    ASSERT_NEAR(lp25, -log(2.0 * pi * s * s) - log(25.0), 1e-9);
    /* Far away: a huge negative but finite number, equal to the nearest component's term. */
    double far = fce_data2d_log_density(FCE_DATA2D_GMM25, 40.0, 0.0);
    double d = 40.0 - 4.0 / 2.828;
    ASSERT_TRUE(isfinite(far));
    ASSERT_NEAR(far / (-d * d / (2 * s * s) - log(2.0 * pi * s * s) - log(25.0)), 1.0, 1e-9);
    ASSERT_TRUE(isnan(fce_data2d_log_density(FCE_DATA2D_GMM8, NAN, 0.0)));
    ASSERT_TRUE(fce_data2d_log_density(FCE_DATA2D_GMM8, INFINITY, 0.0) == -INFINITY);
    return 0;
}

/* gmm8 moments: mean 0, per-axis variance 1/8 + (2√2)²/2 = 4.125, covariance 0. */
TEST(gmm8_moments) {
    enum { N = 200000 };
    float *xy = fce_test_alloc(2 * N);
    fce_data2d_sample(FCE_DATA2D_GMM8, xy, N, SEED, 0);
    double mean[2], cov[4];
    fce_data2d_mean_cov(xy, N, mean, cov);
    fprintf(stderr, "  gmm8 mean (%.4f, %.4f), cov [[%.4f %.4f] [%.4f %.4f]]\n", mean[0], mean[1],
            cov[0], cov[1], cov[2], cov[3]);
    double se_mean = sqrt(4.125 / N); /* 0.0045 */
    ASSERT_NEAR(mean[0], 0.0, 5 * se_mean);
    ASSERT_NEAR(mean[1], 0.0, 5 * se_mean);
    /* Var(x²) ≈ E x⁴ − 4.125² ≈ 14 → the sample variance has sd ≈ 0.009. */
    ASSERT_NEAR(cov[0], 4.125, 0.05);
    ASSERT_NEAR(cov[3], 4.125, 0.05);
    ASSERT_NEAR(cov[1], 0.0, 0.05);
    ASSERT_TRUE(cov[1] == cov[2]);
    free(xy);
    return 0;
}

/* Sampler and density agree: the mean of log p over samples is −entropy. The components are
 * ≥ 6 std apart, so H ≈ log m + log(2πe σ²): gmm8 2.8379, gmm25 −2.0132. sd(log p) ≈ 1. */
TEST(sampler_matches_density) {
    enum { N = 100000 };
    const double pi = 3.14159265358979323846, e = exp(1.0);
    float *xy = fce_test_alloc(2 * N);
    const fce_data2d_kind kinds[2] = {FCE_DATA2D_GMM8, FCE_DATA2D_GMM25};
    const double var[2] = {0.125, (0.05 / 2.828) * (0.05 / 2.828)}, m[2] = {8, 25};
    for (int t = 0; t < 2; t++) {
        fce_data2d_sample(kinds[t], xy, N, SEED, 7);
        double s = 0.0;
        for (size_t i = 0; i < N; i++)
            s += fce_data2d_log_density(kinds[t], xy[2 * i], xy[2 * i + 1]);
        double h = log(m[t]) + log(2.0 * pi * e * var[t]);
        fprintf(stderr, "  %s: mean log p %.4f, -entropy %.4f\n", fce_data2d_name(kinds[t]),
                s / N, -h);
        ASSERT_NEAR(s / N, -h, 0.02);
    }
    /* gmm8 component frequencies: each ~ N/8 ± 5 sd. */
    fce_data2d_sample(FCE_DATA2D_GMM8, xy, N, SEED, 0);
    int cnt[8] = {0};
    for (size_t i = 0; i < N; i++) {
        double a = atan2(xy[2 * i + 1], xy[2 * i]);
        int k = (int)lround(a / (pi / 4));
        cnt[(k + 8) % 8]++;
    }
    for (int k = 0; k < 8; k++) ASSERT_NEAR(cnt[k], N / 8.0, 5 * sqrt(N * (1.0 / 8) * (7.0 / 8)));
    free(xy);
    return 0;
}

TEST(mean_cov_hand_example) {
    /* Points (0,0), (2,0), (0,4), (2,4): mean (1, 2), vxx = 1, vyy = 4, vxy = 0 (divides by n). */
    const float a[8] = {0, 0, 2, 0, 0, 4, 2, 4};
    double mean[2], cov[4];
    fce_data2d_mean_cov(a, 4, mean, cov);
    ASSERT_NEAR(mean[0], 1.0, 1e-12);
    ASSERT_NEAR(mean[1], 2.0, 1e-12);
    ASSERT_NEAR(cov[0], 1.0, 1e-12);
    ASSERT_NEAR(cov[1], 0.0, 1e-12);
    ASSERT_NEAR(cov[2], 0.0, 1e-12);
    ASSERT_NEAR(cov[3], 4.0, 1e-12);
    /* Correlated: (1,2), (2,4), (3,6) -> mean (2, 4), vxx = 2/3, vxy = 4/3, vyy = 8/3. */
    const float b[6] = {1, 2, 2, 4, 3, 6};
    fce_data2d_mean_cov(b, 3, mean, cov);
    ASSERT_NEAR(mean[0], 2.0, 1e-12);
    ASSERT_NEAR(mean[1], 4.0, 1e-12);
    ASSERT_NEAR(cov[0], 2.0 / 3.0, 1e-12);
    ASSERT_NEAR(cov[1], 4.0 / 3.0, 1e-12);
    ASSERT_NEAR(cov[2], 4.0 / 3.0, 1e-12);
    ASSERT_NEAR(cov[3], 8.0 / 3.0, 1e-12);
    return 0;
}

/* Shape checks that catch a wrong generator: radii of rings, checkerboard cells, moons/spiral. */
TEST(shapes) {
    enum { N = 50000 };
    float *xy = fce_test_alloc(2 * N);
    /* rings: every radius within 0.5 of one of 3, 2.25, 1.5, 0.75. */
    fce_data2d_sample(FCE_DATA2D_RINGS, xy, N, SEED, 0);
    for (size_t i = 0; i < N; i++) {
        double r = hypot(xy[2 * i], xy[2 * i + 1]), best = 1e9;
        for (int j = 1; j <= 4; j++) best = fmin(best, fabs(r - 0.75 * j));
        ASSERT_TRUE(best < 0.5);
    }
    /* checkerboard: inside [−4, 4]², and ⌊x/2⌋ + ⌊y/2⌋ is always even (x₂'s integer part is
     * (⌊x₁⌋ mod 2) − 2·b). Points within 1e−5 of a cell edge are skipped (float rounding). */
    fce_data2d_sample(FCE_DATA2D_CHECKERBOARD, xy, N, SEED, 0);
    for (size_t i = 0; i < N; i++) {
        double x = xy[2 * i] / 2.0, y = xy[2 * i + 1] / 2.0;
        ASSERT_TRUE(fabs(x) <= 2.0 && fabs(y) <= 2.0);
        if (fabs(x - round(x)) < 1e-5 || fabs(y - round(y)) < 1e-5) continue;
        long par = lround(floor(x) + floor(y));
        ASSERT_TRUE(((par % 2) + 2) % 2 == 0);
    }
    /* pinwheel: radius ≈ 2·|f|, f₀ = 1 + 0.3·N: mean radius ≈ 2.0. */
    fce_data2d_sample(FCE_DATA2D_PINWHEEL, xy, N, SEED, 0);
    double rs = 0.0;
    for (size_t i = 0; i < N; i++) rs += hypot(xy[2 * i], xy[2 * i + 1]);
    ASSERT_NEAR(rs / N, 2.0, 0.05);
    /* moons: mean of ×2 + (−1, −0.2) of sklearn's (0.5, 0.25) -> (0, 0.3) (continuous t). */
    fce_data2d_sample(FCE_DATA2D_MOONS, xy, N, SEED, 0);
    double mean[2], cov[4];
    fce_data2d_mean_cov(xy, N, mean, cov);
    ASSERT_NEAR(mean[0], 0.0, 0.03);
    ASSERT_NEAR(mean[1], 0.3, 0.03);
    /* 2spirals is point-symmetric: mean ≈ (0.5·0.5/3 − 0.5·0.5/3) = 0; the single arm is not. */
    fce_data2d_sample(FCE_DATA2D_2SPIRALS, xy, N, SEED, 0);
    fce_data2d_mean_cov(xy, N, mean, cov);
    ASSERT_NEAR(mean[0], 0.0, 0.05);
    ASSERT_NEAR(mean[1], 0.0, 0.05);
    free(xy);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(names_roundtrip);
RUN_TEST(determinism_and_offsets);
RUN_TEST(finite_and_range);
RUN_TEST(density_normalised);
RUN_TEST(density_values);
RUN_TEST(gmm8_moments);
RUN_TEST(sampler_matches_density);
RUN_TEST(mean_cov_hand_example);
RUN_TEST(shapes);
FCE_TEST_MAIN_END

/* test_quality.c: the offline sample-quality measure of `fce-gpu quality` (eval/quality_*.h) on the
 * CPU backend.
 *  (1) KID: the unbiased MMD² of the Gram blocks equals a direct O(n²) double computation of the
 *      formula on small random vectors, on the full sets and on a hand-picked subset; KID with the
 *      subset size at n gives that value with sd 0;
 *  (2) precision/recall, density and coverage on hand-made 2D point sets whose answers are worked
 *      out below;
 *  (3) the features: 448 of them, a function of the feature seed (another seed gives others) and
 *      not of the batch size (the last batch is padded);
 *  (4) on pictures: fakes from the real pictures' own distribution score the floor (KID within
 *      sampling noise of the real-vs-real KID, precision and recall near the floor's); KID grows
 *      strictly with the size of added pixel noise; precision falls as the fakes are shifted
 *      off the data (brighter pictures). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/quality_features.h"
#include "eval/quality_internal.h"
#include "eval/quality_metrics.h"
#include "fce/backend.h"
#include "fce/philox.h"
#include "fce_test.h"

/* ---- (1) KID against the formula ---- */

static double direct_kernel(const double *a, const double *b, int d) {
    double s = 0;
    for (int t = d - 1; t >= 0; t--) s += a[t] * b[t]; /* another order than the Gram's */
    return pow(s / d + 1.0, 3.0);
}

/* MMD²_u of X[ix[0..m)] and Y[iy[0..m)], straight from the definition. */
static double direct_mmd2(const double *X, const size_t *ix, const double *Y, const size_t *iy,
                          size_t m, int d) {
    double kxx = 0, kyy = 0, kxy = 0;
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < m; b++) {
            if (a != b) kxx += direct_kernel(X + ix[a] * d, X + ix[b] * d, d);
            if (a != b) kyy += direct_kernel(Y + iy[a] * d, Y + iy[b] * d, d);
            kxy += direct_kernel(X + ix[a] * d, Y + iy[b] * d, d);
        }
    return (kxx + kyy) / ((double)m * (m - 1)) - 2.0 * kxy / ((double)m * m);
}

TEST(kid_matches_direct_formula) {
    enum { NX = 40, NY = 33, D = 7 };
    double X[NX * D], Y[NY * D];
    for (int i = 0; i < NX * D; i++) X[i] = fce_philox_normal(11, (uint64_t)i);
    for (int i = 0; i < NY * D; i++) Y[i] = 0.5 + 1.3 * fce_philox_normal(12, (uint64_t)i);
    fce_quality_gram g;
    ASSERT_OK(fce_quality_gram_init(&g, X, NX, Y, NY, D));
    size_t all[NX];
    for (size_t i = 0; i < NX; i++) all[i] = i;
    /* m = 33: every fake, the first 33 reals */
    double got = fce_quality_mmd2_subset(&g, all, all, NY);
    double want = direct_mmd2(X, all, Y, all, NY, D);
    printf("  full sets: MMD2 %.15g, direct %.15g\n", got, want);
    ASSERT_TRUE(want > 0.05); /* the sets differ: a value well away from 0 */
    ASSERT_NEAR(got, want, 1e-12 * fabs(want));
    const size_t ix[6] = {1, 4, 9, 17, 30, 39}, iy[6] = {0, 2, 3, 20, 31, 32};
    got = fce_quality_mmd2_subset(&g, ix, iy, 6);
    want = direct_mmd2(X, ix, Y, iy, 6, D);
    ASSERT_NEAR(got, want, 1e-12 * fabs(want));
    /* subsets as large as the smaller set: the X subsets vary, so the mean is the average over them;
     * with X = Y's size instead every subset is the whole set and the sd is 0 */
    fce_quality_gram g2;
    ASSERT_OK(fce_quality_gram_init(&g2, X, NY, Y, NY, D));
    double mean = 0, sd = 0;
    ASSERT_OK(fce_quality_kid(&g2, 5, 1000, 3, &mean, &sd));
    want = direct_mmd2(X, all, Y, all, NY, D);
    ASSERT_NEAR(mean, want, 1e-12 * fabs(want));
    ASSERT_NEAR(sd, 0.0, 1e-12 * fabs(want));
    fce_quality_gram_free(&g);
    fce_quality_gram_free(&g2);
    return 0;
}

/* ---- (2) precision and recall on hand-made points ---- */

TEST(precision_recall_hand_made) {
    /* Real: the corners of the unit square. With k = 1 each radius is 1 (its two neighbours along
     * the edges). Fakes: a = (0.5, 0), b = (0.2, 0.1), c = (5, 5), e = (3, 0).
     * Precision: a is 0.5 from (0,0) and b 0.22 from it: in; c is 5.66 from (1,1) and e 2 from
     * (1,0), both > 1: out. Precision = 2/4.
     * Fake radii (k = 1): a, b: |a − b| = 0.316 each; c: |c − e| = 5.39; e: |e − a| = 2.5.
     * Recall: (0,0) is 0.224 from b (<= 0.316): in; (1,0) is 2 from e (<= 2.5): in; (1,1) is 2.24
     * from e (<= 2.5): in; (0,1) is 0.92 from b, 1.12 from a, 3.16 from e, 6.40 from c: out.
     * Recall = 3/4.
     * Density: a lies in the balls of (0,0) and (1,0) (0.5 each; 1.12 from the others), b in those
     * of (0,0), (1,0), (0,1) (0.22, 0.81, 0.92; 1.20 from (1,1)), c and e in none: (2 + 3)/(1·4).
     * Coverage: the balls of (0,0), (1,0), (0,1) hold a fake, that of (1,1) none: 3/4. */
    const double real[8] = {0, 0, 1, 0, 0, 1, 1, 1};
    const double fake[8] = {0.5, 0, 0.2, 0.1, 5, 5, 3, 0};
    fce_quality_gram g;
    ASSERT_OK(fce_quality_gram_init(&g, real, 4, fake, 4, 2));
    fce_quality_manifold m;
    ASSERT_OK(fce_quality_precision_recall(&g, 1, &m));
    ASSERT_NEAR(m.precision, 0.5, 0);
    ASSERT_NEAR(m.recall, 0.75, 0);
    ASSERT_NEAR(m.density, 1.25, 0);
    ASSERT_NEAR(m.coverage, 0.75, 0);
    /* k = 3: every real radius is the diagonal, 1.414; e (2 from (1,0)) is still out, c too:
     * precision stays 2/4. Fake radii: a: third nearest fake is c (6.73); b: c (6.86); c: b (6.86);
     * e: c (5.39): every real point lies within some fake's ball: recall 1. a and b lie in all
     * four real balls (at most 1.20 from a corner): density 8/(3·4); coverage 1. */
    ASSERT_OK(fce_quality_precision_recall(&g, 3, &m));
    ASSERT_NEAR(m.precision, 0.5, 0);
    ASSERT_NEAR(m.recall, 1.0, 0);
    ASSERT_NEAR(m.density, 8.0 / 12.0, 1e-15);
    ASSERT_NEAR(m.coverage, 1.0, 0);
    /* the roles swapped (k = 1): precision is the recall above (3 of the 4 corners lie in a fake's
     * ball) and recall the precision above (2 of the 4 fakes lie in a corner's ball). Density:
     * (0,0) lies in b's ball only, (1,0) and (1,1) in e's only (2, 2.24 <= 2.5), (0,1) in none:
     * 3/(1·4). Coverage: b's and e's balls hold a corner, a's (0.5 > 0.32) and c's (5.66 > 5.39)
     * none: 2/4. */
    fce_quality_gram gs;
    ASSERT_OK(fce_quality_gram_init(&gs, fake, 4, real, 4, 2));
    ASSERT_OK(fce_quality_precision_recall(&gs, 1, &m));
    ASSERT_NEAR(m.precision, 0.75, 0);
    ASSERT_NEAR(m.recall, 0.5, 0);
    ASSERT_NEAR(m.density, 0.75, 0);
    ASSERT_NEAR(m.coverage, 0.5, 0);
    fce_quality_gram_free(&g);
    fce_quality_gram_free(&gs);
    return 0;
}

/* ---- synthetic pictures: a coloured sinusoidal texture per picture ---- */

enum { PH = 16, PW = 16 };

/* Picture i of a family (seed): base colour, one oriented sinusoid; plus Gaussian pixel noise of sd
 * `noise` and a brightness `shift`, clamped to 0..255. */
static void make_pictures(fce_image_set *s, size_t n, uint64_t seed, double noise, double shift) {
    if (fce_image_set_alloc(s, n, PH, PW, 3, 0, "test pictures") != FCE_STATUS_OK) abort();
    for (size_t i = 0; i < n; i++) {
        double u[8];
        for (int k = 0; k < 8; k++) u[k] = fce_philox_uniform(seed, i * 8 + (size_t)k);
        double f = 0.25 + 0.6 * u[3], th = 3.14159265 * u[4], ph = 6.2831853 * u[5], a = 20 + 50 * u[6];
        for (int y = 0; y < PH; y++)
            for (int x = 0; x < PW; x++)
                for (int c = 0; c < 3; c++) {
                    size_t at = ((i * PH + (size_t)y) * PW + (size_t)x) * 3 + (size_t)c;
                    double v = 50 + 140 * u[c] + a * (1.0 - 0.2 * c) * sin(f * (x * cos(th) + y * sin(th)) + ph);
                    v += shift + noise * fce_philox_normal(seed ^ 0xabcdefull, at);
                    s->pixels[at] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
                }
    }
}

/* One CPU context for every test of this file, made on first use and kept to the end. */
static fce_ctx *cpu(void) {
    static fce_ctx ctx;
    static int made = 0;
    if (!made) {
        if (fce_ctx_init_cpu(&ctx) != FCE_STATUS_OK) abort();
        made = 1;
    }
    return &ctx;
}

/* ---- (3) the features ---- */

TEST(features_seeded_and_batch_independent) {
    fce_image_set s;
    make_pictures(&s, 23, 5, 0, 0);
    fce_quality_net a, b;
    ASSERT_OK(fce_quality_net_init(&a, cpu(), 7, PH, PW));
    ASSERT_OK(fce_quality_net_init(&b, cpu(), 23, PH, PW));
    ASSERT_EQ_INT(fce_quality_net_dims(&a), 448);
    const size_t F = 448;
    double *fa = malloc(23 * F * sizeof *fa), *fb = malloc(23 * F * sizeof *fb), *fc = malloc(23 * F * sizeof *fc);
    ASSERT_TRUE(fa && fb && fc);
    ASSERT_OK(fce_quality_net_set_seed(&a, 1));
    ASSERT_OK(fce_quality_net_set_seed(&b, 1));
    ASSERT_OK(fce_quality_features(&a, &s, NULL, 23, fa)); /* 4 batches, the last padded */
    ASSERT_OK(fce_quality_features(&b, &s, NULL, 23, fb)); /* one batch */
    ASSERT_TRUE(memcmp(fa, fb, 23 * F * sizeof *fa) == 0);
    ASSERT_OK(fce_quality_net_set_seed(&b, 2));
    ASSERT_OK(fce_quality_features(&b, &s, NULL, 23, fc));
    double diff = 0, norm = 0;
    for (size_t i = 0; i < 23 * F; i++) diff += fabs(fa[i] - fc[i]), norm += fabs(fa[i]);
    printf("  mean |feature| %.4f, mean |seed 1 - seed 2| %.4f\n", norm / (23 * F), diff / (23 * F));
    ASSERT_TRUE(diff > 0.1 * norm);
    for (size_t i = 0; i < 23 * F; i++) ASSERT_TRUE(isfinite(fa[i]) && fa[i] >= 0); /* ReLU means, sds */
    free(fa), free(fb), free(fc);
    fce_quality_net_free(&a);
    fce_quality_net_free(&b);
    fce_image_set_free(&s);
    return 0;
}

/* ---- (4) on pictures ---- */

enum { N_SET = 300 };

static fce_quality_opts small_opts(void) {
    return (fce_quality_opts){.n = N_SET, .feature_seeds = 2, .k = 3, .subsets = 50,
                              .subset_size = N_SET / 2, .seed = 1, .floor = 1, .batch = 100, .quiet = 1};
}

TEST(kid_grows_with_noise_and_same_data_scores_the_floor) {
    fce_image_set real;
    make_pictures(&real, 2 * N_SET, 100, 0, 0);
    const double noise[4] = {0, 10, 20, 40};
    double kid[4];
    fce_quality_report rep;
    fce_quality_opts o = small_opts();
    for (int t = 0; t < 4; t++) {
        fce_image_set fake;
        make_pictures(&fake, N_SET, 200, noise[t], 0); /* the same family, other pictures */
        ASSERT_OK(fce_quality_measure(cpu(), &real, &fake, &o, &rep));
        kid[t] = 0.5 * (rep.fake[0].kid + rep.fake[1].kid);
        const fce_quality_scores *f0 = &rep.fake[0], *fl0 = &rep.floor[0];
        printf("  noise sd %4.0f: KID %.6f (subset sd %.6f) precision %.3f recall %.3f density %.3f "
               "coverage %.3f | floor KID %.6f (sd %.6f) precision %.3f recall %.3f density %.3f "
               "coverage %.3f\n", noise[t], kid[t], f0->kid_sd, f0->precision, f0->recall, f0->density,
               f0->coverage, fl0->kid, fl0->kid_sd, fl0->precision, fl0->recall, fl0->density,
               fl0->coverage);
        if (t == 0)
            for (int s = 0; s < 2; s++) { /* same distribution: the floor, within sampling noise */
                const fce_quality_scores *f = &rep.fake[s], *fl = &rep.floor[s];
                ASSERT_TRUE(fabs(f->kid - fl->kid) <= 3 * (f->kid_sd + fl->kid_sd));
                ASSERT_TRUE(fabs(f->precision - fl->precision) <= 0.1);
                ASSERT_TRUE(fabs(f->recall - fl->recall) <= 0.1);
                ASSERT_TRUE(fabs(f->density - fl->density) <= 0.15);
                ASSERT_TRUE(fabs(f->coverage - fl->coverage) <= 0.1);
            }
        if (t > 0) ASSERT_TRUE(kid[t] > kid[t - 1]);
        fce_image_set_free(&fake);
    }
    ASSERT_TRUE(kid[3] > 10 * (fabs(kid[0]) + rep.floor[0].kid_sd)); /* far beyond the floor */
    fce_image_set_free(&real);
    return 0;
}

TEST(precision_falls_off_the_manifold) {
    fce_image_set real;
    make_pictures(&real, N_SET, 100, 0, 0);
    fce_quality_opts o = small_opts();
    o.floor = 0;
    const double shift[4] = {0, 30, 60, 100};
    double prec[4];
    for (int t = 0; t < 4; t++) {
        fce_image_set fake;
        make_pictures(&fake, N_SET, 200, 0, shift[t]);
        fce_quality_report rep;
        ASSERT_OK(fce_quality_measure(cpu(), &real, &fake, &o, &rep));
        prec[t] = 0.5 * (rep.fake[0].precision + rep.fake[1].precision);
        printf("  brightness +%3.0f: precision %.3f recall %.3f KID %.5f\n", shift[t], prec[t],
               rep.fake[0].recall, rep.fake[0].kid);
        if (t > 0) ASSERT_TRUE(prec[t] < prec[t - 1]);
        fce_image_set_free(&fake);
    }
    ASSERT_TRUE(prec[0] > 0.5 && prec[3] < 0.5 * prec[0]);
    fce_image_set_free(&real);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(kid_matches_direct_formula);
RUN_TEST(precision_recall_hand_made);
RUN_TEST(features_seeded_and_batch_independent);
RUN_TEST(kid_grows_with_noise_and_same_data_scores_the_floor);
RUN_TEST(precision_falls_off_the_manifold);
FCE_TEST_MAIN_END

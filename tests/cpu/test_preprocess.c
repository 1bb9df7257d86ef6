/* test_preprocess.c: image dequantization and post-processing (preprocess_ref.c, SPEC §1), for
 * n_bits = 8 and 5:
 * - dequantized values lie in [−0.5, 0.5), each in its bin [q/n_bins − ½, (q+1)/n_bins − ½)
 *   (checked in double, exactly), and the noise x − (q/n_bins − ½) has mean half a bin (5σ);
 * - a draw whose rounded sum reaches the bin's upper edge is kept inside the bin (found by search);
 * - postprocess(dequantize(u8)) == (u8 >> (8 − n_bits)) << (8 − n_bits) for all 256 bytes, many
 *   noise draws each;
 * - element i uses the uniform (seed, offset + i): a fill at offset o equals elements o.. of a
 *   longer one, and different seeds give different noise;
 * - postprocess clips out-of-range and infinite inputs to 0 / 255, maps NaN to 0, and evaluates
 *   floor((x + ½)·n_bins) exactly (no rounding of x + ½ just below a bin edge). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/philox.h"
#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

#define REPS 2000 /* noise draws per byte value */
#define N_SIGMA 5.0

static const uint64_t SEED = 0xC0FFEE1234ull;

static uint8_t *bytes_all(size_t reps) {
    uint8_t *u8 = malloc(256 * reps);
    if (!u8) abort();
    for (size_t i = 0; i < 256 * reps; i++) u8[i] = (uint8_t)(i % 256);
    return u8;
}

static int check_bins(int n_bits) {
    const size_t n = 256 * (size_t)REPS;
    const double nb = (double)(1 << n_bits);
    uint8_t *u8 = bytes_all(REPS);
    float *x = fce_test_alloc(n);
    fce_ref_dequantize(x, u8, n, n_bits, SEED, 7);
    double s1 = 0.0;
    for (size_t i = 0; i < n; i++) {
        const int q = u8[i] >> (8 - n_bits);
        const double lo = q / nb - 0.5, hi = (q + 1) / nb - 0.5, xi = x[i];
        if (!(xi >= -0.5 && xi < 0.5 && xi >= lo && xi < hi)) {
            fprintf(stderr, "    n_bits %d, i %zu, u8 %d: x = %.9g outside [%.9g, %.9g)\n", n_bits,
                    i, u8[i], xi, lo, hi);
            free(u8);
            free(x);
            return 1;
        }
        s1 += xi - lo;
    }
    /* noise ~ U(0, 1/n_bins): mean 1/(2 n_bins), σ(mean) = (1/n_bins)/√(12 n). */
    const double mean = s1 / (double)n, se = (1.0 / nb) / sqrt(12.0 * (double)n);
    fprintf(stderr, "    n_bits %d: noise mean %.7g (want %.7g ± %.2g)\n", n_bits, mean, 0.5 / nb,
            N_SIGMA * se);
    free(u8);
    free(x);
    ASSERT_NEAR(mean, 0.5 / nb, N_SIGMA * se);
    return 0;
}

TEST(dequantize_in_bins) {
    ASSERT_EQ_INT(check_bins(8), 0);
    ASSERT_EQ_INT(check_bins(5), 0);
    return 0;
}

/* At 8 bits, bin 0 is [−0.5, −0.49609375) where the float spacing is 2^−25: a uniform within
 * 2^−18 of 1 makes −0.5 + u/256 round up to the upper edge. Find such an index and check that the
 * op keeps x below the edge (the largest float below it) and that postprocess still gives 0. */
TEST(dequantize_bin_edge_rounding) {
    const float inv = 1.0f / 256.0f, b = -0.5f, h = b + inv;
    uint64_t idx = 0;
    int found = 0;
    for (; idx < (1ull << 24); idx++) {
        volatile float v = fce_philox_uniform(SEED, idx) * inv;
        volatile float s = b + v;
        if (s >= h) {
            found = 1;
            break;
        }
    }
    ASSERT_TRUE(found);
    fprintf(stderr, "    upper-edge rounding at index %llu (u = %.9g)\n", (unsigned long long)idx,
            (double)fce_philox_uniform(SEED, idx));
    uint8_t zero = 0, back = 99;
    float x = 0.0f;
    fce_ref_dequantize(&x, &zero, 1, 8, SEED, idx);
    ASSERT_TRUE(x < h);
    ASSERT_TRUE(x == nextafterf(h, -1.0f));
    fce_ref_postprocess(&back, &x, 1, 8);
    ASSERT_EQ_INT(back, 0);
    return 0;
}

static int check_roundtrip(int n_bits) {
    const size_t n = 256 * (size_t)REPS;
    uint8_t *u8 = bytes_all(REPS), *back = malloc(n);
    float *x = fce_test_alloc(n);
    if (!back) abort();
    memset(back, 0xAB, n);
    fce_ref_dequantize(x, u8, n, n_bits, SEED + (uint64_t)n_bits, 12345);
    fce_ref_postprocess(back, x, n, n_bits);
    const int sh = 8 - n_bits;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const int want = (u8[i] >> sh) << sh;
        if (back[i] != want) {
            if (bad < 5)
                fprintf(stderr, "    n_bits %d, i %zu: u8 %d -> x %.9g -> %d, want %d\n", n_bits, i,
                        u8[i], (double)x[i], back[i], want);
            bad++;
        }
    }
    free(u8);
    free(back);
    free(x);
    return bad != 0;
}

TEST(postprocess_inverts_dequantize) {
    ASSERT_EQ_INT(check_roundtrip(8), 0);
    ASSERT_EQ_INT(check_roundtrip(5), 0);
    return 0;
}

TEST(offset_semantics) {
    uint8_t u8[100];
    float full[100], tail[60], other[100];
    for (int i = 0; i < 100; i++) u8[i] = (uint8_t)(i * 37 + 11);
    for (int nbits = 5; nbits <= 8; nbits += 3) {
        fce_ref_dequantize(full, u8, 100, nbits, SEED, 0);
        fce_ref_dequantize(tail, u8 + 40, 60, nbits, SEED, 40);
        ASSERT_TRUE(memcmp(full + 40, tail, sizeof tail) == 0);
        /* element i's noise is uniform(seed, offset + i), scaled by 1/n_bins (to rounding) */
        const double nb = (double)(1 << nbits);
        for (int i = 0; i < 100; i++) {
            const double lo = (u8[i] >> (8 - nbits)) / nb - 0.5;
            const double u = fce_philox_uniform(SEED, (uint64_t)i);
            ASSERT_NEAR((full[i] - lo) * nb, u, 1e-6 * nb);
        }
        /* offsets past 2^32 and other seeds give other noise */
        fce_ref_dequantize(other, u8, 100, nbits, SEED, 1ull << 32);
        ASSERT_TRUE(memcmp(full, other, sizeof full) != 0);
        fce_ref_dequantize(other, u8, 100, nbits, SEED + 1, 0);
        ASSERT_TRUE(memcmp(full, other, sizeof full) != 0);
    }
    /* n = 0 writes nothing */
    fce_ref_dequantize(NULL, NULL, 0, 8, SEED, 0);
    fce_ref_postprocess(NULL, NULL, 0, 8);
    return 0;
}

/* fce_ref_postprocess of the m values xs at nbits gives want, each byte written. */
static int check_postprocess(const float *xs, const uint8_t *want, int m, int nbits) {
    uint8_t got[16];
    ASSERT_TRUE(m <= (int)sizeof got);
    memset(got, 0xAB, sizeof got);
    fce_ref_postprocess(got, xs, (size_t)m, nbits);
    for (int i = 0; i < m; i++) {
        if (got[i] != want[i])
            fprintf(stderr, "    %d bits, x = %.9g: got %d\n", nbits, (double)xs[i], got[i]);
        ASSERT_EQ_INT(got[i], want[i]);
    }
    return 0;
}

TEST(postprocess_clipping_and_edges) {
    enum { M = 16 };
    const float xs[M] = {-1e30f, -0.6f, nextafterf(-0.5f, -1.0f), -0.5f, 0.0f,
                         -0x1p-30f, nextafterf(0.5f, 0.0f), 0.5f, 0.7f, 1e30f,
                         INFINITY, -INFINITY, NAN, -NAN, 1e-40f, -1e-40f};
    /* 8 bits: u8 = clip(floor((x + ½)·256), 0, 255) */
    const uint8_t want8[M] = {0, 0, 0, 0, 128, 127, 255, 255, 255, 255, 255, 0, 0, 0, 128, 127};
    /* 5 bits: u8 = clip(floor((x + ½)·32)·8, 0, 255) */
    const uint8_t want5[M] = {0, 0, 0, 0, 128, 120, 248, 255, 255, 255, 255, 0, 0, 0, 128, 120};
    if (check_postprocess(xs, want8, M, 8) || check_postprocess(xs, want5, M, 5)) return 1;
    /* every bin centre maps to its bin, at both bit depths */
    for (int nbits = 5; nbits <= 8; nbits += 3) {
        const int nb = 1 << nbits;
        for (int q = 0; q < nb; q++) {
            float c = ((float)q + 0.5f) / (float)nb - 0.5f;
            uint8_t o = 0;
            fce_ref_postprocess(&o, &c, 1, nbits);
            ASSERT_EQ_INT(o, q << (8 - nbits));
        }
    }
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(dequantize_in_bins);
RUN_TEST(dequantize_bin_edge_rounding);
RUN_TEST(postprocess_inverts_dequantize);
RUN_TEST(offset_semantics);
RUN_TEST(postprocess_clipping_and_edges);
FCE_TEST_MAIN_END

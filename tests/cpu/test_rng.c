/* test_rng.c: Philox4x32-10 (include/fce/philox.h) and the reference fills (rng_ref.c).
 *
 * - known-answer vectors of Philox4x32-10 from Random123 (kat_vectors, Salmon et al. SC'11);
 * - the (seed, index) → (key, counter) packing, including the high 32 bits of both;
 * - uniform draws lie in (0, 1) with mean ½ and variance 1/12 (1e5 draws, 5σ bounds);
 * - normal draws have mean 0, variance 1 and P(|z| < 1) = 0.6827 (1e5 draws, 5σ bounds);
 * - fill semantics: x[i] = philox(seed, offset + i), so a fill with offset o equals elements
 *   o.. of a longer fill; std and [lo, hi) scale the unit draws. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/philox.h"
#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

#define N_STAT 100000
/* Statistical bounds: 5 standard errors of the estimate (a fixed seed, so the test is
 * deterministic; 5σ makes a false alarm on a changed seed ~6e-7 likely per check). */
#define N_SIGMA 5.0

static int check_kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                     const uint32_t want[4]) {
    uint32_t ctr[4] = {c0, c1, c2, c3}, out[4];
    fce_philox4x32(ctr, k0, k1, out);
    for (int i = 0; i < 4; i++) {
        if (out[i] != want[i]) {
            fprintf(stderr, "    KAT word %d: got 0x%08x want 0x%08x\n", i, out[i], want[i]);
            return 0;
        }
    }
    return 1;
}

TEST(philox_known_answers) {
    static const uint32_t zero[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    static const uint32_t ones[4] = {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu};
    static const uint32_t pi[4] = {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};
    ASSERT_TRUE(check_kat(0, 0, 0, 0, 0, 0, zero));
    ASSERT_TRUE(check_kat(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
                          0xffffffffu, ones));
    ASSERT_TRUE(check_kat(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u,
                          0x299f31d0u, pi));
    return 0;
}

TEST(philox_words_packing) {
    /* counter = (lo32(index), hi32(index), 0, 0), key = (lo32(seed), hi32(seed)). */
    uint64_t seed = 0x299f31d0a4093822ull, index = 0x85a308d3243f6a88ull;
    uint32_t ctr[4] = {0x243f6a88u, 0x85a308d3u, 0, 0}, direct[4], packed[4];
    fce_philox4x32(ctr, 0xa4093822u, 0x299f31d0u, direct);
    fce_philox_words(seed, index, packed);
    ASSERT_TRUE(memcmp(direct, packed, sizeof direct) == 0);
    /* The high halves matter: seed s and s + 2^32, index i and i + 2^32 give other words. */
    uint32_t a[4], b[4];
    fce_philox_words(5, 7, a);
    fce_philox_words(5 + (1ull << 32), 7, b);
    ASSERT_TRUE(memcmp(a, b, sizeof a) != 0);
    fce_philox_words(5, 7 + (1ull << 32), b);
    ASSERT_TRUE(memcmp(a, b, sizeof a) != 0);
    return 0;
}

TEST(uniform_in_open_unit_interval) {
    float *x = fce_test_alloc(N_STAT);
    fce_ref_fill_uniform(x, N_STAT, 1234, 0, 0.0f, 1.0f);
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < N_STAT; i++) {
        ASSERT_TRUE(x[i] > 0.0f && x[i] < 1.0f);
        ASSERT_TRUE(x[i] == fce_philox_uniform(1234, i));
        s1 += x[i];
        s2 += (double)x[i] * x[i];
    }
    double mean = s1 / N_STAT, var = s2 / N_STAT - mean * mean;
    /* σ(mean) = √(1/12/n); σ(var) = √((1/80 − 1/144)/n) for U(0, 1). */
    double se_mean = sqrt(1.0 / 12.0 / N_STAT), se_var = sqrt((1.0 / 80.0 - 1.0 / 144.0) / N_STAT);
    fprintf(stderr, "    uniform: mean %.5f (±%.5f) var %.5f (±%.5f)\n", mean,
            N_SIGMA * se_mean, var, N_SIGMA * se_var);
    ASSERT_NEAR(mean, 0.5, N_SIGMA * se_mean);
    ASSERT_NEAR(var, 1.0 / 12.0, N_SIGMA * se_var);
    /* indices whose top word is 0xffffffec..: the 24-bit form rounded these to exactly 1.0 */
    ASSERT_TRUE(fce_philox_uniform(0, 38471471) < 1.0f);
    ASSERT_TRUE(fce_philox_uniform(0, 58912592) < 1.0f);
    ASSERT_TRUE(fce_philox_uniform(0, 114992205) < 1.0f);
    free(x);
    return 0;
}

TEST(uniform_range_mapping) {
    float x[64];
    const float lo = -2.0f, hi = 3.0f;
    fce_ref_fill_uniform(x, 64, 99, 10, lo, hi);
    for (size_t i = 0; i < 64; i++) {
        ASSERT_TRUE(x[i] == lo + (hi - lo) * fce_philox_uniform(99, 10 + i));
        ASSERT_TRUE(x[i] >= lo && x[i] <= hi);
    }
    return 0;
}

TEST(normal_moments) {
    float *x = fce_test_alloc(N_STAT);
    fce_ref_fill_normal(x, N_STAT, 4321, 0, 1.0f);
    double s1 = 0.0, s2 = 0.0;
    size_t inside = 0;
    for (size_t i = 0; i < N_STAT; i++) {
        ASSERT_TRUE(isfinite(x[i]));
        s1 += x[i];
        s2 += (double)x[i] * x[i];
        if (fabsf(x[i]) < 1.0f) inside++;
    }
    double mean = s1 / N_STAT, var = s2 / N_STAT - mean * mean, frac = (double)inside / N_STAT;
    const double p1 = 0.68268949213708585; /* P(|z| < 1) = erf(1/√2) */
    /* σ(mean) = 1/√n; σ(var) = √(2/n); σ(frac) = √(p(1 − p)/n). */
    double se_mean = 1.0 / sqrt(N_STAT), se_var = sqrt(2.0 / N_STAT);
    double se_frac = sqrt(p1 * (1.0 - p1) / N_STAT);
    fprintf(stderr, "    normal: mean %.5f var %.5f P(|z|<1) %.5f\n", mean, var, frac);
    ASSERT_NEAR(mean, 0.0, N_SIGMA * se_mean);
    ASSERT_NEAR(var, 1.0, N_SIGMA * se_var);
    ASSERT_NEAR(frac, p1, N_SIGMA * se_frac);
    free(x);
    return 0;
}

TEST(normal_std_scaling) {
    float a[256], b[256];
    fce_ref_fill_normal(a, 256, 77, 3, 1.0f);
    fce_ref_fill_normal(b, 256, 77, 3, 2.5f);
    for (int i = 0; i < 256; i++) {
        ASSERT_TRUE(a[i] == fce_philox_normal(77, 3 + (uint64_t)i));
        ASSERT_TRUE(b[i] == 2.5f * a[i]);
    }
    return 0;
}

TEST(offset_semantics) {
    float full[100], tail[60];
    fce_ref_fill_normal(full, 100, 2024, 0, 1.0f);
    fce_ref_fill_normal(tail, 60, 2024, 40, 1.0f);
    ASSERT_TRUE(memcmp(full + 40, tail, sizeof tail) == 0);
    fce_ref_fill_uniform(full, 100, 2024, 0, -1.0f, 1.0f);
    fce_ref_fill_uniform(tail, 60, 2024, 40, -1.0f, 1.0f);
    ASSERT_TRUE(memcmp(full + 40, tail, sizeof tail) == 0);
    /* Offsets past 2^32 use the counter's second word: still element-wise philox(seed, o + i),
     * and different from the numbers at o − 2^32. */
    uint64_t o = (1ull << 32) - 2;
    float hi[4], lo[4];
    fce_ref_fill_normal(hi, 4, 2024, o, 1.0f);
    for (uint64_t i = 0; i < 4; i++) ASSERT_TRUE(hi[i] == fce_philox_normal(2024, o + i));
    fce_ref_fill_normal(hi, 4, 2024, 1ull << 32, 1.0f);
    fce_ref_fill_normal(lo, 4, 2024, 0, 1.0f);
    ASSERT_TRUE(memcmp(hi, lo, sizeof hi) != 0);
    /* Different seeds give different streams. */
    fce_ref_fill_normal(hi, 4, 2025, 0, 1.0f);
    ASSERT_TRUE(memcmp(hi, lo, sizeof hi) != 0);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(philox_known_answers);
RUN_TEST(philox_words_packing);
RUN_TEST(uniform_in_open_unit_interval);
RUN_TEST(uniform_range_mapping);
RUN_TEST(normal_moments);
RUN_TEST(normal_std_scaling);
RUN_TEST(offset_semantics);
FCE_TEST_MAIN_END

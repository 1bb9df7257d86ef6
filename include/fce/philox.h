/* philox.h: counter-based Philox4x32-10 random numbers, identical on CPU and GPU.
 *
 * Each random number is a pure function of (seed, index): element i of a fill with offset `o` uses
 * index o + i. So the GPU (one thread per element) and the CPU (a loop) produce the same numbers,
 * and a stochastic step can be compared between backends.
 *   uniform:  counter = (lo32(index), hi32(index), 0, 0), key = (lo32(seed), hi32(seed));
 *             u = ((out[0] >> 9) + 0.5)·2⁻²³ in (0, 1), exact in float, bitwise equal on both sides.
 *   normal:   Box-Muller on out[0], out[1] computed in double, rounded to float once. CPU libm and
 *             CUDA's double log/cos/sqrt are within 1 ulp of double, so the float results agree
 *             except in rare double-rounding ties (the test bounds the difference, it is not assumed 0).
 * Reference: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11). */
#ifndef FCE_PHILOX_H
#define FCE_PHILOX_H

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define FCE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FCE_HOST_DEVICE static inline
#endif

FCE_HOST_DEVICE uint32_t fce_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Philox4x32 with 10 rounds; writes 4 random words for (counter, key). */
FCE_HOST_DEVICE void fce_philox4x32(uint32_t ctr[4], uint32_t k0, uint32_t k1, uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = fce_philox_mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = fce_philox_mulhilo(0xCD9E8D57u, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

FCE_HOST_DEVICE void fce_philox_words(uint64_t seed, uint64_t index, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), 0u, 0u};
    fce_philox4x32(ctr, (uint32_t)seed, (uint32_t)(seed >> 32), out);
}

/* Uniform in the open interval (0, 1), 23 random bits: (k + ½)·2⁻²³ with k < 2²³ needs 24
 * significant bits, so it is exact in float and never rounds up to 1 (with 24 bits, k = 2²⁴ − 1
 * rounded (k + ½) to 2²⁴ and returned exactly 1.0, e.g. seed 0, index 38471471). */
FCE_HOST_DEVICE float fce_philox_uniform(uint64_t seed, uint64_t index) {
    uint32_t w[4];
    fce_philox_words(seed, index, w);
    return ((float)(w[0] >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

/* Standard normal (Box-Muller in double, rounded to float). */
FCE_HOST_DEVICE float fce_philox_normal(uint64_t seed, uint64_t index) {
    uint32_t w[4];
    fce_philox_words(seed, index, w);
    double u1 = ((double)w[0] + 0.5) * (1.0 / 4294967296.0); /* (0,1): log is finite */
    double u2 = ((double)w[1] + 0.5) * (1.0 / 4294967296.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2));
}

/* An independent 64-bit seed for stream `stream` of a run's seed (splitmix64 finaliser): data,
 * noise, init and each model get their own stream of one --seed. */
FCE_HOST_DEVICE uint64_t fce_derive_seed(uint64_t seed, uint64_t stream) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif

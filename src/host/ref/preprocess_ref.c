/* preprocess_ref.c: image dequantization and post-processing (SPEC §1; Glow model.py preprocess /
 * postprocess), the CPU side of ops that the CUDA kernels (src/kernels/preprocess.cu) reproduce
 * bit for bit. n_bins = 2^n_bits, n_bits in 1..8, inv = 1/n_bins (a power of two, exact).
 *
 * dequantize, element i (u = fce_philox_uniform(seed, offset + i), in (0, 1)):
 *   q = (float)(u8[i] >> (8 − n_bits))      the bin, an integer 0..n_bins−1
 *   b = q·inv − 0.5f                        the bin's lower edge: exact (a multiple of 2^−8)
 *   v = u·inv                               the noise in (0, inv): exact (power-of-two scale)
 *   h = b + inv                             the bin's upper edge (q+1)/n_bins − ½: exact
 *   x = b + v                               the only rounding (round to nearest even)
 *   x = x < h ? x : nextafterf(h, −1)       keep x inside its bin
 * Mathematically x = q/n_bins − ½ + u/n_bins (backend.h). The sum is correctly rounded, but when
 * b + v lies within half an ulp of h it rounds up to h, the next bin's edge (about once in 2^18
 * draws at 8 bits): the last step maps that case to the largest float below h, so every x lies in
 * [b, h) ⊂ [−0.5, 0.5) and postprocess recovers q. Each step is one IEEE float operation on float
 * temporaries (every product is exact, so FMA contraction could not change a bit either); the GPU
 * performs the same operations with __fmul_rn/__fadd_rn/nextafterf, so the two agree bitwise.
 *
 * postprocess, element i: u8 = clip(floor((x + ½)·n_bins)·(256/n_bins), 0, 255), evaluated exactly:
 *   NaN → 0 (a choice: a sample that blew up is written black, deterministically on both sides);
 *   z = clamp(x·n_bins, −n_bins, n_bins)    x·n_bins is exact (±inf on overflow, then clamped)
 *   k = floorf(z) + n_bins/2                = floor((x + ½)·n_bins): integers < 2^24, exact
 *   u8 = clamp(k·(256/n_bins), 0, 255)      ±inf and out-of-range x clip to 0 / 255
 * Rounding x + ½ in float first (the literal formula) would push values just below a bin edge
 * (e.g. x = −2^−30) into the next bin; the split form has no rounding at all, so
 * postprocess(dequantize(u8)) == (u8 >> (8 − n_bits)) << (8 − n_bits) for every byte. */
#include "ref/ref.h"

#include <math.h>

#include "fce/log.h"
#include "fce/philox.h"

void fce_ref_dequantize(float *x, const uint8_t *u8, size_t n, int n_bits, uint64_t seed,
                        uint64_t offset) {
    FCE_ASSERT(n_bits >= 1 && n_bits <= 8, "dequantize_ref: n_bits = %d is outside 1..8", n_bits);
    const int shift = 8 - n_bits;
    const float inv = 1.0f / (float)(1 << n_bits);
    for (size_t i = 0; i < n; i++) {
        const float q = (float)(u8[i] >> shift);
        const float u = fce_philox_uniform(seed, offset + i);
        const float qs = q * inv;
        const float b = qs - 0.5f;
        const float v = u * inv;
        const float h = b + inv;
        const float s = b + v;
        x[i] = s < h ? s : nextafterf(h, -1.0f);
    }
}

void fce_ref_postprocess(uint8_t *u8, const float *x, size_t n, int n_bits) {
    FCE_ASSERT(n_bits >= 1 && n_bits <= 8, "postprocess_ref: n_bits = %d is outside 1..8",
               n_bits);
    const float nb = (float)(1 << n_bits);
    const float half = 0.5f * nb;
    const float step = 256.0f / nb;
    for (size_t i = 0; i < n; i++) {
        const float xi = x[i];
        if (isnan(xi)) {
            u8[i] = 0;
            continue;
        }
        float z = xi * nb;
        z = fminf(fmaxf(z, -nb), nb);
        const float k = floorf(z) + half;
        float v = k * step;
        v = fminf(fmaxf(v, 0.0f), 255.0f);
        u8[i] = (uint8_t)v;
    }
}

void fce_ref_dequantize_at(float *x, const uint8_t *u8, size_t n, int n_bits, uint64_t seed,
                           uint64_t offset, const uint64_t *offset_add) {
    fce_ref_dequantize(x, u8, n, n_bits, seed, offset + (offset_add ? *offset_add : 0));
}

/* rng_ref.c: Philox random fills (philox.h), the CPU side of the bit-identical CPU/GPU streams.
 *
 *   fill_normal:  x[i] = std · normal(seed, offset + i)
 *   fill_uniform: x[i] = lo + (hi − lo) · uniform(seed, offset + i)
 *
 * Each element is a pure function of (seed, offset + i), so a fill with offset o reproduces
 * elements o.. of a longer fill, and the CUDA kernel (one thread per element) matches this loop.
 * Reference: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11). */
#include "ref/ref.h"

#include "fce/philox.h"

void fce_ref_fill_normal(float *x, size_t n, uint64_t seed, uint64_t offset, float std) {
    for (size_t i = 0; i < n; i++) x[i] = std * fce_philox_normal(seed, offset + i);
}

void fce_ref_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * fce_philox_uniform(seed, offset + i);
}

void fce_ref_fill_normal_at(float *x, size_t n, uint64_t seed, uint64_t offset,
                            const uint64_t *offset_add, float std) {
    fce_ref_fill_normal(x, n, seed, offset + (offset_add ? *offset_add : 0), std);
}

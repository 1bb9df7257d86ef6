/* test_util.h: seeded random tensors and a CPU+GPU context pair for the tests. */
#ifndef FCE_TEST_UTIL_H
#define FCE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"

/* x[i] = lo + (hi − lo)·uniform(seed, i), on the host. */
void fce_test_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
/* x[i] = std·normal(seed, i), on the host. */
void fce_test_fill_normal(float *x, size_t n, uint64_t seed, float std);
/* Host buffers (abort on OOM: tests only). */
float *fce_test_alloc(size_t n);

/* Backend buffer of n floats initialised from host data (tests only; aborts on failure). */
float *fce_test_dev_from_host(fce_ctx *ctx, const float *h, size_t n);
/* Download n floats into a fresh host buffer (tests only). */
float *fce_test_host_from_dev(fce_ctx *ctx, const float *d, size_t n);

#endif

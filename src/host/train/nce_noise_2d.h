/* nce_noise_2d.h: the 2D NCE baseline's noise model, a fixed Gaussian N(μ, L·Lᵀ) (L lower-triangular)
 * fitted to a sample of the data: its fit, its log-density and its draws. The 2D trainer plays the
 * FCE game against it in --mode nce; the report draws its density as the middle panel. */
#ifndef FCE_TRAIN_NCE_NOISE_2D_H
#define FCE_TRAIN_NCE_NOISE_2D_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

typedef struct fce_gauss2 {
    double mean[2], L[4], log_norm; /* log_norm = −log 2π − log(L00·L11) */
} fce_gauss2;

/* μ and the Cholesky factor of the covariance of n points xy (n, 2); a singular covariance is
 * FCE_STATUS_ERR_NUMERIC (logged). */
fce_status fce_gauss2_fit(fce_gauss2 *g, const float *xy, size_t n);
double fce_gauss2_logp(const fce_gauss2 *g, double x, double y);
/* n draws x̃ = μ + L·ε into x (n, 2) and log q(x̃) into logq (n); ε from the Philox stream `seed`,
 * values [offset, offset + 2n), so a batch is a function of (seed, offset) alone. */
void fce_gauss2_sample(const fce_gauss2 *g, uint64_t seed, uint64_t offset, int n, float *x, float *logq);

#endif

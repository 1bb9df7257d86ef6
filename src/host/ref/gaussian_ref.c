/* gaussian_ref.c: standard normal prior over D dimensions per sample (SPEC a.10/a.13).
 *
 *   logp[n]  += −½·Σ_d z[n, d]² − (D/2)·log 2π          (accumulate into the log-density)
 *   dz[n, d] += −z[n, d] · dlogp[n]                      (backward, accumulates: _acc)
 *
 * z is (N, D) row-major; the sum of squares accumulates in double. */
#include "ref/ref.h"

#include <math.h>

static const double FCE_REF_LOG_2PI = 1.8378770664093454835606594728112;

void fce_ref_gaussian_logp(float *logp, const float *z, int N, int D) {
    for (int n = 0; n < N; n++) {
        double sum_sq = 0.0;
        for (int d = 0; d < D; d++) {
            double v = z[(size_t)n * D + d];
            sum_sq += v * v;
        }
        logp[n] = (float)((double)logp[n] - 0.5 * sum_sq - 0.5 * (double)D * FCE_REF_LOG_2PI);
    }
}

void fce_ref_gaussian_logp_backward_acc(float *dz, const float *z, const float *dlogp, int N,
                                        int D) {
    for (int n = 0; n < N; n++) {
        double g = dlogp[n];
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            dz[i] = (float)((double)dz[i] - (double)z[i] * g);
        }
    }
}

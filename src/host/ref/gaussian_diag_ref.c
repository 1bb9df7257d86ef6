/* gaussian_diag_ref.c: diagonal Gaussian with per-element mean and log-std (SPEC a.9 split prior,
 * a.10 learned top prior).
 *
 * z, mean, logs are (N, D) row-major; u = (z − mean)·e^{−logs}.
 *   logp[n] += Σ_d −½·u² − logs − ½·log 2π                     (accumulate)
 * backward, g = dlogp[n]:
 *   dz    += −u·e^{−logs}·g      (accumulate: z also feeds the rest of the flow; _acc)
 *   dmean  =  u·e^{−logs}·g      (overwrite; NULL skips)
 *   dlogs  = (u² − 1)·g          (overwrite; NULL skips)
 * dz may be NULL too. Elementwise math in double, rounded once; the per-sample sums Σu² and
 * Σlogs accumulate in double and are combined as logp − ½Σu² − Σlogs − (D/2)·log 2π, the same
 * expression as the standard normal prior (gaussian_ref.c) when mean = logs = 0. */
#include "ref/ref.h"

#include <math.h>

static const double FCE_REF_DIAG_LOG_2PI = 1.8378770664093454835606594728112;

void fce_ref_gaussian_diag_logp(float *logp, const float *z, const float *mean, const float *logs,
                                int N, int D) {
    for (int n = 0; n < N; n++) {
        double sum_sq = 0.0, sum_logs = 0.0;
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            double u = ((double)z[i] - mean[i]) * exp(-(double)logs[i]);
            sum_sq += u * u;
            sum_logs += logs[i];
        }
        logp[n] = (float)((double)logp[n] - 0.5 * sum_sq - sum_logs -
                          0.5 * (double)D * FCE_REF_DIAG_LOG_2PI);
    }
}

void fce_ref_gaussian_diag_logp_backward_acc(float *dz, float *dmean, float *dlogs, const float *z,
                                             const float *mean, const float *logs,
                                             const float *dlogp, int N, int D) {
    for (int n = 0; n < N; n++) {
        double g = dlogp[n];
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            double inv_sigma = exp(-(double)logs[i]);
            double u = ((double)z[i] - mean[i]) * inv_sigma;
            double gm = u * inv_sigma * g; /* = −∂/∂z = ∂/∂mean */
            if (dz) dz[i] = (float)((double)dz[i] - gm);
            if (dmean) dmean[i] = (float)gm;
            if (dlogs) dlogs[i] = (float)((u * u - 1.0) * g);
        }
    }
}

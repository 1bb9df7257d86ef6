/* nce_noise_2d.c: the 2D NCE baseline's Gaussian (nce_noise_2d.h). */
#include "train/nce_noise_2d.h"

#include <math.h>

#include "fce/data2d.h"
#include "fce/log.h"
#include "fce/philox.h"

fce_status fce_gauss2_fit(fce_gauss2 *g, const float *xy, size_t n) {
    double cov[4];
    fce_data2d_mean_cov(xy, n, g->mean, cov);
    double l00 = sqrt(cov[0]);
    double l10 = cov[2] / l00;
    double r = cov[3] - l10 * l10;
    if (!(l00 > 0) || !(r > 0)) {
        fce_log_error("nce: the data covariance is singular; a Gaussian noise cannot be fitted");
        return FCE_STATUS_ERR_NUMERIC;
    }
    g->L[0] = l00;
    g->L[1] = 0;
    g->L[2] = l10;
    g->L[3] = sqrt(r);
    g->log_norm = -log(2.0 * 3.14159265358979323846) - log(g->L[0] * g->L[3]);
    return FCE_STATUS_OK;
}

double fce_gauss2_logp(const fce_gauss2 *g, double x, double y) {
    double u0 = (x - g->mean[0]) / g->L[0];
    double u1 = (y - g->mean[1] - g->L[2] * u0) / g->L[3];
    return g->log_norm - 0.5 * (u0 * u0 + u1 * u1);
}

void fce_gauss2_sample(const fce_gauss2 *g, uint64_t seed, uint64_t offset, int n, float *x, float *logq) {
    for (int i = 0; i < n; i++) {
        double e0 = fce_philox_normal(seed, offset + 2 * (uint64_t)i);
        double e1 = fce_philox_normal(seed, offset + 2 * (uint64_t)i + 1);
        double x0 = g->mean[0] + g->L[0] * e0, x1 = g->mean[1] + g->L[2] * e0 + g->L[3] * e1;
        x[2 * i] = (float)x0;
        x[2 * i + 1] = (float)x1;
        logq[i] = (float)fce_gauss2_logp(g, x0, x1);
    }
}

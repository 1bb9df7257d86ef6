/* actnorm_ref.c: ActNorm with log-det (SPEC a.2; Glow, Kingma & Dhariwal 2018, §3.1).
 *
 * rows = N·HW pixels, C channels, NHWC; sample n owns rows [n·HW, (n+1)·HW).
 * Effective log-scale s_c = 3·logs_c (FCE_ACTNORM_LOGSCALE_FACTOR, openai/glow logscale_factor).
 *   forward:  y = (x + b)·e^s,   logdet[n] += HW·Σ_c s_c
 *   inverse:  x = y·e^{−s} − b,  logdet[n] −= HW·Σ_c s_c
 *   backward of forward: dx = dy·e^s; db_c += Σ dy·e^s; dlogs_c += 3·(Σ dy·y + HW·Σ_n dlogdet_n)
 *   backward of inverse: dy = dx·e^{−s}; db_c += −Σ dx;
 *                        dlogs_c += 3·(−Σ dx·(x + b) − HW·Σ_n dlogdet_n)
 *   init (data-dependent): b = −mean(x), v = mean((x + b)²), logs = log(1/(√v + 1e−6))/3,
 *   statistics over all rows.
 * s_c is formed in double (3·logs is exact there) and every reduction accumulates in double.
 * Loops run channel-outer so each channel's sums need no scratch memory. */
#include "ref/ref.h"

#include <math.h>

#include "fce/backend.h"

static double actnorm_s(const float *logs, int c) {
    return (double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)logs[c];
}

/* HW·Σ_c s_c: the per-sample log-det of the forward direction. */
static double actnorm_logdet_per_sample(const float *logs, int HW, int C) {
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += actnorm_s(logs, c);
    return (double)HW * sum;
}

void fce_ref_actnorm_forward(float *y, float *logdet, const float *x, const float *bias,
                             const float *logs, int N, int HW, int C) {
    size_t rows = (size_t)N * HW;
    for (int c = 0; c < C; c++) {
        double scale = exp(actnorm_s(logs, c));
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * C + c;
            y[i] = (float)(((double)x[i] + bias[c]) * scale);
        }
    }
    if (logdet) {
        double ld = actnorm_logdet_per_sample(logs, HW, C);
        for (int n = 0; n < N; n++) logdet[n] = (float)((double)logdet[n] + ld);
    }
}

void fce_ref_actnorm_inverse(float *x, float *logdet, const float *y, const float *bias,
                             const float *logs, int N, int HW, int C) {
    size_t rows = (size_t)N * HW;
    for (int c = 0; c < C; c++) {
        double inv_scale = exp(-actnorm_s(logs, c));
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * C + c;
            x[i] = (float)((double)y[i] * inv_scale - bias[c]);
        }
    }
    if (logdet) {
        double ld = actnorm_logdet_per_sample(logs, HW, C);
        for (int n = 0; n < N; n++) logdet[n] = (float)((double)logdet[n] - ld);
    }
}

static double sum_dlogdet(const float *dlogdet, int N) {
    double sum = 0.0;
    if (dlogdet)
        for (int n = 0; n < N; n++) sum += dlogdet[n];
    return sum;
}

void fce_ref_actnorm_backward(float *dx, float *dbias, float *dlogs, const float *dy,
                              const float *y, const float *dlogdet, const float *bias,
                              const float *logs, int N, int HW, int C) {
    size_t rows = (size_t)N * HW;
    double gl = sum_dlogdet(dlogdet, N);
    for (int c = 0; c < C; c++) {
        double scale = exp(actnorm_s(logs, c));
        double sum_dy = 0.0, sum_dy_y = 0.0;
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * C + c;
            if (dx) dx[i] = (float)((double)dy[i] * scale);
            sum_dy += dy[i];
            sum_dy_y += (double)dy[i] * y[i];
        }
        if (dbias) dbias[c] = (float)((double)dbias[c] + sum_dy * scale);
        if (dlogs)
            dlogs[c] = (float)((double)dlogs[c] +
                               (double)FCE_ACTNORM_LOGSCALE_FACTOR * (sum_dy_y + (double)HW * gl));
    }
}

void fce_ref_actnorm_inverse_backward(float *dy, float *dbias, float *dlogs, const float *dx,
                                      const float *x, const float *dlogdet, const float *bias,
                                      const float *logs, int N, int HW, int C) {
    size_t rows = (size_t)N * HW;
    double gl = sum_dlogdet(dlogdet, N);
    for (int c = 0; c < C; c++) {
        double inv_scale = exp(-actnorm_s(logs, c));
        double sum_dx = 0.0, sum_dx_xb = 0.0;
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * C + c;
            if (dy) dy[i] = (float)((double)dx[i] * inv_scale);
            sum_dx += dx[i];
            sum_dx_xb += (double)dx[i] * ((double)x[i] + bias[c]);
        }
        if (dbias) dbias[c] = (float)((double)dbias[c] - sum_dx);
        if (dlogs)
            dlogs[c] = (float)((double)dlogs[c] +
                               (double)FCE_ACTNORM_LOGSCALE_FACTOR *
                                   (-sum_dx_xb - (double)HW * gl));
    }
}

void fce_ref_actnorm_init(float *bias, float *logs, const float *x, int N, int HW, int C) {
    size_t rows = (size_t)N * HW;
    if (rows == 0) return; /* no statistics: leave the parameters as they are */
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (size_t r = 0; r < rows; r++) sum += x[r * C + c];
        bias[c] = (float)(-sum / (double)rows);
        double sum_sq = 0.0;
        for (size_t r = 0; r < rows; r++) {
            double centred = (double)x[r * C + c] + bias[c];
            sum_sq += centred * centred;
        }
        double var = sum_sq / (double)rows;
        logs[c] = (float)(log(1.0 / (sqrt(var) + 1e-6)) / (double)FCE_ACTNORM_LOGSCALE_FACTOR);
    }
}

/* log_z.c: the importance-sampling estimate of log Z (log_z.h). */
#include "eval/log_z.h"

#include <math.h>
#include <stdio.h>

void fce_log_z_estimate(const double *logw, size_t m, fce_log_z *out) {
    out->m = (long)m;
    out->log_z = out->se = out->ess = NAN;
    double mx = -INFINITY;
    for (size_t i = 0; i < m; i++) {
        if (isnan(logw[i])) return;
        if (logw[i] > mx) mx = logw[i];
    }
    if (m == 0 || mx == -INFINITY) { /* no samples, or every weight zero: log 0 */
        if (m) out->log_z = -INFINITY;
        return;
    }
    if (mx == INFINITY) {
        out->log_z = INFINITY;
        return;
    }
    /* e_i = exp(w_i − max) in (0, 1]: sums in double, two passes for the variance */
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < m; i++) {
        const double e = exp(logw[i] - mx);
        s1 += e, s2 += e * e;
    }
    const double mean = s1 / (double)m;
    out->log_z = mx + log(mean);
    out->ess = s1 * s1 / s2;
    if (m < 2) return;
    double q = 0;
    for (size_t i = 0; i < m; i++) {
        const double d = exp(logw[i] - mx) - mean;
        q += d * d;
    }
    out->se = sqrt(q / (double)(m - 1)) / (sqrt((double)m) * mean);
}

double fce_log_integral(const float *v, size_t n, double log_cell) {
    double mx = -INFINITY, s = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) return NAN;
        if (v[i] > mx) mx = v[i];
    }
    if (mx == -INFINITY || mx == INFINITY) return mx;
    for (size_t i = 0; i < n; i++) s += exp((double)v[i] - mx);
    return mx + log(s) + log_cell;
}

void fce_log_z_json(const fce_log_z *z, const char *prefix, fce_json *j) {
    char key[64];
    fce_json_num(j, prefix, z->log_z, 9);
    snprintf(key, sizeof key, "%s_se", prefix);
    fce_json_num(j, key, z->se, 6);
    snprintf(key, sizeof key, "%s_ess", prefix);
    fce_json_num(j, key, z->ess, 6);
    snprintf(key, sizeof key, "%s_samples", prefix);
    fce_json_int(j, key, z->m);
}

/* log_z.h: the normalising constant of an EBM checked, not assumed (issue 10): the importance-
 * sampling estimate of log Z with a noise model q (the flow; for 2D NCE the Gaussian) as the
 * proposal, from the log-weights w_i = f(x̃_i) − c − log q(x̃_i) of M samples x̃_i ~ q:
 *
 *   Ẑ = (1/M) Σ exp(w_i),   log Ẑ = max w + log mean exp(w − max w)   (no overflow);
 *   se  = sd(e^w) / (√M · mean(e^w)), sd with 1/(M − 1): the standard error of log Ẑ by the delta
 *         method (the relative standard error of Ẑ), computed on e^(w − max w), where the shift cancels;
 *   ess = (Σ e^w)² / Σ e^(2w): the effective sample size, in [1, M].
 *
 * Z here is ∫ exp(f − c): log Ẑ = 0 means the learned c is right, and log p = f − c − log Ẑ is the
 * corrected log-density (bits/dim shift by log Ẑ / (D ln 2)). The estimate is unbiased for Z but
 * its error bar comes from the same samples: when the weights are heavy-tailed (q misses regions
 * where exp(f − c) has mass) the ESS is a handful of samples and se is itself unreliable; log Ẑ then
 * tends to underestimate log Z. */
#ifndef FCE_EVAL_LOG_Z_H
#define FCE_EVAL_LOG_Z_H

#include <stddef.h>

#include "util/json.h"

typedef struct fce_log_z {
    double log_z, se, ess;
    long m; /* samples */
} fce_log_z;

/* The estimate from m log-weights (host). A NaN weight makes every figure NaN; +Inf makes log_z
 * +Inf (se, ess NaN); m < 2 leaves se NaN. Weights of −Inf count as zero weights. */
void fce_log_z_estimate(const double *logw, size_t m, fce_log_z *out);
/* log ∫ exp(v) by the midpoint rule over n cells of equal area exp(log_cell), v the log-values at
 * the cells' centres (float, host): log Σ exp(v_i) + log_cell, with a max shift. NaN if any is NaN. */
double fce_log_integral(const float *v, size_t n, double log_cell);
/* "<prefix>", "<prefix>_se", "<prefix>_ess", "<prefix>_samples" as JSON fields. */
void fce_log_z_json(const fce_log_z *z, const char *prefix, fce_json *j);

#endif

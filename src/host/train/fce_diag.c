/* fce_diag.c: the FCE game's health figures and word (fce_diag.h). */
#include "train/fce_diag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "fce/log.h"

static double sd_of(const float *v, int n) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    const double m = s / n;
    for (int i = 0; i < n; i++) q += ((double)v[i] - m) * ((double)v[i] - m);
    return sqrt(q / n);
}

/* Pearson correlation of u and v; NaN when either is constant. */
static double corr_of(const float *u, const float *v, int n) {
    double su = 0, sv = 0;
    for (int i = 0; i < n; i++) su += u[i], sv += v[i];
    const double mu = su / n, mv = sv / n;
    double uu = 0, vv = 0, uv = 0;
    for (int i = 0; i < n; i++) {
        const double du = (double)u[i] - mu, dv = (double)v[i] - mv;
        uu += du * du, vv += dv * dv, uv += du * dv;
    }
    return uu > 0 && vv > 0 ? uv / sqrt(uu * vv) : NAN;
}

/* a = f − c − log q, in double as the NCE op forms it. */
static double logit(float f, float c, float lq) { return (double)f - (double)c - (double)lq; }

/* The logits of one half: their mean and sd (two passes, nothing stored: a step allocates nothing),
 * how many are correct (a > 0 for data, sign +1; b < 0 for samples, sign −1) and saturated. */
static void half_figures(const float *f, const float *lq, float c, int n, int sign, double *mean, double *sd,
                         int *correct, int *saturated) {
    double s = 0, q = 0;
    *correct = *saturated = 0;
    for (int i = 0; i < n; i++) {
        const double a = logit(f[i], c, lq[i]);
        s += a;
        *saturated += fabs(a) > FCE_DIAG_SATURATION;
        *correct += sign > 0 ? a > 0.0 : a < 0.0;
    }
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (logit(f[i], c, lq[i]) - *mean) * (logit(f[i], c, lq[i]) - *mean);
    *sd = sqrt(q / n);
}

static void unmeasured(fce_diag_figures *x) {
    x->acc_data = x->acc_samples = x->frac_saturated = x->corr_f_logq_data = NAN;
    x->logit_data_mean = x->logit_data_sd = x->logit_samples_mean = x->logit_samples_sd = NAN;
    x->f_data_sd = x->f_samples_sd = x->logq_data_sd = x->logq_samples_sd = NAN;
}

void fce_diag_compute(fce_diag_figures *x, const float *f_data, const float *f_samples,
                      const float *lq_data, const float *lq_samples, float c, int n) {
    if (n < 1) {
        unmeasured(x);
        return;
    }
    int correct, sat_data, sat_samples;
    half_figures(f_data, lq_data, c, n, +1, &x->logit_data_mean, &x->logit_data_sd, &correct, &sat_data);
    x->acc_data = (double)correct / n;
    half_figures(f_samples, lq_samples, c, n, -1, &x->logit_samples_mean, &x->logit_samples_sd, &correct,
                 &sat_samples);
    x->acc_samples = (double)correct / n;
    x->frac_saturated = (double)(sat_data + sat_samples) / (2.0 * n);
    x->f_data_sd = sd_of(f_data, n);
    x->f_samples_sd = sd_of(f_samples, n);
    x->logq_data_sd = sd_of(lq_data, n);
    x->logq_samples_sd = sd_of(lq_samples, n);
    x->corr_f_logq_data = corr_of(f_data, lq_data, n);
}

const char *fce_diag_health(const fce_diag_figures *x) {
    if (isnan(x->acc_data) || isnan(x->acc_samples) || isnan(x->frac_saturated)) return NULL;
    const double acc = 0.5 * (x->acc_data + x->acc_samples);
    if (x->frac_saturated > FCE_DIAG_SATURATED_FRAC) return "saturated";
    if (fabs(x->acc_data - x->acc_samples) > FCE_DIAG_C_OFF_GAP) return "c-off";
    if (acc > FCE_DIAG_EBM_WINS_ACC) return "ebm-wins";
    if (acc < FCE_DIAG_FLOW_WINS_ACC) return "flow-wins";
    return "informative";
}

fce_status fce_diag_init(fce_diag *d, int n) {
    memset(d, 0, sizeof *d);
    d->h = malloc(4 * (size_t)n * sizeof *d->h);
    if (!d->h) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    d->n = n;
    fce_diag_reset(d);
    return FCE_STATUS_OK;
}

void fce_diag_free(fce_diag *d) {
    free(d->h);
    memset(d, 0, sizeof *d);
}

void fce_diag_reset(fce_diag *d) { unmeasured(&d->fig); }

/* In a job of several ranks each rank puts its rows at their global place in a zeroed scratch and
 * the ranks' scratches are summed (adding zeros is exact): every rank holds the whole batch. This
 * rank's rows of quarter q (f data, f samples, log q data, log q samples) start at rows(d, q). */
static float *rows_at(fce_diag *d, fce_ctx *ctx, int n_local, int q) {
    return d->h + (size_t)q * (size_t)d->n + (size_t)fce_dist_rank(ctx->dist) * (size_t)n_local;
}

static fce_status check_and_clear(fce_diag *d, fce_ctx *ctx, int n_local) {
    const int ranks = fce_dist_size(ctx->dist);
    FCE_ASSERT(d->n == n_local * ranks, "fce_diag_measure: scratch for %d points, the game has %d on each of %d "
               "ranks", d->n, n_local, ranks);
    if (ranks > 1) memset(d->h, 0, 4 * (size_t)d->n * sizeof(float));
    return FCE_STATUS_OK;
}

static fce_status finish(fce_diag *d, fce_ctx *ctx, float c) {
    const size_t N = (size_t)d->n;
    FCE_TRY(fce_dist_sum_floats(ctx->dist, d->h, 4 * N));
    fce_diag_compute(&d->fig, d->h, d->h + N, d->h + 2 * N, d->h + 3 * N, c, d->n);
    return FCE_STATUS_OK;
}

fce_status fce_diag_measure_host(fce_diag *d, fce_ctx *ctx, const float *f_data, const float *f_samples,
                                 const float *lq, const float *lqt, float c, int n_local) {
    FCE_TRY(check_and_clear(d, ctx, n_local));
    const float *src[4] = {f_data, f_samples, lq, lqt};
    for (int q = 0; q < 4; q++) memcpy(rows_at(d, ctx, n_local, q), src[q], (size_t)n_local * sizeof(float));
    return finish(d, ctx, c);
}

fce_status fce_diag_measure(fce_diag *d, const fce_game *g) {
    fce_ctx *ctx = g->ctx;
    const size_t n = (size_t)g->n, b = n * sizeof(float);
    float c;
    FCE_TRY(check_and_clear(d, ctx, g->n));
    FCE_TRY(ctx->ops->download(ctx, rows_at(d, ctx, g->n, 0), g->f, b));
    FCE_TRY(ctx->ops->download(ctx, rows_at(d, ctx, g->n, 1), g->f + n, b));
    FCE_TRY(ctx->ops->download(ctx, rows_at(d, ctx, g->n, 2), g->lq, b));
    FCE_TRY(ctx->ops->download(ctx, rows_at(d, ctx, g->n, 3), g->lqt, b));
    FCE_TRY(ctx->ops->download(ctx, &c, g->models.c, sizeof c));
    return finish(d, ctx, c);
}

void fce_diag_json(const fce_diag *d, fce_json *j) {
    const fce_diag_figures *x = &d->fig;
    const struct {
        const char *key;
        double v;
    } fields[] = {{"acc_data", x->acc_data},
                  {"acc_samples", x->acc_samples},
                  {"logit_data_mean", x->logit_data_mean},
                  {"logit_data_sd", x->logit_data_sd},
                  {"logit_samples_mean", x->logit_samples_mean},
                  {"logit_samples_sd", x->logit_samples_sd},
                  {"frac_saturated", x->frac_saturated},
                  {"f_data_sd", x->f_data_sd},
                  {"f_samples_sd", x->f_samples_sd},
                  {"logq_data_sd", x->logq_data_sd},
                  {"logq_samples_sd", x->logq_samples_sd},
                  {"corr_f_logq_data", x->corr_f_logq_data}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) fce_json_num(j, fields[i].key, fields[i].v, 7);
    fce_json_str(j, "health", fce_diag_health(x));
}

/* fce_diag.h: the FCE game's health at each log interval (issue 10): figures of one step's batch
 * that say whether the game is in its informative regime or stuck, for both trainers (2D and image).
 *
 * Why: the value and the accuracy alone hide the failure modes measured on images. With
 * log q spread over hundreds of nats between pictures, the logits a = f(x) − c − log q(x) and
 * b = f(x̃) − c − log q(x̃) are mostly far beyond ±10, the logistic loss is saturated and the
 * gradients carry only signs; a c that lags makes the logits of both halves share one sign, so the
 * overall accuracy reads 0.5 while the classifier decides by c alone. The figures below separate
 * these cases.
 *
 * The figures, over the n data points and the n samples x̃ of one step (the step whose update
 * ends the interval), with the c of its forward pass (before its update), sd over the batch (1/n):
 *   acc_data = #[a > 0]/n, acc_samples = #[b < 0]/n (their mean is the game's acc);
 *   mean and sd of a and of b; frac_saturated = #[|a| > 10] + #[|b| > 10] over 2n;
 *   sd of f and of log q on data and on samples; corr_f_logq_data = Pearson corr(f(x), log q(x))
 *   (NaN when either sd is 0). Logits are computed in double as the NCE op does, so
 *   (acc_data + acc_samples)/2 equals that step's acc.
 * A row whose step was not measured (the run stopped mid-interval: a signal, the time limit, the
 * total-step cap) has every figure NaN, written as null, and no health word.
 *
 * Health word, the first rule that holds (acc = (acc_data + acc_samples)/2):
 *   "saturated"   frac_saturated > 0.5: most logits beyond ±10, sign-only gradients;
 *   "c-off"       |acc_data − acc_samples| > 0.8: both halves' logits mostly share one sign, so c
 *                 and not f decides the classification (c lags behind the models);
 *   "ebm-wins"    acc > 0.9: the EBM separates data from samples easily (the noise model is poor);
 *   "flow-wins"   acc < 0.1: the EBM ranks samples above data (the noise model overshoots);
 *   "informative" otherwise: the regime where both players learn from the logistic loss.
 * Cost: the 2D trainer's fce_diag_measure reads back 4n + 1 floats on the steps that end an interval;
 * the image trainer reads them with every step's one read-back (n floats more than its other
 * figures need) and computes the figures on those steps only (fce_diag_measure_host), so no step
 * synchronises twice. */
#ifndef FCE_TRAIN_FCE_DIAG_H
#define FCE_TRAIN_FCE_DIAG_H

#include "train/fce_game.h"
#include "util/json.h"

#define FCE_DIAG_SATURATION 10.0     /* |logit| above this counts as saturated */
#define FCE_DIAG_SATURATED_FRAC 0.5  /* "saturated" above this share */
#define FCE_DIAG_C_OFF_GAP 0.8       /* "c-off" above this |acc_data − acc_samples| */
#define FCE_DIAG_EBM_WINS_ACC 0.9    /* "ebm-wins" above this acc */
#define FCE_DIAG_FLOW_WINS_ACC 0.1   /* "flow-wins" below this acc */

/* The curves.png panels of the figures (eval/curves_png.h's fce_curve initialisers): the share of
 * saturated logits and corr(f, log q) on data, the two that tell the regime at a glance. */
#define FCE_DIAG_CURVES                                                                               \
    {"frac_saturated", "SATURATED LOGITS (ABS > 10)", 0}, {"corr_f_logq_data", "CORR(F, LOG Q) ON DATA", 0}

typedef struct fce_diag_figures {
    double acc_data, acc_samples;
    double logit_data_mean, logit_data_sd, logit_samples_mean, logit_samples_sd;
    double frac_saturated;
    double f_data_sd, f_samples_sd, logq_data_sd, logq_samples_sd;
    double corr_f_logq_data;
} fce_diag_figures;

typedef struct fce_diag {
    fce_diag_figures fig; /* of the last measured step; NaN after fce_diag_reset */
    float *h;             /* host scratch: f (2n, data first), log q at data and samples (n each) */
    int n;
} fce_diag;

/* The figures of n data points and n samples with the scalar c (host arrays); n < 1: unmeasured. */
void fce_diag_compute(fce_diag_figures *x, const float *f_data, const float *f_samples,
                      const float *lq_data, const float *lq_samples, float c, int n);
/* The health word of x (above); NULL when x was not measured. */
const char *fce_diag_health(const fce_diag_figures *x);

/* The host scratch for n points per half (the global batch: in a job of several ranks, dist/dist.h,
 * each measures its rows and the figures are of the whole batch); the figures start unmeasured. */
fce_status fce_diag_init(fce_diag *d, int n);
void fce_diag_free(fce_diag *d); /* NULL-safe on a zeroed diag */
/* The figures of the game's last forward (f, log q at both halves) with its current c: call after
 * fce_game_forward (or _grads) and before the player's update; in a job, on every rank at once. */
fce_status fce_diag_measure(fce_diag *d, const fce_game *g);
/* The same from values already read back (the image trainer's one read-back per step): this
 * rank's n_local rows of f at data and samples, log q at data and samples, and c. */
fce_status fce_diag_measure_host(fce_diag *d, fce_ctx *ctx, const float *f_data, const float *f_samples,
                                 const float *lq, const float *lqt, float c, int n_local);
void fce_diag_reset(fce_diag *d); /* every figure NaN: the next row is unmeasured until measured */
/* The figures as metrics.jsonl fields (names as in fce_diag_figures) and "health" (null when
 * unmeasured). */
void fce_diag_json(const fce_diag *d, fce_json *j);

#endif

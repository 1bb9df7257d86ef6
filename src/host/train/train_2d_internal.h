/* train_internal.h: the trainer's state, shared by fce_train.c (setup and the step) and
 * train_report.c (evaluation, logs, pictures). Everything here is allocated once at setup. */
#ifndef FCE_TRAIN_INTERNAL_H
#define FCE_TRAIN_INTERNAL_H

#include <stdio.h>

#include "fce/backend.h"
#include "fce/checkpoint.h"
#include "fce/data2d.h"
#include "fce/ebm.h"
#include "fce/glow.h"
#include "fce/train.h"

#define FCE_EVAL_CHUNK 1000 /* rows per evaluation pass */
#define FCE_DIM 2           /* the 2D experiment */

/* The fixed Gaussian noise of the NCE baseline: N(mean, L·Lᵀ), L lower-triangular. */
typedef struct fce_gauss2 {
    double mean[2], L[4], log_norm; /* log_norm = −log 2π − log(L00·L11) */
} fce_gauss2;

typedef struct fce_trainer {
    fce_train_config cfg;
    fce_ctx ctx;
    fce_data2d_kind data;
    fce_glow *glow;
    fce_ebm *ebm;
    fce_glow_tape *tp_data, *tp_samp; /* forward on data (and evaluation); inverse for samples */
    fce_ebm_tape *tp_ebm;             /* data rows [0, n), sample rows [n, 2n) */
    int n, cap_flow, cap_ebm;
    /* backend buffers */
    float *d_x, *d_eps, *d_ebm_in, *d_df, *d_dlq, *d_dlqt, *d_dxt, *d_stats, *d_mle_dlq;
    float *d_lq_noise, *d_lqt_noise;
    /* host buffers */
    float *h_x, *h_noise, *h_lq, *h_lqt, *h_out;
    float *h_eval_pts;   /* (eval_points, 2) from p_true */
    double *h_eval_true; /* log p_true at those points */
    float *h_ref;        /* 100k data points: histogram and the NCE Gaussian fit */
    size_t n_ref;
    fce_gauss2 noise;
    uint64_t seed_data, seed_noise, seed_init;
    fce_train_state st;
    /* per log interval */
    double sum_value, sum_acc, sum_nll;
    long n_interval, n_interval_ebm;
    double t_start, t_session0;
    long step_session0;
    int64_t updates_session0;
    FILE *metrics;
    char path_ckpt[1100];
    double last_mse_ebm, last_mse_flow, last_c; /* of the last evaluation */
    double last_bias_ebm, last_bias_flow; /* mean of log p̂ − log p_true at the evaluation points */
} fce_trainer;

/* fce_train.c: the pieces of fce_train_run, exposed for the tests.
 * setup allocates everything (the run folder too); fresh_start initialises actnorm and c;
 * contrastive_grads runs the forward passes of step t->st.step and the gradients of the EBM
 * (flow_turn 0) or of the flow (flow_turn 1) into the arenas, without updating, and returns
 * (value, accuracy); step runs one whole training step. */
fce_status fce_trainer_setup(fce_trainer *t, const fce_train_config *cfg);
void fce_trainer_free(fce_trainer *t);
fce_status fce_trainer_fresh_start(fce_trainer *t);
fce_status fce_trainer_resume(fce_trainer *t);
fce_status fce_trainer_contrastive_grads(fce_trainer *t, int flow_turn, float stats[2]);
fce_status fce_trainer_step(fce_trainer *t);
/* The counter --steps bounds: EBM updates (fce, nce) or flow updates (mle). */
int64_t fce_trainer_primary_updates(const fce_trainer *t);

/* train_report.c */
fce_status fce_trainer_eval_mse(fce_trainer *t, double *mse_ebm, double *mse_flow);
fce_status fce_trainer_log_interval(fce_trainer *t);
fce_status fce_trainer_write_density_png(fce_trainer *t);
fce_status fce_trainer_write_summary(fce_trainer *t, double seconds);
/* log p of the EBM (f − c) / flow (log q) at n points held in host memory, into out (n). */
fce_status fce_trainer_ebm_logp(fce_trainer *t, const float *pts, size_t n, float *out);
fce_status fce_trainer_flow_logp(fce_trainer *t, const float *pts, size_t n, float *out);
double fce_gauss2_logp(const fce_gauss2 *g, double x, double y);

#endif

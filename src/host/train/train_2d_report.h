/* train_2d_report.h: what a 2D run reports (train_2d_report.c): the log-density MSE against the true
 * density, the progress line, metrics.jsonl, config.json, summary.json, curves.png and density.png. The trainer (train_2d.c)
 * owns the models and the run; it fills an fce_report_2d with what the report reads and adds each
 * step's figures to it, and the report never calls back into the trainer. */
#ifndef FCE_TRAIN_2D_REPORT_H
#define FCE_TRAIN_2D_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "eval/log_z.h"
#include "fce/backend.h"
#include "fce/checkpoint.h"
#include "fce/data2d.h"
#include "fce/ebm.h"
#include "fce/glow.h"
#include "fce/train_config.h"
#include "train/fce_diag.h"
#include "train/nce_noise_2d.h"

#define FCE_EVAL_CHUNK 1000 /* points per evaluation pass */
#define FCE_DIM 2           /* the 2D experiment */

/* The counter --steps bounds: EBM updates (fce, nce) or flow updates (mle). */
static inline int64_t fce_train_primary_updates(fce_train_mode mode, const fce_train_state *s) {
    return mode == FCE_MODE_MLE ? s->flow_updates : s->ebm_updates;
}

/* The models as the evaluation runs them: forward passes over up to FCE_EVAL_CHUNK points. */
typedef struct fce_models_2d {
    fce_ctx *ctx;
    fce_glow *glow;
    fce_glow_tape *tp_flow;
    fce_ebm *ebm;
    fce_ebm_tape *tp_ebm;
    float *d_pts; /* backend scratch for FCE_EVAL_CHUNK points */
} fce_models_2d;

typedef struct fce_report_2d {
    const fce_train_config *cfg; /* the run's (out_dir resolved) */
    const fce_train_state *st;   /* the run's counters */
    fce_models_2d models;
    const fce_gauss2 *noise;     /* --mode nce: the noise model, the picture's middle panel */
    /* owned: a data sample (the picture's histogram and NCE's Gaussian fit), and the evaluation
     * points drawn from p_true with log p_true there (NULL when the density is unknown) */
    float *ref;
    size_t n_ref;
    float *eval_pts;
    double *eval_true;
    FILE *metrics;
    /* the interval since the last log line: the trainer adds each step's figures */
    double sum_value, sum_acc, sum_nll;
    long n_interval, n_interval_ebm;
    fce_diag diag; /* the health of the step that ends the interval (fce, nce; the trainer measures) */
    /* this session: its start (t_start), and the run's start as if it had not been interrupted */
    double t_start, t_session0;
    long step_session0;
    int64_t updates_session0;
    /* of the last evaluation */
    double last_mse_ebm, last_mse_flow, last_c;
    double last_bias_ebm, last_bias_flow; /* mean of log p̂ − log p_true at the evaluation points */
    /* the EBM's log ∫exp(f − c): by importance sampling with the noise model (fce_report_2d_log_z),
     * and by the midpoint rule on the density picture's grid over [−4, 4]² (write_density_png) */
    fce_log_z last_log_z;
    double last_log_z_grid;
} fce_report_2d;

/* The data sample (n_ref points, stream ref_seed) and, where p_true is known, the evaluation
 * points (cfg->eval_points, stream eval_seed); the rest of r is the caller's to fill. */
fce_status fce_report_2d_init(fce_report_2d *r, const fce_train_config *cfg, fce_data2d_kind data,
                              size_t n_ref, uint64_t ref_seed, uint64_t eval_seed);
void fce_report_2d_free(fce_report_2d *r); /* closes metrics */
/* Opens out_dir/metrics.jsonl (on --resume: cut back to the checkpoint's step, then appended to)
 * and starts the session's clocks. */
fce_status fce_report_2d_open(fce_report_2d *r);

/* MSE over the evaluation points of log p̂ − log p_true (SPEC g: log p̂ = f − c for the EBM, log q
 * for the flow); NaN for a model the mode lacks or when p_true is unknown. */
fce_status fce_report_2d_eval_mse(fce_report_2d *r, double *mse_ebm, double *mse_flow);
/* Evaluates, writes a metrics.jsonl row and the progress line, and starts a new interval. */
fce_status fce_report_2d_log_interval(fce_report_2d *r);
/* last_log_z_grid too (fce, nce): the EBM's panel integrated over the picture's box. */
fce_status fce_report_2d_write_density_png(fce_report_2d *r);
/* last_log_z (fce, nce): log Ẑ from FCE_LOG_Z_SAMPLES_2D draws of the noise model (the flow; for
 * nce the Gaussian), Philox stream derive(seed, 12) (eval/log_z.h); NaN for mle. */
#define FCE_LOG_Z_SAMPLES_2D 20000
fce_status fce_report_2d_log_z(fce_report_2d *r);
/* curves.png from metrics.jsonl: value, accuracy, c, the EBM's share of steps and the MSEs (mle:
 * the NLL and the flow's MSE). */
fce_status fce_report_2d_write_curves(const fce_report_2d *r);
/* config.json: every option, the models' sizes and parameter counts, the build (run_record.h). */
fce_status fce_report_2d_write_config(const fce_report_2d *r);
/* summary.json; stopped: why the session ended (fce_stop_reason). */
fce_status fce_report_2d_write_summary(fce_report_2d *r, double seconds, const char *stopped);

#endif

/* train_2d_report.c: what a 2D run reports (train_2d_report.h): the log-density MSE against the true
 * density (SPEC g: mean over points drawn from p_true of (log p̂ − log p_true)², log p̂ = f − c for
 * the EBM and log q for the flow), the progress line, metrics.jsonl, config.json, summary.json,
 * curves.png and density.png (data histogram | flow | EBM on [−4, 4]², paper Figure 1, with axes,
 * the step and the MSEs). */
#include "train/train_2d_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/curves_png.h"
#include "eval/metrics_log.h"
#include "fce/density_png.h"
#include "fce/log.h"
#include "fce/philox.h"
#include "train/run_record.h"
#include "util/fs_util.h"
#include "util/json.h"

#define DENSITY_BOX 4.0f

fce_status fce_report_2d_init(fce_report_2d *r, const fce_train_config *cfg, fce_data2d_kind data,
                              size_t n_ref, uint64_t ref_seed, uint64_t eval_seed) {
    const size_t E = (size_t)cfg->eval_points;
    const int known = fce_data2d_has_density(data);
    r->cfg = cfg;
    r->n_ref = n_ref;
    r->ref = malloc(n_ref * FCE_DIM * sizeof *r->ref);
    if (known) {
        r->eval_pts = malloc(E * FCE_DIM * sizeof *r->eval_pts);
        r->eval_true = malloc(E * sizeof *r->eval_true);
    }
    if (!r->ref || (known && (!r->eval_pts || !r->eval_true))) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    fce_data2d_sample(data, r->ref, n_ref, ref_seed, 0);
    if (known) {
        fce_data2d_sample(data, r->eval_pts, E, eval_seed, 0);
        for (size_t i = 0; i < E; i++)
            r->eval_true[i] = fce_data2d_log_density(data, r->eval_pts[2 * i], r->eval_pts[2 * i + 1]);
    }
    r->last_mse_ebm = r->last_mse_flow = r->last_log_z_grid = NAN;
    fce_log_z_estimate(NULL, 0, &r->last_log_z);
    return fce_diag_init(&r->diag, cfg->batch);
}

void fce_report_2d_free(fce_report_2d *r) {
    if (r->metrics) fclose(r->metrics);
    r->metrics = NULL;
    free(r->ref);
    free(r->eval_pts);
    free(r->eval_true);
    r->ref = r->eval_pts = NULL;
    r->eval_true = NULL;
    fce_diag_free(&r->diag);
}

fce_status fce_report_2d_open(fce_report_2d *r) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->cfg->out_dir);
    if (r->cfg->resume) {
        long dropped;
        FCE_TRY(fce_metrics_truncate(path, r->st->step, &dropped));
        if (dropped)
            fce_log_info("--resume: dropped %ld rows of metrics.jsonl logged after the checkpoint's step %lld",
                         dropped, (long long)r->st->step);
    }
    r->metrics = fopen(path, r->cfg->resume ? "a" : "w");
    if (!r->metrics) {
        fce_log_error("cannot open %s for writing", path);
        return FCE_STATUS_ERR_IO;
    }
    r->t_session0 = fce_now_seconds() - r->st->seconds;
    r->step_session0 = (long)r->st->step;
    r->updates_session0 = fce_train_primary_updates(r->cfg->mode, r->st);
    r->t_start = fce_now_seconds();
    return FCE_STATUS_OK;
}

/* log p of a model at n host points, by chunks through the evaluation capacity of the tapes. */
static fce_status model_logp(const fce_models_2d *m, const float *pts, size_t n, float *out, int ebm) {
    fce_ctx *ctx = m->ctx;
    float c = 0;
    if (ebm) FCE_TRY(ctx->ops->download(ctx, &c, fce_ebm_c(m->ebm), sizeof c));
    for (size_t i0 = 0; i0 < n; i0 += FCE_EVAL_CHUNK) {
        int rows = (int)(n - i0 < FCE_EVAL_CHUNK ? n - i0 : FCE_EVAL_CHUNK);
        FCE_TRY(ctx->ops->upload(ctx, m->d_pts, pts + 2 * i0, (size_t)rows * FCE_DIM * sizeof(float)));
        const float *res;
        if (ebm) FCE_TRY(fce_ebm_forward(m->ebm, m->tp_ebm, m->d_pts, rows, &res));
        else {
            FCE_TRY(fce_glow_forward(m->glow, m->tp_flow, m->d_pts, rows));
            res = fce_glow_tape_logq(m->tp_flow);
        }
        FCE_TRY(ctx->ops->download(ctx, out + i0, res, (size_t)rows * sizeof(float)));
        if (ebm)
            for (int i = 0; i < rows; i++) out[i0 + i] -= c;
    }
    return FCE_STATUS_OK;
}

/* MSE of log p̂ against log p_true over the evaluation points; *bias receives the mean error,
 * the part of the MSE a shift of log p̂ (for the EBM: of c) would remove (mse = bias² + var). */
static double mse_against_truth(const fce_report_2d *r, const float *logp, size_t n, double *bias) {
    double s = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)logp[i] - r->eval_true[i];
        s += d * d;
        m += d;
    }
    *bias = m / (double)n;
    return s / (double)n;
}

fce_status fce_report_2d_eval_mse(fce_report_2d *r, double *mse_ebm, double *mse_flow) {
    *mse_ebm = *mse_flow = r->last_bias_ebm = r->last_bias_flow = NAN;
    if (!r->eval_true) return FCE_STATUS_OK; /* no known density for this dataset */
    size_t E = (size_t)r->cfg->eval_points;
    float *buf = malloc(E * sizeof *buf);
    if (!buf) return FCE_STATUS_ERR_NOMEM;
    fce_status st = FCE_STATUS_OK;
    if (r->cfg->mode != FCE_MODE_MLE) {
        FCE_TRY_GOTO(st, model_logp(&r->models, r->eval_pts, E, buf, 1));
        *mse_ebm = mse_against_truth(r, buf, E, &r->last_bias_ebm);
    }
    if (r->cfg->mode != FCE_MODE_NCE) {
        FCE_TRY_GOTO(st, model_logp(&r->models, r->eval_pts, E, buf, 0));
        *mse_flow = mse_against_truth(r, buf, E, &r->last_bias_flow);
    }
cleanup:
    free(buf);
    return st;
}

/* The log-weights f(x̃) − c − log q(x̃) of rows draws x̃ of the noise model, values from i0 on of the
 * stream `seed`: the flow's x̃ = g(ε) or the NCE Gaussian's; h_f, h_lq hold rows, h_x 2·rows. */
static fce_status log_weights(const fce_report_2d *r, uint64_t seed, size_t i0, int rows, float c, float *h_f,
                              float *h_lq, float *h_x, double *logw) {
    const fce_models_2d *m = &r->models;
    fce_ctx *ctx = m->ctx;
    const size_t vals = (size_t)rows * FCE_DIM;
    const float *x, *f;
    if (r->cfg->mode == FCE_MODE_NCE) {
        fce_gauss2_sample(r->noise, seed, (uint64_t)i0 * FCE_DIM, rows, h_x, h_lq);
        FCE_TRY(ctx->ops->upload(ctx, m->d_pts, h_x, vals * sizeof(float)));
        x = m->d_pts;
    } else {
        FCE_TRY(ctx->ops->fill_normal(ctx, m->d_pts, vals, seed, (uint64_t)i0 * FCE_DIM, 1.0f));
        FCE_TRY(fce_glow_inverse(m->glow, m->tp_flow, m->d_pts, rows));
        FCE_TRY(ctx->ops->download(ctx, h_lq, fce_glow_tape_logq(m->tp_flow), (size_t)rows * sizeof(float)));
        x = fce_glow_tape_x(m->tp_flow);
    }
    FCE_TRY(fce_ebm_forward(m->ebm, m->tp_ebm, x, rows, &f));
    FCE_TRY(ctx->ops->download(ctx, h_f, f, (size_t)rows * sizeof(float)));
    for (int i = 0; i < rows; i++) logw[i0 + (size_t)i] = (double)h_f[i] - (double)c - (double)h_lq[i];
    return FCE_STATUS_OK;
}

fce_status fce_report_2d_log_z(fce_report_2d *r) {
    fce_log_z_estimate(NULL, 0, &r->last_log_z);
    if (r->cfg->mode == FCE_MODE_MLE) return FCE_STATUS_OK;
    fce_ctx *ctx = r->models.ctx;
    const size_t M = FCE_LOG_Z_SAMPLES_2D;
    const uint64_t seed = fce_derive_seed((uint64_t)r->st->seed, 12);
    double *logw = malloc(M * sizeof *logw);
    float *h_f = malloc(FCE_EVAL_CHUNK * sizeof *h_f), *h_lq = malloc(FCE_EVAL_CHUNK * sizeof *h_lq);
    float *h_x = malloc(FCE_EVAL_CHUNK * FCE_DIM * sizeof *h_x), c;
    fce_status st = FCE_STATUS_OK;
    if (!logw || !h_f || !h_lq || !h_x) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    FCE_TRY_GOTO(st, ctx->ops->download(ctx, &c, fce_ebm_c(r->models.ebm), sizeof c));
    for (size_t i0 = 0; i0 < M; i0 += FCE_EVAL_CHUNK) {
        const int rows = (int)(M - i0 < FCE_EVAL_CHUNK ? M - i0 : FCE_EVAL_CHUNK);
        FCE_TRY_GOTO(st, log_weights(r, seed, i0, rows, c, h_f, h_lq, h_x, logw));
    }
    fce_log_z_estimate(logw, M, &r->last_log_z);
cleanup:
    free(logw);
    free(h_f);
    free(h_lq);
    free(h_x);
    return st;
}

/* The interval's averages and the clocks, as the metrics row and the progress line show them. */
typedef struct interval_figures {
    double value, acc, nll, frac_ebm, mse_ebm, mse_flow, rate, seconds, eta;
    float c;
    int64_t updates;
} interval_figures;

static void write_metrics_row(fce_report_2d *r, const interval_figures *x) {
    const fce_train_state *st = r->st;
    const int mle = r->cfg->mode == FCE_MODE_MLE;
    fce_json j;
    fce_json_begin(&j, r->metrics);
    fce_json_int(&j, "step", (long long)st->step);
    fce_json_int(&j, "ebm_updates", (long long)st->ebm_updates);
    fce_json_int(&j, "flow_updates", (long long)st->flow_updates);
    fce_json_str(&j, "mode", fce_train_mode_name(r->cfg->mode));
    fce_json_str(&j, "next_turn", mle ? "flow" : (st->flow_turn ? "flow" : "ebm"));
    fce_json_num(&j, "acc", x->acc, 9);
    fce_json_num(&j, "value", x->value, 9);
    fce_json_num(&j, "nll_flow", x->nll, 9);
    fce_json_num(&j, "frac_ebm_steps", x->frac_ebm, 9);
    fce_json_num(&j, "c", x->c, 9);
    fce_json_num(&j, "mse_ebm", x->mse_ebm, 9);
    fce_json_num(&j, "mse_flow", x->mse_flow, 9);
    fce_json_num(&j, "bias_ebm", r->last_bias_ebm, 9);
    fce_json_num(&j, "bias_flow", r->last_bias_flow, 9);
    if (!mle) fce_diag_json(&r->diag, &j);
    fce_json_num(&j, "steps_per_second", x->rate, 9);
    fce_json_num(&j, "seconds", x->seconds, 9);
    fce_json_end(&j, 1);
    fflush(r->metrics);
}

static void print_progress(const fce_report_2d *r, const interval_figures *x) {
    const fce_train_config *cfg = r->cfg;
    char eta_s[32], line[512];
    int k = 0;
    fce_format_duration(x->eta, eta_s, sizeof eta_s);
    if (cfg->mode == FCE_MODE_MLE)
        k += snprintf(line + k, sizeof line - k, "step %6lld | mle | flow %6lld/%ld | nll %.4f",
                      (long long)r->st->step, (long long)x->updates, cfg->steps, x->nll);
    else
        k += snprintf(line + k, sizeof line - k,
                      "step %6lld | %s | ebm %6lld/%ld | flow %6lld | acc %.3f | V %.4f | c %.3f",
                      (long long)r->st->step, fce_train_mode_name(cfg->mode), (long long)x->updates,
                      cfg->steps, (long long)r->st->flow_updates, x->acc, x->value, x->c);
    if (isfinite(x->mse_ebm)) k += snprintf(line + k, sizeof line - k, " | mse ebm %.4f", x->mse_ebm);
    if (isfinite(x->mse_flow)) k += snprintf(line + k, sizeof line - k, " | mse flow %.4f", x->mse_flow);
    const char *health = cfg->mode == FCE_MODE_MLE ? NULL : fce_diag_health(&r->diag.fig);
    if (health) k += snprintf(line + k, sizeof line - k, " | %s", health);
    snprintf(line + k, sizeof line - k, " | %.1f steps/s | ETA %s", x->rate, eta_s);
    fprintf(stderr, "%s\n", line);
}

fce_status fce_report_2d_log_interval(fce_report_2d *r) {
    if (r->n_interval == 0) return FCE_STATUS_OK;
    fce_ctx *ctx = r->models.ctx;
    const int mle = r->cfg->mode == FCE_MODE_MLE;
    interval_figures x;
    FCE_TRY(fce_report_2d_eval_mse(r, &x.mse_ebm, &x.mse_flow));
    x.c = NAN;
    if (!mle) FCE_TRY(ctx->ops->download(ctx, &x.c, fce_ebm_c(r->models.ebm), sizeof x.c));
    double now = fce_now_seconds();
    x.seconds = now - r->t_session0;
    double session = now - r->t_start;
    long done = (long)r->st->step - r->step_session0;
    x.rate = session > 0 ? (double)done / session : 0; /* all steps, EBM + flow */
    x.updates = fce_train_primary_updates(r->cfg->mode, r->st);
    double upd_rate = session > 0 ? (double)(x.updates - r->updates_session0) / session : 0;
    x.eta = upd_rate > 0 ? (double)(r->cfg->steps - x.updates) / upd_rate : 0;
    double n = (double)r->n_interval;
    x.value = mle ? NAN : r->sum_value / n;
    x.acc = mle ? NAN : r->sum_acc / n;
    x.nll = mle ? r->sum_nll / n : NAN;
    x.frac_ebm = mle ? 0.0 : (double)r->n_interval_ebm / n;
    r->last_mse_ebm = x.mse_ebm;
    r->last_mse_flow = x.mse_flow;
    r->last_c = x.c;
    write_metrics_row(r, &x);
    if (!r->cfg->quiet) print_progress(r, &x);
    r->sum_value = r->sum_acc = r->sum_nll = 0;
    r->n_interval = r->n_interval_ebm = 0;
    fce_diag_reset(&r->diag);
    return FCE_STATUS_OK;
}

/* "GMM8 FCE  STEP 8000 (EBM 2700, FLOW 5305)  MSE EBM 0.0202  MSE FLOW 7.7  [-4,4]X[-4,4]": the
 * dataset and mode come first so that rows stacked into one Figure 1 (scripts/figure1.sh) say
 * what they are. */
static void density_caption(const fce_report_2d *r, char *buf, size_t n) {
    int k = snprintf(buf, n, "%.16s %s  STEP %lld (EBM %lld, FLOW %lld)", r->cfg->dataset,
                     fce_train_mode_name(r->cfg->mode), (long long)r->st->step,
                     (long long)r->st->ebm_updates, (long long)r->st->flow_updates);
    if (isfinite(r->last_mse_ebm)) k += snprintf(buf + k, n - (size_t)k, "  MSE EBM %.4g", r->last_mse_ebm);
    if (isfinite(r->last_mse_flow)) k += snprintf(buf + k, n - (size_t)k, "  MSE FLOW %.4g", r->last_mse_flow);
    snprintf(buf + k, n - (size_t)k, "  [-%g,%g]X[-%g,%g]", (double)DENSITY_BOX, (double)DENSITY_BOX,
             (double)DENSITY_BOX, (double)DENSITY_BOX);
}

fce_status fce_report_2d_write_density_png(fce_report_2d *r) {
    const fce_train_config *cfg = r->cfg;
    const int R = cfg->image_res;
    const size_t P = (size_t)R * R;
    float *grid = malloc(P * 2 * sizeof *grid);
    float *panels[3] = {malloc(P * sizeof(float)), malloc(P * sizeof(float)), malloc(P * sizeof(float))};
    fce_status st = FCE_STATUS_OK;
    if (!grid || !panels[0] || !panels[1] || !panels[2]) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    fce_density_grid_points(R, DENSITY_BOX, grid);
    fce_density_histogram_logp(r->ref, r->n_ref, R, DENSITY_BOX, panels[0]);
    const char *titles[3] = {"DATA", "FLOW", "EBM"};
    int n_panels = 2;
    if (cfg->mode == FCE_MODE_NCE) {
        for (size_t i = 0; i < P; i++)
            panels[1][i] = (float)fce_gauss2_logp(r->noise, grid[2 * i], grid[2 * i + 1]);
        titles[1] = "NOISE (GAUSSIAN)";
    } else {
        FCE_TRY_GOTO(st, model_logp(&r->models, grid, P, panels[1], 0));
    }
    if (cfg->mode != FCE_MODE_MLE) {
        FCE_TRY_GOTO(st, model_logp(&r->models, grid, P, panels[2], 1));
        n_panels = 3;
        const double cell = 2.0 * DENSITY_BOX / R;
        r->last_log_z_grid = fce_log_integral(panels[2], P, 2.0 * log(cell));
    }
    char path[1100], caption[160];
    snprintf(path, sizeof path, "%s/density.png", cfg->out_dir);
    density_caption(r, caption, sizeof caption);
    FCE_TRY_GOTO(st, fce_density_figure_write(path, R, DENSITY_BOX, (const float *const *)panels,
                                              titles, n_panels, caption));
cleanup:
    free(grid);
    for (int i = 0; i < 3; i++) free(panels[i]);
    return st;
}

fce_status fce_report_2d_write_curves(const fce_report_2d *r) {
    static const fce_curve FCE[] = {{"value", "VALUE V", 0}, {"acc", "ACCURACY", 0}, {"c", "C", 0},
                                    {"frac_ebm_steps", "EBM SHARE OF STEPS", 0}, {"mse_ebm", "MSE EBM", 1},
                                    {"mse_flow", "MSE FLOW", 1}, FCE_DIAG_CURVES};
    static const fce_curve NCE[] = {{"value", "VALUE V", 0}, {"acc", "ACCURACY", 0}, {"c", "C", 0},
                                    {"frac_ebm_steps", "EBM SHARE OF STEPS", 0}, {"mse_ebm", "MSE EBM", 1},
                                    FCE_DIAG_CURVES};
    static const fce_curve MLE[] = {{"nll_flow", "NLL FLOW", 0}, {"mse_flow", "MSE FLOW", 1}};
    const fce_train_config *cfg = r->cfg;
    const fce_train_mode mode = cfg->mode;
    const fce_curve *curves = mode == FCE_MODE_MLE ? MLE : mode == FCE_MODE_NCE ? NCE : FCE;
    int n = mode == FCE_MODE_MLE ? 2 : mode == FCE_MODE_NCE ? 7 : 8;
    char metrics[1100], png[1100], title[160];
    snprintf(metrics, sizeof metrics, "%.1000s/metrics.jsonl", cfg->out_dir);
    snprintf(png, sizeof png, "%.1000s/curves.png", cfg->out_dir);
    snprintf(title, sizeof title, "%s ON %.40s, STEP %lld", fce_train_mode_name(mode), cfg->dataset,
             (long long)r->st->step);
    return fce_curves_png_write(metrics, png, title, curves, n);
}

fce_status fce_report_2d_write_config(const fce_report_2d *r) {
    const fce_train_config *c = r->cfg;
    const fce_models_2d *m = &r->models;
    fce_run_record rec;
    const fce_run_options o = {"2d", c->dataset, fce_train_mode_name(c->mode), c->device, c->out_dir,
                               c->resume, c->force, c->resume ? r->st->step : 0, c->steps, c->batch,
                               c->log_every, c->checkpoint_every, c->seed, c->beta1, c->beta2, c->adam_eps};
    FCE_TRY(fce_run_record_open_config(&rec, c->out_dir, m->ctx, &o));
    fce_json *j = &rec.j;
    fce_json_str(j, "init_flow", c->init_flow[0] ? c->init_flow : NULL);
    fce_json_int(j, "max_total_steps", c->max_total_steps ? c->max_total_steps : 50 * c->steps);
    fce_json_num(j, "lr_ebm", c->lr_ebm, 7);
    fce_json_num(j, "lr_flow", c->lr_flow, 7);
    fce_json_num(j, "lr_final_frac", c->lr_final_frac, 7);
    fce_json_str(j, "flow_optim", c->flow_optim == FCE_OPTIM_ADAM ? "adam" : "adamax");
    fce_json_num(j, "threshold", c->threshold, 7);
    fce_json_int(j, "max_mode_steps", c->max_mode_steps);
    fce_json_int(j, "init_batch", c->init_batch);
    fce_json_int(j, "eval_points", c->eval_points);
    fce_json_int(j, "image_res", c->image_res);
    fce_json_object(j, "flow");
    fce_json_int(j, "K", c->flow_K);
    fce_json_int(j, "width", c->flow_width);
    fce_json_int(j, "nn_actnorm", c->flow_nn_actnorm);
    fce_json_int(j, "params", (long long)fce_run_record_trainable(fce_glow_params(m->glow)));
    fce_json_close(j);
    fce_json_object(j, "ebm");
    fce_json_int(j, "width", c->ebm_width);
    fce_json_int(j, "hidden", c->ebm_hidden);
    fce_json_int(j, "params", (long long)fce_run_record_trainable(fce_ebm_params(m->ebm)));
    fce_json_close(j);
    return fce_run_record_close(&rec);
}

fce_status fce_report_2d_write_summary(fce_report_2d *r, double seconds, const char *stopped) {
    const fce_train_config *cfg = r->cfg;
    const fce_train_state *st = r->st;
    long done = (long)st->step - r->step_session0;
    fce_run_record rec;
    FCE_TRY(fce_run_record_open(&rec, cfg->out_dir, "summary", r->models.ctx));
    fce_json *j = &rec.j;
    fce_json_str(j, "dataset", cfg->dataset);
    fce_json_str(j, "mode", fce_train_mode_name(cfg->mode));
    fce_json_str(j, "stopped", stopped);
    fce_json_int(j, "steps", (long long)st->step);
    fce_json_int(j, "ebm_updates", (long long)st->ebm_updates);
    fce_json_int(j, "flow_updates", (long long)st->flow_updates);
    fce_json_int(j, "batch", cfg->batch);
    fce_json_num(j, "lr_ebm", cfg->lr_ebm, 0);
    fce_json_num(j, "lr_flow", cfg->lr_flow, 0);
    fce_json_str(j, "flow_optim", cfg->flow_optim == FCE_OPTIM_ADAM ? "adam" : "adamax");
    fce_json_num(j, "threshold", cfg->threshold, 0);
    fce_json_uint(j, "seed", cfg->seed);
    fce_json_num(j, "seconds", seconds, 9);
    fce_json_num(j, "steps_per_second", seconds > 0 ? (double)done / seconds : NAN, 9);
    fce_json_num(j, "c", r->last_c, 9);
    fce_json_num(j, "mse_ebm", r->last_mse_ebm, 9);
    fce_json_num(j, "mse_flow", r->last_mse_flow, 9);
    fce_log_z_json(&r->last_log_z, "log_z", j);
    fce_json_num(j, "log_z_grid", r->last_log_z_grid, 9);
    FCE_TRY(fce_run_record_close(&rec));
    if (!cfg->quiet && cfg->mode != FCE_MODE_MLE)
        fce_log_info("EBM log Z %.4g (se %.2g, ESS %.0f of %ld %s samples); on the [-4, 4]^2 grid %.4g "
                     "(0: the learned c is right)", r->last_log_z.log_z, r->last_log_z.se, r->last_log_z.ess,
                     r->last_log_z.m, cfg->mode == FCE_MODE_NCE ? "Gaussian" : "flow", r->last_log_z_grid);
    if (!cfg->quiet)
        fce_log_info("wrote summary.json, config.json, metrics.jsonl, curves.png, density.png and "
                     "checkpoint.fce in %s", cfg->out_dir);
    return FCE_STATUS_OK;
}

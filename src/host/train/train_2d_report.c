/* train_report.c: what a run reports (train_internal.h): the log-density MSE against the true
 * density (SPEC g: mean over points drawn from p_true of (log p̂ − log p_true)², log p̂ = f − c for
 * the EBM and log q for the flow), the progress line, metrics.jsonl, summary.json and density.png
 * (data histogram | flow | EBM on [−4, 4]², paper Figure 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/density_png.h"
#include "fce/log.h"
#include "util/fs_util.h"
#include "train/train_2d_internal.h"

#define DENSITY_BOX 4.0f

/* log p of a model at n host points, by chunks through the evaluation capacity of the tapes. */
static fce_status model_logp(fce_trainer *t, const float *pts, size_t n, float *out, int ebm) {
    fce_ctx *ctx = &t->ctx;
    float c = 0;
    if (ebm) FCE_TRY(ctx->ops->download(ctx, &c, fce_ebm_c(t->ebm), sizeof c));
    for (size_t i0 = 0; i0 < n; i0 += FCE_EVAL_CHUNK) {
        int m = (int)(n - i0 < FCE_EVAL_CHUNK ? n - i0 : FCE_EVAL_CHUNK);
        FCE_TRY(ctx->ops->upload(ctx, t->d_x, pts + 2 * i0, (size_t)m * FCE_DIM * sizeof(float)));
        const float *res;
        if (ebm) FCE_TRY(fce_ebm_forward(t->ebm, t->tp_ebm, t->d_x, m, &res));
        else {
            FCE_TRY(fce_glow_forward(t->glow, t->tp_data, t->d_x, m));
            res = fce_glow_tape_logq(t->tp_data);
        }
        FCE_TRY(ctx->ops->download(ctx, out + i0, res, (size_t)m * sizeof(float)));
        if (ebm)
            for (int i = 0; i < m; i++) out[i0 + i] -= c;
    }
    return FCE_STATUS_OK;
}

fce_status fce_trainer_ebm_logp(fce_trainer *t, const float *pts, size_t n, float *out) {
    return model_logp(t, pts, n, out, 1);
}

fce_status fce_trainer_flow_logp(fce_trainer *t, const float *pts, size_t n, float *out) {
    return model_logp(t, pts, n, out, 0);
}

/* MSE of log p̂ against log p_true over the evaluation points; *bias receives the mean error,
 * the part of the MSE a shift of log p̂ (for the EBM: of c) would remove (mse = bias² + var). */
static double mse_against_truth(const fce_trainer *t, const float *logp, size_t n, double *bias) {
    double s = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)logp[i] - t->h_eval_true[i];
        s += d * d;
        m += d;
    }
    *bias = m / (double)n;
    return s / (double)n;
}

fce_status fce_trainer_eval_mse(fce_trainer *t, double *mse_ebm, double *mse_flow) {
    *mse_ebm = *mse_flow = t->last_bias_ebm = t->last_bias_flow = NAN;
    if (!t->h_eval_true) return FCE_STATUS_OK; /* no known density for this dataset */
    size_t E = (size_t)t->cfg.eval_points;
    float *buf = malloc(E * sizeof *buf);
    if (!buf) return FCE_STATUS_ERR_NOMEM;
    fce_status st = FCE_STATUS_OK;
    if (t->cfg.mode != FCE_MODE_MLE) {
        FCE_TRY_GOTO(st, fce_trainer_ebm_logp(t, t->h_eval_pts, E, buf));
        *mse_ebm = mse_against_truth(t, buf, E, &t->last_bias_ebm);
    }
    if (t->cfg.mode != FCE_MODE_NCE) {
        FCE_TRY_GOTO(st, fce_trainer_flow_logp(t, t->h_eval_pts, E, buf));
        *mse_flow = mse_against_truth(t, buf, E, &t->last_bias_flow);
    }
cleanup:
    free(buf);
    return st;
}

static void json_num(FILE *f, const char *key, double v, int last) {
    if (isfinite(v)) fprintf(f, "\"%s\": %.9g%s", key, v, last ? "" : ", ");
    else fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

fce_status fce_trainer_log_interval(fce_trainer *t) {
    if (t->n_interval == 0) return FCE_STATUS_OK;
    fce_ctx *ctx = &t->ctx;
    double mse_ebm, mse_flow;
    FCE_TRY(fce_trainer_eval_mse(t, &mse_ebm, &mse_flow));
    float c = NAN;
    if (t->cfg.mode != FCE_MODE_MLE) FCE_TRY(ctx->ops->download(ctx, &c, fce_ebm_c(t->ebm), sizeof c));
    double now = fce_now_seconds();
    double seconds = now - t->t_session0;
    double session = now - t->t_start;
    long done = (long)t->st.step - t->step_session0;
    double rate = session > 0 ? (double)done / session : 0; /* all steps, EBM + flow */
    int64_t upd = fce_trainer_primary_updates(t);
    double upd_rate = session > 0 ? (double)(upd - t->updates_session0) / session : 0;
    double eta = upd_rate > 0 ? (double)(t->cfg.steps - upd) / upd_rate : 0;
    double n = (double)t->n_interval;
    int mle = t->cfg.mode == FCE_MODE_MLE;
    double value = mle ? NAN : t->sum_value / n, acc = mle ? NAN : t->sum_acc / n;
    double nll = mle ? t->sum_nll / n : NAN;
    double frac_ebm = mle ? 0.0 : (double)t->n_interval_ebm / n;
    t->last_mse_ebm = mse_ebm;
    t->last_mse_flow = mse_flow;
    t->last_c = c;

    FILE *f = t->metrics;
    fprintf(f, "{\"step\": %lld, \"ebm_updates\": %lld, \"flow_updates\": %lld, \"mode\": \"%s\", "
               "\"next_turn\": \"%s\", ",
            (long long)t->st.step, (long long)t->st.ebm_updates, (long long)t->st.flow_updates,
            fce_train_mode_name(t->cfg.mode), mle ? "flow" : (t->st.flow_turn ? "flow" : "ebm"));
    json_num(f, "acc", acc, 0);
    json_num(f, "value", value, 0);
    json_num(f, "nll_flow", nll, 0);
    json_num(f, "frac_ebm_steps", frac_ebm, 0);
    json_num(f, "c", c, 0);
    json_num(f, "mse_ebm", mse_ebm, 0);
    json_num(f, "mse_flow", mse_flow, 0);
    json_num(f, "bias_ebm", t->last_bias_ebm, 0);
    json_num(f, "bias_flow", t->last_bias_flow, 0);
    json_num(f, "steps_per_second", rate, 0);
    json_num(f, "seconds", seconds, 1);
    fprintf(f, "}\n");
    fflush(f);

    if (!t->cfg.quiet) {
        char eta_s[32], line[512];
        int k = 0;
        fce_format_duration(eta, eta_s, sizeof eta_s);
        if (mle)
            k += snprintf(line + k, sizeof line - k, "step %6lld | mle | flow %6lld/%ld | nll %.4f",
                          (long long)t->st.step, (long long)upd, t->cfg.steps, nll);
        else
            k += snprintf(line + k, sizeof line - k,
                          "step %6lld | %s | ebm %6lld/%ld | flow %6lld | acc %.3f | V %.4f | c %.3f",
                          (long long)t->st.step, fce_train_mode_name(t->cfg.mode), (long long)upd,
                          t->cfg.steps, (long long)t->st.flow_updates, acc, value, c);
        if (isfinite(mse_ebm)) k += snprintf(line + k, sizeof line - k, " | mse ebm %.4f", mse_ebm);
        if (isfinite(mse_flow)) k += snprintf(line + k, sizeof line - k, " | mse flow %.4f", mse_flow);
        snprintf(line + k, sizeof line - k, " | %.1f steps/s | ETA %s", rate, eta_s);
        fprintf(stderr, "%s\n", line);
    }
    t->sum_value = t->sum_acc = t->sum_nll = 0;
    t->n_interval = t->n_interval_ebm = 0;
    return FCE_STATUS_OK;
}

fce_status fce_trainer_write_density_png(fce_trainer *t) {
    const int R = t->cfg.image_res;
    const size_t P = (size_t)R * R;
    float *grid = malloc(P * 2 * sizeof *grid);
    float *panels[3] = {malloc(P * sizeof(float)), malloc(P * sizeof(float)), malloc(P * sizeof(float))};
    fce_status st = FCE_STATUS_OK;
    if (!grid || !panels[0] || !panels[1] || !panels[2]) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    fce_density_grid_points(R, DENSITY_BOX, grid);
    fce_density_histogram_logp(t->h_ref, t->n_ref, R, DENSITY_BOX, panels[0]);
    const char *titles[3] = {"DATA", "FLOW", "EBM"};
    int n_panels = 1;
    if (t->cfg.mode == FCE_MODE_NCE) {
        for (size_t i = 0; i < P; i++) panels[1][i] = (float)fce_gauss2_logp(&t->noise, grid[2 * i], grid[2 * i + 1]);
        titles[1] = "NOISE (GAUSSIAN)";
        n_panels = 2;
    } else {
        FCE_TRY_GOTO(st, fce_trainer_flow_logp(t, grid, P, panels[1]));
        n_panels = 2;
    }
    if (t->cfg.mode != FCE_MODE_MLE) {
        FCE_TRY_GOTO(st, fce_trainer_ebm_logp(t, grid, P, panels[2]));
        n_panels = 3;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/density.png", t->cfg.out_dir);
    FCE_TRY_GOTO(st, fce_density_png_write(path, R, DENSITY_BOX, (const float *const *)panels,
                                           titles, n_panels));
cleanup:
    free(grid);
    for (int i = 0; i < 3; i++) free(panels[i]);
    return st;
}

fce_status fce_trainer_write_summary(fce_trainer *t, double seconds) {
    char path[1100], tmp[1110];
    snprintf(path, sizeof path, "%s/summary.json", t->cfg.out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fce_log_error("cannot write %s", tmp);
        return FCE_STATUS_ERR_IO;
    }
    long done = (long)t->st.step - t->step_session0;
    fprintf(f, "{\"dataset\": \"%s\", \"mode\": \"%s\", \"device\": \"%s\", \"backend\": \"%s\", "
               "\"steps\": %lld, \"ebm_updates\": %lld, \"flow_updates\": %lld, \"batch\": %d, "
               "\"lr_ebm\": %g, \"lr_flow\": %g, \"flow_optim\": \"%s\", \"threshold\": %g, "
               "\"seed\": %llu, ",
            t->cfg.dataset, fce_train_mode_name(t->cfg.mode), t->ctx.device_name,
            t->ctx.kind == FCE_BACKEND_KIND_CUDA ? "cuda" : "cpu", (long long)t->st.step,
            (long long)t->st.ebm_updates, (long long)t->st.flow_updates, t->n, t->cfg.lr_ebm,
            t->cfg.lr_flow, t->cfg.flow_optim == FCE_OPTIM_ADAM ? "adam" : "adamax",
            t->cfg.threshold, (unsigned long long)t->cfg.seed);
    json_num(f, "seconds", seconds, 0);
    json_num(f, "steps_per_second", seconds > 0 ? (double)done / seconds : NAN, 0);
    json_num(f, "c", t->last_c, 0);
    json_num(f, "mse_ebm", t->last_mse_ebm, 0);
    json_num(f, "mse_flow", t->last_mse_flow, 1);
    fprintf(f, "}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fce_log_error("cannot write %s", path);
        return FCE_STATUS_ERR_IO;
    }
    if (!t->cfg.quiet) fce_log_info("wrote %s, metrics.jsonl, density.png and checkpoint.fce in %s",
                                    "summary.json", t->cfg.out_dir);
    return FCE_STATUS_OK;
}

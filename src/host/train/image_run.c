/* image_run.c: the run mechanics the image trainers share (image_run.h). */
#include "train/image_run.h"

#include <stdio.h>
#include <string.h>

#include "eval/curves_png.h"
#include "eval/metrics_log.h"
#include "fce/log.h"
#include "train/fce_diag.h" /* FCE_DIAG_CURVES */
#include "train/stop_signal.h"
#include "util/fs_util.h"

fce_status fce_image_run_batch(fce_ctx *ctx, fce_batch_source *b, int64_t step, uint8_t *u8, float *x,
                               int n_bits, uint64_t seed) {
    const size_t D = (size_t)b->set->H * b->set->W * b->set->C, ND = (size_t)b->N * D;
    const uint64_t first = (uint64_t)step * (uint64_t)b->global + (uint64_t)b->row0; /* global row */
    FCE_TRY(ctx->ops->upload(ctx, u8, fce_batch_source_get(b, step), ND));
    return ctx->ops->dequantize(ctx, x, u8, ND, n_bits, seed, first * D);
}

fce_status fce_image_run_metrics(const char *out_dir, int append, int64_t step, FILE **f) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out_dir);
    long dropped = 0;
    if (append) FCE_TRY(fce_metrics_truncate(path, step, &dropped));
    if (dropped)
        fce_log_info("--resume: dropped %ld rows of %s logged after the checkpoint's step %lld", dropped, path,
                     (long long)step);
    *f = fopen(path, append ? "a" : "w");
    if (!*f) {
        fce_log_error("cannot write %s", path);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

static double at_least_1ns(double seconds) { return seconds > 1e-9 ? seconds : 1e-9; }

void fce_image_clock_start(fce_image_clock *k, double run_seconds, int64_t step, float time_limit) {
    k->t0 = k->t_interval = fce_now_seconds();
    k->seconds0 = run_seconds;
    k->step0 = step;
    k->time_limit = time_limit;
}

double fce_image_clock_tick(const fce_image_clock *k, double now, int *out_of_time) {
    *out_of_time = k->time_limit > 0 && now - k->t0 >= k->time_limit;
    return k->seconds0 + (now - k->t0);
}

double fce_image_clock_interval(fce_image_clock *k, double now, long steps, int N) {
    double ips = (double)steps * N / at_least_1ns(now - k->t_interval);
    k->t_interval = now;
    return ips;
}

void fce_image_clock_eta(const fce_image_clock *k, double now, int64_t step, int64_t steps_left, char *buf,
                         unsigned size) {
    double rate = (double)(step - k->step0) / at_least_1ns(now - k->t0);
    fce_format_duration((double)steps_left / rate, buf, size);
}

void fce_image_clock_stopped(const fce_image_clock *k, int64_t step, long steps) {
    fce_log_info("--time-limit %gs reached at step %lld of %ld; --resume goes on from here",
                 (double)k->time_limit, (long long)step, steps);
}

static void fce_options(fce_json *j, const fce_image_train_config *c) {
    fce_json_str(j, "init_flow", c->init_flow[0] ? c->init_flow : NULL);
    fce_json_num(j, "lr_ebm", c->lr_ebm, 7);
    fce_json_num(j, "lr_c", c->lr_c, 7);
    fce_json_num(j, "lr_flow", c->lr_flow, 7);
    fce_json_num(j, "threshold", c->threshold, 7);
    fce_json_int(j, "max_mode_steps", c->max_mode_steps);
    fce_json_str(j, "ebm_base", c->ebm_base[0] ? c->ebm_base : "none");
}

fce_status fce_image_run_write_config(const fce_image_train_config *c, const char *mode, const fce_ctx *ctx,
                                      const fce_image_run_models *m) {
    const fce_run_options o = {"image", c->dataset, mode, c->device, c->out_dir, c->resume, c->force,
                               m->resumed_at_step, c->steps, c->batch, c->log_every, c->checkpoint_every,
                               c->seed, c->beta1, c->beta2, c->adam_eps};
    fce_run_record r;
    FCE_TRY(fce_run_record_open_config(&r, c->out_dir, ctx, &o));
    fce_json *j = &r.j;
    fce_json_str(j, "data_dir", c->data_dir);
    fce_json_str(j, "preset", c->preset);
    fce_json_int(j, "n_bits", c->n_bits);
    fce_json_num(j, "time_limit", c->time_limit, 7);
    fce_json_int(j, "sample_every", c->sample_every);
    if (!strcmp(mode, "mle")) {
        fce_json_num(j, "lr", c->lr, 7);
        fce_json_int(j, "warmup_steps", m->warmup_steps);
    } else {
        fce_options(j, c);
    }
    const fce_iglow_config *g = fce_iglow_cfg(m->flow);
    fce_json_object(j, "data");
    fce_json_int(j, "pictures", (long long)m->n_pictures);
    fce_json_int(j, "H", g->H);
    fce_json_int(j, "W", g->W);
    fce_json_int(j, "C", g->C);
    fce_json_close(j);
    fce_json_object(j, "flow");
    fce_json_int(j, "L", g->L);
    fce_json_int(j, "K", g->K);
    fce_json_int(j, "width", g->width);
    fce_json_str(j, "coupling", g->affine ? "affine" : "additive");
    fce_json_int(j, "params", (long long)fce_run_record_trainable(fce_iglow_params(m->flow)));
    fce_json_close(j);
    if (m->ebm) {
        fce_json_object(j, "ebm");
        fce_json_int(j, "width_scale", c->ebm_width_scale);
        fce_json_array(j, "widths");
        for (int l = 0; l < 3; l++) fce_json_int(j, NULL, fce_ebm_image_width(m->ebm, l));
        fce_json_close(j);
        fce_json_int(j, "params", (long long)fce_run_record_trainable(fce_ebm_image_params(m->ebm)));
        fce_json_close(j);
    }
    return fce_run_record_close(&r);
}

fce_status fce_image_run_summary_open(fce_run_record *r, const fce_image_train_config *c, const char *mode,
                                      const fce_ctx *ctx, const fce_image_clock *k, const fce_image_run_end *e) {
    if (e->out_of_time) fce_image_clock_stopped(k, e->step, c->steps);
    if (e->signal)
        fce_log_info("stopped by %s at step %lld of %ld; wrote the checkpoint %s; --resume continues from here",
                     fce_stop_signal_name(e->signal), (long long)e->step, c->steps, e->ckpt);
    FCE_TRY(fce_run_record_open(r, c->out_dir, "summary", ctx));
    fce_json_str(&r->j, "dataset", c->dataset);
    fce_json_str(&r->j, "mode", mode);
    fce_json_str(&r->j, "stopped", fce_stop_reason(e->out_of_time, e->signal));
    fce_json_int(&r->j, "steps", (long long)e->step);
    fce_json_int(&r->j, "steps_target", c->steps);
    fce_json_int(&r->j, "batch", c->batch);
    fce_json_uint(&r->j, "seed", c->seed);
    fce_json_num(&r->j, "seconds", e->seconds, 9);
    return FCE_STATUS_OK;
}

fce_status fce_image_run_curves(const fce_image_train_config *c, const char *mode, int64_t step) {
    static const fce_curve MLE[] = {{"bpd", "BITS/DIM (TRAINING BATCHES)", 0}, {"lr", "LEARNING RATE", 0}};
    static const fce_curve FCE[] = {{"value", "VALUE V", 0}, {"acc", "ACCURACY", 0}, {"c", "C", 0},
                                    {"frac_ebm", "EBM SHARE OF STEPS", 0}, {"bpd_flow", "BITS/DIM FLOW", 0},
                                    {"bpd_ebm", "BITS/DIM EBM", 0}, FCE_DIAG_CURVES};
    const int mle = !strcmp(mode, "mle");
    char metrics[1100], png[1100], title[160];
    snprintf(metrics, sizeof metrics, "%.1000s/metrics.jsonl", c->out_dir);
    snprintf(png, sizeof png, "%.1000s/curves.png", c->out_dir);
    snprintf(title, sizeof title, "%s ON %.40s, STEP %lld", mode, c->dataset, (long long)step);
    return fce_curves_png_write(metrics, png, title, mle ? MLE : FCE, mle ? 2 : 8);
}

/* image_run.c: the run mechanics the image trainers share (image_run.h). */
#include "train/image_run.h"

#include <stdio.h>

#include "fce/log.h"
#include "util/fs_util.h"

fce_status fce_image_run_batch(fce_ctx *ctx, fce_batch_source *b, int64_t step, uint8_t *u8, float *x,
                               int n_bits, uint64_t seed) {
    const size_t ND = (size_t)b->N * b->set->H * b->set->W * b->set->C;
    FCE_TRY(ctx->ops->upload(ctx, u8, fce_batch_source_get(b, step), ND));
    return ctx->ops->dequantize(ctx, x, u8, ND, n_bits, seed, (uint64_t)step * ND);
}

FILE *fce_image_run_metrics(const char *out_dir, int append) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out_dir);
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) fce_log_error("cannot write %s", path);
    return f;
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

/* image_run.h: the run mechanics the image trainers (train_image.c: MLE, train_image_fce.c: FCE)
 * share: the batch of a step on the device, the metrics file and the progress line's clock. (Their
 * configuration, presets and option checks: fce/train_image_config.h.) */
#ifndef FCE_TRAIN_IMAGE_RUN_H
#define FCE_TRAIN_IMAGE_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "fce/backend.h"
#include "data/image_common.h"

/* The dequantised pictures of `step` into x (backend, N·D floats): the batch source's uint8
 * pictures uploaded through u8 (backend, N·D bytes), noise from stream `seed` at offset step·N·D. */
fce_status fce_image_run_batch(fce_ctx *ctx, fce_batch_source *b, int64_t step, uint8_t *u8, float *x,
                               int n_bits, uint64_t seed);

/* <out_dir>/metrics.jsonl, appended to on --resume; NULL (logged) when it cannot be opened. */
FILE *fce_image_run_metrics(const char *out_dir, int append);

/* The clock of a training session: images per second over the last log interval, the ETA of the
 * remaining steps at this session's rate, and the --time-limit. */
typedef struct fce_image_clock {
    double t0, t_interval, seconds0; /* session start, interval start, run seconds before it */
    int64_t step0;
    float time_limit;
} fce_image_clock;

void fce_image_clock_start(fce_image_clock *k, double run_seconds, int64_t step, float time_limit);
/* The run's seconds now (the checkpoint's "seconds"); *out_of_time: the --time-limit is reached. */
double fce_image_clock_tick(const fce_image_clock *k, double now, int *out_of_time);
/* Images per second over the interval ending now (steps of N pictures), and a new interval. */
double fce_image_clock_interval(fce_image_clock *k, double now, long steps, int N);
/* The ETA of steps_left at this session's rate into buf. */
void fce_image_clock_eta(const fce_image_clock *k, double now, int64_t step, int64_t steps_left, char *buf,
                         unsigned size);
/* The notice of a --time-limit stop. */
void fce_image_clock_stopped(const fce_image_clock *k, int64_t step, long steps);

#endif

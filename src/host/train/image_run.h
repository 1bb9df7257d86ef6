/* image_run.h: the run mechanics the image trainers (train_image.c: MLE, train_image_fce.c: FCE)
 * share: the batch of a step on the device, the metrics file, the progress line's clock, the run's
 * records (config.json, summary.json), curves.png and the notice of a stop by signal. (Their
 * configuration, presets and option checks: fce/train_image_config.h.) */
#ifndef FCE_TRAIN_IMAGE_RUN_H
#define FCE_TRAIN_IMAGE_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "fce/backend.h"
#include "fce/ebm_image.h"
#include "fce/iglow.h"
#include "fce/train_image_config.h"
#include "data/image_common.h"
#include "train/run_record.h"

/* The dequantised pictures of `step` into x (backend, N·D floats): the batch source's uint8
 * pictures uploaded through u8 (backend, N·D bytes), noise from stream `seed` at the offset of the
 * batch's first row (step·N·D alone; rows of a job's shard take the offsets of their global rows). */
fce_status fce_image_run_batch(fce_ctx *ctx, fce_batch_source *b, int64_t step, uint8_t *u8, float *x,
                               int n_bits, uint64_t seed);

/* Opens <out_dir>/metrics.jsonl into *f; with append (--resume) cut back to the checkpoint's `step`
 * first and appended to. FCE_STATUS_ERR_IO (logged) when it cannot be opened. */
fce_status fce_image_run_metrics(const char *out_dir, int append, int64_t step, FILE **f);

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

/* What config.json records of an image run besides the options: the models as built (ebm NULL for
 * mle), the training set's size, the warm-up in force (mle; −1 for fce) and the step it resumed at. */
typedef struct fce_image_run_models {
    const fce_iglow *flow;
    const fce_ebm_image *ebm;
    size_t n_pictures;
    long warmup_steps;
    int64_t resumed_at_step;
} fce_image_run_models;

/* <out>/config.json of an image run in `mode` (mle | fce). */
fce_status fce_image_run_write_config(const fce_image_train_config *c, const char *mode, const fce_ctx *ctx,
                                      const fce_image_run_models *m);
/* How a session ended: its step and run seconds, whether the --time-limit or a signal (stop_signal.h)
 * stopped it, and the checkpoint it wrote last. */
typedef struct fce_image_run_end {
    int64_t step;
    double seconds;
    int out_of_time, signal;
    const char *ckpt;
} fce_image_run_end;

/* The notice of a --time-limit or signal stop, then <out>/summary.json opened with the fields both
 * trainers write ("stopped": fce_stop_reason); the caller adds its figures and closes it with
 * fce_run_record_close. */
fce_status fce_image_run_summary_open(fce_run_record *r, const fce_image_train_config *c, const char *mode,
                                      const fce_ctx *ctx, const fce_image_clock *k, const fce_image_run_end *e);
/* <out>/curves.png from its metrics.jsonl: bits/dim (mle); value, accuracy, c, the EBM's share of
 * steps and both bits/dim (fce). */
fce_status fce_image_run_curves(const fce_image_train_config *c, const char *mode, int64_t step);

#endif

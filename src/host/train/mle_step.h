/* mle_step.h: one MLE step of the image Glow on the device, shared by `train --mode mle`
 * (train_image.c) and fce-bench's mle_step phase, so the bench times exactly what trains.
 *
 *   x ← dequantize(u8, seed_noise, offset (step·B + row0)·D)   (B: the global batch; row0: this
 *        rank's first row; one process: B = N, row0 = 0)
 *   [data-dependent actnorm init on x, when asked: the first step of a fresh run]
 *   log q(x) ← forward;  backward with dlogq = −1/B (constant);  finish_grad;
 *   the all-reduce of a job;  Adamax (or Adam) at the given rate and count;  refresh.
 * The per-step values (the Philox offset, the optimizer's scalars) are uploaded with the batch
 * before the work is enqueued (backend/step_vars.h), so every step but an init step enqueues the
 * same ops and runs as one recorded CUDA graph (backend/step_graph.h). The step reads nothing back:
 * the caller downloads log q (fce_iglow_tape_logq) after fce_mle_step_run — the step's one sync.
 * A non-finite loss is therefore seen after the update; the trainer then stops without saving. */
#ifndef FCE_TRAIN_MLE_STEP_H
#define FCE_TRAIN_MLE_STEP_H

#include <stdint.h>

#include "backend/step_graph.h"
#include "backend/step_vars.h"
#include "fce/iglow.h"
#include "train/optimizer.h"

typedef struct fce_mle_step {
    fce_ctx *ctx;
    fce_iglow *g;
    fce_iglow_tape *tp;
    int N, global, row0, n_bits;
    size_t D;
    uint64_t seed_noise;
    fce_optimizer opt;
    uint8_t *d_u8;
    float *d_x, *d_dlogq;
    fce_step_vars vars;
    int rng_slot, sched_slot;
    fce_step_graph graph;
    int init_now; /* this step runs the data-dependent init (eager, never recorded) */
} fce_mle_step;

/* For flow g with a training tape tp of N rows (this rank's rows of a global batch of `global`
 * from row0 on). */
fce_status fce_mle_step_init(fce_mle_step *s, fce_ctx *ctx, fce_iglow *g, fce_iglow_tape *tp, int N,
                             int global, int row0, int n_bits, uint64_t seed_noise, const fce_optimizer *opt);
void fce_mle_step_free(fce_mle_step *s); /* NULL-safe on a zeroed step */
/* Enqueues step `step` on batch u8_host (N·D bytes; reusable when this returns) at rate lr and
 * 1-based optimizer count t; data_init: run the data-dependent actnorm init on this batch first. */
fce_status fce_mle_step_run(fce_mle_step *s, const uint8_t *u8_host, int64_t step, float lr, int64_t t,
                            int data_init);

#endif

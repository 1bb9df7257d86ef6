/* step_vars.h: the values that change from one training step to the next (Philox offsets, the
 * optimizers' rates and bias corrections), kept in one small block of backend memory that the
 * step-indexed ops (fce/ops.def: fill_normal_at, dequantize_at, adam_step_at, adamax_step_at)
 * read when they run.
 *
 * Why: a step recorded once as a CUDA graph (step_graph.h) replays its ops with the arguments they
 * were recorded with, so nothing that changes per step may be an argument. The host writes this
 * step's values into a host mirror and uploads the block once, before the step's work is enqueued
 * (or its graph launched); the recorded ops hold only the block's fixed device addresses. The same
 * ops and the same block are used without graphs (CPU backends, FCE_CUDA_GRAPHS=0), so a run is
 * bit-identical either way.
 *
 * Slots are 8 bytes (a uint64_t or a double); users reserve a range once, at setup. */
#ifndef FCE_BACKEND_STEP_VARS_H
#define FCE_BACKEND_STEP_VARS_H

#include <stdint.h>

#include "fce/backend.h"

#define FCE_STEP_VARS_SLOTS 32

typedef struct fce_step_vars {
    fce_ctx *ctx;
    uint64_t host[FCE_STEP_VARS_SLOTS]; /* the values of this step (doubles stored by their bits) */
    uint64_t *dev;                      /* the block in backend memory */
    int used;                           /* slots reserved so far */
} fce_step_vars;

fce_status fce_step_vars_init(fce_step_vars *v, fce_ctx *ctx);
void fce_step_vars_free(fce_step_vars *v); /* NULL-safe, also after a failed init */
/* Reserves k consecutive slots and returns the first one's index in *first. */
fce_status fce_step_vars_reserve(fce_step_vars *v, int k, int *first);
/* Device addresses of slot i, as the step-indexed ops take them. */
const uint64_t *fce_step_vars_u64(const fce_step_vars *v, int i);
const double *fce_step_vars_f64(const fce_step_vars *v, int i);
/* This step's values, in the host mirror (uploaded by fce_step_vars_upload). */
void fce_step_vars_set_u64(fce_step_vars *v, int i, uint64_t value);
void fce_step_vars_set_f64(fce_step_vars *v, int i, const double *values, int k);
/* One upload of the reserved slots; call it before the step's work is enqueued. */
fce_status fce_step_vars_upload(fce_step_vars *v);

#endif

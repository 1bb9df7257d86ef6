/* optimizer.h: the optimizer settings of a training run (which rule, β1, β2, ε, all from the run's
 * config) and one step of it over a range of a parameter arena. The FCE game (fce_game.h) steps both
 * players with it and the MLE trainers their flow, so no trainer writes the constants itself. */
#ifndef FCE_TRAIN_OPTIMIZER_H
#define FCE_TRAIN_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"
#include "fce/params.h"
#include "fce/train_config.h" /* fce_flow_optim: Adam or Adamax */

typedef struct fce_optimizer {
    fce_flow_optim rule;
    float beta1, beta2, eps;
} fce_optimizer;

/* One step of the rule over entries [first, first + count) of the arena (params, grads, m, v) at
 * rate lr; step_count is the 1-based count of steps taken so far, this one included (bias
 * correction). */
fce_status fce_optimizer_step(fce_ctx *ctx, const fce_optimizer *o, fce_param_arena *a, size_t first,
                              size_t count, float lr, int64_t step_count);

/* The same step with its per-step scalars in backend memory (a step recorded as a CUDA graph,
 * backend/step_vars.h): fce_optimizer_sched writes them for rate lr and count step_count into
 * out (FCE_ADAM_SCHED doubles hold either rule's), fce_optimizer_step_at reads them from sched. */
void fce_optimizer_sched(const fce_optimizer *o, float lr, int64_t step_count, double out[3]);
fce_status fce_optimizer_step_at(fce_ctx *ctx, const fce_optimizer *o, fce_param_arena *a, size_t first,
                                 size_t count, const double *sched);

#endif

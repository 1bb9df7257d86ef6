/* optimizer.c: one Adam or Adamax step over a range of an arena (optimizer.h). */
#include "train/optimizer.h"

#include <string.h>

#include "fce/optim_sched.h"

fce_status fce_optimizer_step(fce_ctx *ctx, const fce_optimizer *o, fce_param_arena *a, size_t first,
                              size_t count, float lr, int64_t step_count) {
    float *p = a->params + first, *m = a->m + first, *v = a->v + first;
    const float *g = a->grads + first;
    if (o->rule == FCE_OPTIM_ADAM)
        return ctx->ops->adam_step(ctx, p, g, m, v, count, lr, o->beta1, o->beta2, o->eps, (int)step_count);
    return ctx->ops->adamax_step(ctx, p, g, m, v, count, lr, o->beta1, o->beta2, o->eps, (int)step_count);
}

void fce_optimizer_sched(const fce_optimizer *o, float lr, int64_t step_count, double out[3]) {
    memset(out, 0, 3 * sizeof(double));
    if (o->rule == FCE_OPTIM_ADAM) fce_adam_sched(out, lr, o->beta1, o->beta2, (int)step_count);
    else fce_adamax_sched(out, lr, o->beta1, (int)step_count);
}

fce_status fce_optimizer_step_at(fce_ctx *ctx, const fce_optimizer *o, fce_param_arena *a, size_t first,
                                 size_t count, const double *sched) {
    float *p = a->params + first, *m = a->m + first, *v = a->v + first;
    const float *g = a->grads + first;
    if (o->rule == FCE_OPTIM_ADAM)
        return ctx->ops->adam_step_at(ctx, p, g, m, v, count, o->beta1, o->beta2, o->eps, sched);
    return ctx->ops->adamax_step_at(ctx, p, g, m, v, count, o->beta1, o->beta2, o->eps, sched);
}

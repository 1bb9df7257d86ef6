/* step_vars.c: the per-step values in backend memory (step_vars.h). */
#include "backend/step_vars.h"

#include <string.h>

#include "fce/log.h"

fce_status fce_step_vars_init(fce_step_vars *v, fce_ctx *ctx) {
    memset(v, 0, sizeof *v);
    v->ctx = ctx;
    return ctx->ops->alloc(ctx, (void **)&v->dev, sizeof v->host);
}

void fce_step_vars_free(fce_step_vars *v) {
    if (v->ctx && v->dev) v->ctx->ops->release(v->ctx, v->dev);
    memset(v, 0, sizeof *v);
}

fce_status fce_step_vars_reserve(fce_step_vars *v, int k, int *first) {
    FCE_ASSERT(k >= 1 && v->used + k <= FCE_STEP_VARS_SLOTS,
               "step vars: %d more slots do not fit (%d of %d used)", k, v->used, FCE_STEP_VARS_SLOTS);
    *first = v->used;
    v->used += k;
    return FCE_STATUS_OK;
}

const uint64_t *fce_step_vars_u64(const fce_step_vars *v, int i) { return v->dev + i; }
const double *fce_step_vars_f64(const fce_step_vars *v, int i) { return (const double *)(v->dev + i); }

void fce_step_vars_set_u64(fce_step_vars *v, int i, uint64_t value) { v->host[i] = value; }

void fce_step_vars_set_f64(fce_step_vars *v, int i, const double *values, int k) {
    memcpy(v->host + i, values, (size_t)k * sizeof(double));
}

fce_status fce_step_vars_upload(fce_step_vars *v) {
    if (v->used == 0) return FCE_STATUS_OK;
    return v->ctx->ops->upload(v->ctx, v->dev, v->host, (size_t)v->used * sizeof(uint64_t));
}

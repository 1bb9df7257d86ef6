/* sample_step.c: a batch of samples on the device (sample_step.h). */
#include "eval/sample_step.h"

#include <string.h>

#include "fce/log.h"

fce_status fce_sample_step_init(fce_sample_step *s, fce_ctx *ctx, fce_iglow *g, fce_iglow_tape *tp, int N,
                                uint64_t seed, float T, int n_bits) {
    memset(s, 0, sizeof *s);
    const fce_iglow_config *gc = fce_iglow_cfg(g);
    FCE_ASSERT(gc->L <= FCE_SAMPLE_STEP_MAX_LEVELS, "sample step: %d levels (at most %d)", gc->L,
               FCE_SAMPLE_STEP_MAX_LEVELS);
    s->ctx = ctx, s->g = g, s->tp = tp, s->N = N, s->n_bits = n_bits, s->seed = seed, s->T = T;
    s->D = (size_t)gc->H * gc->W * gc->C;
    fce_step_graph_init(&s->graph, "sample batch");
    for (int l = 0; l < gc->L; l++)
        FCE_TRY(ctx->ops->alloc(ctx, (void **)&s->d_eps[l], (size_t)N * fce_iglow_n_z(g, l) * sizeof(float)));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&s->d_u8, (size_t)N * s->D));
    FCE_TRY(fce_step_vars_init(&s->vars, ctx));
    FCE_TRY(fce_step_vars_reserve(&s->vars, 1, &s->offset_slot));
    /* the temperature's upload happens here, never inside a recorded batch */
    return fce_iglow_tape_set_temperature(g, tp, T);
}

void fce_sample_step_free(fce_sample_step *s) {
    if (!s->ctx) return;
    fce_step_graph_free(s->ctx, &s->graph);
    fce_step_vars_free(&s->vars);
    for (int l = 0; l < FCE_SAMPLE_STEP_MAX_LEVELS; l++) s->ctx->ops->release(s->ctx, s->d_eps[l]);
    s->ctx->ops->release(s->ctx, s->d_u8);
    memset(s, 0, sizeof *s);
}

static fce_status body(void *arg) {
    fce_sample_step *s = arg;
    fce_ctx *ctx = s->ctx;
    const uint64_t *at = fce_step_vars_u64(&s->vars, s->offset_slot);
    uint64_t off = 0;
    for (int l = 0; l < fce_iglow_cfg(s->g)->L; l++) {
        const size_t nz = (size_t)s->N * (size_t)fce_iglow_n_z(s->g, l);
        FCE_TRY(ctx->ops->fill_normal_at(ctx, s->d_eps[l], nz, s->seed, off, at, 1.0f));
        off += nz;
    }
    FCE_TRY(fce_iglow_inverse(s->g, s->tp, (const float *const *)s->d_eps, s->T, s->N));
    return ctx->ops->postprocess(ctx, s->d_u8, fce_iglow_tape_x(s->tp), (size_t)s->N * s->D, s->n_bits);
}

fce_status fce_sample_step_run(fce_sample_step *s, int64_t batch) {
    fce_step_vars_set_u64(&s->vars, s->offset_slot, (uint64_t)batch * (uint64_t)s->N * s->D);
    FCE_TRY(fce_step_vars_upload(&s->vars));
    return fce_step_graph_run(s->ctx, &s->graph, body, s);
}

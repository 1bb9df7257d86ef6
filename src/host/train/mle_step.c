/* mle_step.c: the image MLE step (mle_step.h). */
#include "train/mle_step.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "fce/log.h"

fce_status fce_mle_step_init(fce_mle_step *s, fce_ctx *ctx, fce_iglow *g, fce_iglow_tape *tp, int N,
                             int global, int row0, int n_bits, uint64_t seed_noise, const fce_optimizer *opt) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->g = g;
    s->tp = tp;
    s->N = N;
    s->global = global;
    s->row0 = row0;
    s->n_bits = n_bits;
    s->seed_noise = seed_noise;
    s->opt = *opt;
    const fce_iglow_config *gc = fce_iglow_cfg(g);
    s->D = (size_t)gc->H * gc->W * gc->C;
    fce_step_graph_init(&s->graph, "mle step");
    const size_t ND = (size_t)s->N * s->D;
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&s->d_u8, ND));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&s->d_x, ND * sizeof(float)));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&s->d_dlogq, (size_t)s->N * sizeof(float)));
    float *h = malloc((size_t)s->N * sizeof *h);
    if (!h) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    for (int i = 0; i < s->N; i++) h[i] = -1.0f / (float)global; /* the global batch's mean */
    fce_status st = ctx->ops->upload(ctx, s->d_dlogq, h, (size_t)s->N * sizeof(float));
    free(h);
    FCE_TRY(st);
    FCE_TRY(fce_step_vars_init(&s->vars, ctx));
    FCE_TRY(fce_step_vars_reserve(&s->vars, 1, &s->rng_slot));
    return fce_step_vars_reserve(&s->vars, 3, &s->sched_slot);
}

void fce_mle_step_free(fce_mle_step *s) {
    if (!s->ctx) return;
    fce_ctx *ctx = s->ctx;
    fce_step_graph_free(ctx, &s->graph);
    fce_step_vars_free(&s->vars);
    void *bufs[] = {s->d_u8, s->d_x, s->d_dlogq};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
    memset(s, 0, sizeof *s);
}

/* The step's device work (the same ops every step but an init step). */
static fce_status body(void *arg) {
    fce_mle_step *s = arg;
    fce_ctx *ctx = s->ctx;
    FCE_TRY(ctx->ops->dequantize_at(ctx, s->d_x, s->d_u8, (size_t)s->N * s->D, s->n_bits, s->seed_noise,
                                    (uint64_t)s->row0 * s->D, fce_step_vars_u64(&s->vars, s->rng_slot)));
    if (s->init_now) FCE_TRY(fce_iglow_data_init(s->g, s->tp, s->d_x, s->N));
    FCE_TRY(fce_iglow_zero_grad(s->g));
    FCE_TRY(fce_iglow_forward(s->g, s->tp, s->d_x, s->N));
    FCE_TRY(fce_iglow_backward(s->g, s->tp, s->d_dlogq, s->N));
    FCE_TRY(fce_iglow_finish_grad(s->g));
    fce_param_arena *a = fce_iglow_arena(s->g);
    FCE_TRY(fce_dist_allreduce_grads(ctx, a->grads, a->n_trainable));
    FCE_TRY(fce_optimizer_step_at(ctx, &s->opt, a, 0, a->n_trainable, fce_step_vars_f64(&s->vars, s->sched_slot)));
    return fce_iglow_refresh(s->g);
}

fce_status fce_mle_step_run(fce_mle_step *s, const uint8_t *u8_host, int64_t step, float lr, int64_t t,
                            int data_init) {
    fce_ctx *ctx = s->ctx;
    FCE_TRY(ctx->ops->upload(ctx, s->d_u8, u8_host, (size_t)s->N * s->D));
    double sched[3];
    fce_optimizer_sched(&s->opt, lr, t, sched);
    fce_step_vars_set_u64(&s->vars, s->rng_slot, (uint64_t)step * (uint64_t)s->global * s->D);
    fce_step_vars_set_f64(&s->vars, s->sched_slot, sched, 3);
    FCE_TRY(fce_step_vars_upload(&s->vars));
    s->init_now = data_init;
    if (data_init) return body(s); /* once per run: not worth a graph, and not the steady step */
    return fce_step_graph_run(ctx, &s->graph, body, s);
}

/* ebm_flow_base.c: the frozen flow base of an image EBM, f = log q₀ + g (ebm_flow_base.h). */
#include "ebm/ebm_flow_base.h"

#include <string.h>

#include "fce/log.h"

fce_status fce_ebm_flow_base_copy_flow(fce_iglow **copy, fce_iglow *src) {
    fce_ctx *ctx = fce_iglow_ctx(src);
    FCE_TRY(fce_iglow_init(copy, ctx, fce_iglow_cfg(src), 0));
    const fce_param_arena *from = fce_iglow_arena(src);
    fce_param_arena *to = fce_iglow_arena(*copy);
    FCE_ASSERT(to->n_total == from->n_total, "ebm flow base: the copy has another parameter count");
    fce_status st = ctx->ops->copy(ctx, to->params, from->params, to->n_total * sizeof(float));
    if (st == FCE_STATUS_OK) st = fce_iglow_refresh(*copy);
    if (st != FCE_STATUS_OK) {
        fce_iglow_free(*copy);
        *copy = NULL;
        return st;
    }
    fce_iglow_set_actnorm_initialized(*copy, fce_iglow_actnorm_initialized(src));
    return FCE_STATUS_OK;
}

fce_status fce_ebm_flow_base_init(fce_ebm_flow_base *b, fce_iglow *flow, int n_fwd, int n_grad) {
    memset(b, 0, sizeof *b);
    b->flow = flow;
    b->n_fwd = n_fwd;
    b->n_grad = n_grad;
    const fce_iglow_config *gc = fce_iglow_cfg(flow);
    b->dim = (size_t)gc->H * gc->W * gc->C;
    fce_ctx *ctx = fce_iglow_ctx(flow);
    FCE_ASSERT(n_fwd >= 1 && n_grad >= 0, "ebm flow base: rows %d + %d", n_fwd, n_grad);
    fce_status st = fce_iglow_tape_init_inference(&b->tp_fwd, flow, n_fwd);
    if (st == FCE_STATUS_OK && n_grad > 0) st = fce_iglow_tape_init(&b->tp_grad, flow, n_grad);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&b->f, (size_t)(n_fwd + n_grad) * sizeof(float));
    if (st == FCE_STATUS_OK && n_grad > 0)
        st = ctx->ops->alloc(ctx, (void **)&b->dx, (size_t)n_grad * b->dim * sizeof(float));
    if (st != FCE_STATUS_OK) fce_ebm_flow_base_free(b);
    return st;
}

void fce_ebm_flow_base_free(fce_ebm_flow_base *b) {
    if (!b->flow) return;
    fce_ctx *ctx = fce_iglow_ctx(b->flow);
    ctx->ops->release(ctx, b->f);
    ctx->ops->release(ctx, b->dx);
    fce_iglow_tape_free(b->tp_fwd);
    fce_iglow_tape_free(b->tp_grad);
    fce_iglow_free(b->flow);
    memset(b, 0, sizeof *b);
}

/* dst (n values) += src: the channel-slice op as an elementwise add over n rows of one value. */
static fce_status add_logq(fce_ctx *ctx, float *dst, const fce_iglow_tape *tp, int n) {
    return ctx->ops->channels_copy(ctx, dst, 1, 0, fce_iglow_tape_logq(tp), 1, 0, 1, (size_t)n, 1);
}

fce_status fce_ebm_flow_base_forward(fce_ebm_flow_base *b, const float *in, int rows, const float *g,
                                     const float **f) {
    FCE_ASSERT(rows == b->n_fwd + b->n_grad, "ebm flow base: %d rows, made for %d + %d", rows, b->n_fwd,
               b->n_grad);
    fce_ctx *ctx = fce_iglow_ctx(b->flow);
    FCE_TRY(ctx->ops->copy(ctx, b->f, g, (size_t)rows * sizeof(float)));
    FCE_TRY(fce_iglow_forward(b->flow, b->tp_fwd, in, b->n_fwd));
    FCE_TRY(add_logq(ctx, b->f, b->tp_fwd, b->n_fwd));
    if (b->n_grad > 0) {
        FCE_TRY(fce_iglow_forward(b->flow, b->tp_grad, in + (size_t)b->n_fwd * b->dim, b->n_grad));
        FCE_TRY(add_logq(ctx, b->f + b->n_fwd, b->tp_grad, b->n_grad));
    }
    *f = b->f;
    return FCE_STATUS_OK;
}

fce_status fce_ebm_flow_base_backward_input(fce_ebm_flow_base *b, const float *df, float *dx) {
    FCE_ASSERT(b->tp_grad != NULL, "ebm flow base: backward_input without gradient rows");
    fce_ctx *ctx = fce_iglow_ctx(b->flow);
    FCE_TRY(fce_iglow_zero_grad(b->flow));
    FCE_TRY(fce_iglow_backward_input(b->flow, b->tp_grad, df, b->dx, b->n_grad));
    const int d = (int)b->dim;
    return ctx->ops->channels_copy(ctx, dx, d, 0, b->dx, d, 0, d, (size_t)b->n_grad, 1);
}

/* mlp.c: the dense stack (mlp.h): its parameter declarations and views, Glorot init, tapes, and
 * the forward and backward passes on the op table. */
#include "nn/mlp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"

fce_status fce_mlp_declare(fce_mlp *m, fce_param_table *t, const char *prefix, int n_layers,
                           const int *dims, float slope, int zero_last, int actnorm) {
    FCE_ASSERT(n_layers >= 1 && n_layers <= FCE_MLP_MAX_LAYERS, "bad mlp depth %d", n_layers);
    memset(m, 0, sizeof *m);
    m->n_layers = n_layers;
    memcpy(m->dims, dims, (size_t)(n_layers + 1) * sizeof(int));
    m->slope = slope;
    m->zero_last = zero_last;
    m->actnorm = actnorm;
    char name[FCE_PARAM_NAME_MAX];
    for (int l = 0; l < n_layers; l++) {
        snprintf(name, sizeof name, "%s.fc%d.w", prefix, l);
        FCE_TRY(fce_param_table_add(t, name, dims[l + 1], dims[l], 0, &m->iW[l]));
        snprintf(name, sizeof name, "%s.fc%d.b", prefix, l);
        FCE_TRY(fce_param_table_add(t, name, 1, dims[l + 1], 0, &m->ib[l]));
        if (actnorm && l < n_layers - 1) {
            snprintf(name, sizeof name, "%s.an%d.bias", prefix, l);
            FCE_TRY(fce_param_table_add(t, name, 1, dims[l + 1], 0, &m->ian_b[l]));
            snprintf(name, sizeof name, "%s.an%d.logs", prefix, l);
            FCE_TRY(fce_param_table_add(t, name, 1, dims[l + 1], 0, &m->ian_s[l]));
        }
    }
    return FCE_STATUS_OK;
}

void fce_mlp_bind(fce_mlp *m, const fce_param_table *t, const fce_param_arena *a) {
    for (int l = 0; l < m->n_layers; l++) {
        m->W[l] = a->params + t->specs[m->iW[l]].offset;
        m->dW[l] = a->grads + t->specs[m->iW[l]].offset;
        m->b[l] = a->params + t->specs[m->ib[l]].offset;
        m->db[l] = a->grads + t->specs[m->ib[l]].offset;
        if (m->actnorm && l < m->n_layers - 1) {
            m->an_b[l] = a->params + t->specs[m->ian_b[l]].offset;
            m->an_s[l] = a->params + t->specs[m->ian_s[l]].offset;
            m->dan_b[l] = a->grads + t->specs[m->ian_b[l]].offset;
            m->dan_s[l] = a->grads + t->specs[m->ian_s[l]].offset;
        }
    }
}

void fce_mlp_init_host(const fce_mlp *m, const fce_param_table *t, float *host, uint64_t seed) {
    for (int l = 0; l < m->n_layers; l++) {
        const fce_param_spec *w = &t->specs[m->iW[l]];
        const fce_param_spec *b = &t->specs[m->ib[l]];
        int zero = m->zero_last && l == m->n_layers - 1;
        double limit = sqrt(6.0 / (double)(m->dims[l] + m->dims[l + 1]));
        for (size_t i = 0; i < w->numel; i++) {
            float u = fce_philox_uniform(seed, ((uint64_t)l << 40) + i);
            host[w->offset + i] = zero ? 0.0f : (float)((2.0 * u - 1.0) * limit);
        }
        for (size_t i = 0; i < b->numel; i++) host[b->offset + i] = 0.0f;
    }
}

static int mlp_max_dim(const fce_mlp *m) {
    int d = 0;
    for (int l = 0; l <= m->n_layers; l++)
        if (m->dims[l] > d) d = m->dims[l];
    return d;
}

fce_status fce_mlp_tape_init(fce_mlp_tape *tp, const fce_mlp *m, fce_ctx *ctx, int cap) {
    memset(tp, 0, sizeof *tp);
    tp->cap = cap;
    size_t c = (size_t)cap;
    fce_status st = FCE_STATUS_OK;
    for (int l = 0; l < m->n_layers; l++) {
        size_t bytes = c * (size_t)m->dims[l + 1] * sizeof(float);
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->z[l], bytes));
        if (l < m->n_layers - 1) FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->a[l], bytes));
        if (m->actnorm && l < m->n_layers - 1)
            FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->n[l], bytes));
    }
    size_t gbytes = c * (size_t)mlp_max_dim(m) * sizeof(float);
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->g0, gbytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->g1, gbytes));
    return FCE_STATUS_OK;
cleanup:
    fce_mlp_tape_free(tp, ctx);
    return st;
}

void fce_mlp_tape_free(fce_mlp_tape *tp, fce_ctx *ctx) {
    if (!tp || !ctx || !ctx->ops) return;
    for (int l = 0; l < FCE_MLP_MAX_LAYERS; l++) {
        ctx->ops->release(ctx, tp->z[l]);
        ctx->ops->release(ctx, tp->a[l]);
        ctx->ops->release(ctx, tp->n[l]);
    }
    ctx->ops->release(ctx, tp->g0);
    ctx->ops->release(ctx, tp->g1);
    memset(tp, 0, sizeof *tp);
}

fce_status fce_mlp_forward(const fce_mlp *m, fce_mlp_tape *tp, fce_ctx *ctx, const float *x,
                           int rows, int init) {
    FCE_ASSERT(rows > 0 && rows <= tp->cap, "mlp forward: %d rows, tape holds %d", rows, tp->cap);
    tp->input = x;
    const float *in = x;
    for (int l = 0; l < m->n_layers; l++) {
        const int dim = m->dims[l + 1];
        FCE_TRY(ctx->ops->linear_forward(ctx, tp->z[l], in, m->W[l], m->b[l], rows, m->dims[l], dim));
        if (l == m->n_layers - 1) break;
        const float *pre = tp->z[l];
        if (m->actnorm) {
            if (init) FCE_TRY(ctx->ops->actnorm_init(ctx, m->an_b[l], m->an_s[l], tp->z[l], rows, 1, dim));
            FCE_TRY(ctx->ops->actnorm_forward(ctx, tp->n[l], NULL, tp->z[l], m->an_b[l], m->an_s[l],
                                              rows, 1, dim));
            pre = tp->n[l];
        }
        FCE_TRY(ctx->ops->leaky_relu_forward(ctx, tp->a[l], pre, (size_t)rows * (size_t)dim, m->slope));
        in = tp->a[l];
    }
    return FCE_STATUS_OK;
}

fce_status fce_mlp_backward(const fce_mlp *m, fce_mlp_tape *tp, fce_ctx *ctx, const float *dout,
                            float *dx, int row0, int rows, int param_grads) {
    FCE_ASSERT(row0 >= 0 && rows > 0 && row0 + rows <= tp->cap, "mlp backward rows out of range");
    const size_t r0 = (size_t)row0;
    const float *d = dout;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const int dim = m->dims[l + 1];
        if (l < m->n_layers - 1) { /* back through the activation (and actnorm) after layer l */
            float *g = d == tp->g0 ? tp->g1 : tp->g0;
            const float *pre = (m->actnorm ? tp->n[l] : tp->z[l]) + r0 * (size_t)dim;
            FCE_TRY(ctx->ops->leaky_relu_backward(ctx, g, d, pre, (size_t)rows * (size_t)dim, m->slope));
            d = g;
            if (m->actnorm) {
                g = d == tp->g0 ? tp->g1 : tp->g0;
                FCE_TRY(ctx->ops->actnorm_backward(ctx, g, param_grads ? m->dan_b[l] : NULL,
                                                   param_grads ? m->dan_s[l] : NULL, d,
                                                   tp->n[l] + r0 * (size_t)dim, NULL, m->an_b[l],
                                                   m->an_s[l], rows, 1, dim));
                d = g;
            }
        }
        const float *in = l == 0 ? tp->input + r0 * (size_t)m->dims[0]
                                 : tp->a[l - 1] + r0 * (size_t)m->dims[l];
        float *dprev = l == 0 ? dx : (d == tp->g0 ? tp->g1 : tp->g0);
        FCE_TRY(ctx->ops->linear_backward(ctx, dprev, param_grads ? m->dW[l] : NULL,
                                          param_grads ? m->db[l] : NULL, d, in, m->W[l], rows,
                                          m->dims[l], dim));
        d = dprev;
    }
    return FCE_STATUS_OK;
}

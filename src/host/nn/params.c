/* params.c: parameter table planning and the per-model arena (params.h). */
#include "fce/params.h"

#include <stdlib.h>
#include <string.h>

#include "fce/log.h"

fce_status fce_param_table_add(fce_param_table *t, const char *name, int rows, int cols,
                               unsigned flags, int *index) {
    FCE_ASSERT(!t->planned, "table already planned when adding %s", name);
    FCE_ASSERT(rows > 0 && cols > 0, "bad shape for %s", name);
    FCE_ASSERT(strlen(name) < FCE_PARAM_NAME_MAX, "parameter name too long: %s", name);
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        fce_param_spec *s = realloc(t->specs, (size_t)cap * sizeof *s);
        if (!s) {
            fce_log_error("out of host memory growing the parameter table");
            return FCE_STATUS_ERR_NOMEM;
        }
        t->specs = s;
        t->cap = cap;
    }
    fce_param_spec *s = &t->specs[t->n];
    memset(s, 0, sizeof *s);
    strcpy(s->name, name);
    s->rows = rows;
    s->cols = cols;
    s->numel = (size_t)rows * (size_t)cols;
    s->flags = flags;
    if (index) *index = t->n;
    t->n++;
    return FCE_STATUS_OK;
}

static size_t align_up(size_t n) {
    return (n + FCE_PARAM_ALIGN_FLOATS - 1) / FCE_PARAM_ALIGN_FLOATS * FCE_PARAM_ALIGN_FLOATS;
}

void fce_param_table_plan(fce_param_table *t) {
    size_t off = 0;
    for (int pass = 0; pass < 2; pass++) { /* trainable first, then frozen */
        for (int i = 0; i < t->n; i++) {
            int frozen = (t->specs[i].flags & FCE_PARAM_FLAG_FROZEN) != 0;
            if (frozen != pass) continue;
            t->specs[i].offset = off;
            off = align_up(off + t->specs[i].numel);
        }
        if (pass == 0) t->n_trainable = off;
    }
    t->n_total = off;
    t->planned = 1;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t fce_param_table_hash(const fce_param_table *t) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < t->n; i++) {
        const fce_param_spec *s = &t->specs[i];
        h = fnv1a(h, s->name, strlen(s->name));
        int meta[3] = {s->rows, s->cols, (int)s->flags};
        h = fnv1a(h, meta, sizeof meta);
    }
    return h;
}

void fce_param_table_free(fce_param_table *t) {
    free(t->specs);
    memset(t, 0, sizeof *t);
}

fce_status fce_param_arena_init(fce_param_arena *a, const fce_param_table *t, fce_ctx *ctx) {
    FCE_ASSERT(t->planned, "parameter table not planned");
    memset(a, 0, sizeof *a);
    a->n_total = t->n_total;
    a->n_trainable = t->n_trainable;
    size_t bytes = t->n_total * sizeof(float);
    float **bufs[4] = {&a->params, &a->grads, &a->m, &a->v};
    for (int i = 0; i < 4; i++) {
        fce_status st = ctx->ops->alloc(ctx, (void **)bufs[i], bytes);
        if (st != FCE_STATUS_OK) {
            fce_param_arena_free(a, ctx);
            return st;
        }
    }
    return FCE_STATUS_OK;
}

void fce_param_arena_free(fce_param_arena *a, fce_ctx *ctx) {
    if (!a || !ctx || !ctx->ops) return;
    ctx->ops->release(ctx, a->params);
    ctx->ops->release(ctx, a->grads);
    ctx->ops->release(ctx, a->m);
    ctx->ops->release(ctx, a->v);
    a->params = a->grads = a->m = a->v = NULL;
}

fce_status fce_param_arena_upload(fce_param_arena *a, fce_ctx *ctx, const float *host) {
    return ctx->ops->upload(ctx, a->params, host, a->n_total * sizeof(float));
}

fce_status fce_param_arena_zero_grad(fce_param_arena *a, fce_ctx *ctx) {
    return ctx->ops->zero(ctx, a->grads, a->n_total * sizeof(float));
}

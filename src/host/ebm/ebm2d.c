/* ebm.c: the 2D EBM (ebm.h): an MLP with leaky-ReLU(0.2) plus the scalar c. */
#include "fce/ebm.h"

#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "nn/mlp.h"

struct fce_ebm {
    fce_ctx *ctx;
    fce_ebm_config cfg;
    fce_param_table table;
    fce_param_arena arena;
    fce_mlp net;
    int i_c;
};

struct fce_ebm_tape {
    fce_ebm *e;
    fce_mlp_tape t;
};

fce_status fce_ebm_init(fce_ebm **out, fce_ctx *ctx, const fce_ebm_config *cfg, uint64_t seed) {
    *out = NULL;
    if (cfg->dim < 1 || cfg->width < 1 || cfg->hidden < 1 || cfg->hidden + 1 > FCE_MLP_MAX_LAYERS) {
        fce_log_error("ebm: need dim, width >= 1 and 1..%d hidden layers (got %d, %d, %d)",
                      FCE_MLP_MAX_LAYERS - 1, cfg->dim, cfg->width, cfg->hidden);
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_status st = FCE_STATUS_OK;
    float *host = NULL;
    fce_ebm *e = calloc(1, sizeof *e);
    if (!e) return FCE_STATUS_ERR_NOMEM;
    e->ctx = ctx;
    e->cfg = *cfg;
    int dims[FCE_MLP_MAX_LAYERS + 1];
    dims[0] = cfg->dim;
    for (int l = 1; l <= cfg->hidden; l++) dims[l] = cfg->width;
    dims[cfg->hidden + 1] = 1;
    FCE_TRY_GOTO(st, fce_mlp_declare(&e->net, &e->table, "ebm", cfg->hidden + 1, dims, 0.2f, 0, 0));
    FCE_TRY_GOTO(st, fce_param_table_add(&e->table, "ebm.c", 1, 1, 0, &e->i_c));
    fce_param_table_plan(&e->table);
    FCE_TRY_GOTO(st, fce_param_arena_init(&e->arena, &e->table, ctx));
    fce_mlp_bind(&e->net, &e->table, &e->arena);
    host = calloc(e->arena.n_total, sizeof *host);
    if (!host) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    fce_mlp_init_host(&e->net, &e->table, host, seed * 2654435761ull + 17u);
    FCE_TRY_GOTO(st, fce_param_arena_upload(&e->arena, ctx, host));
    free(host);
    *out = e;
    return FCE_STATUS_OK;
cleanup:
    free(host);
    fce_ebm_free(e);
    return st;
}

void fce_ebm_free(fce_ebm *e) {
    if (!e) return;
    fce_param_arena_free(&e->arena, e->ctx);
    fce_param_table_free(&e->table);
    free(e);
}

const fce_param_table *fce_ebm_params(const fce_ebm *e) { return &e->table; }
fce_param_arena *fce_ebm_arena(fce_ebm *e) { return &e->arena; }
fce_ctx *fce_ebm_ctx(fce_ebm *e) { return e->ctx; }
const fce_ebm_config *fce_ebm_cfg(const fce_ebm *e) { return &e->cfg; }
float *fce_ebm_c(fce_ebm *e) { return e->arena.params + e->table.specs[e->i_c].offset; }
float *fce_ebm_dc(fce_ebm *e) { return e->arena.grads + e->table.specs[e->i_c].offset; }

fce_status fce_ebm_tape_init(fce_ebm_tape **out, fce_ebm *e, int cap) {
    *out = NULL;
    fce_ebm_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return FCE_STATUS_ERR_NOMEM;
    tp->e = e;
    fce_status st = fce_mlp_tape_init(&tp->t, &e->net, e->ctx, cap);
    if (st != FCE_STATUS_OK) {
        free(tp);
        return st;
    }
    *out = tp;
    return FCE_STATUS_OK;
}

void fce_ebm_tape_free(fce_ebm_tape *tp) {
    if (!tp) return;
    fce_mlp_tape_free(&tp->t, tp->e->ctx);
    free(tp);
}

fce_status fce_ebm_forward(fce_ebm *e, fce_ebm_tape *tp, const float *x, int N, const float **f) {
    FCE_TRY(fce_mlp_forward(&e->net, &tp->t, e->ctx, x, N, 0));
    *f = fce_mlp_output(&e->net, &tp->t);
    return FCE_STATUS_OK;
}

fce_status fce_ebm_backward(fce_ebm *e, fce_ebm_tape *tp, const float *df, float *dx, int row0,
                            int rows, int param_grads) {
    return fce_mlp_backward(&e->net, &tp->t, e->ctx, df, dx, row0, rows, param_grads);
}

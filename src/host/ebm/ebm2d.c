/* ebm2d.c: the 2D EBM (ebm.h): its dense stack (nn/mlp.h, leaky-ReLU 0.2) and the scalar c, their
 * parameter arena (nn/model_params.h) and tapes. */
#include "fce/ebm.h"

#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "nn/mlp.h"
#include "nn/model_params.h"

struct fce_ebm {
    fce_model_params params; /* context, table, arena */
    fce_ebm_config cfg;
    fce_mlp net;
    fce_param_view c; /* log Z estimate */
};

struct fce_ebm_tape {
    fce_ebm *e;
    fce_mlp_tape t;
};

/* Declares, allocates and initialises the parameters of e (cfg and ctx set). */
static fce_status ebm_build(fce_ebm *e, uint64_t seed) {
    fce_model_params *mp = &e->params;
    int dims[FCE_MLP_MAX_LAYERS + 1];
    dims[0] = e->cfg.dim;
    for (int l = 1; l <= e->cfg.hidden; l++) dims[l] = e->cfg.width;
    dims[e->cfg.hidden + 1] = 1;
    FCE_TRY(fce_mlp_declare(&e->net, &mp->table, "ebm", e->cfg.hidden + 1, dims, 0.2f, 0, 0));
    FCE_TRY(fce_model_params_add(mp, "ebm.c", 1, 1, 0, &e->c));
    FCE_TRY(fce_model_params_alloc(mp));
    fce_mlp_bind(&e->net, &mp->table, &mp->arena);
    fce_param_view_bind(&e->c, &mp->table, &mp->arena);
    fce_mlp_init_host(&e->net, &mp->table, mp->host, seed * 2654435761ull + 17u); /* c stays 0 */
    return fce_model_params_upload(mp);
}

fce_status fce_ebm_init(fce_ebm **out, fce_ctx *ctx, const fce_ebm_config *cfg, uint64_t seed) {
    *out = NULL;
    if (cfg->dim < 1 || cfg->width < 1 || cfg->hidden < 1 || cfg->hidden + 1 > FCE_MLP_MAX_LAYERS) {
        fce_log_error("ebm: need dim, width >= 1 and 1..%d hidden layers (got %d, %d, %d)",
                      FCE_MLP_MAX_LAYERS - 1, cfg->dim, cfg->width, cfg->hidden);
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_ebm *e = calloc(1, sizeof *e);
    if (!e) return FCE_STATUS_ERR_NOMEM;
    e->params.ctx = ctx;
    e->cfg = *cfg;
    fce_status st = ebm_build(e, seed);
    if (st != FCE_STATUS_OK) {
        fce_ebm_free(e);
        return st;
    }
    *out = e;
    return FCE_STATUS_OK;
}

void fce_ebm_free(fce_ebm *e) {
    if (!e) return;
    fce_model_params_free(&e->params);
    free(e);
}

const fce_param_table *fce_ebm_params(const fce_ebm *e) { return &e->params.table; }
fce_param_arena *fce_ebm_arena(fce_ebm *e) { return &e->params.arena; }
fce_ctx *fce_ebm_ctx(fce_ebm *e) { return e->params.ctx; }
const fce_ebm_config *fce_ebm_cfg(const fce_ebm *e) { return &e->cfg; }
float *fce_ebm_c(fce_ebm *e) { return e->c.value; }
float *fce_ebm_dc(fce_ebm *e) { return e->c.grad; }

fce_status fce_ebm_tape_init(fce_ebm_tape **out, fce_ebm *e, int cap) {
    *out = NULL;
    fce_ebm_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return FCE_STATUS_ERR_NOMEM;
    tp->e = e;
    fce_status st = fce_mlp_tape_init(&tp->t, &e->net, e->params.ctx, cap);
    if (st == FCE_STATUS_OK) *out = tp;
    else free(tp);
    return st;
}

void fce_ebm_tape_free(fce_ebm_tape *tp) {
    if (!tp) return;
    fce_mlp_tape_free(&tp->t, tp->e->params.ctx);
    free(tp);
}

fce_status fce_ebm_forward(fce_ebm *e, fce_ebm_tape *tp, const float *x, int N, const float **f) {
    FCE_TRY(fce_mlp_forward(&e->net, &tp->t, e->params.ctx, x, N, 0));
    *f = fce_mlp_output(&e->net, &tp->t);
    return FCE_STATUS_OK;
}

fce_status fce_ebm_backward(fce_ebm *e, fce_ebm_tape *tp, const float *df, float *dx, int row0,
                            int rows, int param_grads) {
    return fce_mlp_backward(&e->net, &tp->t, e->params.ctx, df, dx, row0, rows, param_grads);
}

/* model_params.c: the models' shared parameter lifecycle and tensor views (model_params.h). */
#include "nn/model_params.h"

#include <stdlib.h>

fce_status fce_model_params_add(fce_model_params *mp, const char *name, int rows, int cols,
                                unsigned flags, fce_param_view *v) {
    return fce_param_table_add(&mp->table, name, rows, cols, flags, &v->index);
}

fce_status fce_model_params_alloc(fce_model_params *mp) {
    fce_param_table_plan(&mp->table);
    FCE_TRY(fce_param_arena_init(&mp->arena, &mp->table, mp->ctx));
    mp->host = calloc(mp->arena.n_total, sizeof *mp->host);
    return mp->host ? FCE_STATUS_OK : FCE_STATUS_ERR_NOMEM;
}

fce_status fce_model_params_upload(fce_model_params *mp) {
    fce_status st = fce_param_arena_upload(&mp->arena, mp->ctx, mp->host);
    free(mp->host);
    mp->host = NULL;
    return st;
}

void fce_model_params_free(fce_model_params *mp) {
    free(mp->host);
    mp->host = NULL;
    fce_param_arena_free(&mp->arena, mp->ctx);
    fce_param_table_free(&mp->table);
}

void fce_param_view_bind(fce_param_view *v, const fce_param_table *t, const fce_param_arena *a) {
    v->value = a->params + t->specs[v->index].offset;
    v->grad = a->grads + t->specs[v->index].offset;
}

float *fce_param_view_host(const fce_param_view *v, const fce_param_table *t, float *host) {
    return host + t->specs[v->index].offset;
}

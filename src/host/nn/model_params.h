/* model_params.h: the parameter state each model owns (the 2D and image EBMs and flows) and the
 * lifecycle they all follow with it, so that each model writes only what is its own (its tensors,
 * its initial values):
 *
 *   declare tensors into .table (fce_param_table_add, or fce_model_params_add with a view)
 *   fce_model_params_alloc    plans the table, allocates the arena and a zeroed host image
 *   bind views, write the initial values into .host (zeros need no writing)
 *   fce_model_params_upload   uploads the host image and frees it
 *   …
 *   fce_model_params_free     frees all of it (also a half-built model's; NULL members are fine)
 *
 * A view (fce_param_view) names one tensor: its table index and, once bound, its values and
 * gradient in the arena (backend memory). */
#ifndef FCE_MODEL_PARAMS_H
#define FCE_MODEL_PARAMS_H

#include "fce/backend.h"
#include "fce/params.h"

typedef struct fce_model_params {
    fce_ctx *ctx;
    fce_param_table table;
    fce_param_arena arena;
    float *host; /* n_total floats between alloc and upload, else NULL */
} fce_model_params;

typedef struct fce_param_view {
    int index;          /* in the table */
    float *value, *grad; /* backend memory, set by fce_param_view_bind */
} fce_param_view;

/* Declares a tensor and remembers its index in v. */
fce_status fce_model_params_add(fce_model_params *mp, const char *name, int rows, int cols,
                                unsigned flags, fce_param_view *v);
fce_status fce_model_params_alloc(fce_model_params *mp);
fce_status fce_model_params_upload(fce_model_params *mp);
void fce_model_params_free(fce_model_params *mp);

void fce_param_view_bind(fce_param_view *v, const fce_param_table *t, const fce_param_arena *a);
/* The tensor's place in a host image of the arena (n_total floats). */
float *fce_param_view_host(const fce_param_view *v, const fce_param_table *t, float *host);

#endif

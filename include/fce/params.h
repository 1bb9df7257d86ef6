/* params.h: one parameter arena per model (STYLE 6.7).
 *
 * A model declares its tensors into a table (name, shape, flags), the table is planned (offsets,
 * 256-byte alignment, trainable tensors first, frozen ones after), and the arena makes ONE backend
 * allocation per buffer kind: params, grads, m, v. Offset o means the same tensor in all four, so
 * the optimizer, zero-grad and checkpoint I/O are one call per model over one contiguous range.
 * The table hash (names, shapes, flags, order) goes into checkpoints: a build with another
 * architecture refuses a checkpoint with a message naming what differs. */
#ifndef FCE_PARAMS_H
#define FCE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Not trained: no gradient, no optimizer update (e.g. the LU permutation and signs). */
#define FCE_PARAM_FLAG_FROZEN 1u

#define FCE_PARAM_NAME_MAX 64
#define FCE_PARAM_ALIGN_FLOATS 64 /* 256 bytes */

typedef struct fce_param_spec {
    char name[FCE_PARAM_NAME_MAX];
    int rows, cols;
    size_t numel;
    size_t offset; /* in floats, set by fce_param_table_plan */
    unsigned flags;
} fce_param_spec;

typedef struct fce_param_table {
    fce_param_spec *specs;
    int n, cap;
    size_t n_total;     /* floats, including alignment padding */
    size_t n_trainable; /* floats in [0, n_trainable) are trained; frozen tensors start after */
    int planned;
} fce_param_table;

/* Appends a tensor; *index receives its position (used to get its views after allocation). */
fce_status fce_param_table_add(fce_param_table *t, const char *name, int rows, int cols,
                               unsigned flags, int *index);
void fce_param_table_plan(fce_param_table *t);
uint64_t fce_param_table_hash(const fce_param_table *t);
void fce_param_table_free(fce_param_table *t);

typedef struct fce_param_arena {
    float *params, *grads, *m, *v; /* backend memory, each n_total floats, zero-filled */
    size_t n_total, n_trainable;
} fce_param_arena;

fce_status fce_param_arena_init(fce_param_arena *a, const fce_param_table *t, fce_ctx *ctx);
void fce_param_arena_free(fce_param_arena *a, fce_ctx *ctx);
/* Uploads a host image of all n_total parameters (the initial values). */
fce_status fce_param_arena_upload(fce_param_arena *a, fce_ctx *ctx, const float *host);
fce_status fce_param_arena_zero_grad(fce_param_arena *a, fce_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif

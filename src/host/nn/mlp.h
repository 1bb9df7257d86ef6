/* mlp.h: a stack of dense layers with a leaky-ReLU between them (not after the last), on the
 * backend op table. Used by the EBM (fc128 → lReLU(0.2) ×3 → fc1) and by the 2D coupling networks
 * (fc128 → ReLU → fc128 → ReLU → zero-initialised fc).
 *
 * Two passes, as everywhere: fce_mlp_declare adds the weights to a parameter table; after the arena
 * is allocated, fce_mlp_bind resolves the views. A tape holds the activations of one forward pass
 * for up to `cap` rows, allocated once at setup (nothing is allocated in a training step). */
#ifndef FCE_MLP_H
#define FCE_MLP_H

#include "fce/backend.h"
#include "fce/params.h"

#define FCE_MLP_MAX_LAYERS 8

typedef struct fce_mlp {
    int n_layers;                     /* dense layers */
    int dims[FCE_MLP_MAX_LAYERS + 1]; /* dims[0] = input, dims[n_layers] = output */
    float slope;                      /* leaky-ReLU slope between layers (0 = ReLU) */
    int zero_last;                    /* last layer initialised to zero */
    int actnorm;                      /* actnorm (no log-det) after each hidden dense layer */
    int iW[FCE_MLP_MAX_LAYERS], ib[FCE_MLP_MAX_LAYERS];
    int ian_b[FCE_MLP_MAX_LAYERS], ian_s[FCE_MLP_MAX_LAYERS];
    float *an_b[FCE_MLP_MAX_LAYERS], *an_s[FCE_MLP_MAX_LAYERS];
    float *dan_b[FCE_MLP_MAX_LAYERS], *dan_s[FCE_MLP_MAX_LAYERS];
    float *W[FCE_MLP_MAX_LAYERS], *b[FCE_MLP_MAX_LAYERS];
    float *dW[FCE_MLP_MAX_LAYERS], *db[FCE_MLP_MAX_LAYERS];
} fce_mlp;

typedef struct fce_mlp_tape {
    int cap;                              /* rows */
    const float *input;                   /* (rows, dims[0]), borrowed, must outlive backward */
    float *z[FCE_MLP_MAX_LAYERS];         /* dense outputs (rows, dims[l+1]); z[last] = output */
    float *n[FCE_MLP_MAX_LAYERS];         /* actnorm outputs (rows, dims[l+1]), with actnorm only */
    float *a[FCE_MLP_MAX_LAYERS];         /* activations (rows, dims[l+1]), l < last */
    float *g0, *g1;                       /* gradient ping-pong buffers (rows, max dim) */
} fce_mlp_tape;

/* actnorm: insert an actnorm (SPEC a.3: no log-det) between each hidden dense layer and its
 * activation, with data-dependent init through fce_mlp_forward(..., init = 1). */
fce_status fce_mlp_declare(fce_mlp *m, fce_param_table *t, const char *prefix, int n_layers,
                           const int *dims, float slope, int zero_last, int actnorm);
void fce_mlp_bind(fce_mlp *m, const fce_param_table *t, const fce_param_arena *a);
/* Host-side initial values into the arena image `host` (n_total floats): Glorot-uniform weights
 * (the Keras default, SPEC d), zero biases, zero last layer if zero_last. */
void fce_mlp_init_host(const fce_mlp *m, const fce_param_table *t, float *host, uint64_t seed);

fce_status fce_mlp_tape_init(fce_mlp_tape *tp, const fce_mlp *m, fce_ctx *ctx, int cap);
void fce_mlp_tape_free(fce_mlp_tape *tp, fce_ctx *ctx);

/* out = tape->z[last] (rows, dims[n_layers]). init = 1 first sets every actnorm from its own
 * input on these rows (data-dependent init, in topological order). */
fce_status fce_mlp_forward(const fce_mlp *m, fce_mlp_tape *tp, fce_ctx *ctx, const float *x,
                           int rows, int init);
/* Backward over rows [row0, row0 + rows) of the last forward pass. dout (rows, out dim).
 * dx (rows, in dim) is overwritten if non-NULL; parameter grads accumulate if param_grads. */
fce_status fce_mlp_backward(const fce_mlp *m, fce_mlp_tape *tp, fce_ctx *ctx, const float *dout,
                            float *dx, int row0, int rows, int param_grads);
static inline const float *fce_mlp_output(const fce_mlp *m, const fce_mlp_tape *tp) {
    return tp->z[m->n_layers - 1];
}

#endif

/* ebm.h: the 2D energy-based model of the paper (Table 4): log p(x) = f(x) − c with
 * f = fc(width) → lReLU(0.2) → fc(width) → lReLU → fc(width) → lReLU → fc(1), and c a learned
 * scalar (an estimate of log Z) in the same parameter arena, trained with the EBM.
 * Init: Glorot-uniform weights, zero biases (Keras defaults, SPEC d); c is set from data by the
 * trainer (SPEC c.3). */
#ifndef FCE_EBM_H
#define FCE_EBM_H

#include "fce/backend.h"
#include "fce/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_ebm_config {
    int dim;    /* input dimension */
    int width;  /* hidden width */
    int hidden; /* hidden layers (3 in the paper) */
} fce_ebm_config;

typedef struct fce_ebm fce_ebm;
typedef struct fce_ebm_tape fce_ebm_tape;

fce_status fce_ebm_init(fce_ebm **e, fce_ctx *ctx, const fce_ebm_config *cfg, uint64_t seed);
void fce_ebm_free(fce_ebm *e);
const fce_param_table *fce_ebm_params(const fce_ebm *e);
fce_ctx *fce_ebm_ctx(fce_ebm *e);
fce_param_arena *fce_ebm_arena(fce_ebm *e);
const fce_ebm_config *fce_ebm_cfg(const fce_ebm *e);
/* Backend pointers to the scalar c and its gradient. */
float *fce_ebm_c(fce_ebm *e);
float *fce_ebm_dc(fce_ebm *e);

fce_status fce_ebm_tape_init(fce_ebm_tape **tp, fce_ebm *e, int cap);
void fce_ebm_tape_free(fce_ebm_tape *tp);

/* f(x) for N rows; the result (N) stays valid until the next forward on this tape. */
fce_status fce_ebm_forward(fce_ebm *e, fce_ebm_tape *tp, const float *x, int N, const float **f);
/* Backward of rows [row0, row0 + rows) of the last forward: df (rows) = ∂L/∂f. dx (rows, dim) is
 * overwritten if non-NULL (the input gradient the flow update needs); parameter gradients
 * accumulate if param_grads. The gradient of c is not touched (nce_loss writes it). */
fce_status fce_ebm_backward(fce_ebm *e, fce_ebm_tape *tp, const float *df, float *dx, int row0,
                            int rows, int param_grads);

#ifdef __cplusplus
}
#endif
#endif

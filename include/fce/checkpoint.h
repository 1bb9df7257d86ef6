/* checkpoint.h: one file holds a 2D run: the flow and the EBM (parameters and optimizer moments)
 * and the training state (counters, whose turn it is, the seed). Data and noise are indexed by the
 * step, so a resumed run draws exactly the batches it would have drawn.
 *
 * Format (all fields little-endian, 8 bytes each, so the header has no padding):
 *   magic "FCE2D\0\0\0", version, endian marker 0x0102030405060708, then the header fields below,
 *   then six blobs of float32: flow params, m, v (flow n_total each), EBM params, m, v.
 * Writes go to "<path>.tmp" and are renamed over <path>: a crash never leaves a half-written file.
 * Loads validate every header field and name the one that differs and the flag that sets it. */
#ifndef FCE_CHECKPOINT_H
#define FCE_CHECKPOINT_H

#include <stdint.h>

#include "fce/ebm.h"
#include "fce/glow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_train_state {
    int64_t step, ebm_updates, flow_updates;
    int64_t ebm_t, flow_t;          /* optimizer step counts (bias correction) */
    int64_t flow_turn;              /* 1 if the next step updates the flow */
    int64_t consecutive;            /* steps in the current turn */
    int64_t seed;
    int64_t mode;                   /* fce_train_mode of the run that wrote it */
    int64_t c_initialized;
    double seconds;                 /* wall time of the run so far */
    char dataset[32];
} fce_train_state;

fce_status fce_checkpoint_save(const char *path, fce_glow *g, fce_ebm *e, const fce_train_state *s);
/* Loads everything; the models must have the architecture of the file. */
fce_status fce_checkpoint_load(const char *path, fce_glow *g, fce_ebm *e, fce_train_state *s);
/* The architecture recorded in a checkpoint's header (integrity and ranges checked), to build
 * matching models before loading (export). The coupling networks' inner actnorm is not recorded:
 * *flow_hash lets the caller tell (the parameter tables differ). */
fce_status fce_checkpoint_peek(const char *path, fce_glow_config *gc, fce_ebm_config *ec,
                               uint64_t *flow_hash, fce_train_state *s);
/* Loads only the flow's parameters (not its optimizer state) from any 2D checkpoint (--init-flow). */
fce_status fce_checkpoint_load_flow(const char *path, fce_glow *g);

#ifdef __cplusplus
}
#endif
#endif

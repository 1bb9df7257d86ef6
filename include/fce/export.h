/* export.h: `fce-gpu export`: a run's trained weights out of fce-gpu's own checkpoint formats
 * into a file other tools read: safetensors (the only format so far).
 *
 * Input: a checkpoint file. An image flow's checkpoint.fce takes its run's ebm.fce along when it is
 * beside it (or --ebm names one); a 2D checkpoint holds both models; an ebm.fce alone exports the
 * EBM. Tensors keep the names of the models' parameter tables (README "Exported weights" lists
 * them): "glow.k<k>.…" (2D flow), "iglow.l<l>.k<k>.…" (image flow), "ebm.…" (either EBM, with
 * "ebm.c" the learned log-normaliser). A parameter declared with one row is a 1-D tensor [cols];
 * every other is 2-D [rows, cols]: dense weights (out, in), conv weights (Cout, KH·KW·Cin) in
 * KH, KW, Cin order (NHWC / KRSC). Optimizer moments are not exported. The metadata records the
 * architecture, the training step and the source file. */
#ifndef FCE_EXPORT_H
#define FCE_EXPORT_H

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_export_config {
    char checkpoint[1024];
    char ebm[1024];    /* image runs: "" = <dir of checkpoint>/ebm.fce when it exists */
    char out[1024];    /* the .safetensors file */
    char format[32];   /* "safetensors" */
} fce_export_config;

void fce_export_config_defaults(fce_export_config *c);
fce_status fce_export_run(const fce_export_config *c);

#ifdef __cplusplus
}
#endif
#endif

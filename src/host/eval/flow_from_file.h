/* flow_from_file.h: what eval, sample and export share: an image flow built from its checkpoint file,
 * on a backend context made on first use (so that sample --compare's second flow shares it), and
 * where the run's EBM file is. */
#ifndef FCE_EVAL_FLOW_FROM_FILE_H
#define FCE_EVAL_FLOW_FROM_FILE_H

#include "fce/backend.h"
#include "fce/iglow.h"
#include "formats/flow_image_file.h"

/* The flow of the checkpoint at path (architecture from its header, parameters from its blobs);
 * *have_ctx = 0 makes ctx on `device` first and sets it to 1. The caller frees *g and ctx. */
fce_status fce_flow_from_file(const char *path, const char *device, fce_ctx *ctx, int *have_ctx,
                              fce_iglow **g, fce_iglow_ckpt_state *s);
/* The EBM file of the image run whose flow is `checkpoint`: `ebm` when given (non-empty), else the
 * ebm.fce beside the checkpoint when it exists, else "" (an MLE run: the flow alone). */
void fce_ebm_path_for(const char *checkpoint, const char *ebm, char *out, size_t n);

#endif

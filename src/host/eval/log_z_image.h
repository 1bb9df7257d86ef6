/* log_z_image.h: `eval`'s estimate of the image EBM's log Z (log_z.h) with the image flow as the
 * proposal: M samples x̃ ~ q at temperature 1 (the flow's own density), drawn in batches, the
 * log-weights f(x̃) − c − log q(x̃). The samples live in the flow's continuous (dequantised) space,
 * the space in which the EBM's bits/dim take f − c as a density, so log Ẑ corrects those bits/dim
 * directly: bpd(c + log Ẑ) = bpd(c) + log Ẑ / (D ln 2).
 *
 * Noise: ε of every level from Philox(seed), level by level within a batch, batch after batch (as
 * `sample` draws it), so the estimate is a function of (checkpoints, M, batch, seed). */
#ifndef FCE_EVAL_LOG_Z_IMAGE_H
#define FCE_EVAL_LOG_Z_IMAGE_H

#include <stdint.h>

#include "ebm/ebm_flow_base.h"
#include "eval/log_z.h"
#include "fce/backend.h"
#include "fce/ebm_image.h"
#include "fce/iglow.h"

/* tp: a flow tape (inference is enough) of B rows; tp_e: an EBM tape of B rows; base: the EBM's
 * flow base for B rows (f = log q₀ + g, ebm/ebm_flow_base.h), or NULL (f = g). M >= 1. The
 * progress line (eval/progress.h) says "log Z" unless quiet. */
fce_status fce_log_z_image(fce_ctx *ctx, fce_iglow *g, fce_iglow_tape *tp, fce_ebm_image *e,
                           fce_ebm_image_tape *tp_e, fce_ebm_flow_base *base, int B, long M, uint64_t seed,
                           int quiet, float progress_every, fce_log_z *out);

#endif

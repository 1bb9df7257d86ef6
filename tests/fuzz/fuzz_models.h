/* fuzz_models.h: the small models the checkpoint harnesses load into and the corpus generator
 * (make_corpus.c) saves, one definition so that the seeds match the harnesses' architecture. */
#ifndef FCE_FUZZ_MODELS_H
#define FCE_FUZZ_MODELS_H

#include "fce/ebm.h"
#include "fce/ebm_image.h"
#include "fce/glow.h"
#include "fce/iglow.h"

/* Sizes: every tensor of an arena is padded to 64 floats, so files grow with the tensor count;
 * these are the smallest models that still take every code path of their readers, keeping the
 * committed seeds and regression inputs well under 1 MB in all. */

/* 2D: a flow of dim 2, K 1, width 4 and an EBM of width 4 with 1 hidden layer. */
fce_status fuzz_models_2d(fce_ctx *ctx, fce_glow **g, fce_ebm **e);
/* The image flow on 4×4×3, K 1, width 2: additive with L 1 (18 KB files), affine with L 2 (the
 * split prior's path; 73 KB). */
fce_iglow_config fuzz_iglow_config(int affine);
/* The image EBM: 8×8×3 at width scale 64 (conv widths 1, 2, 4; 8 KB files). */
fce_ebm_image_config fuzz_ebm_image_config(void);

#endif

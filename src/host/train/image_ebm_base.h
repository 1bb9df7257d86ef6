/* image_ebm_base.h: `train --ebm-base flow|none` for image FCE (train_image_fce.c): what the trainer
 * does with the EBM's flow base (ebm/ebm_flow_base.h) at a fresh start and on --resume, so that its
 * own file only forwards to it. */
#ifndef FCE_TRAIN_IMAGE_EBM_BASE_H
#define FCE_TRAIN_IMAGE_EBM_BASE_H

#include "ebm/ebm_flow_base.h"
#include "fce/ebm_image.h"
#include "fce/iglow.h"
#include "formats/ebm_image_file.h"

/* FCE_EBM_BASE_* of an --ebm-base value ("" is none), or −1 (logged) for another one. */
int fce_image_ebm_base_kind(const char *name);

/* Fresh start with a flow base, after the flow FCE starts from is in place: g's output layer is
 * zeroed (f = log q₀ at the start), q₀ becomes a frozen copy of flow, written to
 * <out_dir>/ebm_base.fce when write_file (rank 0 of a job writes its files: dist/dist.h), whose
 * CRC-32 goes into st (base_kind, base_crc; st's seed, n_bits, batch and dataset describe the run),
 * and b is made for n data + n sample rows. */
fce_status fce_image_ebm_base_start(fce_ebm_flow_base *b, fce_iglow *flow, fce_ebm_image *g,
                                    const char *out_dir, int write_file, int n, fce_image_fce_state *st);
/* --resume of a run whose ebm.fce (ebm_path, state s) has a flow base: q₀ from its ebm_base.fce on
 * ctx, b made for n + n rows. */
fce_status fce_image_ebm_base_resume(fce_ebm_flow_base *b, fce_ctx *ctx, const char *ebm_path,
                                     const fce_image_fce_state *s, int n);

#endif

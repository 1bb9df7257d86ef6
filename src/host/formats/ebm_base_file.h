/* ebm_base_file.h: the frozen flow base q₀ of an image EBM on a flow base (train --ebm-base flow;
 * ebm/ebm_flow_base.h), <run>/ebm_base.fce. It is a flow checkpoint in the image MLE format
 * (flow_image_file.h), so eval, sample and export read it as any flow. FCE writes it once, when it
 * starts (to .tmp, fsynced, renamed), and it never changes; ebm.fce records base_kind
 * FCE_EBM_BASE_FLOW and the base file's CRC-32 (ebm_image_file.h), so a missing base, one from
 * another run or a damaged one is refused with a message naming the file and the fix. */
#ifndef FCE_FORMATS_EBM_BASE_FILE_H
#define FCE_FORMATS_EBM_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"
#include "fce/iglow.h"
#include "formats/ebm_image_file.h"
#include "formats/flow_image_file.h"

#define FCE_EBM_BASE_NAME "ebm_base.fce"

/* "<folder of ebm_path>/ebm_base.fce" into out (n bytes). */
void fce_ebm_base_path(const char *ebm_path, char *out, size_t n);
/* q₀ with state s into path, atomically; *crc receives the written file's CRC-32. */
fce_status fce_ebm_base_file_write(const char *path, fce_iglow *base, const fce_iglow_ckpt_state *s,
                                   uint32_t *crc);
/* The base of the EBM file ebm_path, whose header state is s (base_kind FCE_EBM_BASE_FLOW): the
 * flow of the ebm_base.fce beside it, built on ctx, once its CRC-32 is the one s records. */
fce_status fce_ebm_base_file_load(const char *ebm_path, const fce_image_fce_state *s, fce_ctx *ctx,
                                  fce_iglow **base);

#endif

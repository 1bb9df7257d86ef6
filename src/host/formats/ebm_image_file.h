/* ebm_image_file.h: the image EBM's file, <run>/ebm.fce, written by image FCE training beside the
 * flow's checkpoint.fce and read by --resume, eval (the EBM's bits/dim) and probe.
 *
 * Format (8-byte fields, no padding): magic "FCEEBMI\0", version 3, H, W, C, n_total, the
 * parameter-table hash, the run state below, then three float32 blobs of n_total each: params
 * (c included), Adam m, Adam v, and the integrity trailer (formats/ckpt_io.h). Version 2 files
 * (the state without base_kind and base_crc) are still read, as EBMs without a base. */
#ifndef FCE_FORMATS_EBM_IMAGE_FILE_H
#define FCE_FORMATS_EBM_IMAGE_FILE_H

#include <stdint.h>

#include "fce/backend.h"
#include "fce/ebm_image.h"

/* The EBM's base (train --ebm-base): none, the paper's f = g; or a frozen flow, f = log q₀ + g
 * (ebm/ebm_flow_base.h), with q₀ in ebm_base.fce beside ebm.fce (formats/ebm_base_file.h). */
enum { FCE_EBM_BASE_NONE = 0, FCE_EBM_BASE_FLOW = 1 };

/* The image FCE run's counters, stored in ebm.fce (its layout is part of the file format; the
 * last two fields are version 3's). */
typedef struct fce_image_fce_state {
    int64_t step, ebm_updates, flow_updates, flow_turn, consecutive;
    int64_t seed, n_bits, batch, width_scale;
    double seconds;
    char dataset[32];
    int64_t base_kind; /* FCE_EBM_BASE_* */
    uint64_t base_crc; /* with a flow base: the CRC-32 of ebm_base.fce's content (its trailer's); else 0 */
} fce_image_fce_state;

/* e and its Adam moments with state s into "<path>.tmp"; fce_ckpt_commit(path) (ckpt_io.h) renames
 * it into place, together with the flow's file. */
fce_status fce_ebm_image_file_write_tmp(const char *path, fce_ctx *ctx, fce_ebm_image *e,
                                        const fce_image_fce_state *s);
/* --resume: parameters, moments and state into e, whose architecture must be the file's. */
fce_status fce_ebm_image_file_read(const char *path, fce_ctx *ctx, fce_ebm_image *e,
                                   fce_image_fce_state *s);
/* A saved ebm.fce as a fresh EBM on ctx: its shape and width scale from the header, the
 * parameters (incl. c) from the file; the Adam moments are not read (eval, probe). */
fce_status fce_ebm_image_load_file(const char *path, fce_ctx *ctx, fce_ebm_image **e);
/* The --n-bits of the run that wrote the file (its inputs' quantisation); the header only. A file
 * that is not an image EBM file is FCE_STATUS_ERR_FORMAT, with a message naming it. */
fce_status fce_ebm_image_file_n_bits(const char *path, int *n_bits);
/* The run state of the file's header (its base among it), the header only, checked as above. */
fce_status fce_ebm_image_file_state(const char *path, fce_image_fce_state *s);

#endif

/* ebm_image_file.h: the image EBM's file, <run>/ebm.fce, written by image FCE training beside the
 * flow's checkpoint.fce and read by --resume, eval (the EBM's bits/dim) and probe.
 *
 * Format (8-byte fields, no padding): magic "FCEEBMI\0", version 2, H, W, C, n_total, the
 * parameter-table hash, the run state below, then three float32 blobs of n_total each: params
 * (c included), Adam m, Adam v, and the integrity trailer (formats/ckpt_io.h). */
#ifndef FCE_FORMATS_EBM_IMAGE_FILE_H
#define FCE_FORMATS_EBM_IMAGE_FILE_H

#include <stdint.h>

#include "fce/backend.h"
#include "fce/ebm_image.h"

/* The image FCE run's counters, stored in ebm.fce (its layout is part of the file format). */
typedef struct fce_image_fce_state {
    int64_t step, ebm_updates, flow_updates, flow_turn, consecutive;
    int64_t seed, n_bits, batch, width_scale;
    double seconds;
    char dataset[32];
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

#endif

/* flow_image_file.h: one file holds an image MLE run: the flow config, the parameter-table hash,
 * the parameters and Adamax moments, and the training state (step, seed, n_bits, batch).
 *
 * Format (8-byte little-endian fields, no padding): magic "FCEIMG\0\0", version, endian marker,
 * the header below, then three float32 blobs of n_total each: params, m, v, then the integrity
 * trailer (ckpt_io.h).
 * Writes go to "<path>.tmp" then rename(): a crash never leaves a half-written file. */
#ifndef FCE_FORMATS_FLOW_IMAGE_FILE_H
#define FCE_FORMATS_FLOW_IMAGE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fce/iglow.h"

typedef struct fce_iglow_ckpt_state {
    int64_t step;     /* completed steps (= Adamax t) */
    int64_t seed;
    int64_t n_bits;
    int64_t batch;
    double seconds;   /* wall time so far */
    char dataset[32];
} fce_iglow_ckpt_state;

fce_status fce_iglow_ckpt_save(const char *path, fce_iglow *g, const fce_iglow_ckpt_state *s);
/* The same into "<path>.tmp" only; fce_ckpt_commit(path) (ckpt_io.h) renames it into place. */
fce_status fce_iglow_ckpt_save_tmp(const char *path, fce_iglow *g, const fce_iglow_ckpt_state *s);
/* Reads the header only: the flow config and state (to build the model before loading). */
fce_status fce_iglow_ckpt_peek(const char *path, fce_iglow_config *cfg, fce_iglow_ckpt_state *s);
/* Loads params (and the moments when with_moments) into g, whose architecture must match the file
 * (the differing field is named); refreshes g. */
fce_status fce_iglow_ckpt_load(const char *path, fce_iglow *g, int with_moments,
                               fce_iglow_ckpt_state *s);
/* Bytes before the blobs (tests compare the blobs). */
size_t fce_iglow_ckpt_header_size(void);

#endif

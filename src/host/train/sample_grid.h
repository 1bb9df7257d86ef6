/* sample_grid.h: the sample grids of image training (`train --sample-every N`): every N steps the
 * flow being trained draws SAMPLE_GRID_N pictures at temperature 1 from the same fixed noise (stream
 * seed, drawn once), so the grids of one run show the same latents as training goes on, and writes
 * them as <out>/samples_<step>.png: ceil(sqrt(n)) columns with 1-pixel black gaps, as `sample`.
 *
 * The pictures come from an inverse pass on an inference tape of their own and the noise from its
 * own Philox stream, so a run with grids trains exactly as one without. Everything is allocated at
 * init. */
#ifndef FCE_TRAIN_SAMPLE_GRID_H
#define FCE_TRAIN_SAMPLE_GRID_H

#include <stdint.h>

#include "fce/backend.h"
#include "fce/iglow.h"

#define SAMPLE_GRID_N 64
#define SAMPLE_GRID_MAX_LEVELS 16

typedef struct fce_sample_grid {
    fce_ctx *ctx;
    fce_iglow *g;
    fce_iglow_tape *tp;
    float *d_eps[SAMPLE_GRID_MAX_LEVELS];
    uint8_t *d_u8, *h_u8, *rgb;
    int n, n_bits, cols, rows, gw, gh;
} fce_sample_grid;

/* For the flow g (RGB pictures: C = 3; a flow of another C is refused with FCE_STATUS_ERR_CONFIG). */
fce_status fce_sample_grid_init(fce_sample_grid *s, fce_ctx *ctx, fce_iglow *g, int n_bits, uint64_t seed);
/* Samples the flow as it is now and writes <out_dir>/samples_<step>.png. */
fce_status fce_sample_grid_write(fce_sample_grid *s, const char *out_dir, int64_t step);
void fce_sample_grid_free(fce_sample_grid *s); /* of a zeroed or initialised s */

#endif

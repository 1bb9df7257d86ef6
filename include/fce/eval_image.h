/* eval_image.h: the image flow's (and EBM's) test-split bits/dim (`fce-gpu eval`) and sampling
 * (`fce-gpu sample`: a grid, two flows side by side, or numbered PNGs and an .npz for FID).
 * Both read the files training writes (formats/): checkpoint.fce and, for the EBM, ebm.fce.
 * Both print a progress line (pictures done, img/s, ETA) on stderr every progress_every seconds of
 * batched work unless quiet. */
#ifndef FCE_EVAL_IMAGE_H
#define FCE_EVAL_IMAGE_H

#include <stdint.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_image_eval_config {
    char checkpoint[1024];
    char dataset[32];
    char data_dir[1024];
    int batch;
    uint64_t seed; /* dequantisation noise */
    char device[32];
    char out_dir[1024]; /* "": JSON to stdout */
    char ebm[1024];     /* ebm.fce for "bpd_ebm" ("": <dir of checkpoint>/ebm.fce when it exists) */
    int quiet;            /* no progress lines */
    float progress_every; /* seconds between progress lines (5; 0: after every batch) */
    long z_samples;       /* flow samples for the EBM's log Ẑ (eval/log_z_image.h; 1024; 0: none) */
} fce_image_eval_config;

typedef struct fce_image_sample_config {
    char checkpoint[1024];
    int n;
    float temperature;
    char grid[1024];
    uint64_t seed;
    char device[32];
    /* --out-dir: batched sampling into numbered PNGs <out_dir>/000000.png ... (no grid). A folder
     * that already holds pictures is refused (FID would score old and new samples together) unless
     * force, which first removes the numbered pictures (NNNNNN.png / .ppm) an earlier run wrote;
     * pictures of other names are never removed, and refused even with force. */
    char out_dir[1024];
    int batch;      /* pictures per batch with --out-dir (500, capped by n) */
    char npz[1024]; /* with --out-dir: also one uncompressed .npz, key arr_0: uint8 (n, H, W, C) */
    int force;
    int quiet;            /* no progress lines */
    float progress_every; /* with --out-dir: seconds between progress lines (5; 0: every batch) */
    /* --compare C2: the grid shows C's samples (left) and C2's (right) from the same noise ε (the
     * paper's Figures 3, 5, 6: MLE flow beside FCE flow); both flows need the same H, W, C and L. */
    char compare[1024];
} fce_image_sample_config;

void fce_image_eval_config_defaults(fce_image_eval_config *c);
void fce_image_sample_config_defaults(fce_image_sample_config *c);

/* bpd_out (may be NULL) receives the test-split bits/dim. */
fce_status fce_image_eval_run(const fce_image_eval_config *cfg, double *bpd_out);
fce_status fce_image_sample_run(const fce_image_sample_config *cfg);

#ifdef __cplusplus
}
#endif
#endif

/* train_image.h: the image commands (issue 3): MLE training of the multi-scale Glow (iglow.h) with
 * bits/dim, test-split evaluation and sampling at a temperature.
 *
 * Data (SPEC §1): uint8 HWC pictures from dataset.h; per step a batch is gathered on the host in a
 * seeded per-epoch shuffle order (fce_image_set_shuffle_order), uploaded and dequantised on the
 * device with Philox noise at offset step·batch·D, so batch order and noise are functions of
 * (seed, step) and --resume continues exactly. bits/dim = (−log q + D·ln n_bins)/(D·ln 2).
 * --data-dir may also name one file (a CIFAR-10 batch file of any length, or an SVHN MAT-file):
 * it is then read alone (subsets and tests). */
#ifndef FCE_TRAIN_IMAGE_H
#define FCE_TRAIN_IMAGE_H

#include <stdint.h>

#include "fce/status.h"
#include "fce/train_image_config.h" /* fce_image_train_config */

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
} fce_image_eval_config;

typedef struct fce_image_sample_config {
    char checkpoint[1024];
    int n;
    float temperature;
    char grid[1024];
    uint64_t seed;
    char device[32];
    /* --out-dir: batched sampling into numbered PNGs <out_dir>/000000.png ... (no grid) */
    char out_dir[1024];
    int batch;      /* pictures per batch with --out-dir (500, capped by n) */
    char npz[1024]; /* with --out-dir: also one uncompressed .npz holding x.npy uint8 (n, H, W, C) */
    /* --compare C2: the grid shows C's samples (left) and C2's (right) from the same noise ε (the
     * paper's Figures 3, 5, 6: MLE flow beside FCE flow); both flows need the same H, W, C and L. */
    char compare[1024];
} fce_image_sample_config;

void fce_image_eval_config_defaults(fce_image_eval_config *c);
void fce_image_sample_config_defaults(fce_image_sample_config *c);

/* Each returns FCE_STATUS_ERR_CONFIG for a bad configuration (exit 2), another error otherwise. */
/* `train` for images: --mode mle, --mode fce, or (fce without --init-flow) the pipeline of both. */
fce_status fce_image_train_run(const fce_image_train_config *cfg);
/* --mode mle alone (train_image.c). */
fce_status fce_image_train_mle_run(const fce_image_train_config *cfg);
/* --mode fce alone (train_image_fce.c). --steps counts FCE steps of either player. */
fce_status fce_image_train_fce_run(const fce_image_train_config *cfg);
/* bpd_out (may be NULL) receives the test-split bits/dim. */
fce_status fce_image_eval_run(const fce_image_eval_config *cfg, double *bpd_out);
fce_status fce_image_sample_run(const fce_image_sample_config *cfg);

#ifdef __cplusplus
}
#endif
#endif

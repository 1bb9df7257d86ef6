/* probe.h: `fce-gpu probe`, the linear-probe experiment of the paper (Gao et al. 2020, Figure 4):
 * test accuracy against the number of labelled training images, for three classifiers:
 *
 *  - fce:        a linear softmax classifier on the top-layer features of the EBM trained by FCE;
 *  - random:     the same classifier on the features of a frozen, randomly initialised EBM of the
 *                same architecture (fce_ebm_image_init with --seed);
 *  - supervised: the EBM's architecture with 10 outputs (ebm_image.h n_out), trained end to end.
 *
 * Features: the output of the third lReLU, (N, H/8, W/8, 256), i.e. 4×4×256 = 4096 values per
 * 32×32 picture. The paper says "top layer feature maps"; SPEC d reads this as the last hidden
 * layer ([I]), and so do we. The last conv (a 4096 → 1 map) would give one number.
 * Labelled set of budget k: the first k positions of a seeded shuffle of the training split
 * (fce_image_set_shuffle_order(n, seed_order, 0)), so the budgets are nested; class balance is not
 * enforced. Evaluation: accuracy on the test split (its first --test-n pictures; default all).
 * The full method, defaults and outputs are in probe.c's header and `fce-gpu probe --help`. */
#ifndef FCE_PROBE_H
#define FCE_PROBE_H

#include <stdint.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_probe_config {
    char checkpoint[1024]; /* ebm.fce of an image FCE run, or the run folder holding it */
    char dataset[32];      /* cifar10 | svhn (labelled) */
    char data_dir[1024];   /* the training split: the dataset's folder or one file */
    char test_data[1024];  /* the test split ("": data_dir's test split) */
    char labels[256];      /* comma-separated budgets k, e.g. "1000,2000,4000" */
    char methods[64];      /* comma-separated subset of fce,random,supervised */
    char out_dir[1024];
    char device[32];
    uint64_t seed;         /* label subset, init of the random EBM and the classifiers, noise */
    int batch;             /* minibatch of both trainers */
    int epochs;            /* linear probe epochs */
    long max_steps;        /* cap on linear probe steps (0: none) */
    float lr, wd;          /* linear probe Adam rate; decoupled weight decay on W (0: none) */
    int sup_epochs;        /* supervised epochs */
    long sup_max_steps;    /* cap on supervised steps (0: none) */
    float sup_lr;          /* supervised Adam rate */
    int test_n;            /* test pictures used (0: all) */
    int feature_batch;     /* pictures per EBM pass when extracting features */
    int quiet;
} fce_probe_config;

void fce_probe_config_defaults(fce_probe_config *c);

/* Runs the experiment and writes <out>/probe.json, metrics.jsonl and probe.png. Returns
 * FCE_STATUS_ERR_CONFIG for a usage error (message names the flag), other errors for runtime
 * failures (unlabelled data, a checkpoint that is not an EBM file, I/O, divergence). */
fce_status fce_probe_run(const fce_probe_config *c);

#ifdef __cplusplus
}
#endif
#endif

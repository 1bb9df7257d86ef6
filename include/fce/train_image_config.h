/* train_image_config.h: the configuration of an image training run (`train --dataset
 * cifar10|svhn|folder`, train_image.h), its defaults, the image dataset names, the --preset
 * architectures and the checks of the options both modes take (train/train_image_config.c). */
#ifndef FCE_TRAIN_IMAGE_CONFIG_H
#define FCE_TRAIN_IMAGE_CONFIG_H

#include <stdint.h>

#include "fce/dataset.h"
#include "fce/iglow.h"
#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fce_dist;

typedef struct fce_image_train_config {
    char dataset[32];   /* cifar10 | svhn | folder */
    char data_dir[1024];
    char mode[16];      /* fce (default: the paper's pipeline, see pretrain_steps) | mle */
    char preset[16];    /* cifar10 | svhn | tiny */
    int L, K, width;    /* 0: from the preset */
    int affine;         /* 1: affine coupling; 0: the preset's (additive) */
    int batch;
    long steps;
    float lr;
    long warmup_steps;  /* linear warm-up length; -1: 10 epochs (SPEC c.4), at most steps/10 (README) */
    float beta1, beta2, adam_eps; /* both optimizers, Adamax (flow) and Adam (EBM): 0.9, 0.999, 1e-7 */
    int n_bits;
    uint64_t seed;
    char device[32];
    char out_dir[1024];
    int log_every, checkpoint_every;
    int resume, quiet;
    int force;          /* start over in a folder that holds a run (train/run_folder.h) */
    long sample_every;  /* steps per sample grid <out>/samples_<step>.png (0: none) */
    float time_limit;   /* seconds of training in this invocation, then checkpoint and stop (0: none) */
    /* --mode fce only (train_image_fce.c) */
    char init_flow[1024]; /* MLE image checkpoint the flow starts from ("": pretrain, see below) */
    /* fce without --init-flow runs the paper's pipeline: MLE pretraining of the flow for this many
     * steps into <out>/mle (--lr, --warmup-steps), then FCE from it into <out>; 0: FCE from a random
     * flow. --resume continues whichever stage is unfinished. */
    long pretrain_steps;
    float lr_ebm;         /* Adam, EBM and c (1e-3) */
    float lr_c;           /* Adam rate of c alone (0: lr_ebm, the paper's; SPEC c.3 suggests higher) */
    float lr_flow;        /* Adamax, flow (1e-5, the paper's for images) */
    float threshold;      /* the flow plays while acc > threshold (0.5) */
    int max_mode_steps;   /* cap on consecutive steps of one player (0: none, the images default) */
    int ebm_width_scale;  /* test-only EBM width reduction (ebm_image.h); 0: the paper's widths */
    char ebm_base[16];    /* none (the paper's f = g) | flow (f = log q₀ + g, ebm/ebm_flow_base.h) */
    struct fce_dist *dist; /* not an option: the mpirun job it runs in (dist/dist.h), NULL alone */
} fce_image_train_config;

void fce_image_train_config_defaults(fce_image_train_config *c);

/* Is name one of the image datasets (cifar10, svhn, folder)? */
int fce_is_image_dataset(const char *name);

/* The --preset architecture for pictures of the set's shape, with --L/--K/--width/--affine. */
fce_iglow_config fce_image_preset(const fce_image_train_config *c, const fce_image_set *s);

/* Fills the defaults that depend on other options (--preset: the dataset's own, tiny for a folder;
 * --out: runs/<dataset>-<mode>), then checks the options both modes take. A bad option is logged
 * and FCE_STATUS_ERR_CONFIG. */
fce_status fce_image_train_config_check(fce_image_train_config *c, const char *mode);

#ifdef __cplusplus
}
#endif
#endif

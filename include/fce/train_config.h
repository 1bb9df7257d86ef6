/* train_config.h: the 2D training run's configuration (`fce-gpu train` on a 2D dataset): every
 * option with its default (fce_train_config_defaults) and the modes. Its own header, so that the
 * 2D trainer's parts (the FCE game's optimizer settings, the report) depend on the configuration
 * and not on the trainer (train.h). */
#ifndef FCE_TRAIN_CONFIG_H
#define FCE_TRAIN_CONFIG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fce_dist;

typedef enum fce_train_mode { FCE_MODE_FCE = 0, FCE_MODE_MLE = 1, FCE_MODE_NCE = 2 } fce_train_mode;
typedef enum fce_flow_optim { FCE_OPTIM_ADAMAX = 0, FCE_OPTIM_ADAM = 1 } fce_flow_optim;

typedef struct fce_train_config {
    char dataset[32];
    fce_train_mode mode;
    char device[32];          /* auto | cpu | N */
    char out_dir[512];        /* empty: runs/<dataset>-<mode> */
    char init_flow[512];      /* checkpoint whose flow starts the run (empty: random init) */
    int resume;               /* continue from out_dir/checkpoint.fce */
    int force;                /* start over in a folder that holds a run (train/run_folder.h) */
    long steps;               /* EBM updates (fce, nce) or flow updates (mle): paper Figure 2's x-axis */
    long max_total_steps;     /* safety stop on EBM + flow steps (0: 50 × steps) */
    uint64_t seed;
    int log_every;
    int checkpoint_every;     /* 0: only at the end */
    int batch;                /* n data + n samples per step */
    float lr_ebm, lr_flow;
    float lr_final_frac;      /* cosine decay of both learning rates to this fraction at --steps */
    fce_flow_optim flow_optim;
    float beta1, beta2, adam_eps;
    float threshold;          /* EBM while acc <= threshold, flow while acc > threshold */
    int max_mode_steps;       /* cap on consecutive steps of one player (0: none) */
    int flow_K, flow_width;
    int flow_nn_actnorm;      /* actnorm inside the coupling networks */
    int ebm_width, ebm_hidden;
    int init_batch;           /* actnorm data-dependent init and c init */
    int eval_points;          /* points from p_true for the log-density MSE */
    int image_res;            /* density.png panel size */
    int quiet;                /* no progress lines */
    struct fce_dist *dist;    /* not an option: the mpirun job it runs in (dist/dist.h), NULL alone */
} fce_train_config;

void fce_train_config_defaults(fce_train_config *cfg);
const char *fce_train_mode_name(fce_train_mode m);

#ifdef __cplusplus
}
#endif
#endif

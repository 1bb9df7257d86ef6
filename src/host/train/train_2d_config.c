/* train_2d_config.c: the 2D training run's defaults and mode names (fce/train_config.h). The
 * defaults that differ from the paper say why; README "Decisions" has the measurements. */
#include "fce/train_config.h"

#include <stdio.h>
#include <string.h>

static const fce_train_config DEFAULTS = {
    .dataset = "gmm8",
    .mode = FCE_MODE_FCE,
    .device = "auto",
    .steps = 2700, /* EBM updates (paper Figure 2's x-axis); about 8000 steps in all */
    .seed = 1,
    .log_every = 200,
    .checkpoint_every = 2000,
    .batch = 200,
    .lr_ebm = 1e-3f,
    .lr_flow = 1e-3f,       /* the paper's 1e-5 does not move a random 2D flow; README "Decisions" */
    .lr_final_frac = 0.1f,  /* cosine decay; the paper gives no schedule: README "Decisions" */
    .flow_optim = FCE_OPTIM_ADAMAX,
    .beta1 = 0.9f,
    .beta2 = 0.999f,
    .adam_eps = 1e-7f,      /* Keras default (the paper's code is TF2) */
    .threshold = 0.5f,
    .max_mode_steps = 2,    /* without a cap the flow takes ~90% of the 2D steps: README */
    .flow_K = 10,
    .flow_width = 128,
    .ebm_width = 128,
    .ebm_hidden = 3,
    .init_batch = 1000,
    .eval_points = 10000,
    .image_res = 160,
};

void fce_train_config_defaults(fce_train_config *c) { *c = DEFAULTS; }

const char *fce_train_mode_name(fce_train_mode m) {
    switch (m) {
    case FCE_MODE_FCE: return "fce";
    case FCE_MODE_MLE: return "mle";
    case FCE_MODE_NCE: return "nce";
    }
    return "?";
}

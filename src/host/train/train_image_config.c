/* train_image_config.c: the image training run's configuration (fce/train_image_config.h): defaults,
 * dataset names, presets and the checks of the options both modes take. */
#include "fce/train_image_config.h"

#include <stdio.h>
#include <string.h>

#include "fce/log.h"

static const fce_image_train_config DEFAULTS = {
    .dataset = "cifar10",
    .mode = "fce",
    .device = "auto",
    .batch = 64,
    .steps = 100000,
    .pretrain_steps = 100000,
    .lr = 1e-3f,
    .warmup_steps = -1,
    .beta1 = 0.9f,
    .beta2 = 0.999f,
    .adam_eps = 1e-7f, /* Keras default (the paper's code is TF2) */
    .n_bits = 8,
    .seed = 1,
    .log_every = 100,
    .checkpoint_every = 1000,
    .lr_ebm = 1e-3f,
    .lr_flow = 1e-5f,
    .threshold = 0.5f,
    .ebm_base = "none",
};

void fce_image_train_config_defaults(fce_image_train_config *c) { *c = DEFAULTS; }

int fce_is_image_dataset(const char *name) {
    return !strcmp(name, "cifar10") || !strcmp(name, "svhn") || !strcmp(name, "folder");
}

fce_iglow_config fce_image_preset(const fce_image_train_config *c, const fce_image_set *s) {
    fce_iglow_config g = {s->H, s->W, s->C, 3, 32, 512, 0}; /* cifar10: SPEC e */
    if (!strcmp(c->preset, "svhn")) g.K = 8;
    else if (!strcmp(c->preset, "tiny")) g.L = 2, g.K = 2, g.width = 16;
    if (c->L) g.L = c->L;
    if (c->K) g.K = c->K;
    if (c->width) g.width = c->width;
    if (c->affine) g.affine = 1;
    return g;
}

static const char *shared_option_error(const fce_image_train_config *c) {
    if (!fce_is_image_dataset(c->dataset)) return "--dataset: not one of cifar10, svhn, folder";
    if (!c->data_dir[0]) return "--data-dir is required";
    if (c->steps < 1) return "--steps must be >= 1";
    if (c->batch < 1 || c->batch > 100000) return "--batch must be in 1..100000";
    if (c->L < 0 || c->K < 0 || c->width < 0) return "--L, --K, --width must be >= 1";
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        return "the optimizers' beta1 and beta2 must be in [0, 1)";
    if (!(c->adam_eps > 0)) return "the optimizers' epsilon must be > 0";
    if (c->n_bits < 1 || c->n_bits > 8) return "--n-bits must be in 1..8";
    if (c->log_every < 1) return "--log-every must be >= 1";
    if (c->checkpoint_every < 0) return "--checkpoint-every must be >= 0";
    if (c->sample_every < 0) return "--sample-every must be >= 0 (0: no sample grids)";
    return NULL;
}

fce_status fce_image_train_config_check(fce_image_train_config *c, const char *mode) {
    if (!c->preset[0])
        snprintf(c->preset, sizeof c->preset, "%.15s", strcmp(c->dataset, "folder") ? c->dataset : "tiny");
    if (!c->out_dir[0]) snprintf(c->out_dir, sizeof c->out_dir, "runs/%s-%s", c->dataset, mode);
    if (strcmp(c->preset, "cifar10") && strcmp(c->preset, "svhn") && strcmp(c->preset, "tiny")) {
        fce_log_error("--preset: '%s' is not one of cifar10, svhn, tiny", c->preset);
        return FCE_STATUS_ERR_CONFIG;
    }
    const char *bad = shared_option_error(c);
    if (bad) {
        fce_log_error("%s", bad);
        return FCE_STATUS_ERR_CONFIG;
    }
    return FCE_STATUS_OK;
}

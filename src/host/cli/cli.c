/* cli.c: subcommands (train, eval, sample, probe, info, help) and the table-driven long-option parser (cli.h).
 * Unknown options, missing values, malformed numbers and out-of-range enums are usage errors
 * (exit 2) with a message naming the option; numbers are read with strtol/strtod and must be
 * consumed whole. */
#include "cli/cli.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce/data2d.h"
#include "fce/log.h"
#include "fce/probe.h"
#include "fce/train.h"
#include "fce/eval_image.h"
#include "fce/train_image.h"

typedef enum opt_type { OPT_INT, OPT_LONG, OPT_U64, OPT_FLOAT, OPT_STR, OPT_FLAG, OPT_MODE, OPT_OPTIM } opt_type;

typedef struct opt_def {
    const char *name;
    opt_type type;
    size_t offset;
    size_t size; /* for strings */
    const char *help;
} opt_def;

#define F(field) offsetof(fce_train_config, field)
#define S(field) sizeof(((fce_train_config *)0)->field)
static const opt_def train_opts[] = {
    {"dataset", OPT_STR, F(dataset), S(dataset),
     "gmm8 | gmm25 | pinwheel | spiral | 2spirals | rings | checkerboard | moons"},
    {"mode", OPT_MODE, F(mode), 0, "fce (joint) | mle (flow alone) | nce (EBM vs a Gaussian)"},
    {"device", OPT_STR, F(device), S(device), "auto | cpu | N (GPU ordinal)"},
    {"steps", OPT_LONG, F(steps), 0, "EBM updates (fce, nce) or flow updates (mle)"},
    {"max-total-steps", OPT_LONG, F(max_total_steps), 0, "safety stop on EBM + flow steps (0: 50 x --steps)"},
    {"seed", OPT_U64, F(seed), 0, "seed of every random stream (data, noise, init)"},
    {"out", OPT_STR, F(out_dir), S(out_dir), "run folder (default runs/<dataset>-<mode>)"},
    {"log-every", OPT_INT, F(log_every), 0, "EBM (mle: flow) updates per progress line / metrics.jsonl row"},
    {"checkpoint-every", OPT_INT, F(checkpoint_every), 0, "EBM (mle: flow) updates per checkpoint (0: only at the end)"},
    {"resume", OPT_FLAG, F(resume), 0, "continue from <out>/checkpoint.fce"},
    {"init-flow", OPT_STR, F(init_flow), S(init_flow), "start the flow from this checkpoint (e.g. an mle run)"},
    {"batch", OPT_INT, F(batch), 0, "n data points and n flow samples per step"},
    {"lr-ebm", OPT_FLOAT, F(lr_ebm), 0, "Adam learning rate of the EBM and c"},
    {"lr-flow", OPT_FLOAT, F(lr_flow), 0, "learning rate of the flow (paper: 1e-5; see README)"},
    {"lr-final-frac", OPT_FLOAT, F(lr_final_frac), 0, "cosine decay of both learning rates to this fraction (1: constant)"},
    {"flow-optim", OPT_OPTIM, F(flow_optim), 0, "adamax | adam"},
    {"beta1", OPT_FLOAT, F(beta1), 0, "optimizer beta1"},
    {"beta2", OPT_FLOAT, F(beta2), 0, "optimizer beta2"},
    {"adam-eps", OPT_FLOAT, F(adam_eps), 0, "optimizer epsilon (Keras default)"},
    {"threshold", OPT_FLOAT, F(threshold), 0, "accuracy above which the flow plays"},
    {"max-mode-steps", OPT_INT, F(max_mode_steps), 0, "cap on consecutive steps of one player (0: none)"},
    {"flow-K", OPT_INT, F(flow_K), 0, "flow steps"},
    {"flow-width", OPT_INT, F(flow_width), 0, "coupling network width"},
    {"flow-nn-actnorm", OPT_FLAG, F(flow_nn_actnorm), 0, "actnorm after each hidden layer of the coupling networks"},
    {"ebm-width", OPT_INT, F(ebm_width), 0, "EBM hidden width"},
    {"ebm-hidden", OPT_INT, F(ebm_hidden), 0, "EBM hidden layers"},
    {"init-batch", OPT_INT, F(init_batch), 0, "points for actnorm's data-dependent init and for c"},
    {"eval-points", OPT_INT, F(eval_points), 0, "points from p_true for the log-density MSE"},
    {"image-res", OPT_INT, F(image_res), 0, "density.png panel size in pixels"},
    {"quiet", OPT_FLAG, F(quiet), 0, "no progress lines"},
};
#undef F
#undef S
#define N_TRAIN_OPTS (sizeof train_opts / sizeof train_opts[0])

/* The image commands (train_image.h): `train --dataset cifar10|svhn|folder`, eval, sample. */
#define F(field) offsetof(fce_image_train_config, field)
#define S(field) sizeof(((fce_image_train_config *)0)->field)
static const opt_def image_train_opts[] = {
    {"dataset", OPT_STR, F(dataset), S(dataset), "cifar10 | svhn | folder"},
    {"data-dir", OPT_STR, F(data_dir), S(data_dir), "the dataset's folder (or one CIFAR-10 batch / SVHN .mat file)"},
    {"mode", OPT_STR, F(mode), S(mode), "fce (the paper's pipeline: MLE pretraining, then joint EBM + flow) | mle (the flow alone)"},
    {"preset", OPT_STR, F(preset), S(preset), "cifar10 (L3 K32 W512) | svhn (L3 K8 W512) | tiny (L2 K2 W16); default: the dataset's"},
    {"L", OPT_INT, F(L), 0, "levels (0: the preset's)"},
    {"K", OPT_INT, F(K), 0, "steps per level (0: the preset's)"},
    {"width", OPT_INT, F(width), 0, "coupling network width (0: the preset's)"},
    {"affine", OPT_FLAG, F(affine), 0, "affine coupling instead of additive"},
    {"batch", OPT_INT, F(batch), 0, "pictures per step"},
    {"steps", OPT_LONG, F(steps), 0, "training steps"},
    {"lr", OPT_FLOAT, F(lr), 0, "Adamax learning rate"},
    {"warmup-steps", OPT_LONG, F(warmup_steps), 0, "linear warm-up of the learning rate (-1: 10 epochs)"},
    {"n-bits", OPT_INT, F(n_bits), 0, "bits per colour value (1..8)"},
    {"seed", OPT_U64, F(seed), 0, "seed of every random stream (order, noise, init)"},
    {"device", OPT_STR, F(device), S(device), "auto | cpu | N (GPU ordinal)"},
    {"out", OPT_STR, F(out_dir), S(out_dir), "run folder (default runs/<dataset>-mle)"},
    {"log-every", OPT_INT, F(log_every), 0, "steps per progress line / metrics.jsonl row"},
    {"checkpoint-every", OPT_INT, F(checkpoint_every), 0, "steps per checkpoint (0: only at the end)"},
    {"time-limit", OPT_FLOAT, F(time_limit), 0, "seconds: stop cleanly (checkpoint, exit 0) after this long; --resume goes on (0: none)"},
    {"resume", OPT_FLAG, F(resume), 0, "continue from <out>/checkpoint.fce"},
    {"quiet", OPT_FLAG, F(quiet), 0, "no progress lines"},
    {"init-flow", OPT_STR, F(init_flow), S(init_flow), "fce: start the flow from this image MLE checkpoint (skips pretraining)"},
    {"pretrain-steps", OPT_LONG, F(pretrain_steps), 0, "fce without --init-flow: MLE steps into <out>/mle first (0: FCE from a random flow)"},
    {"lr-ebm", OPT_FLOAT, F(lr_ebm), 0, "fce: Adam learning rate of the EBM and c"},
    {"lr-c", OPT_FLOAT, F(lr_c), 0, "fce: Adam learning rate of c alone (0: --lr-ebm, the paper's)"},
    {"lr-flow", OPT_FLOAT, F(lr_flow), 0, "fce: Adamax learning rate of the flow"},
    {"threshold", OPT_FLOAT, F(threshold), 0, "fce: accuracy above which the flow plays"},
    {"max-mode-steps", OPT_INT, F(max_mode_steps), 0, "fce: cap on consecutive steps of one player (0: none)"},
    {"ebm-width-scale", OPT_INT, F(ebm_width_scale), 0, "fce: EBM widths 64/s,128/s,256/s (0: the paper's; tests)"},
};
#undef F
#undef S
#define F(field) offsetof(fce_image_eval_config, field)
#define S(field) sizeof(((fce_image_eval_config *)0)->field)
static const opt_def eval_opts[] = {
    {"checkpoint", OPT_STR, F(checkpoint), S(checkpoint), "image checkpoint (train --dataset cifar10|svhn|folder)"},
    {"dataset", OPT_STR, F(dataset), S(dataset), "cifar10 | svhn | folder"},
    {"data-dir", OPT_STR, F(data_dir), S(data_dir), "the dataset's folder (test split) or one file"},
    {"batch", OPT_INT, F(batch), 0, "pictures per pass"},
    {"seed", OPT_U64, F(seed), 0, "seed of the dequantisation noise"},
    {"device", OPT_STR, F(device), S(device), "auto | cpu | N (GPU ordinal)"},
    {"out", OPT_STR, F(out_dir), S(out_dir), "write <out>/eval.json (default: JSON on stdout)"},
    {"ebm", OPT_STR, F(ebm), S(ebm), "ebm.fce for bpd_ebm (default: next to the checkpoint, if there)"},
};
#undef F
#undef S
#define F(field) offsetof(fce_image_sample_config, field)
#define S(field) sizeof(((fce_image_sample_config *)0)->field)
static const opt_def sample_opts[] = {
    {"checkpoint", OPT_STR, F(checkpoint), S(checkpoint), "image checkpoint"},
    {"n", OPT_INT, F(n), 0, "number of samples"},
    {"temperature", OPT_FLOAT, F(temperature), 0, "prior temperature T"},
    {"grid", OPT_STR, F(grid), S(grid), "output picture (ceil(sqrt(n)) columns, 1-pixel gaps)"},
    {"compare", OPT_STR, F(compare), S(compare), "second checkpoint: its samples from the same noise beside the first's"},
    {"seed", OPT_U64, F(seed), 0, "seed of the latent noise"},
    {"device", OPT_STR, F(device), S(device), "auto | cpu | N (GPU ordinal)"},
    {"out-dir", OPT_STR, F(out_dir), S(out_dir), "batched: numbered PNGs DIR/000000.png ... instead of the grid"},
    {"batch", OPT_INT, F(batch), 0, "with --out-dir: pictures per batch (capped by --n)"},
    {"npz", OPT_STR, F(npz), S(npz), "with --out-dir: also an uncompressed .npz with x.npy uint8 (n,H,W,C)"},
};
#undef F
#undef S
#define F(field) offsetof(fce_probe_config, field)
#define S(field) sizeof(((fce_probe_config *)0)->field)
static const opt_def probe_opts[] = {
    {"checkpoint", OPT_STR, F(checkpoint), S(checkpoint), "ebm.fce of an image FCE run, or the run folder"},
    {"dataset", OPT_STR, F(dataset), S(dataset), "cifar10 | svhn (labelled data)"},
    {"data-dir", OPT_STR, F(data_dir), S(data_dir), "the dataset's folder (training split) or one file"},
    {"test-data", OPT_STR, F(test_data), S(test_data), "test split folder or file (default: --data-dir's test split)"},
    {"labels", OPT_STR, F(labels), S(labels), "label budgets k, comma-separated (each <= the training split)"},
    {"methods", OPT_STR, F(methods), S(methods), "any of fce,random,supervised"},
    {"out", OPT_STR, F(out_dir), S(out_dir), "output folder: probe.json, metrics.jsonl, probe.png"},
    {"device", OPT_STR, F(device), S(device), "auto | cpu | N (GPU ordinal)"},
    {"seed", OPT_U64, F(seed), 0, "label subset, random EBM, classifier init and order, noise"},
    {"batch", OPT_INT, F(batch), 0, "minibatch of the linear probe and the supervised net"},
    {"epochs", OPT_INT, F(epochs), 0, "linear probe: epochs over the k labelled pictures"},
    {"max-steps", OPT_LONG, F(max_steps), 0, "linear probe: cap on Adam steps (0: none)"},
    {"lr", OPT_FLOAT, F(lr), 0, "linear probe: Adam learning rate"},
    {"wd", OPT_FLOAT, F(wd), 0, "linear probe: decoupled weight decay of W per step (lr x wd)"},
    {"sup-epochs", OPT_INT, F(sup_epochs), 0, "supervised: epochs"},
    {"sup-max-steps", OPT_LONG, F(sup_max_steps), 0, "supervised: cap on Adam steps (0: none)"},
    {"sup-lr", OPT_FLOAT, F(sup_lr), 0, "supervised: Adam learning rate"},
    {"test-n", OPT_INT, F(test_n), 0, "test pictures used, the first N (0: all)"},
    {"feature-batch", OPT_INT, F(feature_batch), 0, "pictures per EBM pass for the features"},
    {"quiet", OPT_FLAG, F(quiet), 0, "no progress lines"},
};
#undef F
#undef S

typedef struct opt_table {
    const char *cmd; /* for messages: "train", "eval", "sample" */
    const opt_def *opts;
    size_t n;
    const char *about;
} opt_table;

static const opt_table T_TRAIN = {"train", train_opts, N_TRAIN_OPTS, NULL};
static const opt_table T_IMAGE_TRAIN = {
    "train", image_train_opts, sizeof image_train_opts / sizeof image_train_opts[0],
    "usage: fce-gpu train --dataset cifar10|svhn|folder --data-dir DIR [options]\n\n"
    "Trains the multi-scale image Glow by maximum likelihood (bits/dim). Writes metrics.jsonl and\n"
    "checkpoint.fce into the run folder.\n"};
static const opt_table T_EVAL = {
    "eval", eval_opts, sizeof eval_opts / sizeof eval_opts[0],
    "usage: fce-gpu eval --checkpoint C --dataset cifar10|svhn|folder --data-dir DIR [options]\n\n"
    "Test-split bits/dim of an image checkpoint (one dequantisation per picture).\n"};
static const opt_table T_SAMPLE = {
    "sample", sample_opts, sizeof sample_opts / sizeof sample_opts[0],
    "usage: fce-gpu sample --checkpoint C [--n 64] [--temperature T] [--grid out.png] [options]\n"
    "       fce-gpu sample --checkpoint MLE.fce --compare FCE.fce --grid side_by_side.png [options]\n"
    "       fce-gpu sample --checkpoint C --n N --out-dir DIR [--batch 500] [--npz FILE] [options]\n\n"
    "Samples of an image checkpoint at temperature T, as one grid picture.\n"};
static const opt_table T_PROBE = {
    "probe", probe_opts, sizeof probe_opts / sizeof probe_opts[0],
    "usage: fce-gpu probe --checkpoint RUN/ebm.fce --dataset cifar10|svhn --data-dir DIR\n"
    "                     [--labels 1000,2000,4000] [--out DIR] [options]\n\n"
    "The linear-probe experiment (paper Figure 4): test accuracy against the number of labels k\n"
    "for three classifiers trained on the first k pictures of a seeded shuffle of the training\n"
    "split (nested across budgets; classes are NOT balanced):\n"
    "  fce         linear softmax classifier on the FCE-trained EBM's top-layer features;\n"
    "  random      the same on a frozen randomly initialised EBM (same architecture, --seed);\n"
    "  supervised  the EBM architecture with 10 outputs, trained end to end (--sup-*).\n"
    "Features: the output of the third lReLU, (H/8)x(W/8)x256 = 4096 values at 32x32 (the paper's\n"
    "\"top layer feature maps\"; our reading, SPEC d), standardised per feature with the mean and std\n"
    "of the k labelled training features. Linear probe and supervised net: Adam on minibatches,\n"
    "mean softmax cross-entropy. Writes probe.json (also on stdout), metrics.jsonl and probe.png.\n"
    "Exit 2: a bad flag, or a budget above the training split's size; exit 1: unlabelled data, a\n"
    "checkpoint that is not an EBM file, or another runtime failure.\n"};

static void format_default(const opt_def *o, const void *d, char *buf, size_t n) {
    const char *base = (const char *)d + o->offset;
    switch (o->type) {
    case OPT_INT: snprintf(buf, n, "%d", *(const int *)base); break;
    case OPT_LONG: snprintf(buf, n, "%ld", *(const long *)base); break;
    case OPT_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)base); break;
    case OPT_FLOAT: snprintf(buf, n, "%g", *(const float *)base); break;
    case OPT_STR: snprintf(buf, n, "%s", *base ? base : "-"); break;
    case OPT_FLAG: snprintf(buf, n, "off"); break;
    case OPT_MODE: snprintf(buf, n, "%s", fce_train_mode_name(*(const fce_train_mode *)base)); break;
    case OPT_OPTIM: snprintf(buf, n, "%s", *(const fce_flow_optim *)base == FCE_OPTIM_ADAM ? "adam" : "adamax"); break;
    }
}

static void print_table(FILE *f, const opt_table *t, const void *d) {
    for (size_t i = 0; i < t->n; i++) {
        char def[64], name[40];
        format_default(&t->opts[i], d, def, sizeof def);
        snprintf(name, sizeof name, "--%s%s", t->opts[i].name, t->opts[i].type == OPT_FLAG ? "" : " X");
        fprintf(f, "  %-22s %s [%s]\n", name, t->opts[i].help, def);
    }
}

static void print_train_help(FILE *f) {
    fce_train_config d;
    fce_train_config_defaults(&d);
    fprintf(f, "usage: fce-gpu train [options]\n\n"
               "Trains an EBM and a Glow flow on a 2D dataset by Flow Contrastive Estimation\n"
               "(Gao et al. 2020, section 3.1). Writes metrics.jsonl, summary.json, density.png\n"
               "and checkpoint.fce into the run folder. Image datasets: fce-gpu train --dataset cifar10 --help.\n\n"
               "options (default in brackets):\n");
    print_table(f, &T_TRAIN, &d);
}

static void print_image_help(FILE *f, const opt_table *t) {
    union {
        fce_image_train_config tr;
        fce_image_eval_config ev;
        fce_image_sample_config sa;
        fce_probe_config pr;
    } d;
    if (t == &T_IMAGE_TRAIN) fce_image_train_config_defaults(&d.tr);
    else if (t == &T_EVAL) fce_image_eval_config_defaults(&d.ev);
    else if (t == &T_PROBE) fce_probe_config_defaults(&d.pr);
    else fce_image_sample_config_defaults(&d.sa);
    fprintf(f, "%s\noptions (default in brackets):\n", t->about);
    print_table(f, t, &d);
}

static void print_usage(FILE *f) {
    fprintf(f, "usage: fce-gpu <command> [options]\n\n"
               "commands:\n"
               "  train   train on a 2D dataset (fce | mle | nce); default: FCE on gmm8;\n"
               "          with --dataset cifar10|svhn|folder: the paper's pipeline (MLE pretraining, then FCE), or --mode mle\n"
               "  eval    test-split bits/dim of an image checkpoint\n"
               "  sample  samples of an image checkpoint: a grid, two flows side by side, or numbered PNGs for FID\n"
               "  probe   linear-probe accuracy of an image EBM's features vs labels (paper Fig. 4)\n"
               "  info    build options and whether a GPU is usable\n"
               "  help    this text; `fce-gpu train --help` lists the training options\n");
}

static int parse_value(const opt_def *o, const char *v, void *cfg) {
    char *base = (char *)cfg + o->offset, *end = NULL;
    errno = 0;
    switch (o->type) {
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < -2147483647L || x > 2147483647L) goto bad_number;
        *(int *)base = (int)x;
        return 0;
    }
    case OPT_LONG: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) goto bad_number;
        *(long *)base = x;
        return 0;
    }
    case OPT_U64: {
        if (*v == '-') goto bad_number;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end) goto bad_number;
        *(uint64_t *)base = (uint64_t)x;
        return 0;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end) goto bad_number;
        *(float *)base = (float)x;
        return 0;
    }
    case OPT_STR:
        if (strlen(v) >= o->size) {
            fce_log_error("--%s: value is longer than %zu characters", o->name, o->size - 1);
            return 2;
        }
        strcpy(base, v);
        return 0;
    case OPT_MODE:
        if (!strcmp(v, "fce")) *(fce_train_mode *)base = FCE_MODE_FCE;
        else if (!strcmp(v, "mle")) *(fce_train_mode *)base = FCE_MODE_MLE;
        else if (!strcmp(v, "nce")) *(fce_train_mode *)base = FCE_MODE_NCE;
        else {
            fce_log_error("--mode: '%s' is not one of fce, mle, nce", v);
            return 2;
        }
        return 0;
    case OPT_OPTIM:
        if (!strcmp(v, "adamax")) *(fce_flow_optim *)base = FCE_OPTIM_ADAMAX;
        else if (!strcmp(v, "adam")) *(fce_flow_optim *)base = FCE_OPTIM_ADAM;
        else {
            fce_log_error("--flow-optim: '%s' is not one of adamax, adam", v);
            return 2;
        }
        return 0;
    case OPT_FLAG: return 0;
    }
bad_number:
    fce_log_error("--%s: '%s' is not a valid %s", o->name, v,
                  o->type == OPT_FLOAT ? "number" : o->type == OPT_U64 ? "non-negative integer" : "integer");
    return 2;
}

/* Returns 0 ok, 2 usage error, -1 help printed. cfg holds the defaults. */
static int parse_opts(int argc, char **argv, const opt_table *t, void *cfg) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (t == &T_TRAIN) print_train_help(stdout);
            else print_image_help(stdout, t);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fce_log_error("unexpected argument '%s' (options start with --; see fce-gpu %s --help)", a, t->cmd);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_def *o = NULL;
        for (size_t k = 0; k < t->n; k++)
            if (strlen(t->opts[k].name) == len && !strncmp(t->opts[k].name, name, len)) o = &t->opts[k];
        if (!o) {
            fce_log_error("unknown option '%.*s' (see fce-gpu %s --help)", (int)(len + 2), a, t->cmd);
            return 2;
        }
        if (o->type == OPT_FLAG) {
            if (eq) {
                fce_log_error("--%s takes no value", o->name);
                return 2;
            }
            *(int *)((char *)cfg + o->offset) = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fce_log_error("--%s needs a value", o->name);
            return 2;
        }
        int r = parse_value(o, v, cfg);
        if (r) return r;
    }
    return 0;
}

static int parse_train(int argc, char **argv, fce_train_config *cfg) {
    fce_train_config_defaults(cfg);
    return parse_opts(argc, argv, &T_TRAIN, cfg);
}

/* Does `train` get an image dataset (--dataset X or --dataset=X)? */
static int wants_image_train(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dataset") && i + 1 < argc) return fce_is_image_dataset(argv[i + 1]);
        if (!strncmp(argv[i], "--dataset=", 10)) return fce_is_image_dataset(argv[i] + 10);
    }
    return 0;
}

static int exit_code(fce_status st) {
    if (st == FCE_STATUS_OK) return 0;
    return st == FCE_STATUS_ERR_CONFIG ? 2 : 1;
}

static int cmd_info(void) {
    char reason[256] = "";
    int gpu = fce_gpu_usable(reason, sizeof reason);
#ifdef FCE_HAVE_CUDA
    const char *cuda = "yes";
#else
    const char *cuda = "no";
#endif
#ifdef FCE_HAVE_PNG
    const char *png = "libpng";
#else
    const char *png = "no (PPM fallback)";
#endif
    printf("fce-gpu %s (git %s)\nCUDA backend built: %s\nPNG output: %s\nGPU usable: %s%s%s\n",
           FCE_VERSION_STRING, FCE_GIT_HASH, cuda, png, gpu ? "yes" : "no", gpu ? "" : " - ",
           gpu ? "" : reason);
    return 0;
}

int fce_cli_main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "info")) return cmd_info();
    if (!strcmp(cmd, "train") && wants_image_train(argc - 2, argv + 2)) {
        fce_image_train_config cfg;
        fce_image_train_config_defaults(&cfg);
        int r = parse_opts(argc - 2, argv + 2, &T_IMAGE_TRAIN, &cfg);
        if (r) return r == -1 ? 0 : r;
        return exit_code(fce_image_train_run(&cfg));
    }
    if (!strcmp(cmd, "eval")) {
        fce_image_eval_config cfg;
        fce_image_eval_config_defaults(&cfg);
        int r = parse_opts(argc - 2, argv + 2, &T_EVAL, &cfg);
        if (r) return r == -1 ? 0 : r;
        return exit_code(fce_image_eval_run(&cfg, NULL));
    }
    if (!strcmp(cmd, "sample")) {
        fce_image_sample_config cfg;
        fce_image_sample_config_defaults(&cfg);
        int r = parse_opts(argc - 2, argv + 2, &T_SAMPLE, &cfg);
        if (r) return r == -1 ? 0 : r;
        return exit_code(fce_image_sample_run(&cfg));
    }
    if (!strcmp(cmd, "probe")) {
        fce_probe_config cfg;
        fce_probe_config_defaults(&cfg);
        int r = parse_opts(argc - 2, argv + 2, &T_PROBE, &cfg);
        if (r) return r == -1 ? 0 : r;
        return exit_code(fce_probe_run(&cfg));
    }
    if (!strcmp(cmd, "train")) {
        fce_train_config cfg;
        int r = parse_train(argc - 2, argv + 2, &cfg);
        if (r == -1) return 0;
        if (r) return r;
        return exit_code(fce_train_run(&cfg));
    }
    fce_log_error("unknown command '%s'", cmd);
    print_usage(stderr);
    return 2;
}

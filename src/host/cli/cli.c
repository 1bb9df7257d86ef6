/* cli.c: subcommands (train, eval, sample, probe, export, quality, info, help) and the table-driven long-option
 * parser (cli.h): one table, OPTIONS, lists every command's options and drives both parsing and
 * --help; a second, RULES, lists the options that need or exclude another.
 * Unknown options (with the closest known one), missing values, malformed numbers, out-of-range
 * enums, unknown datasets and conflicting options are usage errors (exit 2) with a message naming
 * the arguments; numbers are read with strtol/strtod and must be consumed whole. */
#include "cli/cli.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_suggest.h"
#include "dist/dist.h"
#include "fce/backend.h"
#include "fce/data2d.h"
#include "fce/export.h"
#include "fce/log.h"
#include "fce/probe.h"
#include "fce/quality.h"
#include "fce/train.h"
#include "fce/eval_image.h"
#include "fce/train_image.h"

typedef enum opt_type { OPT_INT, OPT_LONG, OPT_U64, OPT_FLOAT, OPT_STR, OPT_FLAG, OPT_MODE, OPT_OPTIM } opt_type;

/* The commands that take options. `train` is two: the 2D trainer, or the image one when its
 * --dataset is an image dataset. */
typedef enum command_id {
    CMD_TRAIN_2D, CMD_IMAGE_TRAIN, CMD_EVAL, CMD_SAMPLE, CMD_PROBE, CMD_EXPORT, CMD_QUALITY, N_COMMANDS
} command_id;

/* Each command's options are read into its own config struct; this holds whichever it is. */
typedef union any_config {
    fce_train_config train_2d;
    fce_image_train_config image_train;
    fce_image_eval_config eval;
    fce_image_sample_config sample;
    fce_probe_config probe;
    fce_export_config export_weights;
    fce_quality_config quality;
} any_config;

typedef struct opt_def {
    command_id cmd;
    const char *name;
    opt_type type;
    size_t offset; /* of the field in the command's config */
    size_t size;   /* of the field: bounds a string's length */
    const char *help;
} opt_def;

/* One row of OPTIONS: the command, the option's name and type, its config field, its help. */
#define OPT_OF(cmd, config, name, type, field, help) \
    {cmd, name, type, offsetof(config, field), sizeof(((config *)0)->field), help}
#define TRAIN_2D(...) OPT_OF(CMD_TRAIN_2D, fce_train_config, __VA_ARGS__)
#define IMAGE_TRAIN(...) OPT_OF(CMD_IMAGE_TRAIN, fce_image_train_config, __VA_ARGS__)
#define EVAL(...) OPT_OF(CMD_EVAL, fce_image_eval_config, __VA_ARGS__)
#define SAMPLE(...) OPT_OF(CMD_SAMPLE, fce_image_sample_config, __VA_ARGS__)
#define PROBE(...) OPT_OF(CMD_PROBE, fce_probe_config, __VA_ARGS__)
#define EXPORT(...) OPT_OF(CMD_EXPORT, fce_export_config, __VA_ARGS__)
#define QUALITY(...) OPT_OF(CMD_QUALITY, fce_quality_config, __VA_ARGS__)

/* Every option of every command, each command's in its --help order. The image commands'
 * configs are in train_image.h, eval_image.h and probe.h; export's in export.h; quality's in
 * quality.h. */
static const opt_def OPTIONS[] = {
    TRAIN_2D("dataset", OPT_STR, dataset, "gmm8 | gmm25 | pinwheel | spiral | 2spirals | rings | checkerboard | moons"),
    TRAIN_2D("mode", OPT_MODE, mode, "fce (joint) | mle (flow alone) | nce (EBM vs a Gaussian)"),
    TRAIN_2D("device", OPT_STR, device, "auto | cpu | cpu-ref (the plain reference) | N (GPU ordinal)"),
    TRAIN_2D("steps", OPT_LONG, steps, "EBM updates (fce, nce) or flow updates (mle)"),
    TRAIN_2D("max-total-steps", OPT_LONG, max_total_steps, "safety stop on EBM + flow steps (0: 50 x --steps)"),
    TRAIN_2D("seed", OPT_U64, seed, "seed of every random stream (data, noise, init)"),
    TRAIN_2D("out", OPT_STR, out_dir, "run folder (default runs/<dataset>-<mode>)"),
    TRAIN_2D("log-every", OPT_INT, log_every, "EBM (mle: flow) updates per progress line / metrics.jsonl row"),
    TRAIN_2D("checkpoint-every", OPT_INT, checkpoint_every, "EBM (mle: flow) updates per checkpoint (0: only at the end)"),
    TRAIN_2D("resume", OPT_FLAG, resume, "continue from <out>/checkpoint.fce (metrics.jsonl is cut back to its step)"),
    TRAIN_2D("force", OPT_FLAG, force, "start over in a folder that holds a run: deletes its checkpoint, metrics and pictures"),
    TRAIN_2D("init-flow", OPT_STR, init_flow, "start the flow from this checkpoint (e.g. an mle run)"),
    TRAIN_2D("batch", OPT_INT, batch, "n data points and n flow samples per step"),
    TRAIN_2D("lr-ebm", OPT_FLOAT, lr_ebm, "Adam learning rate of the EBM and c"),
    TRAIN_2D("lr-flow", OPT_FLOAT, lr_flow, "learning rate of the flow (paper: 1e-5; see README)"),
    TRAIN_2D("lr-final-frac", OPT_FLOAT, lr_final_frac, "cosine decay of both learning rates to this fraction (1: constant)"),
    TRAIN_2D("flow-optim", OPT_OPTIM, flow_optim, "adamax | adam"),
    TRAIN_2D("beta1", OPT_FLOAT, beta1, "optimizer beta1"),
    TRAIN_2D("beta2", OPT_FLOAT, beta2, "optimizer beta2"),
    TRAIN_2D("adam-eps", OPT_FLOAT, adam_eps, "optimizer epsilon (Keras default)"),
    TRAIN_2D("threshold", OPT_FLOAT, threshold, "accuracy above which the flow plays"),
    TRAIN_2D("max-mode-steps", OPT_INT, max_mode_steps, "cap on consecutive steps of one player (0: none)"),
    TRAIN_2D("flow-K", OPT_INT, flow_K, "flow steps"),
    TRAIN_2D("flow-width", OPT_INT, flow_width, "coupling network width"),
    TRAIN_2D("flow-nn-actnorm", OPT_FLAG, flow_nn_actnorm, "actnorm after each hidden layer of the coupling networks"),
    TRAIN_2D("ebm-width", OPT_INT, ebm_width, "EBM hidden width"),
    TRAIN_2D("ebm-hidden", OPT_INT, ebm_hidden, "EBM hidden layers"),
    TRAIN_2D("init-batch", OPT_INT, init_batch, "points for actnorm's data-dependent init and for c"),
    TRAIN_2D("eval-points", OPT_INT, eval_points, "points from p_true for the log-density MSE"),
    TRAIN_2D("image-res", OPT_INT, image_res, "density.png panel size in pixels"),
    TRAIN_2D("quiet", OPT_FLAG, quiet, "no progress lines"),
    IMAGE_TRAIN("dataset", OPT_STR, dataset, "cifar10 | svhn | folder"),
    IMAGE_TRAIN("data-dir", OPT_STR, data_dir, "the dataset's folder (or one CIFAR-10 batch / SVHN .mat file)"),
    IMAGE_TRAIN("mode", OPT_STR, mode, "fce (the paper's pipeline: MLE pretraining, then joint EBM + flow) | mle (the flow alone)"),
    IMAGE_TRAIN("preset", OPT_STR, preset, "cifar10 (L3 K32 W512) | svhn (L3 K8 W512) | tiny (L2 K2 W16); default: the dataset's"),
    IMAGE_TRAIN("L", OPT_INT, L, "levels (0: the preset's)"),
    IMAGE_TRAIN("K", OPT_INT, K, "steps per level (0: the preset's)"),
    IMAGE_TRAIN("width", OPT_INT, width, "coupling network width (0: the preset's)"),
    IMAGE_TRAIN("affine", OPT_FLAG, affine, "affine coupling instead of additive"),
    IMAGE_TRAIN("batch", OPT_INT, batch, "pictures per step"),
    IMAGE_TRAIN("steps", OPT_LONG, steps, "training steps"),
    IMAGE_TRAIN("lr", OPT_FLOAT, lr, "Adamax learning rate"),
    IMAGE_TRAIN("warmup-steps", OPT_LONG, warmup_steps, "linear warm-up of the learning rate (-1: 10 epochs, at most --steps/10)"),
    IMAGE_TRAIN("n-bits", OPT_INT, n_bits, "bits per colour value (1..8)"),
    IMAGE_TRAIN("seed", OPT_U64, seed, "seed of every random stream (order, noise, init)"),
    IMAGE_TRAIN("device", OPT_STR, device, "auto | cpu | cpu-ref (the plain reference) | N (GPU ordinal)"),
    IMAGE_TRAIN("out", OPT_STR, out_dir, "run folder (default runs/<dataset>-mle)"),
    IMAGE_TRAIN("log-every", OPT_INT, log_every, "steps per progress line / metrics.jsonl row"),
    IMAGE_TRAIN("checkpoint-every", OPT_INT, checkpoint_every, "steps per checkpoint (0: only at the end)"),
    IMAGE_TRAIN("time-limit", OPT_FLOAT, time_limit, "seconds: stop cleanly (checkpoint, exit 0) after this long; --resume goes on (0: none)"),
    IMAGE_TRAIN("resume", OPT_FLAG, resume, "continue from <out>/checkpoint.fce (metrics.jsonl is cut back to its step)"),
    IMAGE_TRAIN("force", OPT_FLAG, force, "start over in a folder that holds a run: deletes its checkpoints, metrics and pictures"),
    IMAGE_TRAIN("sample-every", OPT_LONG, sample_every, "steps per grid of 64 samples <out>/samples_<step>.png (0: none)"),
    IMAGE_TRAIN("quiet", OPT_FLAG, quiet, "no progress lines"),
    IMAGE_TRAIN("init-flow", OPT_STR, init_flow, "fce: start the flow from this image MLE checkpoint (skips pretraining)"),
    IMAGE_TRAIN("pretrain-steps", OPT_LONG, pretrain_steps, "fce without --init-flow: MLE steps into <out>/mle first (0: FCE from a random flow)"),
    IMAGE_TRAIN("lr-ebm", OPT_FLOAT, lr_ebm, "fce: Adam learning rate of the EBM and c"),
    IMAGE_TRAIN("lr-c", OPT_FLOAT, lr_c, "fce: Adam learning rate of c alone (0: --lr-ebm, the paper's)"),
    IMAGE_TRAIN("lr-flow", OPT_FLOAT, lr_flow, "fce: Adamax learning rate of the flow"),
    IMAGE_TRAIN("threshold", OPT_FLOAT, threshold, "fce: accuracy above which the flow plays"),
    IMAGE_TRAIN("max-mode-steps", OPT_INT, max_mode_steps, "fce: cap on consecutive steps of one player (0: none)"),
    IMAGE_TRAIN("ebm-base", OPT_STR, ebm_base, "fce: none (the paper's EBM, f = g) | flow (f = log q0 + g, q0 a frozen copy of the flow FCE starts from)"),
    IMAGE_TRAIN("ebm-width-scale", OPT_INT, ebm_width_scale, "fce: EBM widths 64/s,128/s,256/s (0: the paper's; tests)"),
    EVAL("checkpoint", OPT_STR, checkpoint, "image checkpoint (train --dataset cifar10|svhn|folder)"),
    EVAL("dataset", OPT_STR, dataset, "cifar10 | svhn | folder"),
    EVAL("data-dir", OPT_STR, data_dir, "the dataset's folder (test split) or one file"),
    EVAL("batch", OPT_INT, batch, "pictures per pass"),
    EVAL("seed", OPT_U64, seed, "seed of the dequantisation noise and of log Z's flow samples"),
    EVAL("device", OPT_STR, device, "auto | cpu | cpu-ref (the plain reference) | N (GPU ordinal)"),
    EVAL("out", OPT_STR, out_dir, "write <out>/eval.json (default: JSON on stdout)"),
    EVAL("ebm", OPT_STR, ebm, "ebm.fce for bpd_ebm (default: next to the checkpoint, if there)"),
    EVAL("z-samples", OPT_LONG, z_samples, "flow samples for the EBM's log Z estimate and bpd_ebm_z (0: none)"),
    EVAL("quiet", OPT_FLAG, quiet, "no progress lines"),
    EVAL("progress-every", OPT_FLOAT, progress_every, "seconds between progress lines (0: after every batch)"),
    SAMPLE("checkpoint", OPT_STR, checkpoint, "image checkpoint"),
    SAMPLE("n", OPT_INT, n, "number of samples"),
    SAMPLE("temperature", OPT_FLOAT, temperature, "prior temperature T > 0 (1: the model)"),
    SAMPLE("grid", OPT_STR, grid, "output picture (ceil(sqrt(n)) columns, 1-pixel gaps)"),
    SAMPLE("compare", OPT_STR, compare, "second checkpoint: its samples from the same noise beside the first's"),
    SAMPLE("seed", OPT_U64, seed, "seed of the latent noise"),
    SAMPLE("device", OPT_STR, device, "auto | cpu | cpu-ref (the plain reference) | N (GPU ordinal)"),
    SAMPLE("out-dir", OPT_STR, out_dir, "batched: numbered PNGs DIR/000000.png ... instead of the grid"),
    SAMPLE("batch", OPT_INT, batch, "with --out-dir: pictures per batch (capped by --n)"),
    SAMPLE("npz", OPT_STR, npz, "with --out-dir: also an uncompressed .npz, key arr_0: uint8 (n,H,W,C)"),
    SAMPLE("force", OPT_FLAG, force, "with --out-dir: replace the numbered pictures of an earlier sample run"),
    SAMPLE("quiet", OPT_FLAG, quiet, "no progress lines"),
    SAMPLE("progress-every", OPT_FLOAT, progress_every, "with --out-dir: seconds between progress lines (0: every batch)"),
    PROBE("checkpoint", OPT_STR, checkpoint, "ebm.fce of an image FCE run, or the run folder"),
    PROBE("dataset", OPT_STR, dataset, "cifar10 | svhn | folder (labelled data; a folder needs labels.txt)"),
    PROBE("data-dir", OPT_STR, data_dir, "the dataset's folder (training split) or one file"),
    PROBE("test-data", OPT_STR, test_data, "test split folder or file (default: --data-dir's test split)"),
    PROBE("labels", OPT_STR, labels, "label budgets k, comma-separated (each <= the training split)"),
    PROBE("methods", OPT_STR, methods, "any of fce,random,supervised"),
    PROBE("out", OPT_STR, out_dir, "output folder: probe.json, metrics.jsonl, probe.png"),
    PROBE("device", OPT_STR, device, "auto | cpu | cpu-ref (the plain reference) | N (GPU ordinal)"),
    PROBE("seed", OPT_U64, seed, "label subset, random EBM, classifier init and order, noise"),
    PROBE("batch", OPT_INT, batch, "minibatch of the linear probe and the supervised net"),
    PROBE("epochs", OPT_INT, epochs, "linear probe: epochs over the k labelled pictures"),
    PROBE("max-steps", OPT_LONG, max_steps, "linear probe: cap on Adam steps (0: none)"),
    PROBE("lr", OPT_FLOAT, lr, "linear probe: Adam learning rate"),
    PROBE("wd", OPT_FLOAT, wd, "linear probe: decoupled weight decay of W per step (lr x wd)"),
    PROBE("sup-epochs", OPT_INT, sup_epochs, "supervised: epochs"),
    PROBE("sup-max-steps", OPT_LONG, sup_max_steps, "supervised: cap on Adam steps (0: none)"),
    PROBE("sup-lr", OPT_FLOAT, sup_lr, "supervised: Adam learning rate"),
    PROBE("test-n", OPT_INT, test_n, "test pictures used, the first N (0: all)"),
    PROBE("feature-batch", OPT_INT, feature_batch, "pictures per EBM pass for the features"),
    PROBE("quiet", OPT_FLAG, quiet, "no progress lines"),
    EXPORT("checkpoint", OPT_STR, checkpoint, "checkpoint.fce of a 2D or image run, or an image run's ebm.fce"),
    EXPORT("ebm", OPT_STR, ebm, "image run: its EBM file (default: ebm.fce next to the checkpoint, if there)"),
    EXPORT("format", OPT_STR, format, "output format: safetensors"),
    EXPORT("out", OPT_STR, out, "the file to write, e.g. weights.safetensors"),
    QUALITY("real", OPT_STR, real, "the real pictures: a folder of PNGs (or --dataset cifar10|svhn data: its test split)"),
    QUALITY("dataset", OPT_STR, dataset, "folder | cifar10 | svhn: how --real is read"),
    QUALITY("fake", OPT_STR, fake, "a folder of pictures of the same size, e.g. from sample --out-dir"),
    QUALITY("n", OPT_INT, n, "pictures per set (capped by the fakes and by half the real pictures)"),
    QUALITY("feature-seeds", OPT_INT, feature_seeds, "random feature networks (seeds --seed, --seed+1, ...)"),
    QUALITY("k", OPT_INT, k, "precision/recall: radius = distance to the k-th nearest neighbour"),
    QUALITY("subsets", OPT_INT, subsets, "KID: random subsets averaged"),
    QUALITY("subset-size", OPT_INT, subset_size, "KID: pictures per subset (capped by n/2, so that subsets differ)"),
    QUALITY("seed", OPT_U64, seed, "picture draw, KID subsets and the first feature seed"),
    QUALITY("no-floor", OPT_FLAG, no_floor, "skip the data-vs-data floor (real vs real, disjoint halves)"),
    QUALITY("batch", OPT_INT, batch, "pictures per feature pass"),
    QUALITY("device", OPT_STR, device, "auto | cpu | cpu-ref (the plain reference) | N (GPU ordinal)"),
    QUALITY("out", OPT_STR, out, "also write the JSON report to this file"),
    QUALITY("quiet", OPT_FLAG, quiet, "no progress lines"),
};
#undef TRAIN_2D
#undef IMAGE_TRAIN
#undef EVAL
#undef SAMPLE
#undef PROBE
#undef EXPORT
#undef QUALITY
#undef OPT_OF
#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

/* An option that only makes sense with another (NEEDS) or contradicts it (EXCLUDES): given both
 * (or the first alone), the input would be ignored or overridden silently, so it is a usage error. */
typedef enum rule_kind { RULE_NEEDS, RULE_EXCLUDES } rule_kind;

typedef struct opt_rule {
    command_id cmd;
    const char *a;
    rule_kind kind;
    const char *b;
    const char *why;
} opt_rule;

#define ARCH_FROM_FILE "the flow's architecture comes from the --init-flow file"
static const opt_rule RULES[] = {
    {CMD_SAMPLE, "npz", RULE_NEEDS, "out-dir", "the .npz holds the numbered pictures --out-dir writes"},
    {CMD_SAMPLE, "batch", RULE_NEEDS, "out-dir", "a grid is sampled in one batch of --n"},
    {CMD_SAMPLE, "force", RULE_NEEDS, "out-dir", "it lets --out-dir replace an earlier sample run's pictures"},
    {CMD_SAMPLE, "progress-every", RULE_NEEDS, "out-dir", "a grid is sampled in one batch"},
    {CMD_SAMPLE, "grid", RULE_EXCLUDES, "out-dir", "--out-dir writes numbered pictures instead of a grid"},
    {CMD_SAMPLE, "compare", RULE_EXCLUDES, "out-dir", "--compare makes a grid; --out-dir writes numbered pictures"},
    {CMD_IMAGE_TRAIN, "preset", RULE_EXCLUDES, "init-flow", ARCH_FROM_FILE},
    {CMD_IMAGE_TRAIN, "L", RULE_EXCLUDES, "init-flow", ARCH_FROM_FILE},
    {CMD_IMAGE_TRAIN, "K", RULE_EXCLUDES, "init-flow", ARCH_FROM_FILE},
    {CMD_IMAGE_TRAIN, "width", RULE_EXCLUDES, "init-flow", ARCH_FROM_FILE},
    {CMD_IMAGE_TRAIN, "affine", RULE_EXCLUDES, "init-flow", ARCH_FROM_FILE},
    {CMD_IMAGE_TRAIN, "pretrain-steps", RULE_EXCLUDES, "init-flow", "FCE starts from the --init-flow flow, with no pretraining"},
};
#undef ARCH_FROM_FILE
#define N_RULES (sizeof RULES / sizeof RULES[0])

typedef struct command {
    const char *name;  /* as typed, and in messages ("see fce-gpu <name> --help") */
    const char *about; /* --help text above the option list */
} command;

/* Indexed by command_id. */
static const command COMMANDS[N_COMMANDS] = {
    [CMD_TRAIN_2D] = {
        "train",
        "usage: fce-gpu train [options]\n\n"
        "Trains an EBM and a Glow flow on a 2D dataset by Flow Contrastive Estimation\n"
        "(Gao et al. 2020, section 3.1). Writes config.json, metrics.jsonl, summary.json, curves.png,\n"
        "density.png and checkpoint.fce into the run folder; a folder that holds a run needs --resume\n"
        "or --force. Ctrl-C (SIGINT) or SIGTERM writes a checkpoint and exits 0; --resume continues.\n"
        "Image datasets: fce-gpu train --dataset cifar10 --help.\n"},
    [CMD_IMAGE_TRAIN] = {
        "train",
        "usage: fce-gpu train --dataset cifar10|svhn|folder --data-dir DIR [options]\n\n"
        "Trains the multi-scale image Glow by maximum likelihood (bits/dim), then (--mode fce) the EBM\n"
        "and the flow by FCE. Writes config.json, metrics.jsonl, summary.json, curves.png and\n"
        "checkpoint.fce (fce: and ebm.fce) into the run folder; a folder that holds a run needs\n"
        "--resume or --force. Ctrl-C (SIGINT) or SIGTERM writes a checkpoint and exits 0.\n"},
    [CMD_EVAL] = {
        "eval",
        "usage: fce-gpu eval --checkpoint C --dataset cifar10|svhn|folder --data-dir DIR [options]\n\n"
        "Test-split bits/dim of an image checkpoint (one dequantisation per picture). With an EBM\n"
        "(ebm.fce beside the checkpoint, or --ebm): its bits/dim with the learned c, and a check of c:\n"
        "log Z by importance sampling from --z-samples flow samples, with its standard error, ESS and\n"
        "the bits/dim with c + log Z (log_z = 0: c is right; a small ESS: the estimate is unreliable).\n"},
    [CMD_SAMPLE] = {
        "sample",
        "usage: fce-gpu sample --checkpoint C [--n 64] [--temperature T] [--grid out.png] [options]\n"
        "       fce-gpu sample --checkpoint MLE.fce --compare FCE.fce --grid side_by_side.png [options]\n"
        "       fce-gpu sample --checkpoint C --n N --out-dir DIR [--batch 500] [--npz FILE] [options]\n\n"
        "Samples of an image checkpoint at temperature T, as one grid picture, or as numbered PNGs\n"
        "(and an .npz) for FID tools. --out-dir refuses a folder that already holds pictures (FID would\n"
        "score old and new samples together) unless --force, which first removes the numbered pictures\n"
        "an earlier run wrote.\n"},
    [CMD_PROBE] = {
        "probe",
        "usage: fce-gpu probe --checkpoint RUN/ebm.fce --dataset cifar10|svhn|folder --data-dir DIR\n"
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
        "checkpoint that is not an EBM file, or another runtime failure.\n"},
    [CMD_EXPORT] = {
        "export",
        "usage: fce-gpu export --checkpoint FILE [--ebm FILE] --format safetensors --out FILE.safetensors\n\n"
        "Writes a run's trained weights to a file other tools read (safetensors: F32 tensors named by the\n"
        "models' parameter tables, \"glow.*\" / \"iglow.*\" for the flow and \"ebm.*\" for the EBM, with\n"
        "the kind, architecture, step and source file in the metadata; README \"Exported weights\").\n"
        "A 2D checkpoint holds both models; an image checkpoint.fce takes its run's ebm.fce along when it\n"
        "is beside it (or --ebm names one); an ebm.fce alone exports the EBM. Optimizer state is not\n"
        "exported. Exit 2: a bad flag or format; exit 1: a missing, corrupt or unknown checkpoint, or a\n"
        "write failure.\n"},
    [CMD_QUALITY] = {
        "quality",
        "usage: fce-gpu quality --real DIR --fake DIR [--n 2000] [--feature-seeds 3] [--k 3] [--out FILE]\n\n"
        "Offline sample quality for CPU-scale checks: KID (unbiased MMD^2, kernel (x.y/d + 1)^3, mean\n"
        "and sd over random subsets; Binkowski et al. 2018) and improved precision/recall (k-NN radii;\n"
        "Kynkaanniemi et al. 2019) of n fakes against n real pictures, in the feature space of fixed,\n"
        "seeded random conv nets (3x conv3x3 stride 2 + ReLU, widths 32/64/128, He-normal; per-channel\n"
        "mean and sd of each layer: 448 features), for each feature seed and as mean +- sd over seeds.\n"
        "The floor: the same figures for n other real pictures (disjoint from the first n) against\n"
        "the same n, i.e. what two samples of the data score. Random features are a weaker stand-in\n"
        "for Inception features: compare numbers only on the same data, size and seeds, and next to\n"
        "the floor. Real FID: pytorch-fid or clean-fid on the PNGs of sample --out-dir (README).\n"
        "Lower KID and higher precision/recall are better. The JSON report goes to stdout (and --out).\n"},
};

/* The command's config, set to its defaults. */
static void config_defaults(command_id id, any_config *cfg) {
    switch (id) {
    case CMD_TRAIN_2D: fce_train_config_defaults(&cfg->train_2d); break;
    case CMD_IMAGE_TRAIN: fce_image_train_config_defaults(&cfg->image_train); break;
    case CMD_EVAL: fce_image_eval_config_defaults(&cfg->eval); break;
    case CMD_SAMPLE: fce_image_sample_config_defaults(&cfg->sample); break;
    case CMD_PROBE: fce_probe_config_defaults(&cfg->probe); break;
    case CMD_EXPORT: fce_export_config_defaults(&cfg->export_weights); break;
    case CMD_QUALITY: fce_quality_config_defaults(&cfg->quality); break;
    case N_COMMANDS: break;
    }
}

/* Runs the command with its parsed config. */
static fce_status command_run(command_id id, const any_config *cfg) {
    switch (id) {
    case CMD_TRAIN_2D: return fce_train_run(&cfg->train_2d);
    case CMD_IMAGE_TRAIN: return fce_image_train_run(&cfg->image_train);
    case CMD_EVAL: return fce_image_eval_run(&cfg->eval, NULL);
    case CMD_SAMPLE: return fce_image_sample_run(&cfg->sample);
    case CMD_PROBE: return fce_probe_run(&cfg->probe);
    case CMD_EXPORT: return fce_export_run(&cfg->export_weights);
    case CMD_QUALITY: return fce_quality_run(&cfg->quality);
    case N_COMMANDS: break;
    }
    return FCE_STATUS_ERR_CONFIG;
}

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

static void print_table(FILE *f, command_id id, const void *d) {
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt_def *o = &OPTIONS[i];
        if (o->cmd != id) continue;
        char def[64], name[40];
        format_default(o, d, def, sizeof def);
        snprintf(name, sizeof name, "--%s%s", o->name, o->type == OPT_FLAG ? "" : " X");
        fprintf(f, "  %-22s %s [%s]\n", name, o->help, def);
    }
}

static void print_help(FILE *f, command_id id) {
    any_config d;
    config_defaults(id, &d);
    fprintf(f, "%s\noptions (default in brackets):\n", COMMANDS[id].about);
    print_table(f, id, &d);
}

static void print_usage(FILE *f) {
    fprintf(f, "usage: fce-gpu <command> [options]\n\n"
               "commands:\n"
               "  train   train on a 2D dataset (fce | mle | nce); default: FCE on gmm8;\n"
               "          with --dataset cifar10|svhn|folder: the paper's pipeline (MLE pretraining, then FCE), or --mode mle\n"
               "  eval    test-split bits/dim of an image checkpoint\n"
               "  sample  samples of an image checkpoint: a grid, two flows side by side, or numbered PNGs for FID\n"
               "  probe   linear-probe accuracy of an image EBM's features vs labels (paper Fig. 4)\n"
               "  export  a run's weights as a .safetensors file\n"
               "  quality offline sample quality: KID and precision/recall of a sample folder vs real pictures\n"
               "  info    version, build options and whether a GPU is usable\n"
               "  help    this text; `fce-gpu help COMMAND` or `fce-gpu COMMAND --help` lists its options\n"
               "\n--version prints the version and git commit. Exit codes: 0 success, 1 runtime failure,\n"
               "2 usage error.\n");
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

/* The index in OPTIONS of command id's option name[0..len), or -1. */
static int find_option(command_id id, const char *name, size_t len) {
    for (size_t k = 0; k < N_OPTIONS; k++)
        if (OPTIONS[k].cmd == id && strlen(OPTIONS[k].name) == len && !strncmp(OPTIONS[k].name, name, len))
            return (int)k;
    return -1;
}

/* Logs an unknown option with the closest of the command's options, or the command it belongs to. */
static void report_unknown_option(command_id id, const char *name, size_t len) {
    const char *cmd = COMMANDS[id].name;
    fce_cli_suggest s;
    fce_cli_suggest_begin(&s, name, len);
    for (size_t k = 0; k < N_OPTIONS; k++)
        if (OPTIONS[k].cmd == id) fce_cli_suggest_add(&s, OPTIONS[k].name);
    if (s.best)
        fce_log_error("unknown option '--%.*s' (did you mean --%s? see fce-gpu %s --help)", (int)len, name,
                      s.best, cmd);
    else if (id == CMD_TRAIN_2D && find_option(CMD_IMAGE_TRAIN, name, len) >= 0)
        fce_log_error("unknown option '--%.*s' for a 2D dataset: it is an option of image training "
                      "(train --dataset cifar10|svhn|folder)", (int)len, name);
    else
        fce_log_error("unknown option '--%.*s' (see fce-gpu %s --help)", (int)len, name, cmd);
}

/* Returns 0 ok, 2 usage error, -1 help printed. cfg holds the defaults; seen[k] is set for each
 * option OPTIONS[k] given. */
static int parse_opts(int argc, char **argv, command_id id, void *cfg, unsigned char seen[N_OPTIONS]) {
    const char *cmd = COMMANDS[id].name;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(stdout, id);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fce_log_error("unexpected argument '%s' (options start with --; see fce-gpu %s --help)", a, cmd);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = find_option(id, name, len);
        if (k < 0) {
            report_unknown_option(id, name, len);
            return 2;
        }
        const opt_def *o = &OPTIONS[k];
        seen[k] = 1;
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

static int option_seen(command_id id, const char *name, const unsigned char seen[N_OPTIONS]) {
    int k = find_option(id, name, strlen(name));
    return k >= 0 && seen[k];
}

/* 0 when the given options obey RULES; otherwise logs the first broken rule and returns 2. */
static int check_rules(command_id id, const unsigned char seen[N_OPTIONS]) {
    for (size_t r = 0; r < N_RULES; r++) {
        const opt_rule *u = &RULES[r];
        if (u->cmd != id || !option_seen(id, u->a, seen)) continue;
        int b = option_seen(id, u->b, seen);
        if (u->kind == RULE_NEEDS && !b) {
            fce_log_error("--%s needs --%s: %s", u->a, u->b, u->why);
            return 2;
        }
        if (u->kind == RULE_EXCLUDES && b) {
            fce_log_error("--%s and --%s do not go together: %s", u->a, u->b, u->why);
            return 2;
        }
    }
    return 0;
}

/* ---- datasets ---- */

static const char *const IMAGE_DATASETS[] = {"cifar10", "svhn", "folder"};
#define N_IMAGE_DATASETS (sizeof IMAGE_DATASETS / sizeof IMAGE_DATASETS[0])

/* The value of --dataset X or --dataset=X among the arguments, or NULL. */
static const char *dataset_arg(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dataset") && i + 1 < argc) return argv[i + 1];
        if (!strncmp(argv[i], "--dataset=", 10)) return argv[i] + 10;
    }
    return NULL;
}

/* 0 when the command takes dataset `name` (or has no --dataset); otherwise logs that the dataset is
 * unknown, with the closest known name and the list, and returns 2. `train` takes the 2D datasets
 * and the image ones; eval, probe and quality the image ones (probe explains itself why not `folder`). */
static int check_dataset(command_id id, const char *name) {
    if (!name || find_option(id, "dataset", 7) < 0 || fce_is_image_dataset(name)) return 0;
    int takes_2d = id == CMD_TRAIN_2D || id == CMD_IMAGE_TRAIN;
    fce_cli_suggest s;
    fce_cli_suggest_begin(&s, name, strlen(name));
    char list[256] = "";
    size_t used = 0;
    for (int k = 0; takes_2d && k < FCE_DATA2D_COUNT; k++) {
        const char *d = fce_data2d_name((fce_data2d_kind)k);
        if (!strcmp(d, name)) return 0;
        fce_cli_suggest_add(&s, d);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s, ", d);
    }
    for (size_t k = 0; k < N_IMAGE_DATASETS; k++) {
        fce_cli_suggest_add(&s, IMAGE_DATASETS[k]);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", IMAGE_DATASETS[k],
                                 k + 1 < N_IMAGE_DATASETS ? ", " : "");
    }
    char hint[64] = "";
    if (s.best) snprintf(hint, sizeof hint, " (did you mean %s?)", s.best);
    fce_log_error("--dataset: unknown dataset '%s'%s; fce-gpu %s takes %s", name, hint, COMMANDS[id].name, list);
    return 2;
}

/* ---- commands ---- */

/* The command named `name` (its arguments decide which trainer `train` is); 0 if none. */
static int find_command(const char *name, int argc, char **argv, command_id *id) {
    if (!strcmp(name, "train")) {
        const char *ds = dataset_arg(argc, argv);
        *id = ds && fce_is_image_dataset(ds) ? CMD_IMAGE_TRAIN : CMD_TRAIN_2D;
        return 1;
    }
    for (int c = 0; c < N_COMMANDS; c++)
        if (!strcmp(COMMANDS[c].name, name)) {
            *id = (command_id)c;
            return 1;
        }
    return 0;
}

static void report_unknown_command(const char *name) {
    static const char *const others[] = {"info", "help"};
    fce_cli_suggest s;
    fce_cli_suggest_begin(&s, name, strlen(name));
    for (int c = 0; c < N_COMMANDS; c++) fce_cli_suggest_add(&s, COMMANDS[c].name);
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) fce_cli_suggest_add(&s, others[k]);
    if (s.best) fce_log_error("unknown command '%s' (did you mean %s?)", name, s.best);
    else fce_log_error("unknown command '%s'", name);
    print_usage(stderr);
}

static int exit_code(fce_status st) {
    if (st == FCE_STATUS_OK) return 0;
    return st == FCE_STATUS_ERR_CONFIG ? 2 : 1;
}

/* `train` in the mpirun job that started this process, if any (dist/dist.h): ranks other than 0
 * print no progress, and a failure on any rank ends the job with that rank's exit code. */
static int run_train(command_id id, any_config *cfg) {
    fce_dist *d = NULL;
    fce_status st = fce_dist_init(&d);
    if (st == FCE_STATUS_OK) {
        int *quiet = id == CMD_TRAIN_2D ? &cfg->train_2d.quiet : &cfg->image_train.quiet;
        *quiet |= !fce_dist_is_root(d);
        if (id == CMD_TRAIN_2D) cfg->train_2d.dist = d;
        else cfg->image_train.dist = d;
        if (fce_dist_size(d) > 1 && !*quiet)
            fce_log_info("a job of %d ranks: --batch is the global batch, split evenly over them; rank 0 "
                         "writes the files", fce_dist_size(d));
        st = command_run(id, cfg);
    }
    return fce_dist_finalize(d, exit_code(st));
}

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

static const char INFO_ABOUT[] =
    "usage: fce-gpu info\n\n"
    "Prints the version and git commit, whether the CUDA backend was built, the PNG output, whether\n"
    "multi-process training (MPI; NCCL on GPUs) was built, and whether a GPU is usable (and why\n"
    "not). Takes no options.\n";

static int cmd_info(int argc, char **argv) {
    if (argc > 0 && is_help(argv[0])) {
        fputs(INFO_ABOUT, stdout);
        return 0;
    }
    if (argc > 0) {
        fce_log_error("info takes no options: '%s' (see fce-gpu info --help)", argv[0]);
        return 2;
    }
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
    const char *mpi = fce_dist_have_mpi() ? "yes" : "no", *nccl = fce_dist_have_nccl() ? "yes" : "no";
    const char *graphs_env = getenv("FCE_CUDA_GRAPHS");
    const char *graphs = !strcmp(cuda, "no") ? "no (the CPU backends run op by op)"
                         : graphs_env && !strcmp(graphs_env, "0") ? "off (FCE_CUDA_GRAPHS=0)"
                                                                   : "on (FCE_CUDA_GRAPHS=0 turns them off)";
    printf("fce-gpu %s (git %s)\nCUDA backend built: %s\nPNG output: %s\nMPI (mpirun -np N train): %s\n"
           "NCCL (GPU all-reduce): %s\nCUDA graphs (one launch per step): %s\nGPU usable: %s%s%s\n",
           FCE_VERSION_STRING, FCE_GIT_HASH, cuda, png, mpi, nccl, graphs, gpu ? "yes" : "no", gpu ? "" : " - ",
           gpu ? "" : reason);
    return 0;
}

/* `fce-gpu help [COMMAND]`: the overview, or that command's --help. */
static int cmd_help(int argc, char **argv) {
    command_id id;
    if (argc == 0) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[0], "info")) {
        fputs(INFO_ABOUT, stdout);
        return 0;
    }
    if (!find_command(argv[0], 0, NULL, &id)) {
        report_unknown_command(argv[0]);
        return 2;
    }
    print_help(stdout, id);
    return 0;
}

/* Parses a command's options and runs it. An unknown dataset is reported first (it decides which
 * options `train` takes), unless --help asks for the option list. */
static int run_command(command_id id, int argc, char **argv) {
    int help = 0;
    for (int i = 0; i < argc; i++) help |= is_help(argv[i]);
    int r = help ? 0 : check_dataset(id, dataset_arg(argc, argv));
    if (r) return r;
    any_config cfg;
    unsigned char seen[N_OPTIONS] = {0};
    config_defaults(id, &cfg);
    r = parse_opts(argc, argv, id, &cfg, seen);
    if (r) return r == -1 ? 0 : r;
    r = check_rules(id, seen);
    if (r) return r;
    if (id == CMD_TRAIN_2D || id == CMD_IMAGE_TRAIN) return run_train(id, &cfg);
    return exit_code(command_run(id, &cfg));
}

int fce_cli_main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || is_help(cmd)) return cmd_help(argc - 2, argv + 2);
    if (!strcmp(cmd, "--version")) {
        printf("fce-gpu %s (git %s)\n", FCE_VERSION_STRING, FCE_GIT_HASH);
        return 0;
    }
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    command_id id;
    if (!find_command(cmd, argc - 2, argv + 2, &id)) {
        report_unknown_command(cmd);
        return 2;
    }
    return run_command(id, argc - 2, argv + 2);
}

/* probe.c: `fce-gpu probe`, the linear-probe experiment of paper Figure 4 (probe.h).
 *
 * Steps (everything numeric on ctx's backend; the pieces are in probe_features.c, probe_linear.c,
 * probe_supervised.c, probe_plot.c):
 *   1. the checkpoint: an ebm.fce (or a run folder holding one) written by train --mode fce; its
 *      header gives the architecture and the --n-bits of its inputs;
 *   2. the training split (--data-dir) and the test split (--test-data, else --data-dir's test
 *      split; its first --test-n pictures); both must carry labels;
 *   3. the labelled set of budget k = positions [0, k) of the seeded shuffle of the training split
 *      (stream fce_derive_seed(seed, 21), epoch 0): nested across budgets, class balance NOT
 *      enforced (with k = 1000 of CIFAR-10 a class gets about 100 ± 10 pictures);
 *   4. fce and random: the features of the max-budget training pictures and of the test pictures
 *      are computed once per EBM (the trained one; then a fresh one from fce_ebm_image_init with
 *      fce_derive_seed(seed, 22)), kept on the device, and a linear probe is trained per budget;
 *   5. supervised: per budget, the EBM architecture with 10 outputs, trained end to end;
 *   6. outputs in --out: metrics.jsonl (one line per method and budget, written as each finishes),
 *      probe.json (written to .tmp and renamed; also printed to stdout) and probe.png.
 * Exit codes: a malformed flag or a budget above the training split's size is a usage error (2);
 * unlabelled data, a file that is not an EBM, a shape mismatch, I/O errors or a diverged
 * classifier are runtime failures (1). */
#define _POSIX_C_SOURCE 200809L
#include "fce/probe.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fce/backend.h"
#include "fce/dataset.h"
#include "fce/log.h"
#include "fce/philox.h"
#include "fce/train_image.h"
#include "util/fs_util.h"
#include "util/json.h"
#include "data/image_common.h"
#include "probe/probe_internal.h"
#include "formats/ebm_image_file.h"

#define MAX_BUDGETS 32
#define N_METHODS 3
enum { M_FCE = 0, M_RANDOM = 1, M_SUP = 2 };
static const char *const METHOD_NAMES[N_METHODS] = {"fce", "random", "supervised"};

void fce_probe_config_defaults(fce_probe_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "cifar10");
    snprintf(c->labels, sizeof c->labels, "1000,2000,4000");
    snprintf(c->methods, sizeof c->methods, "fce,random,supervised");
    snprintf(c->out_dir, sizeof c->out_dir, "runs/probe");
    snprintf(c->device, sizeof c->device, "auto");
    c->seed = 1;
    c->batch = 128;
    c->epochs = 100;
    c->max_steps = 20000;
    c->lr = 1e-3f;
    c->sup_epochs = 50;
    c->sup_lr = 1e-3f;
    c->feature_batch = 500;
}

typedef struct probe_run {
    fce_probe_config cfg;
    int budgets[MAX_BUDGETS], n_budgets, use[N_METHODS];
    char ebm_path[1100];
    int n_bits, n_te, kmax, F;
    fce_image_set train, test;
    fce_ctx ctx;
    int have_ctx;
    fce_ebm_image *ebm;
    size_t *order;
    int32_t *h_ytr, *h_yte, *d_yte;
    float *d_ftr, *d_fte;
    fce_probe_result res[N_METHODS][MAX_BUDGETS];
    double acc[N_METHODS][MAX_BUDGETS];
    double feature_seconds[N_METHODS]; /* fce, random: computing the features once */
    FILE *metrics;
} probe_run;

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* --labels: comma-separated positive integers, sorted ascending here; duplicates refused. */
static fce_status parse_budgets(probe_run *p) {
    const char *s = p->cfg.labels;
    p->n_budgets = 0;
    while (*s) {
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 1 || v > 100000000L || (*end && *end != ',') ||
            p->n_budgets == MAX_BUDGETS) {
            fce_log_error("--labels: '%s' is not a comma-separated list of at most %d positive "
                          "integers (e.g. 1000,2000,4000)", p->cfg.labels, MAX_BUDGETS);
            return FCE_STATUS_ERR_CONFIG;
        }
        p->budgets[p->n_budgets++] = (int)v;
        s = *end ? end + 1 : end;
    }
    if (p->n_budgets == 0)
        return fce_config_error("--labels: give at least one budget, e.g. 1000,2000,4000");
    qsort(p->budgets, (size_t)p->n_budgets, sizeof(int), cmp_int);
    for (int i = 1; i < p->n_budgets; i++)
        if (p->budgets[i] == p->budgets[i - 1]) {
            fce_log_error("--labels: budget %d is given twice", p->budgets[i]);
            return FCE_STATUS_ERR_CONFIG;
        }
    p->kmax = p->budgets[p->n_budgets - 1];
    return FCE_STATUS_OK;
}

static fce_status parse_methods(probe_run *p) {
    char buf[sizeof p->cfg.methods];
    snprintf(buf, sizeof buf, "%s", p->cfg.methods);
    int any = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int m = 0; m < N_METHODS; m++)
            if (!strcmp(t, METHOD_NAMES[m])) p->use[m] = found = any = 1;
        if (!found) {
            fce_log_error("--methods: '%s' is not one of fce, random, supervised", t);
            return FCE_STATUS_ERR_CONFIG;
        }
    }
    if (!any) return fce_config_error("--methods: give at least one of fce, random, supervised");
    return FCE_STATUS_OK;
}

static fce_status validate(probe_run *p) {
    const fce_probe_config *c = &p->cfg;
    if (!c->checkpoint[0])
        return fce_config_error("--checkpoint is required (an ebm.fce or its run folder)");
    if (strcmp(c->dataset, "cifar10") && strcmp(c->dataset, "svhn") && strcmp(c->dataset, "folder"))
        return fce_config_error("--dataset: not one of cifar10, svhn, folder");
    if (!c->data_dir[0]) return fce_config_error("--data-dir is required");
    if (!c->out_dir[0]) return fce_config_error("--out is required");
    if (c->batch < 1 || c->batch > 100000) return fce_config_error("--batch must be in 1..100000");
    if (c->epochs < 1) return fce_config_error("--epochs must be >= 1");
    if (c->sup_epochs < 1) return fce_config_error("--sup-epochs must be >= 1");
    if (c->max_steps < 0 || c->sup_max_steps < 0)
        return fce_config_error("--max-steps and --sup-max-steps must be >= 0 (0: no cap)");
    if (!(c->lr > 0) || !(c->sup_lr > 0)) return fce_config_error("--lr and --sup-lr must be > 0");
    if (!(c->wd >= 0) || c->wd * c->lr >= 1)
        return fce_config_error("--wd must be >= 0 with --lr x --wd < 1");
    if (c->test_n < 0) return fce_config_error("--test-n must be >= 0 (0: the whole test split)");
    if (c->feature_batch < 1 || c->feature_batch > 100000)
        return fce_config_error("--feature-batch must be in 1..100000");
    FCE_TRY(parse_budgets(p));
    return parse_methods(p);
}

/* The checkpoint: a run folder means its ebm.fce. */
static fce_status resolve_checkpoint(probe_run *p) {
    struct stat sb;
    const char *c = p->cfg.checkpoint;
    if (stat(c, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(p->ebm_path, sizeof p->ebm_path, "%s/ebm.fce", c);
    else
        snprintf(p->ebm_path, sizeof p->ebm_path, "%s", c);
    fce_image_fce_state s;
    fce_status st = fce_ebm_image_file_state(p->ebm_path, &s);
    if (st == FCE_STATUS_ERR_FORMAT)
        fce_log_error("--checkpoint %s: the probe needs the EBM of an image FCE run (<run>/ebm.fce "
                      "or the run folder), not a flow checkpoint", p->ebm_path);
    if (st != FCE_STATUS_OK) return st;
    p->n_bits = (int)s.n_bits;
    if (s.base_kind == FCE_EBM_BASE_FLOW && !p->cfg.quiet)
        fce_log_info("%s is an EBM on a flow base (f = log q0 + g): the features are g's", p->ebm_path);
    return FCE_STATUS_OK;
}

static fce_status load_data(probe_run *p) {
    const fce_probe_config *c = &p->cfg;
    FCE_TRY(fce_image_load_split(c->dataset, c->data_dir, 1, &p->train));
    const char *tdir = c->test_data[0] ? c->test_data : c->data_dir;
    FCE_TRY(fce_image_load_split(c->dataset, tdir, 0, &p->test));
    if (!p->train.labels || !p->test.labels) {
        fce_log_error("%s: the pictures have no class labels; the probe needs labelled data (a "
                      "folder gets them from a labels.txt of \"NAME LABEL\" lines)",
                      p->train.labels ? tdir : c->data_dir);
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    if (p->train.H != p->test.H || p->train.W != p->test.W || p->train.C != p->test.C) {
        fce_log_error("%s: test pictures are %dx%dx%d but the training ones (%s) are %dx%dx%d", tdir,
                      p->test.H, p->test.W, p->test.C, c->data_dir, p->train.H, p->train.W,
                      p->train.C);
        return FCE_STATUS_ERR_FORMAT;
    }
    if ((size_t)p->kmax > p->train.n) {
        fce_log_error("--labels: budget %d is larger than the training split (%zu pictures in %s)",
                      p->kmax, p->train.n, c->data_dir);
        return FCE_STATUS_ERR_CONFIG;
    }
    p->n_te = c->test_n > 0 && (size_t)c->test_n < p->test.n ? c->test_n : (int)p->test.n;
    p->order = malloc(p->train.n * sizeof(size_t));
    p->h_ytr = malloc((size_t)p->kmax * sizeof(int32_t));
    p->h_yte = malloc((size_t)p->n_te * sizeof(int32_t));
    if (!p->order || !p->h_ytr || !p->h_yte) {
        fce_log_error("probe: out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    fce_image_set_shuffle_order(p->train.n, fce_derive_seed(c->seed, 21), 0, p->order);
    for (int i = 0; i < p->kmax; i++) p->h_ytr[i] = p->train.labels[p->order[i]];
    for (int i = 0; i < p->n_te; i++) p->h_yte[i] = p->test.labels[i];
    return FCE_STATUS_OK;
}

static fce_status setup(probe_run *p) {
    fce_probe_config *c = &p->cfg;
    FCE_TRY(validate(p));
    FCE_TRY(resolve_checkpoint(p));
    FCE_TRY(load_data(p));
    FCE_TRY(fce_ctx_init(&p->ctx, c->device));
    p->have_ctx = 1;
    fce_ctx *ctx = &p->ctx;
    FCE_TRY(fce_ebm_image_load_file(p->ebm_path, ctx, &p->ebm));
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(p->ebm);
    if (ec->H != p->train.H || ec->W != p->train.W || ec->C != p->train.C) {
        fce_log_error("%s: the EBM takes %dx%dx%d pictures, the data (%s) are %dx%dx%d",
                      p->ebm_path, ec->H, ec->W, ec->C, c->data_dir, p->train.H, p->train.W,
                      p->train.C);
        return FCE_STATUS_ERR_FORMAT;
    }
    p->F = fce_ebm_image_feature_dim(p->ebm);
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&p->d_yte, (size_t)p->n_te * sizeof(int32_t)));
    FCE_TRY(ctx->ops->upload(ctx, p->d_yte, p->h_yte, (size_t)p->n_te * sizeof(int32_t)));
    FCE_TRY(fce_mkdirs(c->out_dir));
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", c->out_dir);
    p->metrics = fopen(path, "w");
    if (!p->metrics) {
        fce_log_error("cannot write %s: %s", path, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    for (int m = 0; m < N_METHODS; m++)
        for (int i = 0; i < MAX_BUDGETS; i++) p->acc[m][i] = NAN;
    if (!c->quiet)
        fce_log_info("probe %s: %zu training pictures (%s), %d test pictures, budgets up to %d | EBM "
                     "%s (%dx%dx%d, widths %d/%d/%d), features %d = %dx%dx%d (third lReLU) | "
                     "device %s", c->dataset, p->train.n, c->data_dir, p->n_te, p->kmax,
                     p->ebm_path, ec->H, ec->W, ec->C, fce_ebm_image_width(p->ebm, 0),
                     fce_ebm_image_width(p->ebm, 1), fce_ebm_image_width(p->ebm, 2), p->F,
                     ec->H / 8, ec->W / 8, fce_ebm_image_width(p->ebm, 2), ctx->device_name);
    return FCE_STATUS_OK;
}

static void probe_free(probe_run *p) {
    if (p->metrics) fclose(p->metrics);
    if (p->have_ctx) {
        fce_ctx *ctx = &p->ctx;
        ctx->ops->release(ctx, p->d_yte);
        ctx->ops->release(ctx, p->d_ftr);
        ctx->ops->release(ctx, p->d_fte);
        fce_ebm_image_free(p->ebm);
        fce_ctx_free(ctx);
    }
    free(p->order);
    free(p->h_ytr);
    free(p->h_yte);
    fce_image_set_free(&p->train);
    fce_image_set_free(&p->test);
}

/* Records one result: the metrics line and the stderr line. */
static fce_status record(probe_run *p, int m, int i, const fce_probe_result *r) {
    p->res[m][i] = *r;
    p->acc[m][i] = r->test_acc;
    FILE *f = p->metrics;
    fce_json j;
    fce_json_begin(&j, f);
    fce_json_str(&j, "method", METHOD_NAMES[m]);
    fce_json_int(&j, "k", p->budgets[i]);
    fce_json_num(&j, "test_acc", r->test_acc, 6);
    fce_json_num(&j, "test_loss", r->test_loss, 6);
    fce_json_num(&j, "train_acc", r->train_acc, 6);
    fce_json_num(&j, "train_loss", r->train_loss, 6);
    fce_json_int(&j, "steps", r->steps);
    fce_json_num(&j, "seconds", r->seconds, 6);
    fce_json_end(&j, 1);
    if (fflush(f) != 0) {
        fce_log_error("cannot write %s/metrics.jsonl", p->cfg.out_dir);
        return FCE_STATUS_ERR_IO;
    }
    if (!p->cfg.quiet)
        fprintf(stderr, "probe %s k=%d: test acc %.4f (loss %.4f) | train acc %.4f | %ld steps | "
                "%.1f s\n", METHOD_NAMES[m], p->budgets[i], r->test_acc, r->test_loss,
                r->train_acc, r->steps, r->seconds);
    return FCE_STATUS_OK;
}

static fce_probe_train_opts linear_opts(const probe_run *p, const char *what) {
    fce_probe_train_opts o = {p->cfg.batch, p->cfg.epochs, p->cfg.max_steps, p->cfg.lr, p->cfg.wd,
                              fce_derive_seed(p->cfg.seed, 25), p->n_bits, p->cfg.quiet, what};
    return o;
}

/* fce or random: features once, then one linear probe per budget. */
static fce_status run_features_method(probe_run *p, int m) {
    fce_ctx *ctx = &p->ctx;
    fce_ebm_image *e = p->ebm, *rnd = NULL;
    if (m == M_RANDOM) {
        fce_ebm_image_config rc = *fce_ebm_image_cfg(p->ebm);
        rc.n_out = 0;
        FCE_TRY(fce_ebm_image_init(&rnd, ctx, &rc, fce_derive_seed(p->cfg.seed, 22)));
        e = rnd;
    }
    const size_t F = (size_t)p->F;
    fce_status st = ctx->ops->alloc(ctx, (void **)&p->d_ftr, (size_t)p->kmax * F * sizeof(float));
    if (st == FCE_STATUS_OK)
        st = ctx->ops->alloc(ctx, (void **)&p->d_fte, (size_t)p->n_te * F * sizeof(float));
    const char *what = METHOD_NAMES[m];
    const double t0 = fce_now_seconds();
    if (st == FCE_STATUS_OK)
        st = fce_probe_features(e, &p->train, p->order, (size_t)p->kmax, p->cfg.feature_batch,
                                p->n_bits, fce_derive_seed(p->cfg.seed, 23), p->d_ftr,
                                p->cfg.quiet, what);
    if (st == FCE_STATUS_OK)
        st = fce_probe_features(e, &p->test, NULL, (size_t)p->n_te, p->cfg.feature_batch,
                                p->n_bits, fce_derive_seed(p->cfg.seed, 24), p->d_fte,
                                p->cfg.quiet, what);
    p->feature_seconds[m] = fce_now_seconds() - t0;
    if (st == FCE_STATUS_OK && !p->cfg.quiet)
        fprintf(stderr, "probe %s: features of %d + %d pictures in %.1f s\n", what, p->kmax,
                p->n_te, p->feature_seconds[m]);
    for (int i = 0; st == FCE_STATUS_OK && i < p->n_budgets; i++) {
        char tag[64];
        snprintf(tag, sizeof tag, "%s k=%d", what, p->budgets[i]);
        fce_probe_train_opts o = linear_opts(p, tag);
        fce_probe_result r;
        st = fce_probe_linear(ctx, p->d_ftr, p->h_ytr, p->budgets[i], p->d_fte, p->d_yte, p->n_te,
                              p->F, FCE_PROBE_CLASSES, &o, &r);
        if (st == FCE_STATUS_OK) st = record(p, m, i, &r);
    }
    ctx->ops->release(ctx, p->d_ftr);
    ctx->ops->release(ctx, p->d_fte);
    p->d_ftr = p->d_fte = NULL;
    fce_ebm_image_free(rnd);
    return st;
}

static fce_status run_supervised(probe_run *p) {
    for (int i = 0; i < p->n_budgets; i++) {
        char tag[64];
        snprintf(tag, sizeof tag, "supervised k=%d", p->budgets[i]);
        fce_probe_train_opts o = {p->cfg.batch, p->cfg.sup_epochs, p->cfg.sup_max_steps,
                                  p->cfg.sup_lr, 0.0f, fce_derive_seed(p->cfg.seed, 26), p->n_bits,
                                  p->cfg.quiet, tag};
        fce_probe_result r;
        FCE_TRY(fce_probe_supervised(&p->ctx, fce_ebm_image_cfg(p->ebm), &p->train, p->order,
                                     p->budgets[i], &p->test, p->d_yte, p->n_te,
                                     FCE_PROBE_CLASSES, &o, &r));
        FCE_TRY(record(p, M_SUP, i, &r));
    }
    return FCE_STATUS_OK;
}

static void write_json(probe_run *p, FILE *f, double seconds) {
    const fce_probe_config *c = &p->cfg;
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(p->ebm);
    fce_json j;
    fce_json_begin(&j, f);
    fce_json_str(&j, "checkpoint", p->ebm_path);
    fce_json_str(&j, "dataset", c->dataset);
    fce_json_str(&j, "device", p->ctx.device_name);
    fce_json_str(&j, "feature_layer", "lrelu3");
    fce_json_str(&j, "feature_layer_desc", "output of the third lReLU (conv 4x4 stride 2 + lReLU "
                                           "0.2), NHWC, before the last conv");
    fce_json_array(&j, "feature_dims");
    fce_json_int(&j, NULL, ec->H / 8);
    fce_json_int(&j, NULL, ec->W / 8);
    fce_json_int(&j, NULL, fce_ebm_image_width(p->ebm, 2));
    fce_json_close(&j);
    fce_json_int(&j, "n_features", p->F);
    fce_json_str(&j, "standardisation", "per feature, mean and std of the k labelled training features");
    fce_json_int(&j, "n_train", (long long)p->train.n);
    fce_json_int(&j, "n_test", p->n_te);
    fce_json_str(&j, "label_subset", "first k of a seeded shuffle of the training split, nested, "
                                     "not class-balanced");
    fce_json_int(&j, "seed", (long long)c->seed);
    fce_json_int(&j, "n_bits", p->n_bits);
    fce_json_array(&j, "methods");
    for (int m = 0; m < N_METHODS; m++)
        if (p->use[m]) fce_json_str(&j, NULL, METHOD_NAMES[m]);
    fce_json_close(&j);
    fce_json_object(&j, "linear");
    fce_json_int(&j, "epochs", c->epochs);
    fce_json_int(&j, "max_steps", c->max_steps);
    fce_json_int(&j, "batch", c->batch);
    fce_json_num(&j, "lr", (double)c->lr, 0);
    fce_json_num(&j, "wd", (double)c->wd, 0);
    fce_json_str(&j, "optimizer", "adam");
    fce_json_close(&j);
    fce_json_object(&j, "supervised");
    fce_json_int(&j, "epochs", c->sup_epochs);
    fce_json_int(&j, "max_steps", c->sup_max_steps);
    fce_json_int(&j, "batch", c->batch);
    fce_json_num(&j, "lr", (double)c->sup_lr, 0);
    fce_json_str(&j, "optimizer", "adam");
    fce_json_close(&j);
    fce_json_array(&j, "budgets");
    for (int i = 0; i < p->n_budgets; i++) {
        fce_json_object(&j, NULL);
        fce_json_int(&j, "k", p->budgets[i]);
        double total = 0;
        for (int m = 0; m < N_METHODS; m++) {
            const fce_probe_result *r = &p->res[m][i];
            char key[64];
            snprintf(key, sizeof key, "%s_acc", METHOD_NAMES[m]);
            fce_json_num(&j, key, p->use[m] ? r->test_acc : NAN, 6);
            snprintf(key, sizeof key, "%s_train_acc", METHOD_NAMES[m]);
            fce_json_num(&j, key, p->use[m] ? r->train_acc : NAN, 6);
            snprintf(key, sizeof key, "%s_steps", METHOD_NAMES[m]);
            fce_json_num(&j, key, p->use[m] ? (double)r->steps : NAN, 6);
            snprintf(key, sizeof key, "%s_seconds", METHOD_NAMES[m]);
            fce_json_num(&j, key, p->use[m] ? r->seconds : NAN, 6);
            if (p->use[m]) total += r->seconds;
        }
        fce_json_num(&j, "seconds", total, 6);
        fce_json_close(&j);
    }
    fce_json_close(&j);
    fce_json_object(&j, "feature_seconds");
    fce_json_num(&j, "fce", p->use[M_FCE] ? p->feature_seconds[M_FCE] : NAN, 6);
    fce_json_num(&j, "random", p->use[M_RANDOM] ? p->feature_seconds[M_RANDOM] : NAN, 6);
    fce_json_close(&j);
    fce_json_num(&j, "seconds", seconds, 6);
    fce_json_end(&j, 1);
}

static fce_status write_outputs(probe_run *p, double seconds) {
    char *json = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&json, &len);
    if (!mem) {
        fce_log_error("probe: out of host memory for probe.json");
        return FCE_STATUS_ERR_NOMEM;
    }
    write_json(p, mem, seconds);
    fclose(mem);
    char path[1100], tmp[1110];
    snprintf(path, sizeof path, "%s/probe.json", p->cfg.out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fwrite(json, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        fce_log_error("cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        free(json);
        return FCE_STATUS_ERR_IO;
    }
    fputs(json, stdout);
    fflush(stdout);
    free(json);
    const double *acc[N_METHODS];
    const char *names[N_METHODS];
    int n = 0;
    for (int m = 0; m < N_METHODS; m++)
        if (p->use[m]) acc[n] = p->acc[m], names[n++] = METHOD_NAMES[m];
    char title[96];
    snprintf(title, sizeof title, "%s: linear probe, test accuracy", p->cfg.dataset);
    snprintf(path, sizeof path, "%s/probe.png", p->cfg.out_dir);
    return fce_probe_plot(path, title, p->budgets, p->n_budgets, acc, names, n);
}

static fce_status run(probe_run *p) {
    double t0 = fce_now_seconds();
    FCE_TRY(setup(p));
    if (p->use[M_FCE]) FCE_TRY(run_features_method(p, M_FCE));
    if (p->use[M_RANDOM]) FCE_TRY(run_features_method(p, M_RANDOM));
    if (p->use[M_SUP]) FCE_TRY(run_supervised(p));
    for (int i = 0; i < p->n_budgets; i++) {
        fprintf(stderr, "probe k=%d:", p->budgets[i]);
        for (int m = 0; m < N_METHODS; m++)
            if (p->use[m]) fprintf(stderr, " %s %.4f", METHOD_NAMES[m], p->acc[m][i]);
        fprintf(stderr, " (test accuracy, %d test pictures)\n", p->n_te);
    }
    FCE_TRY(write_outputs(p, fce_now_seconds() - t0));
    if (!p->cfg.quiet)
        fce_log_info("wrote probe.json, metrics.jsonl and probe.png in %s", p->cfg.out_dir);
    return FCE_STATUS_OK;
}

fce_status fce_probe_run(const fce_probe_config *c) {
    probe_run *p = calloc(1, sizeof *p);
    if (!p) return FCE_STATUS_ERR_NOMEM;
    p->cfg = *c;
    fce_status st = run(p);
    probe_free(p);
    free(p);
    return st;
}

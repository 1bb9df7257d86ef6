/* quality.c: `fce-gpu quality` (fce/quality.h): reads the two picture sets, checks the options,
 * runs the measurement (quality_measure.c) and writes the JSON report: the figures per feature
 * seed, their mean and sd over feature seeds, for the fakes and for the floor. */
#define _POSIX_C_SOURCE 200809L
#include "fce/quality.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_common.h"
#include "eval/quality_internal.h"
#include "fce/backend.h"
#include "fce/log.h"
#include "util/fs_util.h"
#include "util/json.h"

/* KID's subsets as in Bińkowski et al.'s code and clean-fid (100 of 1000); k = 3 as in
 * Kynkäänniemi et al. */
static const fce_quality_config DEFAULTS = {
    .dataset = "folder", .device = "auto", .n = 2000, .feature_seeds = 3, .k = 3,
    .subsets = 100, .subset_size = 1000, .seed = 1, .batch = 250,
};

void fce_quality_config_defaults(fce_quality_config *c) { *c = DEFAULTS; }

static fce_status check_options(const fce_quality_config *c) {
    if (!c->real[0]) return fce_config_error("--real is required (a folder of pictures, or --dataset cifar10|svhn data)");
    if (!c->fake[0]) return fce_config_error("--fake is required (a folder of pictures, e.g. from sample --out-dir)");
    if (strcmp(c->dataset, "folder") && strcmp(c->dataset, "cifar10") && strcmp(c->dataset, "svhn"))
        return fce_config_error("--dataset: not one of folder, cifar10, svhn");
    if (c->n < 2 || c->n > 10000) return fce_config_error("--n must be in 2..10000 (memory: 24·n² bytes)");
    if (c->feature_seeds < 1 || c->feature_seeds > FCE_QUALITY_MAX_SEEDS)
        return fce_config_error("--feature-seeds must be in 1..16");
    if (c->k < 1 || c->k > 100) return fce_config_error("--k must be in 1..100");
    if (c->subsets < 1 || c->subsets > 100000) return fce_config_error("--subsets must be in 1..100000");
    if (c->subset_size < 2) return fce_config_error("--subset-size must be >= 2");
    if (c->batch < 1 || c->batch > 100000) return fce_config_error("--batch must be in 1..100000");
    return FCE_STATUS_OK;
}

/* n = --n capped by the fakes and by the real pictures (half of them with the floor). */
static fce_status choose_n(const fce_quality_config *c, const fce_image_set *real,
                           const fce_image_set *fake, size_t *n) {
    size_t cap_real = c->no_floor ? real->n : real->n / 2;
    *n = (size_t)c->n;
    if (*n > fake->n) *n = fake->n;
    if (*n > cap_real) *n = cap_real;
    if (*n <= (size_t)c->k || *n < 2) {
        fce_log_error("quality: %zu real and %zu fake pictures give n = %zu per set%s; precision and "
                      "recall with --k %d need n > k (more pictures, a smaller --k, or --no-floor)",
                      real->n, fake->n, *n, c->no_floor ? "" : " (the floor takes half of the real ones)",
                      c->k);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (*n < (size_t)c->n && !c->quiet)
        fce_log_info("quality: using n = %zu pictures per set (%zu real%s, %zu fake available)", *n,
                     real->n, c->no_floor ? "" : ", half of them for the floor", fake->n);
    return FCE_STATUS_OK;
}

/* mean ± sd over n values (sd with n−1; 0 for one value, which the JSON reports as null). */
static void mean_sd(const double *v, int n, double *m, double *sd) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *m = s / n;
    for (int i = 0; i < n; i++) ss += (v[i] - *m) * (v[i] - *m);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

/* "key": {"mean": m, "sd": s} over the seeds' values (sd with n−1; null for one seed). */
static void json_mean_sd(fce_json *j, const char *key, const double *v, int n) {
    double m, sd;
    mean_sd(v, n, &m, &sd);
    fce_json_object(j, key);
    fce_json_num(j, "mean", m, 6);
    fce_json_num(j, "sd", n > 1 ? sd : NAN, 6);
    fce_json_close(j);
}

/* The figures of a comparison, by their JSON names. */
static const struct {
    const char *name;
    size_t offset;
} FIGURES[] = {
    {"kid", offsetof(fce_quality_scores, kid)},
    {"kid_sd_subsets", offsetof(fce_quality_scores, kid_sd)},
    {"precision", offsetof(fce_quality_scores, precision)},
    {"recall", offsetof(fce_quality_scores, recall)},
    {"density", offsetof(fce_quality_scores, density)},
    {"coverage", offsetof(fce_quality_scores, coverage)},
};
#define N_FIGURES (sizeof FIGURES / sizeof FIGURES[0])

static double figure(const fce_quality_scores *s, size_t f) {
    return *(const double *)((const char *)s + FIGURES[f].offset);
}

/* The mean ± sd over seeds of each figure of scores[0..n). */
static void json_summary(fce_json *j, const char *key, const fce_quality_scores *scores, int n) {
    fce_json_object(j, key);
    for (size_t f = 0; f < N_FIGURES; f++) {
        double v[FCE_QUALITY_MAX_SEEDS];
        for (int s = 0; s < n; s++) v[s] = figure(&scores[s], f);
        json_mean_sd(j, FIGURES[f].name, v, n);
    }
    fce_json_close(j);
}

static void json_scores(fce_json *j, const char *key, const fce_quality_scores *s) {
    fce_json_object(j, key);
    for (size_t f = 0; f < N_FIGURES; f++) fce_json_num(j, FIGURES[f].name, figure(s, f), 6);
    fce_json_close(j);
}

static void write_json(FILE *f, const fce_quality_config *c, const fce_quality_report *r,
                       const fce_image_set *real, const fce_image_set *fake, const char *device) {
    fce_json j;
    fce_json_begin(&j, f);
    fce_json_str(&j, "real", c->real);
    fce_json_str(&j, "dataset", c->dataset);
    fce_json_str(&j, "fake", c->fake);
    fce_json_int(&j, "n", (long long)r->n);
    fce_json_int(&j, "real_available", (long long)real->n);
    fce_json_int(&j, "fake_available", (long long)fake->n);
    fce_json_int(&j, "height", real->H);
    fce_json_int(&j, "width", real->W);
    fce_json_str(&j, "features", "random conv net: 3x (conv3x3 stride 2 + ReLU), widths 32/64/128, "
                                 "He-normal from Philox(feature seed); per-channel mean and sd over "
                                 "positions of each layer");
    fce_json_int(&j, "feature_dims", r->dims);
    fce_json_str(&j, "kernel", "(x.y/d + 1)^3");
    fce_json_int(&j, "kid_subsets", c->subsets);
    fce_json_int(&j, "kid_subset_size", (long long)r->subset_size);
    fce_json_int(&j, "k", c->k);
    fce_json_uint(&j, "seed", c->seed);
    fce_json_str(&j, "device", device);
    json_summary(&j, "fake", r->fake, r->n_seeds);
    if (!c->no_floor) json_summary(&j, "floor", r->floor, r->n_seeds);
    fce_json_array(&j, "per_seed");
    for (int s = 0; s < r->n_seeds; s++) {
        fce_json_object(&j, NULL);
        fce_json_uint(&j, "feature_seed", r->feature_seed[s]);
        json_scores(&j, "fake", &r->fake[s]);
        if (!c->no_floor) json_scores(&j, "floor", &r->floor[s]);
        fce_json_close(&j);
    }
    fce_json_close(&j);
    fce_json_num(&j, "feature_seconds", r->feature_seconds, 4);
    fce_json_num(&j, "metric_seconds", r->metric_seconds, 4);
    fce_json_end(&j, 1);
}

/* The report on stdout and, with --out, into that file (written to .tmp, then renamed). */
static fce_status write_outputs(const fce_quality_config *c, const fce_quality_report *r,
                                const fce_image_set *real, const fce_image_set *fake, const char *device) {
    write_json(stdout, c, r, real, fake, device);
    fflush(stdout);
    if (!c->out[0]) return FCE_STATUS_OK;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->out);
    FILE *f = fopen(tmp, "w");
    if (f) write_json(f, c, r, real, fake, device); /* the same bytes: the report is a function of r */
    int ok = f && !ferror(f);
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, c->out) != 0) {
        fce_log_error("quality: cannot write %s: %s", c->out, strerror(errno));
        remove(tmp);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

/* One stderr line per comparison: each figure's mean ± sd over the feature seeds (not the KID's
 * sd over subsets, which the JSON has). */
static void log_summary(const fce_quality_config *c, const fce_quality_report *r) {
    if (c->quiet) return;
    for (int w = 0; w < (c->no_floor ? 1 : 2); w++) {
        const fce_quality_scores *sc = w ? r->floor : r->fake;
        char line[512];
        size_t used = 0;
        for (size_t f = 0; f < N_FIGURES; f++) {
            if (FIGURES[f].offset == offsetof(fce_quality_scores, kid_sd)) continue;
            double v[FCE_QUALITY_MAX_SEEDS], m, sd;
            for (int s = 0; s < r->n_seeds; s++) v[s] = figure(&sc[s], f);
            mean_sd(v, r->n_seeds, &m, &sd);
            used += (size_t)snprintf(line + used, sizeof line - used, "%s%s %.*f ± %.*f", used ? " | " : "",
                                     FIGURES[f].name, f == 0 ? 5 : 3, m, f == 0 ? 5 : 3, sd);
        }
        fce_log_info("quality: %s: %s (mean ± sd over %d feature seeds, n = %zu)",
                     w ? "floor (real vs real)" : "fake vs real", line, r->n_seeds, r->n);
    }
}

static fce_status quality_impl(const fce_quality_config *c, fce_ctx *ctx, int *have_ctx,
                               fce_image_set *real, fce_image_set *fake) {
    FCE_TRY(check_options(c));
    FCE_TRY(fce_image_load_split(c->dataset, c->real, 0, real));
    FCE_TRY(fce_folder_load(c->fake, fake));
    if (real->H != fake->H || real->W != fake->W || real->C != fake->C) {
        fce_log_error("quality: the real pictures (%s) are %dx%d but the fakes (%s) are %dx%d: compare "
                      "pictures of one size", c->real, real->W, real->H, c->fake, fake->W, fake->H);
        return FCE_STATUS_ERR_FORMAT;
    }
    fce_quality_opts o = {.feature_seeds = c->feature_seeds, .k = c->k, .subsets = c->subsets,
                          .subset_size = (size_t)c->subset_size, .seed = c->seed,
                          .floor = !c->no_floor, .batch = c->batch, .quiet = c->quiet};
    FCE_TRY(choose_n(c, real, fake, &o.n));
    /* at most half of n: subsets of all n pictures would all be the same set, with sd 0 */
    size_t half = o.n / 2 > 2 ? o.n / 2 : 2;
    if (o.subset_size > half) o.subset_size = half;
    if ((size_t)o.batch > o.n) o.batch = (int)o.n;
    FCE_TRY(fce_ctx_init(ctx, c->device));
    *have_ctx = 1;
    fce_quality_report r;
    FCE_TRY(fce_quality_measure(ctx, real, fake, &o, &r));
    log_summary(c, &r);
    return write_outputs(c, &r, real, fake, ctx->device_name);
}

fce_status fce_quality_run(const fce_quality_config *c) {
    fce_ctx ctx;
    int have_ctx = 0;
    fce_image_set real, fake;
    memset(&real, 0, sizeof real);
    memset(&fake, 0, sizeof fake);
    fce_status st = quality_impl(c, &ctx, &have_ctx, &real, &fake);
    if (have_ctx) fce_ctx_free(&ctx);
    fce_image_set_free(&real);
    fce_image_set_free(&fake);
    return st;
}

/* quality_internal.h: the measurement behind `fce-gpu quality` (fce/quality.h) on pictures already
 * in memory, exposed for the tests: the picture draw, the features of every feature seed and the
 * metrics of the fakes and of the floor. */
#ifndef FCE_EVAL_QUALITY_INTERNAL_H
#define FCE_EVAL_QUALITY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"
#include "fce/dataset.h"
#include "fce/quality.h"

typedef struct fce_quality_opts {
    size_t n;           /* pictures per set: <= fake->n, and <= real->n (floor: <= real->n / 2) */
    int feature_seeds;  /* 1..FCE_QUALITY_MAX_SEEDS */
    int k;              /* 1 <= k < n */
    int subsets;        /* >= 1 */
    size_t subset_size; /* >= 2 (capped by n; the command caps it at n/2) */
    uint64_t seed;
    int floor;          /* also measure real set B against A */
    int batch;
    int quiet;
} fce_quality_opts;

/* One comparison's figures: KID (mean over subsets) with its sd over subsets, and the k-NN ones. */
typedef struct fce_quality_scores {
    double kid, kid_sd, precision, recall, density, coverage;
} fce_quality_scores;

typedef struct fce_quality_report {
    size_t n, subset_size;
    int dims, n_seeds;
    uint64_t feature_seed[FCE_QUALITY_MAX_SEEDS];
    fce_quality_scores fake[FCE_QUALITY_MAX_SEEDS];  /* real A vs fakes */
    fce_quality_scores floor[FCE_QUALITY_MAX_SEEDS]; /* real A vs real B (when opts.floor) */
    double feature_seconds, metric_seconds;
} fce_quality_report;

/* Draws the sets (real A, real B, fakes) from Philox streams of opts->seed, then per feature seed
 * opts->seed + s: features on ctx, KID and precision/recall. Both sets must hold H × W × 3 pictures
 * of one size. */
fce_status fce_quality_measure(fce_ctx *ctx, const fce_image_set *real, const fce_image_set *fake,
                               const fce_quality_opts *opts, fce_quality_report *rep);

/* One comparison on feature matrices (real X: nx × d, fake Y: ny × d). */
fce_status fce_quality_compare(const double *X, size_t nx, const double *Y, size_t ny, int d,
                               const fce_quality_opts *opts, fce_quality_scores *out);

#endif

/* quality.h: `fce-gpu quality`, an offline sample-quality measure for CPU-scale checks: KID and
 * improved precision/recall of a folder of samples (e.g. `fce-gpu sample --out-dir`) against real
 * pictures, in the feature space of fixed, seeded random conv networks (no Inception weights are
 * needed or used), with the spread over feature seeds and a data-versus-data floor.
 *
 * What is compared: n real pictures (set A) against n fakes, and, for the floor, A against n other
 * real pictures (set B, disjoint from A): both sets of each pair have the same size, so the floor
 * is what the measure gives two samples of the data itself. The real pictures are drawn by a
 * seeded shuffle (A = its first n, B = the next n), the fakes likewise. Features:
 * eval/quality_features.h; metrics: eval/quality_metrics.h. Real FID is not this: it needs the
 * Inception network, i.e. pytorch-fid or clean-fid on the PNGs `sample --out-dir` writes (README
 * "Sample quality offline"). */
#ifndef FCE_QUALITY_H
#define FCE_QUALITY_H

#include <stdint.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FCE_QUALITY_MAX_SEEDS 16

typedef struct fce_quality_config {
    char real[1024];    /* the real pictures: a folder (--dataset folder), or a CIFAR-10 / SVHN
                           folder or file (its test split) */
    char dataset[32];   /* folder | cifar10 | svhn: how --real is read */
    char fake[1024];    /* a folder of pictures of the same size (sample --out-dir) */
    int n;              /* pictures per set (capped by the fakes and by half the real pictures) */
    int feature_seeds;  /* random networks: feature seeds seed, seed+1, ... */
    int k;              /* nearest neighbour of the precision/recall radii */
    int subsets;        /* KID subsets */
    int subset_size;    /* KID subset size (capped by n/2, so that the subsets differ) */
    uint64_t seed;      /* the picture draw, the KID subsets, and the first feature seed */
    int no_floor;       /* skip the data-versus-data floor (then n needs only n real pictures) */
    int batch;          /* pictures per feature pass */
    char device[32];
    char out[1024];     /* also write the JSON to this file ("": stdout only) */
    int quiet;
} fce_quality_config;

/* Prints the JSON report on stdout (and writes it to --out). FCE_STATUS_ERR_CONFIG for a usage
 * error (the message names the option), other errors for unreadable pictures, a size mismatch
 * between the two sets, or too few pictures. */
fce_status fce_quality_run(const fce_quality_config *c);
/* Every option's default (what `fce-gpu quality --help` shows). */
void fce_quality_config_defaults(fce_quality_config *c);

#ifdef __cplusplus
}
#endif
#endif

/* image_common.h: the image data as the trainers, eval and probe read it: the dataset split loader
 * and the per-step batch gather. (The architecture presets are the trainers':
 * fce/train_image_config.h.) */
#ifndef FCE_IMAGE_COMMON_H
#define FCE_IMAGE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fce/dataset.h"
#include "fce/philox.h" /* fce_derive_seed */

/* --data-dir naming a regular file reads that one file (any number of CIFAR-10 records, or one
 * SVHN .mat); a folder reads the split's official files (train = 1: training split). */
fce_status fce_image_load_split(const char *dataset, const char *dir, int train, fce_image_set *s);

/* Host gather of the batch of `step` into out (N pictures): sample i = step·N + b is position
 * i mod n of the seeded shuffle of epoch i div n; `order` (n) caches the current epoch's shuffle. */
void fce_image_gather_batch(const fce_image_set *set, size_t *order, uint64_t *order_epoch,
                            int *have_order, uint64_t seed, int64_t step, int N, uint8_t *out);
/* The same for samples first, first + 1, ..., first + N − 1 of the run's sequence. */
void fce_image_gather_rows(const fce_image_set *set, size_t *order, uint64_t *order_epoch, int *have_order,
                           uint64_t seed, uint64_t first, int N, uint8_t *out);

/* The training batches of a run, with one batch of look-ahead so that the host's gather of step
 * k+1 runs while the device computes step k (the backend enqueues asynchronously; the trainers
 * call prefetch after enqueuing a step's passes and before their first read-back). Two host
 * buffers; a batch is a function of (seed, step) only, so prefetching changes no result. */
typedef struct fce_batch_source {
    const fce_image_set *set;
    int N;
    /* A rank of a multi-process job (dist/dist.h) takes rows [row0, row0 + N) of every batch of
     * `global` pictures: samples step·global + row0 + b. Alone: global = N, row0 = 0. */
    int global, row0;
    uint64_t seed;
    uint8_t *buf[2];
    int64_t step_of[2]; /* the step each buffer holds, −1 none */
    int last;           /* the buffer returned by the last get (not overwritten by prefetch) */
    size_t *order;      /* the current epoch's shuffle */
    uint64_t order_epoch;
    int have_order;
} fce_batch_source;

fce_status fce_batch_source_init(fce_batch_source *b, const fce_image_set *set, int N, uint64_t seed);
void fce_batch_source_free(fce_batch_source *b); /* NULL-safe, idempotent */
/* This rank's rows of a batch of `global` (before the first get). */
void fce_batch_source_shard(fce_batch_source *b, int global, int row0);
/* The (N, H, W, C) pictures of `step`: the prefetched buffer when it holds that step, else gathered
 * now. Valid until the next get or prefetch that reuses its buffer (the second call after it). */
const uint8_t *fce_batch_source_get(fce_batch_source *b, int64_t step);
/* Gathers `step` into the buffer the last get did not return. */
void fce_batch_source_prefetch(fce_batch_source *b, int64_t step);

#endif

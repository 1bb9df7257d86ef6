/* image_common.c: see image_common.h. */
#define _POSIX_C_SOURCE 200809L
#include "data/image_common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fce/log.h"

fce_status fce_image_load_split(const char *dataset, const char *dir, int train, fce_image_set *s) {
    struct stat sb;
    int is_file = stat(dir, &sb) == 0 && S_ISREG(sb.st_mode);
    if (!strcmp(dataset, "cifar10"))
        return is_file ? fce_cifar10_load_file(dir, s) : fce_cifar10_load(dir, train, s);
    if (!strcmp(dataset, "svhn"))
        return is_file ? fce_svhn_load_file(dir, s) : fce_svhn_load(dir, train, s);
    if (is_file) {
        fce_log_error("--data-dir %s: the folder dataset needs a directory of pictures", dir);
        return FCE_STATUS_ERR_IO;
    }
    return fce_folder_load(dir, s);
}

fce_status fce_batch_source_init(fce_batch_source *b, const fce_image_set *set, int N, uint64_t seed) {
    memset(b, 0, sizeof *b);
    b->set = set, b->N = N, b->seed = seed;
    b->global = N, b->row0 = 0;
    b->step_of[0] = b->step_of[1] = -1;
    const size_t ND = (size_t)N * set->H * set->W * set->C;
    b->buf[0] = malloc(ND);
    b->buf[1] = malloc(ND);
    b->order = malloc(set->n * sizeof *b->order);
    if (!b->buf[0] || !b->buf[1] || !b->order) {
        fce_batch_source_free(b);
        fce_log_error("out of host memory for two batches of %d pictures and a shuffle of %zu", N,
                      set->n);
        return FCE_STATUS_ERR_NOMEM;
    }
    return FCE_STATUS_OK;
}

void fce_batch_source_free(fce_batch_source *b) {
    if (!b) return;
    free(b->buf[0]);
    free(b->buf[1]);
    free(b->order);
    memset(b, 0, sizeof *b);
}

void fce_batch_source_shard(fce_batch_source *b, int global, int row0) {
    b->global = global, b->row0 = row0;
}

static void source_fill(fce_batch_source *b, int k, int64_t step) {
    const uint64_t first = (uint64_t)step * (uint64_t)b->global + (uint64_t)b->row0;
    fce_image_gather_rows(b->set, b->order, &b->order_epoch, &b->have_order, b->seed, first, b->N, b->buf[k]);
    b->step_of[k] = step;
}

const uint8_t *fce_batch_source_get(fce_batch_source *b, int64_t step) {
    int k = b->step_of[0] == step ? 0 : b->step_of[1] == step ? 1 : -1;
    if (k < 0) source_fill(b, k = 1 - b->last, step);
    b->last = k;
    return b->buf[k];
}

void fce_batch_source_prefetch(fce_batch_source *b, int64_t step) {
    if (b->step_of[0] == step || b->step_of[1] == step) return;
    source_fill(b, 1 - b->last, step);
}

void fce_image_gather_batch(const fce_image_set *set, size_t *order, uint64_t *order_epoch,
                            int *have_order, uint64_t seed, int64_t step, int N, uint8_t *out) {
    fce_image_gather_rows(set, order, order_epoch, have_order, seed, (uint64_t)step * (uint64_t)N, N, out);
}

void fce_image_gather_rows(const fce_image_set *set, size_t *order, uint64_t *order_epoch, int *have_order,
                           uint64_t seed, uint64_t first, int N, uint8_t *out) {
    const size_t n = set->n, D = (size_t)set->H * set->W * set->C;
    for (int b = 0; b < N; b++) {
        uint64_t i = first + (uint64_t)b, epoch = i / n;
        if (!*have_order || epoch != *order_epoch) {
            fce_image_set_shuffle_order(n, seed, epoch, order);
            *order_epoch = epoch;
            *have_order = 1;
        }
        memcpy(out + (size_t)b * D, set->pixels + order[i % n] * D, D);
    }
}

/* dataset.c: the fce_image_set container and the seeded shuffle (dataset.h). The format readers
 * are data_cifar10.c, data_svhn.c and data_folder.c. */
#include "fce/dataset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"

fce_status fce_image_set_alloc(fce_image_set *out, size_t n, int H, int W, int C, int with_labels,
                               const char *what) {
    memset(out, 0, sizeof *out);
    FCE_ASSERT(H > 0 && W > 0 && C > 0, "bad image shape %dx%dx%d", H, W, C);
    size_t per = (size_t)H * (size_t)W * (size_t)C;
    if (n > SIZE_MAX / per) {
        fce_log_error("%s: %zu images of %dx%dx%d bytes do not fit in memory", what, n, H, W, C);
        return FCE_STATUS_ERR_NOMEM;
    }
    size_t bytes = n * per;
    out->pixels = malloc(bytes ? bytes : 1);
    if (with_labels) out->labels = malloc(n ? n : 1);
    if (!out->pixels || (with_labels && !out->labels)) {
        fce_log_error("out of memory for %s: %zu images (%zu bytes)", what, n, bytes + n);
        fce_image_set_free(out);
        return FCE_STATUS_ERR_NOMEM;
    }
    out->n = n;
    out->H = H;
    out->W = W;
    out->C = C;
    return FCE_STATUS_OK;
}

void fce_image_set_free(fce_image_set *s) {
    if (!s) return;
    free(s->pixels);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

void fce_image_set_shuffle_order(size_t n, uint64_t seed, uint64_t epoch, size_t *order) {
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = n; i-- > 1;) {
        double u = (double)fce_philox_uniform(seed, epoch * (uint64_t)n + (uint64_t)i);
        size_t j = (size_t)(u * (double)(i + 1)); /* u < 1, so j <= i; clamp for safety anyway */
        if (j > i) j = i;
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

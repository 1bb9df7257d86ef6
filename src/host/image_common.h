/* image_common.h: pieces shared by the image MLE trainer (train_image.c), the image FCE trainer
 * (train_image_fce.c): the dataset split loader, the architecture presets and the per-step batch
 * gather. */
#ifndef FCE_IMAGE_COMMON_H
#define FCE_IMAGE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fce/dataset.h"
#include "fce/iglow.h"
#include "fce/philox.h" /* fce_derive_seed */
#include "fce/train_image.h"

/* --data-dir naming a regular file reads that one file (any number of CIFAR-10 records, or one
 * SVHN .mat); a folder reads the split's official files (train = 1: training split). */
fce_status fce_image_load_split(const char *dataset, const char *dir, int train, fce_image_set *s);

/* The --preset architecture for pictures of the set's shape, with --L/--K/--width/--affine. */
fce_iglow_config fce_image_preset(const fce_image_train_config *c, const fce_image_set *s);

/* Host gather of the batch of `step` into out (N pictures): sample i = step·N + b is position
 * i mod n of the seeded shuffle of epoch i div n; `order` (n) caches the current epoch's shuffle. */
void fce_image_gather_batch(const fce_image_set *set, size_t *order, uint64_t *order_epoch,
                            int *have_order, uint64_t seed, int64_t step, int N, uint8_t *out);

#endif

/* train_image.h: the image training commands (issue 3): MLE training of the multi-scale Glow
 * (iglow.h) with bits/dim, image FCE, and the MLE -> FCE pipeline. Test-split evaluation and
 * sampling are in eval_image.h; the configuration is in train_image_config.h.
 *
 * Data (SPEC §1): uint8 HWC pictures from dataset.h; per step a batch is gathered on the host in a
 * seeded per-epoch shuffle order (fce_image_set_shuffle_order), uploaded and dequantised on the
 * device with Philox noise at offset step·batch·D, so batch order and noise are functions of
 * (seed, step) and --resume continues exactly. bits/dim = (−log q + D·ln n_bins)/(D·ln 2).
 * --data-dir may also name one file (a CIFAR-10 batch file of any length, or an SVHN MAT-file):
 * it is then read alone (subsets and tests). */
#ifndef FCE_TRAIN_IMAGE_H
#define FCE_TRAIN_IMAGE_H

#include <stdint.h>

#include "fce/status.h"
#include "fce/train_image_config.h" /* fce_image_train_config */

#ifdef __cplusplus
extern "C" {
#endif

/* Each returns FCE_STATUS_ERR_CONFIG for a bad configuration (exit 2), another error otherwise. */
/* `train` for images: --mode mle, --mode fce, or (fce without --init-flow) the pipeline of both. */
fce_status fce_image_train_run(const fce_image_train_config *cfg);
/* --mode mle alone (train_image.c). */
fce_status fce_image_train_mle_run(const fce_image_train_config *cfg);
/* --mode fce alone (train_image_fce.c). --steps counts FCE steps of either player. */
fce_status fce_image_train_fce_run(const fce_image_train_config *cfg);

#ifdef __cplusplus
}
#endif
#endif

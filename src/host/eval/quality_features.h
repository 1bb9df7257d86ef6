/* quality_features.h: the feature space of `fce-gpu quality`: a fixed, seeded, untrained
 * convolutional network, run through the backend's conv ops (so it runs on the GPU too).
 *
 * Architecture (NHWC, no bias, zero padding 1):
 *   x = pixel/127.5 − 1                                  (H, W, 3), values in [−1, 1]
 *   h1 = ReLU(conv3x3 stride 2 (x))                      (⌈H/2⌉, ⌈W/2⌉, 32)
 *   h2 = ReLU(conv3x3 stride 2 (h1))                     (⌈H/4⌉, ⌈W/4⌉, 64)
 *   h3 = ReLU(conv3x3 stride 2 (h2))                     (⌈H/8⌉, ⌈W/8⌉, 128)
 *   features = [mean_p h1, sd_p h1, mean_p h2, sd_p h2, mean_p h3, sd_p h3]   448 values
 * where mean_p and sd_p are each channel's mean and (population) standard deviation over the
 * layer's positions, computed on the host in double: first-order statistics (colour, local edges)
 * and texture statistics at three scales, of any picture size of at least 8×8.
 * Init: He-normal, w = sqrt(2 / (9·Cin)) · N(0, 1), layer l's weight i (index in the (Cout, 3, 3,
 * Cin) array) from fce_philox_normal(fce_derive_seed(feature_seed, l), i).
 *
 * Why random features: no Inception (or other trained) weights exist on the machines this runs
 * on. Random-network features are a known, weaker stand-in for Inception features (they see colour
 * and texture statistics, not objects), so their numbers are comparable only with each other, on
 * the same data, picture size and feature seeds, and always next to a data-versus-data floor. */
#ifndef FCE_EVAL_QUALITY_FEATURES_H
#define FCE_EVAL_QUALITY_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"
#include "fce/dataset.h"

#define FCE_QF_LAYERS 3

typedef struct fce_quality_net {
    fce_ctx *ctx;
    int B, H, W;                        /* batch and picture size the plans were made for */
    int C[FCE_QF_LAYERS + 1];           /* channels: 3, 32, 64, 128 */
    int h[FCE_QF_LAYERS + 1], w[FCE_QF_LAYERS + 1]; /* spatial size of the input and each layer */
    fce_conv_plan *plan[FCE_QF_LAYERS];
    float *d_w[FCE_QF_LAYERS];          /* (Cout, 3, 3, Cin) */
    float *d_x, *d_conv;                /* input; conv output before ReLU (largest layer) */
    float *d_h[FCE_QF_LAYERS];          /* ReLU outputs */
    float *h_x, *h_h[FCE_QF_LAYERS];    /* host copies */
    float *h_w;                         /* host weight scratch (largest layer) */
} fce_quality_net;

/* Plans and buffers for batches of B pictures of H × W × 3 (H, W >= 8). */
fce_status fce_quality_net_init(fce_quality_net *q, fce_ctx *ctx, int B, int H, int W);
void fce_quality_net_free(fce_quality_net *q); /* NULL-safe, idempotent */
/* Sets the weights of network `feature_seed` (uploads them). */
fce_status fce_quality_net_set_seed(fce_quality_net *q, uint64_t feature_seed);
/* Feature dimension: 2 · (32 + 64 + 128) = 448. */
int fce_quality_net_dims(const fce_quality_net *q);
/* out (n × dims, row-major) = the features of pictures set[idx[0..n)] (idx NULL: 0..n−1). The
 * set's pictures must be H × W × 3. */
fce_status fce_quality_features(fce_quality_net *q, const fce_image_set *set, const size_t *idx,
                                size_t n, double *out);

#endif

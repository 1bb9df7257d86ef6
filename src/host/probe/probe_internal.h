/* probe_internal.h: the pieces of `fce-gpu probe` (probe.h), one file each, exposed for the tests:
 * feature extraction (probe_features.c), the linear softmax probe (probe_linear.c), the supervised
 * baseline (probe_supervised.c) and the plot (probe_plot.c). All compute goes through ctx->ops;
 * every buffer is allocated once per call, before its training loop. */
#ifndef FCE_PROBE_INTERNAL_H
#define FCE_PROBE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"
#include "fce/dataset.h"
#include "fce/ebm_image.h"

#define FCE_PROBE_CLASSES 10

/* What one classifier reached. Accuracies in [0, 1]; losses are the mean cross-entropy (nats). */
typedef struct fce_probe_result {
    double test_acc, test_loss;
    double train_acc, train_loss; /* on the k labelled images, after training */
    long steps;
    double seconds;               /* training + evaluation wall time */
} fce_probe_result;

/* Options shared by the two trainers. */
typedef struct fce_probe_train_opts {
    int batch, epochs;
    long max_steps;   /* 0: no cap */
    float lr, wd;     /* Adam (β 0.9, 0.999, ε 1e-7); wd: decoupled decay of W (linear probe only) */
    uint64_t seed;
    int n_bits;       /* supervised: input quantisation (the EBM's) */
    int quiet;
    const char *what; /* progress line prefix, e.g. "fce k=1000" */
} fce_probe_train_opts;

/* Features of the pictures idx[0..n) of set (idx NULL: pictures 0..n−1) under the EBM e, into
 * d_feat (n × fce_ebm_image_feature_dim(e), backend memory). Pictures are dequantised as in
 * training (n_bits; Philox noise with `seed`, offset = position in the list · D, so the features
 * are a function of (seed, list)) and passed in batches of B (the last one padded). */
fce_status fce_probe_features(fce_ebm_image *e, const fce_image_set *set, const size_t *idx,
                              size_t n, int B, int n_bits, uint64_t seed, float *d_feat, int quiet,
                              const char *what);

/* Linear softmax probe: W (K × F) and b (K), zero-initialised, trained by Adam on minibatches of
 * the k rows of d_xtr (k × F raw features, backend memory) with host labels h_ytr (k, in [0, K)),
 * then evaluated on d_xte (n_te × F) with device labels d_yte (n_te int32). Features are
 * standardised per feature with the mean and std of the k training rows (computed on the host in
 * double, applied on the device by actnorm_forward). Each epoch visits the k rows in a fresh seeded
 * order (one D2D copy per row into an epoch buffer, labels uploaded once per epoch); the last
 * minibatch of an epoch may be smaller. Steps = min(epochs·ceil(k/B), max_steps). */
fce_status fce_probe_linear(fce_ctx *ctx, const float *d_xtr, const int32_t *h_ytr, int k,
                            const float *d_xte, const int32_t *d_yte, int n_te, int F, int K,
                            const fce_probe_train_opts *o, fce_probe_result *r);

/* The per-feature standardisation of the linear probe, on the host: for x (k × F) in double,
 * bias_j = −mean_j and logs_j = −log(σ_j)/3 with σ_j = √(var_j + 1e−6·mean_j' var_j' + 1e−12)
 * (actnorm's form: y = (x + bias)·e^{3·logs}). The floor, tiny next to the average variance, only
 * keeps σ > 0: a feature constant over the k images is 0 after standardisation in every training
 * row, so its weight gets a zero gradient and stays at its zero init, and its (large but finite)
 * standardised test values do not reach the logits. Host rather than device: it is a one-off pass
 * over k × F values per budget (64 MB at k = 4000), needs no new op, and runs in double. */
void fce_probe_standardizer(const float *x, int k, int F, float *bias, float *logs);

/* The trainers' progress line, at most every 2 s and at the last step (never when o->quiet):
 * downloads and zeroes the running sums (loss, correct) in d_stats, prints
 * "<what>: <kind> epoch … | step … | loss … | train acc … | <rate> | ETA …" over *rows_seen rows
 * (rate in img/s when img_per_step > 0, else steps/s), then resets *rows_seen and *t_print. A loss
 * that is not finite is FCE_STATUS_ERR_NUMERIC: "the <loss_name> loss is …; try a lower <lr_flag>". */
fce_status fce_probe_progress(fce_ctx *ctx, float *d_stats, const fce_probe_train_opts *o,
                              const char *kind, const char *loss_name, const char *lr_flag,
                              int img_per_step, uint64_t epoch, long step, long total, double t0,
                              double *t_print, long *rows_seen);

/* Supervised baseline: the EBM architecture `arch` with n_out = K, initialised with o->seed and
 * trained end to end by Adam on the pictures idx[0..k) of train (labels from the set), minibatch
 * min(B, k) (the remainder of each epoch's shuffle is dropped), fresh dequantisation noise per
 * step; evaluated on the first n_te pictures of test (device labels d_yte). */
fce_status fce_probe_supervised(fce_ctx *ctx, const fce_ebm_image_config *arch,
                                const fce_image_set *train, const size_t *idx, int k,
                                const fce_image_set *test, const int32_t *d_yte, int n_te, int K,
                                const fce_probe_train_opts *o, fce_probe_result *r);

/* probe.png: test accuracy (y, 0..1) against labels (x, log scale), one coloured polyline with
 * square markers per method (NaN accuracies are skipped), a legend, grid lines and tick labels in
 * a 3×5 bitmap font. k (n_k values, ascending); acc[m][i] for method m < n_methods. */
fce_status fce_probe_plot(const char *path, const char *title, const int *k, int n_k,
                          const double *const *acc, const char *const *names, int n_methods);

#endif

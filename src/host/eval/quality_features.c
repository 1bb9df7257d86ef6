/* quality_features.c: the seeded random conv network of `fce-gpu quality` and its pooled features
 * (quality_features.h). Per batch: host conversion of the uint8 pictures to [−1, 1] (the last batch
 * padded with its first picture), one upload, three conv + ReLU layers on the backend, three
 * downloads, and the per-channel mean and sd over positions on the host in double. Plans and
 * buffers are made once, in fce_quality_net_init. */
#include "eval/quality_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"

static const int WIDTHS[FCE_QF_LAYERS] = {32, 64, 128};

static size_t layer_values(const fce_quality_net *q, int l) { /* per picture, l = 0: the input */
    return (size_t)q->h[l] * q->w[l] * q->C[l];
}

void fce_quality_net_free(fce_quality_net *q) {
    if (!q || !q->ctx) return;
    fce_ctx *ctx = q->ctx;
    for (int l = 0; l < FCE_QF_LAYERS; l++) {
        ctx->ops->conv_plan_free(ctx, q->plan[l]);
        ctx->ops->release(ctx, q->d_w[l]);
        ctx->ops->release(ctx, q->d_h[l]);
        free(q->h_h[l]);
    }
    ctx->ops->release(ctx, q->d_x);
    ctx->ops->release(ctx, q->d_conv);
    free(q->h_x);
    free(q->h_w);
    memset(q, 0, sizeof *q);
}

static fce_status net_alloc(fce_quality_net *q) {
    fce_ctx *ctx = q->ctx;
    const size_t B = (size_t)q->B;
    size_t max_layer = 0, max_w = 0;
    for (int l = 1; l <= FCE_QF_LAYERS; l++) {
        if (layer_values(q, l) > max_layer) max_layer = layer_values(q, l);
        if ((size_t)q->C[l] * 9 * q->C[l - 1] > max_w) max_w = (size_t)q->C[l] * 9 * q->C[l - 1];
    }
    for (int l = 0; l < FCE_QF_LAYERS; l++) {
        fce_conv_shape s = {q->B, q->h[l], q->w[l], q->C[l], q->C[l + 1], 3, 3, 2, 1};
        FCE_TRY(ctx->ops->conv_plan_init(ctx, &q->plan[l], &s));
        FCE_TRY(ctx->ops->alloc(ctx, (void **)&q->d_w[l], (size_t)q->C[l + 1] * 9 * q->C[l] * sizeof(float)));
        FCE_TRY(ctx->ops->alloc(ctx, (void **)&q->d_h[l], B * layer_values(q, l + 1) * sizeof(float)));
        if (!(q->h_h[l] = malloc(B * layer_values(q, l + 1) * sizeof(float)))) return FCE_STATUS_ERR_NOMEM;
    }
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&q->d_x, B * layer_values(q, 0) * sizeof(float)));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&q->d_conv, B * max_layer * sizeof(float)));
    q->h_x = malloc(B * layer_values(q, 0) * sizeof(float));
    q->h_w = malloc(max_w * sizeof(float));
    return q->h_x && q->h_w ? FCE_STATUS_OK : FCE_STATUS_ERR_NOMEM;
}

fce_status fce_quality_net_init(fce_quality_net *q, fce_ctx *ctx, int B, int H, int W) {
    memset(q, 0, sizeof *q);
    if (H < 8 || W < 8) {
        fce_log_error("quality: the pictures are %dx%d; the feature network needs at least 8x8", W, H);
        return FCE_STATUS_ERR_CONFIG;
    }
    q->ctx = ctx, q->B = B, q->H = H, q->W = W;
    q->C[0] = 3, q->h[0] = H, q->w[0] = W;
    for (int l = 1; l <= FCE_QF_LAYERS; l++) {
        q->C[l] = WIDTHS[l - 1];
        q->h[l] = (q->h[l - 1] - 1) / 2 + 1; /* 3x3, stride 2, pad 1 */
        q->w[l] = (q->w[l - 1] - 1) / 2 + 1;
    }
    fce_status st = net_alloc(q);
    if (st != FCE_STATUS_OK) {
        if (st == FCE_STATUS_ERR_NOMEM) fce_log_error("quality: out of memory for the feature network");
        fce_quality_net_free(q);
    }
    return st;
}

fce_status fce_quality_net_set_seed(fce_quality_net *q, uint64_t feature_seed) {
    for (int l = 0; l < FCE_QF_LAYERS; l++) {
        const size_t n = (size_t)q->C[l + 1] * 9 * q->C[l];
        const double scale = sqrt(2.0 / (9.0 * q->C[l])); /* He-normal: fan-in 3·3·Cin */
        const uint64_t key = fce_derive_seed(feature_seed, (uint64_t)l);
        for (size_t i = 0; i < n; i++) q->h_w[i] = (float)(scale * fce_philox_normal(key, i));
        FCE_TRY(q->ctx->ops->upload(q->ctx, q->d_w[l], q->h_w, n * sizeof(float)));
    }
    return FCE_STATUS_OK;
}

int fce_quality_net_dims(const fce_quality_net *q) {
    int d = 0;
    for (int l = 1; l <= FCE_QF_LAYERS; l++) d += 2 * q->C[l];
    return d;
}

/* The per-channel mean and population sd over P positions of picture r's layer (P, C) values h,
 * into out[0..C) and out[C..2C). Two passes in double. */
static void pool_mean_sd(const float *h, size_t P, int C, double *out) {
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (size_t p = 0; p < P; p++) s += h[p * C + c];
        double mean = s / (double)P, ss = 0;
        for (size_t p = 0; p < P; p++) ss += (h[p * C + c] - mean) * (h[p * C + c] - mean);
        out[c] = mean;
        out[C + c] = sqrt(ss / (double)P);
    }
}

/* The three layers on the uploaded batch in d_x, each ReLU output downloaded into h_h. */
static fce_status net_forward(fce_quality_net *q) {
    fce_ctx *ctx = q->ctx;
    const float *in = q->d_x;
    for (int l = 0; l < FCE_QF_LAYERS; l++) {
        const size_t n = (size_t)q->B * layer_values(q, l + 1);
        FCE_TRY(ctx->ops->conv2d_forward(ctx, q->plan[l], q->d_conv, in, q->d_w[l], NULL));
        FCE_TRY(ctx->ops->leaky_relu_forward(ctx, q->d_h[l], q->d_conv, n, 0.0f));
        in = q->d_h[l];
    }
    for (int l = 0; l < FCE_QF_LAYERS; l++)
        FCE_TRY(ctx->ops->download(ctx, q->h_h[l], q->d_h[l],
                                   (size_t)q->B * layer_values(q, l + 1) * sizeof(float)));
    return FCE_STATUS_OK;
}

fce_status fce_quality_features(fce_quality_net *q, const fce_image_set *set, const size_t *idx,
                                size_t n, double *out) {
    FCE_ASSERT(set->H == q->H && set->W == q->W && set->C == 3, "picture shape differs from the plan");
    const size_t D = layer_values(q, 0), F = (size_t)fce_quality_net_dims(q);
    for (size_t start = 0; start < n; start += (size_t)q->B) {
        size_t m = n - start < (size_t)q->B ? n - start : (size_t)q->B;
        for (size_t r = 0; r < (size_t)q->B; r++) {
            size_t pos = start + (r < m ? r : 0), src = idx ? idx[pos] : pos;
            const uint8_t *px = set->pixels + src * D;
            for (size_t i = 0; i < D; i++) q->h_x[r * D + i] = (float)(px[i] / 127.5 - 1.0);
        }
        FCE_TRY(q->ctx->ops->upload(q->ctx, q->d_x, q->h_x, (size_t)q->B * D * sizeof(float)));
        FCE_TRY(net_forward(q));
        for (size_t r = 0; r < m; r++) {
            double *f = out + (start + r) * F;
            for (int l = 1; l <= FCE_QF_LAYERS; l++) {
                size_t P = (size_t)q->h[l] * q->w[l];
                pool_mean_sd(q->h_h[l - 1] + r * layer_values(q, l), P, q->C[l], f);
                f += 2 * q->C[l];
            }
        }
    }
    return FCE_STATUS_OK;
}

/* probe_features.c: the EBM's top-layer features of a list of pictures (probe_internal.h).
 *
 * Per batch of B pictures: host gather of the uint8 pictures (the last batch padded with the first
 * picture of the list), one upload, dequantize on the device (noise offset = list position · D),
 * the EBM forward, and one D2D copy of the m real rows of the third lReLU's output into d_feat.
 * The tape and the batch buffers are allocated once per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "util/fs_util.h"
#include "probe/probe_internal.h"

fce_status fce_probe_features(fce_ebm_image *e, const fce_image_set *set, const size_t *idx,
                              size_t n, int B, int n_bits, uint64_t seed, float *d_feat, int quiet,
                              const char *what) {
    fce_ctx *ctx = fce_ebm_image_ctx(e);
    const size_t D = (size_t)set->H * set->W * set->C, F = (size_t)fce_ebm_image_feature_dim(e);
    if (n == 0) return FCE_STATUS_OK;
    if ((size_t)B > n) B = (int)n;
    fce_ebm_image_tape *tp = NULL;
    uint8_t *d_u8 = NULL, *h_u8 = malloc((size_t)B * D);
    float *d_x = NULL;
    fce_status st = FCE_STATUS_OK;
    if (!h_u8) {
        fce_log_error("%s: out of host memory for a batch of %d pictures", what, B);
        st = FCE_STATUS_ERR_NOMEM;
    }
    if (st == FCE_STATUS_OK) st = fce_ebm_image_tape_init(&tp, e, B);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&d_u8, (size_t)B * D);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&d_x, (size_t)B * D * sizeof(float));
    double t0 = fce_now_seconds(), t_print = t0;
    for (size_t start = 0; st == FCE_STATUS_OK && start < n; start += (size_t)B) {
        size_t m = n - start < (size_t)B ? n - start : (size_t)B;
        for (size_t r = 0; r < (size_t)B; r++) {
            size_t pos = r < m ? start + r : 0;
            size_t src = idx ? idx[pos] : pos;
            memcpy(h_u8 + r * D, set->pixels + src * D, D);
        }
        const float *f = NULL;
        st = ctx->ops->upload(ctx, d_u8, h_u8, (size_t)B * D);
        if (st == FCE_STATUS_OK)
            st = ctx->ops->dequantize(ctx, d_x, d_u8, (size_t)B * D, n_bits, seed, start * D);
        if (st == FCE_STATUS_OK) st = fce_ebm_image_forward(e, tp, d_x, B, &f);
        if (st == FCE_STATUS_OK)
            st = ctx->ops->copy(ctx, d_feat + start * F, fce_ebm_image_tape_features(tp),
                                m * F * sizeof(float));
        double now = fce_now_seconds();
        if (st == FCE_STATUS_OK && !quiet && now - t_print > 5.0 && start + m < n) {
            double rate = (double)(start + m) / (now - t0);
            char eta[32];
            fce_format_duration((double)(n - start - m) / rate, eta, sizeof eta);
            fprintf(stderr, "%s: features %zu/%zu | %.1f img/s | ETA %s\n", what, start + m, n,
                    rate, eta);
            t_print = now;
        }
    }
    if (st == FCE_STATUS_OK) st = ctx->ops->sync(ctx);
    ctx->ops->release(ctx, d_u8);
    ctx->ops->release(ctx, d_x);
    fce_ebm_image_tape_free(tp);
    free(h_u8);
    return st;
}

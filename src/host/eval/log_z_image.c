/* log_z_image.c: log Ẑ of the image EBM with the image flow as the proposal (log_z_image.h). */
#include "eval/log_z_image.h"

#include <stdlib.h>

#include "eval/progress.h"
#include "fce/log.h"

#define MAX_LEVELS 16

fce_status fce_log_z_image(fce_ctx *ctx, fce_iglow *g, fce_iglow_tape *tp, fce_ebm_image *e,
                           fce_ebm_image_tape *tp_e, fce_ebm_flow_base *base, int B, long M, uint64_t seed,
                           int quiet, float progress_every, fce_log_z *out) {
    const int L = fce_iglow_cfg(g)->L;
    FCE_ASSERT(L >= 1 && L <= MAX_LEVELS && B >= 1 && M >= 1, "log Z: L %d, B %d, M %ld", L, B, M);
    float *d_eps[MAX_LEVELS] = {0}, *h_f = malloc((size_t)B * sizeof *h_f), *h_lq = malloc((size_t)B * sizeof *h_lq);
    double *logw = malloc((size_t)M * sizeof *logw);
    float c = 0;
    fce_status st = FCE_STATUS_OK;
    if (!h_f || !h_lq || !logw) {
        fce_log_error("out of host memory");
        FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    }
    for (int l = 0; l < L; l++)
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&d_eps[l], (size_t)B * fce_iglow_n_z(g, l) * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->download(ctx, &c, fce_ebm_image_c(e), sizeof c));
    fce_progress pr;
    fce_progress_begin(&pr, "log Z", (size_t)M, progress_every, quiet);
    uint64_t off = 0; /* Philox offset: level by level, batch after batch */
    for (long start = 0; start < M; start += B) {
        const long m = M - start < B ? M - start : B; /* a partial last batch: its first m rows count */
        for (int l = 0; l < L; l++) {
            const size_t nz = (size_t)B * fce_iglow_n_z(g, l);
            FCE_TRY_GOTO(st, ctx->ops->fill_normal(ctx, d_eps[l], nz, seed, off, 1.0f));
            off += nz;
        }
        const float *f;
        FCE_TRY_GOTO(st, fce_iglow_inverse(g, tp, (const float *const *)d_eps, 1.0f, B));
        FCE_TRY_GOTO(st, fce_ebm_image_forward(e, tp_e, fce_iglow_tape_x(tp), B, &f));
        if (base) FCE_TRY_GOTO(st, fce_ebm_flow_base_forward(base, fce_iglow_tape_x(tp), B, f, &f));
        FCE_TRY_GOTO(st, ctx->ops->download(ctx, h_f, f, (size_t)B * sizeof(float)));
        FCE_TRY_GOTO(st, ctx->ops->download(ctx, h_lq, fce_iglow_tape_logq(tp), (size_t)B * sizeof(float)));
        for (long r = 0; r < m; r++) logw[start + r] = (double)h_f[r] - (double)c - (double)h_lq[r];
        fce_progress_update(&pr, (size_t)(start + m));
    }
    fce_log_z_estimate(logw, (size_t)M, out);
cleanup:
    for (int l = 0; l < L; l++) ctx->ops->release(ctx, d_eps[l]);
    free(h_f);
    free(h_lq);
    free(logw);
    return st;
}

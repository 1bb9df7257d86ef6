/* dist_actnorm.c: actnorm's data-dependent init over the global batch of a job of several ranks
 * (dist_internal.h). Each rank holds its rows of the batch; the per-channel sums are added over the
 * ranks, then the centred squares around the global mean, in double, in the order of
 * fce_ref_actnorm_init, so the result differs from one process's only by the order of the sums. It
 * runs once per actnorm layer at a fresh start, on the host (x is downloaded): not in any step. */
#include <math.h>
#include <stdlib.h>

#include "dist/dist_internal.h"
#include "fce/log.h"

/* bias = −mean, then logs from the variance around it (the two sums in acc[0..C), acc[C] = rows). */
static fce_status global_stats(fce_dist *d, const float *x, size_t rows, int C, double *acc, float *bias,
                               float *logs) {
    for (int c = 0; c <= C; c++) acc[c] = 0;
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) acc[c] += x[r * (size_t)C + c];
    acc[C] = (double)rows;
    FCE_TRY(fce_dist_sum(d, acc, C + 1));
    const double count = acc[C];
    for (int c = 0; c < C; c++) bias[c] = (float)(-acc[c] / count);
    for (int c = 0; c < C; c++) acc[c] = 0;
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            double centred = (double)x[r * (size_t)C + c] + bias[c];
            acc[c] += centred * centred;
        }
    FCE_TRY(fce_dist_sum(d, acc, C));
    for (int c = 0; c < C; c++)
        logs[c] = (float)(log(1.0 / (sqrt(acc[c] / count) + 1e-6)) / (double)FCE_ACTNORM_LOGSCALE_FACTOR);
    return FCE_STATUS_OK;
}

fce_status fce_dist_actnorm_init(fce_ctx *ctx, float *bias, float *logs, const float *x, int N, int HW, int C) {
    const size_t rows = (size_t)N * (size_t)HW;
    float *hx = malloc((rows * (size_t)C + 1) * sizeof *hx), *hb = malloc(2 * (size_t)C * sizeof *hb);
    double *acc = malloc(((size_t)C + 1) * sizeof *acc);
    fce_status st = FCE_STATUS_OK;
    if (!hx || !hb || !acc) {
        fce_log_error("out of host memory (actnorm init over the ranks)");
        FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    }
    FCE_TRY_GOTO(st, ctx->ops->download(ctx, hx, x, rows * (size_t)C * sizeof(float)));
    FCE_TRY_GOTO(st, global_stats(ctx->dist, hx, rows, C, acc, hb, hb + C));
    FCE_TRY_GOTO(st, ctx->ops->upload(ctx, bias, hb, (size_t)C * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->upload(ctx, logs, hb + C, (size_t)C * sizeof(float)));
cleanup:
    free(hx);
    free(hb);
    free(acc);
    return st;
}

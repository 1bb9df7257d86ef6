/* probe_linear.c: the linear softmax probe (probe_internal.h, fce_probe_linear).
 *
 * Model: logits = x̂·Wᵀ + b, x̂ = (x − μ)/σ per feature, W (K × F) and b (K) in one parameter arena
 * (zero init: the problem is convex). Loss: mean softmax cross-entropy of the minibatch.
 * One step on a minibatch of m rows (all on the device, nothing allocated, no read-back):
 *   zero grads; linear_forward; softmax_xent (dlogits = (p − onehot)/m, loss and correct count
 *   accumulated into a device stats pair); linear_backward (dW, db); adam_step over [W | b];
 *   with --wd: W ← (1 − lr·wd)·W (decoupled weight decay, AdamW-style; b is not decayed).
 * The stats pair is read back only for a progress line (at most every 2 s) and at the end.
 * Evaluation: batches of up to EVAL_ROWS rows, standardised by actnorm_forward into a scratch
 * buffer, linear_forward, softmax_xent without gradients; one read-back of the stats per split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/params.h"
#include "util/fs_util.h"
#include "probe/probe_internal.h"

#define EVAL_ROWS 1024
#define PRINT_EVERY_S 2.0 /* fce_probe_progress */

void fce_probe_standardizer(const float *x, int k, int F, float *bias, float *logs) {
    double *mean = calloc((size_t)F, sizeof(double)), *var = calloc((size_t)F, sizeof(double));
    if (!mean || !var) { /* tiny vectors; fall back to the identity map rather than fail */
        for (int j = 0; j < F; j++) bias[j] = 0.0f, logs[j] = 0.0f;
        free(mean);
        free(var);
        return;
    }
    for (int i = 0; i < k; i++)
        for (int j = 0; j < F; j++) mean[j] += x[(size_t)i * F + j];
    for (int j = 0; j < F; j++) mean[j] /= (double)k;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < F; j++) {
            double d = x[(size_t)i * F + j] - mean[j];
            var[j] += d * d;
        }
    double avg = 0;
    for (int j = 0; j < F; j++) {
        var[j] /= (double)k;
        avg += var[j];
    }
    avg /= (double)F;
    for (int j = 0; j < F; j++) {
        double sigma = sqrt(var[j] + 1e-6 * avg + 1e-12);
        bias[j] = (float)(-mean[j]);
        logs[j] = (float)(-log(sigma) / 3.0);
    }
    free(mean);
    free(var);
}

typedef struct linprobe {
    fce_ctx *ctx;
    fce_param_table table;
    fce_param_arena arena;
    int have_arena;
    float *W, *b, *dW, *db;
    float *d_bias, *d_logs, *d_xstd, *d_xep, *d_xeval, *d_logits, *d_dlogits, *d_stats;
    int32_t *d_yep, *h_yep;
    size_t *perm;
    float *h_x;
} linprobe;

static void linprobe_free(linprobe *p) {
    fce_ctx *ctx = p->ctx;
    void *dev[] = {p->d_bias, p->d_logs, p->d_xstd, p->d_xep, p->d_xeval, p->d_logits,
                   p->d_dlogits, p->d_stats, p->d_yep};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) ctx->ops->release(ctx, dev[i]);
    if (p->have_arena) fce_param_arena_free(&p->arena, ctx);
    fce_param_table_free(&p->table);
    free(p->h_yep);
    free(p->perm);
    free(p->h_x);
}

#define DEV(ptr, bytes) FCE_TRY(ctx->ops->alloc(ctx, (void **)&(ptr), (bytes)))

static fce_status linprobe_setup(linprobe *p, const float *d_xtr, int k, int B, int F, int K) {
    fce_ctx *ctx = p->ctx;
    const size_t kF = (size_t)k * (size_t)F;
    int iw, ib;
    FCE_TRY(fce_param_table_add(&p->table, "probe.W", K, F, 0, &iw));
    FCE_TRY(fce_param_table_add(&p->table, "probe.b", 1, K, 0, &ib));
    fce_param_table_plan(&p->table);
    FCE_TRY(fce_param_arena_init(&p->arena, &p->table, ctx));
    p->have_arena = 1;
    p->W = p->arena.params + p->table.specs[iw].offset;
    p->b = p->arena.params + p->table.specs[ib].offset;
    p->dW = p->arena.grads + p->table.specs[iw].offset;
    p->db = p->arena.grads + p->table.specs[ib].offset;
    const int rows = B > EVAL_ROWS ? B : EVAL_ROWS;
    DEV(p->d_bias, (size_t)F * sizeof(float));
    DEV(p->d_logs, (size_t)F * sizeof(float));
    DEV(p->d_xstd, kF * sizeof(float));
    DEV(p->d_xep, kF * sizeof(float));
    DEV(p->d_xeval, (size_t)EVAL_ROWS * F * sizeof(float));
    DEV(p->d_logits, (size_t)rows * K * sizeof(float));
    DEV(p->d_dlogits, (size_t)rows * K * sizeof(float));
    DEV(p->d_stats, 6 * sizeof(float));
    DEV(p->d_yep, (size_t)k * sizeof(int32_t));
    p->h_yep = malloc((size_t)k * sizeof(int32_t));
    p->perm = malloc((size_t)k * sizeof(size_t));
    p->h_x = malloc(kF * sizeof(float) + (size_t)2 * F * sizeof(float));
    if (!p->h_yep || !p->perm || !p->h_x) {
        fce_log_error("linear probe: out of host memory (%d x %d features)", k, F);
        return FCE_STATUS_ERR_NOMEM;
    }
    /* standardise the k training rows once: statistics on the host, the map on the device */
    float *h_bias = p->h_x + kF, *h_logs = h_bias + F;
    FCE_TRY(ctx->ops->download(ctx, p->h_x, d_xtr, kF * sizeof(float)));
    fce_probe_standardizer(p->h_x, k, F, h_bias, h_logs);
    FCE_TRY(ctx->ops->upload(ctx, p->d_bias, h_bias, (size_t)F * sizeof(float)));
    FCE_TRY(ctx->ops->upload(ctx, p->d_logs, h_logs, (size_t)F * sizeof(float)));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, p->d_xstd, NULL, d_xtr, p->d_bias, p->d_logs, k, 1, F));
    free(p->h_x);
    p->h_x = NULL;
    return FCE_STATUS_OK;
}

/* Accuracy and mean loss over n rows of x (already standardised when raw == 0) with labels y. */
static fce_status evaluate(linprobe *p, const float *x, const int32_t *y, int n, int F, int K,
                           int raw, float *stats, double *acc, double *loss) {
    fce_ctx *ctx = p->ctx;
    FCE_TRY(ctx->ops->zero(ctx, stats, 2 * sizeof(float)));
    for (int s = 0; s < n; s += EVAL_ROWS) {
        int m = n - s < EVAL_ROWS ? n - s : EVAL_ROWS;
        const float *xb = x + (size_t)s * F;
        if (raw) {
            FCE_TRY(ctx->ops->actnorm_forward(ctx, p->d_xeval, NULL, xb, p->d_bias, p->d_logs, m, 1, F));
            xb = p->d_xeval;
        }
        FCE_TRY(ctx->ops->linear_forward(ctx, p->d_logits, xb, p->W, p->b, m, F, K));
        FCE_TRY(ctx->ops->softmax_xent(ctx, stats, NULL, p->d_logits, y + s, m, K, 1.0f));
    }
    float h[2];
    FCE_TRY(ctx->ops->download(ctx, h, stats, sizeof h));
    *loss = (double)h[0] / n;
    *acc = (double)h[1] / n;
    return FCE_STATUS_OK;
}

/* Shuffles the standardised rows into the epoch buffer and uploads the matching labels. */
static fce_status epoch_order(linprobe *p, const int32_t *h_ytr, int k, int F, uint64_t seed,
                              uint64_t epoch) {
    fce_ctx *ctx = p->ctx;
    fce_image_set_shuffle_order((size_t)k, seed, epoch, p->perm);
    const size_t row = (size_t)F * sizeof(float);
    for (int i = 0; i < k; i++) {
        FCE_TRY(ctx->ops->copy(ctx, p->d_xep + (size_t)i * F, p->d_xstd + p->perm[i] * F, row));
        p->h_yep[i] = h_ytr[p->perm[i]];
    }
    return ctx->ops->upload(ctx, p->d_yep, p->h_yep, (size_t)k * sizeof(int32_t));
}

static fce_status train(linprobe *p, const int32_t *h_ytr, int k, int F, int K,
                        const fce_probe_train_opts *o, long *steps_out) {
    fce_ctx *ctx = p->ctx;
    const int B = o->batch < k ? o->batch : k;
    const long per_epoch = (k + B - 1) / B;
    long total = (long)o->epochs * per_epoch;
    if (o->max_steps > 0 && total > o->max_steps) total = o->max_steps;
    long step = 0, rows_seen = 0;
    double t0 = fce_now_seconds(), t_print = t0;
    for (uint64_t epoch = 0; step < total; epoch++) {
        FCE_TRY(epoch_order(p, h_ytr, k, F, o->seed, epoch));
        for (long s = 0; s < per_epoch && step < total; s++, step++) {
            const int m = (int)(k - s * B < B ? k - s * B : B);
            const float *xb = p->d_xep + (size_t)s * B * F;
            FCE_TRY(fce_param_arena_zero_grad(&p->arena, ctx));
            FCE_TRY(ctx->ops->linear_forward(ctx, p->d_logits, xb, p->W, p->b, m, F, K));
            FCE_TRY(ctx->ops->softmax_xent(ctx, p->d_stats, p->d_dlogits, p->d_logits,
                                           p->d_yep + s * B, m, K, 1.0f / (float)m));
            FCE_TRY(ctx->ops->linear_backward(ctx, NULL, p->dW, p->db, p->d_dlogits, xb, p->W, m,
                                              F, K));
            FCE_TRY(ctx->ops->adam_step(ctx, p->arena.params, p->arena.grads, p->arena.m, p->arena.v,
                                        p->arena.n_trainable, o->lr, 0.9f, 0.999f, 1e-7f,
                                        (int)(step + 1)));
            if (o->wd > 0)
                FCE_TRY(ctx->ops->scale(ctx, p->W, p->W, (size_t)K * F, 1.0f - o->lr * o->wd));
            rows_seen += m;
        }
        FCE_TRY(fce_probe_progress(ctx, p->d_stats, o, "linear", "linear probe's", "--lr", 0, epoch,
                                   step, total, t0, &t_print, &rows_seen));
    }
    *steps_out = step;
    return FCE_STATUS_OK;
}

fce_status fce_probe_progress(fce_ctx *ctx, float *d_stats, const fce_probe_train_opts *o,
                              const char *kind, const char *loss_name, const char *lr_flag,
                              int img_per_step, uint64_t epoch, long step, long total, double t0,
                              double *t_print, long *rows_seen) {
    double now = fce_now_seconds();
    if (o->quiet || !(now - *t_print >= PRINT_EVERY_S || step == total)) return FCE_STATUS_OK;
    float h[2];
    FCE_TRY(ctx->ops->download(ctx, h, d_stats, sizeof h));
    FCE_TRY(ctx->ops->zero(ctx, d_stats, 2 * sizeof(float)));
    double rate = (double)step / (now - t0 > 1e-9 ? now - t0 : 1e-9);
    char eta[32], speed[48];
    fce_format_duration((double)(total - step) / rate, eta, sizeof eta);
    if (img_per_step > 0) snprintf(speed, sizeof speed, "%.1f img/s", rate * img_per_step);
    else snprintf(speed, sizeof speed, "%.0f steps/s", rate);
    fprintf(stderr, "%s: %s epoch %llu | step %ld/%ld | loss %.4f | train acc %.4f | %s | ETA %s\n",
            o->what, kind, (unsigned long long)epoch + 1, step, total, h[0] / (double)*rows_seen,
            h[1] / (double)*rows_seen, speed, eta);
    if (!isfinite(h[0])) {
        fce_log_error("%s: the %s loss is %g; try a lower %s", o->what, loss_name, h[0], lr_flag);
        return FCE_STATUS_ERR_NUMERIC;
    }
    *rows_seen = 0;
    *t_print = now;
    return FCE_STATUS_OK;
}

fce_status fce_probe_linear(fce_ctx *ctx, const float *d_xtr, const int32_t *h_ytr, int k,
                            const float *d_xte, const int32_t *d_yte, int n_te, int F, int K,
                            const fce_probe_train_opts *o, fce_probe_result *r) {
    FCE_ASSERT(k > 0 && F > 0 && K > 1 && o->batch > 0, "linear probe: k %d, F %d, K %d, batch %d",
               k, F, K, o->batch);
    memset(r, 0, sizeof *r);
    double t0 = fce_now_seconds();
    linprobe p;
    memset(&p, 0, sizeof p);
    p.ctx = ctx;
    fce_status st = linprobe_setup(&p, d_xtr, k, o->batch, F, K);
    if (st == FCE_STATUS_OK) st = train(&p, h_ytr, k, F, K, o, &r->steps);
    if (st == FCE_STATUS_OK)
        st = evaluate(&p, p.d_xep, p.d_yep, k, F, K, 0, p.d_stats + 2, &r->train_acc, &r->train_loss);
    if (st == FCE_STATUS_OK && n_te > 0)
        st = evaluate(&p, d_xte, d_yte, n_te, F, K, 1, p.d_stats + 4, &r->test_acc, &r->test_loss);
    if (st == FCE_STATUS_OK && !isfinite(r->train_loss)) {
        fce_log_error("%s: the linear probe diverged (training loss %g); try a lower --lr", o->what,
                      r->train_loss);
        st = FCE_STATUS_ERR_NUMERIC;
    }
    linprobe_free(&p);
    r->seconds = fce_now_seconds() - t0;
    return st;
}

/* probe_supervised.c: the supervised baseline of the linear probe (probe_internal.h,
 * fce_probe_supervised): the EBM's architecture with K outputs (ebm_image.h n_out), trained end to
 * end on the k labelled pictures.
 *
 * Per epoch: a seeded shuffle of the k pictures, gathered on the host and uploaded once with their
 * labels. One step on the minibatch of Bs = min(B, k) pictures (device only, nothing allocated):
 *   dequantize (n_bits of the EBM; fresh noise per step, offset step·Bs·D); forward → logits
 *   (Bs × K); softmax_xent (mean loss, dlogits); zero grads; backward with parameter gradients;
 *   adam_step over the arena (c is in it, with a zero gradient: it never moves).
 * The k mod Bs pictures left over by an epoch's shuffle are skipped that epoch (the tape has a
 * fixed batch size). Evaluation: batches of Bs pictures (the last padded; only its m real rows are
 * scored), noise from a fixed stream, one stats read-back per split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"
#include "util/fs_util.h"
#include "probe/probe_internal.h"


typedef struct supprobe {
    fce_ctx *ctx;
    fce_ebm_image *net;
    fce_ebm_image_tape *tp;
    size_t D;
    int Bs, K;
    uint8_t *d_u8ep, *d_u8b, *h_u8ep, *h_u8b;
    float *d_x, *d_dlogits, *d_stats;
    int32_t *d_yep, *h_yep;
    size_t *perm, *cur; /* epoch shuffle of 0..k−1; cur[i] = picture of epoch position i */
} supprobe;

static void supprobe_free(supprobe *p) {
    fce_ctx *ctx = p->ctx;
    void *dev[] = {p->d_u8ep, p->d_u8b, p->d_x, p->d_dlogits, p->d_stats, p->d_yep};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) ctx->ops->release(ctx, dev[i]);
    fce_ebm_image_tape_free(p->tp);
    fce_ebm_image_free(p->net);
    free(p->h_u8ep);
    free(p->h_u8b);
    free(p->h_yep);
    free(p->perm);
    free(p->cur);
}

#define DEV(ptr, bytes) FCE_TRY(ctx->ops->alloc(ctx, (void **)&(ptr), (bytes)))

static fce_status setup(supprobe *p, const fce_ebm_image_config *arch, const fce_image_set *train,
                        int k, const fce_probe_train_opts *o) {
    fce_ctx *ctx = p->ctx;
    fce_ebm_image_config cfg = *arch;
    cfg.n_out = p->K;
    FCE_TRY(fce_ebm_image_init(&p->net, ctx, &cfg, o->seed));
    p->Bs = o->batch < k ? o->batch : k;
    p->D = (size_t)train->H * train->W * train->C;
    const size_t BD = (size_t)p->Bs * p->D;
    FCE_TRY(fce_ebm_image_tape_init(&p->tp, p->net, p->Bs));
    DEV(p->d_u8ep, (size_t)k * p->D);
    DEV(p->d_u8b, BD);
    DEV(p->d_x, BD * sizeof(float));
    DEV(p->d_dlogits, (size_t)p->Bs * p->K * sizeof(float));
    DEV(p->d_stats, 2 * sizeof(float));
    DEV(p->d_yep, (size_t)k * sizeof(int32_t));
    p->h_u8ep = malloc((size_t)k * p->D);
    p->h_u8b = malloc(BD);
    p->h_yep = malloc((size_t)k * sizeof(int32_t));
    p->perm = malloc((size_t)k * sizeof(size_t));
    p->cur = malloc((size_t)k * sizeof(size_t));
    if (!p->h_u8ep || !p->h_u8b || !p->h_yep || !p->perm || !p->cur) {
        fce_log_error("supervised probe: out of host memory for %d pictures", k);
        return FCE_STATUS_ERR_NOMEM;
    }
    return FCE_STATUS_OK;
}

/* Accuracy and mean loss of the network on pictures list[0..n) of set (list NULL: 0..n−1), with
 * device labels y in list order. */
static fce_status evaluate(supprobe *p, const fce_image_set *set, const size_t *list, int n,
                           const int32_t *y, int n_bits, uint64_t seed, double *acc, double *loss) {
    fce_ctx *ctx = p->ctx;
    const int B = p->Bs;
    const size_t BD = (size_t)B * p->D;
    FCE_TRY(ctx->ops->zero(ctx, p->d_stats, 2 * sizeof(float)));
    for (int s = 0; s < n; s += B) {
        const int m = n - s < B ? n - s : B;
        for (int r = 0; r < B; r++) {
            size_t pos = (size_t)(r < m ? s + r : 0), src = list ? list[pos] : pos;
            memcpy(p->h_u8b + (size_t)r * p->D, set->pixels + src * p->D, p->D);
        }
        const float *logits = NULL;
        FCE_TRY(ctx->ops->upload(ctx, p->d_u8b, p->h_u8b, BD));
        FCE_TRY(ctx->ops->dequantize(ctx, p->d_x, p->d_u8b, BD, n_bits, seed, (uint64_t)s * p->D));
        FCE_TRY(fce_ebm_image_forward(p->net, p->tp, p->d_x, B, &logits));
        FCE_TRY(ctx->ops->softmax_xent(ctx, p->d_stats, NULL, logits, y + s, m, p->K, 1.0f));
    }
    float h[2];
    FCE_TRY(ctx->ops->download(ctx, h, p->d_stats, sizeof h));
    *loss = (double)h[0] / n;
    *acc = (double)h[1] / n;
    return FCE_STATUS_OK;
}

/* The epoch's shuffle of the k pictures, uploaded with their labels. */
static fce_status epoch_upload(supprobe *p, const fce_image_set *train, const size_t *idx, int k,
                               uint64_t seed, uint64_t epoch) {
    fce_ctx *ctx = p->ctx;
    fce_image_set_shuffle_order((size_t)k, seed, epoch, p->perm);
    for (int i = 0; i < k; i++) {
        p->cur[i] = idx[p->perm[i]];
        memcpy(p->h_u8ep + (size_t)i * p->D, train->pixels + p->cur[i] * p->D, p->D);
        p->h_yep[i] = train->labels[p->cur[i]];
    }
    FCE_TRY(ctx->ops->upload(ctx, p->d_u8ep, p->h_u8ep, (size_t)k * p->D));
    return ctx->ops->upload(ctx, p->d_yep, p->h_yep, (size_t)k * sizeof(int32_t));
}

static fce_status train_loop(supprobe *p, const fce_image_set *train, const size_t *idx, int k,
                             const fce_probe_train_opts *o, long *steps_out) {
    fce_ctx *ctx = p->ctx;
    fce_param_arena *a = fce_ebm_image_arena(p->net);
    const int B = p->Bs;
    const size_t BD = (size_t)B * p->D;
    const long per_epoch = k / B;
    long total = (long)o->epochs * per_epoch;
    if (o->max_steps > 0 && total > o->max_steps) total = o->max_steps;
    const uint64_t seed_order = fce_derive_seed(o->seed, 11), seed_noise = fce_derive_seed(o->seed, 12);
    long step = 0, rows_seen = 0;
    double t0 = fce_now_seconds(), t_print = t0;
    for (uint64_t epoch = 0; step < total; epoch++) {
        FCE_TRY(epoch_upload(p, train, idx, k, seed_order, epoch));
        for (long s = 0; s < per_epoch && step < total; s++, step++) {
            const float *logits = NULL;
            FCE_TRY(ctx->ops->dequantize(ctx, p->d_x, p->d_u8ep + (size_t)s * BD, BD, o->n_bits,
                                         seed_noise, (uint64_t)step * BD));
            FCE_TRY(fce_ebm_image_forward(p->net, p->tp, p->d_x, B, &logits));
            FCE_TRY(ctx->ops->softmax_xent(ctx, p->d_stats, p->d_dlogits, logits,
                                           p->d_yep + s * B, B, p->K, 1.0f / (float)B));
            FCE_TRY(fce_param_arena_zero_grad(a, ctx));
            FCE_TRY(fce_ebm_image_backward(p->net, p->tp, p->d_dlogits, NULL, B, 1));
            FCE_TRY(ctx->ops->adam_step(ctx, a->params, a->grads, a->m, a->v, a->n_trainable, o->lr,
                                        0.9f, 0.999f, 1e-7f, (int)(step + 1)));
            rows_seen += B;
        }
        FCE_TRY(fce_probe_progress(ctx, p->d_stats, o, "supervised", "supervised", "--sup-lr", B,
                                   epoch, step, total, t0, &t_print, &rows_seen));
    }
    *steps_out = step;
    return FCE_STATUS_OK;
}

fce_status fce_probe_supervised(fce_ctx *ctx, const fce_ebm_image_config *arch,
                                const fce_image_set *train, const size_t *idx, int k,
                                const fce_image_set *test, const int32_t *d_yte, int n_te, int K,
                                const fce_probe_train_opts *o, fce_probe_result *r) {
    FCE_ASSERT(k > 0 && K > 1 && o->batch > 0 && train->labels, "supervised probe: k %d, K %d", k, K);
    memset(r, 0, sizeof *r);
    double t0 = fce_now_seconds();
    supprobe p;
    memset(&p, 0, sizeof p);
    p.ctx = ctx;
    p.K = K;
    const uint64_t seed_eval = fce_derive_seed(o->seed, 13);
    fce_status st = setup(&p, arch, train, k, o);
    if (st == FCE_STATUS_OK) st = train_loop(&p, train, idx, k, o, &r->steps);
    if (st == FCE_STATUS_OK) /* the last epoch's order: cur and d_yep agree */
        st = evaluate(&p, train, p.cur, k, p.d_yep, o->n_bits, seed_eval, &r->train_acc,
                      &r->train_loss);
    if (st == FCE_STATUS_OK && n_te > 0)
        st = evaluate(&p, test, NULL, n_te, d_yte, o->n_bits, seed_eval, &r->test_acc,
                      &r->test_loss);
    if (st == FCE_STATUS_OK && !isfinite(r->train_loss)) {
        fce_log_error("%s: the supervised network diverged (training loss %g); try a lower "
                      "--sup-lr", o->what, r->train_loss);
        st = FCE_STATUS_ERR_NUMERIC;
    }
    supprobe_free(&p);
    r->seconds = fce_now_seconds() - t0;
    return st;
}

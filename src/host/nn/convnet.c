/* convnet.c: the conv coupling network (convnet.h, SPEC a.6): its parameter declarations and views,
 * init, tapes with their conv plans, and the forward and backward passes on the op table. */
#include "nn/convnet.h"

#include <stdio.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"

/* kernel size of conv l */
static const int conv_k[3] = {3, 1, 3};

static int conv_in(const fce_convnet *net, int l) { return l == 0 ? net->Cin : net->Wd; }
static int conv_out(const fce_convnet *net, int l) { return l == 2 ? net->Cout : net->Wd; }

fce_status fce_convnet_declare(fce_convnet *net, fce_param_table *t, const char *prefix, int Cin,
                               int Wd, int Cout) {
    FCE_ASSERT(Cin >= 1 && Wd >= 1 && Cout >= 1, "bad convnet widths %d, %d, %d", Cin, Wd, Cout);
    memset(net, 0, sizeof *net);
    net->Cin = Cin;
    net->Wd = Wd;
    net->Cout = Cout;
    char name[FCE_PARAM_NAME_MAX];
    for (int l = 0; l < 3; l++) {
        const int k = conv_k[l];
        snprintf(name, sizeof name, "%s.conv%d.w", prefix, l);
        FCE_TRY(fce_param_table_add(t, name, conv_out(net, l), k * k * conv_in(net, l), 0, &net->iw[l]));
        if (l < 2) {
            snprintf(name, sizeof name, "%s.an%d.bias", prefix, l);
            FCE_TRY(fce_param_table_add(t, name, 1, Wd, 0, &net->ian_b[l]));
            snprintf(name, sizeof name, "%s.an%d.logs", prefix, l);
            FCE_TRY(fce_param_table_add(t, name, 1, Wd, 0, &net->ian_s[l]));
        }
    }
    snprintf(name, sizeof name, "%s.conv2.b", prefix);
    FCE_TRY(fce_param_table_add(t, name, 1, Cout, 0, &net->ib3));
    snprintf(name, sizeof name, "%s.conv2.logs", prefix);
    FCE_TRY(fce_param_table_add(t, name, 1, Cout, 0, &net->is3));
    return FCE_STATUS_OK;
}

void fce_convnet_bind(fce_convnet *net, const fce_param_table *t, const fce_param_arena *a) {
    for (int l = 0; l < 3; l++) {
        net->w[l] = a->params + t->specs[net->iw[l]].offset;
        net->dw[l] = a->grads + t->specs[net->iw[l]].offset;
    }
    for (int l = 0; l < 2; l++) {
        net->an_b[l] = a->params + t->specs[net->ian_b[l]].offset;
        net->dan_b[l] = a->grads + t->specs[net->ian_b[l]].offset;
        net->an_s[l] = a->params + t->specs[net->ian_s[l]].offset;
        net->dan_s[l] = a->grads + t->specs[net->ian_s[l]].offset;
    }
    net->b3 = a->params + t->specs[net->ib3].offset;
    net->db3 = a->grads + t->specs[net->ib3].offset;
    net->s3 = a->params + t->specs[net->is3].offset;
    net->ds3 = a->grads + t->specs[net->is3].offset;
}

static void zero_host(const fce_param_table *t, int idx, float *host) {
    const fce_param_spec *s = &t->specs[idx];
    memset(host + s->offset, 0, s->numel * sizeof(float));
}

void fce_convnet_init_host(const fce_convnet *net, const fce_param_table *t, float *host,
                           uint64_t seed) {
    for (int l = 0; l < 3; l++) {
        const fce_param_spec *w = &t->specs[net->iw[l]];
        for (size_t i = 0; i < w->numel; i++)
            host[w->offset + i] = l == 2 ? 0.0f : 0.05f * fce_philox_normal(seed, ((uint64_t)l << 40) + i);
    }
    for (int l = 0; l < 2; l++) {
        zero_host(t, net->ian_b[l], host);
        zero_host(t, net->ian_s[l], host);
    }
    zero_host(t, net->ib3, host);
    zero_host(t, net->is3, host);
}

static fce_status tape_init(fce_convnet_tape *tp, const fce_convnet *net, fce_ctx *ctx, int N, int H,
                            int W, float *g0, float *g1, float *work) {
    memset(tp, 0, sizeof *tp);
    FCE_ASSERT(N >= 1 && H >= 1 && W >= 1, "bad convnet tape shape %d x %d x %d", N, H, W);
    tp->N = N;
    tp->H = H;
    tp->W = W;
    fce_status st = FCE_STATUS_OK;
    for (int l = 0; l < 3; l++) {
        const int k = conv_k[l];
        fce_conv_shape s = {.N = N, .H = H, .W = W, .Cin = conv_in(net, l), .Cout = conv_out(net, l),
                            .KH = k, .KW = k, .stride = 1, .pad = k / 2};
        FCE_TRY_GOTO(st, ctx->ops->conv_plan_init(ctx, &tp->plan[l], &s));
    }
    const size_t pix = (size_t)N * (size_t)H * (size_t)W;
    const size_t wd_bytes = pix * (size_t)net->Wd * sizeof(float);
    for (int l = 0; l < 2; l++) FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->a[l], wd_bytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->out, pix * (size_t)net->Cout * sizeof(float)));
    const int gdim = net->Wd > net->Cout ? net->Wd : net->Cout;
    if (g0 && g1 && work) {
        tp->g0 = g0, tp->g1 = g1, tp->work = work;
    } else {
        const size_t gbytes = pix * (size_t)gdim * sizeof(float);
        tp->owns_scratch = 1;
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->g0, gbytes));
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->g1, gbytes));
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->work,
                                         fce_actnorm_work_floats(gdim) * sizeof(float)));
    }
    return FCE_STATUS_OK;
cleanup:
    fce_convnet_tape_free(tp, ctx);
    return st;
}

fce_status fce_convnet_tape_init(fce_convnet_tape *tp, const fce_convnet *net, fce_ctx *ctx, int N,
                                 int H, int W) {
    return tape_init(tp, net, ctx, N, H, W, NULL, NULL, NULL);
}

fce_status fce_convnet_tape_init_shared(fce_convnet_tape *tp, const fce_convnet *net, fce_ctx *ctx,
                                        int N, int H, int W, float *g0, float *g1, float *work) {
    FCE_ASSERT(g0 && g1 && work, "convnet tape: shared scratch missing");
    return tape_init(tp, net, ctx, N, H, W, g0, g1, work);
}

void fce_convnet_tape_free(fce_convnet_tape *tp, fce_ctx *ctx) {
    if (!tp || !ctx || !ctx->ops) return;
    for (int l = 0; l < 3; l++) ctx->ops->conv_plan_free(ctx, tp->plan[l]);
    for (int l = 0; l < 2; l++) ctx->ops->release(ctx, tp->a[l]);
    ctx->ops->release(ctx, tp->out);
    if (tp->owns_scratch) {
        ctx->ops->release(ctx, tp->g0);
        ctx->ops->release(ctx, tp->g1);
        ctx->ops->release(ctx, tp->work);
    }
    memset(tp, 0, sizeof *tp);
}

fce_status fce_convnet_forward_raw(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                                   const float *x, int N, int init) {
    FCE_ASSERT(N == tp->N, "convnet forward: batch %d, the tape (and its conv plans) is for %d", N,
               tp->N);
    const int HW = tp->H * tp->W;
    tp->input = x;
    const float *in = x;
    for (int l = 0; l < 2; l++) { /* conv (no bias) → actnorm → ReLU; the conv output is scratch */
        FCE_TRY(ctx->ops->conv2d_forward(ctx, tp->plan[l], tp->g0, in, net->w[l], NULL));
        if (init) FCE_TRY(ctx->ops->actnorm_init(ctx, net->an_b[l], net->an_s[l], tp->g0, N, HW, net->Wd));
        FCE_TRY(ctx->ops->actnorm_relu_forward(ctx, tp->a[l], tp->g0, net->an_b[l], net->an_s[l], N,
                                               HW, net->Wd));
        in = tp->a[l];
    }
    /* the zero conv; its actnorm (the head) is applied by the caller */
    return ctx->ops->conv2d_forward(ctx, tp->plan[2], tp->g0, in, net->w[2], NULL);
}

fce_status fce_convnet_forward(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                               const float *x, int N, int init) {
    FCE_TRY(fce_convnet_forward_raw(net, tp, ctx, x, N, init));
    /* zero conv: out = (conv + b)·e^{3·logs}, the actnorm op without log-det */
    const int HW = tp->H * tp->W;
    return ctx->ops->actnorm_forward(ctx, tp->out, NULL, tp->g0, net->b3, net->s3, N, HW, net->Cout);
}

fce_status fce_convnet_backward_from_raw(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                                         float *dx, int N, int param_grads) {
    FCE_ASSERT(N == tp->N, "convnet backward: batch %d, the tape (and its conv plans) is for %d", N,
               tp->N);
    FCE_ASSERT(tp->input != NULL, "convnet backward before forward");
    const int HW = tp->H * tp->W;
    const int pg = param_grads;
    for (int l = 2; l >= 0; l--) {
        /* here g0 = gradient w.r.t. conv l's output */
        const float *in = l == 0 ? tp->input : tp->a[l - 1];
        if (pg) FCE_TRY(ctx->ops->conv2d_backward_filter(ctx, tp->plan[l], net->dw[l], NULL, tp->g0, in));
        if (l == 0) {
            if (dx) FCE_TRY(ctx->ops->conv2d_backward_data(ctx, tp->plan[0], dx, tp->g0, net->w[0]));
            break;
        }
        const int j = l - 1; /* the actnorm + ReLU that produced conv l's input */
        FCE_TRY(ctx->ops->conv2d_backward_data(ctx, tp->plan[l], tp->g1, tp->g0, net->w[l]));
        FCE_TRY(ctx->ops->actnorm_relu_backward(ctx, tp->g0, pg ? net->dan_b[j] : NULL,
                                                pg ? net->dan_s[j] : NULL, tp->g1, tp->a[j],
                                                net->an_b[j], net->an_s[j], N, HW, net->Wd, tp->work));
    }
    return FCE_STATUS_OK;
}

fce_status fce_convnet_backward(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                                const float *dout, float *dx, int N, int param_grads) {
    FCE_ASSERT(N == tp->N, "convnet backward: batch %d, the tape (and its conv plans) is for %d", N,
               tp->N);
    const int HW = tp->H * tp->W, pg = param_grads;
    /* g0 = d(conv3 output) = dout·e^{3·logs}; db3 += Σ g0; ds3 += 3·Σ dout·out */
    FCE_TRY(ctx->ops->actnorm_backward_ws(ctx, tp->g0, pg ? net->db3 : NULL, pg ? net->ds3 : NULL,
                                          dout, tp->out, NULL, net->b3, net->s3, N, HW, net->Cout,
                                          tp->work));
    return fce_convnet_backward_from_raw(net, tp, ctx, dx, N, param_grads);
}

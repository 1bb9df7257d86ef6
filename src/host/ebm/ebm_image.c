/* ebm_image.c: the image EBM (ebm_image.h, SPEC d) on the backend op table: its layers (three
 * stride-2 4×4 convs with lReLU(0.2), a VALID conv down to one scalar, or n_out logits for the
 * probe's supervised baseline), the scalar c, their parameter arena (nn/model_params.h), init and
 * tapes, and the forward and backward passes. */
#include "fce/ebm_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"
#include "nn/model_params.h"

#define EBMI_LAYERS 4
#define EBMI_SLOPE 0.2f

struct fce_ebm_image {
    fce_model_params params; /* context, table, arena */
    fce_ebm_image_config cfg;
    fce_conv_shape shape[EBMI_LAYERS]; /* per-layer conv shapes with N = 1 (the tape sets N) */
    fce_param_view w[EBMI_LAYERS], b[EBMI_LAYERS]; /* conv weights and biases */
    fce_param_view c;                              /* log Z estimate */
};

struct fce_ebm_image_tape {
    fce_ebm_image *e;
    int N;
    fce_conv_plan *plan[EBMI_LAYERS];
    const float *input;  /* (N, H, W, C), borrowed */
    float *z[3];         /* conv outputs (pre-activation) of the hidden layers */
    float *a[3];         /* lReLU outputs */
    float *f;            /* (N) */
    float *g0, *g1;      /* backward ping-pong, each max hidden activation size */
};

static size_t out_numel(const fce_conv_shape *s, int N) {
    const int Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    const int Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    return (size_t)N * (size_t)Ho * (size_t)Wo * (size_t)s->Cout;
}

/* The layers' conv shapes with N = 1: three stride-2 4×4 convs, then a VALID conv to 1×1. */
static void plan_layers(fce_ebm_image *e) {
    const fce_ebm_image_config *cfg = &e->cfg;
    const int s = cfg->width_scale == 0 ? 1 : cfg->width_scale;
    const int widths[EBMI_LAYERS + 1] = {cfg->C, 64 / s, 128 / s, 256 / s,
                                         cfg->n_out > 1 ? cfg->n_out : 1};
    int H = cfg->H, W = cfg->W;
    for (int l = 0; l < EBMI_LAYERS; l++) {
        const int last = l == EBMI_LAYERS - 1;
        fce_conv_shape sh = {.N = 1, .H = H, .W = W, .Cin = widths[l], .Cout = widths[l + 1],
                             .KH = last ? H : 4, .KW = last ? W : 4, .stride = last ? 1 : 2,
                             .pad = last ? 0 : 1};
        e->shape[l] = sh;
        H = last ? 1 : H / 2;
        W = last ? 1 : W / 2;
    }
}

/* Glorot-uniform conv weights into the host image; biases and c stay 0. */
static void init_weights_host(const fce_ebm_image *e, float *host, uint64_t seed) {
    const uint64_t key = seed * 2654435761ull + 29u;
    for (int l = 0; l < EBMI_LAYERS; l++) {
        const fce_conv_shape *sh = &e->shape[l];
        const double k = (double)sh->KH * (double)sh->KW;
        const double limit = sqrt(6.0 / (k * sh->Cin + k * sh->Cout));
        const fce_param_spec *w = &e->params.table.specs[e->w[l].index];
        for (size_t i = 0; i < w->numel; i++) {
            float u = fce_philox_uniform(key, ((uint64_t)l << 40) + i);
            host[w->offset + i] = (float)((2.0 * u - 1.0) * limit);
        }
    }
}

/* Plans the layers and declares the parameters of e (cfg set). */
static fce_status ebm_image_declare(fce_ebm_image *e) {
    fce_model_params *mp = &e->params;
    plan_layers(e);
    char name[FCE_PARAM_NAME_MAX];
    for (int l = 0; l < EBMI_LAYERS; l++) {
        const fce_conv_shape *sh = &e->shape[l];
        snprintf(name, sizeof name, "ebm.conv%d.w", l);
        FCE_TRY(fce_model_params_add(mp, name, sh->Cout, sh->KH * sh->KW * sh->Cin, 0, &e->w[l]));
        snprintf(name, sizeof name, "ebm.conv%d.b", l);
        FCE_TRY(fce_model_params_add(mp, name, 1, sh->Cout, 0, &e->b[l]));
    }
    return fce_model_params_add(mp, "ebm.c", 1, 1, 0, &e->c);
}

/* Declares, allocates and initialises the parameters of e (cfg and ctx set). */
static fce_status ebm_image_build(fce_ebm_image *e, uint64_t seed) {
    fce_model_params *mp = &e->params;
    FCE_TRY(ebm_image_declare(e));
    FCE_TRY(fce_model_params_alloc(mp));
    for (int l = 0; l < EBMI_LAYERS; l++) {
        fce_param_view_bind(&e->w[l], &mp->table, &mp->arena);
        fce_param_view_bind(&e->b[l], &mp->table, &mp->arena);
    }
    fce_param_view_bind(&e->c, &mp->table, &mp->arena);
    init_weights_host(e, mp->host, seed);
    return fce_model_params_upload(mp);
}

static fce_status check_config(const fce_ebm_image_config *cfg) {
    const int s = cfg->width_scale == 0 ? 1 : cfg->width_scale;
    if (cfg->H < 8 || cfg->W < 8 || cfg->H % 8 || cfg->W % 8 || cfg->C < 1 || s < 1 || s > 64 ||
        (s & (s - 1)) || cfg->n_out < 0 || cfg->n_out > 65536) {
        fce_log_error("ebm_image: need H, W multiples of 8, C >= 1, width_scale a power of two "
                      "<= 64 and n_out in 0..65536 (got %d x %d x %d, width_scale %d, n_out %d)",
                      cfg->H, cfg->W, cfg->C, cfg->width_scale, cfg->n_out);
        return FCE_STATUS_ERR_CONFIG;
    }
    return FCE_STATUS_OK;
}

fce_status fce_ebm_image_param_count(const fce_ebm_image_config *cfg, size_t *n_total) {
    FCE_TRY(check_config(cfg));
    fce_ebm_image *e = calloc(1, sizeof *e);
    if (!e) return FCE_STATUS_ERR_NOMEM;
    e->cfg = *cfg;
    fce_status st = ebm_image_declare(e); /* the table only: nothing is allocated on a backend */
    if (st == FCE_STATUS_OK) {
        fce_param_table_plan(&e->params.table);
        *n_total = e->params.table.n_total;
    }
    fce_ebm_image_free(e);
    return st;
}

fce_status fce_ebm_image_init(fce_ebm_image **out, fce_ctx *ctx, const fce_ebm_image_config *cfg,
                              uint64_t seed) {
    *out = NULL;
    FCE_TRY(check_config(cfg));
    fce_ebm_image *e = calloc(1, sizeof *e);
    if (!e) return FCE_STATUS_ERR_NOMEM;
    e->params.ctx = ctx;
    e->cfg = *cfg;
    fce_status st = ebm_image_build(e, seed);
    if (st != FCE_STATUS_OK) {
        fce_ebm_image_free(e);
        return st;
    }
    *out = e;
    return FCE_STATUS_OK;
}

void fce_ebm_image_free(fce_ebm_image *e) {
    if (!e) return;
    fce_model_params_free(&e->params);
    free(e);
}

const fce_param_table *fce_ebm_image_params(const fce_ebm_image *e) { return &e->params.table; }
fce_param_arena *fce_ebm_image_arena(fce_ebm_image *e) { return &e->params.arena; }
fce_ctx *fce_ebm_image_ctx(fce_ebm_image *e) { return e->params.ctx; }
const fce_ebm_image_config *fce_ebm_image_cfg(const fce_ebm_image *e) { return &e->cfg; }
int fce_ebm_image_width(const fce_ebm_image *e, int l) {
    return l >= 0 && l < 3 ? e->shape[l].Cout : 0;
}
int fce_ebm_image_n_out(const fce_ebm_image *e) { return e->shape[EBMI_LAYERS - 1].Cout; }
int fce_ebm_image_feature_dim(const fce_ebm_image *e) {
    return (int)out_numel(&e->shape[2], 1);
}
float *fce_ebm_image_c(fce_ebm_image *e) { return e->c.value; }
float *fce_ebm_image_dc(fce_ebm_image *e) { return e->c.grad; }

fce_status fce_ebm_image_tape_init(fce_ebm_image_tape **out, fce_ebm_image *e, int N) {
    *out = NULL;
    if (N < 1) {
        fce_log_error("ebm_image: tape batch size must be >= 1 (got %d)", N);
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_ebm_image_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return FCE_STATUS_ERR_NOMEM;
    tp->e = e;
    tp->N = N;
    fce_ctx *ctx = e->params.ctx;
    fce_status st = FCE_STATUS_OK;
    size_t gmax = 0;
    for (int l = 0; l < EBMI_LAYERS; l++) {
        fce_conv_shape sh = e->shape[l];
        sh.N = N;
        FCE_TRY_GOTO(st, ctx->ops->conv_plan_init(ctx, &tp->plan[l], &sh));
        const size_t n = out_numel(&sh, N);
        if (l < 3) {
            FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->z[l], n * sizeof(float)));
            FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->a[l], n * sizeof(float)));
            if (n > gmax) gmax = n;
        } else {
            FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->f, n * sizeof(float)));
        }
    }
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->g0, gmax * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->g1, gmax * sizeof(float)));
    *out = tp;
    return FCE_STATUS_OK;
cleanup:
    fce_ebm_image_tape_free(tp);
    return st;
}

void fce_ebm_image_tape_free(fce_ebm_image_tape *tp) {
    if (!tp) return;
    fce_ctx *ctx = tp->e->params.ctx;
    for (int l = 0; l < EBMI_LAYERS; l++) ctx->ops->conv_plan_free(ctx, tp->plan[l]);
    for (int l = 0; l < 3; l++) {
        ctx->ops->release(ctx, tp->z[l]);
        ctx->ops->release(ctx, tp->a[l]);
    }
    ctx->ops->release(ctx, tp->f);
    ctx->ops->release(ctx, tp->g0);
    ctx->ops->release(ctx, tp->g1);
    free(tp);
}

fce_status fce_ebm_image_forward(fce_ebm_image *e, fce_ebm_image_tape *tp, const float *x, int N,
                                 const float **f) {
    FCE_ASSERT(N == tp->N, "ebm_image forward: batch %d, the tape (and its conv plans) is for %d", N,
               tp->N);
    fce_ctx *ctx = e->params.ctx;
    tp->input = x;
    const float *in = x;
    for (int l = 0; l < 3; l++) {
        FCE_TRY(ctx->ops->conv2d_forward(ctx, tp->plan[l], tp->z[l], in, e->w[l].value,
                                         e->b[l].value));
        FCE_TRY(ctx->ops->leaky_relu_forward(ctx, tp->a[l], tp->z[l], out_numel(&e->shape[l], N),
                                             EBMI_SLOPE));
        in = tp->a[l];
    }
    FCE_TRY(ctx->ops->conv2d_forward(ctx, tp->plan[3], tp->f, in, e->w[3].value, e->b[3].value));
    *f = tp->f;
    return FCE_STATUS_OK;
}

fce_status fce_ebm_image_zero_output_layer(fce_ebm_image *e) {
    fce_ctx *ctx = e->params.ctx;
    const fce_param_table *t = &e->params.table;
    const fce_param_view *v[2] = {&e->w[EBMI_LAYERS - 1], &e->b[EBMI_LAYERS - 1]};
    for (int i = 0; i < 2; i++)
        FCE_TRY(ctx->ops->zero(ctx, v[i]->value, t->specs[v[i]->index].numel * sizeof(float)));
    return FCE_STATUS_OK;
}

const float *fce_ebm_image_tape_features(const fce_ebm_image_tape *tp) { return tp->a[2]; }

fce_status fce_ebm_image_backward(fce_ebm_image *e, fce_ebm_image_tape *tp, const float *df,
                                  float *dx, int N, int param_grads) {
    FCE_ASSERT(N == tp->N, "ebm_image backward: batch %d, the tape (and its conv plans) is for %d", N,
               tp->N);
    FCE_ASSERT(tp->input != NULL, "ebm_image backward before forward");
    fce_ctx *ctx = e->params.ctx;
    const float *dy = df; /* gradient w.r.t. conv l's output (bias included) */
    float *buf[2] = {tp->g0, tp->g1};
    int k = 0;
    for (int l = EBMI_LAYERS - 1; l >= 0; l--) {
        const float *in = l == 0 ? tp->input : tp->a[l - 1];
        if (param_grads)
            FCE_TRY(ctx->ops->conv2d_backward_filter(ctx, tp->plan[l], e->w[l].grad, e->b[l].grad,
                                                     dy, in));
        if (l == 0) {
            if (dx) FCE_TRY(ctx->ops->conv2d_backward_data(ctx, tp->plan[0], dx, dy, e->w[0].value));
            break;
        }
        float *g = buf[k];
        k ^= 1;
        FCE_TRY(ctx->ops->conv2d_backward_data(ctx, tp->plan[l], g, dy, e->w[l].value));
        FCE_TRY(ctx->ops->leaky_relu_backward(ctx, g, g, tp->z[l - 1],
                                              out_numel(&e->shape[l - 1], N), EBMI_SLOPE));
        dy = g;
    }
    return FCE_STATUS_OK;
}

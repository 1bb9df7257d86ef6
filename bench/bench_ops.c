/* bench_ops.c: fce-bench's op entries: where the model runs each op and at which shape, and
 * their validation and timing (STYLE 6.12).
 *
 * An entry is one op call at one shape, on the path the model runs it: {name (the op), variant
 * ("prod" = the op table's production kernel / library call; candidates are added next to it with
 * bench_registry_add_variant), tag (where the model runs it), shape, flops, bytes, and the case of
 * the op-case registry (tests/ops/op_cases.h) that declares its buffers, their tolerance classes
 * and the call}. Shapes come from the preset's Glow and the image EBM at the op batch N (the EBM at
 * 2N: data and samples in one pass, as the FCE trainer runs it).
 *
 * Validation, before any timing: every buffer is filled on the host from a seeded generator as
 * the case's init kinds say, the same bytes go to the active backend and to a CPU reference
 * context, the variant runs on the active backend and the production op on the reference, and
 * every output is compared elementwise with its tolerance class: |got − ref| ≤ atol + rtol·|ref|
 * (the classes of tests/gpu/test_gpu_ops.c and test_gpu_conv.c). Overwritten outputs start as the
 * same garbage on both sides, accumulated ones as the same random values, so = versus += is
 * checked too. An entry that fails is reported FAILED and is not timed.
 * The reference is plain C and single-threaded, so the large convolutions are validated on a batch
 * prefix: the active backend still runs the timed plan at batch N, with the inputs of images
 * n_val..N−1 set to zero (they then add nothing to any reduction, e.g. the filter gradient), and
 * the first n_val images of each per-image output (all of each reduced output) are compared with
 * the reference run at batch n_val. n_val is the largest batch whose reference cost stays under
 * VAL_FLOP_BUDGET, at least 1; it is printed with the entry. Timing then uses full random
 * inputs. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "fce/log.h"

#define VAL_FLOP_BUDGET 4e8 /* reference FLOPs per conv entry (~1 s of the plain C reference) */

// ---- building the registry ----

/* Appends the production entry of case `case_name` at shape s and timed batch N; NULL when out
 * of memory. */
static bench_entry *add(bench_registry *r, const char *name, const char *case_name,
                        const char *tag, int N, op_shape s) {
    const op_case *oc = op_case_find(case_name);
    FCE_ASSERT(oc, "fce-bench: no op case %s", case_name);
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        bench_entry *ne = realloc(r->e, (size_t)cap * sizeof *ne);
        if (!ne) return NULL;
        r->e = ne;
        r->cap = cap;
    }
    bench_entry *e = &r->e[r->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->variant, sizeof e->variant, "prod");
    snprintf(e->tag, sizeof e->tag, "%s", tag);
    e->oc = oc;
    e->s = s;
    e->N = e->n_val = N;
    e->run = oc->run;
    return e;
}

#define ADD(var, name, case_name, tag, N, ...)                                                     \
    bench_entry *var = add(r, (name), (case_name), (tag), (N), (op_shape){__VA_ARGS__});           \
    if (!var) return FCE_STATUS_ERR_NOMEM

/* (N, HW, C) as "NxHxWxC" when H·W is square, else "NxHWxC" */
static void shape_nhwc(bench_entry *e, int N, int HW, int C) {
    int h = (int)(sqrt((double)HW) + 0.5);
    if (h * h == HW) snprintf(e->shape, sizeof e->shape, "%dx%dx%dx%d", N, h, h, C);
    else snprintf(e->shape, sizeof e->shape, "%dx%dx%d", N, HW, C);
}

static fce_status add_actnorm(bench_registry *r, const char *tag, int N, int HW, int C) {
    const double nb = (double)N * HW * C;
    ADD(f, "actnorm_forward", "actnorm_forward", tag, N, .N = N, .HW = HW, .C = C);
    shape_nhwc(f, N, HW, C);
    f->bytes = 4.0 * (2 * nb + 2.0 * N + 2.0 * C);
    ADD(bw, "actnorm_backward", "actnorm_backward", tag, N, .N = N, .HW = HW, .C = C);
    shape_nhwc(bw, N, HW, C);
    bw->bytes = 4.0 * (3 * nb + 6.0 * C + N);
    return FCE_STATUS_OK;
}

/* ReLU over the N·HW·C activations (a flat op) */
static fce_status add_relu(bench_registry *r, const char *tag, int N, int HW, int C) {
    const int n = N * HW * C;
    ADD(f, "relu_forward", "relu_forward", tag, N, .N = n);
    shape_nhwc(f, N, HW, C);
    f->bytes = 8.0 * n;
    ADD(bw, "relu_backward", "relu_backward", tag, N, .N = n);
    shape_nhwc(bw, N, HW, C);
    bw->bytes = 12.0 * n;
    return FCE_STATUS_OK;
}

/* the invertible 1×1 conv as a GEMM over rows = N·HW, C → C, no bias */
static fce_status add_invconv(bench_registry *r, const char *tag, int N, int HW, int C) {
    const double rows = (double)N * HW;
    ADD(f, "linear_forward", "linear_forward_nobias", tag, N, .N = N * HW, .in = C, .out = C);
    snprintf(f->shape, sizeof f->shape, "rows %d, %d->%d", N * HW, C, C);
    f->flops = 2.0 * rows * C * C;
    f->bytes = 4.0 * (2 * rows * C + (double)C * C);
    ADD(bw, "linear_backward", "linear_backward_no_db", tag, N, .N = N * HW, .in = C, .out = C);
    snprintf(bw->shape, sizeof bw->shape, "rows %d, %d->%d", N * HW, C, C);
    bw->flops = 4.0 * rows * C * C;
    bw->bytes = 4.0 * (3 * rows * C + 2.0 * C * C);
    return FCE_STATUS_OK;
}

static fce_status add_additive(bench_registry *r, const char *tag, int N, int HW, int C) {
    for (int inv = 0; inv < 2; inv++) {
        const char *op = inv ? "coupling_additive_inverse" : "coupling_additive_forward";
        ADD(e, op, op, tag, N, .N = N, .HW = HW, .C = C);
        shape_nhwc(e, N, HW, C);
        e->bytes = 4.0 * 2.5 * N * HW * C;
    }
    return FCE_STATUS_OK;
}

static fce_status add_squeeze(bench_registry *r, const char *tag, int N, int H, int W, int C) {
    ADD(e, "squeeze_forward", "squeeze_forward", tag, N, .N = N, .H = H, .W = W, .C = C);
    snprintf(e->shape, sizeof e->shape, "%dx%dx%dx%d", N, H, W, C);
    e->bytes = 8.0 * N * H * W * C;
    return FCE_STATUS_OK;
}

/* the diagonal Gaussian prior over D values per image */
static fce_status add_prior(bench_registry *r, const char *tag, int N, int D) {
    ADD(f, "gaussian_diag_logp", "gaussian_diag_logp", tag, N, .N = N, .C = D);
    snprintf(f->shape, sizeof f->shape, "%dx%d", N, D);
    f->bytes = 12.0 * N * D;
    ADD(bw, "gaussian_diag_logp_backward_acc", "gaussian_diag_logp_backward_acc", tag, N, .N = N,
        .C = D);
    snprintf(bw->shape, sizeof bw->shape, "%dx%d", N, D);
    bw->bytes = 4.0 * 7 * N * (double)D;
    return FCE_STATUS_OK;
}

/* fwd, bwd-data and bwd-filter of one conv */
static fce_status add_conv(bench_registry *r, const char *tag, int N, int H, int W, int Cin,
                           int Cout, int KH, int KW, int stride, int pad, int bias) {
    const op_shape s = {.N = N, .H = H, .W = W, .in = Cin, .out = Cout, .KH = KH, .KW = KW,
                        .stride = stride, .pad = pad};
    const int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
    const double nx = (double)H * W * Cin, ny = (double)Ho * Wo * Cout;
    const double nw = (double)Cout * KH * KW * Cin;
    const double per_flops = 2.0 * Ho * Wo * (double)Cout * KH * KW * Cin;
    int n_val = (int)(VAL_FLOP_BUDGET / per_flops);
    if (n_val < 1) n_val = 1;
    if (n_val > N) n_val = N;
    static const char *const names[3] = {"conv2d_forward", "conv2d_backward_data",
                                         "conv2d_backward_filter"};
    const char *const cases[3] = {bias ? "conv2d_forward" : "conv2d_forward_nobias",
                                  "conv2d_backward_data",
                                  bias ? "conv2d_backward_filter" : "conv2d_backward_filter_nodb"};
    for (int d = 0; d < 3; d++) {
        bench_entry *e = add(r, names[d], cases[d], tag, N, s);
        if (!e) return FCE_STATUS_ERR_NOMEM;
        e->n_val = n_val;
        snprintf(e->shape, sizeof e->shape, "%dx%dx%dx%d k%dx%d s%d p%d ->%d", N, H, W, Cin, KH,
                 KW, stride, pad, Cout);
        e->flops = per_flops * N;
        e->bytes = 4.0 * ((double)N * (nx + ny) + (d == 2 ? 2.0 : 1.0) * nw);
    }
    return FCE_STATUS_OK;
}

static fce_status add_optim(bench_registry *r, const char *name, const char *tag, size_t n) {
    ADD(e, name, name, tag, 1, .N = (int)n);
    snprintf(e->shape, sizeof e->shape, "n %.2fM", (double)n / 1e6);
    e->bytes = 4.0 * 7 * (double)n;
    return FCE_STATUS_OK;
}

/* test-only: the production op, then y *= 1.001 (a 1e-3 relative error validation must catch) */
static fce_status run_actnorm_forward_bad(fce_ctx *ctx, void *const *b, const op_shape *s,
                                          const fce_conv_plan *plan) {
    FCE_TRY(op_case_find("actnorm_forward")->run(ctx, b, s, plan));
    return ctx->ops->scale(ctx, b[0], b[0], (size_t)s->N * (size_t)s->HW * (size_t)s->C, 1.001f);
}

fce_status bench_registry_build(bench_registry *r, const bench_env *env, int N) {
    memset(r, 0, sizeof *r);
    const fce_iglow_config *g = &env->gc;
    char tag[40];
    int Hin = g->H, Win = g->W, Cin = g->C;
    for (int l = 0; l < g->L; l++) {
        const int h = Hin / 2, w = Win / 2, c = 4 * Cin, hw = h * w, half = c / 2, Wd = g->width;
        const int top = l == g->L - 1;
        const int cout_nn = g->affine ? c : half;
        snprintf(tag, sizeof tag, "glow.l%d.squeeze", l);
        FCE_TRY(add_squeeze(r, tag, N, Hin, Win, Cin));
        snprintf(tag, sizeof tag, "glow.l%d.actnorm", l);
        FCE_TRY(add_actnorm(r, tag, N, hw, c));
        snprintf(tag, sizeof tag, "glow.l%d.invconv", l);
        FCE_TRY(add_invconv(r, tag, N, hw, c));
        if (!g->affine) {
            snprintf(tag, sizeof tag, "glow.l%d.coupling", l);
            FCE_TRY(add_additive(r, tag, N, hw, c));
        }
        snprintf(tag, sizeof tag, "glow.l%d.nn.conv3x3_in", l);
        FCE_TRY(add_conv(r, tag, N, h, w, half, Wd, 3, 3, 1, 1, 0));
        snprintf(tag, sizeof tag, "glow.l%d.nn.actnorm", l);
        FCE_TRY(add_actnorm(r, tag, N, hw, Wd));
        if (l == 0) {
            snprintf(tag, sizeof tag, "glow.l%d.nn.relu", l);
            FCE_TRY(add_relu(r, tag, N, hw, Wd));
        }
        snprintf(tag, sizeof tag, "glow.l%d.nn.conv1x1", l);
        FCE_TRY(add_conv(r, tag, N, h, w, Wd, Wd, 1, 1, 1, 0, 0));
        snprintf(tag, sizeof tag, "glow.l%d.nn.zeroconv", l);
        FCE_TRY(add_conv(r, tag, N, h, w, Wd, cout_nn, 3, 3, 1, 1, 0));
        if (!top) {
            snprintf(tag, sizeof tag, "glow.l%d.split_prior", l);
            FCE_TRY(add_conv(r, tag, N, h, w, half, c, 3, 3, 1, 1, 1));
            FCE_TRY(add_prior(r, tag, N, hw * half));
        } else {
            snprintf(tag, sizeof tag, "glow.l%d.top_prior", l);
            FCE_TRY(add_prior(r, tag, N, hw * c));
        }
        Hin = h, Win = w, Cin = half;
    }
    /* A library reference, not a layer of this model (its NN has a 1×1 conv at width 512, no 3×3
     * conv at 512→512): cuDNN's 3×3 512→512 at the three level sizes. */
    if (g->width >= 256) {
        int hh = g->H / 2;
        for (int l = 0; l < g->L; l++, hh /= 2) {
            snprintf(tag, sizeof tag, "lib.c3x3_%d (not in model)", g->width);
            FCE_TRY(add_conv(r, tag, N, hh, hh, g->width, g->width, 3, 3, 1, 1, 0));
        }
    }
    /* the image EBM (ebm_image.h) on 2N images: data and samples in one pass */
    {
        const int s = env->ebm_width_scale ? env->ebm_width_scale : 1;
        const int widths[5] = {g->C, 64 / s, 128 / s, 256 / s, 1};
        int H = g->H, W = g->W;
        for (int l = 0; l < 4; l++) {
            const int last = l == 3;
            snprintf(tag, sizeof tag, "ebm.conv%d", l);
            FCE_TRY(add_conv(r, tag, 2 * N, H, W, widths[l], widths[l + 1], last ? H : 4,
                             last ? W : 4, last ? 1 : 2, last ? 0 : 1, 1));
            H = last ? 1 : H / 2;
            W = last ? 1 : W / 2;
        }
    }
    /* data in and samples out, and the NCE value function (one pass over N data and N samples) */
    {
        const int D = g->H * g->W * g->C;
        ADD(dq, "dequantize", "dequantize", "data", N, .N = N * D);
        snprintf(dq->shape, sizeof dq->shape, "%dx%dx%dx%d u8", N, g->H, g->W, g->C);
        dq->bytes = 5.0 * N * (double)D;
        ADD(pp, "postprocess", "postprocess", "sample", N, .N = N * D);
        snprintf(pp->shape, sizeof pp->shape, "%dx%dx%dx%d", N, g->H, g->W, g->C);
        pp->bytes = 5.0 * N * (double)D;
        ADD(e, "nce_loss", "nce_loss_ebm", "fce.loss", N, .N = N);
        snprintf(e->shape, sizeof e->shape, "n %d", N);
        e->bytes = 4.0 * 8 * N;
    }
    /* optimizers over the models' trainable arenas */
    {
        const size_t nf = bench_glow_trainable(g);
        const size_t ne = bench_ebm_trainable(g->H, g->W, g->C, env->ebm_width_scale);
        FCE_TRY(add_optim(r, "adamax_step", "opt.flow (Adamax)", nf));
        FCE_TRY(add_optim(r, "adam_step", "opt.ebm (Adam)", ne));
        FCE_TRY(add_optim(r, "adam_step", "opt.flow-size Adam", nf));
    }
    return FCE_STATUS_OK;
}

void bench_registry_free(bench_registry *r) {
    free(r->e);
    memset(r, 0, sizeof *r);
}

fce_status bench_registry_add_variant(bench_registry *r, int base, const char *variant,
                                      bench_run_fn run) {
    FCE_ASSERT(base >= 0 && base < r->n, "bench: no entry %d", base);
    bench_entry copy = r->e[base];
    bench_entry *e = add(r, copy.name, copy.oc->name, copy.tag, copy.N, copy.s);
    if (!e) return FCE_STATUS_ERR_NOMEM;
    *e = copy;
    snprintf(e->variant, sizeof e->variant, "%s", variant);
    e->run = run; /* the reference still runs the production op, e->oc->run */
    return FCE_STATUS_OK;
}

fce_status bench_registry_inject_bad(bench_registry *r) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->e[i].name, "actnorm_forward") && !strcmp(r->e[i].variant, "prod"))
            return bench_registry_add_variant(r, i, "test_bad_scale", run_actnorm_forward_bad);
    fce_log_error("fce-bench: no actnorm_forward entry to attach the test variant to");
    return FCE_STATUS_ERR_CONFIG;
}

static int list_match(const char *list, const char *a, const char *b) {
    if (!list[0] || !strcmp(list, "all")) return 1;
    if (!strcmp(list, "none")) return 0;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (strstr(a, tok) || strstr(b, tok)) return 1;
    return 0;
}

int bench_entry_selected(const bench_opts *o, const bench_entry *e) {
    if (strcmp(o->variant, "all") && strcmp(o->variant, e->variant)) return 0;
    return list_match(o->filter, e->name, e->tag);
}

// ---- validation and timing ----

typedef struct run_arg {
    fce_ctx *ctx;
    const bench_entry *e;
    void **b;
    const fce_conv_plan *plan;
} run_arg;

static fce_status run_once(void *p) {
    run_arg *a = p;
    return a->e->run(a->ctx, a->b, &a->e->s, a->plan);
}

/* Host contents of buffer i at the entry's shape: the case's init kind from a seed; with
 * zero_from < s.N, the batch-major inputs of items ≥ zero_from are zero. */
static void fill_host(const bench_entry *e, int i, void *h, int zero_from, uint64_t seed) {
    const op_buf *b = &e->oc->bufs[i];
    const size_t n = op_buf_count(b, &e->s), per = op_buf_per_sample(b, &e->s);
    op_buf_init(h, n, b, &e->s, seed, bench_fill_uniform);
    if (b->role == OP_IN && per && zero_from < e->s.N) {
        const size_t from = per * (size_t)zero_from, eb = op_buf_elem_bytes(b);
        memset((char *)h + from * eb, 0, (n - from) * eb);
    }
}

/* Compares n values of output b with tolerance (atol, rtol); updates the entry's max errors and,
 * when this output has the largest error ratio so far, the tolerance it reports. 1: all pass. */
static int compare(bench_entry *e, const op_buf *b, const void *got, const void *ref, size_t n,
                   double atol, double rtol) {
    int ok = 1;
    double worst = 0.0;
    for (size_t k = 0; k < n; k++) {
        double g, r;
        if (b->init == INIT_BYTES) g = ((const uint8_t *)got)[k], r = ((const uint8_t *)ref)[k];
        else g = ((const float *)got)[k], r = ((const float *)ref)[k];
        if (isnan(r) && isnan(g)) continue;
        double d = fabs(g - r);
        if (!isfinite(g) || !isfinite(r)) d = g == r ? 0.0 : INFINITY;
        double tol = atol + rtol * fabs(r);
        double ratio = tol > 0 ? d / tol : (d > 0 ? INFINITY : 0.0);
        if (d > e->max_abs_err) e->max_abs_err = d;
        if (ratio > worst) worst = ratio;
        if (!(ratio <= 1.0)) {
            if (ok && !e->fail_reason[0])
                snprintf(e->fail_reason, sizeof e->fail_reason,
                         "%s[%zu]: got %.9g, reference %.9g (|diff| %.3g > atol %.3g + rtol %.3g·|ref|)",
                         b->name, k, g, r, d, atol, rtol);
            ok = 0;
        }
    }
    if (e->atol < 0 || worst > e->err_ratio) e->atol = atol, e->rtol = rtol;
    if (worst > e->err_ratio) e->err_ratio = worst;
    return ok;
}

/* Uploads every buffer: the full batch to the active backend, the first n_val items (sv) to the
 * reference. */
static fce_status setup_buffers(bench_env *env, const bench_entry *e, const op_shape *sv, void **h,
                                void **d_act, void **d_ref, size_t *max_bytes, uint64_t seed) {
    fce_ctx *act = &env->ctx, *cpu = &env->cpu;
    for (int i = 0; i < op_case_n_bufs(e->oc); i++) {
        const op_buf *b = &e->oc->bufs[i];
        const size_t eb = op_buf_elem_bytes(b), nb = op_buf_count(b, &e->s) * eb;
        const size_t nr = op_buf_count(b, sv) * eb;
        if (nb > *max_bytes) *max_bytes = nb;
        h[i] = malloc(nb ? nb : 1);
        if (!h[i]) return FCE_STATUS_ERR_NOMEM;
        fill_host(e, i, h[i], sv->N, seed + 977u * (uint64_t)i);
        FCE_TRY(act->ops->alloc(act, &d_act[i], nb));
        FCE_TRY(act->ops->upload(act, d_act[i], h[i], nb));
        FCE_TRY(cpu->ops->alloc(cpu, &d_ref[i], nr));
        FCE_TRY(cpu->ops->upload(cpu, d_ref[i], h[i], nr)); /* the prefix */
    }
    return FCE_STATUS_OK;
}

/* Runs the variant on the active backend and the production op on the reference at sv, and
 * compares every output; sets e->validated_ok. */
static fce_status validate(bench_env *env, bench_entry *e, const op_shape *sv, void **d_act,
                           void **d_ref, const fce_conv_plan *p_act, const fce_conv_plan *p_ref,
                           void *got, void *ref) {
    fce_ctx *act = &env->ctx, *cpu = &env->cpu;
    FCE_TRY(e->run(act, d_act, &e->s, p_act));
    FCE_TRY(e->oc->run(cpu, d_ref, sv, p_ref));
    FCE_TRY(act->ops->sync(act));
    int ok = 1;
    for (int i = 0; i < op_case_n_bufs(e->oc); i++) {
        const op_buf *b = &e->oc->bufs[i];
        if (b->role == OP_IN) continue;
        const size_t n = op_buf_count(b, sv), bytes = n * op_buf_elem_bytes(b);
        double atol, rtol;
        op_tol_of(b->tol, sv, &atol, &rtol);
        FCE_TRY(act->ops->download(act, got, d_act[i], bytes));
        FCE_TRY(cpu->ops->download(cpu, ref, d_ref[i], bytes));
        ok = compare(e, b, got, ref, n, atol, rtol) && ok;
    }
    e->validated_ok = ok;
    return FCE_STATUS_OK;
}

/* The timed reps, from full random inputs. */
static fce_status time_entry(bench_env *env, bench_entry *e, void **h, void **d_act,
                             const fce_conv_plan *p_act, uint64_t seed) {
    fce_ctx *act = &env->ctx;
    if (e->n_val < e->N)
        for (int i = 0; i < op_case_n_bufs(e->oc); i++) {
            const op_buf *b = &e->oc->bufs[i];
            if (b->role != OP_IN || !op_buf_per_sample(b, &e->s)) continue;
            fill_host(e, i, h[i], e->s.N, seed + 977u * (uint64_t)i);
            FCE_TRY(act->ops->upload(act, d_act[i], h[i],
                                     op_buf_count(b, &e->s) * op_buf_elem_bytes(b)));
        }
    const int reps = env->opt.reps;
    double *ms = malloc((size_t)(reps > 0 ? reps : 1) * sizeof *ms);
    if (!ms) return FCE_STATUS_ERR_NOMEM;
    run_arg arg = {act, e, d_act, p_act};
    fce_status st = bench_time(env, act, env->opt.warmup, reps, run_once, &arg, ms);
    if (st == FCE_STATUS_OK) {
        bench_stats_of(ms, reps, &e->ms);
        e->timed = reps > 0;
    }
    free(ms);
    return st;
}

fce_status bench_entry_run(bench_env *env, bench_entry *e) {
    fce_ctx *act = &env->ctx, *cpu = &env->cpu;
    op_shape sv = e->s; /* the validated shape: the first n_val items */
    void *h[OP_MAX_BUFS] = {0}, *d_act[OP_MAX_BUFS] = {0}, *d_ref[OP_MAX_BUFS] = {0};
    void *got = NULL, *ref = NULL;
    size_t max_bytes = 0;
    fce_conv_plan *p_act = NULL, *p_ref = NULL;
    fce_status st = FCE_STATUS_OK;
    uint64_t seed = 0x5eedULL;
    for (const char *c = e->tag; *c; c++) seed = seed * 131 + (unsigned char)*c;
    for (const char *c = e->name; *c; c++) seed = seed * 131 + (unsigned char)*c;
    e->validated_ok = 0;
    e->timed = 0;
    e->max_abs_err = e->err_ratio = 0;
    e->atol = e->rtol = -1;
    e->fail_reason[0] = '\0';
    if (e->n_val < e->N) {
        FCE_ASSERT(e->s.N == e->N, "bench entry %s: a batch prefix needs s.N = N", e->name);
        sv.N = e->n_val;
    }

    if (e->s.KH > 0) { /* a convolution: one plan per backend and batch */
        fce_conv_shape cs = op_shape_conv(&e->s);
        FCE_TRY_GOTO(st, act->ops->conv_plan_init(act, &p_act, &cs));
        cs = op_shape_conv(&sv);
        FCE_TRY_GOTO(st, cpu->ops->conv_plan_init(cpu, &p_ref, &cs));
    }
    FCE_TRY_GOTO(st, setup_buffers(env, e, &sv, h, d_act, d_ref, &max_bytes, seed));
    got = malloc(max_bytes ? max_bytes : 1);
    ref = malloc(max_bytes ? max_bytes : 1);
    if (!got || !ref) {
        st = FCE_STATUS_ERR_NOMEM;
        goto cleanup;
    }
    FCE_TRY_GOTO(st, validate(env, e, &sv, d_act, d_ref, p_act, p_ref, got, ref));
    if (e->validated_ok) /* FAILED entries are not timed */
        FCE_TRY_GOTO(st, time_entry(env, e, h, d_act, p_act, seed));
cleanup:
    if (act->ops) act->ops->sync(act);
    for (int i = 0; i < OP_MAX_BUFS; i++) {
        if (d_act[i]) act->ops->release(act, d_act[i]);
        if (d_ref[i]) cpu->ops->release(cpu, d_ref[i]);
        free(h[i]);
    }
    if (p_act) act->ops->conv_plan_free(act, p_act);
    if (p_ref) cpu->ops->conv_plan_free(cpu, p_ref);
    free(got);
    free(ref);
    return st;
}

/* bench_phases.c: whole training phases and the FLOP model behind their floors (SPEC f).
 *
 * Phases, each at batch N, timed as whole calls (the rep timer of bench_util.c):
 *   mle_step       train/mle_step.c's step, as train_image.c's train_step runs it: the uint8
 *                  batch and the step's values uploaded, the step's work (dequantize, zero_grad,
 *                  forward, backward with dlogq = −1/N, finish_grad, Adamax, refresh; one CUDA
 *                  graph on a GPU), then the download of the N values of log q (the step's one
 *                  read-back and NaN check). The host batch comes from a pool of random pictures
 *                  (train_step's gather is a memcpy).
 *   fce_ebm_step   fce_ifce_step (train_image_fce.c) with the turn forced to the EBM, and
 *   fce_flow_step  with the turn forced to the flow (fce_ifce_set_turn). The trainer reads a
 *                  random 8-bit CIFAR-format file the bench writes to a temporary folder (1 label
 *                  byte + 3072 pixel bytes per record), from a random flow (no --init-flow) with
 *                  data-dependent actnorm init and c from data, as a fresh FCE run.
 *   sample         eval/sample_step.c's batch, as `fce-gpu sample` draws it: fill_normal of every
 *                  level's ε, iglow_inverse at T = 1, postprocess to uint8 (on the device; no
 *                  download; one CUDA graph on a GPU).
 * Every phase allocates at setup only; its memory is measured around setup and the reps.
 *
 * FLOPs are 2·MACs of the convolutions and GEMMs (SPEC f), from the preset's shapes:
 *   conv 2·N·Ho·Wo·Cout·KH·KW·Cin; invertible 1×1 conv 2·N·HW·C²; a backward costs 2× its forward
 *   (input gradient + weight gradient), so fwd + bwd = 3×; the inverse pass costs the forward.
 *   mle_step       3·F_g·N
 *   fce_ebm_step   F_g·N (forward on data) + F_g·N (inverse on samples) + F_e·2N (EBM forward on
 *                  data and samples) + (2F_e − F_e,conv0)·2N (EBM backward: filter gradients of
 *                  every layer, input gradients of all but the first)
 *   fce_flow_step  3F_g·N (data: forward + backward) + 3F_g·N (samples: inverse + backward through
 *                  it) + F_e·2N (EBM forward) + F_e·2N (its input gradient, both halves)
 *   sample         F_g·N
 * with F_g the Glow's forward and F_e the EBM's forward per image, as implemented: the coupling
 * network's 3×3 convs see C/2 (resp. 512) channels, no edge channel. With edge = 1 and SPEC f's
 * step formulas the model reproduces SPEC f's table (bench_flops_check). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_device.h"
#include "fce/log.h"
#include "eval/sample_step.h"
#include "train/mle_step.h"
#include "train/train_image_fce.h"

#define MAXL 16

const char *const bench_phase_names[BENCH_N_PHASES] = {"mle_step", "fce_ebm_step", "fce_flow_step",
                                                       "sample"};

// ---- FLOP model ----

static size_t al(size_t n) {
    return (n + FCE_PARAM_ALIGN_FLOATS - 1) / FCE_PARAM_ALIGN_FLOATS * FCE_PARAM_ALIGN_FLOATS;
}

double bench_glow_forward_flops(const fce_iglow_config *g, int edge) {
    double f = 0;
    int Hin = g->H, Win = g->W, Cin = g->C;
    for (int l = 0; l < g->L; l++) {
        const double hw = (double)(Hin / 2) * (Win / 2);
        const double c = 4.0 * Cin, half = c / 2, Wd = g->width, cout = g->affine ? c : half;
        double step = 2 * hw * c * c                       /* invertible 1×1 conv */
                      + 2 * hw * 9 * (half + edge) * Wd     /* NN conv3x3 in */
                      + 2 * hw * Wd * Wd                    /* NN conv1x1 */
                      + 2 * hw * 9 * (Wd + edge) * cout;    /* NN zero conv */
        f += g->K * step;
        if (l < g->L - 1) f += 2 * hw * 9 * (half + edge) * c; /* split prior conv */
        Hin /= 2, Win /= 2, Cin = (int)half;
    }
    return f;
}

/* Layer l's forward FLOPs per image (ebm_image.h): 4×4 s2 p1 convs, then the (H/8)×(W/8) valid one. */
static double ebm_layer_flops(int H, int W, int C, int width_scale, int l) {
    const int s = width_scale ? width_scale : 1;
    const int widths[5] = {C, 64 / s, 128 / s, 256 / s, 1};
    int h = H, w = W;
    for (int k = 0; k < l; k++) h /= 2, w /= 2;
    if (l == 3) return 2.0 * h * w * widths[3];  /* one output, kernel = the whole h×w map */
    return 2.0 * (h / 2) * (w / 2) * widths[l + 1] * 16.0 * widths[l];
}

double bench_ebm_forward_flops(int H, int W, int C, int width_scale) {
    double f = 0;
    for (int l = 0; l < 4; l++) f += ebm_layer_flops(H, W, C, width_scale, l);
    return f;
}

double bench_ebm_first_layer_flops(int H, int W, int C, int width_scale) {
    return ebm_layer_flops(H, W, C, width_scale, 0);
}

size_t bench_glow_trainable(const fce_iglow_config *g) {
    size_t n = 0;
    int Hin = g->H, Win = g->W, Cin = g->C;
    for (int l = 0; l < g->L; l++) {
        const size_t hw = (size_t)(Hin / 2) * (size_t)(Win / 2), c = 4 * (size_t)Cin, half = c / 2;
        const size_t Wd = (size_t)g->width, cout = g->affine ? c : half;
        size_t step = 2 * al(c) + 2 * al(c * c) + al(c)      /* actnorm; LU L, U, log s */
                      + al(Wd * 9 * half) + 4 * al(Wd)       /* conv0, an0, an1 */
                      + al(Wd * Wd)                          /* conv1 */
                      + al(cout * 9 * Wd) + 2 * al(cout);    /* conv2 w, b, logs */
        n += (size_t)g->K * step;
        if (l < g->L - 1) n += al(c * 9 * half) + 2 * al(c);
        else n += 2 * al(hw * c);
        Hin /= 2, Win /= 2, Cin = (int)half;
    }
    return n;
}

size_t bench_ebm_trainable(int H, int W, int C, int width_scale) {
    const int s = width_scale ? width_scale : 1;
    const size_t widths[5] = {(size_t)C, 64 / (size_t)s, 128 / (size_t)s, 256 / (size_t)s, 1};
    size_t n = 0;
    for (int l = 0; l < 4; l++) {
        size_t k = l == 3 ? (size_t)(H / 8) * (size_t)(W / 8) : 16;
        n += al(widths[l + 1] * k * widths[l]) + al(widths[l + 1]);
    }
    return n + al(1); /* c */
}

typedef struct phase_flops {
    double mle, ebm, flow, sample;
} phase_flops;

/* As implemented (see the file comment); spec = 1: SPEC f's formulas (EBM fwd+bwd = 3F_e on 2n;
 * the flow step's EBM work = 3F_e·n). */
static phase_flops phase_flops_of(const fce_iglow_config *g, int ebm_ws, int N, int edge, int spec) {
    const double Fg = bench_glow_forward_flops(g, edge);
    const double Fe = bench_ebm_forward_flops(g->H, g->W, g->C, ebm_ws);
    const double Fe0 = bench_ebm_first_layer_flops(g->H, g->W, g->C, ebm_ws);
    phase_flops p;
    p.mle = 3 * Fg * N;
    p.sample = Fg * N;
    if (spec) {
        p.ebm = 2 * Fg * N + 3 * Fe * 2 * N;
        p.flow = 6 * Fg * N + 3 * Fe * N;
    } else {
        p.ebm = 2 * Fg * N + Fe * 2 * N + (2 * Fe - Fe0) * 2 * N;
        p.flow = 6 * Fg * N + 2 * Fe * 2 * N;
    }
    return p;
}

static int check_one(FILE *out, const char *what, double got, double want) {
    double rel = fabs(got - want) / want;
    int bad = rel > 0.005;
    fprintf(out, "  %-44s %14.6g  SPEC f %10.4g  %+.2f%%  %s\n", what, got, want, 100 * (got - want) / want,
            bad ? "MISMATCH" : "ok");
    return bad;
}

int bench_flops_check(FILE *out) {
    const fce_iglow_config cifar = {32, 32, 3, 3, 32, 512, 0}, svhn = {32, 32, 3, 3, 8, 512, 0};
    const fce_iglow_config cifar_aff = {32, 32, 3, 3, 32, 512, 1};
    int bad = 0;
    fprintf(out, "FLOP model with openai/glow's edge channel against SPEC f (tolerance 0.5%%):\n");
    bad += check_one(out, "Glow cifar10 forward, GFLOP/image", bench_glow_forward_flops(&cifar, 1) / 1e9, 7.33);
    bad += check_one(out, "Glow cifar10 affine forward, GFLOP/image",
                     bench_glow_forward_flops(&cifar_aff, 1) / 1e9, 8.13);
    bad += check_one(out, "Glow svhn forward, GFLOP/image", bench_glow_forward_flops(&svhn, 1) / 1e9, 1.83);
    bad += check_one(out, "EBM forward, MFLOP/image", bench_ebm_forward_flops(32, 32, 3, 0) / 1e6, 35.1);
    phase_flops c = phase_flops_of(&cifar, 0, 64, 1, 1), s = phase_flops_of(&svhn, 0, 64, 1, 1);
    bad += check_one(out, "cifar10 MLE step, batch 64, TFLOP", c.mle / 1e12, 1.408);
    bad += check_one(out, "cifar10 FCE EBM step, n = 64, TFLOP", c.ebm / 1e12, 0.952);
    bad += check_one(out, "cifar10 FCE flow step, n = 64, TFLOP", c.flow / 1e12, 2.822);
    bad += check_one(out, "cifar10 50k samples, PFLOP", c.sample / 64 * 50000 / 1e15, 0.367);
    bad += check_one(out, "svhn MLE step, batch 64, TFLOP", s.mle / 1e12, 0.352);
    bad += check_one(out, "svhn FCE EBM step, TFLOP", s.ebm / 1e12, 0.248);
    bad += check_one(out, "svhn FCE flow step, TFLOP", s.flow / 1e12, 0.711);
    bad += check_one(out, "cifar10 MLE floor at 495 TF/s (TF32), ms", c.mle / 495e12 * 1e3, 2.84);
    phase_flops m = phase_flops_of(&cifar, 0, 64, 0, 0);
    fprintf(out, "As implemented (no edge channel; EBM backward as ebm_image.c runs it), cifar10, batch 64:\n"
            "  Glow forward %.4g GFLOP/image; MLE step %.4g TFLOP (TF32 floor %.3f ms at 495 TF/s, "
            "FP32 floor %.2f ms at 67 TF/s); FCE EBM step %.4g TFLOP; FCE flow step %.4g TFLOP; "
            "sample %.4g TFLOP\n", bench_glow_forward_flops(&cifar, 0) / 1e9, m.mle / 1e12,
            m.mle / 495e12 * 1e3, m.mle / 67e12 * 1e3, m.ebm / 1e12, m.flow / 1e12, m.sample / 1e12);
    return bad;
}

// ---- phases ----

int bench_phase_selected(const bench_opts *o, const char *name) {
    if (!o->phases[0] || !strcmp(o->phases, "all")) return 1;
    if (!strcmp(o->phases, "none")) return 0;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", o->phases);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!strcmp(tok, name)) return 1;
    return 0;
}

#define SEED_MODEL 7u
#define SEED_NOISE 11u
#define SEED_EPS 13u

typedef struct glow_phase {
    fce_ctx *ctx;
    fce_iglow *g;
    fce_iglow_tape *tp;
    int N, L;
    size_t D;
    uint8_t *h_pool;  /* pool_batches random batches */
    int pool_batches;
    float *h_logq;
    fce_mle_step mle;       /* mle_step (train/mle_step.h) */
    fce_sample_step sample; /* sample (eval/sample_step.h) */
    int64_t step;
} glow_phase;

static void glow_phase_free(glow_phase *p) {
    fce_ctx *ctx = p->ctx;
    if (!ctx) return;
    ctx->ops->sync(ctx);
    fce_mle_step_free(&p->mle);
    fce_sample_step_free(&p->sample);
    fce_iglow_tape_free(p->tp);
    fce_iglow_free(p->g);
    free(p->h_pool);
    free(p->h_logq);
    memset(p, 0, sizeof *p);
}

/* The data-dependent actnorm init on the first pool batch (dequantised with the noise of step 0),
 * in buffers of its own, at setup. */
static fce_status data_init(glow_phase *p) {
    fce_ctx *ctx = p->ctx;
    const size_t ND = (size_t)p->N * p->D;
    uint8_t *d_u8 = NULL;
    float *d_x = NULL;
    fce_status st = ctx->ops->alloc(ctx, (void **)&d_u8, ND);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&d_x, ND * sizeof(float));
    if (st == FCE_STATUS_OK) st = ctx->ops->upload(ctx, d_u8, p->h_pool, ND);
    if (st == FCE_STATUS_OK) st = ctx->ops->dequantize(ctx, d_x, d_u8, ND, 8, SEED_NOISE, 0);
    if (st == FCE_STATUS_OK) st = fce_iglow_data_init(p->g, p->tp, d_x, p->N);
    if (st == FCE_STATUS_OK) st = ctx->ops->sync(ctx);
    ctx->ops->release(ctx, d_u8);
    ctx->ops->release(ctx, d_x);
    return st;
}

/* The flow at the preset, a tape for N, the batch buffers, and the data-dependent actnorm init on
 * the first pool batch (so the timed steps see an initialised model, as in training). */
static fce_status glow_phase_setup(bench_env *env, int N, int sample, glow_phase *p) {
    memset(p, 0, sizeof *p);
    fce_ctx *ctx = &env->ctx;
    p->ctx = ctx;
    p->N = N;
    p->L = env->gc.L;
    p->D = (size_t)env->gc.H * env->gc.W * env->gc.C;
    const size_t ND = (size_t)N * p->D;
    FCE_TRY(fce_iglow_init(&p->g, ctx, &env->gc, SEED_MODEL));
    /* sampling runs on an inference tape, as `fce-gpu sample` does (no backward, ~1/K the memory) */
    FCE_TRY(sample ? fce_iglow_tape_init_inference(&p->tp, p->g, N) : fce_iglow_tape_init(&p->tp, p->g, N));
    if (fce_iglow_arena(p->g)->n_trainable != bench_glow_trainable(&env->gc))
        fce_log_warn("fce-bench: the flow has %zu trainable floats, the bench's count (optimizer "
                     "entries) says %zu: update bench_glow_trainable",
                     fce_iglow_arena(p->g)->n_trainable, bench_glow_trainable(&env->gc));
    p->pool_batches = 4;
    p->h_pool = malloc((size_t)p->pool_batches * ND);
    p->h_logq = malloc((size_t)N * sizeof(float));
    if (!p->h_pool || !p->h_logq) return FCE_STATUS_ERR_NOMEM;
    bench_fill_u8(p->h_pool, (size_t)p->pool_batches * ND, 0xda7au);
    FCE_TRY(data_init(p));
    if (sample) {
        FCE_ASSERT(p->L <= MAXL, "bench: more than %d levels", MAXL);
        FCE_TRY(fce_sample_step_init(&p->sample, ctx, p->g, p->tp, N, SEED_EPS, 1.0f, 8));
    } else {
        const fce_optimizer adamax = {FCE_OPTIM_ADAMAX, 0.9f, 0.999f, 1e-7f};
        FCE_TRY(fce_mle_step_init(&p->mle, ctx, p->g, p->tp, N, N, 0, 8, SEED_NOISE, &adamax));
    }
    p->step = 1; /* the init batch had the noise of step 0 */
    return ctx->ops->sync(ctx);
}

/* train_image.c's train_step, minus the host gather (the batch comes from the pool). */
static fce_status mle_step_fn(void *arg) {
    glow_phase *p = arg;
    fce_ctx *ctx = p->ctx;
    const size_t ND = (size_t)p->N * p->D;
    const uint8_t *batch = p->h_pool + (size_t)(p->step % p->pool_batches) * ND;
    FCE_TRY(fce_mle_step_run(&p->mle, batch, p->step, 1e-4f, p->step + 1, 0));
    FCE_TRY(ctx->ops->download(ctx, p->h_logq, fce_iglow_tape_logq(p->tp), (size_t)p->N * sizeof(float)));
    double s = 0;
    for (int i = 0; i < p->N; i++) s += p->h_logq[i];
    if (!isfinite(s)) {
        fce_log_error("fce-bench: mle_step %lld: log q is not finite", (long long)p->step);
        return FCE_STATUS_ERR_NUMERIC;
    }
    p->step++;
    return FCE_STATUS_OK;
}

/* `fce-gpu sample` per batch: ε for every level, the inverse at T = 1, uint8 on the device. */
static fce_status sample_fn(void *arg) {
    glow_phase *p = arg;
    FCE_TRY(fce_sample_step_run(&p->sample, p->step));
    p->step++;
    return FCE_STATUS_OK;
}

typedef struct fce_phase {
    fce_ifce *t;
    char dir[512], data[600], out[600];
    int have_dir;
} fce_phase;

static void fce_phase_free(fce_phase *p) {
    fce_ifce_free(p->t);
    p->t = NULL;
    if (p->have_dir) {
        remove(p->data);
        rmdir(p->out);
        rmdir(p->dir);
    }
    p->have_dir = 0;
}

/* A random CIFAR-10-format file (label byte + 3072 pixel bytes per record) in a fresh temporary
 * folder, and the FCE trainer on it (fresh start: random flow, data-dependent init, c from data). */
static fce_status fce_phase_setup(bench_env *env, int N, fce_phase *p) {
    memset(p, 0, sizeof *p);
    const char *tmp = getenv("TMPDIR");
    snprintf(p->dir, sizeof p->dir, "%s/fce-bench-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(p->dir)) {
        fce_log_error("fce-bench: cannot create a temporary folder %s", p->dir);
        return FCE_STATUS_ERR_IO;
    }
    p->have_dir = 1;
    snprintf(p->data, sizeof p->data, "%s/data_batch.bin", p->dir);
    snprintf(p->out, sizeof p->out, "%s/run", p->dir);
    const size_t rec = 1 + 3072, n_rec = (size_t)(4 * N > 64 ? 4 * N : 64);
    uint8_t *buf = malloc(rec * n_rec);
    if (!buf) return FCE_STATUS_ERR_NOMEM;
    bench_fill_u8(buf, rec * n_rec, 0xc1fa4u);
    for (size_t i = 0; i < n_rec; i++) buf[i * rec] = (uint8_t)(buf[i * rec] % 10);
    FILE *f = fopen(p->data, "wb");
    int ok = f && fwrite(buf, 1, rec * n_rec, f) == rec * n_rec;
    if (f && fclose(f) != 0) ok = 0;
    free(buf);
    if (!ok) {
        fce_log_error("fce-bench: cannot write %s", p->data);
        return FCE_STATUS_ERR_IO;
    }
    fce_image_train_config c;
    fce_image_train_config_defaults(&c);
    snprintf(c.dataset, sizeof c.dataset, "cifar10");
    snprintf(c.data_dir, sizeof c.data_dir, "%s", p->data);
    snprintf(c.mode, sizeof c.mode, "fce");
    snprintf(c.preset, sizeof c.preset, "%s", env->opt.preset);
    if (env->is_cuda) snprintf(c.device, sizeof c.device, "%d", env->ctx.device);
    else snprintf(c.device, sizeof c.device, "cpu");
    snprintf(c.out_dir, sizeof c.out_dir, "%s", p->out);
    c.batch = N;
    c.steps = 1000000000L;
    c.quiet = 1;
    c.ebm_width_scale = env->ebm_width_scale;
    return fce_ifce_create(&p->t, &c);
}

static fce_status fce_ebm_fn(void *arg) {
    fce_ifce *t = arg;
    fce_ifce_set_turn(t, 0);
    return fce_ifce_step(t, NULL);
}

static fce_status fce_flow_fn(void *arg) {
    fce_ifce *t = arg;
    fce_ifce_set_turn(t, 1);
    return fce_ifce_step(t, NULL);
}

// ---- memory, timing and floors ----

/* Device memory in use (CUDA, device-wide) or this process's resident set (CPU backend). */
static size_t mem_now(bench_env *env, fce_ctx *ctx) {
    if (env->is_cuda) {
        size_t u = 0;
        return bench_dev_mem_used(ctx, &u) == FCE_STATUS_OK ? u : 0;
    }
    return bench_rss_bytes();
}

static void result_init(bench_env *env, bench_phase_result *r, const char *name, int N, double flops) {
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->batch = N;
    r->flops = flops;
    r->img_per_s = NAN;
    r->ms.median = r->ms.min = r->ms.max = NAN;
    r->floor_ms_fp32 = env->peaks.tflops > 0 ? flops / (env->peaks.tflops * 1e12) * 1e3 : NAN;
    double tf32 = env->peaks.nominal_tflops_tf32 > 0 ? env->peaks.nominal_tflops_tf32 : env->peaks.tflops_tf32;
    r->floor_ms_tf32 = tf32 > 0 ? flops / (tf32 * 1e12) * 1e3 : NAN;
    snprintf(r->floor_tf32_basis, sizeof r->floor_tf32_basis, "%s",
             env->peaks.nominal_tflops_tf32 > 0 ? "nominal dense TF32" : tf32 > 0 ? "measured cuBLAS TF32" : "none");
    snprintf(r->mem_method, sizeof r->mem_method, "%s",
             env->is_cuda ? "cudaMemGetInfo delta (device-wide, after setup and after the reps)"
                          : "host RSS delta (/proc/self/statm, after setup and after the reps)");
}

static void mem_update(bench_phase_result *r, size_t m0, size_t m) {
    double d = m > m0 ? (double)(m - m0) : 0.0;
    if (d > r->mem_bytes) r->mem_bytes = d;
}

static fce_status time_phase(bench_env *env, fce_ctx *ctx, bench_fn fn, void *arg, size_t m0,
                             bench_phase_result *r) {
    const int reps = env->opt.phase_reps;
    double *ms = malloc((size_t)(reps > 0 ? reps : 1) * sizeof *ms);
    if (!ms) return FCE_STATUS_ERR_NOMEM;
    fce_status st = bench_time(env, ctx, env->opt.phase_warmup, reps, fn, arg, ms);
    if (st == FCE_STATUS_OK && reps > 0) {
        bench_stats_of(ms, reps, &r->ms);
        r->img_per_s = r->batch / (r->ms.median * 1e-3);
        r->ok = 1;
    }
    /* one more step, counted (the emulated GPU only), after the warm-up and the timed reps */
    if (st == FCE_STATUS_OK) st = bench_count_call(ctx, fn, arg, &r->counts);
    if (st != FCE_STATUS_OK) r->ok = 0;
    free(ms);
    mem_update(r, m0, mem_now(env, ctx));
    return st;
}

static void phase_failed(const bench_phase_result *r, fce_status st) {
    fce_log_error("fce-bench: phase %s at batch %d failed: %s", r->name, r->batch, fce_status_str(st));
}

/* One phase on a fresh flow (the MLE step, or sampling when `sample`): setup, memory, timing. */
static void glow_phase_run(bench_env *env, int N, const char *name, double flops, int sample,
                           bench_fn fn, bench_phase_result *r) {
    result_init(env, r, name, N, flops);
    size_t m0 = mem_now(env, &env->ctx);
    glow_phase p;
    fce_status st = glow_phase_setup(env, N, sample, &p);
    if (st == FCE_STATUS_OK) {
        mem_update(r, m0, mem_now(env, &env->ctx));
        st = time_phase(env, &env->ctx, fn, &p, m0, r);
    }
    glow_phase_free(&p);
    if (st != FCE_STATUS_OK) phase_failed(r, st);
}

fce_status bench_phases_run(bench_env *env, int N, bench_phase_result *res, int *n_res) {
    *n_res = 0;
    const phase_flops pf = phase_flops_of(&env->gc, env->ebm_width_scale, N, 0, 0);
    if (bench_phase_selected(&env->opt, "mle_step"))
        glow_phase_run(env, N, "mle_step", pf.mle, 0, mle_step_fn, &res[(*n_res)++]);
    const int want_ebm = bench_phase_selected(&env->opt, "fce_ebm_step");
    const int want_flow = bench_phase_selected(&env->opt, "fce_flow_step");
    if (want_ebm || want_flow) {
        bench_phase_result *re = want_ebm ? &res[(*n_res)++] : NULL;
        bench_phase_result *rf = want_flow ? &res[(*n_res)++] : NULL;
        if (re) result_init(env, re, "fce_ebm_step", N, pf.ebm);
        if (rf) result_init(env, rf, "fce_flow_step", N, pf.flow);
        size_t m0 = mem_now(env, &env->ctx);
        fce_phase p;
        fce_status st = fce_phase_setup(env, N, &p);
        if (st == FCE_STATUS_OK) {
            fce_ctx *fctx = fce_ifce_ctx(p.t);
            size_t m1 = mem_now(env, fctx);
            if (re) {
                mem_update(re, m0, m1);
                st = time_phase(env, fctx, fce_ebm_fn, p.t, m0, re);
                if (st != FCE_STATUS_OK) phase_failed(re, st);
            }
            if (rf && st == FCE_STATUS_OK) {
                mem_update(rf, m0, m1);
                st = time_phase(env, fctx, fce_flow_fn, p.t, m0, rf);
                if (st != FCE_STATUS_OK) phase_failed(rf, st);
            }
        } else {
            phase_failed(re ? re : rf, st);
        }
        fce_phase_free(&p);
    }
    if (bench_phase_selected(&env->opt, "sample"))
        glow_phase_run(env, N, "sample", pf.sample, 1, sample_fn, &res[(*n_res)++]);
    return FCE_STATUS_OK;
}

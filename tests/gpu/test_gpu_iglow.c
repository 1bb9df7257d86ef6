/* test_gpu_iglow.c: the image Glow's four passes on the CUDA backend against the CPU reference
 * (cpu-ref, the oracle), from identical parameters: log q and every latent of the forward, x̃ and
 * log q of the inverse (sampling at T = 1), and every parameter gradient of a backward through
 * each (the flow's part of an MLE step and of an FCE flow turn), and W, W⁻¹ after a refresh.
 *
 * The additive flow runs flow_step.c's fused path (fce/ops.def "fused ops": the coupling fused
 * with its network's last actnorm and the next step's actnorm, actnorm → ReLU, the coalesced
 * two-stage actnorm backwards, the batched 1×1 maps and their log-dets, the planar W·y1); the
 * affine flow the unfused one, as a control. 16×16×3, L 2, K 3, width 16, batch 3: small enough
 * for the emulated GPU (emu_gpu_iglow), with several steps per block so the batched ops and the
 * step-to-step fusion are exercised. Skips (77) without a usable GPU; FCE_REQUIRE_GPU=1 turns the
 * skip into a failure. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/iglow.h"
#include "fce_test.h"
#include "test_util.h"

#define NB 3
#define LEVELS 2
/* The GPU's convolutions and GEMMs sum in float where the reference sums in double (~1e-6
 * relative per op), compounded through 6 flow steps: as test_gpu_step's whole-step tolerance. */
#define PASS_ATOL 1e-5
#define PASS_RTOL 1e-3
#define GRAD_ATOL 1e-4
#define GRAD_RTOL 1e-3

typedef struct side {
    fce_ctx ctx;
    fce_iglow *g;
    fce_iglow_tape *tf, *ti; /* forward (data) and inverse (samples) tapes */
    float *x, *dlogq, *dx, *eps[LEVELS];
} side;

static fce_iglow_config cfg_of(int affine) {
    fce_iglow_config c = {16, 16, 3, LEVELS, 3, 16, affine};
    return c;
}

static int side_init(side *s, const char *device, const fce_iglow_config *cfg, const float *hx,
                     const float *hdl, const float *hdx, float *const *heps) {
    memset(s, 0, sizeof *s);
    ASSERT_OK(fce_ctx_init(&s->ctx, device));
    ASSERT_OK(fce_iglow_init(&s->g, &s->ctx, cfg, 7));
    ASSERT_OK(fce_iglow_tape_init(&s->tf, s->g, NB));
    ASSERT_OK(fce_iglow_tape_init(&s->ti, s->g, NB));
    const size_t D = (size_t)cfg->H * cfg->W * cfg->C;
    s->x = fce_test_dev_from_host(&s->ctx, hx, NB * D);
    s->dx = fce_test_dev_from_host(&s->ctx, hdx, NB * D);
    s->dlogq = fce_test_dev_from_host(&s->ctx, hdl, NB);
    for (int l = 0; l < LEVELS; l++)
        s->eps[l] = fce_test_dev_from_host(&s->ctx, heps[l], NB * (size_t)fce_iglow_n_z(s->g, l));
    return 0;
}

static void side_free(side *s) {
    s->ctx.ops->release(&s->ctx, s->x);
    s->ctx.ops->release(&s->ctx, s->dx);
    s->ctx.ops->release(&s->ctx, s->dlogq);
    for (int l = 0; l < LEVELS; l++) s->ctx.ops->release(&s->ctx, s->eps[l]);
    fce_iglow_tape_free(s->tf);
    fce_iglow_tape_free(s->ti);
    fce_iglow_free(s->g);
    fce_ctx_free(&s->ctx);
}

/* n floats of the GPU side's buffer against the CPU side's. */
static int close_dev(const char *what, side *gpu, const float *dg, side *cpu, const float *dc,
                     size_t n, double atol, double rtol) {
    float *hg = fce_test_host_from_dev(&gpu->ctx, dg, n), *hc = fce_test_host_from_dev(&cpu->ctx, dc, n);
    int ok = fce_test_close(what, hg, hc, n, atol, rtol);
    free(hg);
    free(hc);
    return ok;
}

static int close_grads(const char *what, side *gpu, side *cpu) {
    fce_param_arena *ga = fce_iglow_arena(gpu->g), *ca = fce_iglow_arena(cpu->g);
    float *hg = fce_test_host_from_dev(&gpu->ctx, ga->grads, ga->n_trainable);
    fprintf(stderr, "  %s\n", what);
    int ok = fce_test_close_params(fce_iglow_params(cpu->g), hg, ca->grads, GRAD_ATOL, GRAD_RTOL);
    free(hg);
    return ok;
}

/* Both sides through data init (the CPU's), refresh, the four passes and their gradients. */
static int run_passes(int affine) {
    char reason[256];
    if (!fce_gpu_usable(reason, sizeof reason)) FCE_TEST_SKIP_NO_GPU(reason);
    const fce_iglow_config cfg = cfg_of(affine);
    const size_t D = (size_t)cfg.H * cfg.W * cfg.C;
    float *hx = fce_test_alloc(NB * D), *hdx = fce_test_alloc(NB * D), hdl[NB], *heps[LEVELS];
    fce_test_fill_uniform(hx, NB * D, 21, -0.5f, 0.5f);
    fce_test_fill_normal(hdx, NB * D, 22, 0.1f);
    fce_test_fill_uniform(hdl, NB, 23, -1.0f, 1.0f);
    side c, g;
    for (int l = 0; l < LEVELS; l++) heps[l] = fce_test_alloc(NB * D);
    for (int l = 0; l < LEVELS; l++) fce_test_fill_normal(heps[l], NB * D, 30 + l, 1.0f);
    if (side_init(&c, "cpu-ref", &cfg, hx, hdl, hdx, heps) || side_init(&g, "0", &cfg, hx, hdl, hdx, heps))
        return 1;
    /* identical state on both: the CPU side's data-initialised parameters, every trainable one
     * moved by 0.05·N(0, 1) (at init the zero convs would stop every gradient upstream of them,
     * and the prior's and the networks' last layers are zero) */
    ASSERT_OK(fce_iglow_data_init(c.g, c.tf, c.x, NB));
    fce_param_arena *ca = fce_iglow_arena(c.g), *ga = fce_iglow_arena(g.g);
    float *moved = fce_test_alloc(ca->n_trainable);
    fce_test_fill_normal(moved, ca->n_trainable, 24, 0.01f);
    for (size_t i = 0; i < ca->n_trainable; i++) ca->params[i] += moved[i];
    free(moved);
    ASSERT_OK(fce_iglow_refresh(c.g));
    ASSERT_OK(g.ctx.ops->upload(&g.ctx, ga->params, ca->params, ca->n_total * sizeof(float)));
    fce_iglow_set_actnorm_initialized(g.g, 1);
    ASSERT_OK(fce_iglow_refresh(g.g));

    ASSERT_OK(fce_iglow_forward(c.g, c.tf, c.x, NB));
    ASSERT_OK(fce_iglow_forward(g.g, g.tf, g.x, NB));
    ASSERT_TRUE(close_dev("forward log q", &g, fce_iglow_tape_logq(g.tf), &c, fce_iglow_tape_logq(c.tf),
                          NB, PASS_ATOL, PASS_RTOL));
    for (int l = 0; l < LEVELS; l++)
        ASSERT_TRUE(close_dev("forward z", &g, fce_iglow_tape_z(g.tf, l), &c, fce_iglow_tape_z(c.tf, l),
                              NB * (size_t)fce_iglow_n_z(c.g, l), PASS_ATOL, PASS_RTOL));
    ASSERT_OK(fce_iglow_inverse(c.g, c.ti, (const float *const *)c.eps, 1.0f, NB));
    ASSERT_OK(fce_iglow_inverse(g.g, g.ti, (const float *const *)g.eps, 1.0f, NB));
    ASSERT_TRUE(close_dev("inverse x", &g, fce_iglow_tape_x(g.ti), &c, fce_iglow_tape_x(c.ti), NB * D,
                          PASS_ATOL, PASS_RTOL));
    ASSERT_TRUE(close_dev("inverse log q", &g, fce_iglow_tape_logq(g.ti), &c,
                          fce_iglow_tape_logq(c.ti), NB, PASS_ATOL, PASS_RTOL));

    side *both[2] = {&c, &g};
    for (int i = 0; i < 2; i++) { /* the flow's gradients of an FCE flow turn: both passes */
        side *s = both[i];
        ASSERT_OK(fce_iglow_zero_grad(s->g));
        ASSERT_OK(fce_iglow_backward(s->g, s->tf, s->dlogq, NB));
    }
    ASSERT_TRUE(close_grads("gradients of the forward pass", &g, &c));
    for (int i = 0; i < 2; i++) {
        side *s = both[i];
        ASSERT_OK(fce_iglow_inverse_backward(s->g, s->ti, s->dx, s->dlogq, NB));
        ASSERT_OK(fce_iglow_finish_grad(s->g));
    }
    ASSERT_TRUE(close_grads("gradients of both passes, the 1x1 maps' folded in", &g, &c));
    side_free(&c);
    side_free(&g);
    for (int l = 0; l < LEVELS; l++) free(heps[l]);
    free(hx), free(hdx);
    return 0;
}

/* additive: the fused path; affine: the unfused one (the control) */
TEST(fused_and_unfused_paths) {
    for (int affine = 0; affine <= 1; affine++) {
        fprintf(stderr, "  %s coupling\n", affine ? "affine (unfused path)" : "additive (fused path)");
        const int rc = run_passes(affine);
        if (rc) return rc;
    }
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(fused_and_unfused_paths);
FCE_TEST_MAIN_END

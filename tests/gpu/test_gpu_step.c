/* test_gpu_step.c: one whole training step on the CUDA backend equals the CPU reference backend
 * from identical state (STYLE 6.11, llm.c test_gpt2.cu). Two trainers with the default 2D config
 * are set up, one per backend; the CUDA one receives the CPU one's parameters, optimizer moments and
 * counters after the CPU fresh start, so both begin bit-identical. Then, for an EBM turn and a
 * flow turn of FCE, an NCE step and an MLE step: value and accuracy, every gradient, and the
 * parameters after the update are compared. Skips (77) without a usable GPU; FCE_REQUIRE_GPU=1
 * turns the skip into a failure. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce_test.h"
#include "test_util.h"
#include "train/train_2d_internal.h"

/* cuBLAS sums in float where the reference sums in double: per-op differences ~1e-6 relative,
 * compounded through 10 flow steps and 4 EBM layers (STYLE 6.11 "one full FCE step"). */
#define STEP_ATOL 1e-5
#define STEP_RTOL 1e-3

static void config(fce_train_config *c, const char *device, const char *out, fce_train_mode mode) {
    fce_train_config_defaults(c);
    snprintf(c->device, sizeof c->device, "%s", device);
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out);
    c->mode = mode;
    c->quiet = 1;
}

/* Copies params, m, v of one arena from the CPU trainer (host memory) to the GPU trainer. */
static fce_status copy_arena(fce_ctx *gctx, fce_param_arena *dst, const fce_param_arena *src) {
    size_t b = src->n_total * sizeof(float);
    FCE_TRY(gctx->ops->upload(gctx, dst->params, src->params, b));
    FCE_TRY(gctx->ops->upload(gctx, dst->m, src->m, b));
    return gctx->ops->upload(gctx, dst->v, src->v, b);
}

static int compare_arena(const char *what, fce_trainer *gpu, fce_param_arena *g, fce_param_arena *c,
                         int grads) {
    float *h = fce_test_host_from_dev(&gpu->ctx, grads ? g->grads : g->params, g->n_trainable);
    char name[96];
    snprintf(name, sizeof name, "%s %s", what, grads ? "grads" : "params");
    int ok = fce_test_close(name, h, grads ? c->grads : c->params, g->n_trainable, STEP_ATOL, STEP_RTOL);
    free(h);
    return ok;
}

static int run_mode(fce_train_mode mode) {
    char reason[256];
    if (!fce_gpu_usable(reason, sizeof reason)) FCE_TEST_SKIP_NO_GPU(reason);
    fce_train_config cc, gc;
    config(&cc, "cpu-ref", "test_gpu_step_out/cpu", mode); /* the oracle, not the fast CPU path */
    config(&gc, "0", "test_gpu_step_out/gpu", mode);
    fce_trainer *c = calloc(1, sizeof *c), *g = calloc(1, sizeof *g);
    ASSERT_OK(fce_trainer_setup(c, &cc));
    ASSERT_OK(fce_trainer_setup(g, &gc));
    ASSERT_OK(fce_trainer_fresh_start(c));
    int turns = mode == FCE_MODE_FCE ? 2 : 1;
    for (int turn = 0; turn < turns; turn++) {
        int flow = mode == FCE_MODE_MLE || turn == 1;
        /* identical state before each turn: the CPU trainer's, bit for bit */
        ASSERT_OK(copy_arena(&g->ctx, fce_glow_arena(g->glow), fce_glow_arena(c->glow)));
        ASSERT_OK(copy_arena(&g->ctx, fce_ebm_arena(g->ebm), fce_ebm_arena(c->ebm)));
        fce_glow_set_actnorm_initialized(g->glow, fce_glow_actnorm_initialized(c->glow));
        ASSERT_OK(fce_glow_refresh(g->glow));
        g->st = c->st;
        const char *who = flow ? "flow" : "ebm";
        if (mode != FCE_MODE_MLE) {
            float sc[2], sg[2];
            ASSERT_OK(fce_trainer_contrastive_grads(c, flow, sc));
            ASSERT_OK(fce_trainer_contrastive_grads(g, flow, sg));
            fprintf(stderr, "    %s turn: V cpu %.7f gpu %.7f | acc cpu %.4f gpu %.4f\n", who, sc[0], sg[0],
                    sc[1], sg[1]);
            ASSERT_NEAR(sg[0], sc[0], 1e-5 + 1e-5 * fabs(sc[0]));
            ASSERT_NEAR(sg[1], sc[1], 1.0 / c->n + 1e-7); /* one logit may sit on 0 */
            fce_param_arena *ga = flow ? fce_glow_arena(g->glow) : fce_ebm_arena(g->ebm);
            fce_param_arena *ca = flow ? fce_glow_arena(c->glow) : fce_ebm_arena(c->ebm);
            ASSERT_TRUE(compare_arena(who, g, ga, ca, 1));
        }
        /* the whole step, update included, from the same state */
        c->st.flow_turn = g->st.flow_turn = flow;
        ASSERT_OK(fce_trainer_step(c));
        ASSERT_OK(fce_trainer_step(g));
        ASSERT_TRUE(compare_arena("flow after step", g, fce_glow_arena(g->glow), fce_glow_arena(c->glow), 0));
        ASSERT_TRUE(compare_arena("ebm after step", g, fce_ebm_arena(g->ebm), fce_ebm_arena(c->ebm), 0));
    }
    fce_trainer_free(c);
    fce_trainer_free(g);
    free(c);
    free(g);
    return 0;
}

TEST(fce_ebm_and_flow_steps) { return run_mode(FCE_MODE_FCE); }
TEST(nce_step) { return run_mode(FCE_MODE_NCE); }
TEST(mle_step) { return run_mode(FCE_MODE_MLE); }

FCE_TEST_MAIN_BEGIN
RUN_TEST(fce_ebm_and_flow_steps);
RUN_TEST(nce_step);
RUN_TEST(mle_step);
FCE_TEST_MAIN_END

/* test_gpu_graph.c: a step replayed from its CUDA graph equals the same step run op by op, bit for
 * bit, for the four phases fce-bench times (issue 12 item 4, README "CUDA graphs"):
 *   mle_step       train/mle_step.c (what `train --mode mle` and fce-bench run);
 *   fce_ebm_step,  fce_ifce_step (train_image_fce.c) on the EBM's and on the flow's turn;
 *   fce_flow_step
 *   sample         eval/sample_step.c (what `fce-gpu sample` and fce-bench run).
 * Each phase runs twice on the GPU from the same state, once with FCE_CUDA_GRAPHS=0 (every op
 * enqueued eagerly) and once with graphs (the first step of each kind records, the later ones only
 * replay), and everything a step produces is compared bitwise: log q of every MLE step; per FCE
 * step f at data and samples, log q at both, c, the value and the accuracy; per sample batch the
 * uint8 pictures; at the end every parameter and optimizer moment. The per-step values that a
 * replay must not repeat (Philox offsets, the optimizers' rates and bias corrections) change at
 * every step here (warm-up rate, counts 1, 2, ...), so a value baked into a recorded argument shows
 * as a difference; the test also checks that it can see one: a graph run fed a repeated sample batch
 * index must differ from the eager run. The graph runs must really replay (their launch counters).
 * Tiny flow, width-reduced EBM, batch 4, on generated CIFAR-format data, deterministic cuDNN
 * algorithms (FCE_DETERMINISTIC=1). Skips (77) without a usable GPU; FCE_REQUIRE_GPU=1 turns the
 * skip into a failure. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/sample_step.h"
#include "fce/backend.h"
#include "fce/train_image.h"
#include "fce_test.h"
#include "test_util.h"
#include "train/mle_step.h"
#include "train/train_image_fce.h"

#define NB 4
#define MLE_STEPS 4   /* step 0 runs the data-dependent init (never recorded), then 1 record + 2 replays */
#define SAMPLE_BATCHES 4
#define FCE_STEPS 6
static const int fce_turns[FCE_STEPS] = {0, 0, 1, 1, 0, 1}; /* each player: 1 record + 2 replays */

static void graphs(int on) { setenv("FCE_CUDA_GRAPHS", on ? "1" : "0", 1); }

static int same_bits(const char *what, const void *a, const void *b, size_t bytes) {
    if (memcmp(a, b, bytes) == 0) return 1;
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    while (x[i] == y[i]) i++;
    fprintf(stderr, "  FAIL: %s: graph replay differs from eager at byte %zu of %zu\n", what, i, bytes);
    return 0;
}

/* Every float of the arena (params, grads, m, v) on both sides, downloaded and compared. */
static int same_arena(const char *what, fce_ctx *ca, const fce_param_arena *a, fce_ctx *cb,
                      const fce_param_arena *b) {
    const float *pa[] = {a->params, a->m, a->v}, *pb[] = {b->params, b->m, b->v};
    for (int k = 0; k < 3; k++) {
        float *ha = fce_test_host_from_dev(ca, pa[k], a->n_total), *hb = fce_test_host_from_dev(cb, pb[k], b->n_total);
        char name[96];
        snprintf(name, sizeof name, "%s %s", what, k == 0 ? "parameters" : k == 1 ? "first moments" : "second moments");
        const int ok = ha && hb && same_bits(name, ha, hb, a->n_total * sizeof(float));
        free(ha), free(hb);
        if (!ok) return 0;
    }
    return 1;
}

// ---- mle_step and sample: two flows from one seed on one context ----

typedef struct mle_side {
    fce_iglow *g;
    fce_iglow_tape *tp, *tpi; /* training tape, inference tape (sampling) */
    fce_mle_step step;
    fce_sample_step sample;
    float logq[MLE_STEPS][NB];
    uint8_t *pictures[SAMPLE_BATCHES];
} mle_side;

static const fce_iglow_config flow_cfg = {32, 32, 3, 2, 2, 16, 0}; /* the tiny preset, additive */

/* MLE steps at a warm-up rate (it changes every step), then sample batches; batch_of: the index of
 * each sample batch. */
static int run_flow_side(fce_ctx *ctx, mle_side *s, const uint8_t *batches, const int *batch_of) {
    const size_t D = 32 * 32 * 3;
    memset(s, 0, sizeof *s);
    ASSERT_OK(fce_iglow_init(&s->g, ctx, &flow_cfg, 11));
    ASSERT_OK(fce_iglow_tape_init(&s->tp, s->g, NB));
    ASSERT_OK(fce_iglow_tape_init_inference(&s->tpi, s->g, NB));
    const fce_optimizer adamax = {FCE_OPTIM_ADAMAX, 0.9f, 0.999f, 1e-7f};
    ASSERT_OK(fce_mle_step_init(&s->step, ctx, s->g, s->tp, NB, NB, 0, 8, 0x5eedu, &adamax));
    for (int k = 0; k < MLE_STEPS; k++) {
        ASSERT_OK(fce_mle_step_run(&s->step, batches + (size_t)k * NB * D, k, 1e-3f * (float)(k + 1) / MLE_STEPS,
                                   k + 1, k == 0));
        ASSERT_OK(ctx->ops->download(ctx, s->logq[k], fce_iglow_tape_logq(s->tp), sizeof s->logq[k]));
    }
    ASSERT_OK(fce_sample_step_init(&s->sample, ctx, s->g, s->tpi, NB, 0xab5u, 1.0f, 8));
    for (int b = 0; b < SAMPLE_BATCHES; b++) {
        ASSERT_OK(fce_sample_step_run(&s->sample, batch_of[b]));
        s->pictures[b] = malloc(NB * D);
        ASSERT_TRUE(s->pictures[b] != NULL);
        ASSERT_OK(ctx->ops->download(ctx, s->pictures[b], s->sample.d_u8, NB * D));
    }
    return 0;
}

static void free_flow_side(fce_ctx *ctx, mle_side *s) {
    (void)ctx;
    fce_sample_step_free(&s->sample);
    fce_mle_step_free(&s->step);
    for (int b = 0; b < SAMPLE_BATCHES; b++) free(s->pictures[b]);
    fce_iglow_tape_free(s->tpi);
    fce_iglow_tape_free(s->tp);
    fce_iglow_free(s->g);
}

TEST(mle_step_and_sample) {
    char reason[256];
    if (!fce_gpu_usable(reason, sizeof reason)) FCE_TEST_SKIP_NO_GPU(reason);
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init(&ctx, "0"));
    const size_t D = 32 * 32 * 3, nb = (size_t)MLE_STEPS * NB * D;
    uint8_t *batches = malloc(nb);
    ASSERT_TRUE(batches != NULL);
    uint32_t lcg = 12345u;
    for (size_t i = 0; i < nb; i++) batches[i] = (uint8_t)((lcg = lcg * 1664525u + 1013904223u) >> 24);
    const int batch_of[SAMPLE_BATCHES] = {0, 1, 2, 3}, repeated[SAMPLE_BATCHES] = {0, 1, 1, 1};
    mle_side eager, graph, broken;
    graphs(0);
    ASSERT_TRUE(run_flow_side(&ctx, &eager, batches, batch_of) == 0);
    graphs(1);
    ASSERT_TRUE(run_flow_side(&ctx, &graph, batches, batch_of) == 0);
    ASSERT_TRUE(run_flow_side(&ctx, &broken, batches, repeated) == 0);
    fprintf(stderr, "  graph launches: mle %ld (eager side %ld), sample %ld\n", graph.step.graph.launches,
            eager.step.graph.launches, graph.sample.graph.launches);
    ASSERT_TRUE(eager.step.graph.launches == 0 && eager.sample.graph.launches == 0);
    ASSERT_TRUE(graph.step.graph.launches == MLE_STEPS - 1 && graph.sample.graph.launches == SAMPLE_BATCHES);
    for (int k = 0; k < MLE_STEPS; k++) {
        char name[64];
        snprintf(name, sizeof name, "mle_step %d: log q", k);
        ASSERT_TRUE(same_bits(name, graph.logq[k], eager.logq[k], sizeof eager.logq[k]));
    }
    ASSERT_TRUE(same_arena("mle_step: the flow's", &ctx, fce_iglow_arena(graph.g), &ctx, fce_iglow_arena(eager.g)));
    for (int b = 0; b < SAMPLE_BATCHES; b++) {
        char name[64];
        snprintf(name, sizeof name, "sample batch %d: pictures", b);
        ASSERT_TRUE(same_bits(name, graph.pictures[b], eager.pictures[b], NB * D));
    }
    /* the comparison sees a repeated per-step value: batch 2 drawn with batch 1's offset */
    ASSERT_TRUE(memcmp(broken.pictures[2], eager.pictures[2], NB * D) != 0);
    ASSERT_TRUE(memcmp(broken.pictures[2], eager.pictures[1], NB * D) == 0);
    fprintf(stderr, "  mle_step (%d steps) and sample (%d batches): replay == eager, bit for bit\n", MLE_STEPS,
            SAMPLE_BATCHES);
    free_flow_side(&ctx, &eager);
    free_flow_side(&ctx, &graph);
    free_flow_side(&ctx, &broken);
    free(batches);
    fce_ctx_free(&ctx);
    return 0;
}

// ---- fce_ebm_step and fce_flow_step: two trainers from one config ----

typedef struct fce_record {
    float fx[NB], fxt[NB], lq[NB], lqt[NB], c, value, acc;
} fce_record;

static int run_fce_side(const char *out, fce_ifce **t, fce_record *rec) {
    fce_image_train_config c;
    fce_test_image_cfg(&c, fce_test_path("train.bin"), out, NB, FCE_STEPS);
    snprintf(c.mode, sizeof c.mode, "fce");
    snprintf(c.device, sizeof c.device, "0");
    c.ebm_width_scale = 16;
    c.lr_flow = 1e-4f;
    c.lr_c = 3e-2f; /* c's own rate: the EBM update's split path */
    ASSERT_OK(fce_ifce_create(t, &c));
    for (int k = 0; k < FCE_STEPS; k++) {
        fce_ifce_probe p = {rec[k].fx, rec[k].fxt, rec[k].lq, rec[k].lqt, 0, 0, 0, 0};
        fce_ifce_set_turn(*t, fce_turns[k]);
        ASSERT_OK(fce_ifce_step(*t, &p));
        ASSERT_EQ_INT(p.flow_turn, fce_turns[k]);
        rec[k].c = p.c, rec[k].value = p.value, rec[k].acc = p.acc;
    }
    return 0;
}

TEST(fce_ebm_and_flow_steps) {
    char reason[256];
    if (!fce_gpu_usable(reason, sizeof reason)) FCE_TEST_SKIP_NO_GPU(reason);
    fce_ifce *eager = NULL, *graph = NULL;
    fce_record re[FCE_STEPS], rg[FCE_STEPS];
    memset(re, 0, sizeof re), memset(rg, 0, sizeof rg);
    graphs(0);
    ASSERT_TRUE(run_fce_side(fce_test_path("eager"), &eager, re) == 0);
    graphs(1);
    ASSERT_TRUE(run_fce_side(fce_test_path("graph"), &graph, rg) == 0);
    const long le = fce_ifce_graph_launches(eager), lg = fce_ifce_graph_launches(graph);
    fprintf(stderr, "  graph launches: %ld (eager side %ld)\n", lg, le);
    ASSERT_TRUE(le == 0 && lg == FCE_STEPS);
    for (int k = 0; k < FCE_STEPS; k++) {
        char name[64];
        snprintf(name, sizeof name, "fce step %d (%s turn)", k, fce_turns[k] ? "flow" : "EBM");
        ASSERT_TRUE(same_bits(name, &rg[k], &re[k], sizeof re[k]));
    }
    ASSERT_TRUE(same_arena("fce: the flow's", fce_ifce_ctx(graph), fce_iglow_arena(fce_ifce_flow(graph)),
                           fce_ifce_ctx(eager), fce_iglow_arena(fce_ifce_flow(eager))));
    ASSERT_TRUE(same_arena("fce: the EBM's", fce_ifce_ctx(graph), fce_ebm_image_arena(fce_ifce_ebm(graph)),
                           fce_ifce_ctx(eager), fce_ebm_image_arena(fce_ifce_ebm(eager))));
    fprintf(stderr, "  fce_ebm_step and fce_flow_step (%d steps): replay == eager, bit for bit\n", FCE_STEPS);
    fce_ifce_free(eager);
    fce_ifce_free(graph);
    return 0;
}

/* The FCE trainers' pictures, in a scratch folder removed at the end (NULL: could not make it). */
static const char *scratch_with_pictures(void) {
    const char *dir = fce_test_tmpdir("/tmp/fce_test_gpu_graph_XXXXXX");
    return dir && fce_test_write_cifar_checker(fce_test_path("train.bin"), 24, 777u) ? dir : NULL;
}

FCE_TEST_MAIN_BEGIN
/* bitwise comparisons between two runs on a GPU need deterministic cuDNN algorithms (a backward
 * filter with atomics differs between two eager runs already) */
setenv("FCE_DETERMINISTIC", "1", 1);
const char *scratch = scratch_with_pictures();
if (!scratch) return 1;
RUN_TEST(mle_step_and_sample);
RUN_TEST(fce_ebm_and_flow_steps);
if (!fce_test_rm_tree(scratch)) fprintf(stderr, "could not remove %s\n", scratch);
FCE_TEST_MAIN_END

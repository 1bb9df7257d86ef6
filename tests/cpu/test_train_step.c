/* test_train_step.c: the FCE step of the trainer on the CPU backend.
 *  - the flow's gradient (through log q at data, and through the sampling path: x̃ = g(ε) and
 *    log q(x̃)) equals finite differences of the value function V over every flow parameter;
 *  - the EBM's gradient (θ and c) equals finite differences of −V;
 *  - a run resumed from a checkpoint after 3 steps ends bit-identical to 6 uninterrupted steps;
 *  - a checkpoint of another architecture is refused with ERR_FORMAT. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"
#include "train/train_2d_internal.h"

/* V ≈ 1.4 is a float: one ulp (1.2e-7) over the h/2 stencil (width 1e-3) is 1.2e-4 of derivative,
 * and each side may be off by an ulp, so differences resolve ~2.4e-4; the gradients are O(1e-2). */
#define GRAD_ATOL 3e-4
#define GRAD_RTOL 2e-2
#define KINK_MAX_FRAC 0.05
/* Smooth coordinates give central differences at h and h/2 that agree to O(h²) plus float noise
 * (covered by GRAD_ATOL); a kink within the stencil moves them apart by O(1)·(slope change). The
 * screen keeps the absolute tolerance and a quarter of the relative one (a kink whose two
 * differences differed by 99% of the full budget slipped through a full-budget screen). */
#define KINK_SCREEN 0.25

static void tiny_config(fce_train_config *c, const char *out) { fce_test_tiny_2d_cfg(c, "cpu", out); }

static void perturb(fce_param_arena *a, uint64_t seed, float scale) {
    for (size_t i = 0; i < a->n_trainable; i++) a->params[i] += scale * fce_philox_normal(seed, i);
}

/* Finite differences of sign·V over every trainable entry of arena `a` against its gradient. */
static int check_grad(fce_trainer *t, fce_param_arena *a, int flow, double sign) {
    float stats[2];
    ASSERT_OK(fce_trainer_contrastive_grads(t, flow, stats));
    size_t n = a->n_trainable, kinks = 0;
    float *ana = fce_test_alloc(n), *num = fce_test_alloc(n);
    memcpy(ana, a->grads, n * sizeof(float));
    /* Small h: a (leaky) ReLU unit whose pre-activation sits within the stencil of the base point
     * makes both differences land between the two slopes, which no screen can tell from a smooth
     * coordinate; with 2n samples through both networks such a unit is likely at h = 1e-2. */
    const double h = 1e-3;
    for (size_t i = 0; i < n; i++) {
        double fd[2];
        for (int r = 0; r < 2; r++) {
            double hr = r ? h / 2 : h, v[2];
            float keep = a->params[i];
            for (int side = 0; side < 2; side++) {
                a->params[i] = keep + (float)(side ? -hr : hr);
                if (flow) ASSERT_OK(fce_glow_refresh(t->glow));
                ASSERT_OK(fce_trainer_contrastive_grads(t, 0, stats));
                v[side] = sign * stats[0];
            }
            a->params[i] = keep;
            fd[r] = (v[0] - v[1]) / (2 * hr);
        }
        num[i] = (float)fd[1];
        if (fabs(fd[0] - fd[1]) > GRAD_ATOL + KINK_SCREEN * GRAD_RTOL * fabs(fd[1])) { /* a (leaky) ReLU kink */
            num[i] = ana[i];
            kinks++;
        }
    }
    if (flow) ASSERT_OK(fce_glow_refresh(t->glow));
    fprintf(stderr, "    %zu of %zu coordinates excluded as kinks\n", kinks, n);
    int ok = fce_test_close(flow ? "dV/d(flow)" : "d(-V)/d(ebm, c)", ana, num, n, GRAD_ATOL, GRAD_RTOL);
    free(ana);
    free(num);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(kinks <= (size_t)(KINK_MAX_FRAC * (double)n));
    return 0;
}

static int grad_test(int flow) {
    fce_trainer *t = calloc(1, sizeof *t);
    fce_train_config c;
    tiny_config(&c, "test_train_step_out/grad");
    ASSERT_OK(fce_trainer_setup(t, &c));
    ASSERT_OK(fce_trainer_fresh_start(t));
    /* away from init: the zero last coupling layers would hide most of the flow's chain rule */
    perturb(fce_glow_arena(t->glow), 5, 0.1f);
    ASSERT_OK(fce_glow_refresh(t->glow));
    int r = flow ? check_grad(t, fce_glow_arena(t->glow), 1, 1.0)
                 : check_grad(t, fce_ebm_arena(t->ebm), 0, -1.0);
    fce_trainer_free(t);
    free(t);
    return r;
}

TEST(flow_grad_through_sampling_path) { return grad_test(1); }
TEST(ebm_grad) { return grad_test(0); }

static int run_steps(fce_trainer *t, int n) {
    for (int i = 0; i < n; i++) ASSERT_OK(fce_trainer_step(t));
    return 0;
}

TEST(resume_is_bit_exact) {
    fce_train_config c;
    fce_trainer *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *r = calloc(1, sizeof *r);
    tiny_config(&c, "test_train_step_out/straight");
    c.threshold = 0.45f; /* both players get turns within 6 steps */
    ASSERT_OK(fce_trainer_setup(a, &c));
    ASSERT_OK(fce_trainer_fresh_start(a));
    ASSERT_TRUE(run_steps(a, 6) == 0);
    snprintf(c.out_dir, sizeof c.out_dir, "test_train_step_out/resumed");
    ASSERT_OK(fce_trainer_setup(b, &c));
    ASSERT_OK(fce_trainer_fresh_start(b));
    ASSERT_TRUE(run_steps(b, 3) == 0);
    ASSERT_OK(fce_checkpoint_save(b->path_ckpt, b->glow, b->ebm, &b->st));
    c.resume = 1;
    ASSERT_OK(fce_trainer_setup(r, &c));
    ASSERT_OK(fce_trainer_resume(r));
    ASSERT_TRUE(run_steps(r, 3) == 0);
    ASSERT_EQ_INT(r->st.step, a->st.step);
    ASSERT_EQ_INT(r->st.ebm_updates, a->st.ebm_updates);
    ASSERT_EQ_INT(r->st.flow_updates, a->st.flow_updates);
    fprintf(stderr, "    after 6 steps: %lld EBM and %lld flow updates\n", (long long)a->st.ebm_updates,
            (long long)a->st.flow_updates);
    ASSERT_TRUE(a->st.ebm_updates > 0 && a->st.flow_updates > 0);
    fce_param_arena *pa[2] = {fce_glow_arena(a->glow), fce_ebm_arena(a->ebm)};
    fce_param_arena *pr[2] = {fce_glow_arena(r->glow), fce_ebm_arena(r->ebm)};
    for (int m = 0; m < 2; m++) {
        ASSERT_TRUE(memcmp(pa[m]->params, pr[m]->params, pa[m]->n_total * sizeof(float)) == 0);
        ASSERT_TRUE(memcmp(pa[m]->m, pr[m]->m, pa[m]->n_total * sizeof(float)) == 0);
        ASSERT_TRUE(memcmp(pa[m]->v, pr[m]->v, pa[m]->n_total * sizeof(float)) == 0);
    }
    fce_trainer_free(a);
    fce_trainer_free(b);
    fce_trainer_free(r);
    free(a);
    free(b);
    free(r);
    return 0;
}

TEST(other_architecture_refused) {
    fce_train_config c;
    fce_trainer *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    tiny_config(&c, "test_train_step_out/arch");
    ASSERT_OK(fce_trainer_setup(a, &c));
    ASSERT_OK(fce_trainer_fresh_start(a));
    ASSERT_OK(fce_checkpoint_save(a->path_ckpt, a->glow, a->ebm, &a->st));
    c.flow_K = 3;
    c.resume = 1;
    ASSERT_OK(fce_trainer_setup(b, &c));
    fprintf(stderr, "    (an error message about flow_K is expected here)\n");
    ASSERT_EQ_INT(fce_trainer_resume(b), FCE_STATUS_ERR_FORMAT);
    /* a truncated file is refused, not read past its end: keep the first 300 bytes */
    {
        FILE *f = fopen(a->path_ckpt, "rb");
        ASSERT_TRUE(f != NULL);
        char head[300];
        size_t got = fread(head, 1, sizeof head, f);
        fclose(f);
        f = fopen(a->path_ckpt, "wb");
        ASSERT_TRUE(f != NULL && fwrite(head, 1, got, f) == got);
        fclose(f);
    }
    fce_train_config c2 = c;
    c2.flow_K = 2;
    fce_trainer *d = calloc(1, sizeof *d);
    ASSERT_OK(fce_trainer_setup(d, &c2));
    ASSERT_EQ_INT(fce_trainer_resume(d), FCE_STATUS_ERR_FORMAT);
    fce_trainer_free(a);
    fce_trainer_free(b);
    fce_trainer_free(d);
    free(a);
    free(b);
    free(d);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(flow_grad_through_sampling_path);
RUN_TEST(ebm_grad);
RUN_TEST(resume_is_bit_exact);
RUN_TEST(other_architecture_refused);
FCE_TEST_MAIN_END

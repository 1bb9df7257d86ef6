/* test_dist_grads.c: the job's collectives and the gradients of a sharded step (issue 13), run by
 * ctest as `mpirun -np 2 test_dist_grads` (tests/mpi/run_mpi.sh). On each rank, a 2D trainer alone
 * with the global batch (the reference) and a trainer of the job with its half of the rows:
 *  - after the fresh start (actnorm's data-dependent init and c₀ over the global init batch) both
 *    hold the same parameters to within a few ulps;
 *  - one step of each kind (FCE with the EBM playing, FCE with the flow playing, NCE, MLE): the
 *    updated player's gradients, summed over the ranks before its optimizer step, equal the
 *    reference's to within the rounding of a reordered sum, |a − b| <= 1e-5·(max|ref| + |b|); the
 *    game's accuracy is the reference's bit for bit and its value within 1e-6 relative. A rank
 *    that forgot the 1/N loss scale would be off by a factor 2, one with wrong rows by O(1);
 *  - the host collectives (sum, mean, maximum, broadcast, barrier) and the refusal of a batch the
 *    ranks do not divide.
 * Skipped (77) unless started by an MPI launcher with 2 ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"
#include "train/train_2d_internal.h"

static fce_dist *job; /* the test's one process-wide object: the job it runs in */

static void tiny_config(fce_train_config *c, fce_train_mode mode, fce_dist *d) {
    char out[64];
    snprintf(out, sizeof out, "test_dist_grads_out/rank%d_%s", fce_dist_rank(job), d ? "job" : "alone");
    fce_test_tiny_2d_cfg(c, "cpu", out);
    c->mode = mode;
    c->batch = 32;
    c->flow_nn_actnorm = 1; /* actnorm inside the coupling networks too: more data-dependent inits */
    c->init_batch = 64;
    c->dist = d;
}

/* |a − b| <= tol·(max|ref| + |b|) elementwise, with a summary line. */
static int grads_close(const char *what, const float *a, const float *b, size_t n, double tol) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = fmax(worst, d / (scale + 1e-30));
        bad += !(d <= tol * (scale + fabs(b[i])));
    }
    fprintf(stderr, "    %s: %zu values, largest |diff| %.3g of max|ref| %.3g; %zu outside\n", what, n, worst,
            scale, bad);
    return bad == 0 && scale > 0;
}

/* One step of `mode` (flow_turn for FCE) on a trainer alone and one of the job; compares the
 * updated arena's gradients and the game's statistics. */
static int step_test(fce_train_mode mode, int flow_turn) {
    fce_train_config c;
    fce_trainer *t[2] = {calloc(1, sizeof(fce_trainer)), calloc(1, sizeof(fce_trainer))};
    for (int k = 0; k < 2; k++) {
        tiny_config(&c, mode, k ? job : NULL);
        ASSERT_OK(fce_trainer_setup(t[k], &c));
        ASSERT_OK(fce_trainer_fresh_start(t[k]));
        fce_param_arena *fa = fce_glow_arena(t[k]->glow);
        /* away from init: the zero last coupling layers would hide most of the flow's gradient */
        for (size_t i = 0; i < fa->n_trainable; i++) fa->params[i] += 0.1f * (float)fce_philox_normal(5, i);
        ASSERT_OK(fce_glow_refresh(t[k]->glow));
        t[k]->st.flow_turn = flow_turn;
    }
    ASSERT_TRUE(t[1]->n == 16 && t[0]->n == 32);
    fce_param_arena *arenas[2][2] = {{fce_glow_arena(t[0]->glow), fce_ebm_arena(t[0]->ebm)},
                                     {fce_glow_arena(t[1]->glow), fce_ebm_arena(t[1]->ebm)}};
    for (int m = 0; m < 2; m++) /* the fresh start's actnorm init and c₀ over the global init batch */
        ASSERT_TRUE(grads_close(m ? "EBM params after init" : "flow params after init", arenas[1][m]->params,
                                arenas[0][m]->params, arenas[0][m]->n_trainable, 1e-6));
    for (int k = 0; k < 2; k++) ASSERT_OK(fce_trainer_step(t[k]));
    const int m = mode == FCE_MODE_MLE || flow_turn ? 0 : 1; /* the arena this step updated */
    ASSERT_TRUE(grads_close(m ? "EBM and c gradients" : "flow gradients", arenas[1][m]->grads, arenas[0][m]->grads,
                            arenas[0][m]->n_trainable, 1e-5));
    if (mode == FCE_MODE_MLE) {
        ASSERT_NEAR(t[1]->report.sum_nll, t[0]->report.sum_nll, 1e-6 * fabs(t[0]->report.sum_nll));
    } else {
        ASSERT_TRUE(t[1]->report.sum_acc == t[0]->report.sum_acc);
        ASSERT_NEAR(t[1]->report.sum_value, t[0]->report.sum_value, 1e-6 * fabs(t[0]->report.sum_value));
    }
    for (int k = 0; k < 2; k++) {
        fce_trainer_free(t[k]);
        free(t[k]);
    }
    return 0;
}

TEST(fce_ebm_turn) { return step_test(FCE_MODE_FCE, 0); }
TEST(fce_flow_turn) { return step_test(FCE_MODE_FCE, 1); }
TEST(nce) { return step_test(FCE_MODE_NCE, 0); }
TEST(mle) { return step_test(FCE_MODE_MLE, 0); }

TEST(collectives) {
    const int r = fce_dist_rank(job);
    double v[2] = {1.5 + r, -r};
    ASSERT_OK(fce_dist_sum(job, v, 2));
    ASSERT_TRUE(v[0] == 4.0 && v[1] == -1.0);
    double mean = 2.0 * r;
    ASSERT_OK(fce_dist_mean(job, &mean, 1));
    ASSERT_TRUE(mean == 1.0);
    int flags[2] = {r == 1 ? 15 : 0, r == 0 ? 2 : 0};
    ASSERT_OK(fce_dist_max_ints(job, flags, 2));
    ASSERT_TRUE(flags[0] == 15 && flags[1] == 2);
    char word[8] = "";
    if (r == 0) memcpy(word, "rank 0", 7);
    ASSERT_OK(fce_dist_broadcast(job, word, sizeof word));
    ASSERT_TRUE(strcmp(word, "rank 0") == 0);
    ASSERT_OK(fce_dist_barrier(job));
    fce_dist_shard s;
    ASSERT_OK(fce_dist_shard_of(job, 10, "--batch", &s));
    ASSERT_TRUE(s.rows == 5 && s.row0 == 5 * r && s.global == 10);
    fprintf(stderr, "    (an error message about --batch 9 is expected here)\n");
    ASSERT_EQ_INT(fce_dist_shard_of(job, 9, "--batch", &s), FCE_STATUS_ERR_CONFIG);
    return 0;
}

int main(void) {
    if (fce_dist_init(&job) != FCE_STATUS_OK) return 1;
    if (fce_dist_size(job) != 2) {
        fprintf(stderr, "SKIP: test_dist_grads runs under mpirun -np 2 (size %d)\n", fce_dist_size(job));
        return fce_dist_finalize(job, FCE_TEST_SKIP_CODE);
    }
    int fce_test_failed_ = 0, fce_test_passed_ = 0, fce_test_skipped_ = 0;
    RUN_TEST(collectives);
    RUN_TEST(fce_ebm_turn);
    RUN_TEST(fce_flow_turn);
    RUN_TEST(nce);
    RUN_TEST(mle);
    fprintf(stderr, "rank %d: %d passed, %d failed, %d skipped\n", fce_dist_rank(job), fce_test_passed_,
            fce_test_failed_, fce_test_skipped_);
    return fce_dist_finalize(job, fce_test_failed_ ? 1 : 0); /* a failing rank ends the job with 1 */
}

/* test_gpu_dist.c: the collectives of a multi-process job on a CUDA context (issue 13), for a job
 * of one rank (fce_dist_init_single: no launcher needed), where the NCCL all-reduce of the
 * gradients runs on every update and must change nothing:
 *  - a device buffer all-reduced in place keeps its bits;
 *  - 2D FCE trainers with and without the job, 6 steps with turns of both players, end with
 *    bit-identical parameters and optimizer moments.
 * Built with NCCL, the all-reduce is ncclAllReduce on the context's stream; in the CUDA emulation
 * (emu_gpu_dist, FCE_EMU_NCCL) on the fake NCCL of tests/emu/fake_nccl.cpp, which checks buffers,
 * counts, types and streams and counts the calls: one per update, of the updated arena's trainable
 * floats. FCE_EMU_NCCL_SELFTEST=1 (emulation only) passes one element too many, which the fake must
 * report (emu_gpu_dist_selftest). Skips (77) without a usable GPU; FCE_REQUIRE_GPU=1 fails instead.
 * In a build without MPI (the emulation's), also: started by a launcher as one of 2 processes, the
 * program refuses (they would train alone into one folder); as the only one, it runs alone. */
#define _POSIX_C_SOURCE 200112L
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "fce_test.h"
#include "test_util.h"
#include "train/train_2d_internal.h"
#ifdef FCE_EMU_NCCL
#include <nccl.h>
#endif

static int allreduce_in_place(fce_dist *d) {
    fce_ctx ctx;
    ASSERT_OK(fce_dist_ctx_init(d, &ctx, "0"));
    ASSERT_TRUE(ctx.dist == d);
    const size_t n = 1000;
    float *h = fce_test_alloc(n);
    fce_test_fill_normal(h, n, 7, 1.0f);
    float *dev = fce_test_dev_from_host(&ctx, h, n);
#ifdef FCE_EMU_NCCL
    const long calls0 = fce_emu_nccl_allreduce_calls();
    /* the self-test: one element past the allocation, which the fake NCCL must report as a fault */
    const size_t count = getenv("FCE_EMU_NCCL_SELFTEST") ? n + 1 : n;
#else
    const size_t count = n;
#endif
    ASSERT_OK(fce_dist_allreduce_grads(&ctx, dev, count));
#ifdef FCE_EMU_NCCL
    ASSERT_EQ_INT(fce_emu_nccl_allreduce_calls() - calls0, 1);
#endif
    float *back = fce_test_host_from_dev(&ctx, dev, n);
    ASSERT_TRUE(memcmp(back, h, n * sizeof(float)) == 0);
    free(back);
    free(h);
    ctx.ops->release(&ctx, dev);
    fce_ctx_free(&ctx);
    return 0;
}

static int training_alone_equals_one_rank_job(fce_dist *d) {
    fce_train_config c;
    fce_trainer *t[2] = {calloc(1, sizeof(fce_trainer)), calloc(1, sizeof(fce_trainer))};
    for (int k = 0; k < 2; k++) {
        fce_test_tiny_2d_cfg(&c, "0", k ? "test_gpu_dist_out/job" : "test_gpu_dist_out/alone");
        c.threshold = 0.45f; /* both players get turns within 6 steps */
        c.dist = k ? d : NULL;
        ASSERT_OK(fce_trainer_setup(t[k], &c));
        ASSERT_OK(fce_trainer_fresh_start(t[k]));
    }
#ifdef FCE_EMU_NCCL
    const long calls0 = fce_emu_nccl_allreduce_calls();
    const size_t elements0 = fce_emu_nccl_allreduce_elements();
#endif
    for (int s = 0; s < 6; s++)
        for (int k = 0; k < 2; k++) ASSERT_OK(fce_trainer_step(t[k]));
    ASSERT_TRUE(t[1]->st.ebm_updates > 0 && t[1]->st.flow_updates > 0);
    ASSERT_EQ_INT(t[1]->st.ebm_updates, t[0]->st.ebm_updates);
    fce_param_arena *arenas[2][2] = {{fce_glow_arena(t[0]->glow), fce_ebm_arena(t[0]->ebm)},
                                     {fce_glow_arena(t[1]->glow), fce_ebm_arena(t[1]->ebm)}};
    for (int m = 0; m < 2; m++) {
        const size_t n = arenas[0][m]->n_total;
        float *a[2][3];
        for (int k = 0; k < 2; k++) {
            a[k][0] = fce_test_host_from_dev(&t[k]->ctx, arenas[k][m]->params, n);
            a[k][1] = fce_test_host_from_dev(&t[k]->ctx, arenas[k][m]->m, n);
            a[k][2] = fce_test_host_from_dev(&t[k]->ctx, arenas[k][m]->v, n);
        }
        for (int b = 0; b < 3; b++) {
            ASSERT_TRUE(memcmp(a[0][b], a[1][b], n * sizeof(float)) == 0);
            free(a[0][b]);
            free(a[1][b]);
        }
    }
#ifdef FCE_EMU_NCCL
    /* one all-reduce per update, of the updated arena's trainable floats */
    const size_t want = (size_t)t[1]->st.ebm_updates * arenas[1][1]->n_trainable +
                        (size_t)t[1]->st.flow_updates * arenas[1][0]->n_trainable;
    ASSERT_EQ_INT(fce_emu_nccl_allreduce_calls() - calls0, t[1]->st.ebm_updates + t[1]->st.flow_updates);
    ASSERT_EQ_INT(fce_emu_nccl_allreduce_elements() - elements0, want);
    fprintf(stderr, "    %lld NCCL all-reduces of %zu floats in all\n", (long long)(fce_emu_nccl_allreduce_calls() - calls0),
            want);
#endif
    for (int k = 0; k < 2; k++) {
        fce_trainer_free(t[k]);
        free(t[k]);
    }
    return 0;
}

/* Both, in one job of one rank (its NCCL communicator made by the first context bound to it). */
TEST(one_rank_job) {
    char reason[256];
    if (!fce_gpu_usable(reason, sizeof reason)) FCE_TEST_SKIP_NO_GPU(reason);
    fce_dist *d;
    ASSERT_OK(fce_dist_init_single(&d));
    int r = allreduce_in_place(d);
    if (!r) r = training_alone_equals_one_rank_job(d);
    ASSERT_EQ_INT(fce_dist_finalize(d, 0), 0);
    return r;
}

TEST(launcher_without_mpi) {
    if (fce_dist_have_mpi()) {
        fprintf(stderr, "  skipped: this build has MPI\n");
        return FCE_TEST_SKIP_CODE;
    }
    fce_dist *d = NULL;
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    fprintf(stderr, "    (an error message about a build without MPI is expected here)\n");
    ASSERT_EQ_INT(fce_dist_init(&d), FCE_STATUS_ERR_UNSUPPORTED);
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    ASSERT_OK(fce_dist_init(&d));
    unsetenv("OMPI_COMM_WORLD_SIZE");
    ASSERT_TRUE(d == NULL);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(launcher_without_mpi);
RUN_TEST(one_rank_job);
FCE_TEST_MAIN_END

/* gpu_test_pair.h: the opening of a GPU comparison test: without a usable GPU it skips (77), or
 * fails when FCE_REQUIRE_GPU=1; with one it makes the CPU reference context and CUDA context 0. */
#ifndef FCE_GPU_TEST_PAIR_H
#define FCE_GPU_TEST_PAIR_H

#include <stdio.h>
#include <stdlib.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "test_util.h" /* FCE_TEST_RELEASE, FCE_TEST_FREE */

/* 0 when both contexts are made (free them with fce_ctx_free); else the exit code for main. */
static inline int fce_test_gpu_pair_open(fce_ctx *cpu, fce_ctx *gpu) {
    char reason[256] = "";
    if (!fce_gpu_usable(reason, sizeof reason)) FCE_TEST_SKIP_NO_GPU(reason);
    if (fce_ctx_init_cpu(cpu) != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL: cannot create the CPU context\n");
        return 1;
    }
    if (fce_ctx_init(gpu, "0") != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL: a GPU is usable (%s) but the CUDA context failed\n", reason);
        fce_ctx_free(cpu);
        return 1;
    }
    return 0;
}

#endif

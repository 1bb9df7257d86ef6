/* sample_step.h: one batch of samples of the image Glow on the device, as `fce-gpu sample` draws
 * them and fce-bench's sample phase times them (one implementation for both).
 *
 *   ε_l ~ N(0, I) for every level l (Philox stream `seed`; batch b of N draws from offset
 *   b·N·D + N·(the earlier levels' values per row), level-major: the offsets `sample` always used);
 *   x̃ ← inverse(ε) at temperature T;  u8 ← postprocess(x̃)  (on the device, in d_u8).
 * The batch index is the only value that changes per batch; it is read from backend memory
 * (backend/step_vars.h), so every batch is the same recorded CUDA graph (backend/step_graph.h). */
#ifndef FCE_EVAL_SAMPLE_STEP_H
#define FCE_EVAL_SAMPLE_STEP_H

#include <stdint.h>

#include "backend/step_graph.h"
#include "backend/step_vars.h"
#include "fce/iglow.h"

#define FCE_SAMPLE_STEP_MAX_LEVELS 16

typedef struct fce_sample_step {
    fce_ctx *ctx;
    fce_iglow *g;
    fce_iglow_tape *tp; /* an inference tape of N rows (the caller's) */
    int N, n_bits;
    size_t D;
    uint64_t seed;
    float T;
    float *d_eps[FCE_SAMPLE_STEP_MAX_LEVELS];
    uint8_t *d_u8; /* the batch's pictures, N·D bytes */
    fce_step_vars vars;
    int offset_slot;
    fce_step_graph graph;
} fce_sample_step;

fce_status fce_sample_step_init(fce_sample_step *s, fce_ctx *ctx, fce_iglow *g, fce_iglow_tape *tp, int N,
                                uint64_t seed, float T, int n_bits);
void fce_sample_step_free(fce_sample_step *s); /* NULL-safe on a zeroed step */
/* Enqueues batch `batch` (0, 1, ...); the pictures are in s->d_u8 when the stream reaches it. */
fce_status fce_sample_step_run(fce_sample_step *s, int64_t batch);

#endif

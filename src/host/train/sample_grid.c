/* sample_grid.c: sample grids during image training (sample_grid.h). */
#include "train/sample_grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/image_io.h"
#include "fce/log.h"

fce_status fce_sample_grid_init(fce_sample_grid *s, fce_ctx *ctx, fce_iglow *g, int n_bits, uint64_t seed) {
    memset(s, 0, sizeof *s);
    const fce_iglow_config *gc = fce_iglow_cfg(g);
    if (gc->C != 3 || gc->L > SAMPLE_GRID_MAX_LEVELS) {
        fce_log_error("--sample-every: sample grids need RGB pictures (C = 3); this flow has C = %d", gc->C);
        return FCE_STATUS_ERR_CONFIG;
    }
    s->ctx = ctx, s->g = g, s->n = SAMPLE_GRID_N, s->n_bits = n_bits;
    for (s->cols = 1; s->cols * s->cols < s->n; s->cols++) {}
    s->rows = (s->n + s->cols - 1) / s->cols;
    s->gw = s->cols * gc->W + s->cols - 1, s->gh = s->rows * gc->H + s->rows - 1;
    const size_t nD = (size_t)s->n * gc->H * gc->W * gc->C;
    FCE_TRY(fce_iglow_tape_init_inference(&s->tp, g, s->n));
    uint64_t off = 0;
    for (int l = 0; l < gc->L; l++) {
        size_t nz = (size_t)s->n * (size_t)fce_iglow_n_z(g, l);
        FCE_TRY(ctx->ops->alloc(ctx, (void **)&s->d_eps[l], nz * sizeof(float)));
        FCE_TRY(ctx->ops->fill_normal(ctx, s->d_eps[l], nz, seed, off, 1.0f));
        off += nz;
    }
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&s->d_u8, nD));
    s->h_u8 = malloc(nD);
    s->rgb = calloc((size_t)s->gw * (size_t)s->gh * 3, 1);
    if (!s->h_u8 || !s->rgb) {
        fce_log_error("out of host memory for the sample grids");
        return FCE_STATUS_ERR_NOMEM;
    }
    return FCE_STATUS_OK;
}

fce_status fce_sample_grid_write(fce_sample_grid *s, const char *out_dir, int64_t step) {
    fce_ctx *ctx = s->ctx;
    const fce_iglow_config *gc = fce_iglow_cfg(s->g);
    const size_t row = (size_t)gc->W * 3, D = row * gc->H, nD = (size_t)s->n * D;
    FCE_TRY(fce_iglow_inverse(s->g, s->tp, (const float *const *)s->d_eps, 1.0f, s->n));
    FCE_TRY(ctx->ops->postprocess(ctx, s->d_u8, fce_iglow_tape_x(s->tp), nD, s->n_bits));
    FCE_TRY(ctx->ops->download(ctx, s->h_u8, s->d_u8, nD));
    for (int i = 0; i < s->n; i++) {
        size_t x0 = (size_t)(i % s->cols) * (gc->W + 1), y0 = (size_t)(i / s->cols) * (gc->H + 1);
        for (int y = 0; y < gc->H; y++)
            memcpy(s->rgb + ((y0 + (size_t)y) * (size_t)s->gw + x0) * 3, s->h_u8 + (size_t)i * D + y * row, row);
    }
    char path[1100];
    snprintf(path, sizeof path, "%.1000s/samples_%lld.png", out_dir, (long long)step);
    return fce_image_write_rgb(path, s->rgb, s->gw, s->gh);
}

void fce_sample_grid_free(fce_sample_grid *s) {
    if (s->ctx) {
        for (int l = 0; l < SAMPLE_GRID_MAX_LEVELS; l++) s->ctx->ops->release(s->ctx, s->d_eps[l]);
        s->ctx->ops->release(s->ctx, s->d_u8);
    }
    fce_iglow_tape_free(s->tp);
    free(s->h_u8);
    free(s->rgb);
    memset(s, 0, sizeof *s);
}

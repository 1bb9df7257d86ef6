/* sample_image.c: `fce-gpu sample` (eval_image.h): samples of an image flow at a temperature,
 * as one grid PNG, as two flows side by side from the same noise (--compare: the paper's MLE-vs-FCE
 * figures), or as numbered PNGs and an optional .npz for FID tools (--out-dir, --npz).
 *
 * Noise: ε of every level from Philox(seed) in level order, batch after batch, so two checkpoints
 * of one architecture see the same noise and a run is a function of its seed.
 *
 * --out-dir never mixes two sample sets (FID would score them together): a folder that holds
 * pictures is refused unless --force, which removes the numbered pictures of the earlier run first. */
#define _POSIX_C_SOURCE 200809L
#include "fce/eval_image.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eval/flow_from_file.h"
#include "eval/progress.h"
#include "eval/sample_step.h"
#include "fce/backend.h"
#include "fce/iglow.h"
#include "fce/image_io.h"
#include "fce/log.h"
#include "formats/npz_writer.h"
#include "util/fs_util.h"

void fce_image_sample_config_defaults(fce_image_sample_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->device, sizeof c->device, "auto");
    snprintf(c->grid, sizeof c->grid, "samples.png");
    c->n = 64;
    c->temperature = 1.0f;
    c->seed = 1;
    c->batch = 500;
    c->progress_every = 5.0f;
}

/* Samples of the checkpoint at `path`: batch 0 of eval/sample_step.c (ε per level from
 * Philox(seed) in level order, so two checkpoints of one architecture see the same noise; the
 * inverse at temperature T; uint8 on the device), downloaded into *h_u8 (N·D bytes, malloc'd, the
 * caller frees). gc_out receives the architecture. Everything this allocates on the device is
 * released before returning; the context (made on first use) stays with the caller. */
static fce_status sample_u8(fce_ctx *ctx, int *have_ctx, const char *path, const char *device, int N,
                            float T, uint64_t seed, fce_iglow_config *gc_out, uint8_t **h_u8) {
    fce_iglow *g = NULL;
    fce_iglow_tape *tp = NULL;
    fce_sample_step step;
    memset(&step, 0, sizeof step);
    fce_iglow_ckpt_state s;
    fce_status st = fce_flow_from_file(path, device, ctx, have_ctx, &g, &s);
    if (st == FCE_STATUS_OK) {
        *gc_out = *fce_iglow_cfg(g);
        if (gc_out->C != 3 || gc_out->L > FCE_SAMPLE_STEP_MAX_LEVELS) {
            fce_log_error("sample: %s: the grid needs RGB pictures (C = 3); the checkpoint has C = %d",
                          path, gc_out->C);
            st = FCE_STATUS_ERR_UNSUPPORTED;
        }
    }
    size_t D = (size_t)gc_out->H * gc_out->W * gc_out->C;
    if (st == FCE_STATUS_OK) st = fce_iglow_tape_init_inference(&tp, g, N); /* inverse only */
    if (st == FCE_STATUS_OK) st = fce_sample_step_init(&step, ctx, g, tp, N, seed, T, (int)s.n_bits);
    if (st == FCE_STATUS_OK) st = fce_sample_step_run(&step, 0);
    if (st == FCE_STATUS_OK && !(*h_u8 = malloc((size_t)N * D))) {
        fce_log_error("out of host memory");
        st = FCE_STATUS_ERR_NOMEM;
    }
    if (st == FCE_STATUS_OK) st = ctx->ops->download(ctx, *h_u8, step.d_u8, (size_t)N * D);
    if (*have_ctx) {
        fce_sample_step_free(&step);
        fce_iglow_tape_free(tp);
        fce_iglow_free(g);
    }
    return st;
}

/* Copies N pictures (H, W, 3) into a cols-wide panel of the grid (gw wide) at column x0, with
 * 1-pixel gaps between pictures. */
static void paste_panel(uint8_t *grid, int gw, int x0, const uint8_t *u8, int N, int cols, int H,
                        int W) {
    size_t D = (size_t)H * W * 3;
    for (int i = 0; i < N; i++) {
        int r0 = (i / cols) * (H + 1), c0 = x0 + (i % cols) * (W + 1);
        for (int y = 0; y < H; y++)
            memcpy(grid + ((size_t)(r0 + y) * gw + c0) * 3, u8 + (size_t)i * D + (size_t)y * W * 3,
                   (size_t)W * 3);
    }
}

/* Gap between the two panels of --compare, in pixels (white, so the panels read as two figures). */
#define COMPARE_GAP 6

static fce_status sample_impl(const fce_image_sample_config *c, fce_ctx *ctx, int *have_ctx,
                              uint8_t **h_a, uint8_t **h_b, uint8_t **grid) {
    if (c->n < 1 || c->n > 100000) return fce_config_error("--n must be in 1..100000");
    if (!(c->temperature > 0) || !isfinite(c->temperature))
        return fce_config_error("--temperature must be > 0 (1: the model; 0.7: the sharper samples Glow shows)");
    if (!c->grid[0]) return fce_config_error("--grid is required");
    if (!c->checkpoint[0]) return fce_config_error("--checkpoint is required");
    int N = c->n;
    fce_iglow_config ga, gb;
    FCE_TRY(sample_u8(ctx, have_ctx, c->checkpoint, c->device, N, c->temperature, c->seed, &ga, h_a));
    if (c->compare[0]) {
        /* Same noise needs the same latent sizes: the picture shape and L decide them. */
        fce_iglow_config peek;
        fce_iglow_ckpt_state s;
        FCE_TRY(fce_iglow_ckpt_peek(c->compare, &peek, &s));
        if (peek.H != ga.H || peek.W != ga.W || peek.C != ga.C || peek.L != ga.L) {
            fce_log_error("sample --compare: %s is a %dx%dx%d flow with L = %d, %s is %dx%dx%d with "
                          "L = %d; the same noise needs the same picture shape and number of levels",
                          c->compare, peek.H, peek.W, peek.C, peek.L, c->checkpoint, ga.H, ga.W,
                          ga.C, ga.L);
            return FCE_STATUS_ERR_CONFIG;
        }
        FCE_TRY(sample_u8(ctx, have_ctx, c->compare, c->device, N, c->temperature, c->seed, &gb, h_b));
    }
    int cols = (int)ceil(sqrt((double)N));
    while (cols * cols < N) cols++;
    while (cols > 1 && (cols - 1) * (cols - 1) >= N) cols--;
    int rows = (N + cols - 1) / cols;
    int pw = cols * ga.W + (cols - 1), gh = rows * ga.H + (rows - 1);
    int gw = c->compare[0] ? 2 * pw + COMPARE_GAP : pw;
    if (!(*grid = calloc((size_t)gw * gh * 3, 1))) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    paste_panel(*grid, gw, 0, *h_a, N, cols, ga.H, ga.W);
    if (c->compare[0]) {
        for (int y = 0; y < gh; y++) memset(*grid + ((size_t)y * gw + pw) * 3, 255, COMPARE_GAP * 3);
        paste_panel(*grid, gw, pw + COMPARE_GAP, *h_b, N, cols, ga.H, ga.W);
    }
    FCE_TRY(fce_image_write_rgb(c->grid, *grid, gw, gh));
    if (c->compare[0])
        fce_log_info("wrote %d samples at temperature %g from the same noise: %s (left) | %s (right) "
                     "to %s", N, (double)c->temperature, c->checkpoint, c->compare, c->grid);
    else
        fce_log_info("wrote %d samples at temperature %g to %s", N, (double)c->temperature, c->grid);
    return FCE_STATUS_OK;
}

/* ---- batched sampling into numbered PNGs (and an optional .npz) ---- */

/* The pictures already in --out-dir: those this command writes (NNNNNN.png or .ppm) and others. */
typedef struct dir_pictures {
    int ours, others;
    char our_example[256], other_example[256]; /* the first of each found */
} dir_pictures;

/* Is name one of our numbered pictures, six digits then .png or .ppm? */
static int is_numbered_picture(const char *name) {
    for (int i = 0; i < 6; i++)
        if (!isdigit((unsigned char)name[i])) return 0;
    return !strcmp(name + 6, ".png") || !strcmp(name + 6, ".ppm");
}

/* Does name end in an extension FID tools read as a picture? */
static int is_picture(const char *name) {
    static const char *const ext[] = {".png", ".ppm", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"};
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
        size_t e = strlen(ext[k]);
        if (n > e && !strcasecmp(name + n - e, ext[k])) return 1;
    }
    return 0;
}

/* Counts the pictures in dir (a folder that does not exist yet holds none). */
static fce_status scan_out_dir(const char *dir, dir_pictures *p) {
    memset(p, 0, sizeof *p);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return FCE_STATUS_OK;
        fce_log_error("sample: cannot read the folder --out-dir %s", dir);
        return FCE_STATUS_ERR_IO;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!is_picture(e->d_name)) continue;
        int ours = is_numbered_picture(e->d_name);
        int *count = ours ? &p->ours : &p->others;
        char *example = ours ? p->our_example : p->other_example;
        if ((*count)++ == 0) snprintf(example, sizeof p->our_example, "%s", e->d_name);
    }
    closedir(d);
    return FCE_STATUS_OK;
}

/* Refuses (usage error) an --out-dir that holds pictures, unless --force and all are ours. */
static fce_status check_out_dir(const fce_image_sample_config *c, const dir_pictures *p) {
    if (p->others) {
        fce_log_error("sample: --out-dir %s holds %d picture(s) that sample did not write (e.g. %s): FID "
                      "would score them with the new samples. Choose an empty folder%s", c->out_dir,
                      p->others, p->other_example, p->ours ? " (--force removes only numbered NNNNNN.png pictures)" : "");
        return FCE_STATUS_ERR_CONFIG;
    }
    if (p->ours && !c->force) {
        fce_log_error("sample: --out-dir %s already holds %d numbered picture(s) (e.g. %s): FID would score "
                      "the old and new samples as one set. Choose an empty folder, or add --force to "
                      "remove them first", c->out_dir, p->ours, p->our_example);
        return FCE_STATUS_ERR_CONFIG;
    }
    return FCE_STATUS_OK;
}

/* --force: removes the numbered pictures of an earlier run from dir. */
static fce_status remove_numbered_pictures(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return FCE_STATUS_OK;
    fce_status st = FCE_STATUS_OK;
    int n = 0;
    for (struct dirent *e; st == FCE_STATUS_OK && (e = readdir(d)) != NULL;) {
        if (!is_numbered_picture(e->d_name)) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (remove(path) != 0) {
            fce_log_error("sample --force: cannot remove %s", path);
            st = FCE_STATUS_ERR_IO;
        }
        n++;
    }
    closedir(d);
    if (st == FCE_STATUS_OK && n) fce_log_info("sample --force: removed %d earlier picture(s) from %s", n, dir);
    return st;
}

typedef struct sample_out {
    fce_sample_step step; /* ε, the inverse and uint8 on the device (eval/sample_step.h) */
    uint8_t *h_u8;
    fce_iglow_tape *tp;
    fce_npz_writer npz; /* npz.f NULL: no --npz, or closed */
} sample_out;

static fce_status sample_dir_impl(const fce_image_sample_config *c, fce_ctx *ctx, fce_iglow *g,
                                  int n_bits, sample_out *o) {
    const fce_iglow_config *gc = fce_iglow_cfg(g);
    int N = c->n, B = c->batch < N ? c->batch : N;
    size_t D = (size_t)gc->H * gc->W * gc->C;
    if (c->force) FCE_TRY(remove_numbered_pictures(c->out_dir));
    FCE_TRY(fce_mkdirs(c->out_dir));
    FCE_TRY(fce_iglow_tape_init_inference(&o->tp, g, B)); /* inverse only */
    FCE_TRY(fce_sample_step_init(&o->step, ctx, g, o->tp, B, c->seed, c->temperature, n_bits));
    o->h_u8 = malloc((size_t)B * D);
    if (!o->h_u8) return FCE_STATUS_ERR_NOMEM;
    if (c->npz[0]) FCE_TRY(fce_npz_open(&o->npz, c->npz, N, gc->H, gc->W, gc->C));
    fce_progress pr;
    fce_progress_begin(&pr, "sample", (size_t)N, c->progress_every, c->quiet);
    for (int start = 0; start < N; start += B) {
        int m = N - start < B ? N - start : B;
        FCE_TRY(fce_sample_step_run(&o->step, start / B));
        FCE_TRY(ctx->ops->download(ctx, o->h_u8, o->step.d_u8, (size_t)m * D));
        for (int i = 0; i < m; i++) {
            char path[1100];
            snprintf(path, sizeof path, "%s/%06d.png", c->out_dir, start + i);
            FCE_TRY(fce_image_write_rgb(path, o->h_u8 + (size_t)i * D, gc->W, gc->H));
        }
        if (o->npz.f) FCE_TRY(fce_npz_append(&o->npz, o->h_u8, (size_t)m * D));
        fce_progress_update(&pr, (size_t)(start + m));
    }
    if (o->npz.f) FCE_TRY(fce_npz_close(&o->npz));
    double dt = fce_progress_seconds(&pr);
    fce_log_info("sample: wrote %d pictures to %s%s%s in %.3f s (%.1f img/s, batch %d, temperature %g)", N,
                 c->out_dir, c->npz[0] ? " and " : "", c->npz, dt, N / (dt > 0 ? dt : 1e-9), B,
                 (double)c->temperature);
    return FCE_STATUS_OK;
}

static fce_status sample_dir_run(const fce_image_sample_config *c) {
    if (c->n < 1 || c->n > 100000) return fce_config_error("--n must be in 1..100000");
    if (c->batch < 1 || c->batch > 100000) return fce_config_error("--batch must be in 1..100000");
    if (!(c->temperature > 0) || !isfinite(c->temperature))
        return fce_config_error("--temperature must be > 0 (1: the model; 0.7: the sharper samples Glow shows)");
    if (!(c->progress_every >= 0)) return fce_config_error("--progress-every must be >= 0");
    dir_pictures pics;
    FCE_TRY(scan_out_dir(c->out_dir, &pics));
    FCE_TRY(check_out_dir(c, &pics));
    fce_ctx ctx;
    int have_ctx = 0;
    fce_iglow *g = NULL;
    fce_iglow_ckpt_state s;
    sample_out o;
    memset(&o, 0, sizeof o);
    fce_status st = fce_flow_from_file(c->checkpoint, c->device, &ctx, &have_ctx, &g, &s);
    if (st == FCE_STATUS_OK) {
        const fce_iglow_config *gc = fce_iglow_cfg(g);
        if (gc->C != 3 || gc->L > FCE_SAMPLE_STEP_MAX_LEVELS) {
            fce_log_error("sample: PNG output needs RGB pictures (C = 3); the checkpoint has C = %d", gc->C);
            st = FCE_STATUS_ERR_UNSUPPORTED;
        }
    }
    if (st == FCE_STATUS_OK) st = sample_dir_impl(c, &ctx, g, (int)s.n_bits, &o);
    fce_npz_abort(&o.npz); /* a failure left it open: remove the partial file */
    if (have_ctx) {
        fce_sample_step_free(&o.step);
        fce_iglow_tape_free(o.tp);
        fce_iglow_free(g);
        fce_ctx_free(&ctx);
    }
    free(o.h_u8);
    return st;
}

fce_status fce_image_sample_run(const fce_image_sample_config *c) {
    if (c->npz[0] && !c->out_dir[0])
        return fce_config_error("--npz needs --out-dir: the .npz holds the numbered pictures --out-dir writes");
    if (c->out_dir[0]) {
        if (c->compare[0])
            return fce_config_error("--compare makes a grid; it does not go with --out-dir");
        return sample_dir_run(c);
    }
    fce_ctx ctx;
    int have_ctx = 0;
    uint8_t *h_a = NULL, *h_b = NULL, *grid = NULL;
    fce_status st = sample_impl(c, &ctx, &have_ctx, &h_a, &h_b, &grid);
    if (have_ctx) fce_ctx_free(&ctx);
    free(h_a);
    free(h_b);
    free(grid);
    return st;
}

/* flow_image_file.c: the image flow's checkpoint file (flow_image_file.h): one writer, one header
 * reader (peek) and one loader, every field range-checked in 64-bit arithmetic before use. */
#include "formats/flow_image_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "formats/ckpt_io.h"

#define ICKPT_MAGIC "FCEIMG\0\0"
#define ICKPT_VERSION 2u /* 2: the CRC-32 trailer (ckpt_io.h) */
#define ICKPT_ENDIAN 0x0102030405060708ull

typedef struct ickpt_header {
    char magic[8];
    uint64_t version, endian;
    int64_t H, W, C, L, K, width, affine;
    int64_t n_total, actnorm_initialized;
    uint64_t hash;
    fce_iglow_ckpt_state state;
} ickpt_header;

size_t fce_iglow_ckpt_header_size(void) { return sizeof(ickpt_header); }

static fce_status save_impl(const char *path, fce_iglow *g, const fce_iglow_ckpt_state *s,
                            int commit) {
    ickpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, ICKPT_MAGIC, 8);
    h.version = ICKPT_VERSION;
    h.endian = ICKPT_ENDIAN;
    const fce_iglow_config *c = fce_iglow_cfg(g);
    h.H = c->H, h.W = c->W, h.C = c->C, h.L = c->L, h.K = c->K, h.width = c->width;
    h.affine = c->affine;
    fce_param_arena *a = fce_iglow_arena(g);
    h.n_total = (int64_t)a->n_total;
    h.actnorm_initialized = fce_iglow_actnorm_initialized(g);
    h.hash = fce_param_table_hash(fce_iglow_params(g));
    h.state = *s;
    fce_ctx *const ctx = fce_iglow_ctx(g);
    if (!commit) return fce_ckpt_write_tmp(path, &h, sizeof h, 1, &a, &ctx);
    return fce_ckpt_write(path, &h, sizeof h, 1, &a, &ctx);
}

fce_status fce_iglow_ckpt_save(const char *path, fce_iglow *g, const fce_iglow_ckpt_state *s) {
    return save_impl(path, g, s, 1);
}

fce_status fce_iglow_ckpt_save_tmp(const char *path, fce_iglow *g, const fce_iglow_ckpt_state *s) {
    return save_impl(path, g, s, 0);
}

/* What a header may hold, so that no field can truncate, overflow or reach an assertion when the
 * flow is built from it: H, W up to 4096 and divisible by 2^L; every level's squeezed channels
 * (4·C·2^l) within the invertible map's limit; L, K, width within what any preset uses, with room.
 * (read_header then checks n_total against the parameter count of that flow, counted without
 * allocating it.) Returns the first bad field or NULL. */
static const char *bad_shape(const ickpt_header *h) {
    if (h->L < 1 || h->L > 8) return "L (levels) is outside 1..8";
    if (h->K < 1 || h->K > 1024) return "K (steps per level) is outside 1..1024";
    if (h->width < 1 || h->width > 8192) return "width is outside 1..8192";
    if (h->affine != 0 && h->affine != 1) return "affine is not 0 or 1";
    if (h->C < 1 || h->C > 16) return "C (channels) is outside 1..16";
    if (h->H < 2 || h->H > 4096 || h->W < 2 || h->W > 4096) return "H or W is outside 2..4096";
    int64_t scale = (int64_t)1 << h->L;
    if (h->H % scale || h->W % scale) return "H and W are not divisible by 2^L";
    /* channels entering level l: C·4·2^l (each level squeezes ×4 and keeps half after a split) */
    for (int64_t l = 0, c = 4 * h->C; l < h->L; l++, c *= 2)
        if (c > FCE_INVCONV_MAX_C) return "the channels of a level exceed the invertible map's limit";
    if (h->n_total <= 0 || h->n_total > ((int64_t)1 << 34)) return "n_total (parameter count) is out of range";
    if (h->actnorm_initialized != 0 && h->actnorm_initialized != 1) return "actnorm_initialized is not 0 or 1";
    const fce_iglow_ckpt_state *s = &h->state;
    if (s->step < 0 || s->n_bits < 1 || s->n_bits > 8 || s->batch < 1 || s->batch > 1000000 ||
        !memchr(s->dataset, 0, sizeof s->dataset))
        return "the training state (step, n_bits, batch, dataset) is out of range";
    return NULL;
}

static fce_status read_header(const char *path, FILE **fp, uint64_t *content, ickpt_header *h) {
    fce_status st;
    FILE *f = fce_ckpt_open(path, content, &st);
    if (!f) return st;
    const char *bad = NULL;
    if (fread(h, sizeof *h, 1, f) != 1) bad = "file is shorter than the header (truncated, or not a checkpoint)";
    else if (memcmp(h->magic, ICKPT_MAGIC, 8) != 0) bad = "bad magic (not an fce-gpu image checkpoint)";
    else if (h->endian != ICKPT_ENDIAN) bad = "written on a machine of other byte order";
    else if (h->version != ICKPT_VERSION) bad = "unsupported format version";
    else bad = bad_shape(h);
    if (!bad) {
        /* the flow this header describes, counted without allocating it: a header whose shape
         * needs more (or fewer) parameters than the file holds builds nothing */
        fce_iglow_config gc = {(int)h->H, (int)h->W, (int)h->C, (int)h->L, (int)h->K, (int)h->width,
                               (int)h->affine};
        size_t n = 0;
        if (fce_iglow_param_count(&gc, &n) != FCE_STATUS_OK || (int64_t)n != h->n_total)
            bad = "n_total differs from the parameter count of the flow its header describes";
    }
    FCE_TRY(fce_ckpt_header_verdict(path, f, bad, *content, sizeof *h, h->n_total));
    *fp = f;
    return FCE_STATUS_OK;
}

fce_status fce_iglow_ckpt_peek(const char *path, fce_iglow_config *cfg, fce_iglow_ckpt_state *s) {
    ickpt_header h;
    FILE *f = NULL;
    uint64_t content;
    FCE_TRY(read_header(path, &f, &content, &h));
    fclose(f);
    cfg->H = (int)h.H, cfg->W = (int)h.W, cfg->C = (int)h.C, cfg->L = (int)h.L, cfg->K = (int)h.K;
    cfg->width = (int)h.width, cfg->affine = (int)h.affine;
    if (s) *s = h.state;
    return FCE_STATUS_OK;
}

#define CHECK_FIELD(field, have, flag)                                                             \
    FCE_TRY_GOTO(st, fce_ckpt_check_field(path, #field, h.field, (int64_t)(have), flag))

fce_status fce_iglow_ckpt_load(const char *path, fce_iglow *g, int with_moments,
                               fce_iglow_ckpt_state *s) {
    ickpt_header h;
    FILE *f = NULL;
    uint64_t content;
    FCE_TRY(read_header(path, &f, &content, &h));
    fce_status st = FCE_STATUS_OK;
    float *host = NULL;
    const fce_iglow_config *c = fce_iglow_cfg(g);
    fce_param_arena *a = fce_iglow_arena(g);
    fce_ctx *ctx = fce_iglow_ctx(g);
    CHECK_FIELD(H, c->H, "the dataset's image height");
    CHECK_FIELD(W, c->W, "the dataset's image width");
    CHECK_FIELD(C, c->C, "the dataset's channels");
    CHECK_FIELD(L, c->L, "--L");
    CHECK_FIELD(K, c->K, "--K");
    CHECK_FIELD(width, c->width, "--width");
    CHECK_FIELD(affine, c->affine, "--affine");
    FCE_TRY_GOTO(st, fce_ckpt_check_table(path, h.hash, fce_param_table_hash(fce_iglow_params(g)),
                                          h.n_total, (int64_t)a->n_total));
    host = malloc(a->n_total * sizeof(float) + 1);
    if (!host) {
        st = FCE_STATUS_ERR_NOMEM;
        goto cleanup;
    }
    float *bufs[3] = {a->params, a->m, a->v};
    FCE_TRY_GOTO(st, fce_ckpt_read_params(path, f, ctx, fce_iglow_params(g), bufs[0], host, a->n_total));
    for (int b = 1; b < (with_moments ? 3 : 1); b++)
        FCE_TRY_GOTO(st, fce_ckpt_read_blob(path, f, ctx, bufs[b], host, a->n_total));
    fce_iglow_set_actnorm_initialized(g, (int)h.actnorm_initialized);
    if (s) *s = h.state;
    st = fce_iglow_refresh(g);
cleanup:
    free(host);
    fclose(f);
    return st;
}

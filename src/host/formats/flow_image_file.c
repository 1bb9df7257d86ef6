/* iglow_checkpoint.c: save/load of an image MLE run (iglow_checkpoint.h), after checkpoint.c. */
#include "formats/flow_image_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ckpt_io.h"
#include "fce/log.h"

#define ICKPT_MAGIC "FCEIMG\0\0"
#define ICKPT_VERSION 1u
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

static fce_status read_header(const char *path, FILE **fp, ickpt_header *h) {
    FILE *f = fce_ckpt_open(path);
    if (!f) return FCE_STATUS_ERR_IO;
    const char *bad = NULL;
    if (fread(h, sizeof *h, 1, f) != 1) bad = "file is shorter than the header (truncated, or not a checkpoint)";
    else if (memcmp(h->magic, ICKPT_MAGIC, 8) != 0) bad = "bad magic (not an fce-gpu image checkpoint)";
    else if (h->endian != ICKPT_ENDIAN) bad = "written on a machine of other byte order";
    else if (h->version != ICKPT_VERSION) bad = "unsupported format version";
    else if (h->n_total <= 0 || h->n_total > ((int64_t)1 << 34)) bad = "bad parameter count";
    if (bad) {
        fce_log_error("checkpoint %s: %s", path, bad);
        fclose(f);
        return FCE_STATUS_ERR_FORMAT;
    }
    *fp = f;
    return FCE_STATUS_OK;
}

fce_status fce_iglow_ckpt_peek(const char *path, fce_iglow_config *cfg, fce_iglow_ckpt_state *s) {
    ickpt_header h;
    FILE *f = NULL;
    FCE_TRY(read_header(path, &f, &h));
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
    FCE_TRY(read_header(path, &f, &h));
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
    for (int b = 0; b < (with_moments ? 3 : 1); b++)
        FCE_TRY_GOTO(st, fce_ckpt_read_blob(path, f, ctx, bufs[b], host, a->n_total));
    fce_iglow_set_actnorm_initialized(g, (int)h.actnorm_initialized);
    if (s) *s = h.state;
    st = fce_iglow_refresh(g);
cleanup:
    free(host);
    fclose(f);
    return st;
}

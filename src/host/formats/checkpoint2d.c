/* checkpoint2d.c: the 2D run's checkpoint file (checkpoint.h): save, peek and load. The header is
 * a struct of 8-byte fields written as is; the endian marker makes a file from a big-endian machine
 * fail loudly instead of loading garbage; the integrity trailer and range checks are ckpt_io.c's. */
#include "fce/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ckpt_io.h"
#include "fce/log.h"

#define CKPT_MAGIC "FCE2D\0\0\0"
#define CKPT_VERSION 2u /* 2: the CRC-32 trailer (ckpt_io.h) */
#define CKPT_ENDIAN 0x0102030405060708ull

typedef struct ckpt_header {
    char magic[8];
    uint64_t version, endian;
    int64_t flow_dim, flow_K, flow_width, flow_n_total, flow_actnorm_initialized;
    uint64_t flow_hash;
    int64_t ebm_dim, ebm_width, ebm_hidden, ebm_n_total;
    uint64_t ebm_hash;
    fce_train_state state;
} ckpt_header;

static void fill_header(ckpt_header *h, fce_glow *g, fce_ebm *e) {
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CKPT_MAGIC, 8);
    h->version = CKPT_VERSION;
    h->endian = CKPT_ENDIAN;
    const fce_glow_config *gc = fce_glow_cfg(g);
    h->flow_dim = gc->dim;
    h->flow_K = gc->K;
    h->flow_width = gc->width;
    h->flow_n_total = (int64_t)fce_glow_arena(g)->n_total;
    h->flow_actnorm_initialized = fce_glow_actnorm_initialized(g);
    h->flow_hash = fce_param_table_hash(fce_glow_params(g));
    const fce_ebm_config *ec = fce_ebm_cfg(e);
    h->ebm_dim = ec->dim;
    h->ebm_width = ec->width;
    h->ebm_hidden = ec->hidden;
    h->ebm_n_total = (int64_t)fce_ebm_arena(e)->n_total;
    h->ebm_hash = fce_param_table_hash(fce_ebm_params(e));
}

/* Blob order: flow params, m, v, then EBM params, m, v. */
fce_status fce_checkpoint_save(const char *path, fce_glow *g, fce_ebm *e, const fce_train_state *s) {
    ckpt_header h;
    fill_header(&h, g, e);
    h.state = *s;
    fce_param_arena *const arenas[2] = {fce_glow_arena(g), fce_ebm_arena(e)};
    fce_ctx *const ctxs[2] = {fce_glow_ctx(g), fce_ebm_ctx(e)};
    return fce_ckpt_write(path, &h, sizeof h, 2, arenas, ctxs);
}

static fce_status read_header(const char *path, FILE *f, ckpt_header *h) {
    if (fread(h, sizeof *h, 1, f) != 1) { /* (the integrity check has passed: a short file) */
        fce_log_error("checkpoint %s: file is shorter than its %zu-byte header (truncated, or not a "
                      "checkpoint)", path, sizeof *h);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (memcmp(h->magic, CKPT_MAGIC, 8) != 0) {
        fce_log_error("checkpoint %s: bad magic (not an fce-gpu 2D checkpoint)", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (h->endian != CKPT_ENDIAN) {
        fce_log_error("checkpoint %s: written on a machine of other byte order", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (h->version != CKPT_VERSION) {
        fce_log_error("checkpoint %s: format version %llu, this build reads version %u", path,
                      (unsigned long long)h->version, CKPT_VERSION);
        return FCE_STATUS_ERR_FORMAT;
    }
    return FCE_STATUS_OK;
}

#define CHECK_FIELD(path, field, have, flag)                                                       \
    FCE_TRY(fce_ckpt_check_field(path, #field, (int64_t)(h.field), (int64_t)(have), flag))

static fce_status check_flow(const char *path, const ckpt_header *hp, fce_glow *g) {
    ckpt_header h = *hp;
    const fce_glow_config *gc = fce_glow_cfg(g);
    CHECK_FIELD(path, flow_dim, gc->dim, "the dataset's dimension");
    CHECK_FIELD(path, flow_K, gc->K, "--flow-K");
    CHECK_FIELD(path, flow_width, gc->width, "--flow-width");
    return fce_ckpt_check_table(path, h.flow_hash, fce_param_table_hash(fce_glow_params(g)),
                                h.flow_n_total, (int64_t)fce_glow_arena(g)->n_total);
}

/* Opens path (integrity checked) and reads its header; *f is NULL when the open failed. */
static fce_status open_header(const char *path, FILE **f, uint64_t *content, ckpt_header *h) {
    fce_status st = FCE_STATUS_OK;
    *f = fce_ckpt_open(path, content, &st);
    return *f ? read_header(path, *f, h) : st;
}

static fce_status load_impl(const char *path, fce_glow *g, fce_ebm *e, fce_train_state *s) {
    uint64_t content = 0;
    FILE *f = NULL;
    ckpt_header h;
    fce_status st = open_header(path, &f, &content, &h);
    if (!f) return st;
    float *host = NULL;
    if (st == FCE_STATUS_OK) st = check_flow(path, &h, g);
    if (st == FCE_STATUS_OK && e) {
        const fce_ebm_config *ec = fce_ebm_cfg(e);
        if (h.ebm_dim != ec->dim || h.ebm_width != ec->width || h.ebm_hidden != ec->hidden ||
            h.ebm_hash != fce_param_table_hash(fce_ebm_params(e))) {
            fce_log_error("checkpoint %s: EBM is width %lld with %lld hidden layers but this run has "
                          "width %d with %d (set them with --ebm-width / --ebm-hidden)", path,
                          (long long)h.ebm_width, (long long)h.ebm_hidden, ec->width, ec->hidden);
            st = FCE_STATUS_ERR_FORMAT;
        } else {
            st = fce_ckpt_check_field(path, "ebm_n_total", h.ebm_n_total,
                                      (int64_t)fce_ebm_arena(e)->n_total, "--ebm-width / --ebm-hidden");
        }
    }
    if (st == FCE_STATUS_OK && (h.flow_actnorm_initialized < 0 || h.flow_actnorm_initialized > 1)) {
        fce_log_error("checkpoint %s: field flow_actnorm_initialized is %lld (0 or 1)", path,
                      (long long)h.flow_actnorm_initialized);
        st = FCE_STATUS_ERR_FORMAT;
    }
    const fce_train_state *ts = &h.state;
    if (st == FCE_STATUS_OK &&
        (ts->step < 0 || ts->ebm_updates < 0 || ts->flow_updates < 0 || ts->ebm_t < 0 ||
         ts->flow_t < 0 || ts->consecutive < 0 || (ts->flow_turn != 0 && ts->flow_turn != 1) ||
         ts->mode < 0 || ts->mode > 2 || (ts->c_initialized != 0 && ts->c_initialized != 1) ||
         !memchr(ts->dataset, 0, sizeof ts->dataset))) {
        fce_log_error("checkpoint %s: the training state (step counters, turn, mode, dataset name) "
                      "is out of range", path);
        st = FCE_STATUS_ERR_FORMAT;
    }
    /* sizes come from this run's models (their n_total equals the header's, checked above) */
    size_t nf = fce_glow_arena(g)->n_total, ne = e ? fce_ebm_arena(e)->n_total : 0;
    if (st == FCE_STATUS_OK) {
        /* the file always holds both models with their moments, also when only the flow is read */
        uint64_t blobs[2] = {3 * (uint64_t)nf, 3 * (uint64_t)(h.ebm_n_total < 0 ? 0 : h.ebm_n_total)};
        st = fce_ckpt_check_size(path, content, sizeof h, blobs, 2);
    }
    if (st == FCE_STATUS_OK) {
        host = malloc((nf > ne ? nf : ne) * sizeof(float) + 1);
        if (!host) st = FCE_STATUS_ERR_NOMEM;
    }
    if (st == FCE_STATUS_OK) {
        fce_param_arena *a = fce_glow_arena(g);
        fce_ctx *gc = fce_glow_ctx(g);
        st = fce_ckpt_read_params(path, f, gc, fce_glow_params(g), a->params, host, nf);
        /* --init-flow takes the parameters only: the new run starts its own optimizer state */
        if (st == FCE_STATUS_OK && e) st = fce_ckpt_read_blob(path, f, gc, a->m, host, nf);
        if (st == FCE_STATUS_OK && e) st = fce_ckpt_read_blob(path, f, gc, a->v, host, nf);
    }
    if (st == FCE_STATUS_OK && e) {
        fce_param_arena *a = fce_ebm_arena(e);
        fce_ctx *ec = fce_ebm_ctx(e);
        st = fce_ckpt_read_blob(path, f, ec, a->params, host, ne);
        if (st == FCE_STATUS_OK) st = fce_ckpt_read_blob(path, f, ec, a->m, host, ne);
        if (st == FCE_STATUS_OK) st = fce_ckpt_read_blob(path, f, ec, a->v, host, ne);
    }
    free(host);
    fclose(f);
    if (st != FCE_STATUS_OK) return st;
    fce_glow_set_actnorm_initialized(g, (int)h.flow_actnorm_initialized);
    if (s) *s = h.state;
    return fce_glow_refresh(g);
}

fce_status fce_checkpoint_peek(const char *path, fce_glow_config *gc, fce_ebm_config *ec,
                               uint64_t *flow_hash, fce_train_state *s) {
    uint64_t content = 0;
    FILE *f = NULL;
    ckpt_header h;
    fce_status st = open_header(path, &f, &content, &h);
    if (f) fclose(f);
    if (st != FCE_STATUS_OK) return st;
    if (h.flow_dim < 2 || h.flow_dim > 64 || h.flow_dim % 2 || h.flow_K < 1 || h.flow_K > 1024 ||
        h.flow_width < 1 || h.flow_width > 65536 || h.ebm_dim != h.flow_dim || h.ebm_width < 1 ||
        h.ebm_width > 65536 || h.ebm_hidden < 1 || h.ebm_hidden > 64) {
        fce_log_error("checkpoint %s: the architecture fields (flow_dim, flow_K, flow_width, "
                      "ebm_width, ebm_hidden) are out of range", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    *gc = (fce_glow_config){(int)h.flow_dim, (int)h.flow_K, (int)h.flow_width, 0};
    *ec = (fce_ebm_config){(int)h.ebm_dim, (int)h.ebm_width, (int)h.ebm_hidden};
    *flow_hash = h.flow_hash;
    if (s) *s = h.state;
    return FCE_STATUS_OK;
}

fce_status fce_checkpoint_load(const char *path, fce_glow *g, fce_ebm *e, fce_train_state *s) {
    return load_impl(path, g, e, s);
}

fce_status fce_checkpoint_load_flow(const char *path, fce_glow *g) {
    return load_impl(path, g, NULL, NULL);
}

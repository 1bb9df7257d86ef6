/* ebm_image_file.c: the image EBM's file, ebm.fce (ebm_image_file.h): one writer, one reader for
 * --resume (everything) and one for eval and probe (a fresh EBM from the header's shape). */
#include "formats/ebm_image_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "formats/ckpt_io.h"

#define EBM_MAGIC "FCEEBMI\0"
#define EBM_VERSION 3u /* 2: the CRC-32 trailer (ckpt_io.h); 3: the EBM's base (state.base_*) */
typedef struct ebm_header {
    char magic[8];
    uint64_t version;
    int64_t H, W, C, n_total;
    uint64_t hash;
    fce_image_fce_state state;
} ebm_header;
/* Version 2's header: the same without the state's last two fields (base_kind, base_crc). */
#define EBM_V2_HEADER_BYTES (sizeof(ebm_header) - sizeof(int64_t) - sizeof(uint64_t))

fce_status fce_ebm_image_file_write_tmp(const char *path, fce_ctx *ctx, fce_ebm_image *e,
                                        const fce_image_fce_state *s) {
    ebm_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, EBM_MAGIC, 8);
    h.version = EBM_VERSION;
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(e);
    fce_param_arena *a = fce_ebm_image_arena(e);
    h.H = ec->H, h.W = ec->W, h.C = ec->C, h.n_total = (int64_t)a->n_total;
    h.hash = fce_param_table_hash(fce_ebm_image_params(e));
    h.state = *s;
    return fce_ckpt_write_tmp(path, &h, sizeof h, 1, &a, &ctx);
}

/* Opens path (integrity trailer checked) and reads and range-checks its header: the fields size
 * and index nothing before this passes. */
static fce_status open_file(const char *path, FILE **fp, ebm_header *h) {
    fce_status st;
    uint64_t content = 0;
    FILE *f = fce_ckpt_open(path, &content, &st);
    if (!f) return st;
    const char *bad = NULL;
    const fce_image_fce_state *s = &h->state;
    memset(h, 0, sizeof *h); /* a version 2 file leaves the base fields 0: no base */
    const int v2_read = fread(h, EBM_V2_HEADER_BYTES, 1, f) == 1;
    const size_t header_bytes = h->version == EBM_VERSION ? sizeof *h : EBM_V2_HEADER_BYTES;
    if (!v2_read || memcmp(h->magic, EBM_MAGIC, 8) || (h->version != 2 && h->version != EBM_VERSION))
        bad = "not an image EBM file of version 2 or 3 (train --mode fce writes ebm.fce)";
    else if (h->version == EBM_VERSION &&
             fread((char *)h + EBM_V2_HEADER_BYTES, sizeof *h - EBM_V2_HEADER_BYTES, 1, f) != 1)
        bad = "the header is short";
    else if (s->base_kind < FCE_EBM_BASE_NONE || s->base_kind > FCE_EBM_BASE_FLOW ||
             s->base_crc > UINT32_MAX || (s->base_kind == FCE_EBM_BASE_NONE && s->base_crc != 0))
        bad = "the EBM's base (kind, CRC-32 of ebm_base.fce) is out of range";
    else if (h->H < 8 || h->W < 8 || h->C < 1 || h->H > 4096 || h->W > 4096 || h->C > 64 || h->H % 8 || h->W % 8)
        bad = "the picture shape (H, W, C) is out of range";
    else if (s->width_scale < 0 || s->width_scale > 64 || (s->width_scale & (s->width_scale - 1)))
        bad = "width_scale is not 0 or a power of two up to 64";
    else if (s->n_bits < 1 || s->n_bits > 8 || s->step < 0 || s->ebm_updates < 0 ||
             s->flow_updates < 0 || s->consecutive < 0 || (s->flow_turn != 0 && s->flow_turn != 1) ||
             s->batch < 1 || !memchr(s->dataset, 0, sizeof s->dataset))
        bad = "the training state (step counters, turn, n_bits, batch, dataset) is out of range";
    else if (h->n_total <= 0 || h->n_total > ((int64_t)1 << 34))
        bad = "n_total (parameter count) is out of range";
    FCE_TRY(fce_ckpt_header_verdict(path, f, bad, content, header_bytes, h->n_total));
    *fp = f;
    return FCE_STATUS_OK;
}

fce_status fce_ebm_image_file_read(const char *path, fce_ctx *ctx, fce_ebm_image *e,
                                   fce_image_fce_state *s) {
    FILE *f = NULL;
    ebm_header h;
    FCE_TRY(open_file(path, &f, &h));
    fce_param_arena *a = fce_ebm_image_arena(e);
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(e);
    fce_status st = FCE_STATUS_OK;
    if (h.H != ec->H || h.W != ec->W || h.C != ec->C || h.n_total != (int64_t)a->n_total ||
        h.hash != fce_param_table_hash(fce_ebm_image_params(e)) ||
        h.state.width_scale != ec->width_scale) {
        fce_log_error("%s: another EBM architecture (shape or --ebm-width-scale differ)", path);
        st = FCE_STATUS_ERR_FORMAT;
    }
    float *host = st == FCE_STATUS_OK ? malloc(a->n_total * sizeof(float) + 1) : NULL;
    if (st == FCE_STATUS_OK && !host) st = FCE_STATUS_ERR_NOMEM;
    float *bufs[3] = {a->params, a->m, a->v};
    for (int b = 0; b < 3 && st == FCE_STATUS_OK; b++)
        st = fce_ckpt_read_blob(path, f, ctx, bufs[b], host, a->n_total);
    free(host);
    fclose(f);
    if (st == FCE_STATUS_OK) *s = h.state;
    return st;
}

fce_status fce_ebm_image_load_file(const char *path, fce_ctx *ctx, fce_ebm_image **e) {
    *e = NULL;
    FILE *f = NULL;
    ebm_header h;
    FCE_TRY(open_file(path, &f, &h));
    fce_ebm_image_config ec = {(int)h.H, (int)h.W, (int)h.C, (int)h.state.width_scale, 0};
    size_t n = 0; /* the EBM the header describes, counted before anything is allocated */
    fce_status st = fce_ebm_image_param_count(&ec, &n);
    if (st == FCE_STATUS_OK && (int64_t)n != h.n_total) {
        fce_log_error("%s: n_total %lld differs from the parameter count %zu of the EBM its header "
                      "describes", path, (long long)h.n_total, n);
        st = FCE_STATUS_ERR_FORMAT;
    }
    if (st != FCE_STATUS_OK) {
        fclose(f);
        return st == FCE_STATUS_ERR_CONFIG ? FCE_STATUS_ERR_FORMAT : st;
    }
    st = fce_ebm_image_init(e, ctx, &ec, 0);
    fce_param_arena *a = st == FCE_STATUS_OK ? fce_ebm_image_arena(*e) : NULL;
    if (st == FCE_STATUS_OK && (h.n_total != (int64_t)a->n_total ||
                                h.hash != fce_param_table_hash(fce_ebm_image_params(*e)))) {
        fce_log_error("%s: another EBM architecture than this build's", path);
        st = FCE_STATUS_ERR_FORMAT;
    }
    float *host = st == FCE_STATUS_OK ? malloc(a->n_total * sizeof(float) + 1) : NULL;
    if (st == FCE_STATUS_OK && !host) st = FCE_STATUS_ERR_NOMEM;
    if (st == FCE_STATUS_OK) st = fce_ckpt_read_blob(path, f, ctx, a->params, host, a->n_total);
    free(host);
    fclose(f);
    if (st != FCE_STATUS_OK) {
        fce_ebm_image_free(*e);
        *e = NULL;
    }
    return st;
}

fce_status fce_ebm_image_file_state(const char *path, fce_image_fce_state *s) {
    FILE *f = NULL;
    ebm_header h;
    FCE_TRY(open_file(path, &f, &h));
    fclose(f);
    *s = h.state;
    return FCE_STATUS_OK;
}

fce_status fce_ebm_image_file_n_bits(const char *path, int *n_bits) {
    fce_image_fce_state s;
    FCE_TRY(fce_ebm_image_file_state(path, &s));
    *n_bits = (int)s.n_bits;
    return FCE_STATUS_OK;
}

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
typedef struct ebm_header {
    char magic[8];
    uint64_t version;
    int64_t H, W, C, n_total;
    uint64_t hash;
    fce_image_fce_state state;
} ebm_header;

fce_status fce_ebm_image_file_write_tmp(const char *path, fce_ctx *ctx, fce_ebm_image *e,
                                        const fce_image_fce_state *s) {
    ebm_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, EBM_MAGIC, 8);
    h.version = 1;
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(e);
    fce_param_arena *a = fce_ebm_image_arena(e);
    h.H = ec->H, h.W = ec->W, h.C = ec->C, h.n_total = (int64_t)a->n_total;
    h.hash = fce_param_table_hash(fce_ebm_image_params(e));
    h.state = *s;
    return fce_ckpt_write_tmp(path, &h, sizeof h, 1, &a, &ctx);
}

fce_status fce_ebm_image_file_read(const char *path, fce_ctx *ctx, fce_ebm_image *e,
                                   fce_image_fce_state *s) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fce_log_error("--resume: cannot open %s: %s", path, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    ebm_header h;
    fce_param_arena *a = fce_ebm_image_arena(e);
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(e);
    fce_status st = FCE_STATUS_OK;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, EBM_MAGIC, 8) || h.version != 1) {
        fce_log_error("%s: not an image EBM file of this version", path);
        st = FCE_STATUS_ERR_FORMAT;
    } else if (h.H != ec->H || h.W != ec->W || h.C != ec->C || h.n_total != (int64_t)a->n_total ||
               h.hash != fce_param_table_hash(fce_ebm_image_params(e)) ||
               h.state.width_scale != ec->width_scale) {
        fce_log_error("%s: another EBM architecture (shape or --ebm-width-scale differ)", path);
        st = FCE_STATUS_ERR_FORMAT;
    }
    float *host = st == FCE_STATUS_OK ? malloc(a->n_total * sizeof(float) + 1) : NULL;
    if (st == FCE_STATUS_OK && !host) st = FCE_STATUS_ERR_NOMEM;
    float *bufs[3] = {a->params, a->m, a->v};
    for (int b = 0; b < 3 && st == FCE_STATUS_OK; b++) {
        if (fread(host, sizeof(float), a->n_total, f) != a->n_total) {
            fce_log_error("%s: truncated", path);
            st = FCE_STATUS_ERR_FORMAT;
        } else {
            st = ctx->ops->upload(ctx, bufs[b], host, a->n_total * sizeof(float));
        }
    }
    free(host);
    fclose(f);
    if (st == FCE_STATUS_OK) *s = h.state;
    return st;
}

fce_status fce_ebm_image_load_file(const char *path, fce_ctx *ctx, fce_ebm_image **e) {
    *e = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fce_log_error("cannot open %s: %s", path, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    ebm_header h;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, EBM_MAGIC, 8) || h.version != 1 ||
        h.H < 8 || h.W < 8 || h.C < 1 || h.H > 4096 || h.W > 4096 || h.C > 64) {
        fclose(f);
        fce_log_error("%s: not an image EBM file of this version", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    fce_ebm_image_config ec = {(int)h.H, (int)h.W, (int)h.C, (int)h.state.width_scale, 0};
    fce_status st = fce_ebm_image_init(e, ctx, &ec, 0);
    fce_param_arena *a = st == FCE_STATUS_OK ? fce_ebm_image_arena(*e) : NULL;
    if (st == FCE_STATUS_OK && (h.n_total != (int64_t)a->n_total ||
                                h.hash != fce_param_table_hash(fce_ebm_image_params(*e)))) {
        fce_log_error("%s: another EBM architecture than this build's", path);
        st = FCE_STATUS_ERR_FORMAT;
    }
    float *host = st == FCE_STATUS_OK ? malloc(a->n_total * sizeof(float) + 1) : NULL;
    if (st == FCE_STATUS_OK && !host) st = FCE_STATUS_ERR_NOMEM;
    if (st == FCE_STATUS_OK) {
        if (fread(host, sizeof(float), a->n_total, f) != a->n_total) {
            fce_log_error("%s: truncated", path);
            st = FCE_STATUS_ERR_FORMAT;
        } else {
            st = ctx->ops->upload(ctx, a->params, host, a->n_total * sizeof(float));
        }
    }
    free(host);
    fclose(f);
    if (st != FCE_STATUS_OK) {
        fce_ebm_image_free(*e);
        *e = NULL;
    }
    return st;
}

fce_status fce_ebm_image_file_n_bits(const char *path, int *n_bits) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fce_log_error("cannot open %s: %s", path, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    ebm_header h;
    int ok = fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, EBM_MAGIC, 8) && h.version == 1 &&
             h.state.n_bits >= 1 && h.state.n_bits <= 8;
    fclose(f);
    if (!ok) {
        fce_log_error("%s: not an image EBM file of this version (train --mode fce writes ebm.fce)",
                      path);
        return FCE_STATUS_ERR_FORMAT;
    }
    *n_bits = (int)h.state.n_bits;
    return FCE_STATUS_OK;
}

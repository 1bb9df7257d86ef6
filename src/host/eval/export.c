/* export.c: `fce-gpu export` (export.h): loads the models of a checkpoint on the CPU backend and
 * writes their parameters, named by their parameter tables, to a .safetensors file. An image EBM on
 * a flow base (train --ebm-base flow) is exported as its g, with an `ebm_base` metadata entry that
 * says f = log q0 + g and names the base's file (itself a flow checkpoint, exported on its own). */
#define _POSIX_C_SOURCE 200809L
#include "fce/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/flow_from_file.h"
#include "fce/backend.h"
#include "fce/checkpoint.h"
#include "fce/ebm.h"
#include "fce/ebm_image.h"
#include "fce/glow.h"
#include "fce/iglow.h"
#include "fce/log.h"
#include "fce/params.h"
#include "formats/ebm_base_file.h"
#include "formats/ebm_image_file.h"
#include "formats/safetensors_writer.h"

#define MAX_MODELS 2
#define META_PAIRS 8

void fce_export_config_defaults(fce_export_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->format, sizeof c->format, "safetensors");
}

/* The models of one checkpoint, with host copies of their parameters. */
typedef struct export_models {
    fce_ctx ctx;
    int have_ctx;
    fce_glow *glow;
    fce_ebm *ebm2d;
    fce_iglow *iglow;
    fce_ebm_image *ebm_image;
    const fce_param_table *tables[MAX_MODELS];
    float *host[MAX_MODELS];
    int n;
    char kind[32], arch[256], step[32];
    char ebm_base[1400]; /* an image EBM on a flow base: what the metadata says of it; "" if none */
} export_models;

static fce_status add_model(export_models *m, const fce_param_table *t, fce_param_arena *a) {
    float *h = malloc(a->n_total * sizeof(float) + 1);
    if (!h) return FCE_STATUS_ERR_NOMEM;
    m->tables[m->n] = t;
    m->host[m->n++] = h;
    return m->ctx.ops->download(&m->ctx, h, a->params, a->n_total * sizeof(float));
}

static fce_status load_2d(export_models *m, const char *path) {
    fce_glow_config gc;
    fce_ebm_config ec;
    uint64_t flow_hash;
    fce_train_state s;
    FCE_TRY(fce_checkpoint_peek(path, &gc, &ec, &flow_hash, &s));
    FCE_TRY(fce_glow_init(&m->glow, &m->ctx, &gc, 1));
    if (fce_param_table_hash(fce_glow_params(m->glow)) != flow_hash) { /* inner actnorm: on */
        fce_glow_free(m->glow);
        gc.nn_actnorm = 1;
        FCE_TRY(fce_glow_init(&m->glow, &m->ctx, &gc, 1));
    }
    FCE_TRY(fce_ebm_init(&m->ebm2d, &m->ctx, &ec, 1));
    FCE_TRY(fce_checkpoint_load(path, m->glow, m->ebm2d, &s));
    snprintf(m->kind, sizeof m->kind, "2d");
    snprintf(m->arch, sizeof m->arch, "dim %d, K %d, width %d, nn_actnorm %d; EBM width %d, hidden %d",
             gc.dim, gc.K, gc.width, gc.nn_actnorm, ec.width, ec.hidden);
    snprintf(m->step, sizeof m->step, "%lld", (long long)s.step);
    FCE_TRY(add_model(m, fce_glow_params(m->glow), fce_glow_arena(m->glow)));
    return add_model(m, fce_ebm_params(m->ebm2d), fce_ebm_arena(m->ebm2d));
}

static fce_status load_ebm_image(export_models *m, const char *path) {
    FCE_TRY(fce_ebm_image_load_file(path, &m->ctx, &m->ebm_image));
    fce_image_fce_state s;
    FCE_TRY(fce_ebm_image_file_state(path, &s));
    if (s.base_kind == FCE_EBM_BASE_FLOW) {
        char base[1200];
        fce_ebm_base_path(path, base, sizeof base);
        snprintf(m->ebm_base, sizeof m->ebm_base, "flow: f(x) = log q0(x) + g(x), the ebm.* tensors "
                 "are g; q0 is the flow checkpoint %s (CRC-32 %08llx)", base, (unsigned long long)s.base_crc);
        fce_log_info("%s is an EBM on a flow base: its ebm.* tensors are g of f = log q0 + g; export q0 "
                     "with --checkpoint %s", path, base);
    }
    return add_model(m, fce_ebm_image_params(m->ebm_image), fce_ebm_image_arena(m->ebm_image));
}

static fce_status load_image(export_models *m, const fce_export_config *c) {
    fce_iglow_ckpt_state s;
    FCE_TRY(fce_flow_from_file(c->checkpoint, "cpu", &m->ctx, &m->have_ctx, &m->iglow, &s));
    const fce_iglow_config *gc = fce_iglow_cfg(m->iglow);
    snprintf(m->kind, sizeof m->kind, "image");
    snprintf(m->arch, sizeof m->arch, "H %d, W %d, C %d, L %d, K %d, width %d, affine %d",
             gc->H, gc->W, gc->C, gc->L, gc->K, gc->width, gc->affine);
    snprintf(m->step, sizeof m->step, "%lld", (long long)s.step);
    FCE_TRY(add_model(m, fce_iglow_params(m->iglow), fce_iglow_arena(m->iglow)));
    char ebm_path[1100];
    fce_ebm_path_for(c->checkpoint, c->ebm, ebm_path, sizeof ebm_path);
    if (!ebm_path[0]) return FCE_STATUS_OK; /* an MLE run: the flow alone */
    return load_ebm_image(m, ebm_path);
}

/* The kind of checkpoint from its first 8 bytes. */
static fce_status sniff(const char *path, char magic[8]) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fce_log_error("cannot open checkpoint %s", path);
        return FCE_STATUS_ERR_IO;
    }
    size_t got = fread(magic, 1, 8, f);
    fclose(f);
    if (got != 8) {
        fce_log_error("checkpoint %s: shorter than a header (not an fce-gpu checkpoint)", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    return FCE_STATUS_OK;
}

static fce_status write_models(const export_models *m, const fce_export_config *c) {
    int n = 0;
    for (int k = 0; k < m->n; k++) n += m->tables[k]->n;
    fce_st_tensor *t = calloc((size_t)n + 1, sizeof *t);
    if (!t) return FCE_STATUS_ERR_NOMEM;
    n = 0;
    for (int k = 0; k < m->n; k++) {
        for (int i = 0; i < m->tables[k]->n; i++) {
            const fce_param_spec *s = &m->tables[k]->specs[i];
            t[n] = (fce_st_tensor){s->name, m->host[k] + s->offset, s->rows == 1 ? 1 : 2,
                                   {s->rows == 1 ? s->cols : s->rows, s->cols}};
            n++;
        }
    }
    const char *meta[2 * META_PAIRS] = {"format", "fce-gpu", "kind", m->kind, "architecture",
                                        m->arch, "step", m->step, "source", c->checkpoint};
    int n_meta = 5;
    if (m->ebm_base[0]) meta[2 * n_meta] = "ebm_base", meta[2 * n_meta++ + 1] = m->ebm_base;
    fce_status st = fce_safetensors_write(c->out, t, n, meta, n_meta);
    if (st == FCE_STATUS_OK)
        fce_log_info("exported %d tensors of %d model(s) from %s to %s", n, m->n, c->checkpoint, c->out);
    free(t);
    return st;
}

fce_status fce_export_run(const fce_export_config *c) {
    if (!c->checkpoint[0]) return fce_config_error("--checkpoint is required");
    if (!c->out[0]) return fce_config_error("--out is required (the .safetensors file to write)");
    if (strcmp(c->format, "safetensors") != 0)
        return fce_config_error("--format: only safetensors is supported");
    char magic[8];
    FCE_TRY(sniff(c->checkpoint, magic));
    export_models m;
    memset(&m, 0, sizeof m);
    fce_status st = fce_ctx_init(&m.ctx, "cpu");
    if (st == FCE_STATUS_OK) m.have_ctx = 1;
    if (st == FCE_STATUS_OK) {
        if (!memcmp(magic, "FCE2D\0\0\0", 8)) {
            /* a 2D checkpoint holds its EBM: an --ebm file would be silently ignored */
            st = c->ebm[0] ? fce_config_error("--ebm: a 2D checkpoint holds both models; give "
                                                  "--ebm only with an image flow's checkpoint")
                           : load_2d(&m, c->checkpoint);
        } else if (!memcmp(magic, "FCEIMG\0\0", 8)) {
            st = load_image(&m, c);
        } else if (!memcmp(magic, "FCEEBMI\0", 8)) {
            snprintf(m.kind, sizeof m.kind, "image-ebm");
            snprintf(m.step, sizeof m.step, "?");
            st = load_ebm_image(&m, c->checkpoint);
        } else {
            fce_log_error("%s: not an fce-gpu checkpoint (unknown magic)", c->checkpoint);
            st = FCE_STATUS_ERR_FORMAT;
        }
    }
    if (st == FCE_STATUS_OK) st = write_models(&m, c);
    for (int k = 0; k < m.n; k++) free(m.host[k]);
    fce_glow_free(m.glow);
    fce_ebm_free(m.ebm2d);
    fce_iglow_free(m.iglow);
    fce_ebm_image_free(m.ebm_image);
    if (m.have_ctx) fce_ctx_free(&m.ctx);
    return st;
}

/* test_export.c: `fce-gpu export --format safetensors` (export.h) on a 2D checkpoint and on an image
 * run (flow checkpoint + ebm.fce), read back by a small independent reader of the format:
 *  - the 8-byte header length, a JSON header padded to 8 bytes, "__metadata__" with the kind;
 *  - every parameter of every model present once, F32, with the shape its table declares
 *    ([cols] for one row, [rows, cols] otherwise) and data_offsets that tile the data section;
 *  - the bytes at those offsets equal the parameters the checkpoint holds (loaded independently);
 *  - an unknown file and a missing --out are refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce/checkpoint.h"
#include "fce/ebm.h"
#include "fce/ebm_image.h"
#include "fce/export.h"
#include "fce/glow.h"
#include "fce/iglow.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "formats/ckpt_io.h"
#include "formats/ebm_image_file.h"
#include "formats/flow_image_file.h"
#include "test_util.h"

typedef struct st_file {
    unsigned char *bytes;
    long len;
    uint64_t hlen;
    char *header; /* NUL-terminated copy */
} st_file;

static int st_read(const char *path, st_file *s) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    s->len = ftell(f);
    fseek(f, 0, SEEK_SET);
    s->bytes = malloc((size_t)s->len);
    int ok = s->bytes && fread(s->bytes, 1, (size_t)s->len, f) == (size_t)s->len;
    fclose(f);
    if (!ok || s->len < 8) return 0;
    s->hlen = 0;
    for (int b = 7; b >= 0; b--) s->hlen = (s->hlen << 8) | s->bytes[b];
    if (s->hlen % 8 || 8 + s->hlen > (uint64_t)s->len) return 0;
    s->header = malloc(s->hlen + 1);
    memcpy(s->header, s->bytes + 8, s->hlen);
    s->header[s->hlen] = 0;
    return 1;
}

/* Checks one table's tensors against host params; adds their bytes to *total. */
static int check_table(const st_file *s, const fce_param_table *t, const float *host, uint64_t *total) {
    for (int i = 0; i < t->n; i++) {
        const fce_param_spec *p = &t->specs[i];
        char key[200], want_shape[64];
        snprintf(key, sizeof key, "\"%s\": {\"dtype\": \"F32\", \"shape\": [", p->name);
        const char *at = strstr(s->header, key);
        ASSERT_TRUE(at != NULL);
        ASSERT_TRUE(strstr(at + 1, key) == NULL); /* once */
        if (p->rows == 1) snprintf(want_shape, sizeof want_shape, "%d]", p->cols);
        else snprintf(want_shape, sizeof want_shape, "%d, %d]", p->rows, p->cols);
        at += strlen(key);
        ASSERT_TRUE(strncmp(at, want_shape, strlen(want_shape)) == 0);
        unsigned long long b = 0, e = 0;
        const char *off = strstr(at, "\"data_offsets\": [");
        ASSERT_TRUE(off && sscanf(off, "\"data_offsets\": [%llu, %llu]", &b, &e) == 2);
        ASSERT_EQ_INT((long long)(e - b), (long long)(4 * p->numel));
        ASSERT_TRUE(8 + s->hlen + e <= (uint64_t)s->len);
        ASSERT_TRUE(memcmp(s->bytes + 8 + s->hlen + b, host + p->offset, 4 * p->numel) == 0);
        *total += e - b;
    }
    return 0;
}

static float *params_of(fce_ctx *ctx, fce_param_arena *a) {
    float *h = malloc(a->n_total * sizeof(float));
    if (h) ctx->ops->download(ctx, h, a->params, a->n_total * sizeof(float));
    return h;
}

/* Random parameters (not the init values, so that a mix-up of tensors shows). */
static void scramble(fce_ctx *ctx, fce_param_arena *a, uint64_t seed) {
    float *h = params_of(ctx, a);
    for (size_t i = 0; i < a->n_trainable; i++) h[i] = fce_philox_normal(seed, i);
    ctx->ops->upload(ctx, a->params, h, a->n_total * sizeof(float));
    free(h);
}

TEST(export_2d) {
    fce_test_models m;
    ASSERT_TRUE(fce_test_models_init(&m));
    fce_ctx *ctx = &m.ctx;
    fce_glow *g = m.glow;
    fce_ebm *e = m.ebm;
    scramble(ctx, fce_glow_arena(g), 11);
    scramble(ctx, fce_ebm_arena(e), 12);
    fce_train_state s;
    memset(&s, 0, sizeof s);
    s.step = 42;
    snprintf(s.dataset, sizeof s.dataset, "gmm8");
    const char *ck = fce_test_path("run2d.fce");
    ASSERT_OK(fce_checkpoint_save(ck, g, e, &s));
    fce_export_config c;
    fce_export_config_defaults(&c);
    snprintf(c.checkpoint, sizeof c.checkpoint, "%s", ck);
    snprintf(c.out, sizeof c.out, "%s", fce_test_path("run2d.safetensors"));
    ASSERT_OK(fce_export_run(&c));
    st_file sf;
    ASSERT_TRUE(st_read(c.out, &sf));
    ASSERT_TRUE(strstr(sf.header, "\"__metadata__\": {\"format\": \"fce-gpu\", \"kind\": \"2d\"") != NULL);
    ASSERT_TRUE(strstr(sf.header, "\"step\": \"42\"") != NULL);
    float *hg = params_of(ctx, fce_glow_arena(g)), *he = params_of(ctx, fce_ebm_arena(e));
    uint64_t total = 0;
    ASSERT_TRUE(check_table(&sf, fce_glow_params(g), hg, &total) == 0);
    ASSERT_TRUE(check_table(&sf, fce_ebm_params(e), he, &total) == 0);
    ASSERT_EQ_INT((long long)(8 + sf.hlen + total), (long long)sf.len); /* offsets tile the data */
    free(hg), free(he), free(sf.bytes), free(sf.header);
    fce_test_models_free(&m);
    return 0;
}

TEST(export_image_run) {
    fce_test_models m;
    ASSERT_TRUE(fce_test_models_init(&m));
    fce_ctx *ctx = &m.ctx;
    fce_iglow *g = m.iglow;
    fce_ebm_image *e = m.ebm_image;
    scramble(ctx, fce_iglow_arena(g), 21);
    scramble(ctx, fce_ebm_image_arena(e), 22);
    fce_iglow_ckpt_state s;
    memset(&s, 0, sizeof s);
    s.n_bits = 8, s.batch = 4;
    snprintf(s.dataset, sizeof s.dataset, "cifar10");
    char flow_path[600], ebm_path[600];
    snprintf(flow_path, sizeof flow_path, "%s", fce_test_path("checkpoint.fce"));
    snprintf(ebm_path, sizeof ebm_path, "%s", fce_test_path("ebm.fce"));
    ASSERT_OK(fce_iglow_ckpt_save(flow_path, g, &s));
    fce_image_fce_state es;
    memset(&es, 0, sizeof es);
    es.n_bits = 8, es.batch = 4, es.width_scale = 16;
    ASSERT_OK(fce_ebm_image_file_write_tmp(ebm_path, ctx, e, &es));
    ASSERT_OK(fce_ckpt_commit(ebm_path));
    fce_export_config c;
    fce_export_config_defaults(&c);
    snprintf(c.checkpoint, sizeof c.checkpoint, "%s", flow_path);
    snprintf(c.out, sizeof c.out, "%s", fce_test_path("img.safetensors"));
    ASSERT_OK(fce_export_run(&c)); /* takes ebm.fce from beside checkpoint.fce */
    st_file sf;
    ASSERT_TRUE(st_read(c.out, &sf));
    ASSERT_TRUE(strstr(sf.header, "\"kind\": \"image\"") != NULL);
    float *hg = params_of(ctx, fce_iglow_arena(g)), *he = params_of(ctx, fce_ebm_image_arena(e));
    uint64_t total = 0;
    ASSERT_TRUE(check_table(&sf, fce_iglow_params(g), hg, &total) == 0);
    ASSERT_TRUE(check_table(&sf, fce_ebm_image_params(e), he, &total) == 0);
    ASSERT_EQ_INT((long long)(8 + sf.hlen + total), (long long)sf.len);
    free(hg), free(he), free(sf.bytes), free(sf.header);

    snprintf(c.checkpoint, sizeof c.checkpoint, "%s", c.out); /* not a checkpoint */
    snprintf(c.out, sizeof c.out, "%s", fce_test_path("x.safetensors"));
    ASSERT_EQ_INT(fce_export_run(&c), FCE_STATUS_ERR_FORMAT);
    c.out[0] = 0;
    ASSERT_EQ_INT(fce_export_run(&c), FCE_STATUS_ERR_CONFIG);
    fce_test_models_free(&m);
    return 0;
}

FCE_TEST_MAIN_BEGIN
fce_test_tmpdir("/tmp/fce_export_XXXXXX");
RUN_TEST(export_2d);
RUN_TEST(export_image_run);
fce_test_rm_tree(fce_test_path(""));
FCE_TEST_MAIN_END

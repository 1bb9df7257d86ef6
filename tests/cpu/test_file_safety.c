/* test_file_safety.c: every checkpoint kind, and the picture reader, refuse damaged or hostile files with
 * FCE_STATUS_ERR_FORMAT (exit 1 in the CLI) instead of crashing, allocating from a header field
 * or loading garbage; each case is one the fuzzing of issue 11 reproduced on the readers before
 * they were hardened. Hostile headers get a VALID CRC trailer (recomputed here), so the range
 * checks behind the integrity check are what is tested; damaged files keep their old trailer.
 *   2D checkpoint: a permutation entry out of range; ebm_n_total larger than the model's (was a
 *     heap overflow on --resume) and huge (was a multi-GB allocation on --init-flow); truncation
 *     to half; one flipped byte; a valid file still loads.
 *   image flow file: H, C, L, width out of range; a permutation entry out of range; truncation.
 *   image EBM file: n_bits, the base's kind and CRC field out of range; truncation; a valid file
 *     still loads, and so does a version 2 file (no base fields), as an EBM without a base.
 *   pictures: a 66-byte PNG (valid chunks and CRCs) claiming 65536×65536 pixels is refused before
 *     its 12.9 GB buffer is allocated; a PPM whose header claims more pixels than the file holds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fce/backend.h"
#include "fce/checkpoint.h"
#include "fce/ebm.h"
#include "fce/ebm_image.h"
#include "fce/glow.h"
#include "fce/iglow.h"
#include "fce/image_io.h"
#include "fce_test.h"
#include "formats/ckpt_io.h"
#include "formats/ebm_image_file.h"
#include "formats/flow_image_file.h"
#include "test_util.h"

/* Byte offsets of header fields (8-byte fields after magic, version, endian). */
#define H2D_EBM_N_TOTAL (8 * 12)
#define HIMG_H (8 * 3)
#define HIMG_C (8 * 5)
#define HIMG_L (8 * 6)
#define HIMG_WIDTH (8 * 8)
#define HEBM_STATE_N_BITS (8 * 7 + 8 * 6) /* magic, version, H, W, C, n_total, hash; 6th state field */
#define HEBM_BASE_KIND (8 * 7 + 112)      /* after the 112 bytes of the version 2 state */
#define HEBM_BASE_CRC (HEBM_BASE_KIND + 8)

static unsigned char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*len);
    if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
    fclose(f);
    return b;
}

static int spit(const char *path, const unsigned char *b, long len) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(b, 1, (size_t)len, f) == (size_t)len;
    return (fclose(f) == 0) && ok;
}

/* Copies src to dst with the 8-byte field at off set to v (or the float at off to fv when
 * is_float), then recomputes the trailer's CRC so that the file passes the integrity check. */
static int forge(const char *src, const char *dst, long off, int64_t v, int is_float, float fv) {
    long len = 0;
    unsigned char *b = slurp(src, &len);
    if (!b || len < FCE_CKPT_TRAILER_BYTES + off + 8) return 0;
    if (is_float) memcpy(b + off, &fv, 4);
    else memcpy(b + off, &v, 8);
    uint64_t content = (uint64_t)(len - FCE_CKPT_TRAILER_BYTES);
    uint64_t crc = crc32(crc32(0L, Z_NULL, 0), b, (uInt)content);
    memcpy(b + content + 16, &crc, 8);
    int ok = spit(dst, b, len);
    free(b);
    return ok;
}

/* dst = src cut to half its length, or with one byte flipped at `flip` (flip >= 0). */
static int damage(const char *src, const char *dst, long flip) {
    long len = 0;
    unsigned char *b = slurp(src, &len);
    if (!b) return 0;
    if (flip >= 0) b[flip] ^= 0x40;
    else len /= 2;
    int ok = spit(dst, b, len);
    free(b);
    return ok;
}

/* Byte offset in the file of the first permutation entry of table t (its params blob starts right
 * after the header). */
static long perm_offset(const fce_param_table *t, size_t header_bytes) {
    for (int i = 0; i < t->n; i++) {
        size_t len = strlen(t->specs[i].name);
        if (len > 5 && !strcmp(t->specs[i].name + len - 5, ".perm"))
            return (long)(header_bytes + 4 * t->specs[i].offset);
    }
    return -1;
}

TEST(checkpoint_2d) {
    fce_test_models m;
    ASSERT_TRUE(fce_test_models_init(&m));
    fce_glow *g = m.glow;
    fce_ebm *e = m.ebm;
    fce_train_state s;
    memset(&s, 0, sizeof s);
    snprintf(s.dataset, sizeof s.dataset, "gmm8");
    const char *good = fce_test_path("good.fce"), *bad = fce_test_path("bad.fce");
    ASSERT_OK(fce_checkpoint_save(good, g, e, &s));
    ASSERT_OK(fce_checkpoint_load(good, g, e, &s)); /* the valid file loads */
    ASSERT_OK(fce_checkpoint_load_flow(good, g));

    long len = 0;
    free(slurp(good, &len));
    long header = len - FCE_CKPT_TRAILER_BYTES -
                  4 * 3 * (long)(fce_glow_arena(g)->n_total + fce_ebm_arena(e)->n_total);
    long perm = perm_offset(fce_glow_params(g), (size_t)header);
    ASSERT_TRUE(header > 0 && perm > 0);
    ASSERT_TRUE(forge(good, bad, perm, 0, 1, 99.0f)); /* index 99 in a 2×2 map */
    ASSERT_EQ_INT(fce_checkpoint_load(bad, g, e, &s), FCE_STATUS_ERR_FORMAT);
    ASSERT_EQ_INT(fce_checkpoint_load_flow(bad, g), FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(forge(good, bad, perm, 0, 1, 0.5f)); /* not an integer */
    ASSERT_EQ_INT(fce_checkpoint_load_flow(bad, g), FCE_STATUS_ERR_FORMAT);

    int64_t n_ebm = (int64_t)fce_ebm_arena(e)->n_total;
    ASSERT_TRUE(forge(good, bad, H2D_EBM_N_TOTAL, n_ebm + 1000, 0, 0));
    ASSERT_EQ_INT(fce_checkpoint_load(bad, g, e, &s), FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(forge(good, bad, H2D_EBM_N_TOTAL, (int64_t)1 << 60, 0, 0));
    ASSERT_EQ_INT(fce_checkpoint_load_flow(bad, g), FCE_STATUS_ERR_FORMAT);

    ASSERT_TRUE(damage(good, bad, -1));
    ASSERT_EQ_INT(fce_checkpoint_load(bad, g, e, &s), FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(damage(good, bad, header + 5));
    ASSERT_EQ_INT(fce_checkpoint_load(bad, g, e, &s), FCE_STATUS_ERR_FORMAT);
    ASSERT_EQ_INT(fce_checkpoint_load_flow(bad, g), FCE_STATUS_ERR_FORMAT);
    fce_test_models_free(&m);
    return 0;
}

TEST(flow_image_file) {
    fce_test_models m;
    ASSERT_TRUE(fce_test_models_init(&m));
    fce_iglow *g = m.iglow;
    fce_iglow_ckpt_state s;
    memset(&s, 0, sizeof s);
    s.n_bits = 8, s.batch = 4;
    snprintf(s.dataset, sizeof s.dataset, "cifar10");
    const char *good = fce_test_path("img.fce"), *bad = fce_test_path("img_bad.fce");
    ASSERT_OK(fce_iglow_ckpt_save(good, g, &s));
    fce_iglow_config peek;
    ASSERT_OK(fce_iglow_ckpt_peek(good, &peek, &s));
    ASSERT_OK(fce_iglow_ckpt_load(good, g, 1, &s));

    const int64_t hostile[][2] = {{HIMG_H, (int64_t)1 << 40}, {HIMG_H, 7},  {HIMG_C, 100},
                                  {HIMG_C, -3},              {HIMG_L, 0},  {HIMG_L, 1000},
                                  {HIMG_WIDTH, 1 << 30},     {HIMG_WIDTH, 4000}};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        ASSERT_TRUE(forge(good, bad, (long)hostile[i][0], hostile[i][1], 0, 0));
        ASSERT_EQ_INT(fce_iglow_ckpt_peek(bad, &peek, &s), FCE_STATUS_ERR_FORMAT);
        ASSERT_EQ_INT(fce_iglow_ckpt_load(bad, g, 1, &s), FCE_STATUS_ERR_FORMAT);
    }
    long perm = perm_offset(fce_iglow_params(g), fce_iglow_ckpt_header_size());
    ASSERT_TRUE(perm > 0);
    ASSERT_TRUE(forge(good, bad, perm, 0, 1, -1.0f));
    ASSERT_EQ_INT(fce_iglow_ckpt_load(bad, g, 0, &s), FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(damage(good, bad, -1));
    ASSERT_EQ_INT(fce_iglow_ckpt_peek(bad, &peek, &s), FCE_STATUS_ERR_FORMAT);
    fce_test_models_free(&m);
    return 0;
}

/* dst = the version 3 ebm.fce src as version 2 wrote it: version 2, without the base fields, and
 * the trailer recomputed. */
static int as_version_2(const char *src, const char *dst) {
    long len = 0;
    unsigned char *b = slurp(src, &len);
    if (!b || len < HEBM_BASE_CRC + 8 + FCE_CKPT_TRAILER_BYTES) return 0;
    const uint64_t v2 = 2;
    memcpy(b + 8, &v2, 8);
    memmove(b + HEBM_BASE_KIND, b + HEBM_BASE_CRC + 8, (size_t)(len - HEBM_BASE_CRC - 8));
    len -= 16;
    uint64_t content = (uint64_t)(len - FCE_CKPT_TRAILER_BYTES);
    uint64_t crc = crc32(crc32(0L, Z_NULL, 0), b, (uInt)content);
    memcpy(b + content + 8, &content, 8);
    memcpy(b + content + 16, &crc, 8);
    int ok = spit(dst, b, len);
    free(b);
    return ok;
}

TEST(ebm_image_file) {
    fce_test_models m;
    ASSERT_TRUE(fce_test_models_init(&m));
    fce_ctx *ctx = &m.ctx;
    fce_ebm_image *e = m.ebm_image, *loaded = NULL;
    fce_image_fce_state s;
    memset(&s, 0, sizeof s);
    s.n_bits = 5, s.batch = 4, s.width_scale = 16;
    snprintf(s.dataset, sizeof s.dataset, "cifar10");
    const char *good = fce_test_path("ebm.fce"), *bad = fce_test_path("ebm_bad.fce");
    ASSERT_OK(fce_ebm_image_file_write_tmp(good, ctx, e, &s));
    ASSERT_OK(fce_ckpt_commit(good));
    int n_bits = 0;
    ASSERT_OK(fce_ebm_image_file_n_bits(good, &n_bits));
    ASSERT_EQ_INT(n_bits, 5);
    ASSERT_OK(fce_ebm_image_file_read(good, ctx, e, &s));
    ASSERT_OK(fce_ebm_image_load_file(good, ctx, &loaded));
    fce_ebm_image_free(loaded);
    ASSERT_TRUE(forge(good, bad, HEBM_STATE_N_BITS, 0, 0, 0));
    ASSERT_EQ_INT(fce_ebm_image_file_n_bits(bad, &n_bits), FCE_STATUS_ERR_FORMAT);
    ASSERT_EQ_INT(fce_ebm_image_load_file(bad, ctx, &loaded), FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(loaded == NULL);
    ASSERT_TRUE(damage(good, bad, -1));
    ASSERT_EQ_INT(fce_ebm_image_file_read(bad, ctx, e, &s), FCE_STATUS_ERR_FORMAT);
    /* the base fields: kind 0 or 1, a CRC-32 (32 bits), 0 without a base */
    const int64_t hostile[][2] = {{HEBM_BASE_KIND, 2}, {HEBM_BASE_KIND, -1}, {HEBM_BASE_CRC, 5},
                                  {HEBM_BASE_CRC, (int64_t)1 << 32}};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        ASSERT_TRUE(forge(good, bad, (long)hostile[i][0], hostile[i][1], 0, 0));
        ASSERT_EQ_INT(fce_ebm_image_file_read(bad, ctx, e, &s), FCE_STATUS_ERR_FORMAT);
    }
    /* a version 2 file reads as an EBM without a base, with the same parameters */
    fce_param_arena *a = fce_ebm_image_arena(e);
    float *want = fce_test_alloc(a->n_total);
    memcpy(want, a->params, a->n_total * sizeof(float)); /* CPU backend: host memory */
    ASSERT_TRUE(as_version_2(good, bad));
    s.base_kind = 7;
    ASSERT_OK(fce_ebm_image_file_read(bad, ctx, e, &s));
    ASSERT_TRUE(s.base_kind == FCE_EBM_BASE_NONE && s.base_crc == 0 && s.n_bits == 5);
    ASSERT_OK(fce_ebm_image_load_file(bad, ctx, &loaded));
    ASSERT_TRUE(memcmp(fce_ebm_image_arena(loaded)->params, want, a->n_total * sizeof(float)) == 0);
    fce_ebm_image_free(loaded);
    free(want);
    fce_test_models_free(&m);
    return 0;
}

/* Big-endian 32-bit, and a PNG chunk with its CRC. */
static size_t put_chunk(unsigned char *p, const char *type, const unsigned char *data, uint32_t n) {
    unsigned char *q = p;
    for (int i = 3; i >= 0; i--) *q++ = (unsigned char)(n >> (8 * i));
    memcpy(q, type, 4);
    if (n) memcpy(q + 4, data, n);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), q, n + 4);
    q += 4 + n;
    for (int i = 3; i >= 0; i--) *q++ = (unsigned char)(crc >> (8 * i));
    return (size_t)(q - p);
}

TEST(hostile_pictures) {
    unsigned char png[128], ihdr[13] = {0, 1, 0, 0, 0, 1, 0, 0, 8, 2, 0, 0, 0}; /* 65536², RGB8 */
    unsigned char idat[16];
    uLongf zlen = sizeof idat;
    const unsigned char row = 0;
    ASSERT_TRUE(compress(idat, &zlen, &row, 1) == Z_OK);
    size_t n = 8;
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    n += put_chunk(png + n, "IHDR", ihdr, 13);
    n += put_chunk(png + n, "IDAT", idat, (uint32_t)zlen);
    n += put_chunk(png + n, "IEND", NULL, 0);
    const char *p = fce_test_path("huge.png");
    ASSERT_TRUE(spit(p, png, (long)n));
    unsigned char *rgb = NULL;
    int w = 0, h = 0;
#ifdef FCE_HAVE_PNG /* without libpng every PNG is refused as unsupported */
    ASSERT_EQ_INT(fce_image_read_rgb(p, &rgb, &w, &h), FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(rgb == NULL);
#endif
    const char ppm[] = "P6\n4000 4000\n255\n\x01\x02\x03";
    p = fce_test_path("short.ppm");
    ASSERT_TRUE(spit(p, (const unsigned char *)ppm, (long)sizeof ppm - 1));
    ASSERT_EQ_INT(fce_image_read_rgb(p, &rgb, &w, &h), FCE_STATUS_ERR_FORMAT);
    return 0;
}

FCE_TEST_MAIN_BEGIN
fce_test_tmpdir("/tmp/fce_file_safety_XXXXXX");
RUN_TEST(checkpoint_2d);
RUN_TEST(flow_image_file);
RUN_TEST(ebm_image_file);
RUN_TEST(hostile_pictures);
fce_test_rm_tree(fce_test_path(""));
FCE_TEST_MAIN_END

/* gen_ckpt.c: seed and regression inputs of the checkpoint harnesses (make_corpus.c), written by
 * the project's own writers from the harnesses' models (fuzz_models.h), then edited for issue 11's
 * crashing inputs. The header offsets below mirror the private header structs of
 * src/host/formats/{checkpoint2d,flow_image_file,ebm_image_file}.c; gen_set_i64 checks each field
 * holds the value the writer put there, so a layout change stops the generator loudly. */
#include "gen_corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/checkpoint.h"
#include "formats/ckpt_io.h"
#include "formats/ebm_image_file.h"
#include "formats/flow_image_file.h"
#include "fuzz_common.h"
#include "fuzz_models.h"
#include "gen_bytes.h"

/* checkpoint2d.c, ckpt_header: magic, version, endian, flow_dim, K, width, n_total, ... */
enum { CK2_FLOW_N_TOTAL = 48, CK2_EBM_N_TOTAL = 96 };
/* flow_image_file.c, ickpt_header: magic, version, endian, H, W, C, L, K, width, affine, n_total */
enum { IMG_H = 24, IMG_W = 32, IMG_C = 40, IMG_L = 48, IMG_K = 56, IMG_WIDTH = 64, IMG_N_TOTAL = 80 };
/* ebm_image_file.c, ebm_header: magic, version, H, W, C, n_total, hash, state (width_scale 9th) */
enum { EBM_H = 16, EBM_W = 24, EBM_C = 32, EBM_N_TOTAL = 40, EBM_WIDTH_SCALE = 56 + 8 * 8 };
/* version 3: the base's kind and CRC-32 after the 112 bytes of version 2's state */
enum { EBM_BASE_KIND = 56 + 112, EBM_BASE_CRC = EBM_BASE_KIND + 8 };

/* Offset in floats of the first flow step's permutation ("…invconv.perm") in the arena. */
static size_t perm_offset(const fce_param_table *t) {
    for (int i = 0; i < t->n; i++) {
        size_t n = strlen(t->specs[i].name), m = strlen("invconv.perm");
        if (n >= m && strcmp(t->specs[i].name + n - m, "invconv.perm") == 0) return t->specs[i].offset;
    }
    fprintf(stderr, "make_corpus: no invconv.perm parameter in the flow\n");
    exit(1);
}

static void set_f32(gen_bytes *b, size_t off, float v) {
    if (off + 4 > b->n) abort();
    memcpy(b->p + off, &v, 4);
}

/* The same file with one value written at byte off (a permutation entry, say), to dir/name. */
static void write_with_f32(const gen_bytes *b, size_t off, float v, const char *dir,
                           const char *name) {
    gen_bytes c = {0};
    gen_put(&c, b->p, b->n);
    set_f32(&c, off, v);
    fuzz_fix_trailer(c.p, c.n); /* a valid CRC: the range check, not the integrity check, must refuse it */
    gen_write(dir, name, c.p, c.n);
    gen_free(&c);
}

static void write_with_i64(const gen_bytes *b, size_t off, int64_t was, int64_t v,
                           const char *field, const char *dir, const char *name) {
    gen_bytes c = {0};
    gen_put(&c, b->p, b->n);
    gen_set_i64(&c, off, was, v, field);
    fuzz_fix_trailer(c.p, c.n); /* a valid CRC: the range check, not the integrity check, must refuse it */
    gen_write(dir, name, c.p, c.n);
    gen_free(&c);
}

/* Cut to half its size, and with the top byte of the first parameters flipped (header intact):
 * both must be refused by every full load (the integrity check of issue 11). */
static void write_integrity_cases(const gen_bytes *b, size_t header, const char *reject,
                                  const char *ext) {
    char name[64];
    snprintf(name, sizeof name, "truncated_half.%s", ext);
    gen_write(reject, name, b->p, b->n / 2);
    gen_bytes c = {0};
    gen_put(&c, b->p, b->n);
    for (size_t i = 0; i < 16; i++) c.p[header + 4 * i + 3] ^= 0x7F;
    snprintf(name, sizeof name, "flipped_bytes.%s", ext);
    gen_write(reject, name, c.p, c.n);
    gen_free(&c);
}

/* The folders of one harness's inputs under root. */
typedef struct seed_dirs {
    char corpus[GEN_PATH_MAX], regress[GEN_PATH_MAX], reject[GEN_PATH_MAX];
} seed_dirs;

static seed_dirs dirs_of(const char *root, const char *harness) {
    seed_dirs d;
    char sub[128];
    snprintf(sub, sizeof sub, "corpus/%s", harness);
    gen_join(d.corpus, root, sub);
    snprintf(sub, sizeof sub, "regress/%s", harness);
    gen_join(d.regress, root, sub);
    snprintf(sub, sizeof sub, "regress/%s/reject", harness);
    gen_join(d.reject, root, sub);
    return d;
}

/* Seeds from one valid file: itself (as `valid`), its header alone, and its header with the
 * magic's last byte changed. */
static void write_seeds(const seed_dirs *d, const gen_bytes *b, size_t header, const char *valid,
                        const char *ext) {
    char name[64];
    gen_write(d->corpus, valid, b->p, b->n);
    snprintf(name, sizeof name, "bad_header_only.%s", ext);
    gen_write(d->corpus, name, b->p, header);
    gen_bytes h = {0};
    gen_put(&h, b->p, header);
    h.p[7] ^= 0x55;
    snprintf(name, sizeof name, "bad_magic.%s", ext);
    gen_write(d->corpus, name, h.p, h.n);
    gen_free(&h);
}

void gen_ckpt2d(const char *root, const char *scratch) {
    fce_glow *g;
    fce_ebm *e;
    fuzz_check_setup(fuzz_models_2d(fuzz_cpu_ctx(), &g, &e), "the 2D models");
    fce_train_state s;
    memset(&s, 0, sizeof s);
    s.step = 7, s.seed = 3, s.flow_turn = 1;
    snprintf(s.dataset, sizeof s.dataset, "8gaussians");
    char tmp[GEN_PATH_MAX];
    gen_join(tmp, scratch, "run.ckpt");
    fuzz_check_setup(fce_checkpoint_save(tmp, g, e, &s), "fce_checkpoint_save");
    gen_bytes b = gen_read_file(tmp);
    const size_t nf = fce_glow_arena(g)->n_total, ne = fce_ebm_arena(e)->n_total;
    const size_t header = b.n - FCE_CKPT_TRAILER_BYTES - 12 * (nf + ne);
    const seed_dirs d = dirs_of(root, "ckpt2d");
    const char *regress = d.regress, *reject = d.reject;
    write_seeds(&d, &b, header, "valid.ckpt", "ckpt");
    const size_t perm = header + 4 * perm_offset(fce_glow_params(g));
    write_with_f32(&b, perm, 1e6f, reject, "perm_out_of_range.ckpt");
    write_with_f32(&b, perm, -1.0f, reject, "perm_negative.ckpt");
    /* ebm_n_total 8x the model's, with blobs that long: --resume reads them into the arena */
    gen_bytes big = {0};
    gen_put(&big, b.p, header + 12 * nf);
    gen_set_i64(&big, CK2_EBM_N_TOTAL, (int64_t)ne, (int64_t)(8 * ne), "ebm_n_total");
    for (size_t i = 0; i < 3 * 8 * ne; i++) gen_put(&big, b.p + header + 12 * nf + 4 * (i % ne), 4);
    gen_put(&big, b.p + b.n - FCE_CKPT_TRAILER_BYTES, FCE_CKPT_TRAILER_BYTES); /* then fixed */
    fuzz_fix_trailer(big.p, big.n);
    gen_write(regress, "ebm_n_total_8x.ckpt", big.p, big.n);
    gen_free(&big);
    write_with_i64(&b, CK2_EBM_N_TOTAL, (int64_t)ne, (int64_t)1 << 30, "ebm_n_total", regress,
                   "ebm_n_total_huge.ckpt");
    write_with_i64(&b, CK2_EBM_N_TOTAL, (int64_t)ne, (int64_t)1 << 62, "ebm_n_total", regress,
                   "ebm_n_total_wraps_size.ckpt");
    write_with_i64(&b, CK2_EBM_N_TOTAL, (int64_t)ne, -1, "ebm_n_total", regress,
                   "ebm_n_total_negative.ckpt");
    write_with_i64(&b, CK2_FLOW_N_TOTAL, (int64_t)nf, -1, "flow_n_total", reject,
                   "flow_n_total_negative.ckpt");
    write_integrity_cases(&b, header, reject, "ckpt");
    gen_free(&b);
    fce_glow_free(g);
    fce_ebm_free(e);
}

static gen_bytes iglow_file(const char *scratch, int affine, size_t *header, size_t *perm) {
    fce_iglow *g;
    fce_iglow_config c = fuzz_iglow_config(affine);
    fuzz_check_setup(fce_iglow_init(&g, fuzz_cpu_ctx(), &c, 1), "the image flow");
    fce_iglow_ckpt_state s = {5, 1, 5, 4, 0.0, "cifar10"};
    char tmp[GEN_PATH_MAX];
    gen_join(tmp, scratch, "checkpoint.fce");
    fuzz_check_setup(fce_iglow_ckpt_save(tmp, g, &s), "fce_iglow_ckpt_save");
    gen_bytes b = gen_read_file(tmp);
    *header = fce_iglow_ckpt_header_size();
    *perm = *header + 4 * perm_offset(fce_iglow_params(g));
    fce_iglow_free(g);
    return b;
}

void gen_flow_image(const char *root, const char *scratch) {
    size_t header, perm;
    const seed_dirs d = dirs_of(root, "flow_image");
    const char *regress = d.regress, *reject = d.reject;
    gen_bytes affine = iglow_file(scratch, 1, &header, &perm);
    gen_write(d.corpus, "affine.fce", affine.p, affine.n);
    gen_free(&affine);
    gen_bytes b = iglow_file(scratch, 0, &header, &perm);
    write_seeds(&d, &b, header, "additive.fce", "fce");

    write_with_f32(&b, perm, 1e6f, reject, "perm_out_of_range.fce");
    write_with_f32(&b, perm, -3.0f, reject, "perm_negative.fce");
    const fce_iglow_config c = fuzz_iglow_config(0);
    const int64_t big = (int64_t)1 << 32;
    write_with_i64(&b, IMG_H, c.H, big + c.H, "H", reject, "H_2pow32_plus_4.fce");
    write_with_i64(&b, IMG_W, c.W, -big + c.W, "W", reject, "W_negative_truncates_to_4.fce");
    write_with_i64(&b, IMG_C, c.C, 5, "C", reject, "C_5.fce");
    write_with_i64(&b, IMG_C, c.C, (int64_t)1 << 31, "C", reject, "C_2pow31.fce");
    write_with_i64(&b, IMG_C, c.C, -big + 3, "C", reject, "C_negative_truncates_to_3.fce");
    write_with_i64(&b, IMG_L, c.L, 3, "L", reject, "L_3_H_4_not_divisible.fce");
    write_with_i64(&b, IMG_K, c.K, INT32_MAX, "K", regress, "K_int_max.fce");
    write_with_i64(&b, IMG_WIDTH, c.width, INT32_MAX, "width", regress, "width_int_max.fce");
    write_with_i64(&b, IMG_WIDTH, c.width, -8, "width", reject, "width_negative.fce");
    gen_bytes hw = {0};
    gen_put(&hw, b.p, b.n);
    gen_set_i64(&hw, IMG_H, c.H, 65536, "H");
    gen_set_i64(&hw, IMG_W, c.W, 65536, "W");
    fuzz_fix_trailer(hw.p, hw.n);
    gen_write(regress, "HW_65536.fce", hw.p, hw.n);
    gen_free(&hw);
    write_with_i64(&b, IMG_N_TOTAL, gen_get_i64(&b, IMG_N_TOTAL), (int64_t)1 << 33, "n_total",
                   reject, "n_total_2pow33.fce");
    write_integrity_cases(&b, header, reject, "fce");
    gen_free(&b);
}

void gen_ebm_image(const char *root, const char *scratch) {
    fce_ctx *ctx = fuzz_cpu_ctx();
    fce_ebm_image *e;
    fce_ebm_image_config c = fuzz_ebm_image_config();
    fuzz_check_setup(fce_ebm_image_init(&e, ctx, &c, 1), "the image EBM");
    fce_image_fce_state s;
    memset(&s, 0, sizeof s);
    s.step = 4, s.seed = 1, s.n_bits = 5, s.batch = 4, s.width_scale = c.width_scale;
    snprintf(s.dataset, sizeof s.dataset, "cifar10");
    char tmp[GEN_PATH_MAX];
    gen_join(tmp, scratch, "ebm.fce");
    fuzz_check_setup(fce_ebm_image_file_write_tmp(tmp, ctx, e, &s), "fce_ebm_image_file_write_tmp");
    fuzz_check_setup(fce_ckpt_commit(tmp), "fce_ckpt_commit");
    gen_bytes b = gen_read_file(tmp);
    const int64_t n = (int64_t)fce_ebm_image_arena(e)->n_total;
    const size_t header = b.n - FCE_CKPT_TRAILER_BYTES - 12 * (size_t)n;
    fce_ebm_image_free(e);
    const seed_dirs d = dirs_of(root, "ebm_image");
    const char *regress = d.regress, *reject = d.reject;
    write_seeds(&d, &b, header, "ebm.fce", "fce");
    const int64_t big = (int64_t)1 << 32;
    write_with_i64(&b, EBM_WIDTH_SCALE, c.width_scale, big + c.width_scale, "width_scale", reject,
                   "width_scale_2pow32_plus_64.fce");
    write_with_i64(&b, EBM_WIDTH_SCALE, c.width_scale, 3, "width_scale", reject, "width_scale_3.fce");
    write_with_i64(&b, EBM_C, c.C, big + c.C, "C", reject, "C_2pow32_plus_3.fce");
    write_with_i64(&b, EBM_N_TOTAL, n, -1, "n_total", reject, "n_total_negative.fce");
    write_with_i64(&b, EBM_BASE_KIND, 0, FCE_EBM_BASE_FLOW, "base_kind", d.corpus, "ebm_flow_base.fce");
    write_with_i64(&b, EBM_BASE_KIND, 0, 2, "base_kind", reject, "base_kind_2.fce");
    write_with_i64(&b, EBM_BASE_CRC, 0, big, "base_crc", reject, "base_crc_2pow32.fce");
    gen_bytes huge = {0}; /* the largest shape the reader accepts today, at the paper's widths */
    gen_put(&huge, b.p, b.n);
    gen_set_i64(&huge, EBM_H, c.H, 4096, "H");
    gen_set_i64(&huge, EBM_W, c.W, 4096, "W");
    gen_set_i64(&huge, EBM_C, c.C, 64, "C");
    gen_set_i64(&huge, EBM_WIDTH_SCALE, c.width_scale, 0, "width_scale");
    fuzz_fix_trailer(huge.p, huge.n);
    gen_write(regress, "shape_4096x4096x64_paper_widths.fce", huge.p, huge.n);
    gen_free(&huge);
    write_integrity_cases(&b, header, reject, "fce");
    gen_free(&b);
}

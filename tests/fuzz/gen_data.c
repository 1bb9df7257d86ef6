/* gen_data.c: seed inputs of the data readers' harnesses (make_corpus.c): CIFAR-10 batch files,
 * SVHN MAT-files (a small level-5 writer: the project only reads them), PNG files of several
 * colour types through libpng's simplified API and binary PPM files; a few valid, a few malformed,
 * and the regression inputs of issue 11 (a 69-byte PNG and a PPM header claiming 65536×65536). */
#include "gen_corpus.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifdef FCE_HAVE_PNG
#include <png.h>
#endif

#include "gen_bytes.h"

/* ---- CIFAR-10: records of 1 label byte + 3072 planar pixel bytes ---- */

static void cifar_records(gen_bytes *b, int n, int first_label) {
    for (int r = 0; r < n; r++) {
        unsigned char rec[3073];
        rec[0] = (unsigned char)(first_label + r);
        for (int i = 0; i < 3072; i++) rec[1 + i] = (unsigned char)(i * 7 + r * 31);
        gen_put(b, rec, sizeof rec);
    }
}

void gen_cifar10(const char *root) {
    char dir[GEN_PATH_MAX];
    gen_join(dir, root, "corpus/cifar10");
    gen_bytes b = {0};
    cifar_records(&b, 1, 3);
    gen_write(dir, "one_record.bin", b.p, b.n);
    cifar_records(&b, 1, 9);
    gen_write(dir, "two_records.bin", b.p, b.n);
    gen_write(dir, "bad_not_whole.bin", b.p, b.n - 1);
    b.p[3073] = 10; /* a label outside 0..9 */
    gen_write(dir, "bad_label.bin", b.p, b.n);
    gen_free(&b);
}

/* ---- SVHN: MATLAB level-5 MAT-files (X uint8 32×32×3×N, y N×1) ---- */

enum { MI_INT8 = 1, MI_UINT8 = 2, MI_INT32 = 5, MI_UINT32 = 6, MI_DOUBLE = 9, MI_MATRIX = 14,
       MI_COMPRESSED = 15, MX_DOUBLE = 6, MX_UINT8 = 9 };

static void mat_elem(gen_bytes *b, uint32_t type, const void *d, uint32_t n) {
    if (n <= 4) { /* the small element format: size and type share the tag */
        unsigned char x[4] = {0};
        memcpy(x, d, n);
        gen_u32(b, n << 16 | type);
        gen_put(b, x, 4);
        return;
    }
    gen_u32(b, type);
    gen_u32(b, n);
    gen_put(b, d, n);
    gen_pad8(b);
}

/* One variable (a miMATRIX, or a miCOMPRESSED element holding it) appended to file. */
static void mat_var(gen_bytes *file, uint32_t cls, const int32_t *dims, int ndims,
                    const char *name, uint32_t dtype, const void *data, uint32_t nbytes,
                    int compressed) {
    gen_bytes c = {0};
    const uint32_t flags[2] = {cls, 0};
    mat_elem(&c, MI_UINT32, flags, 8);
    mat_elem(&c, MI_INT32, dims, (uint32_t)(4 * ndims));
    mat_elem(&c, MI_INT8, name, (uint32_t)strlen(name));
    mat_elem(&c, dtype, data, nbytes);
    gen_bytes whole = {0};
    gen_u32(&whole, MI_MATRIX);
    gen_u32(&whole, (uint32_t)c.n);
    gen_put(&whole, c.p, c.n);
    if (compressed) {
        gen_bytes z = gen_deflate(&whole);
        gen_u32(file, MI_COMPRESSED);
        gen_u32(file, (uint32_t)z.n);
        gen_put(file, z.p, z.n);
        gen_free(&z);
    } else {
        gen_put(file, whole.p, whole.n);
    }
    gen_free(&c);
    gen_free(&whole);
}

static gen_bytes svhn_file(int n, int compressed, int y_uint8, uint16_t version) {
    gen_bytes f = {0};
    char hdr[128];
    memset(hdr, ' ', 116);
    const char *text = "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: make_corpus.c";
    memcpy(hdr, text, strlen(text));
    memset(hdr + 116, 0, 8);
    hdr[124] = (char)(version & 0xFF);
    hdr[125] = (char)(version >> 8);
    hdr[126] = 'I';
    hdr[127] = 'M';
    gen_put(&f, hdr, sizeof hdr);
    unsigned char *x = malloc((size_t)n * 3072);
    if (!x) abort();
    for (int i = 0; i < n * 3072; i++) x[i] = (unsigned char)(i * 13);
    const int32_t xd[4] = {32, 32, 3, n}, yd[2] = {n, 1};
    mat_var(&f, MX_UINT8, xd, 4, "X", MI_UINT8, x, (uint32_t)(n * 3072), compressed);
    free(x);
    double yv[4] = {10, 1, 7, 4};
    unsigned char y8[4] = {10, 1, 7, 4};
    if (y_uint8)
        mat_var(&f, MX_UINT8, yd, 2, "y", MI_UINT8, y8, (uint32_t)n, compressed);
    else
        mat_var(&f, MX_DOUBLE, yd, 2, "y", MI_DOUBLE, yv, (uint32_t)(8 * n), compressed);
    return f;
}

void gen_svhn(const char *root) {
    char dir[GEN_PATH_MAX];
    gen_join(dir, root, "corpus/svhn");
    gen_bytes f = svhn_file(1, 0, 0, 0x0100);
    gen_write(dir, "plain_one.mat", f.p, f.n);
    gen_write(dir, "bad_truncated.mat", f.p, f.n - 20);
    f.p[128 + 8 + 16 + 8] = 31; /* X's first dimension (after the matrix and flags tags): 31 */
    gen_write(dir, "bad_x_side.mat", f.p, f.n);
    gen_free(&f);
    f = svhn_file(2, 1, 0, 0x0100);
    gen_write(dir, "compressed_two.mat", f.p, f.n);
    gen_free(&f);
    f = svhn_file(3, 0, 1, 0x0100);
    gen_write(dir, "uint8_labels_three.mat", f.p, f.n);
    gen_free(&f);
    f = svhn_file(1, 1, 1, 0x0200); /* the version word of a v7.3 (HDF5) file */
    gen_write(dir, "bad_version.mat", f.p, f.n);
    gen_free(&f);
}

/* ---- pictures: PNG (several colour types) and binary PPM ---- */

#ifdef FCE_HAVE_PNG
static void png_file(const char *dir, const char *name, uint32_t format, int w, int h) {
    png_image im = {.opaque = NULL, .version = PNG_IMAGE_VERSION, .width = (png_uint_32)w,
                    .height = (png_uint_32)h, .format = format};
    unsigned char px[4096], cmap[4 * 256];
    for (size_t i = 0; i < sizeof px; i++) /* colormap indices stay below its 4 entries */
        px[i] = (unsigned char)((format & PNG_FORMAT_FLAG_COLORMAP) ? i * 37 % 4
                                                                     : (i * 2654435761u) >> 13);
    for (size_t i = 0; i < sizeof cmap; i++) cmap[i] = (unsigned char)(i * 11);
    if (format & PNG_FORMAT_FLAG_COLORMAP) im.colormap_entries = 4;
    if (PNG_IMAGE_SIZE(im) > sizeof px) abort();
    char path[GEN_PATH_MAX];
    gen_join(path, dir, name);
    if (!png_image_write_to_file(&im, path, 0, px, 0, cmap)) {
        fprintf(stderr, "make_corpus: libpng: %s\n", im.message);
        exit(1);
    }
}
#endif

/* The 69-byte PNG of issue 11: a valid IHDR claiming 65536×65536 RGB, a 12-byte IDAT, IEND. */
static void png_chunk(gen_bytes *b, const char *type, const unsigned char *d, uint32_t n) {
    unsigned char be[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n};
    gen_put(b, be, 4);
    size_t start = b->n;
    gen_put(b, type, 4);
    gen_put(b, d, n);
    uint32_t crc = (uint32_t)crc32(0, b->p + start, (uInt)(4 + n));
    unsigned char cb[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 8), (unsigned char)crc};
    gen_put(b, cb, 4);
}

static gen_bytes png_huge_claim(void) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char ihdr[13] = {0, 1, 0, 0, 0, 1, 0, 0, 8, 2, 0, 0, 0};
    static const unsigned char idat[12] = {0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0xa3, 0x60,
                                           0x14, 0x0c, 0x00, 0x00};
    gen_bytes b = {0};
    gen_put(&b, sig, 8);
    png_chunk(&b, "IHDR", ihdr, 13);
    png_chunk(&b, "IDAT", idat, 12);
    png_chunk(&b, "IEND", NULL, 0);
    return b;
}

static void ppm_file(const char *dir, const char *name, const char *header, size_t pixels) {
    gen_bytes b = {0};
    gen_put(&b, header, strlen(header));
    for (size_t i = 0; i < pixels; i++) {
        unsigned char v = (unsigned char)(i * 29);
        gen_put(&b, &v, 1);
    }
    gen_write(dir, name, b.p, b.n);
    gen_free(&b);
}

void gen_images(const char *root) {
    char dir[GEN_PATH_MAX];
    gen_join(dir, root, "corpus/image");
    gen_write(dir, "empty", "", 0); /* also makes the folder for libpng */
#ifdef FCE_HAVE_PNG
    png_file(dir, "rgb_3x2.png", PNG_FORMAT_RGB, 3, 2);
    png_file(dir, "rgba_2x2.png", PNG_FORMAT_RGBA, 2, 2);
    png_file(dir, "gray_4x1.png", PNG_FORMAT_GRAY, 4, 1);
    png_file(dir, "gray_alpha_2x3.png", PNG_FORMAT_GA, 2, 3);
    png_file(dir, "rgb16_2x2.png", PNG_FORMAT_LINEAR_RGB, 2, 2);
    png_file(dir, "palette_3x3.png", PNG_FORMAT_RGB_COLORMAP, 3, 3);
    png_file(dir, "rgb_16x16.png", PNG_FORMAT_RGB, 16, 16); /* raises libFuzzer's max_len */
#endif
    ppm_file(dir, "rgb_2x2.ppm", "P6\n2 2\n255\n", 12);
    ppm_file(dir, "comment_3x1.ppm", "P6 # a comment\n3 1 255\n", 9);
    ppm_file(dir, "bad_maxval.ppm", "P6\n2 2\n65535\n", 24);
    ppm_file(dir, "bad_truncated.ppm", "P6\n4 4\n255\n", 20);
    gen_bytes png = png_huge_claim();
    char regress[GEN_PATH_MAX];
    gen_join(regress, root, "regress/image/reject");
    gen_write(regress, "png_69_bytes_65536x65536.png", png.p, png.n);
    gen_free(&png);
    ppm_file(regress, "ppm_65536x65536.ppm", "P6\n65536 65536\n255\n", 12);
}

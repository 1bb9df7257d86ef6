/* test_datasets.c: dataset.h readers on small files written here in the real formats (CIFAR-10
 * binary batches, MATLAB level-5 MAT-files for SVHN, compressed with zlib or not, folders of
 * pictures), every error path (each returns its status and leaves the set empty), and the seeded
 * shuffle. Files go to a fresh test_datasets_XXXXXX folder in the working directory (build/tests
 * under ctest), removed at the end when every test passed. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fce/dataset.h"
#include "fce/image_io.h"
#include "fce_test.h"
#include "test_util.h"

/* The file fce_image_write_rgb really creates for "<stem>.png". */
#ifdef FCE_HAVE_PNG
#define PIC_EXT ".png"
#else
#define PIC_EXT ".ppm"
#endif

static int set_is_empty(const fce_image_set *s) {
    return s->pixels == NULL && s->labels == NULL && s->n == 0;
}

/* Every error path: the status and an empty set. */
#define EXPECT_FAIL(expr, status, set)                                                             \
    do {                                                                                           \
        fprintf(stderr, "  expecting %s:\n", fce_status_str(status));                             \
        ASSERT_EQ_INT((expr), (status));                                                           \
        ASSERT_TRUE(set_is_empty(&(set)));                                                         \
    } while (0)

// ---- CIFAR-10 ----

static uint8_t cifar_val(size_t r, int c, int p) { return (uint8_t)(r * 31 + c * 101 + p * 7); }

/* nrec records with labels (r * 3) % 10, pixel (c, p) = cifar_val(r, c, p). Malloc'd. */
static unsigned char *cifar_bytes(size_t nrec, size_t *len) {
    *len = nrec * 3073;
    unsigned char *b = malloc(*len);
    if (!b) abort();
    for (size_t r = 0; r < nrec; r++) {
        unsigned char *rec = b + r * 3073;
        rec[0] = (unsigned char)((r * 3) % 10);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++) rec[1 + c * 1024 + p] = cifar_val(r, c, p);
    }
    return b;
}

/* n labelled 32×32×3 pictures, as CIFAR-10 and SVHN hold. */
static int check_labelled_32x32(const fce_image_set *s, size_t n) {
    ASSERT_EQ_INT(s->n, n);
    ASSERT_EQ_INT(s->H, 32);
    ASSERT_EQ_INT(s->W, 32);
    ASSERT_EQ_INT(s->C, 3);
    ASSERT_TRUE(s->labels != NULL);
    return 0;
}

static int check_cifar(const fce_image_set *s, size_t nrec) {
    if (check_labelled_32x32(s, nrec)) return 1;
    for (size_t r = 0; r < nrec; r++) {
        ASSERT_EQ_INT(s->labels[r], (r * 3) % 10);
        for (int p = 0; p < 1024; p++)
            for (int c = 0; c < 3; c++)
                if (s->pixels[r * 3072 + (size_t)p * 3 + (size_t)c] != cifar_val(r, c, p)) {
                    fprintf(stderr, "  record %zu pixel %d channel %d differs\n", r, p, c);
                    return 1;
                }
    }
    return 0;
}

TEST(cifar10_file) {
    size_t len;
    unsigned char *b = cifar_bytes(3, &len);
    ASSERT_TRUE(fce_test_write_file(fce_test_path("c3.bin"), b, len));
    fce_image_set s;
    ASSERT_OK(fce_cifar10_load_file(fce_test_path("c3.bin"), &s));
    int bad = check_cifar(&s, 3);
    fce_image_set_free(&s);
    fce_image_set_free(&s); /* idempotent */
    ASSERT_TRUE(set_is_empty(&s));
    if (bad) return 1;

    EXPECT_FAIL(fce_cifar10_load_file(fce_test_path("nope.bin"), &s), FCE_STATUS_ERR_IO, s);
    ASSERT_TRUE(fce_test_write_file(fce_test_path("trunc.bin"), b, len - 100)); /* not a whole record */
    EXPECT_FAIL(fce_cifar10_load_file(fce_test_path("trunc.bin"), &s), FCE_STATUS_ERR_FORMAT, s);
    ASSERT_TRUE(fce_test_write_file(fce_test_path("empty.bin"), b, 0));
    EXPECT_FAIL(fce_cifar10_load_file(fce_test_path("empty.bin"), &s), FCE_STATUS_ERR_FORMAT, s);
    b[3073] = 10; /* record 1: label out of range */
    ASSERT_TRUE(fce_test_write_file(fce_test_path("label.bin"), b, len));
    EXPECT_FAIL(fce_cifar10_load_file(fce_test_path("label.bin"), &s), FCE_STATUS_ERR_FORMAT, s);
    b[3073] = 255;
    ASSERT_TRUE(fce_test_write_file(fce_test_path("label.bin"), b, len));
    EXPECT_FAIL(fce_cifar10_load_file(fce_test_path("label.bin"), &s), FCE_STATUS_ERR_FORMAT, s);
    free(b);
    return 0;
}

TEST(cifar10_dir) {
    fce_image_set s;
    ASSERT_TRUE(mkdir(fce_test_path("cifar"), 0777) == 0);
    /* Missing files. */
    EXPECT_FAIL(fce_cifar10_load(fce_test_path("cifar"), 1, &s), FCE_STATUS_ERR_IO, s);
    EXPECT_FAIL(fce_cifar10_load(fce_test_path("cifar"), 0, &s), FCE_STATUS_ERR_IO, s);
    EXPECT_FAIL(fce_cifar10_load(fce_test_path("no_such_dir"), 0, &s), FCE_STATUS_ERR_IO, s);
    /* The official test batch: exactly 10000 records. */
    size_t len;
    unsigned char *b = cifar_bytes(10000, &len);
    ASSERT_EQ_INT(len, 30730000);
    ASSERT_TRUE(fce_test_write_file(fce_test_path("cifar/test_batch.bin"), b, len));
    ASSERT_OK(fce_cifar10_load(fce_test_path("cifar"), 0, &s));
    int bad = check_cifar(&s, 10000);
    fce_image_set_free(&s);
    if (bad) return 1;
    /* A train batch with the right record layout but the wrong size. */
    ASSERT_TRUE(fce_test_write_file(fce_test_path("cifar/data_batch_1.bin"), b, 5 * 3073));
    EXPECT_FAIL(fce_cifar10_load(fce_test_path("cifar"), 1, &s), FCE_STATUS_ERR_FORMAT, s);
    /* Right sizes for 1..4, batch 5 missing. */
    for (int i = 1; i <= 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "cifar/data_batch_%d.bin", i);
        ASSERT_TRUE(fce_test_write_file(fce_test_path(name), b, len));
    }
    EXPECT_FAIL(fce_cifar10_load(fce_test_path("cifar"), 1, &s), FCE_STATUS_ERR_IO, s);
    /* Batch 5 one byte too long. */
    unsigned char *b2 = realloc(b, len + 1);
    if (!b2) abort();
    b = b2;
    b[len] = 0;
    ASSERT_TRUE(fce_test_write_file(fce_test_path("cifar/data_batch_5.bin"), b, len + 1));
    EXPECT_FAIL(fce_cifar10_load(fce_test_path("cifar"), 1, &s), FCE_STATUS_ERR_FORMAT, s);
    /* All five: 50000 images in file order. */
    ASSERT_TRUE(fce_test_write_file(fce_test_path("cifar/data_batch_5.bin"), b, len));
    ASSERT_OK(fce_cifar10_load(fce_test_path("cifar"), 1, &s));
    ASSERT_EQ_INT(s.n, 50000);
    ASSERT_EQ_INT(s.labels[40001], (1 * 3) % 10);
    ASSERT_EQ_INT(s.pixels[(size_t)40001 * 3072 + 5 * 3 + 2], cifar_val(1, 2, 5));
    fce_image_set_free(&s);
    free(b);
    return 0;
}

// ---- SVHN: a MAT-file writer ----

enum { MI_INT8 = 1, MI_UINT8 = 2, MI_INT16 = 3, MI_INT32 = 5, MI_UINT32 = 6, MI_DOUBLE = 9,
       MI_MATRIX = 14, MI_COMPRESSED = 15 };
enum { MX_DOUBLE = 6, MX_UINT8 = 9 };

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void b_put(bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_u32(bytes *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    b_put(b, x, 4);
}
static void b_pad8(bytes *b) {
    static const unsigned char z[8] = {0};
    b_put(b, z, (8 - b->n % 8) % 8);
}
/* A normal element (tag + data + padding); b->n must be a multiple of 8 before. */
static void b_elem(bytes *b, uint32_t type, const void *d, uint32_t n) {
    b_u32(b, type);
    b_u32(b, n);
    b_put(b, d, n);
    b_pad8(b);
}
/* A small element (n <= 4 bytes packed into the tag). */
static void b_small(bytes *b, uint32_t type, const void *d, uint32_t n) {
    unsigned char x[4] = {0};
    memcpy(x, d, n);
    b_u32(b, n << 16 | type);
    b_put(b, x, 4);
}

/* The content of a miMATRIX (after its tag). */
static bytes mat_content(uint32_t cls, const int32_t *dims, int ndims, const char *name,
                         uint32_t dtype, const void *data, uint32_t nbytes, int small_data) {
    bytes c = {0};
    unsigned char fl[8] = {(unsigned char)cls, 0, 0, 0, 0, 0, 0, 0};
    b_elem(&c, MI_UINT32, fl, 8);
    unsigned char db[32];
    for (int i = 0; i < ndims; i++) {
        uint32_t v = (uint32_t)dims[i];
        for (int k = 0; k < 4; k++) db[4 * i + k] = (unsigned char)(v >> (8 * k));
    }
    b_elem(&c, MI_INT32, db, (uint32_t)(4 * ndims));
    uint32_t nl = (uint32_t)strlen(name);
    if (nl <= 4)
        b_small(&c, MI_INT8, name, nl);
    else
        b_elem(&c, MI_INT8, name, nl);
    if (small_data)
        b_small(&c, dtype, data, nbytes);
    else
        b_elem(&c, dtype, data, nbytes);
    return c;
}

/* Appends content as a top-level miMATRIX, or (compressed) as a miCOMPRESSED element holding
 * a tag of type inner_type and the content. */
static void b_var(bytes *file, bytes *content, int compressed, uint32_t inner_type) {
    if (!compressed) {
        b_u32(file, MI_MATRIX);
        b_u32(file, (uint32_t)content->n);
        b_put(file, content->p, content->n);
    } else {
        bytes raw = {0};
        b_u32(&raw, inner_type);
        b_u32(&raw, (uint32_t)content->n);
        b_put(&raw, content->p, content->n);
        uLongf clen = compressBound(raw.n);
        unsigned char *z = malloc(clen);
        if (!z || compress2(z, &clen, raw.p, raw.n, 6) != Z_OK) abort();
        b_u32(file, MI_COMPRESSED);
        b_u32(file, (uint32_t)clen);
        b_put(file, z, clen);
        free(z);
        free(raw.p);
    }
    free(content->p);
}

static uint8_t svhn_pix(int n, int h, int w, int c) {
    return (uint8_t)(n * 37 + h * 7 + w * 3 + c * 101 + 1);
}

typedef struct svhn_opts {
    int n_x, n_y;
    int compress_x, compress_y;
    int y_uint8_small; /* y as uint8 in a small element (n_y <= 4), else double */
    uint32_t x_dtype;  /* MI_UINT8 */
    int32_t x_side;    /* 32 */
    uint32_t inner_type; /* MI_MATRIX */
    int extra_var, y_first, no_y;
    const char *header; /* NULL: a valid one */
    uint16_t version;   /* 0x0100 */
    const char *endian; /* "IM" */
    double labels[4];
} svhn_opts;

static svhn_opts svhn_default(void) {
    svhn_opts o;
    memset(&o, 0, sizeof o);
    o.n_x = o.n_y = 3;
    o.x_dtype = MI_UINT8;
    o.x_side = 32;
    o.inner_type = MI_MATRIX;
    o.version = 0x0100;
    o.endian = "IM";
    o.labels[0] = 10;
    o.labels[1] = 1;
    o.labels[2] = 7;
    o.labels[3] = 4;
    return o;
}

static void add_x(bytes *f, const svhn_opts *o) {
    size_t nb = (size_t)o->n_x * 3072;
    unsigned char *x = malloc(nb);
    if (!x) abort();
    for (int n = 0; n < o->n_x; n++)
        for (int c = 0; c < 3; c++)
            for (int w = 0; w < 32; w++)
                for (int h = 0; h < 32; h++)
                    x[h + 32 * (w + 32 * (c + 3 * n))] = svhn_pix(n, h, w, c);
    int32_t dims[4] = {o->x_side, 32, 3, o->n_x};
    bytes c = mat_content(MX_UINT8, dims, 4, "X", o->x_dtype, x, (uint32_t)nb, 0);
    b_var(f, &c, o->compress_x, o->inner_type);
    free(x);
}

static void add_y(bytes *f, const svhn_opts *o) {
    int32_t dims[2] = {o->n_y, 1};
    bytes c;
    if (o->y_uint8_small) {
        unsigned char y[4];
        for (int i = 0; i < o->n_y; i++) y[i] = (unsigned char)o->labels[i];
        c = mat_content(MX_UINT8, dims, 2, "y", MI_UINT8, y, (uint32_t)o->n_y, 1);
    } else {
        unsigned char y[32];
        for (int i = 0; i < o->n_y; i++) {
            uint64_t u;
            memcpy(&u, &o->labels[i], 8);
            for (int k = 0; k < 8; k++) y[8 * i + k] = (unsigned char)(u >> (8 * k));
        }
        c = mat_content(MX_DOUBLE, dims, 2, "y", MI_DOUBLE, y, (uint32_t)(8 * o->n_y), 0);
    }
    b_var(f, &c, o->compress_y, MI_MATRIX);
}

static bytes svhn_file(const svhn_opts *o) {
    bytes f = {0};
    char hdr[128];
    memset(hdr, ' ', 116);
    const char *text = o->header ? o->header : "MATLAB 5.0 MAT-file, Platform: GLNXA64, "
                                               "Created on: test_datasets.c";
    memcpy(hdr, text, strlen(text));
    memset(hdr + 116, 0, 8);
    hdr[124] = (char)(o->version & 0xFF);
    hdr[125] = (char)(o->version >> 8);
    hdr[126] = o->endian[0];
    hdr[127] = o->endian[1];
    b_put(&f, hdr, 128);
    if (o->extra_var) { /* an unrelated double scalar "version", skipped by the reader */
        int32_t dims[2] = {1, 1};
        double v = 1.5;
        bytes c = mat_content(MX_DOUBLE, dims, 2, "version", MI_DOUBLE, &v, 8, 0);
        b_var(&f, &c, 0, MI_MATRIX);
    }
    if (o->y_first && !o->no_y) add_y(&f, o);
    add_x(&f, o);
    if (!o->y_first && !o->no_y) add_y(&f, o);
    return f;
}

static int check_svhn(const fce_image_set *s, int n, const double *labels) {
    if (check_labelled_32x32(s, (size_t)n)) return 1;
    for (int i = 0; i < n; i++) {
        ASSERT_EQ_INT(s->labels[i], (int)labels[i] % 10);
        for (int h = 0; h < 32; h++)
            for (int w = 0; w < 32; w++)
                for (int c = 0; c < 3; c++)
                    if (s->pixels[(size_t)i * 3072 + (size_t)(h * 32 + w) * 3 + (size_t)c] !=
                        svhn_pix(i, h, w, c)) {
                        fprintf(stderr, "  image %d (h %d, w %d, c %d) differs\n", i, h, w, c);
                        return 1;
                    }
    }
    return 0;
}

/* Writes o's file as name and loads it. */
static fce_status svhn_try(const svhn_opts *o, const char *name, fce_image_set *s) {
    bytes f = svhn_file(o);
    int ok = fce_test_write_file(fce_test_path(name), f.p, f.n);
    free(f.p);
    if (!ok) abort();
    return fce_svhn_load_file(fce_test_path(name), s);
}

TEST(svhn_valid) {
    fce_image_set s;
    svhn_opts o = svhn_default();
    /* Uncompressed, y double. */
    ASSERT_OK(svhn_try(&o, "plain.mat", &s));
    int bad = check_svhn(&s, 3, o.labels);
    fce_image_set_free(&s);
    if (bad) return 1;
    /* Both compressed, y uint8 in a small element. */
    o.compress_x = o.compress_y = 1;
    o.y_uint8_small = 1;
    ASSERT_OK(svhn_try(&o, "zip.mat", &s));
    bad = check_svhn(&s, 3, o.labels);
    fce_image_set_free(&s);
    if (bad) return 1;
    /* Mixed, y first, an unrelated variable before them, 4 images. */
    o = svhn_default();
    o.n_x = o.n_y = 4;
    o.compress_x = 1;
    o.y_first = o.extra_var = 1;
    ASSERT_OK(svhn_try(&o, "mixed.mat", &s));
    bad = check_svhn(&s, 4, o.labels);
    fce_image_set_free(&s);
    if (bad) return 1;
    /* fce_svhn_load finds test_32x32.mat / train_32x32.mat in a folder. */
    ASSERT_TRUE(mkdir(fce_test_path("svhn"), 0777) == 0);
    o = svhn_default();
    o.compress_x = o.compress_y = 1;
    ASSERT_OK(svhn_try(&o, "svhn/test_32x32.mat", &s));
    fce_image_set_free(&s);
    ASSERT_OK(fce_svhn_load(fce_test_path("svhn"), 0, &s));
    bad = check_svhn(&s, 3, o.labels);
    fce_image_set_free(&s);
    if (bad) return 1;
    EXPECT_FAIL(fce_svhn_load(fce_test_path("svhn"), 1, &s), FCE_STATUS_ERR_IO, s); /* no train file */
    return 0;
}

/* Writes the bytes, loads them, expects `status`. */
static int svhn_bytes_fail(const unsigned char *p, size_t n, fce_status status) {
    fce_image_set s;
    ASSERT_TRUE(fce_test_write_file(fce_test_path("bad.mat"), p, n));
    EXPECT_FAIL(fce_svhn_load_file(fce_test_path("bad.mat"), &s), status, s);
    return 0;
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void set_u32(unsigned char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

TEST(svhn_errors) {
    fce_image_set s;
    svhn_opts o;
    EXPECT_FAIL(fce_svhn_load_file(fce_test_path("missing.mat"), &s), FCE_STATUS_ERR_IO, s);

    /* Header: wrong text, version, endianness, too short. */
    o = svhn_default();
    o.header = "HELLO 5.0 not a MAT-file";
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    o = svhn_default();
    o.version = 0x0300;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    o.version = 0x0200; /* v7.3 (HDF5) */
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_UNSUPPORTED, s);
    o = svhn_default();
    o.endian = "MI";
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_UNSUPPORTED, s);
    o.endian = "XY";
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    o = svhn_default();
    bytes f = svhn_file(&o);
    if (svhn_bytes_fail(f.p, 100, FCE_STATUS_ERR_FORMAT)) return 1;
    if (svhn_bytes_fail(f.p, 0, FCE_STATUS_ERR_FORMAT)) return 1;

    /* Uncompressed file: X's element starts at 128, its real part's tag at 128 + 8 + 48. */
    ASSERT_EQ_INT(get_u32(f.p + 128), MI_MATRIX);
    ASSERT_EQ_INT(get_u32(f.p + 184), MI_UINT8);
    ASSERT_EQ_INT(get_u32(f.p + 188), 3 * 3072);
    /* Truncated: inside X, just after the header, inside a tag. */
    if (svhn_bytes_fail(f.p, 128 + 8 + 3000, FCE_STATUS_ERR_FORMAT)) return 1;
    if (svhn_bytes_fail(f.p, f.n - 5, FCE_STATUS_ERR_FORMAT)) return 1;
    if (svhn_bytes_fail(f.p, 132, FCE_STATUS_ERR_FORMAT)) return 1;
    /* A top-level length larger than the file. */
    unsigned char *g = malloc(f.n);
    if (!g) abort();
    memcpy(g, f.p, f.n);
    set_u32(g + 132, 0x7FFFFFF0u);
    if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    /* A sub-element length larger than its matrix (and than the file). */
    memcpy(g, f.p, f.n);
    set_u32(g + 188, 0xFFFFFF00u);
    if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    /* A small-format tag claiming 7 bytes (the name of X, at 128 + 8 + 40). */
    memcpy(g, f.p, f.n);
    ASSERT_EQ_INT(get_u32(g + 176), 1u << 16 | MI_INT8);
    set_u32(g + 176, 7u << 16 | MI_INT8);
    if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    /* The array flags with the wrong element type. */
    memcpy(g, f.p, f.n);
    set_u32(g + 136, MI_DOUBLE);
    if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    free(g);
    free(f.p);

    /* Wrong element types: X's real part int16; a compressed element holding no matrix. */
    o = svhn_default();
    o.x_dtype = MI_INT16;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    o.compress_x = 1;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    o = svhn_default();
    o.compress_x = 1;
    o.inner_type = MI_UINT8;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    /* Wrong shapes and variables. */
    o = svhn_default();
    o.x_side = 31;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    o = svhn_default();
    o.n_y = 2;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    o = svhn_default();
    o.no_y = 1;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    /* Bad labels: 0, 11, 2.5 (double) and 0 in a uint8 small element. */
    const double bad_labels[3] = {0.0, 11.0, 2.5};
    for (int i = 0; i < 3; i++) {
        o = svhn_default();
        o.labels[1] = bad_labels[i];
        EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);
    }
    o = svhn_default();
    o.y_uint8_small = 1;
    o.compress_y = 1;
    o.labels[2] = 0;
    EXPECT_FAIL(svhn_try(&o, "bad.mat", &s), FCE_STATUS_ERR_FORMAT, s);

    /* Compressed X at 128: corrupt zlib header, a flipped byte mid-stream, a stream cut short. */
    o = svhn_default();
    o.compress_x = o.compress_y = 1;
    f = svhn_file(&o);
    ASSERT_EQ_INT(get_u32(f.p + 128), MI_COMPRESSED);
    uint32_t clen = get_u32(f.p + 132);
    g = malloc(f.n);
    if (!g) abort();
    memcpy(g, f.p, f.n);
    g[137] ^= 0x5A; /* zlib FLG byte: header check fails */
    if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    for (uint32_t at = 10; at < clen - 2; at += clen / 7) {
        memcpy(g, f.p, f.n);
        g[136 + at] ^= 0xFF;
        if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    }
    memcpy(g, f.p, f.n);
    set_u32(g + 132, clen / 2); /* the element ends mid-stream */
    if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    if (svhn_bytes_fail(f.p, 136 + clen / 2, FCE_STATUS_ERR_FORMAT)) return 1; /* file cut */
    /* Garbage instead of a zlib stream. */
    memcpy(g, f.p, f.n);
    for (uint32_t i = 0; i < clen; i++) g[136 + i] = (unsigned char)(i * 73 + 5);
    if (svhn_bytes_fail(g, f.n, FCE_STATUS_ERR_FORMAT)) return 1;
    free(g);
    free(f.p);
    return 0;
}

// ---- folder of pictures ----

static void pic_fill(unsigned char *rgb, int w, int h, int k) {
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (unsigned char)(i * 13 + k * 59);
}

TEST(folder) {
    fce_image_set s;
    enum { W = 5, H = 4 };
    unsigned char px[W * H * 3], big[W * W * 3];
    ASSERT_TRUE(mkdir(fce_test_path("pics"), 0777) == 0);
    EXPECT_FAIL(fce_folder_load(fce_test_path("pics"), &s), FCE_STATUS_ERR_FORMAT, s); /* empty */
    EXPECT_FAIL(fce_folder_load(fce_test_path("no_such_pics"), &s), FCE_STATUS_ERR_IO, s);
    const char *names[3] = {"pics/b.png", "pics/a.png", "pics/c.png"}; /* written out of order */
    const int keys[3] = {1, 0, 2};
    for (int i = 0; i < 3; i++) {
        pic_fill(px, W, H, keys[i]);
        ASSERT_OK(fce_image_write_rgb(fce_test_path(names[i]), px, W, H));
    }
    ASSERT_TRUE(fce_test_write_file(fce_test_path("pics/readme.txt"), "not a picture", 13));
    ASSERT_OK(fce_folder_load(fce_test_path("pics"), &s));
    ASSERT_EQ_INT(s.n, 3);
    ASSERT_EQ_INT(s.W, W);
    ASSERT_EQ_INT(s.H, H);
    ASSERT_EQ_INT(s.C, 3);
    ASSERT_TRUE(s.labels == NULL);
    for (int k = 0; k < 3; k++) { /* sorted by name: a, b, c = keys 0, 1, 2 */
        pic_fill(px, W, H, k);
        ASSERT_TRUE(memcmp(s.pixels + (size_t)k * sizeof px, px, sizeof px) == 0);
    }
    fce_image_set_free(&s);
    /* A picture of another size. */
    pic_fill(big, W, W, 3);
    ASSERT_OK(fce_image_write_rgb(fce_test_path("pics/d.png"), big, W, W));
    EXPECT_FAIL(fce_folder_load(fce_test_path("pics"), &s), FCE_STATUS_ERR_FORMAT, s);
    ASSERT_TRUE(unlink(fce_test_path("pics/d" PIC_EXT)) == 0);
    /* A corrupt picture. */
    ASSERT_TRUE(fce_test_write_file(fce_test_path("pics/e" PIC_EXT), "\x89PNG\r\n\x1a\n garbage", 17));
    EXPECT_FAIL(fce_folder_load(fce_test_path("pics"), &s), FCE_STATUS_ERR_FORMAT, s);
    ASSERT_TRUE(unlink(fce_test_path("pics/e" PIC_EXT)) == 0);
    ASSERT_OK(fce_folder_load(fce_test_path("pics"), &s));
    ASSERT_EQ_INT(s.n, 3);
    fce_image_set_free(&s);
    return 0;
}

// ---- shuffle ----

TEST(shuffle) {
    enum { N = 1000 };
    size_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    unsigned char *seen = calloc(N, 1);
    ASSERT_TRUE(a && b && seen);
    fce_image_set_shuffle_order(N, 42, 0, a);
    for (size_t i = 0; i < N; i++) {
        ASSERT_TRUE(a[i] < N);
        ASSERT_TRUE(!seen[a[i]]);
        seen[a[i]] = 1;
    }
    size_t fixed = 0;
    for (size_t i = 0; i < N; i++) fixed += a[i] == i;
    ASSERT_TRUE(fixed < 20); /* about 1 expected for a random permutation */
    fce_image_set_shuffle_order(N, 42, 0, b);
    ASSERT_TRUE(memcmp(a, b, N * sizeof *a) == 0); /* deterministic */
    fce_image_set_shuffle_order(N, 42, 1, b);
    ASSERT_TRUE(memcmp(a, b, N * sizeof *a) != 0); /* another epoch */
    fce_image_set_shuffle_order(N, 43, 0, b);
    ASSERT_TRUE(memcmp(a, b, N * sizeof *a) != 0); /* another seed */
    fce_image_set_shuffle_order(1, 42, 5, b);
    ASSERT_EQ_INT(b[0], 0);
    fce_image_set_shuffle_order(0, 42, 5, b); /* nothing to do, no crash */
    free(a);
    free(b);
    free(seen);
    return 0;
}

FCE_TEST_MAIN_BEGIN
const char *dir = fce_test_tmpdir("test_datasets_XXXXXX");
if (!dir) {
    perror("mkdtemp");
    return 1;
}
fprintf(stderr, "  files in %s\n", dir);
RUN_TEST(cifar10_file);
RUN_TEST(cifar10_dir);
RUN_TEST(svhn_valid);
RUN_TEST(svhn_errors);
RUN_TEST(folder);
RUN_TEST(shuffle);
if (!fce_test_failed_) fce_test_rm_tree(dir);
FCE_TEST_MAIN_END

/* data_svhn.c: the SVHN cropped-digits reader: MATLAB level-5 MAT-files (dataset.h).
 *
 * Layout read here (MATLAB "MAT-File Format", level 5):
 *   header   128 bytes: text ("MATLAB 5.0 MAT-file ..."), 8-byte subsystem offset, version 0x0100
 *            (u16), endian indicator "IM" (a little-endian file; "MI" is big-endian, refused).
 *   element  tag = type (u32) + size (u32), then size bytes, padded to 8 bytes. When the upper 16
 *            bits of the first word are non-zero it is a small element: type = low 16 bits,
 *            size = high 16 bits (<= 4), data in the tag's second word.
 *   miCOMPRESSED (15)  zlib stream (not padded) holding one element, normally a miMATRIX.
 *   miMATRIX (14)      sub-elements: array flags (miUINT32 ×2: class in the low byte, complex bit
 *                      0x800), dimensions (miINT32 × ndims), name (miINT8), real part.
 * SVHN's X is uint8 32×32×3×N column-major (index h + 32·(w + 32·(c + 3·n))), converted to
 * (n, h, w, c); y is N×1 (any numeric type; MATLAB may store a double array as smaller integers)
 * with 1..10, 10 meaning the digit 0, stored as y % 10. Other variables are skipped.
 *
 * The file is read sequentially: compressed elements are inflated in 64 KiB pieces straight into
 * the output, so the ~225 MB train X never exists twice. Every size read from the file is checked
 * against the bytes left in the file or the enclosing element before it is used; the size a
 * compressed element declares for its content is bounded by zlib's maximum ratio (1032:1). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#include "fce/dataset.h"
#include "fce/log.h"

#define SVHN_URL "http://ufldl.stanford.edu/housenumbers/"
#define SVHN_SIDE 32
#define SVHN_IMAGE (SVHN_SIDE * SVHN_SIDE * 3)
#define MAT_CHUNK 65536
#define MAT_MAX_RATIO 1032u

enum {
    MI_INT8 = 1,
    MI_UINT8 = 2,
    MI_INT16 = 3,
    MI_UINT16 = 4,
    MI_INT32 = 5,
    MI_UINT32 = 6,
    MI_SINGLE = 7,
    MI_DOUBLE = 9,
    MI_INT64 = 12,
    MI_UINT64 = 13,
    MI_MATRIX = 14,
    MI_COMPRESSED = 15
};
enum { MX_DOUBLE_CLASS = 6, MX_UINT8_CLASS = 9, MX_UINT64_CLASS = 15 };

/* A byte source: the rest of one uncompressed element, or the inflated content of a compressed
 * one. `what` names the element being parsed, for messages. */
typedef struct mat_src {
    FILE *f;
    const char *path;
    const char *what;
    int compressed;
    uint64_t in_left; /* uncompressed: bytes left in the element; compressed: bytes not yet fed */
    z_stream zs;
    int z_init, z_end;
    unsigned char *inbuf;
} mat_src;

typedef struct svhn_ctx {
    const char *path;
    char what[96];
    uint8_t *pixels, *labels;
    size_t nx, ny;
    int got_x, got_y;
} svhn_ctx;

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd_u64(const unsigned char *p) { return rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }

/* One inflate call on a compressed element, first refilling zlib's input from the file when it is
 * empty. *ret is inflate's result: Z_STREAM_END sets z_end, Z_OK and Z_BUF_ERROR are left to the
 * caller; a truncated file, zlib out of memory and a corrupt stream are logged and returned. */
static fce_status src_inflate(mat_src *s, int *ret) {
    if (s->zs.avail_in == 0 && s->in_left > 0) {
        size_t want = s->in_left < MAT_CHUNK ? (size_t)s->in_left : MAT_CHUNK;
        if (fread(s->inbuf, 1, want, s->f) != want) {
            fce_log_error("%s: %s: the file ends inside a compressed element (truncated; "
                          "re-download it from %s)",
                          s->path, s->what, SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        s->in_left -= want;
        s->zs.next_in = s->inbuf;
        s->zs.avail_in = (uInt)want;
    }
    *ret = inflate(&s->zs, Z_NO_FLUSH);
    if (*ret == Z_STREAM_END) {
        s->z_end = 1;
    } else if (*ret == Z_MEM_ERROR) {
        fce_log_error("%s: %s: out of memory in zlib", s->path, s->what);
        return FCE_STATUS_ERR_NOMEM;
    } else if (*ret != Z_OK && *ret != Z_BUF_ERROR) {
        fce_log_error("%s: %s: corrupt zlib stream (%s): the file is damaged (re-download "
                      "it from %s)",
                      s->path, s->what, s->zs.msg ? s->zs.msg : "no message", SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    return FCE_STATUS_OK;
}

static fce_status src_read(mat_src *s, void *dst, size_t n) {
    if (!s->compressed) {
        if ((uint64_t)n > s->in_left) {
            fce_log_error("%s: %s: needs %zu more bytes but its element holds only %llu: the file "
                          "is malformed (re-download it from %s)",
                          s->path, s->what, n, (unsigned long long)s->in_left, SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        if (n && fread(dst, 1, n, s->f) != n) {
            fce_log_error("%s: %s: the file ends early (truncated; re-download it from %s)",
                          s->path, s->what, SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        s->in_left -= n;
        return FCE_STATUS_OK;
    }
    unsigned char *out = dst;
    while (n > 0) {
        size_t piece = n > (1u << 30) ? (1u << 30) : n;
        s->zs.next_out = out;
        s->zs.avail_out = (uInt)piece;
        while (s->zs.avail_out > 0) {
            if (s->z_end) {
                fce_log_error("%s: %s: the compressed data ends before the %zu bytes its content "
                              "declares: the file is malformed (re-download it from %s)",
                              s->path, s->what, n, SVHN_URL);
                return FCE_STATUS_ERR_FORMAT;
            }
            int ret;
            FCE_TRY(src_inflate(s, &ret));
            if (ret == Z_BUF_ERROR) {
                if (s->zs.avail_in == 0 && s->in_left == 0) {
                    fce_log_error("%s: %s: the zlib stream is cut short (expected more compressed "
                                  "data): the file is truncated or malformed (source: %s)",
                                  s->path, s->what, SVHN_URL);
                    return FCE_STATUS_ERR_FORMAT;
                }
                if (s->zs.avail_in > 0) { /* no progress with input and room: cannot happen */
                    fce_log_error("%s: %s: zlib made no progress: corrupt stream", s->path, s->what);
                    return FCE_STATUS_ERR_FORMAT;
                }
            }
        }
        out += piece;
        n -= piece;
    }
    return FCE_STATUS_OK;
}

/* Inflates the rest of a compressed element and discards it, so zlib checks the stream's adler32
 * (a flipped byte that still decodes is caught there). */
static fce_status src_drain(mat_src *s) {
    unsigned char junk[4096];
    while (!s->z_end) {
        s->zs.next_out = junk;
        s->zs.avail_out = sizeof junk;
        int ret;
        FCE_TRY(src_inflate(s, &ret));
        if (ret == Z_BUF_ERROR && (s->zs.avail_in > 0 || s->in_left == 0)) {
            fce_log_error("%s: %s: the zlib stream is cut short (no end marker): the file is "
                          "truncated or malformed (source: %s)",
                          s->path, s->what, SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
    }
    return FCE_STATUS_OK;
}

/* Consumes n bytes of *left from s (after checking them against *left). */
static fce_status sub_read(mat_src *s, uint64_t *left, void *dst, size_t n) {
    if ((uint64_t)n > *left) {
        fce_log_error("%s: %s: needs %zu bytes but the enclosing matrix has %llu left: the file "
                      "is malformed (source: %s)",
                      s->path, s->what, n, (unsigned long long)*left, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    FCE_TRY(src_read(s, dst, n));
    *left -= n;
    return FCE_STATUS_OK;
}

/* Skips the padding after a sub-element of `size` data bytes (up to what the matrix has left). */
static fce_status sub_pad(mat_src *s, uint64_t *left, uint32_t size) {
    size_t pad = (size_t)((8 - size % 8) % 8);
    if (pad > *left) pad = (size_t)*left;
    unsigned char junk[8];
    return sub_read(s, left, junk, pad);
}

typedef struct mat_tag {
    uint32_t type, size;
    int small;
    unsigned char data[4]; /* small elements only */
} mat_tag;

/* Reads a sub-element tag; a normal element's size is checked against what the matrix has left. */
static fce_status sub_tag(mat_src *s, uint64_t *left, mat_tag *t, const char *field) {
    unsigned char b[8];
    FCE_TRY(sub_read(s, left, b, 8));
    uint32_t w0 = rd_u32(b);
    memset(t, 0, sizeof *t);
    if (w0 >> 16) {
        t->small = 1;
        t->type = w0 & 0xFFFF;
        t->size = w0 >> 16;
        if (t->size > 4) {
            fce_log_error("%s: %s: %s is a small element of %u bytes, at most 4 are possible: the "
                          "file is malformed (source: %s)",
                          s->path, s->what, field, (unsigned)t->size, SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        memcpy(t->data, b + 4, 4);
        return FCE_STATUS_OK;
    }
    t->type = w0;
    t->size = rd_u32(b + 4);
    if ((uint64_t)t->size > *left) {
        fce_log_error("%s: %s: %s declares %u bytes but the matrix holds only %llu more: the file "
                      "is malformed or truncated (source: %s)",
                      s->path, s->what, field, (unsigned)t->size, (unsigned long long)*left,
                      SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    return FCE_STATUS_OK;
}

/* The data of a sub-element (size bytes into dst) and its padding. */
static fce_status sub_data(mat_src *s, uint64_t *left, const mat_tag *t, void *dst) {
    if (t->small) {
        memcpy(dst, t->data, t->size);
        return FCE_STATUS_OK;
    }
    FCE_TRY(sub_read(s, left, dst, t->size));
    return sub_pad(s, left, t->size);
}

static size_t mi_size(uint32_t type) {
    switch (type) {
    case MI_INT8: case MI_UINT8: return 1;
    case MI_INT16: case MI_UINT16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

static double mi_value(uint32_t type, const unsigned char *p) {
    switch (type) {
    case MI_INT8: return (double)(int8_t)p[0];
    case MI_UINT8: return (double)p[0];
    case MI_INT16: return (double)(int16_t)(uint16_t)(p[0] | p[1] << 8);
    case MI_UINT16: return (double)(uint16_t)(p[0] | p[1] << 8);
    case MI_INT32: return (double)(int32_t)rd_u32(p);
    case MI_UINT32: return (double)rd_u32(p);
    case MI_SINGLE: {
        uint32_t u = rd_u32(p);
        float f;
        memcpy(&f, &u, 4);
        return (double)f;
    }
    case MI_DOUBLE: {
        uint64_t u = rd_u64(p);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case MI_INT64: return (double)(int64_t)rd_u64(p);
    case MI_UINT64: return (double)rd_u64(p);
    default: return NAN;
    }
}

static fce_status read_x(mat_src *s, uint64_t *left, svhn_ctx *cx, uint32_t cls,
                         const int32_t *dims, int ndims) {
    if (cx->got_x) {
        fce_log_error("%s: %s: a second variable X (expected one)", s->path, s->what);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (cls != MX_UINT8_CLASS) {
        fce_log_error("%s: %s: X has MATLAB class %u, expected uint8 (9): not the SVHN cropped "
                      "digits file (get it from %s)",
                      s->path, s->what, (unsigned)cls, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    int shape_ok = (ndims == 3 || ndims == 4) && dims[0] == SVHN_SIDE && dims[1] == SVHN_SIDE &&
                   dims[2] == 3 && (ndims == 3 || dims[3] >= 1);
    if (!shape_ok) {
        fce_log_error("%s: %s: X has %d dimensions (%d x %d x ...), expected 32 x 32 x 3 x N: not "
                      "the SVHN cropped digits (32x32) file (get it from %s)",
                      s->path, s->what, ndims, dims[0], dims[1], SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    size_t n = ndims == 4 ? (size_t)dims[3] : 1;
    mat_tag t;
    FCE_TRY(sub_tag(s, left, &t, "the real part of X"));
    if (t.type != MI_UINT8 || t.small || (uint64_t)t.size != (uint64_t)n * SVHN_IMAGE) {
        fce_log_error("%s: %s: the real part of X is element type %u with %u bytes, expected "
                      "miUINT8 (2) with 32*32*3*%zu = %llu bytes: the file is malformed (source: "
                      "%s)",
                      s->path, s->what, (unsigned)t.type, (unsigned)t.size, n,
                      (unsigned long long)n * SVHN_IMAGE, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    cx->pixels = malloc(n * SVHN_IMAGE);
    if (!cx->pixels) {
        fce_log_error("%s: out of memory for X (%zu images)", s->path, n);
        return FCE_STATUS_ERR_NOMEM;
    }
    unsigned char buf[SVHN_IMAGE];
    for (size_t i = 0; i < n; i++) {
        FCE_TRY(sub_read(s, left, buf, SVHN_IMAGE));
        uint8_t *dst = cx->pixels + i * SVHN_IMAGE;
        for (int c = 0; c < 3; c++)
            for (int w = 0; w < SVHN_SIDE; w++)
                for (int h = 0; h < SVHN_SIDE; h++)
                    dst[(h * SVHN_SIDE + w) * 3 + c] = buf[h + SVHN_SIDE * (w + SVHN_SIDE * c)];
    }
    cx->nx = n;
    cx->got_x = 1;
    return FCE_STATUS_OK;
}

static fce_status read_y(mat_src *s, uint64_t *left, svhn_ctx *cx, uint32_t cls,
                         const int32_t *dims, int ndims) {
    if (cx->got_y) {
        fce_log_error("%s: %s: a second variable y (expected one)", s->path, s->what);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (cls < MX_DOUBLE_CLASS || cls > MX_UINT64_CLASS) {
        fce_log_error("%s: %s: y has MATLAB class %u, expected a numeric array (6..15): not the "
                      "SVHN cropped digits file (get it from %s)",
                      s->path, s->what, (unsigned)cls, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (ndims != 2 || dims[0] < 1 || dims[1] < 1 || (dims[0] != 1 && dims[1] != 1)) {
        fce_log_error("%s: %s: y has %d dimensions (%d x %d ...), expected N x 1 (source: %s)",
                      s->path, s->what, ndims, dims[0], dims[1], SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    size_t n = (size_t)dims[0] * (size_t)dims[1];
    mat_tag t;
    FCE_TRY(sub_tag(s, left, &t, "the real part of y"));
    size_t es = mi_size(t.type);
    if (es == 0 || (uint64_t)t.size != (uint64_t)n * es) {
        fce_log_error("%s: %s: the real part of y is element type %u with %u bytes, expected a "
                      "numeric type with %zu values: the file is malformed (source: %s)",
                      s->path, s->what, (unsigned)t.type, (unsigned)t.size, n, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    unsigned char *raw = malloc(t.size ? t.size : 1);
    cx->labels = malloc(n);
    if (!raw || !cx->labels) {
        free(raw);
        fce_log_error("%s: out of memory for y (%zu labels)", s->path, n);
        return FCE_STATUS_ERR_NOMEM;
    }
    fce_status st = sub_data(s, left, &t, raw);
    for (size_t i = 0; st == FCE_STATUS_OK && i < n; i++) {
        double v = mi_value(t.type, raw + i * es);
        if (!(v >= 1.0 && v <= 10.0) || v != floor(v)) {
            fce_log_error("%s: %s: label y(%zu) = %g, expected an integer 1..10 (10 = digit 0; "
                          "source: %s)",
                          s->path, s->what, i + 1, v, SVHN_URL);
            st = FCE_STATUS_ERR_FORMAT;
            break;
        }
        cx->labels[i] = (uint8_t)((int)v % 10);
    }
    free(raw);
    if (st != FCE_STATUS_OK) return st;
    cx->ny = n;
    cx->got_y = 1;
    return FCE_STATUS_OK;
}

/* Parses one miMATRIX whose content (`left` bytes, after its tag) comes from s. */
static fce_status parse_matrix(mat_src *s, uint64_t left, svhn_ctx *cx) {
    mat_tag t;
    unsigned char fl[8];
    FCE_TRY(sub_tag(s, &left, &t, "the array flags"));
    if (t.type != MI_UINT32 || t.small || t.size != 8) {
        fce_log_error("%s: %s: the array flags are element type %u with %u bytes, expected "
                      "miUINT32 (6) with 8 bytes: the file is malformed (source: %s)",
                      s->path, s->what, (unsigned)t.type, (unsigned)t.size, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    FCE_TRY(sub_data(s, &left, &t, fl));
    uint32_t flags = rd_u32(fl);
    uint32_t cls = flags & 0xFF;
    int complex = (flags >> 11) & 1;

    int32_t dims[8];
    unsigned char db[32];
    FCE_TRY(sub_tag(s, &left, &t, "the dimensions"));
    if (t.type != MI_INT32 || t.small || t.size % 4 != 0 || t.size < 8 || t.size > 32) {
        fce_log_error("%s: %s: the dimensions are element type %u with %u bytes, expected "
                      "miINT32 (5) with 2..8 values: the file is malformed (source: %s)",
                      s->path, s->what, (unsigned)t.type, (unsigned)t.size, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    FCE_TRY(sub_data(s, &left, &t, db));
    int ndims = (int)(t.size / 4);
    for (int i = 0; i < ndims; i++) dims[i] = (int32_t)rd_u32(db + 4 * i);

    char name[64];
    FCE_TRY(sub_tag(s, &left, &t, "the array name"));
    if (t.type != MI_INT8 || t.size > 63) {
        fce_log_error("%s: %s: the array name is element type %u with %u bytes, expected miINT8 "
                      "(1) with at most 63 characters: the file is malformed (source: %s)",
                      s->path, s->what, (unsigned)t.type, (unsigned)t.size, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    FCE_TRY(sub_data(s, &left, &t, name));
    name[t.size] = '\0';
    if (strcmp(name, "X") != 0 && strcmp(name, "y") != 0) return FCE_STATUS_OK; /* not ours */
    size_t wl = strlen(cx->what);
    snprintf(cx->what + wl, sizeof cx->what - wl, " (variable %s)", name);
    if (complex) {
        fce_log_error("%s: %s: %s is complex, expected real numbers (source: %s)", s->path,
                      s->what, name, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (name[0] == 'X') return read_x(s, &left, cx, cls, dims, ndims);
    return read_y(s, &left, cx, cls, dims, ndims);
}

/* One miCOMPRESSED element of csize bytes at the file's current position. */
static fce_status parse_compressed(FILE *f, svhn_ctx *cx, uint64_t csize) {
    mat_src s;
    memset(&s, 0, sizeof s);
    s.f = f;
    s.path = cx->path;
    s.what = cx->what;
    s.compressed = 1;
    s.in_left = csize;
    s.inbuf = malloc(MAT_CHUNK);
    if (!s.inbuf) {
        fce_log_error("%s: out of memory for the zlib input buffer", cx->path);
        return FCE_STATUS_ERR_NOMEM;
    }
    fce_status st = FCE_STATUS_OK;
    int zr = inflateInit(&s.zs);
    if (zr != Z_OK) {
        fce_log_error("%s: zlib inflateInit failed (%d)", cx->path, zr);
        st = zr == Z_MEM_ERROR ? FCE_STATUS_ERR_NOMEM : FCE_STATUS_ERR_FORMAT;
        goto cleanup;
    }
    s.z_init = 1;
    unsigned char b[8];
    FCE_TRY_GOTO(st, src_read(&s, b, 8));
    uint32_t type = rd_u32(b), size = rd_u32(b + 4);
    if (type != MI_MATRIX) {
        fce_log_error("%s: %s: the compressed element holds element type %u, expected miMATRIX "
                      "(14): the file is malformed (source: %s)",
                      cx->path, cx->what, (unsigned)type, SVHN_URL);
        st = FCE_STATUS_ERR_FORMAT;
        goto cleanup;
    }
    if ((uint64_t)size > csize * MAT_MAX_RATIO + 64) {
        fce_log_error("%s: %s: the compressed matrix declares %u bytes, more than %llu compressed "
                      "bytes can hold: the file is malformed (source: %s)",
                      cx->path, cx->what, (unsigned)size, (unsigned long long)csize, SVHN_URL);
        st = FCE_STATUS_ERR_FORMAT;
        goto cleanup;
    }
    FCE_TRY_GOTO(st, parse_matrix(&s, size, cx));
    st = src_drain(&s);
cleanup:
    if (s.z_init) inflateEnd(&s.zs);
    free(s.inbuf);
    return st;
}

static fce_status parse_file(FILE *f, svhn_ctx *cx, uint64_t fsize) {
    const char *path = cx->path;
    unsigned char hdr[128];
    if (fsize < 128 || fread(hdr, 1, 128, f) != 128) {
        fce_log_error("%s: %llu bytes, too short for the 128-byte MAT-file header: not the SVHN "
                      "file (get train_32x32.mat / test_32x32.mat from %s)",
                      path, (unsigned long long)fsize, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    unsigned version = (unsigned)hdr[124] | (unsigned)hdr[125] << 8;
    if (hdr[126] == 'M' && hdr[127] == 'I') {
        fce_log_error("%s: a big-endian MAT-file, only little-endian ones are supported (re-save "
                      "it on a little-endian machine, or use the original from %s)",
                      path, SVHN_URL);
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    if (memcmp(hdr, "MATLAB", 6) != 0 || hdr[126] != 'I' || hdr[127] != 'M') {
        fce_log_error("%s: not a MATLAB level-5 MAT-file (header text should start with \"MATLAB\" "
                      "and end with the endian indicator \"IM\"); get the SVHN cropped digits from "
                      "%s",
                      path, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (version == 0x0200) {
        fce_log_error("%s: a MAT v7.3 (HDF5) file, not supported: save it with save(..., '-v7') "
                      "or use the original from %s",
                      path, SVHN_URL);
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    if (version != 0x0100) {
        fce_log_error("%s: MAT-file version 0x%04x, expected 0x0100 (level 5); get the SVHN cropped "
                      "digits from %s",
                      path, version, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    uint64_t off = 128;
    for (int k = 1; off < fsize; k++) {
        snprintf(cx->what, sizeof cx->what, "element %d at offset %llu", k,
                 (unsigned long long)off);
        unsigned char b[8];
        if (fsize - off < 8 || fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(b, 1, 8, f) != 8) {
            fce_log_error("%s: %s: %llu bytes left, too few for an element tag (8): the file is "
                          "truncated (re-download it from %s)",
                          path, cx->what, (unsigned long long)(fsize - off), SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        uint32_t type = rd_u32(b), size = rd_u32(b + 4);
        if (type >> 16) {
            fce_log_error("%s: %s: a small-format tag (type %u) at the top level, expected a "
                          "miMATRIX or miCOMPRESSED element: the file is malformed (source: %s)",
                          path, cx->what, (unsigned)(type & 0xFFFF), SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        uint64_t avail = fsize - off - 8;
        if ((uint64_t)size > avail) {
            fce_log_error("%s: %s: declares %u bytes but only %llu remain in the file: truncated "
                          "or malformed (re-download it from %s)",
                          path, cx->what, (unsigned)size, (unsigned long long)avail, SVHN_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        if (type == MI_COMPRESSED) {
            FCE_TRY(parse_compressed(f, cx, size));
        } else if (type == MI_MATRIX) {
            mat_src s;
            memset(&s, 0, sizeof s);
            s.f = f;
            s.path = path;
            s.what = cx->what;
            s.in_left = size;
            FCE_TRY(parse_matrix(&s, size, cx));
        } /* other top-level element types carry no variable: skipped */
        uint64_t next = off + 8 + size;
        if (type != MI_COMPRESSED) next = (next + 7) & ~(uint64_t)7;
        off = next < fsize ? next : fsize;
    }
    if (!cx->got_x || !cx->got_y) {
        fce_log_error("%s: no variable %s, expected X (images) and y (labels): not the SVHN "
                      "cropped digits file (get it from %s)",
                      path, cx->got_x ? "y" : "X", SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (cx->nx != cx->ny) {
        fce_log_error("%s: X holds %zu images but y has %zu labels, expected the same number "
                      "(source: %s)",
                      path, cx->nx, cx->ny, SVHN_URL);
        return FCE_STATUS_ERR_FORMAT;
    }
    return FCE_STATUS_OK;
}

fce_status fce_svhn_load_file(const char *path, fce_image_set *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fce_log_error("cannot open SVHN file %s: %s (download train_32x32.mat / test_32x32.mat, "
                      "the cropped digits, from %s)",
                      path, strerror(errno), SVHN_URL);
        return FCE_STATUS_ERR_IO;
    }
    svhn_ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.path = path;
    fce_status st = FCE_STATUS_OK;
    off_t end = -1;
    if (fseeko(f, 0, SEEK_END) == 0) end = ftello(f);
    if (end < 0 || fseeko(f, 0, SEEK_SET) != 0) {
        fce_log_error("cannot determine the size of %s: %s", path, strerror(errno));
        st = FCE_STATUS_ERR_IO;
    } else {
        st = parse_file(f, &cx, (uint64_t)end);
    }
    fclose(f);
    if (st != FCE_STATUS_OK) {
        free(cx.pixels);
        free(cx.labels);
        return st;
    }
    out->pixels = cx.pixels;
    out->labels = cx.labels;
    out->n = cx.nx;
    out->H = SVHN_SIDE;
    out->W = SVHN_SIDE;
    out->C = 3;
    return FCE_STATUS_OK;
}

fce_status fce_svhn_load(const char *dir, int train, fce_image_set *out) {
    memset(out, 0, sizeof *out);
    const char *name = train ? "train_32x32.mat" : "test_32x32.mat";
    size_t plen = strlen(dir) + strlen(name) + 2;
    char *path = malloc(plen);
    if (!path) {
        fce_log_error("out of memory building a file name in %s", dir);
        return FCE_STATUS_ERR_NOMEM;
    }
    snprintf(path, plen, "%s/%s", dir, name);
    fce_status st = fce_svhn_load_file(path, out);
    free(path);
    return st;
}

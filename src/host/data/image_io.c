/* image_io.c: RGB pictures as PNG (libpng simplified API) or, without libpng, binary PPM
 * (image_io.h).
 *
 * Writes go to "<file>.tmp" and are renamed over the target, so a reader never sees half a file.
 * Reads detect the format from the first bytes: the 8-byte PNG signature, or "P6" (PPM, maxval 255,
 * '#' comments allowed in the header). Pictures larger than FCE_IMAGE_MAX_SIDE per side are
 * refused as malformed, which also keeps w·h·3 far from overflowing; and a picture is refused
 * before its buffer is allocated when the file is too small to hold it (a 69-byte PNG claiming
 * 65536×65536 pixels must not cost a 12.9 GB calloc): a PPM stores 3 bytes per pixel, and a PNG's
 * deflate stream expands at most 1032-fold (deflate's limit) into rows of at least 1/8 byte per
 * pixel (1-bit greyscale), so it holds at most 8·1032 pixels per byte of file. */
#include "fce/image_io.h"

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fce/log.h"

#ifdef FCE_HAVE_PNG
#include <png.h>
#endif

#define FCE_IMAGE_MAX_SIDE 65536
#define PNG_MAX_PIXELS_PER_BYTE (8 * 1032)

/* Bytes in the file behind f (0 when unknown: the size checks then refuse everything non-empty). */
static uint64_t file_bytes(FILE *f) {
    struct stat sb;
    return fstat(fileno(f), &sb) == 0 && sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
}

static const unsigned char fce_png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* malloc'd copy of path with suffix appended; NULL (logged) on OOM. */
static char *path_with_suffix(const char *path, const char *suffix) {
    size_t n = strlen(path), m = strlen(suffix);
    char *s = malloc(n + m + 1);
    if (!s) {
        fce_log_error("out of memory building a file name for %s", path);
        return NULL;
    }
    memcpy(s, path, n);
    memcpy(s + n, suffix, m + 1);
    return s;
}

#ifndef FCE_HAVE_PNG
/* "dir/name.png" -> "dir/name.ppm"; "dir/name" -> "dir/name.ppm". malloc'd; NULL on OOM. */
static char *path_as_ppm(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    size_t stem = (dot && (!slash || dot > slash + 1)) ? (size_t)(dot - path) : strlen(path);
    char *s = malloc(stem + 5);
    if (!s) {
        fce_log_error("out of memory building a file name for %s", path);
        return NULL;
    }
    memcpy(s, path, stem);
    memcpy(s + stem, ".ppm", 5);
    return s;
}
#endif

// ---- writing ----

#ifndef FCE_HAVE_PNG
static fce_status write_ppm(const char *file, const char *tmp, const unsigned char *rgb, int w,
                            int h) {
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fce_log_error("cannot write %s: %s", tmp, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    size_t bytes = (size_t)w * (size_t)h * 3;
    int ok = fprintf(f, "P6\n%d %d\n255\n", w, h) > 0 && fwrite(rgb, 1, bytes, f) == bytes;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        fce_log_error("cannot write %s: %s", file, strerror(err));
        remove(tmp);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}
#endif

#ifdef FCE_HAVE_PNG
static fce_status write_png(const char *file, const char *tmp, const unsigned char *rgb, int w,
                            int h) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)w;
    image.height = (png_uint_32)h;
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, tmp, 0, rgb, (png_int_32)w * 3, NULL)) {
        fce_log_error("cannot write PNG %s: libpng: %s", file, image.message);
        png_image_free(&image);
        remove(tmp);
        return FCE_STATUS_ERR_PNG;
    }
    png_image_free(&image);
    return FCE_STATUS_OK;
}
#endif

fce_status fce_image_write_rgb(const char *path, const unsigned char *rgb, int w, int h) {
    FCE_ASSERT(path && rgb, "NULL path or pixels");
    FCE_ASSERT(w >= 1 && h >= 1 && w <= FCE_IMAGE_MAX_SIDE && h <= FCE_IMAGE_MAX_SIDE,
               "image size %dx%d", w, h);
#ifdef FCE_HAVE_PNG
    const char *file = path;
#else
    /* One warning per process: a write-once latch, not shared state anything else reads. */
    static int warned = 0;
    char *file = path_as_ppm(path);
    if (!file) return FCE_STATUS_ERR_NOMEM;
    if (!warned) {
        fce_log_warn("built without libpng: writing pictures as binary PPM (%s instead of %s); "
                     "install libpng-dev and rebuild for PNG",
                     file, path);
        warned = 1;
    }
#endif
    fce_status st = FCE_STATUS_OK;
    char *tmp = path_with_suffix(file, ".tmp");
    if (!tmp) {
        st = FCE_STATUS_ERR_NOMEM;
        goto cleanup;
    }
#ifdef FCE_HAVE_PNG
    FCE_TRY_GOTO(st, write_png(file, tmp, rgb, w, h));
#else
    FCE_TRY_GOTO(st, write_ppm(file, tmp, rgb, w, h));
#endif
    if (rename(tmp, file) != 0) {
        fce_log_error("cannot rename %s to %s: %s", tmp, file, strerror(errno));
        remove(tmp);
        st = FCE_STATUS_ERR_IO;
    }
cleanup:
    free(tmp);
#ifndef FCE_HAVE_PNG
    free(file);
#endif
    return st;
}

// ---- reading ----

/* Skips whitespace and '#' comments, then reads a decimal integer; -1 if none. */
static long ppm_header_int(FILE *f) {
    int c = fgetc(f);
    for (;;) {
        while (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            c = fgetc(f);
        if (c != '#') break;
        while (c != '\n' && c != EOF) c = fgetc(f);
    }
    if (c < '0' || c > '9') return -1;
    long v = 0;
    while (c >= '0' && c <= '9') {
        if (v > 100000000L) return -1;
        v = v * 10 + (c - '0');
        c = fgetc(f);
    }
    /* Exactly one whitespace byte ends the number (and, after maxval, the header). */
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') return -1;
    return v;
}

/* f is positioned after the 2-byte "P6" magic. */
static fce_status read_ppm(FILE *f, const char *file, unsigned char **rgb, int *w, int *h) {
    long pw = ppm_header_int(f), ph = ppm_header_int(f), maxval = ppm_header_int(f);
    if (pw < 1 || ph < 1 || pw > FCE_IMAGE_MAX_SIDE || ph > FCE_IMAGE_MAX_SIDE) {
        fce_log_error("cannot read %s: malformed PPM header (size %ldx%ld)", file, pw, ph);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (maxval != 255) {
        fce_log_error("cannot read %s: PPM maxval %ld is not supported (only 255)", file, maxval);
        return FCE_STATUS_ERR_FORMAT;
    }
    size_t bytes = (size_t)pw * (size_t)ph * 3;
    if (bytes > file_bytes(f)) {
        fce_log_error("cannot read %s: truncated PPM (its header claims %ldx%ld pixels, %zu bytes, "
                      "more than the file holds)", file, pw, ph, bytes);
        return FCE_STATUS_ERR_FORMAT;
    }
    unsigned char *buf = malloc(bytes);
    if (!buf) {
        fce_log_error("out of memory reading %s (%zu bytes)", file, bytes);
        return FCE_STATUS_ERR_NOMEM;
    }
    if (fread(buf, 1, bytes, f) != bytes) {
        fce_log_error("cannot read %s: truncated PPM (expected %zu bytes of pixels)", file, bytes);
        free(buf);
        return FCE_STATUS_ERR_FORMAT;
    }
    *rgb = buf;
    *w = (int)pw;
    *h = (int)ph;
    return FCE_STATUS_OK;
}

/* f is positioned at the start of a file that begins with the PNG signature. */
static fce_status read_png(FILE *f, const char *file, unsigned char **rgb, int *w, int *h) {
#ifdef FCE_HAVE_PNG
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&image, f)) {
        fce_log_error("cannot read PNG %s: libpng: %s", file, image.message);
        png_image_free(&image);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (image.width < 1 || image.height < 1 || image.width > FCE_IMAGE_MAX_SIDE ||
        image.height > FCE_IMAGE_MAX_SIDE) {
        fce_log_error("cannot read PNG %s: unsupported size %ux%u", file, (unsigned)image.width,
                      (unsigned)image.height);
        png_image_free(&image);
        return FCE_STATUS_ERR_FORMAT;
    }
    uint64_t pixels = (uint64_t)image.width * image.height;
    if (pixels > PNG_MAX_PIXELS_PER_BYTE * file_bytes(f)) {
        fce_log_error("cannot read PNG %s: its header claims %ux%u pixels, more than a file of %llu "
                      "bytes can hold (corrupt or hostile file)", file, (unsigned)image.width,
                      (unsigned)image.height, (unsigned long long)file_bytes(f));
        png_image_free(&image);
        return FCE_STATUS_ERR_FORMAT;
    }
    image.format = PNG_FORMAT_RGB;
    size_t bytes = (size_t)image.width * (size_t)image.height * 3;
    unsigned char *buf = calloc(bytes, 1); /* zero: alpha is composited onto black */
    if (!buf) {
        fce_log_error("out of memory reading %s (%zu bytes)", file, bytes);
        png_image_free(&image);
        return FCE_STATUS_ERR_NOMEM;
    }
    if (!png_image_finish_read(&image, NULL, buf, (png_int_32)image.width * 3, NULL)) {
        fce_log_error("cannot read PNG %s: libpng: %s", file, image.message);
        png_image_free(&image);
        free(buf);
        return FCE_STATUS_ERR_FORMAT;
    }
    *rgb = buf;
    *w = (int)image.width;
    *h = (int)image.height;
    return FCE_STATUS_OK;
#else
    (void)f;
    (void)rgb;
    (void)w;
    (void)h;
    fce_log_error("cannot read %s: it is a PNG and this build has no libpng "
                  "(install libpng-dev and rebuild)",
                  file);
    return FCE_STATUS_ERR_FORMAT;
#endif
}

fce_status fce_image_read_rgb(const char *path, unsigned char **rgb, int *w, int *h) {
    FCE_ASSERT(path && rgb && w && h, "NULL argument");
    *rgb = NULL;
#ifdef FCE_HAVE_PNG
    const char *file = path;
#else
    char *file = path_as_ppm(path);
    if (!file) return FCE_STATUS_ERR_NOMEM;
#endif
    fce_status st = FCE_STATUS_OK;
    unsigned char magic[8];
    FILE *f = fopen(file, "rb");
    if (!f) {
        fce_log_error("cannot open %s: %s", file, strerror(errno));
        st = FCE_STATUS_ERR_IO;
        goto cleanup;
    }
    size_t got = fread(magic, 1, sizeof magic, f);
    if (got == sizeof magic && memcmp(magic, fce_png_signature, sizeof magic) == 0) {
        rewind(f);
        st = read_png(f, file, rgb, w, h);
    } else if (got >= 3 && magic[0] == 'P' && magic[1] == '6') {
        if (fseek(f, 2, SEEK_SET) != 0) {
            fce_log_error("cannot read %s: %s", file, strerror(errno));
            st = FCE_STATUS_ERR_IO;
        } else {
            st = read_ppm(f, file, rgb, w, h);
        }
    } else {
        fce_log_error("cannot read %s: not a PNG or binary PPM file (unrecognised header)", file);
        st = FCE_STATUS_ERR_FORMAT;
    }
cleanup:
    if (f) fclose(f);
#ifndef FCE_HAVE_PNG
    free(file);
#endif
    return st;
}

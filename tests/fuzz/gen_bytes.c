/* gen_bytes.c: byte buffers and files of the seed generator (gen_bytes.h). */
#define _POSIX_C_SOURCE 200809L
#include "gen_bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static void die(const char *what, const char *detail) {
    fprintf(stderr, "make_corpus: %s: %s\n", what, detail);
    exit(1);
}

void gen_put(gen_bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) die("out of memory", "gen_put");
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

void gen_u32(gen_bytes *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    gen_put(b, x, 4);
}

void gen_pad8(gen_bytes *b) {
    static const unsigned char zeros[8];
    gen_put(b, zeros, (8 - b->n % 8) % 8);
}

void gen_free(gen_bytes *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

gen_bytes gen_deflate(const gen_bytes *raw) {
    uLongf cap = compressBound(raw->n);
    gen_bytes z = {malloc(cap), 0, cap};
    if (!z.p || compress2(z.p, &cap, raw->p, raw->n, 6) != Z_OK) die("zlib", "compress2 failed");
    z.n = cap;
    return z;
}

gen_bytes gen_read_file(const char *path) {
    gen_bytes b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) die(path, strerror(errno));
    unsigned char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) gen_put(&b, chunk, got);
    fclose(f);
    return b;
}

void gen_join(char *out, const char *dir, const char *name) {
    if (snprintf(out, GEN_PATH_MAX, "%s/%s", dir, name) >= GEN_PATH_MAX) die(dir, "path too long");
}

/* mkdir -p of the folder part of path. */
static void make_parents(const char *path) {
    char tmp[GEN_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) die(tmp, strerror(errno));
        *s = '/';
    }
}

void gen_write(const char *dir, const char *name, const void *p, size_t n) {
    char path[GEN_PATH_MAX];
    gen_join(path, dir, name);
    make_parents(path);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) die(path, strerror(errno));
}

int64_t gen_get_i64(const gen_bytes *b, size_t off) {
    int64_t v;
    if (off + 8 > b->n) die("header field past the end of the file", "gen_get_i64");
    memcpy(&v, b->p + off, 8);
    return v;
}

void gen_set_i64(gen_bytes *b, size_t off, int64_t was, int64_t v, const char *field) {
    if (gen_get_i64(b, off) != was) {
        fprintf(stderr, "make_corpus: header field %s at byte %zu holds %lld, not %lld: the file "
                "layout changed; update the offsets in tests/fuzz/gen_ckpt.c\n", field, off,
                (long long)gen_get_i64(b, off), (long long)was);
        exit(1);
    }
    memcpy(b->p + off, &v, 8);
}

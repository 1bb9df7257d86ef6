/* ckpt_io.c: checkpoint file handling shared by the formats (ckpt_io.h): atomic, fsynced writes
 * with a CRC-32 trailer, and checked reads. */
#define _POSIX_C_SOURCE 200809L
#include "formats/ckpt_io.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "fce/log.h"

#define TRAILER_MAGIC "FCECRC32"

/* fwrite that also feeds the running CRC. */
static int put(FILE *f, const void *p, size_t bytes, uLong *crc, uint64_t *total) {
    const unsigned char *b = p;
    for (size_t done = 0; done < bytes;) { /* crc32 takes uInt lengths */
        size_t chunk = bytes - done < (1u << 30) ? bytes - done : (1u << 30);
        *crc = crc32(*crc, b + done, (uInt)chunk);
        done += chunk;
    }
    *total += bytes;
    return fwrite(p, 1, bytes, f) == bytes;
}

static int put_trailer(FILE *f, uLong crc, uint64_t content) {
    unsigned char t[FCE_CKPT_TRAILER_BYTES];
    uint64_t c64 = crc;
    memcpy(t, TRAILER_MAGIC, 8);
    memcpy(t + 8, &content, 8);
    memcpy(t + 16, &c64, 8);
    return fwrite(t, 1, sizeof t, f) == sizeof t;
}

fce_status fce_ckpt_write_tmp(const char *path, const void *header, size_t header_size, int n,
                              fce_param_arena *const arenas[], fce_ctx *const ctxs[]) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fce_log_error("cannot write checkpoint %s: %s", tmp, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    size_t n_max = 0;
    for (int i = 0; i < n; i++)
        if (arenas[i]->n_total > n_max) n_max = arenas[i]->n_total;
    fce_status st = FCE_STATUS_OK;
    float *host = malloc(n_max * sizeof(float) + 1);
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t content = 0;
    int ok = host && put(f, header, header_size, &crc, &content);
    if (!host) st = FCE_STATUS_ERR_NOMEM;
    for (int i = 0; i < n && ok; i++) {
        fce_param_arena *a = arenas[i];
        fce_ctx *c = ctxs[i];
        float *bufs[3] = {a->params, a->m, a->v};
        for (int b = 0; b < 3 && ok; b++) {
            st = c->ops->download(c, host, bufs[b], a->n_total * sizeof(float));
            if (st != FCE_STATUS_OK) ok = 0;
            else ok = put(f, host, a->n_total * sizeof(float), &crc, &content);
        }
    }
    ok = ok && put_trailer(f, crc, content);
    /* on disk before the rename, so a crash cannot leave a renamed but empty file */
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    free(host);
    if (fclose(f) != 0) ok = 0;
    if (!ok || st != FCE_STATUS_OK) {
        remove(tmp);
        if (st == FCE_STATUS_OK) {
            fce_log_error("writing checkpoint %s failed (disk full?); the previous checkpoint is kept",
                          tmp);
            st = FCE_STATUS_ERR_IO;
        }
        return st;
    }
    return FCE_STATUS_OK;
}

fce_status fce_ckpt_commit(const char *path) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (rename(tmp, path) != 0) {
        fce_log_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

void fce_ckpt_discard(const char *path) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove(tmp);
}

fce_status fce_ckpt_write(const char *path, const void *header, size_t header_size, int n,
                          fce_param_arena *const arenas[], fce_ctx *const ctxs[]) {
    FCE_TRY(fce_ckpt_write_tmp(path, header, header_size, n, arenas, ctxs));
    return fce_ckpt_commit(path);
}

/* The file's length, or −1. */
static int64_t file_length(FILE *f) {
    if (fseek(f, 0, SEEK_END) != 0) return -1;
    long len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) return -1;
    return (int64_t)len;
}

static FILE *corrupt(FILE *f, const char *path, const char *what, fce_status *st) {
    fce_log_error("checkpoint %s: %s; the file is corrupt or truncated (or was written by a build "
                  "without checksums): use another checkpoint or train again", path, what);
    fclose(f);
    *st = FCE_STATUS_ERR_FORMAT;
    return NULL;
}

FILE *fce_ckpt_open(const char *path, uint64_t *content_bytes, fce_status *st) {
    *st = FCE_STATUS_OK;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fce_log_error("cannot open checkpoint %s: %s", path, strerror(errno));
        *st = FCE_STATUS_ERR_IO;
        return NULL;
    }
    int64_t len = file_length(f);
    if (len < FCE_CKPT_TRAILER_BYTES) return corrupt(f, path, "no integrity trailer", st);
    unsigned char t[FCE_CKPT_TRAILER_BYTES];
    uint64_t content, want_crc;
    if (fseek(f, (long)(len - FCE_CKPT_TRAILER_BYTES), SEEK_SET) != 0 || fread(t, 1, sizeof t, f) != sizeof t)
        return corrupt(f, path, "cannot read the integrity trailer", st);
    memcpy(&content, t + 8, 8);
    memcpy(&want_crc, t + 16, 8);
    if (memcmp(t, TRAILER_MAGIC, 8) != 0) return corrupt(f, path, "no integrity trailer", st);
    if (content != (uint64_t)(len - FCE_CKPT_TRAILER_BYTES))
        return corrupt(f, path, "its length differs from the length its trailer records", st);
    if (fseek(f, 0, SEEK_SET) != 0) return corrupt(f, path, "cannot seek", st);
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char buf[1 << 16];
    for (uint64_t left = content; left > 0;) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        if (fread(buf, 1, want, f) != want) return corrupt(f, path, "short read", st);
        crc = crc32(crc, buf, (uInt)want);
        left -= want;
    }
    if ((uint64_t)crc != want_crc) return corrupt(f, path, "CRC-32 mismatch", st);
    if (fseek(f, 0, SEEK_SET) != 0) return corrupt(f, path, "cannot seek", st);
    *content_bytes = content;
    return f;
}

fce_status fce_ckpt_crc(const char *path, uint32_t *crc) {
    fce_status st;
    uint64_t content = 0, c64 = 0;
    FILE *f = fce_ckpt_open(path, &content, &st);
    if (!f) return st;
    int ok = fseek(f, (long)(content + 16), SEEK_SET) == 0 && fread(&c64, 8, 1, f) == 1;
    fclose(f);
    if (!ok) {
        fce_log_error("checkpoint %s: cannot read its integrity trailer", path);
        return FCE_STATUS_ERR_IO;
    }
    *crc = (uint32_t)c64;
    return FCE_STATUS_OK;
}

fce_status fce_ckpt_check_size(const char *path, uint64_t content_bytes, uint64_t header_bytes,
                               const uint64_t *floats, int n) {
    uint64_t want = header_bytes;
    for (int i = 0; i < n; i++) {
        if (floats[i] > ((uint64_t)1 << 40)) { /* no model has 10^12 parameters */
            fce_log_error("checkpoint %s: parameter count %llu is out of range", path,
                          (unsigned long long)floats[i]);
            return FCE_STATUS_ERR_FORMAT;
        }
        want += 4 * floats[i];
    }
    if (want == content_bytes) return FCE_STATUS_OK;
    fce_log_error("checkpoint %s: %llu bytes of content where its header implies %llu", path,
                  (unsigned long long)content_bytes, (unsigned long long)want);
    return FCE_STATUS_ERR_FORMAT;
}

fce_status fce_ckpt_header_verdict(const char *path, FILE *f, const char *bad, uint64_t content_bytes,
                                   uint64_t header_bytes, int64_t n_total) {
    fce_status st = FCE_STATUS_ERR_FORMAT;
    if (bad) {
        fce_log_error("checkpoint %s: %s", path, bad);
    } else {
        uint64_t blobs[1] = {3 * (uint64_t)n_total};
        st = fce_ckpt_check_size(path, content_bytes, header_bytes, blobs, 1);
    }
    if (st != FCE_STATUS_OK) fclose(f);
    return st;
}

fce_status fce_ckpt_read_blob(const char *path, FILE *f, fce_ctx *ctx, float *dst, float *host,
                              size_t n) {
    if (fread(host, sizeof(float), n, f) != n) {
        fce_log_error("checkpoint %s: truncated (a parameter blob is short)", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    return ctx->ops->upload(ctx, dst, host, n * sizeof(float));
}

/* 1 when the numel values at v are the integers 0..numel−1, each once. */
static int is_permutation(const float *v, size_t numel) {
    unsigned char seen[FCE_INVCONV_MAX_C] = {0};
    if (numel > FCE_INVCONV_MAX_C) return 0;
    for (size_t i = 0; i < numel; i++) {
        float x = v[i];
        if (!(x >= 0.0f && x < (float)numel) || x != floorf(x) || seen[(int)x]) return 0;
        seen[(int)x] = 1;
    }
    return 1;
}

fce_status fce_ckpt_read_params(const char *path, FILE *f, fce_ctx *ctx, const fce_param_table *t,
                                float *dst, float *host, size_t n) {
    if (fread(host, sizeof(float), n, f) != n) {
        fce_log_error("checkpoint %s: truncated (a parameter blob is short)", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    for (int i = 0; i < t->n; i++) {
        const fce_param_spec *s = &t->specs[i];
        size_t len = strlen(s->name);
        if (len < 5 || strcmp(s->name + len - 5, ".perm") != 0) continue;
        if (s->offset + s->numel > n || !is_permutation(host + s->offset, s->numel)) {
            fce_log_error("checkpoint %s: field %s is not a permutation of 0..%zu", path, s->name,
                          s->numel - 1);
            return FCE_STATUS_ERR_FORMAT;
        }
    }
    return ctx->ops->upload(ctx, dst, host, n * sizeof(float));
}

fce_status fce_ckpt_check_field(const char *path, const char *field, int64_t file, int64_t have,
                                const char *flag) {
    if (file == have) return FCE_STATUS_OK;
    fce_log_error("checkpoint %s: %s is %lld but this run has %lld (set it with %s)", path, field,
                  (long long)file, (long long)have, flag);
    return FCE_STATUS_ERR_FORMAT;
}

fce_status fce_ckpt_check_table(const char *path, uint64_t file_hash, uint64_t have_hash,
                                int64_t file_n, int64_t have_n) {
    if (file_hash == have_hash && file_n == have_n) return FCE_STATUS_OK;
    fce_log_error("checkpoint %s: the flow's parameter table differs from this build's (another "
                  "architecture or version)", path);
    return FCE_STATUS_ERR_FORMAT;
}

/* safetensors_writer.c: the .safetensors writer (safetensors_writer.h). The header is built with
 * the project's JSON writer in memory, so names and metadata are escaped like every other JSON. */
#define _POSIX_C_SOURCE 200809L
#include "formats/safetensors_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fce/log.h"
#include "util/json.h"

static fce_status write_error(const char *path) {
    fce_log_error("cannot write %s: %s", path, strerror(errno));
    return FCE_STATUS_ERR_IO;
}

/* The JSON header, space-padded to a multiple of 8 bytes; malloc'd into *out. */
static fce_status build_header(const fce_st_tensor *t, int n, const char *const *meta, int n_meta,
                               char **out, size_t *len) {
    FILE *m = open_memstream(out, len);
    if (!m) return FCE_STATUS_ERR_NOMEM;
    fce_json j;
    fce_json_begin(&j, m);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = (uint64_t)t[i].shape[0] * (uint64_t)(t[i].ndim == 2 ? t[i].shape[1] : 1);
        fce_json_object(&j, t[i].name);
        fce_json_str(&j, "dtype", "F32");
        fce_json_array(&j, "shape");
        for (int d = 0; d < t[i].ndim; d++) fce_json_int(&j, NULL, (long long)t[i].shape[d]);
        fce_json_close(&j);
        fce_json_array(&j, "data_offsets");
        fce_json_int(&j, NULL, (long long)off);
        fce_json_int(&j, NULL, (long long)(off + 4 * numel));
        fce_json_close(&j);
        fce_json_close(&j);
        off += 4 * numel;
    }
    fce_json_object(&j, "__metadata__");
    for (int i = 0; i < n_meta; i++) fce_json_str(&j, meta[2 * i], meta[2 * i + 1]);
    fce_json_end(&j, 0);
    while (ftell(m) % 8) fputc(' ', m);
    if (fclose(m) != 0) return FCE_STATUS_ERR_NOMEM;
    return FCE_STATUS_OK;
}

fce_status fce_safetensors_write(const char *path, const fce_st_tensor *t, int n,
                                 const char *const *meta, int n_meta) {
    char *hdr = NULL;
    size_t hlen = 0;
    FCE_TRY(build_header(t, n, meta, n_meta, &hdr, &hlen));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(hdr);
        return write_error(tmp);
    }
    unsigned char n8[8];
    for (int b = 0; b < 8; b++) n8[b] = (unsigned char)((uint64_t)hlen >> (8 * b));
    int ok = fwrite(n8, 1, 8, f) == 8 && fwrite(hdr, 1, hlen, f) == hlen;
    for (int i = 0; i < n && ok; i++) { /* float32 is little-endian on every supported host */
        size_t numel = (size_t)t[i].shape[0] * (size_t)(t[i].ndim == 2 ? t[i].shape[1] : 1);
        ok = fwrite(t[i].data, sizeof(float), numel, f) == numel;
    }
    free(hdr);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fce_status st = write_error(ok ? path : tmp);
        remove(tmp);
        return st;
    }
    return FCE_STATUS_OK;
}

/* npz_writer.c: the streamed one-array .npz (npz_writer.h): ZIP local header, NPY header, data,
 * central directory and end record, with the CRC-32 from zlib patched in at the end. The entry is
 * arr_0.npy, the name numpy.savez gives its first positional array, so np.load(f)["arr_0"] reads it
 * (the key FID tools expect, e.g. the evaluator of openai/guided-diffusion). */
#include "formats/npz_writer.h"

#include <string.h>

#include <zlib.h>

#include "fce/log.h"

#define NPZ_ENTRY_NAME "arr_0.npy"
#define NPZ_NAME_LEN (sizeof NPZ_ENTRY_NAME - 1)
#define ZIP_LOCAL_BYTES (30 + NPZ_NAME_LEN)
#define ZIP_CENTRAL_BYTES (46 + NPZ_NAME_LEN)
#define ZIP_END_BYTES 22
#define ZIP_DOS_DATE_1980 0x21 /* 1980-01-01: fixed, so equal samples give equal files */

static void le16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v) { le16(p, v & 0xffff), le16(p + 2, v >> 16); }

/* The NPY v1.0 header of a uint8 (n, h, w, c) C-order array, padded to a multiple of 64 bytes. */
static size_t npy_header(char *buf, size_t cap, int n, int h, int w, int c) {
    char dict[200];
    int dl = snprintf(dict, sizeof dict,
                      "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }", n, h, w, c);
    size_t total = 10 + (size_t)dl + 1;
    total = (total + 63) / 64 * 64;
    if (total > cap) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    le16((uint8_t *)buf + 8, (unsigned)(total - 10));
    memset(buf + 10, ' ', total - 10);
    memcpy(buf + 10, dict, (size_t)dl);
    buf[total - 1] = '\n';
    return total;
}

/* ZIP local file header of the stored entry. */
static void zip_local(uint8_t *p, uint32_t crc, uint32_t size) {
    memset(p, 0, 30);
    le32(p, 0x04034b50u);
    le16(p + 4, 20);
    le16(p + 12, ZIP_DOS_DATE_1980);
    le32(p + 14, crc);
    le32(p + 18, size);
    le32(p + 22, size);
    le16(p + 26, NPZ_NAME_LEN);
    memcpy(p + 30, NPZ_ENTRY_NAME, NPZ_NAME_LEN);
}

static fce_status write_error(fce_npz_writer *w) {
    fce_log_error("cannot write %s", w->path);
    return FCE_STATUS_ERR_IO;
}

fce_status fce_npz_open(fce_npz_writer *w, const char *path, int n, int h, int wd, int c) {
    memset(w, 0, sizeof *w);
    w->path = path;
    char hdr[256];
    size_t hl = npy_header(hdr, sizeof hdr, n, h, wd, c);
    w->entry_bytes = hl + (size_t)n * h * wd * c;
    if (!hl || w->entry_bytes > 0xfffffffeu) {
        fce_log_error("--npz: the array is too large for a ZIP without ZIP64");
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    w->f = fopen(path, "wb");
    uint8_t lh[ZIP_LOCAL_BYTES];
    zip_local(lh, 0, (uint32_t)w->entry_bytes);
    if (!w->f || fwrite(lh, 1, sizeof lh, w->f) != sizeof lh || fwrite(hdr, 1, hl, w->f) != hl)
        return write_error(w);
    w->crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)hdr, (uInt)hl);
    return FCE_STATUS_OK;
}

fce_status fce_npz_append(fce_npz_writer *w, const uint8_t *data, size_t bytes) {
    w->crc = crc32(w->crc, data, (uInt)bytes);
    if (fwrite(data, 1, bytes, w->f) != bytes) return write_error(w);
    return FCE_STATUS_OK;
}

fce_status fce_npz_close(fce_npz_writer *w) {
    uint8_t cd[ZIP_CENTRAL_BYTES], eo[ZIP_END_BYTES], lcrc[4];
    uint32_t size = (uint32_t)w->entry_bytes;
    le32(lcrc, (uint32_t)w->crc);
    memset(cd, 0, sizeof cd);
    le32(cd, 0x02014b50u);
    le16(cd + 4, 20);
    le16(cd + 6, 20);
    le16(cd + 14, ZIP_DOS_DATE_1980);
    le32(cd + 16, (uint32_t)w->crc);
    le32(cd + 20, size);
    le32(cd + 24, size);
    le16(cd + 28, NPZ_NAME_LEN);
    memcpy(cd + 46, NPZ_ENTRY_NAME, NPZ_NAME_LEN);
    memset(eo, 0, sizeof eo);
    le32(eo, 0x06054b50u);
    le16(eo + 8, 1);
    le16(eo + 10, 1);
    le32(eo + 12, ZIP_CENTRAL_BYTES);
    le32(eo + 16, (uint32_t)(ZIP_LOCAL_BYTES + w->entry_bytes));
    int ok = fwrite(cd, 1, sizeof cd, w->f) == sizeof cd && fwrite(eo, 1, sizeof eo, w->f) == sizeof eo &&
             fseek(w->f, 14, SEEK_SET) == 0 && fwrite(lcrc, 1, 4, w->f) == 4;
    ok = (fclose(w->f) == 0) && ok;
    w->f = NULL;
    return ok ? FCE_STATUS_OK : write_error(w);
}

void fce_npz_abort(fce_npz_writer *w) {
    if (!w->f) return;
    fclose(w->f);
    w->f = NULL;
    remove(w->path);
}

/* data_cifar10.c: the CIFAR-10 binary version reader (dataset.h).
 *
 * A batch file is a sequence of 3073-byte records: label (0..9), then the R, G and B planes of a
 * 32×32 picture (1024 bytes each, row-major). The planes are interleaved into HWC here. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fce/dataset.h"
#include "fce/log.h"

#define CIFAR_SIDE 32
#define CIFAR_PLANE (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + 3 * CIFAR_PLANE)
#define CIFAR_PER_FILE 10000
#define CIFAR_URL "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"

/* Opens path and returns its size in bytes through *size. ERR_IO (logged) if it cannot. */
static fce_status open_sized(const char *path, FILE **f, long long *size) {
    *f = fopen(path, "rb");
    if (!*f) {
        fce_log_error("cannot open CIFAR-10 file %s: %s (download the binary version from %s and "
                      "extract it)",
                      path, strerror(errno), CIFAR_URL);
        return FCE_STATUS_ERR_IO;
    }
    off_t end = -1;
    if (fseeko(*f, 0, SEEK_END) == 0) end = ftello(*f);
    if (end < 0 || fseeko(*f, 0, SEEK_SET) != 0) {
        fce_log_error("cannot determine the size of %s: %s", path, strerror(errno));
        fclose(*f);
        *f = NULL;
        return FCE_STATUS_ERR_IO;
    }
    *size = (long long)end;
    return FCE_STATUS_OK;
}

/* Reads nrec records from f into pixels (nrec, 32, 32, 3) and labels (nrec). */
static fce_status read_records(const char *path, FILE *f, size_t nrec, uint8_t *pixels,
                               uint8_t *labels) {
    unsigned char rec[CIFAR_RECORD];
    for (size_t r = 0; r < nrec; r++) {
        if (fread(rec, 1, CIFAR_RECORD, f) != CIFAR_RECORD) {
            fce_log_error("%s: truncated at record %zu of %zu (the file shrank while being read?)",
                          path, r, nrec);
            return FCE_STATUS_ERR_FORMAT;
        }
        if (rec[0] > 9) {
            fce_log_error("%s: record %zu has label %u, expected 0..9: this is not a CIFAR-10 "
                          "binary batch (CIFAR-100 has 2 label bytes; get CIFAR-10 from %s)",
                          path, r, (unsigned)rec[0], CIFAR_URL);
            return FCE_STATUS_ERR_FORMAT;
        }
        labels[r] = rec[0];
        uint8_t *dst = pixels + r * (size_t)(3 * CIFAR_PLANE);
        for (int p = 0; p < CIFAR_PLANE; p++)
            for (int c = 0; c < 3; c++) dst[3 * p + c] = rec[1 + c * CIFAR_PLANE + p];
    }
    return FCE_STATUS_OK;
}

fce_status fce_cifar10_load_file(const char *path, fce_image_set *out) {
    memset(out, 0, sizeof *out);
    FILE *f = NULL;
    long long size = 0;
    FCE_TRY(open_sized(path, &f, &size));
    fce_status st = FCE_STATUS_OK;
    if (size <= 0 || size % CIFAR_RECORD != 0) {
        fce_log_error("%s: size %lld bytes is not a whole, non-zero number of %d-byte CIFAR-10 "
                      "records (1 label + 3072 pixels); the binary version is at %s",
                      path, size, CIFAR_RECORD, CIFAR_URL);
        st = FCE_STATUS_ERR_FORMAT;
        goto cleanup;
    }
    size_t nrec = (size_t)(size / CIFAR_RECORD);
    FCE_TRY_GOTO(st, fce_image_set_alloc(out, nrec, CIFAR_SIDE, CIFAR_SIDE, 3, 1, path));
    FCE_TRY_GOTO(st, read_records(path, f, nrec, out->pixels, out->labels));
cleanup:
    fclose(f);
    if (st != FCE_STATUS_OK) fce_image_set_free(out);
    return st;
}

/* "<dir>/cifar-10-batches-bin" when dir holds no batch files but that folder (what the official
 * archive unpacks to, and where scripts/get-data.sh leaves it) does; dir otherwise. */
static const char *batches_dir(const char *dir, const char *first_file, char *buf, size_t cap) {
    struct stat sb;
    snprintf(buf, cap, "%s/%s", dir, first_file);
    if (stat(buf, &sb) == 0) return dir;
    snprintf(buf, cap, "%s/cifar-10-batches-bin/%s", dir, first_file);
    if (stat(buf, &sb) != 0) return dir; /* neither: the error names the file in dir */
    snprintf(buf, cap, "%s/cifar-10-batches-bin", dir);
    return buf;
}

fce_status fce_cifar10_load(const char *dir_arg, int train, fce_image_set *out) {
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                              "data_batch_3.bin", "data_batch_4.bin",
                                              "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    const char *const *files = train ? train_files : test_files;
    size_t nfiles = train ? 5 : 1;
    memset(out, 0, sizeof *out);
    char dir_buf[4096];
    const char *dir = batches_dir(dir_arg, files[0], dir_buf, sizeof dir_buf);

    fce_status st = FCE_STATUS_OK;
    char *path = NULL;
    FILE *f = NULL;
    size_t plen = strlen(dir) + 32;
    path = malloc(plen);
    if (!path) {
        fce_log_error("out of memory building a file name in %s", dir);
        return FCE_STATUS_ERR_NOMEM;
    }
    FCE_TRY_GOTO(st, fce_image_set_alloc(out, nfiles * CIFAR_PER_FILE, CIFAR_SIDE, CIFAR_SIDE, 3,
                                         1, "the CIFAR-10 dataset"));
    for (size_t i = 0; i < nfiles; i++) {
        snprintf(path, plen, "%s/%s", dir, files[i]);
        long long size = 0;
        FCE_TRY_GOTO(st, open_sized(path, &f, &size));
        const long long expect = (long long)CIFAR_PER_FILE * CIFAR_RECORD;
        if (size != expect) {
            fce_log_error("%s is %lld bytes, expected %lld (10000 records of 3073 bytes): a "
                          "partial download or another format? Get the CIFAR-10 binary version "
                          "from %s",
                          path, size, expect, CIFAR_URL);
            st = FCE_STATUS_ERR_FORMAT;
            goto cleanup;
        }
        size_t off = i * CIFAR_PER_FILE;
        FCE_TRY_GOTO(st, read_records(path, f, CIFAR_PER_FILE,
                                      out->pixels + off * (size_t)(3 * CIFAR_PLANE),
                                      out->labels + off));
        fclose(f);
        f = NULL;
    }
cleanup:
    if (f) fclose(f);
    free(path);
    if (st != FCE_STATUS_OK) fce_image_set_free(out);
    return st;
}

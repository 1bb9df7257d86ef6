/* fuzz_common.c: scratch files, the CPU context and expect-reject mode for the harnesses
 * (fuzz_common.h). */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "formats/ckpt_io.h"

/* Process-wide harness state: libFuzzer calls LLVMFuzzerTestOneInput with no user pointer, so the
 * scratch folder and context made at first use live here (harness code only, never in src/). */
static char scratch_dir[256];
static fce_ctx cpu_ctx;
static int cpu_ctx_ready;

static void remove_scratch(void) {
    if (!scratch_dir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", scratch_dir);
}

/* Under $FCE_FUZZ_SCRATCH when set (run.sh: one folder per run, removed at its end, which also
 * catches the folders of crashed processes, whose atexit never runs), else /dev/shm or /tmp. */
static void make_scratch(void) {
    const char *base = getenv("FCE_FUZZ_SCRATCH");
    if (!base || !base[0]) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(scratch_dir, sizeof scratch_dir, "%s/fce-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_scratch);
}

const char *fuzz_path(const char *name) {
    static char path[512];
    if (!scratch_dir[0]) make_scratch();
    snprintf(path, sizeof path, "%s/%s", scratch_dir, name);
    return path;
}

const char *fuzz_dir(const char *name) {
    const char *path = fuzz_path(name);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        perror("fuzz: mkdir");
        abort();
    }
    return path;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    const char *path = fuzz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz: writing the input file");
        abort();
    }
    return path;
}

void fuzz_fix_trailer(uint8_t *p, size_t n) {
    if (n < FCE_CKPT_TRAILER_BYTES || memcmp(p + n - FCE_CKPT_TRAILER_BYTES, "FCECRC32", 8) != 0) return;
    uint64_t content = n - FCE_CKPT_TRAILER_BYTES;
    uint64_t crc = crc32(crc32(0L, Z_NULL, 0), p, (uInt)content);
    memcpy(p + content + 8, &content, 8);
    memcpy(p + content + 16, &crc, 8);
}

static int expect_reject_mode(void) {
    static int mode = -1;
    if (mode < 0) {
        const char *e = getenv("FCE_FUZZ_EXPECT_REJECT");
        mode = e && e[0] == '1';
    }
    return mode;
}

const char *fuzz_write_checkpoint(const char *name, const uint8_t *data, size_t size) {
    if (expect_reject_mode() || size < FCE_CKPT_TRAILER_BYTES) return fuzz_write(name, data, size);
    uint8_t *copy = malloc(size);
    if (!copy) abort();
    memcpy(copy, data, size);
    fuzz_fix_trailer(copy, size);
    const char *path = fuzz_write(name, copy, size);
    free(copy);
    return path;
}

void fuzz_check_setup(fce_status st, const char *what) {
    if (st == FCE_STATUS_OK) return;
    fprintf(stderr, "fuzz: harness setup failed: %s (%s)\n", what, fce_status_str(st));
    abort();
}

fce_ctx *fuzz_cpu_ctx(void) {
    if (!cpu_ctx_ready) {
        fuzz_check_setup(fce_ctx_init(&cpu_ctx, "cpu"), "fce_ctx_init(cpu)");
        cpu_ctx_ready = 1;
    }
    return &cpu_ctx;
}

void fuzz_expect_reject(fce_status st, const char *what) {
    if (!expect_reject_mode() || st != FCE_STATUS_OK) return;
    fprintf(stderr, "fuzz: %s ACCEPTED an input that must be refused (expect-reject mode)\n", what);
    abort();
}

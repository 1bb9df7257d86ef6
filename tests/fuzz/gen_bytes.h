/* gen_bytes.h: the seed generator's byte buffers and files (make_corpus.c and its gen_*.c): a
 * growable buffer with little-endian appends, whole-file read and write, and the edit of an 8-byte
 * header field that first checks the field holds the value the writer is known to put there (so a
 * changed file layout stops the generator instead of producing inputs that test nothing). Aborts
 * on any failure: a generator, not a library. */
#ifndef FCE_FUZZ_GEN_BYTES_H
#define FCE_FUZZ_GEN_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef struct gen_bytes {
    unsigned char *p;
    size_t n, cap;
} gen_bytes;

void gen_put(gen_bytes *b, const void *d, size_t n);
void gen_u32(gen_bytes *b, uint32_t v);
void gen_pad8(gen_bytes *b);
void gen_free(gen_bytes *b);
/* raw compressed into a zlib stream (what a MAT-file's miCOMPRESSED element holds). */
gen_bytes gen_deflate(const gen_bytes *raw);

/* The whole file at path (read) / n bytes to "<dir>/<name>" (write, folders made as needed). */
gen_bytes gen_read_file(const char *path);
void gen_write(const char *dir, const char *name, const void *p, size_t n);
/* out = "<dir>/<name>" (out holds GEN_PATH_MAX bytes; aborts when it does not fit). */
#define GEN_PATH_MAX 1024
void gen_join(char *out, const char *dir, const char *name);

/* The int64 at byte offset off of b (little-endian host assumed, as the formats are). */
int64_t gen_get_i64(const gen_bytes *b, size_t off);
/* Sets the int64 at off to v after checking it holds `was` (aborts naming `field` otherwise). */
void gen_set_i64(gen_bytes *b, size_t off, int64_t was, int64_t v, const char *field);

#endif

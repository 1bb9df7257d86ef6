/* ckpt_io.h: the file handling the checkpoint formats share (checkpoint.c, iglow_checkpoint.c):
 * the atomic write of a header and parameter arenas, opening for reading, reading a blob, and the
 * architecture checks, each logging its error with the file's path. */
#ifndef FCE_CKPT_IO_H
#define FCE_CKPT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fce/backend.h"
#include "fce/params.h"

/* Writes header_size bytes of header, then for each of the n arenas its params, m and v (n_total
 * float32 each, downloaded through ctxs[i]) to "<path>.tmp", then renames it over path. On failure
 * the temporary file is removed and the previous file at path is kept. */
fce_status fce_ckpt_write(const char *path, const void *header, size_t header_size, int n,
                          fce_param_arena *const arenas[], fce_ctx *const ctxs[]);
/* The two halves of fce_ckpt_write, for files that must change together (image FCE's flow and
 * EBM): write every "<path>.tmp" first, then commit (rename) each, so a failure or crash while
 * writing leaves the previous pair intact and only the renames' microseconds are exposed.
 * fce_ckpt_discard removes a "<path>.tmp" left by a write_tmp whose partner failed. */
fce_status fce_ckpt_write_tmp(const char *path, const void *header, size_t header_size, int n,
                              fce_param_arena *const arenas[], fce_ctx *const ctxs[]);
fce_status fce_ckpt_commit(const char *path);
void fce_ckpt_discard(const char *path);

/* fopen(path, "rb"); NULL (logged: "cannot open checkpoint …") on failure. */
FILE *fce_ckpt_open(const char *path);

/* Reads n float32 into host and uploads them to dst; a short read is FCE_STATUS_ERR_FORMAT. */
fce_status fce_ckpt_read_blob(const char *path, FILE *f, fce_ctx *ctx, float *dst, float *host,
                              size_t n);

/* FCE_STATUS_ERR_FORMAT, naming the field, its value in the file and in this run and the flag
 * that sets it, when file != have. */
fce_status fce_ckpt_check_field(const char *path, const char *field, int64_t file, int64_t have,
                                const char *flag);

/* FCE_STATUS_ERR_FORMAT when the flow's parameter-table hash or size in the file differs from this
 * build's. */
fce_status fce_ckpt_check_table(const char *path, uint64_t file_hash, uint64_t have_hash,
                                int64_t file_n, int64_t have_n);

#endif

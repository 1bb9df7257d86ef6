/* ckpt_io.h: the file handling the checkpoint formats share (checkpoint2d.c, flow_image_file.c,
 * ebm_image_file.c): the atomic write of a header and parameter arenas, the integrity trailer,
 * opening for reading with the integrity check, reading a blob, and the architecture and range
 * checks, each logging its error with the file's path and the field.
 *
 * Integrity: every checkpoint ends in a 24-byte trailer: the magic "FCECRC32", the number of
 * content bytes before the trailer (uint64) and the zlib CRC-32 of those bytes (uint64). A reader
 * opens a file with fce_ckpt_open, which refuses a file without a trailer, of another length, or
 * whose bytes do not match the CRC (truncated, flipped, or appended-to), before a single header
 * field is believed. The formats then check the content length against what their header implies
 * (fce_ckpt_check_size), so a file whose header and blobs disagree is refused too. */
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

#define FCE_CKPT_TRAILER_BYTES 24

/* Opens path for reading after checking its trailer and CRC; *content_bytes receives the length
 * before the trailer. NULL on failure (logged, naming the file and what is wrong); *st receives
 * FCE_STATUS_ERR_IO (cannot open) or FCE_STATUS_ERR_FORMAT (corrupt). */
FILE *fce_ckpt_open(const char *path, uint64_t *content_bytes, fce_status *st);

/* The CRC-32 of path's content as its trailer records it, after fce_ckpt_open's checks (a file
 * that fails them is refused as there). Identifies a file another one depends on (ebm_base.fce). */
fce_status fce_ckpt_crc(const char *path, uint32_t *crc);

/* The end of a one-arena header's checks: with bad != NULL, logs "checkpoint <path>: <bad>" and
 * fails; else checks content_bytes == header_bytes + 3·4·n_total (params, m, v). On failure f is
 * closed; on success it stays open for the blobs. */
fce_status fce_ckpt_header_verdict(const char *path, FILE *f, const char *bad, uint64_t content_bytes,
                                   uint64_t header_bytes, int64_t n_total);

/* FCE_STATUS_ERR_FORMAT unless content_bytes == header_bytes + 4·Σ floats[i] (i < n). */
fce_status fce_ckpt_check_size(const char *path, uint64_t content_bytes, uint64_t header_bytes,
                               const uint64_t *floats, int n);

/* Reads the n-float parameter blob of a model with table t into host, checks that every tensor
 * named "*.perm" holds a permutation of 0..numel−1 (it indexes rows in the invertible maps), and
 * uploads it to dst. */
fce_status fce_ckpt_read_params(const char *path, FILE *f, fce_ctx *ctx, const fce_param_table *t,
                                float *dst, float *host, size_t n);

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

/* image_io.h: 8-bit RGB pictures on disk (PNG through libpng, PPM as the fallback).
 *
 * With libpng (the build defines FCE_HAVE_PNG, libpng >= 1.6) pictures are PNG files written and
 * read through the simplified API (png_image_write_to_file, png_image_begin_read_from_stdio), which
 * reports errors by return value instead of setjmp/longjmp.
 * Without libpng (configured with FCE_WITH_PNG=OFF or libpng missing) the writer falls back to a
 * binary PPM (P6, maxval 255, same pixels): the path's extension is replaced by ".ppm"
 * ("out/grid.png" -> "out/grid.ppm"; a path without extension gets ".ppm" appended) and a warning
 * is printed once per process. The reader applies the same path rule in that build.
 * The reader recognises the format by its magic bytes (PNG signature or "P6"), so a PNG build can
 * also read PPM files.
 *
 * Layout: rgb is (h, w, 3) row-major, row 0 = top, 3 bytes per pixel, no padding. */
#ifndef FCE_IMAGE_IO_H
#define FCE_IMAGE_IO_H

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the picture atomically: to "<file>.tmp", then rename() over <file>.
 * w, h >= 1 (asserted). Returns FCE_STATUS_OK, FCE_STATUS_ERR_PNG (libpng failed; message from
 * libpng), or FCE_STATUS_ERR_IO (open/write/rename failed); the error names the file. */
fce_status fce_image_write_rgb(const char *path, const unsigned char *rgb /* (h, w, 3) */, int w,
                               int h);

/* Reads an 8-bit RGB picture (PNG of any colour type, converted to RGB with alpha composited on
 * black; or binary PPM with maxval 255). On success *rgb is a malloc'd (h, w, 3) buffer owned by
 * the caller (free()). Returns FCE_STATUS_ERR_IO when the file cannot be opened,
 * FCE_STATUS_ERR_FORMAT for a corrupt, truncated or unsupported file, FCE_STATUS_ERR_NOMEM; on
 * error *rgb is NULL and the message names the file. */
fce_status fce_image_read_rgb(const char *path, unsigned char **rgb /* out: (h, w, 3) */, int *w,
                              int *h);

#ifdef __cplusplus
}
#endif
#endif

/* npz_writer.h: a NumPy .npz holding one uint8 array, streamed to disk batch by batch, for FID
 * tools (sample --npz). The archive is a ZIP without compression (ZIP "stored", as
 * numpy.savez writes it) with one entry, arr_0.npy (numpy's name for an unnamed array, the key FID
 * tools read: np.load(path)["arr_0"]): an NPY v1.0 header and the (n, h, w, c) array in C order.
 * Without ZIP64 the entry must stay under 4 GiB (checked at open). */
#ifndef FCE_FORMATS_NPZ_WRITER_H
#define FCE_FORMATS_NPZ_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fce/status.h"

typedef struct fce_npz_writer {
    FILE *f;
    const char *path;
    unsigned long crc;     /* CRC-32 of the entry so far */
    size_t entry_bytes;    /* NPY header + array */
} fce_npz_writer;

/* Creates path and writes the ZIP local header and the NPY header of a (n, h, w, c) uint8 array. */
fce_status fce_npz_open(fce_npz_writer *w, const char *path, int n, int h, int wd, int c);
/* Appends bytes of the array (the caller writes exactly n·h·w·c in all). */
fce_status fce_npz_append(fce_npz_writer *w, const uint8_t *data, size_t bytes);
/* Writes the central directory, patches the CRC into the local header and closes the file. */
fce_status fce_npz_close(fce_npz_writer *w);
/* After a failure: closes and removes the partial file (NULL-safe on a writer never opened). */
void fce_npz_abort(fce_npz_writer *w);

#endif

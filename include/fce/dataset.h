/* dataset.h: image datasets read into memory as uint8 HWC RGB (CIFAR-10, SVHN, a folder of PNGs).
 *
 * Every loader fills an fce_image_set: pixels (n, H, W, C) row-major, C = 3 (R, G, B), row 0 = top;
 * labels (n) in 0..9 or NULL when the format has none. On error the set is left empty (all zero),
 * the message names the file, what was expected and where the data comes from, and the status is
 * FCE_STATUS_ERR_IO (a file is missing or unreadable), FCE_STATUS_ERR_FORMAT (the bytes are not
 * what the format says: wrong size, truncated, bad label, corrupt stream, ...),
 * FCE_STATUS_ERR_UNSUPPORTED (a valid variant this reader does not handle, e.g. a big-endian or
 * v7.3 MAT-file) or FCE_STATUS_ERR_NOMEM. No loader crashes or asserts on bad bytes: every length
 * read from a file is checked against what is left before it is used.
 *
 * Formats:
 *  - CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz):
 *    data_batch_1.bin .. data_batch_5.bin (train, 50000 images) or test_batch.bin (10000); each
 *    record is 1 label byte (0..9) + 3072 pixel bytes: the 1024 R, then 1024 G, then 1024 B values
 *    of a 32×32 picture, row-major. fce_cifar10_load() requires the official file size
 *    (10000 records = 30,730,000 bytes); fce_cifar10_load_file() reads one file with any whole,
 *    non-zero number of records (for subsets and tests).
 *  - SVHN cropped digits (http://ufldl.stanford.edu/housenumbers/): train_32x32.mat (73257) or
 *    test_32x32.mat (26032), MATLAB level-5 MAT-files (little-endian, compressed or not) holding
 *    X (uint8, 32×32×3×N, column-major) and y (N×1, numeric, 1..10 where 10 is the digit 0; stored
 *    as y % 10). MAT v7.3 (HDF5) files are refused with a message.
 *  - A folder of pictures: every *.png (and *.ppm, which the PPM fallback of a build without libpng
 *    writes) file in it, sorted by name (strcmp), all of one size (the first sets it); no labels.
 *    Read through fce_image_read_rgb(), so a build without libpng reads the .ppm files only. */
#ifndef FCE_DATASET_H
#define FCE_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_image_set {
    uint8_t *pixels; /* (n, H, W, C) HWC RGB, malloc'd */
    uint8_t *labels; /* (n) in 0..9, malloc'd, or NULL */
    size_t n;
    int H, W, C;
} fce_image_set;

/* CIFAR-10 binary: train != 0 reads data_batch_1..5.bin (n = 50000), else test_batch.bin
 * (n = 10000), from dir. Each file must be exactly 30,730,000 bytes. */
fce_status fce_cifar10_load(const char *dir, int train, fce_image_set *out);
/* One CIFAR-10 binary batch file with any whole number (>= 1) of 3073-byte records. */
fce_status fce_cifar10_load_file(const char *path, fce_image_set *out);

/* SVHN cropped digits: train != 0 reads dir/train_32x32.mat, else dir/test_32x32.mat. */
fce_status fce_svhn_load(const char *dir, int train, fce_image_set *out);
/* One SVHN-style MAT-file (variables X and y as above) at path. */
fce_status fce_svhn_load_file(const char *path, fce_image_set *out);

/* Every *.png / *.ppm picture in dir, sorted by name; labels from dir/labels.txt ("NAME LABEL"
 * lines, LABEL in 0..9, one per picture) when it exists, else NULL. */
fce_status fce_folder_load(const char *dir, fce_image_set *out);

/* Allocates pixels (n·H·W·C bytes, uninitialised) and, when with_labels, labels (n bytes); sets the
 * shape. `what` names the data in the out-of-memory message. On error *out is zeroed. */
fce_status fce_image_set_alloc(fce_image_set *out, size_t n, int H, int W, int C, int with_labels,
                               const char *what);
/* Frees both buffers and zeroes the set. NULL-safe and idempotent. */
void fce_image_set_free(fce_image_set *s);

/* order[0..n) = a permutation of 0..n−1 that depends only on (seed, epoch): Fisher-Yates from the
 * last element down, element i swapped with j = floor(u·(i+1)), u = fce_philox_uniform(seed,
 * epoch·n + i). A resumed run rebuilds the same order from the same (seed, epoch). */
void fce_image_set_shuffle_order(size_t n, uint64_t seed, uint64_t epoch, size_t *order);

#ifdef __cplusplus
}
#endif
#endif

/* safetensors_writer.h: float32 tensors into one .safetensors file (the Hugging Face format that
 * the `safetensors` package, PyTorch, JAX and NumPy users load directly):
 *   8 bytes: N, the length of the JSON header (uint64 little-endian);
 *   N bytes: {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *            "__metadata__": {"<key>": "<string>", ...}}, padded with spaces to a multiple of 8;
 *   the tensors' bytes, little-endian, row-major, in the order given, offsets relative to here.
 * Written to "<path>.tmp", fsynced and renamed, so a reader never sees half a file. */
#ifndef FCE_FORMATS_SAFETENSORS_WRITER_H
#define FCE_FORMATS_SAFETENSORS_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

typedef struct fce_st_tensor {
    const char *name;   /* unique */
    const float *data;  /* host memory, numel floats */
    int ndim;           /* 1 or 2 */
    int64_t shape[2];
} fce_st_tensor;

/* meta: n_meta key/value string pairs for "__metadata__" (meta[2i] key, meta[2i+1] value). */
fce_status fce_safetensors_write(const char *path, const fce_st_tensor *t, int n,
                                 const char *const *meta, int n_meta);

#endif

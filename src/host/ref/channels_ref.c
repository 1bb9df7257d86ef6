/* channels_ref.c: copy a slice of channels between two row-major (rows, C) tensors.
 *
 *   dst[r, dst_c0 + k]  =  src[r, src_c0 + k]      (accumulate = 0)
 *   dst[r, dst_c0 + k] +=  src[r, src_c0 + k]      (accumulate ≠ 0)
 *   for r < rows, k < count; row strides dst_C and src_C.
 *
 * Used to split a tensor into coupling halves xa = [0, C/2), xb = [C/2, C) and to merge them (and
 * their gradients, with accumulate) back. Channels of dst outside the slice are left untouched.
 * The backward of a copy is the reverse copy with accumulate = 1. */
#include "ref/ref.h"

void fce_ref_channels_copy(float *dst, int dst_C, int dst_c0, const float *src, int src_C,
                           int src_c0, int count, size_t rows, int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        float *d = dst + r * (size_t)dst_C + dst_c0;
        const float *s = src + r * (size_t)src_C + src_c0;
        for (int k = 0; k < count; k++) {
            if (accumulate) d[k] += s[k];
            else d[k] = s[k];
        }
    }
}

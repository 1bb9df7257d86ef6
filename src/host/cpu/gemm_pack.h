/* gemm_pack.h: the matrix views the CPU GEMM (gemm_cpu.h) reads, and its packing step: a block
 * of a view copied into the panel layout the micro-kernel reads, with zeros past the edge. */
#ifndef FCE_GEMM_PACK_H
#define FCE_GEMM_PACK_H

#include <stddef.h>

#include "fce/backend.h"

/* A matrix view: element (r, c) of a dense row-major array (p[r·ld + c]), of its transpose
 * (p[c·ld + r]), or of a convolution's im2col matrix: r an output pixel (n, i, j) of conv, c a
 * filter tap and input channel (ky, kx, ci), the value x[n, i·s + ky − pad, j·s + kx − pad, ci]
 * (0 outside the picture), x = p in NHWC. */
typedef enum gemm_view_kind { GEMM_DENSE = 0, GEMM_DENSE_T, GEMM_IM2COL } gemm_view_kind;
typedef struct gemm_view {
    gemm_view_kind kind;
    const float *p;
    size_t ld;                   /* dense kinds */
    const fce_conv_shape *conv;  /* GEMM_IM2COL */
} gemm_view;

/* Which operand a block is packed for: A (rows of the product, in MR-high panels) or B (columns,
 * in NR-wide panels). */
typedef enum gemm_side { GEMM_SIDE_A = 0, GEMM_SIDE_B } gemm_side;

/* A whole block as ⌈count/R⌉ consecutive panels (panel p at dst + p·kc·R), the last one
 * zero-filled past count. A: rows x0 .. x0 + count − 1 and columns k0 .. k0 + kc − 1 of v,
 * dst[p·kc·R + k·R + i] = v(x0 + p·R + i, k0 + k). B: columns x0 .. x0 + count − 1 and rows
 * k0 .. k0 + kc − 1, dst[p·kc·R + k·R + j] = v(k0 + k, x0 + p·R + j). */
void gemm_pack(const gemm_view *v, gemm_side side, int x0, int count, int k0, int kc, int R,
               float *dst);

#endif

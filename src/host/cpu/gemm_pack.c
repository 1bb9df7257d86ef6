/* gemm_pack.c: packing matrix views into micro-panels (gemm_pack.h), including the implicit
 * im2col of a convolution: a row of the im2col matrix is a run of filter taps, each tap a
 * contiguous run of Cin channels of one input pixel (or zeros where the tap falls outside). */
#include "cpu/gemm_pack.h"

#include <string.h>

#include "cpu/gemm_kernel.h" /* GEMM_KERNEL_MAX_MR: the tallest A panel */

/* An output pixel (n, i, j) of the im2col view's convolution: row r of the matrix. Rows are
 * visited in order, so the cursor steps instead of dividing. */
typedef struct pixel {
    int n, i, j, Ho, Wo;
} pixel;

static pixel pixel_at(const fce_conv_shape *s, int r) {
    pixel px;
    px.Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    px.Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    px.n = r / (px.Ho * px.Wo);
    px.i = r % (px.Ho * px.Wo) / px.Wo;
    px.j = r % px.Wo;
    return px;
}

static void pixel_next(pixel *px) {
    if (++px->j < px->Wo) return;
    px->j = 0;
    if (++px->i < px->Ho) return;
    px->i = 0;
    px->n++;
}

/* Elements c0 .. c0 + len − 1 of the im2col row of pixel px into dst[e·step], e < len. */
static void im2col_row(const gemm_view *v, const pixel *px, int c0, int len, float *dst,
                       int step) {
    const fce_conv_shape *s = v->conv;
    const int Cin = s->Cin;
    int tap = c0 / Cin, ci = c0 % Cin;
    int ky = tap / s->KW, kx = tap % s->KW;
    for (int e = 0; e < len;) {
        int run = Cin - ci < len - e ? Cin - ci : len - e;
        int p = px->i * s->stride + ky - s->pad, q = px->j * s->stride + kx - s->pad;
        float *d = dst + (size_t)e * step;
        if (p >= 0 && p < s->H && q >= 0 && q < s->W) {
            const float *src = v->p + (((size_t)px->n * s->H + p) * s->W + q) * Cin + ci;
            if (step == 1) memcpy(d, src, (size_t)run * sizeof(float));
            else
                for (int k = 0; k < run; k++) d[(size_t)k * step] = src[k];
        } else {
            for (int k = 0; k < run; k++) d[(size_t)k * step] = 0.0f;
        }
        e += run;
        ci = 0;
        if (++kx == s->KW) {
            kx = 0;
            ky++;
        }
    }
}

/* A block of im2col rows: rows r0 .. r0 + rows − 1 into R-high panels (A's layout). */
static void im2col_rows_block(const gemm_view *v, int r0, int rows, int c0, int kc, int R,
                              float *dst) {
    pixel px = pixel_at(v->conv, r0);
    for (int i = 0; i < rows; i++, pixel_next(&px))
        im2col_row(v, &px, c0, kc, dst + (size_t)(i / R) * kc * R + i % R, R);
}

/* A block of im2col columns c0 .. c0 + cols − 1, rows k0 .. k0 + kc − 1, into R-wide panels (B's
 * layout): each row is gathered once into a contiguous run, then cut into the panels. */
static void im2col_cols_block(const gemm_view *v, int c0, int cols, int k0, int kc, int R,
                              float *dst) {
    enum { ROW_MAX = 512 };
    float row[ROW_MAX];
    const int step = ROW_MAX / R * R; /* whole panels per gathered piece */
    for (int cb = 0; cb < cols; cb += step) {
        const int len = cols - cb < step ? cols - cb : step;
        pixel px = pixel_at(v->conv, k0);
        for (int k = 0; k < kc; k++, pixel_next(&px)) {
            im2col_row(v, &px, c0 + cb, len, row, 1);
            for (int j = 0; j < len; j += R) {
                float *d = dst + (size_t)((cb + j) / R) * kc * R + (size_t)k * R;
                memcpy(d, row + j, (size_t)(len - j < R ? len - j : R) * sizeof(float));
            }
        }
    }
}

/* Lanes count .. R − 1 of a panel of kc lines of R floats set to zero (the rows past M of an A
 * panel, or the columns past N of a B panel: the layout is the same). */
static void zero_lanes(int count, int kc, int R, float *dst) {
    for (int k = 0; k < kc; k++)
        for (int j = count; j < R; j++) dst[(size_t)k * R + j] = 0.0f;
}

/* One panel of a dense matrix: dst[k·R + j] = M(k0 + k, x0 + j) for j < count (≤ R; the other
 * lanes zero), with M(k, j) = p[k·ld + j], or p[j·ld + k] when `transposed`. An A panel of a
 * row-major matrix is the transposed case, a B panel the plain one. */
static void pack_dense_panel(const float *p, size_t ld, int transposed, int x0, int count, int k0,
                             int kc, int R, float *dst) {
    if (!transposed) {
        for (int k = 0; k < kc; k++)
            memcpy(dst + (size_t)k * R, p + (size_t)(k0 + k) * ld + x0,
                   (size_t)count * sizeof(float));
    } else { /* the writes run in order, the reads along `count` lines */
        const float *src[GEMM_KERNEL_MAX_MR > GEMM_KERNEL_NR ? GEMM_KERNEL_MAX_MR : GEMM_KERNEL_NR];
        for (int j = 0; j < count; j++) src[j] = p + (size_t)(x0 + j) * ld + k0;
        if (count == 8 && R == 8)
            for (int k = 0; k < kc; k++)
                for (int j = 0; j < 8; j++) dst[(size_t)k * 8 + j] = src[j][k];
        else
            for (int k = 0; k < kc; k++)
                for (int j = 0; j < count; j++) dst[(size_t)k * R + j] = src[j][k];
    }
    zero_lanes(count, kc, R, dst);
}

void gemm_pack(const gemm_view *v, gemm_side side, int x0, int count, int k0, int kc, int R,
               float *dst) {
    const int a = side == GEMM_SIDE_A;
    if (v->kind == GEMM_IM2COL) {
        if (a) im2col_rows_block(v, x0, count, k0, kc, R, dst);
        else im2col_cols_block(v, x0, count, k0, kc, R, dst);
        if (count % R) /* the last panel's missing rows (A) or columns (B) */
            zero_lanes(count % R, kc, R, dst + (size_t)(count / R) * kc * R);
        return;
    }
    const int transposed = v->kind == (a ? GEMM_DENSE : GEMM_DENSE_T);
    for (int j = 0; j < count; j += R)
        pack_dense_panel(v->p, v->ld, transposed, x0 + j, count - j < R ? count - j : R, k0, kc,
                         R, dst + (size_t)j * kc);
}

/* squeeze_ref.c: squeeze / unsqueeze by a factor of 2 (SPEC a.1; openai/glow tfops.squeeze2d).
 *
 * NHWC. x (N, H, W, C) with H and W even, y (N, H/2, W/2, 4C):
 *   y[n, i, j, 4c + 2dy + dx] = x[n, 2i + dy, 2j + dx, c],   dy, dx ∈ {0, 1}
 * forward writes y from x; inverse writes x from y. Both take the shape of x (H, W, C).
 * The map is a permutation of the N·H·W·C values: the log-det is 0, values are copied bit for bit,
 * and the backward of either direction is the other direction applied to the gradients.
 * Output must not alias input. */
#include "ref/ref.h"

#include <stddef.h>

/* Offset of x[n, h, w, c] and of its image y[n, h/2, w/2, 4c + 2(h%2) + (w%2)]. */
static size_t squeeze_x_index(int n, int h, int w, int c, int H, int W, int C) {
    return (((size_t)n * H + h) * W + w) * C + c;
}

static size_t squeeze_y_index(int n, int h, int w, int c, int H, int W, int C) {
    int Ho = H / 2, Wo = W / 2, Co = 4 * C;
    int co = 4 * c + 2 * (h % 2) + (w % 2);
    return (((size_t)n * Ho + h / 2) * Wo + w / 2) * Co + co;
}

void fce_ref_squeeze_forward(float *y, const float *x, int N, int H, int W, int C) {
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int c = 0; c < C; c++)
                    y[squeeze_y_index(n, h, w, c, H, W, C)] =
                        x[squeeze_x_index(n, h, w, c, H, W, C)];
}

void fce_ref_squeeze_inverse(float *x, const float *y, int N, int H, int W, int C) {
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int c = 0; c < C; c++)
                    x[squeeze_x_index(n, h, w, c, H, W, C)] =
                        y[squeeze_y_index(n, h, w, c, H, W, C)];
}

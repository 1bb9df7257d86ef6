/* act_cpu.c: branch-free leaky ReLU, bit-identical to the reference (act_cpu.h). Written with
 * vector types of 4 floats and a bit mask, since GCC turns the plain select back into a branch
 * (it will not hoist a float multiply out of a condition). */
#include "cpu/act_cpu.h"

#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

/* pos ? a : b, lane by lane, with pos a lane mask (all ones or all zeros). */
static inline v4f select4(v4i pos, v4f a, v4f b) {
    v4i ia, ib;
    memcpy(&ia, &a, 16);
    memcpy(&ib, &b, 16);
    v4i r = (ia & pos) | (ib & ~pos);
    v4f out;
    memcpy(&out, &r, 16);
    return out;
}

void leaky_relu_forward_cpu(float *y, const float *x, size_t n, float slope) {
    const v4f zero = {0.0f, 0.0f, 0.0f, 0.0f}, k = {slope, slope, slope, slope};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v;
        memcpy(&v, x + i, 16);
        const v4f out = select4(v > zero, v, k * v);
        memcpy(y + i, &out, 16);
    }
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

void leaky_relu_backward_cpu(float *dx, const float *dy, const float *x, size_t n, float slope) {
    const v4f zero = {0.0f, 0.0f, 0.0f, 0.0f}, k = {slope, slope, slope, slope};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v, g;
        memcpy(&v, x + i, 16);
        memcpy(&g, dy + i, 16);
        const v4f out = select4(v > zero, g, k * g);
        memcpy(dx + i, &out, 16);
    }
    for (; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
}

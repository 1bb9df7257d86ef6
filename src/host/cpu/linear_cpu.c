/* linear_cpu.c: the dense layer of the fast CPU backend as GEMMs (linear_cpu.h):
 *   y (N × out)  = x (N × in) · Wᵀ + b     (b on the first block's sums)
 *   dx (N × in)  = dy (N × out) · W
 *   dW (out × in) += dyᵀ · x
 *   db (out)     += Σ_n dy                 (double, as the reference: bit-identical). */
#include "cpu/linear_cpu.h"

#include "cpu/gemm_cpu.h"

/* A row-major matrix with `cols` columns, read as it is or transposed. */
static gemm_view dense(const float *p, int cols) {
    return (gemm_view){.kind = GEMM_DENSE, .p = p, .ld = (size_t)cols};
}
static gemm_view transposed(const float *p, int cols) {
    return (gemm_view){.kind = GEMM_DENSE_T, .p = p, .ld = (size_t)cols};
}

void linear_cpu_forward(const cpu_exec *ex, float *y, const float *x, const float *W,
                        const float *b, int N, int in, int out) {
    gemm_args g = {.M = N, .N = out, .K = in, .A = dense(x, in), .B = transposed(W, in), .C = y,
                   .ldc = (size_t)out, .bias = b};
    gemm_cpu(ex, &g, GEMM_SPLIT_M);
}

void linear_cpu_backward(const cpu_exec *ex, float *dx, float *dW, float *db, const float *dy,
                         const float *x, const float *W, int N, int in, int out) {
    if (dx) {
        gemm_args g = {.M = N, .N = in, .K = out, .A = dense(dy, out), .B = dense(W, in), .C = dx,
                       .ldc = (size_t)in};
        gemm_cpu(ex, &g, GEMM_SPLIT_M);
    }
    if (dW) {
        gemm_args g = {.M = out, .N = in, .K = N, .A = transposed(dy, out), .B = dense(x, in),
                       .C = dW, .ldc = (size_t)in, .accumulate = 1};
        gemm_cpu(ex, &g, GEMM_SPLIT_N);
    }
    if (db) cpu_bias_grad(db, dy, (size_t)N, out);
}

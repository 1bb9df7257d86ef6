/* op_case_util.c: what the readers of the op-case registry share (op_cases.h): the tolerance of
 * a class at a shape, buffer sizes from their shape letters, buffer contents from an init kind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"

double op_tol_conv_atol(double K) {
    double k = K / TOL_CONV_K0;
    return k > 1.0 ? TOL_CONV_ATOL * sqrt(k) : TOL_CONV_ATOL;
}

static int conv_out_pixels(const op_shape *s) {
    int Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    int Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    return Ho * Wo;
}

void op_tol_of(op_tol t, const op_shape *s, double *atol, double *rtol) {
    switch (t) {
    case TOL_ELEM: *atol = TOL_ELEM_ATOL; *rtol = TOL_ELEM_RTOL; break;
    case TOL_RED: *atol = TOL_RED_ATOL; *rtol = TOL_RED_RTOL; break;
    case TOL_GEMM: *atol = TOL_GEMM_ATOL; *rtol = TOL_GEMM_RTOL; break;
    case TOL_GEMM_N:
        *atol = TOL_GEMM_ATOL + TOL_GEMM_ATOL_PER_K * (double)s->N;
        *rtol = TOL_GEMM_RTOL;
        break;
    case TOL_CONV_Y:
        *atol = op_tol_conv_atol((double)s->in * s->KH * s->KW);
        *rtol = TOL_CONV_RTOL;
        break;
    case TOL_CONV_DX:
        *atol = op_tol_conv_atol((double)s->out * s->KH * s->KW);
        *rtol = TOL_CONV_RTOL;
        break;
    case TOL_CONV_DW:
        *atol = op_tol_conv_atol((double)s->N * conv_out_pixels(s));
        *rtol = TOL_CONV_RTOL;
        break;
    case TOL_RNG_UNIFORM: *atol = TOL_RNG_UNIFORM_ATOL; *rtol = 0.0; break;
    case TOL_RNG_NORMAL: *atol = TOL_RNG_NORMAL_ATOL; *rtol = 0.0; break;
    case TOL_EXACT:
    case TOL_IN: *atol = 0.0; *rtol = 0.0; break;
    }
}

fce_conv_shape op_shape_conv(const op_shape *s) {
    fce_conv_shape c = {.N = s->N, .H = s->H, .W = s->W, .Cin = s->in, .Cout = s->out,
                        .KH = s->KH, .KW = s->KW, .stride = s->stride, .pad = s->pad};
    return c;
}

const op_case *op_case_find(const char *name) {
    for (int i = 0; i < op_n_cases; i++)
        if (!strcmp(op_cases[i].name, name)) return &op_cases[i];
    return NULL;
}

int op_case_n_bufs(const op_case *c) {
    int n = 0;
    while (n < OP_MAX_BUFS && c->bufs[n].name) n++;
    return n;
}

/* The size one shape letter stands for (op_buf.dims). */
static size_t letter_size(char l, const op_shape *s, const char *dims) {
    switch (l) {
    case 'N': return (size_t)s->N;
    case 'H': return (size_t)s->HW;
    case 'C': return (size_t)s->C;
    case 'c': return (size_t)(s->C / 2);
    case 'Y': return (size_t)s->H;
    case 'X': return (size_t)s->W;
    case 'I': return (size_t)s->in;
    case 'O': return (size_t)s->out;
    case 'D': return (size_t)s->dst_C;
    case 'K': return (size_t)s->count;
    case 'P': return (size_t)conv_out_pixels(s);
    case 'R': return (size_t)s->KH * (size_t)s->KW;
    default:
        if (l >= '0' && l <= '9') return (size_t)(l - '0');
        fprintf(stderr, "op_cases: bad dims letter '%c' in \"%s\"\n", l, dims);
        abort();
    }
}

size_t op_buf_count(const op_buf *b, const op_shape *s) {
    size_t n = 1;
    for (const char *p = b->dims; *p; p++) n *= letter_size(*p, s, b->dims);
    return n;
}

size_t op_buf_elem_bytes(const op_buf *b) { return b->init == INIT_BYTES ? 1 : sizeof(float); }

size_t op_buf_per_sample(const op_buf *b, const op_shape *s) {
    if (b->dims[0] != 'N') return 0;
    size_t n = 1;
    for (const char *p = b->dims + 1; *p; p++) n *= letter_size(*p, s, b->dims);
    return n;
}

/* Fisher-Yates shuffle of 0..n−1 driven by n uniforms in [0, 1), stored as float. */
static void fill_perm(float *h, size_t n, uint64_t seed, op_fill_uniform_fn fill) {
    float *u = malloc((n ? n : 1) * sizeof *u);
    if (!u) abort();
    fill(u, n, seed, 0.0f, 1.0f);
    for (size_t i = 0; i < n; i++) h[i] = (float)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(u[i - 1] * (float)i);
        if (j >= i) j = i - 1;
        float t = h[i - 1];
        h[i - 1] = h[j];
        h[j] = t;
    }
    free(u);
}

/* n uint8 values (uint8)U(lo, hi). */
static void fill_bytes(uint8_t *h, size_t n, uint64_t seed, float lo, float hi,
                       op_fill_uniform_fn fill) {
    float *u = malloc((n ? n : 1) * sizeof *u);
    if (!u) abort();
    fill(u, n, seed, lo, hi);
    for (size_t i = 0; i < n; i++) h[i] = (uint8_t)(u[i] < 255.0f ? u[i] : 255.0f);
    free(u);
}

void op_buf_init(void *h, size_t n, const op_buf *b, const op_shape *s, uint64_t seed,
                 op_fill_uniform_fn fill) {
    float *f = h;
    switch (b->init) {
    case INIT_UNIFORM: fill(f, n, seed, b->lo, b->hi); break;
    case INIT_FAN_IN: {
        const float scale = (float)(1.0 / sqrt((double)s->in * s->KH * s->KW));
        fill(f, n, seed, b->lo * scale, b->hi * scale);
        break;
    }
    case INIT_SIGN:
        fill(f, n, seed, 0.0f, 1.0f);
        for (size_t i = 0; i < n; i++) f[i] = f[i] < 0.5f ? -1.0f : 1.0f;
        break;
    case INIT_LABEL: /* int32 labels in [0, C), written into the float slots bit for bit */
        fill(f, n, seed, 0.0f, 1.0f);
        for (size_t i = 0; i < n; i++) {
            int32_t y = (int32_t)(f[i] * (float)s->C);
            if (y >= s->C) y = s->C - 1;
            memcpy(&f[i], &y, sizeof y);
        }
        break;
    case INIT_PERM: fill_perm(f, n, seed, fill); break;
    case INIT_BYTES: fill_bytes(h, n, seed, b->lo, b->hi, fill); break;
    case INIT_RELU:
        fill(f, n, seed, b->lo, b->hi);
        for (size_t i = 0; i < n; i++) f[i] = f[i] > 0.0f ? f[i] : 0.0f;
        break;
    }
}

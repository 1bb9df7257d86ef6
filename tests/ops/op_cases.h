/* op_cases.h: the one op-case registry and the one set of op tolerances.
 *
 * A case is one call of an op of the backend table (include/fce/backend.h, fce/ops.def) through
 * ctx->ops: its name, its buffers (size as a product of shape letters, role, initial contents, and
 * for outputs a tolerance class), the call itself (run), and the shapes the GPU comparison sweeps.
 * Read by
 *   tests/gpu/test_gpu_ops.c   every case with a family, CPU context vs CUDA context, every shape;
 *   bench/bench_ops.c          fce-bench's entries: a case by name at the model's shapes, its
 *                              buffers and tolerances for the validation against the CPU reference;
 * and the tolerances below by tests/gpu/test_gpu_conv.c (TOL_CONV_*) and
 * tests/cpu/test_ref_gradcheck.c (TOL_FD_*).
 *
 * Adding an op: one row here (tests/ops/op_cases.c) puts it into the GPU comparison; fce-bench
 * times it once bench_ops.c places it at a model shape. */
#ifndef FCE_OP_CASES_H
#define FCE_OP_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"

// ---- tolerances: |got − ref| ≤ atol + rtol·|ref| (STYLE 6.11) ----

/* Elementwise kernels: the same formula, in double and rounded once on both sides. */
#define TOL_ELEM_ATOL 1e-6
#define TOL_ELEM_RTOL 1e-6
/* Reductions (logdet, logp, actnorm stats, parameter gradients, NCE sums): double partial sums in
 * a fixed tree order on the GPU versus index order on the CPU. */
#define TOL_RED_ATOL 1e-5
#define TOL_RED_RTOL 1e-5
/* cuBLAS SGEMM in exact FP32 (FMA, no TF32) versus the double-accumulating reference. */
#define TOL_GEMM_ATOL 1e-5
#define TOL_GEMM_RTOL 1e-4
/* dW sums over the N rows (up to 10000): the FP32 rounding error of a K-term dot product of
 * U(−1, 1) products grows like K, not like the result (partial sums random-walk to 0.33·√j): a
 * sequential FMA chain has rms error ≈ 6e-9·K, 6e-6 at K = 1000 and 6e-5 at 10000 (host
 * simulation). With a flat 1e-5, an entry whose sum lands near 0 failed in 4 of 6 simulated runs
 * of the two dW rows, so TOL_GEMM_N adds 3e-8·N (≥ 5 rms); y and dx sum over in, out ≤ 130. */
#define TOL_GEMM_ATOL_PER_K 3e-8
/* cuDNN in exact FP32 (CUDNN_FMA_MATH: no TF32) versus the reference, which sums each output in
 * double and rounds once. The data keep every result O(1)–O(10): x, dy ~ U(−1, 1) and
 * w ~ U(−1, 1)/√fan_in (fan_in = Cin·KH·KW, as the models initialise). The GPU error of one output
 * is then the FP32 rounding of a sum of K products (K = Cin·KH·KW for y, ≤ Cout·KH·KW for dx,
 * N·Ho·Wo for dw and db), whose rounding errors have random signs and add up like a random walk:
 * it grows like √K·u·(size of the partial sums), u = 6e−8; the GEMM-, FFT- or Winograd-based
 * algorithms cuDNN may pick block the sum but do not change that growth. So the absolute part is
 * 1e−5 at K ≤ 64 (the GEMM class) and grows as √(K/64): 8.5e−5 at the largest sum,
 * K = 512·3·3 = 4608. The relative part, 1e−4, covers the few outputs of size 10 and more. */
#define TOL_CONV_ATOL 1e-5
#define TOL_CONV_RTOL 1e-4
#define TOL_CONV_K0 64.0
/* Philox uniforms: identical integer work and the same two float roundings: bitwise. */
#define TOL_RNG_UNIFORM_ATOL 0.0
/* Philox normals: double log/cos on the GPU may differ from libm by an ulp of double, which
 * changes the rounded float in rare ties (philox.h): at most 1 float ulp, < 1e-6 for |x| < 16. */
#define TOL_RNG_NORMAL_ATOL 1e-6
/* Finite-difference gradient checks of the reference (float, 4-point stencil; STYLE 6.11): the
 * analytic value against the FD value as reference. */
#define TOL_FD_ATOL 1e-3
#define TOL_FD_RTOL 1e-2

/* The tolerance class of an output buffer (TOL_IN: an input, not compared). */
typedef enum op_tol {
    TOL_IN = 0,
    TOL_ELEM,
    TOL_RED,
    TOL_GEMM,
    TOL_GEMM_N,      /* TOL_GEMM plus TOL_GEMM_ATOL_PER_K·N: a sum over the N rows */
    TOL_CONV_Y,      /* the conv class at K = Cin·KH·KW */
    TOL_CONV_DX,     /* at K = Cout·KH·KW */
    TOL_CONV_DW,     /* at K = N·Ho·Wo */
    TOL_RNG_UNIFORM,
    TOL_RNG_NORMAL,
    TOL_EXACT,       /* bitwise (the u8 image ops) */
} op_tol;

/* atol + rtol·|ref| of class t at shape s. */
typedef struct op_shape op_shape;
void op_tol_of(op_tol t, const op_shape *s, double *atol, double *rtol);
/* The absolute part of the conv class for a sum of K products: TOL_CONV_ATOL·√max(1, K/K0). */
double op_tol_conv_atol(double K);

// ---- shapes ----

/* One shape for every op; each case uses the fields it needs (flat ops use N as the length). */
struct op_shape {
    int N, HW, C;                     /* samples, pixels per sample, channels */
    int in, out;                      /* dense layer; convolution Cin, Cout */
    int dst_C, dst_c0, src_c0, count; /* channels_copy (src_C = C) */
    int H, W;                         /* squeeze and convolution: image height and width */
    int KH, KW, stride, pad;          /* convolution */
};
/* The convolution of a shape (N, H, W, in, out, KH, KW, stride, pad). */
fce_conv_shape op_shape_conv(const op_shape *s);

// ---- buffers ----

typedef enum op_role {
    OP_IN = 0, /* read only, not compared */
    OP_OUT,    /* overwritten: pre-filled with garbage, so = versus += is checked */
    OP_ACC,    /* read and updated (accumulated, or in place): pre-filled with values, compared */
} op_role;

typedef enum op_init {
    INIT_UNIFORM = 0, /* U(lo, hi); lo == hi: a constant */
    INIT_FAN_IN,      /* U(lo, hi)/√(in·KH·KW): conv weights, as the models initialise */
    INIT_PERM,        /* a permutation of 0..n−1, stored as float (backend.h's perm) */
    INIT_SIGN,        /* ±1 */
    INIT_LABEL,       /* int32 class labels in [0, C), stored bit for bit in the float slots */
    INIT_BYTES,       /* uint8 elements: (uint8)U(lo, hi) */
    INIT_RELU,        /* max(0, U(lo, hi)): a ReLU's output, exact zeros included */
} op_init;

typedef struct op_buf {
    const char *name;
    /* product of: N, H (HW), C, c (C/2), Y (H), X (W), I (in), O (out), D (dst_C), K (count),
     * P (Ho·Wo), R (KH·KW), digits. A batch-major buffer starts with N. */
    const char *dims;
    op_role role;
    op_init init;
    float lo, hi;
    op_tol tol; /* outputs: the comparison's class */
} op_buf;

#define OP_MAX_BUFS 12

/* The Philox seed and offset of the cases with random numbers (fills, dequantize); the offset
 * crosses the 2^32 boundary of the counter's low word within the longer fills. */
#define OP_RNG_SEED 0x9E3779B97F4A7C15ull
#define OP_RNG_OFFSET ((1ull << 32) - 1000)

// ---- cases ----

/* Runs the case's call on ctx with its buffers b (in the order of bufs) at shape s; plan is the
 * backend's conv plan of op_shape_conv(s) for the conv cases, else NULL. */
typedef fce_status (*op_run_fn)(fce_ctx *ctx, void *const *b, const op_shape *s,
                                const fce_conv_plan *plan);

typedef struct op_case {
    const char *family; /* test_gpu_ops' group; NULL: fce-bench only (test_gpu_conv and
                           test_gpu_ops' preprocess test cover those ops their own way) */
    const char *name;
    op_run_fn run;
    op_buf bufs[OP_MAX_BUFS]; /* ends at the first entry without a name */
    const op_shape *shapes;   /* the GPU comparison's shapes */
    int n_shapes;
} op_case;

extern const op_case op_cases[];
extern const int op_n_cases;

/* The convolution shapes every backend is compared on (test_gpu_conv.c, test_cpu_fast_ops.c):
 * the cifar10 preset's coupling-network convs (the first OP_N_CONV_SHAPES_CIFAR_COUPLING, which
 * the TF32 bound test also uses), the EBM at 32×32, the tiny flow and the EBM at 16×16, and odd
 * shapes (sizes that are not multiples of any block, K beyond the CPU GEMM's K block, strides and
 * paddings that leave pixels uncovered). */
extern const fce_conv_shape op_conv_shapes[];
extern const int op_n_conv_shapes;
#define OP_N_CONV_SHAPES_CIFAR_COUPLING 9

/* The case called `name`, or NULL. */
const op_case *op_case_find(const char *name);
int op_case_n_bufs(const op_case *c);

/* Elements and bytes of buffer b at shape s (aborts on an unknown dims letter). */
size_t op_buf_count(const op_buf *b, const op_shape *s);
size_t op_buf_elem_bytes(const op_buf *b);
/* A batch-major buffer's elements per sample (0 when it is not batch-major). */
size_t op_buf_per_sample(const op_buf *b, const op_shape *s);

/* x[i] = lo + (hi − lo)·uniform(seed, i): the caller's seeded generator. */
typedef void (*op_fill_uniform_fn)(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Host contents of buffer b (n elements of op_buf_elem_bytes each) from `fill` and seed. */
void op_buf_init(void *h, size_t n, const op_buf *b, const op_shape *s, uint64_t seed,
                 op_fill_uniform_fn fill);

#endif

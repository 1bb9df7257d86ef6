/* bench.h: fce-bench's internal interface (STYLE 6.12), shared by the bench/ sources.
 *
 *   bench_main.c     command line, orchestration, the human table and the --json file
 *   bench_util.c     host RNG fills, statistics, the rep timer (clock_gettime on the CPU backend,
 *                    cudaEvents on the context's stream on CUDA), the L2 flush, JSON helpers
 *   bench_ops.c      the registry of op entries {name, variant, tag, shape, flops, bytes, op case}
 *                    at the preset's shapes, validation against the CPU reference and timing; the
 *                    buffers, tolerances and calls are the op-case registry's (tests/ops)
 *   bench_phases.c   whole training phases (mle_step, fce_ebm_step, fce_flow_step, sample) and the
 *                    FLOP model of the Glow and the EBM (SPEC f)
 *   bench_counts.c   cost counters per phase (the emulated GPU only: fce-bench-emu), their table,
 *                    JSON and the budgets check
 *   bench_device.h   the device hooks: bench_device_cuda.c with CUDA, bench_device_none.c without,
 *                    bench_device_emu.c on the emulated GPU
 *
 * Every timed number is in milliseconds. Nothing here is used by the product (fce-gpu). */
#ifndef FCE_BENCH_H
#define FCE_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fce/backend.h"
#include "fce/iglow.h"
#include "op_cases.h"

#define BENCH_MAX_BATCHES 8

/* ---- options ---- */

typedef struct bench_opts {
    char device[32];     /* auto | cpu | N */
    char preset[16];     /* cifar10 | svhn | tiny ("" = cifar10 on a GPU, tiny on the CPU) */
    int batches[BENCH_MAX_BATCHES];
    int n_batches;       /* phase batches (default 64,128; tiny 4,8) */
    int op_batch;        /* batch of the op entries (0 = the first phase batch) */
    int reps, warmup;    /* op entries */
    int phase_reps, phase_warmup;
    char phases[128];    /* comma list or "all" / "none" */
    char filter[128];    /* op entries whose name or tag contains one of these comma-separated
                            substrings; "all" / "none" */
    char variant[32];    /* "all" or one variant name */
    char json[1024];
    double peak_gbs, peak_tflops; /* > 0: given, not measured */
    int no_flush;
    int inject_bad;      /* register the test-only variant that must fail validation */
    int list, flops_check, require_gpu;
    int count_only;      /* emulated GPU: count the phases' operations without running kernels */
    int check_budgets;   /* fail (exit 1) when a phase exceeds its budget (bench_counts.c) */
    double budget_scale; /* multiplies every budget (a test shrinks them to see the check fail) */
} bench_opts;

/* ---- statistics of one timed series ---- */

typedef struct bench_stats {
    double median, mean, min, max, p10, p25, p75, p90;
    int n;
} bench_stats;

void bench_stats_of(double *ms, int n, bench_stats *s); /* sorts ms */

/* ---- environment: contexts, peaks, the flush buffer ---- */

typedef struct bench_peaks {
    double gbs;               /* peak bandwidth used for % of roofline */
    char gbs_method[96];
    double tflops;            /* peak FP32 FLOP rate used for % of roofline (our math is FP32) */
    char tflops_method[96];
    double tflops_tf32;       /* measured cuBLAS TF32 GEMM (0 = not measured) */
    double nominal_tflops_fp32, nominal_tflops_tf32, nominal_gbs; /* by device name; 0 = unknown */
} bench_peaks;

typedef struct bench_env {
    bench_opts opt;
    fce_ctx ctx;         /* the active backend */
    fce_ctx cpu;         /* the CPU reference (the validation oracle) */
    int is_cuda;
    void *flush_buf;     /* CUDA: device buffer; CPU: host buffer */
    size_t flush_bytes;
    unsigned flush_count; /* varies the byte the flush writes */
    bench_peaks peaks;
    fce_iglow_config gc; /* the preset's Glow at 32×32×3 */
    int ebm_width_scale; /* 0 = the paper's EBM; tiny: 8 */
} bench_env;

/* ---- host helpers (bench_util.c) ---- */

uint64_t bench_rng_next(uint64_t *s);
void bench_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
void bench_fill_u8(uint8_t *x, size_t n, uint64_t seed);
double bench_now_ms(void);
/* Resident set size of this process in bytes (0 when unknown). */
size_t bench_rss_bytes(void);

/* The rep timer: `warmup` untimed calls, then `reps` timed calls of fn(arg), each preceded by the
 * L2 flush (outside the timed region). ms receives `reps` values. CUDA: events on ctx's stream;
 * CPU: clock_gettime around each call (the CPU ops are synchronous). */
typedef fce_status (*bench_fn)(void *arg);
fce_status bench_time(bench_env *env, fce_ctx *ctx, int warmup, int reps, bench_fn fn, void *arg,
                      double *ms);
fce_status bench_flush(bench_env *env, fce_ctx *ctx);
fce_status bench_flush_init(bench_env *env);
void bench_flush_free(bench_env *env);

/* JSON writing */
void bench_json_str(FILE *f, const char *s);
void bench_json_num(FILE *f, double v); /* null when not finite */
/* `, "key": value` after an earlier member of the same object */
void bench_json_field_num(FILE *f, const char *key, double v);
void bench_json_field_str(FILE *f, const char *key, const char *s);
void bench_json_stats(FILE *f, const bench_stats *s);

/* ---- op registry (bench_ops.c) ---- */

/* A candidate's run function: the op-case signature (tests/ops/op_cases.h), the buffers in the
 * order of the case's bufs, the conv plan for convolutions. */
typedef op_run_fn bench_run_fn;

typedef struct bench_entry {
    char name[40];     /* the op: actnorm_forward, conv2d_backward_filter, ... */
    char variant[32];  /* prod, or a candidate */
    char tag[40];      /* where the model runs it: glow.l0.nn.conv1x1, ebm.conv2, ... */
    char shape[64];    /* human-readable shape */
    const op_case *oc; /* the registry case: buffers, tolerances, and the production call */
    op_shape s;        /* the case's shape at the timed batch (s.KH > 0: a convolution) */
    int N;             /* timed batch (images) */
    int n_val;         /* batch validated against the reference (≤ N; see bench_ops.c) */
    double flops, bytes; /* per timed call at batch N */
    bench_run_fn run;  /* the variant (the production one is oc->run, also the reference's) */
    /* results */
    int validated_ok;  /* 1 ok, 0 FAILED */
    char fail_reason[160];
    double max_abs_err, err_ratio; /* err_ratio = max |got − ref|/(atol + rtol·|ref|): ≤ 1 passes */
    double atol, rtol; /* the tolerance of the output that set err_ratio */
    int timed;
    bench_stats ms;
} bench_entry;

typedef struct bench_registry {
    bench_entry *e;
    int n, cap;
} bench_registry;

fce_status bench_registry_build(bench_registry *r, const bench_env *env, int N);
void bench_registry_free(bench_registry *r);
/* Adds a copy of entry `base` with another variant name and run function (candidates). */
fce_status bench_registry_add_variant(bench_registry *r, int base, const char *variant,
                                      bench_run_fn run);
/* Adds the candidate variants of bench_variants.c's table to their production entries. */
fce_status bench_register_variants(bench_registry *r);
/* Registers the test-only variant "test_bad_scale" of the first actnorm_forward entry: the
 * production op followed by y *= 1.001, which validation must reject. */
fce_status bench_registry_inject_bad(bench_registry *r);
/* Validates (and, when valid, times) entry e. A failed validation is a result, not an error:
 * the return value is an error only when a backend call failed. */
fce_status bench_entry_run(bench_env *env, bench_entry *e);
int bench_entry_selected(const bench_opts *o, const bench_entry *e);

/* ---- phases and FLOP model (bench_phases.c) ---- */

/* ---- cost counters of one phase step (bench_counts.c; the emulated GPU only) ---- */

typedef struct bench_counts {
    int valid;
    long long launches, unaccounted, gemms, gemms_tf32, dnn_calls, memsets, copies, syncs;
    long long allocs, frees, stream_ops;
    long long graph_launches, host_ops; /* host submissions = host_ops + graph_launches */
    double kernel_bytes_read, kernel_bytes_written, lib_bytes, copy_bytes, memset_bytes;
} bench_counts;

typedef struct bench_phase_result {
    char name[32];
    int batch;
    int ok;
    bench_stats ms;
    double img_per_s;
    double flops;                  /* convs and GEMMs of the phase as implemented */
    double floor_ms_fp32;          /* flops / peaks.tflops */
    double floor_ms_tf32;          /* flops / nominal TF32 (SPEC f convention) or measured TF32 */
    char floor_tf32_basis[48];
    double mem_bytes;
    char mem_method[96];
    bench_counts counts; /* one steady-state step, when the device counts (counts.valid) */
} bench_phase_result;

#define BENCH_N_PHASES 4
extern const char *const bench_phase_names[BENCH_N_PHASES];

int bench_phase_selected(const bench_opts *o, const char *name);
/* Runs the selected phases at batch N; results appended to res (capacity BENCH_N_PHASES). */
fce_status bench_phases_run(bench_env *env, int N, bench_phase_result *res, int *n_res);

/* ---- cost counters (bench_counts.c) ---- */

/* The counters of one more call of fn(arg) after the phase's timed reps (a steady-state step):
 * ctx is synchronised first, then the counters are read right before and after the call. */
fce_status bench_count_call(fce_ctx *ctx, bench_fn fn, void *arg, bench_counts *out);
/* The counts table (nothing when no phase has counts). */
void bench_counts_print(const bench_phase_result *r, int n);
/* `, "counts": {...}` of a phase (null without counts). */
void bench_counts_json(FILE *f, const bench_counts *c);
/* Every phase with counts against its budget at the preset (cifar10: the documented budgets);
 * prints each verdict; returns the number of phases over budget (a phase without a budget at this
 * preset or batch counts as over, so that a check cannot pass by measuring nothing). */
int bench_counts_check(const bench_env *env, const bench_phase_result *r, int n);

/* FLOPs (2·MACs of convs and GEMMs) per image. edge = 1 adds openai/glow's edge channel to the
 * coupling network's 3×3 convs (SPEC e, f), to check the model against SPEC f. */
double bench_glow_forward_flops(const fce_iglow_config *g, int edge);
double bench_ebm_forward_flops(int H, int W, int C, int width_scale);
double bench_ebm_first_layer_flops(int H, int W, int C, int width_scale);
/* Flow trainable floats as the parameter arena lays them out (64-float alignment per tensor). */
size_t bench_glow_trainable(const fce_iglow_config *g);
size_t bench_ebm_trainable(int H, int W, int C, int width_scale);
/* Prints the FLOP model against SPEC f's numbers; returns the number of mismatches (> 0.5%). */
int bench_flops_check(FILE *out);

#endif

/* bench_counts.c: the cost counters of one steady-state step of each phase (issue 12), their table
 * and JSON, and the budgets the CI test holds the step to.
 *
 * Counted on the emulated GPU only (fce-bench-emu; tests/emu/include/emu_counters.h): custom kernel
 * launches, cuBLAS GEMMs (and how many in TF32), cuDNN calls, memsets, copies, host syncs
 * (cudaStreamSynchronize / cudaDeviceSynchronize), device allocations and
 * frees; bytes: kernels' reads and writes by each launcher's formula (FCE_TRAFFIC), the library
 * calls' operands, copies and memsets. Stream operations = launches + GEMMs + cuDNN calls +
 * memsets + copies, all of them whether the host submits them one by one or a CUDA graph launch
 * runs them; host submissions = the operations the host submitted itself + its graph launches
 * (the step's uploads, its one graph launch, its read-back). Launch and operation counts do not
 * depend on the picture size or the batch (only on L, K and the code path); bytes do.
 *
 * Budgets (README "Cost per step"): the cifar10 preset (L 3, K 32, width 512) at batch 64, as
 * fce-bench-emu --count-only --preset cifar10 --batch 64 counts them. A step must not allocate or
 * free device memory, and may synchronise with the host at most once (its one read-back); with
 * CUDA graphs on (FCE_CUDA_GRAPHS not 0, the default) the host submits at most
 * BENCH_HOST_SUBMISSIONS operations per step (README "CUDA graphs"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_device.h"
#include "fce/log.h"

fce_status bench_count_call(fce_ctx *ctx, bench_fn fn, void *arg, bench_counts *out) {
    memset(out, 0, sizeof *out);
    if (!bench_dev_counters_available()) return FCE_STATUS_OK;
    FCE_TRY(ctx->ops->sync(ctx));
    bench_counts a, b;
    bench_dev_counters_read(&a);
    FCE_TRY(fn(arg));
    bench_dev_counters_read(&b);
    out->valid = 1;
#define COUNT_DIFF(f) out->f = b.f - a.f;
    COUNT_DIFF(launches) COUNT_DIFF(unaccounted) COUNT_DIFF(gemms) COUNT_DIFF(gemms_tf32)
    COUNT_DIFF(dnn_calls) COUNT_DIFF(memsets) COUNT_DIFF(copies) COUNT_DIFF(syncs)
    COUNT_DIFF(allocs) COUNT_DIFF(frees) COUNT_DIFF(stream_ops) COUNT_DIFF(kernel_bytes_read)
    COUNT_DIFF(kernel_bytes_written) COUNT_DIFF(lib_bytes) COUNT_DIFF(copy_bytes)
    COUNT_DIFF(memset_bytes) COUNT_DIFF(graph_launches) COUNT_DIFF(host_ops)
#undef COUNT_DIFF
    return FCE_STATUS_OK;
}

void bench_counts_print(const bench_phase_result *r, int n) {
    int any = 0;
    for (int i = 0; i < n; i++) any |= r[i].counts.valid;
    if (!any) return;
    printf("\ncost of one steady-state step (emulated GPU; bytes by the launchers' formulas)\n");
    printf("%-14s %5s %10s %8s %11s %6s %7s %6s %5s %11s %13s %10s %9s %12s\n", "phase", "batch",
           "stream ops", "launches", "GEMMs(tf32)", "cuDNN", "memsets", "copies", "syncs",
           "alloc/free", "kernel GB r+w", "lib GB", "copy MB", "host(graphs)");
    for (int i = 0; i < n; i++) {
        const bench_counts *c = &r[i].counts;
        if (!c->valid) continue;
        char gemm[32], af[32], host[48];
        snprintf(gemm, sizeof gemm, "%lld(%lld)", c->gemms, c->gemms_tf32);
        snprintf(af, sizeof af, "%lld/%lld", c->allocs, c->frees);
        snprintf(host, sizeof host, "%lld(%lld)", c->host_ops + c->graph_launches, c->graph_launches);
        printf("%-14s %5d %10lld %8lld %11s %6lld %7lld %6lld %5lld %11s %6.2f+%-6.2f %10.2f %9.2f %12s\n",
               r[i].name, r[i].batch, c->stream_ops, c->launches, gemm, c->dnn_calls, c->memsets,
               c->copies, c->syncs, af, c->kernel_bytes_read / 1e9, c->kernel_bytes_written / 1e9,
               c->lib_bytes / 1e9, c->copy_bytes / 1e6, host);
        if (c->unaccounted)
            printf("  %lld launches had no FCE_TRAFFIC declaration: their bytes are missing\n",
                   c->unaccounted);
    }
    fflush(stdout);
}

void bench_counts_json(FILE *f, const bench_counts *c) {
    fputs(", \"counts\": ", f);
    if (!c->valid) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\"stream_ops\": %lld, \"launches\": %lld, \"gemms\": %lld, \"gemms_tf32\": %lld, "
               "\"dnn_calls\": %lld, \"memsets\": %lld, \"copies\": %lld, \"host_syncs\": %lld, "
               "\"allocs\": %lld, \"frees\": %lld, \"unaccounted_launches\": %lld, "
               "\"graph_launches\": %lld, \"host_submissions\": %lld",
            c->stream_ops, c->launches, c->gemms, c->gemms_tf32, c->dnn_calls, c->memsets,
            c->copies, c->syncs, c->allocs, c->frees, c->unaccounted, c->graph_launches,
            c->host_ops + c->graph_launches);
    bench_json_field_num(f, "kernel_bytes_read", c->kernel_bytes_read);
    bench_json_field_num(f, "kernel_bytes_written", c->kernel_bytes_written);
    bench_json_field_num(f, "library_bytes", c->lib_bytes);
    bench_json_field_num(f, "copy_bytes", c->copy_bytes);
    bench_json_field_num(f, "memset_bytes", c->memset_bytes);
    fputc('}', f);
}

/* ---- budgets ---- */

/* uploads (batch, per-step values), one graph launch, one read-back, with room for one more */
#define BENCH_HOST_SUBMISSIONS 6

typedef struct phase_budget {
    const char *phase;
    long long stream_ops, launches, syncs;
    double kernel_bytes; /* read + written */
} phase_budget;

/* cifar10 preset, batch 64 (README "Cost per step"): issue 12's targets for stream operations and
 * launches, one host sync per step (none for sampling), and kernel bytes at most 60% of what the
 * unfused code moved (29.95 / 23.25 / 58.93 / 11.58 GB). */
static const phase_budget cifar10_b64[] = {
    {"mle_step", 2200, 1000, 1, 0.6 * 29.95e9},
    {"fce_ebm_step", 1650, 1000, 1, 0.6 * 23.25e9},
    {"fce_flow_step", 4400, 2000, 1, 0.6 * 58.93e9},
    {"sample", 900, 500, 0, 0.6 * 11.58e9},
};

static const phase_budget *budget_of(const bench_env *env, const bench_phase_result *r) {
    const fce_iglow_config *g = &env->gc;
    if (g->L != 3 || g->K != 32 || g->width != 512 || g->affine || env->ebm_width_scale != 0 ||
        r->batch != 64)
        return NULL;
    for (size_t i = 0; i < sizeof cifar10_b64 / sizeof cifar10_b64[0]; i++)
        if (!strcmp(cifar10_b64[i].phase, r->name)) return &cifar10_b64[i];
    return NULL;
}

/* Are CUDA graphs on for the phases (backend/step_graph.h: FCE_CUDA_GRAPHS not 0)? */
static int graphs_on(void) {
    const char *e = getenv("FCE_CUDA_GRAPHS");
    return !(e && strcmp(e, "0") == 0);
}

/* Prints one line per exceeded limit; returns how many. */
static int over(const char *phase, const char *what, double got, double limit) {
    if (got <= limit) return 0;
    printf("  BUDGET EXCEEDED: %s %s %.6g > %.6g\n", phase, what, got, limit);
    return 1;
}

int bench_counts_check(const bench_env *env, const bench_phase_result *r, int n) {
    const double s = env->opt.budget_scale > 0 ? env->opt.budget_scale : 1.0;
    int bad = 0;
    printf("\nbudgets (cifar10 preset, batch 64%s):\n", s != 1.0 ? ", scaled" : "");
    for (int i = 0; i < n; i++) {
        const bench_counts *c = &r[i].counts;
        const phase_budget *b = budget_of(env, &r[i]);
        if (!c->valid || !b) {
            printf("  %-14s batch %d: no %s: FAILED\n", r[i].name, r[i].batch,
                   c->valid ? "budget for this preset and batch" : "counts (not the emulated GPU)");
            bad++;
            continue;
        }
        int k = 0;
        k += over(r[i].name, "stream ops", (double)c->stream_ops, floor(s * (double)b->stream_ops));
        k += over(r[i].name, "launches", (double)c->launches, floor(s * (double)b->launches));
        k += over(r[i].name, "host syncs", (double)c->syncs, floor(s * (double)b->syncs));
        k += over(r[i].name, "allocations", (double)(c->allocs + c->frees), 0.0);
        if (graphs_on())
            k += over(r[i].name, "host submissions", (double)(c->host_ops + c->graph_launches),
                      floor(s * BENCH_HOST_SUBMISSIONS));
        k += over(r[i].name, "kernel bytes", c->kernel_bytes_read + c->kernel_bytes_written,
                  s * b->kernel_bytes);
        k += over(r[i].name, "launches without a byte formula", (double)c->unaccounted, 0.0);
        printf("  %-14s %lld/%lld stream ops, %lld/%lld launches, %lld/%lld syncs, %lld allocs, "
               "%.2f/%.2f GB kernel bytes, %lld host submissions (%lld graph launches): %s\n",
               r[i].name, c->stream_ops, (long long)floor(s * (double)b->stream_ops), c->launches,
               (long long)floor(s * (double)b->launches), c->syncs,
               (long long)floor(s * (double)b->syncs), c->allocs + c->frees,
               (c->kernel_bytes_read + c->kernel_bytes_written) / 1e9, s * b->kernel_bytes / 1e9,
               c->host_ops + c->graph_launches, c->graph_launches, k ? "OVER" : "ok");
        bad += k != 0;
    }
    fflush(stdout);
    return bad;
}

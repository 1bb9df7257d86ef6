/* bench_device_none.c: bench_device.h for builds without CUDA. Only bench_dev_provenance is ever
 * called there (every version is "none"); the others exist so the bench links, and fail. */
#include <stdio.h>
#include <string.h>

#include "bench_device.h"
#include "fce/log.h"

void bench_dev_provenance(const fce_ctx *ctx, bench_provenance *p) {
    (void)ctx;
    bench_provenance_none(p);
}

static fce_status no_cuda(const char *what) {
    fce_log_error("fce-bench: %s needs CUDA; this build has none", what);
    return FCE_STATUS_ERR_UNSUPPORTED;
}

fce_status bench_dev_flush_alloc(const fce_ctx *ctx, void **buf, size_t *bytes) {
    (void)ctx;
    *buf = NULL;
    *bytes = 0;
    return no_cuda("the device L2 flush");
}

void bench_dev_flush_free(void *buf) { (void)buf; }

fce_status bench_dev_flush(fce_ctx *ctx, void *buf, size_t bytes, int rep) {
    (void)ctx, (void)buf, (void)bytes, (void)rep;
    return no_cuda("the device L2 flush");
}

fce_status bench_dev_time(bench_env *env, fce_ctx *ctx, int warmup, int reps, bench_fn fn,
                          void *arg, double *ms) {
    (void)env, (void)ctx, (void)warmup, (void)reps, (void)fn, (void)arg, (void)ms;
    return no_cuda("the event timer");
}

fce_status bench_dev_peak_bandwidth(fce_ctx *ctx, double *gbs) {
    (void)ctx;
    *gbs = 0;
    return no_cuda("the device bandwidth probe");
}

fce_status bench_dev_peak_gemm(fce_ctx *ctx, int n, int tf32, double *tflops) {
    (void)ctx, (void)n, (void)tf32;
    *tflops = 0;
    return no_cuda("the cuBLAS GEMM probe");
}

fce_status bench_dev_mem_used(fce_ctx *ctx, size_t *used) {
    (void)ctx;
    *used = 0;
    return no_cuda("cudaMemGetInfo");
}

/* ---- cost counters: only on the emulated GPU (bench_device_emu.c) ---- */

int bench_dev_counters_available(void) { return 0; }

void bench_dev_counters_read(bench_counts *c) { memset(c, 0, sizeof *c); }

int bench_dev_set_count_only(int on) { return on ? -1 : 0; }

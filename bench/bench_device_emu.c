/* bench_device_emu.c: bench_device.h on the emulated GPU of tests/emu (the fce-bench-emu build:
 * src/host/cuda on the fake CUDA runtime, cuBLAS and cuDNN, with the kernels run on the CPU). Its
 * purpose is the cost counters (emu_counters.h): launches, library calls, memsets, copies, host
 * syncs, allocations and bytes per phase step. Times are wall-clock times of the emulation and say
 * nothing about a GPU; there is no L2 to flush and no peak to measure (the floors stay empty). */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "bench_device.h"
#include "emu_counters.h"
#include "fce/log.h"

void bench_dev_provenance(const fce_ctx *ctx, bench_provenance *p) {
    bench_provenance_none(p);
    if (!ctx || ctx->kind != FCE_BACKEND_KIND_CUDA) return;
    snprintf(p->gpu_name, sizeof p->gpu_name, "%s (CPU emulation, tests/emu)", ctx->device_name);
    snprintf(p->compute_capability, sizeof p->compute_capability, "emulated");
}

fce_status bench_dev_flush_alloc(const fce_ctx *ctx, void **buf, size_t *bytes) {
    (void)ctx;
    *buf = NULL; /* no cache to flush: bench_flush does nothing without a buffer */
    *bytes = 0;
    return FCE_STATUS_OK;
}

void bench_dev_flush_free(void *buf) { (void)buf; }

fce_status bench_dev_flush(fce_ctx *ctx, void *buf, size_t bytes, int rep) {
    (void)ctx, (void)buf, (void)bytes, (void)rep;
    return FCE_STATUS_OK;
}

fce_status bench_dev_time(bench_env *env, fce_ctx *ctx, int warmup, int reps, bench_fn fn,
                          void *arg, double *ms) {
    (void)env;
    for (int i = 0; i < warmup; i++) FCE_TRY(fn(arg));
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now_ms();
        FCE_TRY(fn(arg));
        FCE_TRY(ctx->ops->sync(ctx));
        ms[r] = bench_now_ms() - t0;
    }
    return FCE_STATUS_OK;
}

fce_status bench_dev_peak_bandwidth(fce_ctx *ctx, double *gbs) {
    (void)ctx;
    *gbs = 0; /* not measured: an emulation has no bandwidth worth a roofline */
    return FCE_STATUS_OK;
}

fce_status bench_dev_peak_gemm(fce_ctx *ctx, int n, int tf32, double *tflops) {
    (void)ctx, (void)n, (void)tf32;
    *tflops = 0;
    return FCE_STATUS_OK;
}

fce_status bench_dev_mem_used(fce_ctx *ctx, size_t *used) {
    FCE_TRY(ctx->ops->sync(ctx));
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return FCE_STATUS_ERR_CUDA;
    *used = total_b - free_b;
    return FCE_STATUS_OK;
}

int bench_dev_counters_available(void) { return 1; }

void bench_dev_counters_read(bench_counts *c) {
    fce_emu_counters e;
    fce_emu_counters_read(&e);
    memset(c, 0, sizeof *c);
    c->valid = 1;
    c->launches = e.launches;
    c->unaccounted = e.unaccounted_launches;
    c->gemms = e.gemms;
    c->gemms_tf32 = e.gemms_tf32;
    c->dnn_calls = e.dnn_calls;
    c->memsets = e.memsets;
    c->copies = e.copies_h2d + e.copies_d2h + e.copies_d2d;
    c->syncs = e.host_syncs;
    c->allocs = e.allocs;
    c->frees = e.frees;
    c->stream_ops = fce_emu_stream_ops(&e);
    c->graph_launches = e.graph_launches;
    c->host_ops = e.host_ops;
    c->kernel_bytes_read = e.kernel_bytes_read;
    c->kernel_bytes_written = e.kernel_bytes_written;
    c->lib_bytes = e.gemm_bytes + e.dnn_bytes;
    c->copy_bytes = e.copy_bytes;
    c->memset_bytes = e.memset_bytes;
}

int bench_dev_set_count_only(int on) {
    fce_emu_set_count_only(on);
    return 0;
}

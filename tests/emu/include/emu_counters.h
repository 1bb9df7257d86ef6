/* tests/emu/include/emu_counters.h: the cost counters of the emulated GPU (tests/emu), for C and
 * C++. Every stream operation the CUDA backend issues through the fake runtime, cuBLAS and cuDNN
 * is counted, with the bytes it moves, and so are the host synchronisations and the device
 * allocations. fce-bench, built against the emulation (fce-bench-emu), reads them around one
 * steady-state call of each training phase; nothing in the product links this.
 *
 * Kernel bytes come from each launcher's own formula (FCE_TRAFFIC in src/kernels/common.cuh: the
 * bytes the kernels of one launcher call read and write, counted at its first launch); a launch
 * outside any FCE_TRAFFIC scope is counted in unaccounted_launches, which the kernel test
 * requires to stay 0. GEMM bytes: A and B read, C read when beta != 0, C written. cuDNN bytes: its
 * inputs read, the output read when beta != 0, the output written (the workspace not counted).
 *
 * Count-only mode (fce_emu_set_count_only(1), before the first allocation that should be lazy):
 * launches, GEMMs, cuDNN calls, D2D copies and memsets are checked and counted but not executed,
 * and new device memory is mapped lazily and not filled, so a phase of the full cifar10 model can
 * be counted in seconds. Host code sees zeros where results would be: the counts equal a real
 * run's as long as no decision depends on a computed value (test_bench_counts compares both on a
 * small model).
 *
 * Graphs (stream capture, fake_cudart.cpp): an operation recorded into a graph is counted when it
 * RUNS, at each cudaGraphLaunch, never when it is recorded; its bytes are the ones known when it
 * was recorded (a launcher's FCE_TRAFFIC declaration included). A replayed step therefore counts
 * the same launches, GEMMs, cuDNN calls, memsets, copies and bytes as the same step run eagerly.
 * graph_launches counts the cudaGraphLaunch calls that ran and captures the cudaStreamBeginCapture
 * calls; neither is part of fce_emu_stream_ops, which counts the device's operations (a graph
 * launch is one host call that issues the operations counted there). Count-only mode works with
 * capture: record, then count at each replay without computing. */
#ifndef FCE_EMU_COUNTERS_H
#define FCE_EMU_COUNTERS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_emu_counters {
    long long launches;            /* custom kernel launches */
    long long unaccounted_launches; /* launches without an FCE_TRAFFIC declaration */
    long long gemms;               /* cuBLAS compute calls (a batched call counts once) */
    long long gemms_tf32;          /* of those, issued in CUBLAS_TF32_TENSOR_OP_MATH */
    long long dnn_calls;           /* cuDNN compute calls (convolutions, bias, AddTensor) */
    long long memsets;
    long long copies_h2d, copies_d2h, copies_d2d;
    long long host_syncs;          /* cudaStreamSynchronize, cudaDeviceSynchronize (no events are
                                      emulated: the product's host code uses none) */
    long long allocs, frees;       /* cudaMalloc / cudaHostAlloc and cudaFree / cudaFreeHost */
    double kernel_bytes_read, kernel_bytes_written;
    double gemm_bytes, dnn_bytes, memset_bytes, copy_bytes;
    long long graph_launches;      /* cudaGraphLaunch calls run (not in fce_emu_stream_ops) */
    long long captures;            /* cudaStreamBeginCapture calls that began a capture */
    long long host_ops;            /* stream operations not run by a graph replay: the ones the
                                      host submits one by one (+ graph_launches: its calls) */
} fce_emu_counters;

/* The counters since the start of the process (take differences around the work to count). */
void fce_emu_counters_read(fce_emu_counters *out);
/* Stream operations of a difference: launches + GEMMs + cuDNN calls + memsets + copies (graph
 * launches are not operations of their own: the operations they run are counted). */
long long fce_emu_stream_ops(const fce_emu_counters *c);
/* b − a, field by field. */
void fce_emu_counters_diff(const fce_emu_counters *a, const fce_emu_counters *b, fce_emu_counters *out);
/* Count-only mode on (1) or off (0); see the file comment. */
void fce_emu_set_count_only(int on);
int fce_emu_count_only(void);

#ifdef __cplusplus
}
#endif

#endif

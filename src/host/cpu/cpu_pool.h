/* cpu_pool.h: the fast CPU backend's threads and per-thread scratch memory.
 *
 * A pool of T threads is made once, when the context is made: the caller's thread is thread 0 and
 * T − 1 workers wait on a condition variable, so no thread is created per op. cpu_pool_run(fn)
 * runs fn(arg, t, T) on every thread t and returns when all have finished; one job at a time, so a
 * context's ops are called from one thread (as every caller does: nothing else starts threads). Each thread owns a
 * scratch block (packed GEMM panels, a convolution's column chunk), grown only by
 * cpu_pool_reserve, which plans call at setup, never inside a training step.
 *
 * Results never depend on T: callers split work by output blocks, and the summation order of each
 * output element is fixed (gemm_cpu.h), so 1 and 2 threads give the same bits. */
#ifndef FCE_CPU_POOL_H
#define FCE_CPU_POOL_H

#include <stddef.h>

#include "fce/status.h"

/* The most threads a pool takes (FCE_CPU_THREADS is clamped to this). */
#define CPU_POOL_MAX_THREADS 64

typedef struct cpu_pool cpu_pool;

/* Work on thread t of n (0 ≤ t < n); every thread gets the same arg. */
typedef void (*cpu_pool_fn)(void *arg, int t, int n);

/* Makes a pool of n_threads (1 .. CPU_POOL_MAX_THREADS; 1: no worker, everything runs on the
 * caller). FCE_STATUS_ERR_NOMEM or ERR_CONFIG (thread creation failed) on failure, logged. */
fce_status cpu_pool_create(cpu_pool **pool, int n_threads);
/* Stops and joins the workers, frees the scratch. NULL-safe. */
void cpu_pool_free(cpu_pool *pool);

int cpu_pool_threads(const cpu_pool *pool);

/* Runs fn on every thread and waits for all. With 1 thread, or when `serial`, fn(arg, 0, 1) runs
 * on the caller alone (small work, where waking a worker costs more than it saves). */
void cpu_pool_run(cpu_pool *pool, cpu_pool_fn fn, void *arg, int serial);

/* Grows each thread's scratch to at least `floats` floats (64-byte aligned). Setup only. */
fce_status cpu_pool_reserve(cpu_pool *pool, size_t floats);
/* Thread t's scratch and its size in floats. */
float *cpu_pool_scratch(cpu_pool *pool, int t);
size_t cpu_pool_scratch_floats(const cpu_pool *pool);

/* The default thread count: FCE_CPU_THREADS when set (1 .. CPU_POOL_MAX_THREADS; anything else is
 * an error, logged, returned as 0), else min(2, online CPUs). */
int cpu_pool_default_threads(void);

#endif

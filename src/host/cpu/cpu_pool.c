/* cpu_pool.c: the thread pool and per-thread scratch of the fast CPU backend (cpu_pool.h).
 *
 * One job at a time: cpu_pool_run publishes (fn, arg) under the mutex with a new generation
 * number and wakes the workers; each runs its share and counts down `pending`; the caller runs
 * share 0 itself and then waits for the count to reach 0. A worker waits on the condition variable
 * between jobs, so an idle pool costs no CPU. */
#define _POSIX_C_SOURCE 200809L
#include "cpu/cpu_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fce/log.h"

typedef struct cpu_worker {
    cpu_pool *pool;
    int t;
    pthread_t thread;
} cpu_worker;

struct cpu_pool {
    int n;                   /* threads, the caller included */
    int started;             /* workers created (for the join on a failed create) */
    cpu_worker *workers;     /* n − 1 of them; worker k is thread k + 1 */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped per job */
    int pending;              /* workers still running the current job */
    int quit;
    cpu_pool_fn fn;
    void *arg;
    float **scratch;          /* n blocks of scratch_floats, 64-byte aligned */
    size_t scratch_floats;
};

static void *worker_main(void *p) {
    cpu_worker *w = p;
    cpu_pool *pool = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (pool->generation == seen && !pool->quit) pthread_cond_wait(&pool->wake, &pool->mu);
        if (pool->quit) break;
        seen = pool->generation;
        cpu_pool_fn fn = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->mu);
        fn(arg, w->t, pool->n);
        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

fce_status cpu_pool_create(cpu_pool **out, int n_threads) {
    *out = NULL;
    if (n_threads < 1 || n_threads > CPU_POOL_MAX_THREADS) {
        fce_log_error("cpu backend: %d threads (need 1 .. %d)", n_threads, CPU_POOL_MAX_THREADS);
        return FCE_STATUS_ERR_CONFIG;
    }
    cpu_pool *p = calloc(1, sizeof *p);
    if (!p) return FCE_STATUS_ERR_NOMEM;
    p->n = n_threads;
    p->scratch = calloc((size_t)n_threads, sizeof *p->scratch);
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->scratch || !p->workers) {
        free(p->scratch);
        free(p->workers);
        free(p);
        fce_log_error("cpu backend: out of host memory for a pool of %d threads", n_threads);
        return FCE_STATUS_ERR_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int k = 0; k < n_threads - 1; k++) {
        p->workers[k].pool = p;
        p->workers[k].t = k + 1;
        int rc = pthread_create(&p->workers[k].thread, NULL, worker_main, &p->workers[k]);
        if (rc != 0) {
            fce_log_error("cpu backend: cannot start worker thread %d of %d: %s", k + 1,
                          n_threads, strerror(rc));
            cpu_pool_free(p);
            return FCE_STATUS_ERR_CONFIG;
        }
        p->started++;
    }
    *out = p;
    return FCE_STATUS_OK;
}

void cpu_pool_free(cpu_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int k = 0; k < p->started; k++) pthread_join(p->workers[k].thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    for (int t = 0; t < p->n; t++) free(p->scratch[t]);
    free(p->scratch);
    free(p->workers);
    free(p);
}

int cpu_pool_threads(const cpu_pool *p) { return p->n; }

void cpu_pool_run(cpu_pool *p, cpu_pool_fn fn, void *arg, int serial) {
    if (p->n == 1 || serial) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->pending = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

fce_status cpu_pool_reserve(cpu_pool *p, size_t floats) {
    if (floats <= p->scratch_floats) return FCE_STATUS_OK;
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    for (int t = 0; t < p->n; t++) {
        void *mem = NULL;
        if (posix_memalign(&mem, 64, bytes) != 0) {
            fce_log_error("cpu backend: out of host memory for %zu bytes of scratch", bytes);
            return FCE_STATUS_ERR_NOMEM;
        }
        free(p->scratch[t]);
        p->scratch[t] = mem;
    }
    p->scratch_floats = floats;
    return FCE_STATUS_OK;
}

float *cpu_pool_scratch(cpu_pool *p, int t) { return p->scratch[t]; }

size_t cpu_pool_scratch_floats(const cpu_pool *p) { return p->scratch_floats; }

int cpu_pool_default_threads(void) {
    const char *env = getenv("FCE_CPU_THREADS");
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno || *end != '\0' || v < 1 || v > CPU_POOL_MAX_THREADS) {
            fce_log_error("FCE_CPU_THREADS='%s' is not a thread count in 1 .. %d", env,
                          CPU_POOL_MAX_THREADS);
            return 0;
        }
        return (int)v;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online >= 2 ? 2 : 1;
}

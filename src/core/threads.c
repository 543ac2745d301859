/* Thread count shared by OpenBLAS and the library's own loops, and the
 * pthread pool that runs those loops (src/parallel.h).
 *
 * The pool has n - 1 workers; the calling thread takes tasks too. Workers
 * sleep on a condition variable between runs, so an idle pool costs nothing
 * while sgemm has the cores. One run at a time: run_mu is held for the whole
 * run, and a caller that cannot take it runs its tasks serially. */
#include "stylize/core/threads.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>

#include "core/parallel.h"

#define MAX_WORKERS 255

static pthread_mutex_t cfg_mu = PTHREAD_MUTEX_INITIALIZER; /* pool creation and resizing */
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER; /* held by the caller of a run */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;     /* the job fields below */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;     /* a new job or shutdown */
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;     /* the last worker left a job */

static pthread_t tids[MAX_WORKERS];
static int nworkers;        /* started workers; written under cfg_mu and run_mu */
static atomic_int created;  /* the pool exists (possibly with zero workers) */
static atomic_uint epoch;   /* pools started so far: a new value, new worker threads */
static int threads_set;     /* count chosen by stylize_set_threads, 0 if never */
static unsigned long gen;   /* job generation, under mu */
static unsigned long start_gen; /* gen when the workers were started, under mu */
static int shutdown_req;    /* under mu */
static stylize_task_fn job_fn;
static void *job_ctx;
static int job_ntasks;
static int job_each;        /* each thread takes exactly one task (stylize_parallel_each) */
static atomic_int job_next; /* next task index to hand out */
static int busy;            /* workers that have not finished the current job, under mu */

static void run_tasks(stylize_task_fn fn, void *ctx, int ntasks, int each)
{
    if (each) {
        fn(ctx, atomic_fetch_add_explicit(&job_next, 1, memory_order_relaxed));
        return;
    }
    for (;;) {
        int i = atomic_fetch_add_explicit(&job_next, 1, memory_order_relaxed);
        if (i >= ntasks)
            break;
        fn(ctx, i);
    }
}

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    unsigned long seen = start_gen; /* not gen: a job may already have been posted */
    for (;;) {
        while (gen == seen && !shutdown_req)
            pthread_cond_wait(&wake, &mu);
        if (shutdown_req)
            break;
        seen = gen;
        stylize_task_fn fn = job_fn;
        void *ctx = job_ctx;
        int ntasks = job_ntasks, each = job_each;
        pthread_mutex_unlock(&mu);
        run_tasks(fn, ctx, ntasks, each);
        pthread_mutex_lock(&mu);
        if (--busy == 0)
            pthread_cond_signal(&done);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Stops and joins every worker. Caller holds cfg_mu and run_mu. */
static void pool_stop(void)
{
    pthread_mutex_lock(&mu);
    shutdown_req = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nworkers; i++)
        pthread_join(tids[i], NULL);
    nworkers = 0;
    pthread_mutex_lock(&mu);
    shutdown_req = 0;
    pthread_mutex_unlock(&mu);
}

/* Starts n - 1 workers (fewer if pthread_create fails: the pool then just
 * has less parallelism). Caller holds cfg_mu and run_mu; no workers running. */
static void pool_start(int n)
{
    if (n > MAX_WORKERS + 1)
        n = MAX_WORKERS + 1;
    pthread_mutex_lock(&mu);
    start_gen = gen;
    pthread_mutex_unlock(&mu);
    while (nworkers < n - 1) {
        if (pthread_create(&tids[nworkers], NULL, worker_main, NULL) != 0)
            break;
        nworkers++;
    }
    atomic_fetch_add(&epoch, 1);
    atomic_store(&created, 1);
}

void stylize_parallel_init(void)
{
    if (atomic_load(&created))
        return;
    pthread_mutex_lock(&cfg_mu);
    if (!atomic_load(&created)) {
        pthread_mutex_lock(&run_mu);
        int n = threads_set > 0 ? threads_set : openblas_get_num_threads();
        pool_start(n < 1 ? 1 : n);
        pthread_mutex_unlock(&run_mu);
    }
    pthread_mutex_unlock(&cfg_mu);
}

int stylize_parallel_threads(void)
{
    return atomic_load(&created) ? nworkers + 1 : 1;
}

/* Posts the job to every worker, takes tasks in the caller too and waits
 * for the workers. Caller holds run_mu; nworkers > 0. */
static void post_and_run(int ntasks, stylize_task_fn fn, void *ctx, int each)
{
    pthread_mutex_lock(&mu);
    job_fn = fn;
    job_ctx = ctx;
    job_ntasks = ntasks;
    job_each = each;
    atomic_store_explicit(&job_next, 0, memory_order_relaxed);
    busy = nworkers;
    gen++;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    run_tasks(fn, ctx, ntasks, each);
    pthread_mutex_lock(&mu);
    while (busy > 0)
        pthread_cond_wait(&done, &mu);
    pthread_mutex_unlock(&mu);
}

void stylize_parallel_run(int ntasks, stylize_task_fn fn, void *ctx)
{
    if (ntasks <= 0)
        return;
    if (ntasks == 1 || !atomic_load(&created) || pthread_mutex_trylock(&run_mu) != 0) {
        for (int i = 0; i < ntasks; i++)
            fn(ctx, i);
        return;
    }
    if (nworkers == 0) {
        pthread_mutex_unlock(&run_mu);
        for (int i = 0; i < ntasks; i++)
            fn(ctx, i);
        return;
    }
    post_and_run(ntasks, fn, ctx, 0);
    pthread_mutex_unlock(&run_mu);
}

unsigned stylize_parallel_epoch(void)
{
    return atomic_load(&epoch);
}

int stylize_parallel_each(stylize_task_fn fn, void *ctx)
{
    if (!atomic_load(&created) || pthread_mutex_trylock(&run_mu) != 0)
        return 0;
    int n = nworkers + 1;
    if (nworkers == 0)
        fn(ctx, 0);
    else
        post_and_run(n, fn, ctx, 1);
    pthread_mutex_unlock(&run_mu);
    return n;
}

void stylize_set_threads(int n)
{
    if (n < 1)
        n = 1;
    pthread_mutex_lock(&cfg_mu);
    pthread_mutex_lock(&run_mu);
    threads_set = n;
    if (!atomic_load(&created) || nworkers != n - 1) {
        pool_stop();
        pool_start(n);
    }
    pthread_mutex_unlock(&run_mu);
    pthread_mutex_unlock(&cfg_mu);
    openblas_set_num_threads(n);
}

int stylize_get_threads(void)
{
    return threads_set > 0 ? threads_set : openblas_get_num_threads();
}

const char *stylize_blas_core(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}

const char *stylize_blas_coretype_hint(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const avx2_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                             "SapphireRapids"};
    const char *core = stylize_blas_core();
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    if (avx512) {
        for (size_t i = 0; i < sizeof avx512_cores / sizeof avx512_cores[0]; i++)
            if (strcasecmp(core, avx512_cores[i]) == 0)
                return NULL;
        return "SkylakeX";
    }
    if (avx2) {
        for (size_t i = 0; i < sizeof avx2_cores / sizeof avx2_cores[0]; i++)
            if (strcasecmp(core, avx2_cores[i]) == 0)
                return NULL;
        return "Haswell";
    }
#endif
    return NULL;
}

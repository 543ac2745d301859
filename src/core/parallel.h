/* Internal: the library's pthread pool (see stylize/threads.h). */
#ifndef STYLIZE_PARALLEL_H
#define STYLIZE_PARALLEL_H

/* One unit of work: task in [0, ntasks). Tasks of one run execute
 * concurrently on different threads and must not write shared memory. */
typedef void (*stylize_task_fn)(void *ctx, int task);

/* Creates the pool if it does not exist yet (idempotent, thread-safe).
 * Called where allocation is allowed (convolution creation) so that the
 * first forward does not create threads. */
void stylize_parallel_init(void);

/* Threads a run can use (>= 1): the pool's workers plus the caller. */
int stylize_parallel_threads(void);

/* Runs fn(ctx, 0) .. fn(ctx, ntasks - 1) on the pool and the calling thread
 * and returns when all are done. Runs them serially in the caller when the
 * pool has no workers, is busy with another run (including a nested call
 * from inside a task), or does not exist yet. Allocates nothing. */
void stylize_parallel_run(int ntasks, stylize_task_fn fn, void *ctx);

/* Runs fn(ctx, i) exactly once on each of the pool's threads (the caller
 * among them), i in [0, threads), concurrently, for per-thread set-up;
 * returns the number of threads, or 0 without running fn when the pool
 * does not exist yet or is busy with another run. Allocates nothing. */
int stylize_parallel_each(stylize_task_fn fn, void *ctx);

/* Changes whenever the pool is (re)started with new worker threads (0
 * before the first pool): per-thread set-up done under one value holds
 * until it changes. */
unsigned stylize_parallel_epoch(void);

#endif

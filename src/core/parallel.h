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

#endif

/* stylize: generic optimisers over a float vector: L-BFGS (two-loop
 * recursion, strong Wolfe line search, bounded history) and Adam.
 *
 * Both minimise f(x) through a value-and-gradient callback. All memory is
 * allocated by the create functions; run allocates nothing. */
#ifndef STYLIZE_OPTIM_H
#define STYLIZE_OPTIM_H

#include <stddef.h>
#include "stylize/core/mem.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Computes *value = f(x) and grad (n floats) = df/dx. A status other than
 * STYLIZE_OK aborts the run with that status (e.g. STYLIZE_ERR_INTERRUPTED). */
typedef stylize_status (*stylize_objective_fn)(void *user, const float *x, float *grad,
                                               double *value, stylize_error *err);

typedef struct {
    int iteration;     /* iterations completed so far (0 at the start) */
    int evaluations;   /* objective evaluations so far */
    int evaluation;    /* the evaluation (1-based) whose point is the current
                        * iterate: L-BFGS accepts one of its line search's */
    double value;      /* f at the current iterate */
    double grad_max;   /* max |g| at the current iterate */
    const float *x;    /* current iterate (n floats), valid during the call */
} stylize_opt_progress;

/* Called once at the start (iteration 0) and after every iteration.
 * Returning non-zero stops the run (reason STYLIZE_STOP_CALLBACK). */
typedef int (*stylize_progress_fn)(void *user, const stylize_opt_progress *p);

typedef enum {
    STYLIZE_STOP_MAX_ITER = 0,   /* iteration budget reached */
    STYLIZE_STOP_MAX_EVALS,      /* evaluation budget reached */
    STYLIZE_STOP_TOL_CHANGE,     /* relative change of f below tol_change */
    STYLIZE_STOP_TOL_GRAD,       /* max |g| below tol_grad */
    STYLIZE_STOP_CALLBACK,       /* progress callback asked to stop */
    STYLIZE_STOP_LINE_SEARCH     /* no acceptable step found (at a minimum to float precision) */
} stylize_stop_reason;

const char *stylize_stop_reason_str(stylize_stop_reason r);

typedef struct {
    int iterations;
    int evaluations;
    double value_initial;
    double value_final; /* f at the returned x */
    stylize_stop_reason reason;
} stylize_opt_result;

typedef struct {
    int history;          /* m: pairs (s, y) kept; memory is 2 m n floats. Default 10 */
    int max_iterations;   /* default 1000; 0 evaluates f once and returns */
    int max_evaluations;  /* 0: no separate limit. Default 0 */
    double tol_change;    /* stop when |f_k - f_{k+1}| <= tol_change * max(|f_k|, |f_{k+1}|, 1e-30). Default 1e-9 */
    double tol_grad;      /* stop when max |g| <= tol_grad. Default 1e-12 */
    double c1, c2;        /* strong Wolfe constants. Defaults 1e-4, 0.9 */
    int max_line_search;  /* evaluations per line search. Default 25 */
} stylize_lbfgs_params;

void stylize_lbfgs_defaults(stylize_lbfgs_params *p);

typedef struct stylize_lbfgs stylize_lbfgs; /* opaque */

/* Bytes that stylize_lbfgs_create allocates for n variables and history m
 * (through its plan; the small struct aside). */
size_t stylize_lbfgs_memory_bytes(size_t n, int history);

/* Allocates an optimiser for n variables through mem (NULL: malloc; on a
 * dry plan only counted: the optimiser must not run). The params are
 * copied. *out is owned by the caller: free with stylize_lbfgs_free (before
 * mem). */
stylize_status stylize_lbfgs_create(stylize_lbfgs **out, size_t n, const stylize_lbfgs_params *p,
                                    stylize_mem *mem, stylize_error *err);
void stylize_lbfgs_free(stylize_lbfgs *opt); /* NULL is allowed */

/* Minimises from x (n floats, updated in place). On return x holds the best
 * point evaluated (lowest f), also when an objective error or the callback
 * stops the run. progress may be NULL. res may be NULL. */
stylize_status stylize_lbfgs_run(stylize_lbfgs *opt, float *x, stylize_objective_fn f, void *fuser,
                                 stylize_progress_fn progress, void *puser, stylize_opt_result *res,
                                 stylize_error *err);

typedef struct {
    double learning_rate; /* default 1.0 (pixels in input units) */
    double beta1, beta2, eps; /* defaults 0.9, 0.999, 1e-8 */
    int max_iterations;   /* each iteration is one evaluation; default 1000 */
    double tol_change;    /* as for L-BFGS, over successive iterations; default 0 (off) */
} stylize_adam_params;

void stylize_adam_defaults(stylize_adam_params *p);

typedef struct stylize_adam stylize_adam; /* opaque */

/* Bytes that stylize_adam_create allocates (moments, best x, gradient). */
size_t stylize_adam_memory_bytes(size_t n);
/* As stylize_lbfgs_create. The moments start at zero. */
stylize_status stylize_adam_create(stylize_adam **out, size_t n, const stylize_adam_params *p,
                                   stylize_mem *mem, stylize_error *err);
void stylize_adam_free(stylize_adam *opt);

/* One Adam update of x (n floats) from the gradient g (n floats), with bias
 * correction for the steps taken so far: the step of a training loop.
 * Allocates nothing. */
void stylize_adam_step(stylize_adam *opt, float *x, const float *g);
/* Zeroes the moments and the step count. */
void stylize_adam_reset(stylize_adam *opt);
/* Changes the step size (a learning-rate schedule); ignored unless > 0. */
void stylize_adam_set_learning_rate(stylize_adam *opt, double lr);
long long stylize_adam_steps(const stylize_adam *opt);
/* The moments (n floats each), e.g. for a checkpoint; owned by opt. */
void stylize_adam_state(stylize_adam *opt, float **m, float **v);
/* Continues from a checkpoint: the moments (n floats each, copied) and the
 * step count, with the bias corrections exactly as after that many steps. */
void stylize_adam_restore(stylize_adam *opt, const float *m, const float *v, long long steps);
/* Minimises f from x by repeated stylize_adam_step (after a reset); as
 * stylize_lbfgs_run, x on return is the lowest-f point evaluated. */
stylize_status stylize_adam_run(stylize_adam *opt, float *x, stylize_objective_fn f, void *fuser,
                                stylize_progress_fn progress, void *puser, stylize_opt_result *res,
                                stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* Adam (Kingma & Ba 2015) with bias correction over a float vector.
 *
 * Iteration semantics: the objective is evaluated at the starting x
 * (iteration 0, reported to the callback); each iteration then takes one
 * Adam step from the gradient at the current point and evaluates the new
 * point, so k iterations cost k + 1 evaluations. x on return is the
 * lowest-f point evaluated (kept in a separate buffer).
 *
 * Stopping tests after each evaluation, in this order: callback,
 * tol_change (only when > 0; |f_prev - f| <= tol_change * max(|f_prev|, |f|,
 * 1e-30)), max_iterations. A non-finite value or gradient stops the run
 * with STYLIZE_ERR_NUMERIC (x = best point, res filled).
 *
 * The update itself is stylize_adam_step, which training loops call on
 * their parameter blobs; stylize_adam_run is the pixel optimiser built on it.
 *
 * Memory (stylize_adam_memory_bytes, one block from the create's plan):
 * 4 n floats (first and second moments, gradient, best x). */
#include "stylize/optim/optim.h"

#include "optim/optim_common.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct stylize_adam {
    size_t n;
    stylize_adam_params p;
    stylize_mem *mem; /* borrowed: the plan the block came from */
    float *block;     /* owned: 4 n floats, carved into the arrays below */
    float *m;         /* n: first moment */
    float *v;         /* n: second moment */
    float *g;         /* n: gradient at the current point (run) */
    float *xbest;     /* n: lowest-f point evaluated (run) */
    long long t;      /* steps taken */
    double b1t, b2t;  /* beta1^t, beta2^t */
};

void stylize_adam_defaults(stylize_adam_params *p)
{
    p->learning_rate = 1.0;
    p->beta1 = 0.9;
    p->beta2 = 0.999;
    p->eps = 1e-8;
    p->max_iterations = 1000;
    p->tol_change = 0.0;
}

size_t stylize_adam_memory_bytes(size_t n)
{
    if (n == 0)
        return 0; /* create would refuse it */
    if (n > (SIZE_MAX - 4096) / 4 / sizeof(float))
        return SIZE_MAX;
    return 4 * n * sizeof(float);
}

static stylize_status check_params(size_t n, const stylize_adam_params *p, stylize_error *err)
{
    if (n == 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: zero variables");
    if (!(p->learning_rate > 0 && isfinite(p->learning_rate)))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: learning rate %g (must be > 0)",
                                 p->learning_rate);
    if (!(p->beta1 >= 0 && p->beta1 < 1 && p->beta2 >= 0 && p->beta2 < 1))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "adam: beta1 = %g, beta2 = %g (each must be in [0, 1))", p->beta1,
                                 p->beta2);
    if (!(p->eps > 0 && isfinite(p->eps)))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: eps %g (must be > 0)", p->eps);
    if (p->max_iterations < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: max_iterations %d (must be >= 0)",
                                 p->max_iterations);
    if (isnan(p->tol_change))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: NaN tol_change");
    if (stylize_adam_memory_bytes(n) == SIZE_MAX)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "adam: %zu variables exceed the address space", n);
    return STYLIZE_OK;
}

stylize_status stylize_adam_create(stylize_adam **out, size_t n, const stylize_adam_params *p,
                                   stylize_mem *mem, stylize_error *err)
{
    if (!out)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: NULL output pointer");
    *out = NULL;
    if (!p)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: NULL parameters");
    stylize_status st = check_params(n, p, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_adam *o = calloc(1, sizeof *o);
    if (!o)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "adam: out of memory");
    o->n = n;
    o->p = *p;
    o->mem = mem;
    void *block = NULL;
    if ((st = stylize_mem_alloc(mem, &block, stylize_adam_memory_bytes(n), "the Adam moments", err)) !=
        STYLIZE_OK) {
        free(o);
        return st;
    }
    o->block = block;
    if (block) {
        o->m = o->block;
        o->v = o->block + n;
        o->g = o->block + 2 * n;
        o->xbest = o->block + 3 * n;
    }
    stylize_adam_reset(o);
    *out = o;
    return STYLIZE_OK;
}

void stylize_adam_free(stylize_adam *opt)
{
    if (!opt)
        return;
    stylize_mem_free(opt->mem, opt->block, stylize_adam_memory_bytes(opt->n));
    free(opt);
}

void stylize_adam_reset(stylize_adam *opt)
{
    if (opt->block) {
        memset(opt->m, 0, opt->n * sizeof(float));
        memset(opt->v, 0, opt->n * sizeof(float));
    }
    opt->t = 0;
    opt->b1t = opt->b2t = 1.0;
}

void stylize_adam_set_learning_rate(stylize_adam *opt, double lr)
{
    if (lr > 0 && isfinite(lr))
        opt->p.learning_rate = lr;
}

long long stylize_adam_steps(const stylize_adam *opt)
{
    return opt->t;
}

void stylize_adam_step(stylize_adam *opt, float *x, const float *g)
{
    /* x -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
    const stylize_adam_params *p = &opt->p;
    opt->b1t *= p->beta1;
    opt->b2t *= p->beta2;
    opt->t++;
    const float b1 = (float)p->beta1, b2 = (float)p->beta2;
    const float step = (float)(p->learning_rate / (1.0 - opt->b1t));
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - opt->b2t));
    const float eps = (float)p->eps;
    for (size_t i = 0; i < opt->n; i++) {
        float gi = g[i];
        float mi = b1 * opt->m[i] + (1.0f - b1) * gi;
        float vi = b2 * opt->v[i] + (1.0f - b2) * gi * gi;
        opt->m[i] = mi;
        opt->v[i] = vi;
        x[i] -= step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

void stylize_adam_restore(stylize_adam *opt, const float *m, const float *v, long long steps)
{
    memcpy(opt->m, m, opt->n * sizeof(float));
    memcpy(opt->v, v, opt->n * sizeof(float));
    opt->t = steps;
    opt->b1t = opt->b2t = 1.0;
    for (long long i = 0; i < steps; i++) { /* as the steps did, bit for bit */
        opt->b1t *= opt->p.beta1;
        opt->b2t *= opt->p.beta2;
    }
}

void stylize_adam_state(stylize_adam *opt, float **m, float **v)
{
    *m = opt->m;
    *v = opt->v;
}

/* max |v|; NaN when any element is NaN or infinite. */
static double max_abs_checked(const float *v, size_t n)
{
    double m = 0, poison = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)v[i]);
        poison += a * 0.0;
        if (a > m)
            m = a;
    }
    return poison == 0 ? m : NAN;
}

/* Evaluates f at x into opt->g and *fx; checks finiteness. */
static stylize_status adam_eval(stylize_adam *opt, float *x, stylize_objective_fn f, void *fuser,
                                int evals, int iterations, double *fx, double *gmax,
                                stylize_error *err)
{
    if (err) {
        err->code = STYLIZE_OK;
        err->msg[0] = '\0';
    }
    stylize_status st = f(fuser, x, opt->g, fx, err);
    if (st != STYLIZE_OK) {
        if (err && err->msg[0] == '\0')
            stylize_error_set(err, st, "adam: objective failed at evaluation %d (%s)", evals,
                              stylize_status_str(st));
        return st;
    }
    *gmax = max_abs_checked(opt->g, opt->n);
    if (!isfinite(*fx) || !isfinite(*gmax))
        return stylize_error_set(err, STYLIZE_ERR_NUMERIC,
                                 "adam: objective is not finite at iteration %d "
                                 "(value %g, max |gradient| %g)",
                                 iterations, *fx, *gmax);
    return STYLIZE_OK;
}

stylize_status stylize_adam_run(stylize_adam *opt, float *x, stylize_objective_fn f, void *fuser,
                                stylize_progress_fn progress, void *puser, stylize_opt_result *res,
                                stylize_error *err)
{
    if (res)
        stylize_fill_result(res, 0, 0, NAN, NAN, STYLIZE_STOP_MAX_ITER);
    if (!opt || !x || !f || !opt->block)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "adam: NULL optimiser, x or objective");
    const size_t n = opt->n;
    const stylize_adam_params *p = &opt->p;
    stylize_stop_reason reason = STYLIZE_STOP_MAX_ITER;
    int iterations = 0, evals = 0;
    double fx = NAN, f_prev = NAN, f_init = NAN, f_best = INFINITY, gmax = 0;
    stylize_status st = STYLIZE_OK;
    stylize_adam_reset(opt);
    memcpy(opt->xbest, x, n * sizeof(float));
    for (;;) {
        if ((st = adam_eval(opt, x, f, fuser, ++evals, iterations, &fx, &gmax, err)) != STYLIZE_OK)
            break;
        if (evals == 1)
            f_init = fx;
        if (fx < f_best) {
            f_best = fx;
            memcpy(opt->xbest, x, n * sizeof(float));
        }
        if (progress) { /* the iterate is the point just evaluated */
            stylize_opt_progress pr = {iterations, evals, evals, fx, gmax, x};
            if (progress(puser, &pr)) {
                reason = STYLIZE_STOP_CALLBACK;
                break;
            }
        }
        if (iterations > 0 && p->tol_change > 0 &&
            fabs(f_prev - fx) <= p->tol_change * fmax(fmax(fabs(f_prev), fabs(fx)), 1e-30)) {
            reason = STYLIZE_STOP_TOL_CHANGE;
            break;
        }
        if (iterations >= p->max_iterations)
            break;
        stylize_adam_step(opt, x, opt->g);
        f_prev = fx;
        iterations++;
    }
    /* x = best point evaluated (the start point if nothing was evaluated). */
    memcpy(x, opt->xbest, n * sizeof(float));
    stylize_fill_result(res, iterations, evals, f_init, isfinite(f_best) ? f_best : NAN, reason);
    return st;
}

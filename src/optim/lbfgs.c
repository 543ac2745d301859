/* L-BFGS over a float vector: two-loop recursion with a bounded ring of
 * (s, y) pairs and a strong Wolfe line search (bracketing + zoom with
 * safeguarded cubic interpolation, after Nocedal & Wright, Numerical
 * Optimization, 2nd ed., Algorithms 3.5 and 3.6).
 *
 * Numerics: vectors are stored and updated in float; every reduction (dot
 * products, norms) is accumulated in double, and the line-search scalars
 * (step lengths, f values, directional derivatives) are doubles.
 *
 * Behaviour chosen where the textbook leaves a choice:
 *  - Initial step: min(1, 1/|g|_1) whenever the history is empty (the first
 *    iteration, or after a reset), as torch.optim.LBFGS does on its first
 *    iteration; 1 otherwise (the two-loop direction is already scaled by
 *    gamma = s'y / y'y of the newest pair).
 *  - Curvature guard: a new pair is stored only when s'y > 1e-10 |s| |y|
 *    (the cosine between s and y exceeds 1e-10; scale-invariant) and s'y,
 *    y'y are finite. Otherwise the pair is dropped and the history kept.
 *  - Not a descent direction (g'd >= 0 or not finite): the history is
 *    cleared and the steepest descent direction -g is used.
 *  - Line search: at most max_line_search evaluations. A trial point whose
 *    f or g'd is not finite is treated as "too long" (bisection back towards
 *    the best point). If no strong Wolfe point is found, the lowest
 *    sufficient-decrease point seen is accepted when it lowered f. If there
 *    is none and the history was non-empty, the history is cleared and the
 *    search retried once along -g (so one iteration may use up to
 *    2 max_line_search evaluations); if that fails too, the run stops with
 *    STYLIZE_STOP_LINE_SEARCH. The zoom phase also gives up when the bracket
 *    is narrower than half a float ulp of the largest |x| along d.
 *  - Stopping tests after each iteration, in this order: callback, tol_grad
 *    (max |g| <= tol_grad; negative disables), tol_change (only when > 0),
 *    max_iterations, max_evaluations. The same tests run after the first
 *    evaluation (iteration 0), so max_iterations = 0 evaluates once.
 *  - Objective error: its status is returned with its message (or a generic
 *    one when it left err empty); x = best point, res filled (reason is
 *    meaningless then). A non-finite f or g at the start is
 *    STYLIZE_ERR_NUMERIC.
 *  - Best point: x on return is the lowest-f point evaluated. Accepted steps
 *    strictly decrease f, so this is the current iterate except when a
 *    rejected trial point happened to be lower; that point is kept in a
 *    separate buffer.
 *
 * Memory (one block from stylize_lbfgs_create's plan, exactly what
 * stylize_lbfgs_memory_bytes reports; the small struct aside):
 *   (2 m + 7) n floats   (s and y rings; g, d, x_trial, g_trial, x_lo,
 *                         g_lo, x_best)
 *   + 2 m doubles        (rho and alpha of the two-loop recursion). */
#include "stylize/optim/optim.h"

#include "optim/optim_common.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LBFGS_MAX_HISTORY 1000
#define CURVATURE_COS_MIN 1e-10

struct stylize_lbfgs {
    size_t n;
    stylize_lbfgs_params p;
    stylize_mem *mem;  /* borrowed: the plan the block came from */
    size_t bytes;      /* the block: 2 m doubles, then (2m + 7) n floats */
    double *dblock;    /* owned: the block's doubles */
    float *fblock;     /* the block's floats, carved into the arrays below */
    float *s, *y;   /* m x n each; ring slot k at s + k n */
    double *rho;    /* m: 1 / s'y of each stored pair */
    double *alpha;  /* m: two-loop coefficients */
    /* n floats each; the pointers are swapped during a run, so the names
     * describe roles, not fixed addresses within fblock. */
    float *g;     /* gradient at the current iterate */
    float *d;     /* search direction */
    float *xt;    /* trial point */
    float *gt;    /* gradient at the trial point */
    float *xlo;   /* best sufficient-decrease point of the current line search */
    float *glo;   /* its gradient */
    float *xbest; /* lowest-f point when it is not the current iterate */
};

const char *stylize_stop_reason_str(stylize_stop_reason r)
{
    switch (r) {
    case STYLIZE_STOP_MAX_ITER: return "iteration limit reached";
    case STYLIZE_STOP_MAX_EVALS: return "evaluation limit reached";
    case STYLIZE_STOP_TOL_CHANGE: return "relative change of the loss below tolerance";
    case STYLIZE_STOP_TOL_GRAD: return "gradient below tolerance";
    case STYLIZE_STOP_CALLBACK: return "stopped by the progress callback";
    case STYLIZE_STOP_LINE_SEARCH: return "line search found no decrease";
    }
    return "unknown stop reason";
}

void stylize_lbfgs_defaults(stylize_lbfgs_params *p)
{
    p->history = 10;
    p->max_iterations = 1000;
    p->max_evaluations = 0;
    p->tol_change = 1e-9;
    p->tol_grad = 1e-12;
    p->c1 = 1e-4;
    p->c2 = 0.9;
    p->max_line_search = 25;
}

size_t stylize_lbfgs_memory_bytes(size_t n, int history)
{
    if (n == 0 || history < 1 || history > LBFGS_MAX_HISTORY)
        return 0; /* create would refuse these */
    size_t vecs = 2 * (size_t)history + 7;
    if (n > (SIZE_MAX - 4096) / vecs / sizeof(float))
        return SIZE_MAX;
    return vecs * n * sizeof(float) + 2 * (size_t)history * sizeof(double);
}

stylize_status stylize_lbfgs_create(stylize_lbfgs **out, size_t n, const stylize_lbfgs_params *p,
                                    stylize_mem *mem, stylize_error *err)
{
    if (!out)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: NULL output pointer");
    *out = NULL;
    if (!p)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: NULL parameters");
    if (n == 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: zero variables");
    if (p->history < 1 || p->history > LBFGS_MAX_HISTORY)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: history %d (must be 1..%d)",
                                 p->history, LBFGS_MAX_HISTORY);
    if (p->max_iterations < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: max_iterations %d (must be >= 0)",
                                 p->max_iterations);
    if (p->max_evaluations < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "lbfgs: max_evaluations %d (must be >= 0)", p->max_evaluations);
    if (!(p->c1 > 0 && p->c1 < p->c2 && p->c2 < 1))
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "lbfgs: Wolfe constants c1 = %g, c2 = %g (need 0 < c1 < c2 < 1)",
                                 p->c1, p->c2);
    if (p->max_line_search < 1)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: max_line_search %d (must be >= 1)",
                                 p->max_line_search);
    if (isnan(p->tol_change) || isnan(p->tol_grad))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: NaN tolerance");
    if (stylize_lbfgs_memory_bytes(n, p->history) == SIZE_MAX)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "lbfgs: %zu variables with history %d exceed the address space", n,
                                 p->history);

    size_t m = (size_t)p->history;
    stylize_lbfgs *o = calloc(1, sizeof *o);
    if (!o)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "lbfgs: out of memory");
    o->n = n;
    o->p = *p;
    o->mem = mem;
    o->bytes = stylize_lbfgs_memory_bytes(n, p->history);
    void *block = NULL;
    stylize_status st = stylize_mem_alloc(mem, &block, o->bytes, "the L-BFGS history", err);
    if (st != STYLIZE_OK) {
        free(o);
        return st;
    }
    o->dblock = block; /* 2 m doubles, then the floats */
    o->fblock = block ? (float *)(o->dblock + 2 * m) : NULL;
    *out = o;
    if (!block)
        return STYLIZE_OK; /* a dry plan */
    float *f = o->fblock;
    o->s = f, f += m * n;
    o->y = f, f += m * n;
    o->g = f, f += n;
    o->d = f, f += n;
    o->xt = f, f += n;
    o->gt = f, f += n;
    o->xlo = f, f += n;
    o->glo = f, f += n;
    o->xbest = f;
    o->rho = o->dblock;
    o->alpha = o->dblock + m;
    return STYLIZE_OK;
}

void stylize_lbfgs_free(stylize_lbfgs *opt)
{
    if (!opt)
        return;
    stylize_mem_free(opt->mem, opt->dblock, opt->bytes);
    free(opt);
}

/* ---- vector helpers (float storage, double accumulation) ---- */

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* max |v|; returns NaN when any element is NaN or infinite. */
static double max_abs_checked(const float *v, size_t n)
{
    double m = 0, poison = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)v[i]);
        poison += a * 0.0; /* NaN iff some element is not finite */
        if (a > m)
            m = a;
    }
    return poison == 0 ? m : NAN;
}

static void swap_ptr(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* ---- run state ---- */

typedef struct {
    stylize_lbfgs *o;
    const float *x; /* current iterate (the caller's buffer) */
    stylize_objective_fn fn;
    void *fuser;
    stylize_error *err;
    int evals;
    int max_evals;     /* 0: unlimited */
    double f_best;     /* lowest f evaluated */
    int best_is_xbest; /* 1 when that point is in o->xbest rather than x */
    int trial_eval;    /* evaluation number of the point in o->xt */
    int lo_eval;       /* ... of the point in o->xlo */
} run_ctx;

static int budget_left(const run_ctx *c)
{
    return c->max_evals == 0 || c->evals < c->max_evals;
}

/* Calls the objective at xv, writing the gradient to gv. */
static stylize_status call_objective(run_ctx *c, const float *xv, float *gv, double *value)
{
    if (c->err) {
        c->err->code = STYLIZE_OK;
        c->err->msg[0] = '\0';
    }
    c->evals++;
    stylize_status st = c->fn(c->fuser, xv, gv, value, c->err);
    if (st != STYLIZE_OK && c->err && c->err->msg[0] == '\0')
        stylize_error_set(c->err, st, "lbfgs: objective failed at evaluation %d (%s)", c->evals,
                          stylize_status_str(st));
    return st;
}

/* One point on the line x + a d. ok: f and dphi are finite. */
typedef struct {
    double a, f, dphi;
    int ok;
} ls_point;

/* Evaluates the trial point x + a d into o->xt / o->gt. */
static stylize_status eval_trial(run_ctx *c, double a, ls_point *pt)
{
    stylize_lbfgs *o = c->o;
    size_t n = o->n;
    float af = (float)a;
    for (size_t i = 0; i < n; i++)
        o->xt[i] = c->x[i] + af * o->d[i];
    double f;
    stylize_status st = call_objective(c, o->xt, o->gt, &f);
    if (st != STYLIZE_OK)
        return st;
    c->trial_eval = c->evals;
    pt->a = a;
    pt->f = f;
    pt->dphi = dot(o->gt, o->d, n);
    pt->ok = isfinite(f) && isfinite(pt->dphi);
    if (pt->ok && f < c->f_best) {
        c->f_best = f;
        memcpy(o->xbest, o->xt, n * sizeof(float));
        c->best_is_xbest = 1;
    }
    return STYLIZE_OK;
}

/* Minimiser of the cubic through (a0, f0, d0) and (a1, f1, d1) (N&W eq. 3.59).
 * NaN when the cubic has no local minimiser or the data are degenerate. */
static double cubic_min(double a0, double f0, double d0, double a1, double f1, double d1)
{
    if (a0 == a1)
        return NAN;
    double t1 = d0 + d1 - 3.0 * (f0 - f1) / (a0 - a1);
    double disc = t1 * t1 - d0 * d1;
    if (!(disc >= 0))
        return NAN;
    double t2 = sqrt(disc);
    if (a1 < a0)
        t2 = -t2;
    double den = d1 - d0 + 2.0 * t2;
    if (den == 0)
        return NAN;
    return a1 - (a1 - a0) * (d1 + t2 - t1) / den;
}

typedef enum { LS_ACCEPTED, LS_NO_DECREASE } ls_outcome;

/* The state of one line search: the function's value and slope at a = 0,
 * the bracket, the trial, the evaluations used. */
typedef struct {
    run_ctx *c;
    double f0, dphi0;   /* f and g'd at a = 0 (finite, dphi0 < 0) */
    double xmax, dmax;  /* max |x|, max |d| */
    int used;           /* evaluations of this search */
    int *budget;        /* set when the run's evaluation budget stopped it */
    ls_point lo, hi;    /* lo: lowest sufficient-decrease point so far (a = 0 included) */
    ls_point cur;       /* the last trial */
    stylize_status st;  /* an objective error */
} ls_state;

/* How a phase of the search ended. */
typedef enum { LS_ZOOM, LS_ACCEPT_CUR, LS_FALLBACK, LS_ERROR } ls_next;

/* Evaluates trial a unless the search's or the run's budget is spent. */
static ls_next ls_trial(ls_state *s, double a)
{
    if (s->used >= s->c->o->p.max_line_search)
        return LS_FALLBACK;
    if (!budget_left(s->c)) {
        *s->budget = 1;
        return LS_FALLBACK;
    }
    s->st = eval_trial(s->c, a, &s->cur);
    s->used++;
    return s->st != STYLIZE_OK ? LS_ERROR : LS_ZOOM;
}

/* cur satisfies sufficient decrease and is the lowest so far: it goes to
 * xlo / glo. Returns whether it also satisfies the curvature condition. */
static int ls_keep(ls_state *s)
{
    stylize_lbfgs *o = s->c->o;
    swap_ptr(&o->xt, &o->xlo);
    swap_ptr(&o->gt, &o->glo);
    s->c->lo_eval = s->c->trial_eval;
    return fabs(s->cur.dphi) <= -o->p.c2 * s->dphi0;
}

/* Bracketing phase (N&W Alg. 3.5) from step a: ends with a bracket
 * [lo, hi] for the zoom, an accepted trial, or the fallback. */
static ls_next ls_bracket(ls_state *s, double a)
{
    const double c1 = s->c->o->p.c1;
    ls_point prev = s->lo; /* the lowest point so far */
    for (int i = 0;; i++) {
        s->lo = prev;
        ls_next nx = ls_trial(s, a);
        if (nx != LS_ZOOM)
            return nx;
        ls_point cur = s->cur;
        if (!cur.ok || cur.f > s->f0 + c1 * a * s->dphi0 || (i > 0 && cur.f >= prev.f)) {
            s->hi = cur;
            return LS_ZOOM;
        }
        if (ls_keep(s))
            return LS_ACCEPT_CUR;
        if (cur.dphi >= 0) {
            s->lo = cur;
            s->hi = prev;
            return LS_ZOOM;
        }
        /* Still descending: extrapolate into [a + 1.1 (a - a_prev), a + 4 (a - a_prev)]. */
        double step = a - prev.a;
        double amin = a + 1.1 * step, amax = a + 4.0 * step;
        double an = cubic_min(prev.a, prev.f, prev.dphi, cur.a, cur.f, cur.dphi);
        if (!isfinite(an) || an > amax)
            an = amax;
        else if (an < amin)
            an = amin;
        prev = cur;
        a = an;
    }
}

/* Zoom phase (N&W Alg. 3.6): lo satisfies sufficient decrease with the
 * lowest f so far (a = 0 is the current iterate; otherwise lo is stored in
 * xlo / glo); the bracket [lo, hi] contains a strong Wolfe point. */
static ls_next ls_zoom(ls_state *s)
{
    const double c1 = s->c->o->p.c1;
    for (;;) {
        ls_point lo = s->lo, hi = s->hi;
        double left = fmin(lo.a, hi.a), right = fmax(lo.a, hi.a), width = right - left;
        if (s->used < s->c->o->p.max_line_search && budget_left(s->c) &&
            width * s->dmax <= 0.5 * FLT_EPSILON * s->xmax)
            return LS_FALLBACK; /* trial points would no longer differ in float */
        double an = NAN;
        if (hi.ok)
            an = cubic_min(lo.a, lo.f, lo.dphi, hi.a, hi.f, hi.dphi);
        if (!isfinite(an)) {
            an = 0.5 * (left + right); /* no usable model (or hi not finite): bisect */
        } else {
            /* Keep the trial at least 10% of the bracket away from its ends. */
            double lb = left + 0.1 * width, ub = right - 0.1 * width;
            an = an < lb ? lb : an > ub ? ub : an;
        }
        ls_next nx = ls_trial(s, an);
        if (nx != LS_ZOOM)
            return nx;
        ls_point cur = s->cur;
        if (!cur.ok || cur.f > s->f0 + c1 * an * s->dphi0 || cur.f >= lo.f) {
            s->hi = cur;
            continue;
        }
        if (ls_keep(s))
            return LS_ACCEPT_CUR;
        if (cur.dphi * (hi.a - lo.a) >= 0)
            s->hi = lo;
        s->lo = cur;
    }
}

/* Strong Wolfe line search along o->d from the current iterate c->x.
 * f0, dphi0 (finite, < 0): f and g'd at a = 0; xmax, dmax: max |x|, max |d|.
 * On LS_ACCEPTED the new point and its gradient are in o->xlo / o->glo and
 * *f_new holds its value (a strong Wolfe point, or the fallback: the lowest
 * sufficient-decrease point seen). *budget is set when the run's evaluation
 * budget stopped the search. An objective error is returned as is. */
static stylize_status line_search(run_ctx *c, double f0, double dphi0, double a_init,
                                  double xmax, double dmax, ls_outcome *outcome, double *f_new,
                                  int *budget)
{
    ls_state s = {c, f0, dphi0, xmax, dmax, 0, budget, {0.0, f0, dphi0, 1}, {0, 0, 0, 0}, {0, 0, 0, 0},
                  STYLIZE_OK};
    *budget = 0;
    ls_next nx = ls_bracket(&s, a_init);
    if (nx == LS_ZOOM)
        nx = ls_zoom(&s);
    if (nx == LS_ERROR)
        return s.st;
    if (nx == LS_ACCEPT_CUR) {
        *outcome = LS_ACCEPTED;
        *f_new = s.cur.f;
    } else if (s.lo.a > 0 && s.lo.f < f0) { /* the fallback */
        *outcome = LS_ACCEPTED;
        *f_new = s.lo.f;
    } else {
        *outcome = LS_NO_DECREASE;
    }
    return STYLIZE_OK;
}

/* Stores the pair s = xlo - x, y = glo - g in the next ring slot when the
 * curvature guard passes. *head is the slot to write next, *count the
 * number of stored pairs. */
static void update_history(stylize_lbfgs *o, const float *x, int *head, int *count)
{
    size_t n = o->n, m = (size_t)o->p.history;
    float *s = o->s + (size_t)*head * n, *y = o->y + (size_t)*head * n;
    double sy = 0, yy = 0, ss = 0;
    for (size_t i = 0; i < n; i++) {
        float si = o->xlo[i] - x[i], yi = o->glo[i] - o->g[i];
        s[i] = si;
        y[i] = yi;
        sy += (double)si * (double)yi;
        yy += (double)yi * (double)yi;
        ss += (double)si * (double)si;
    }
    if (!(isfinite(sy) && isfinite(yy) && isfinite(ss)))
        return;
    if (!(sy > CURVATURE_COS_MIN * sqrt(ss) * sqrt(yy)))
        return; /* curvature condition fails: drop the pair, keep the history */
    o->rho[*head] = 1.0 / sy;
    *head = (int)(((size_t)*head + 1) % m);
    if ((size_t)*count < m)
        (*count)++;
}

/* d = -H g by the two-loop recursion over the count newest pairs (newest in
 * slot head - 1). With count = 0, d = -g. */
static void two_loop(stylize_lbfgs *o, int head, int count)
{
    size_t n = o->n;
    int m = o->p.history;
    float *d = o->d;
    for (size_t i = 0; i < n; i++)
        d[i] = -o->g[i];
    if (count == 0)
        return;
    for (int k = 0; k < count; k++) { /* newest to oldest */
        int j = ((head - 1 - k) % m + m) % m;
        const float *s = o->s + (size_t)j * n, *y = o->y + (size_t)j * n;
        double a = o->rho[j] * dot(s, d, n);
        o->alpha[j] = a;
        float af = (float)a;
        for (size_t i = 0; i < n; i++)
            d[i] -= af * y[i];
    }
    int newest = ((head - 1) % m + m) % m;
    {
        const float *y = o->y + (size_t)newest * n;
        double gamma = 1.0 / (o->rho[newest] * dot(y, y, n)); /* s'y / y'y */
        float gf = (float)gamma;
        for (size_t i = 0; i < n; i++)
            d[i] *= gf;
    }
    for (int k = count - 1; k >= 0; k--) { /* oldest to newest */
        int j = ((head - 1 - k) % m + m) % m;
        const float *s = o->s + (size_t)j * n, *y = o->y + (size_t)j * n;
        double b = o->rho[j] * dot(y, d, n);
        float cf = (float)(o->alpha[j] - b);
        for (size_t i = 0; i < n; i++)
            d[i] += cf * s[i];
    }
}


/* One iteration's direction and line search from the iterate c->x (value
 * fx, gradient o->g); when the search fails with a non-empty history, the
 * history is cleared and the search retried once along steepest descent.
 * *outcome, *f_new and *budget as line_search's. */
static stylize_status search(run_ctx *c, int *count, int head, double fx, ls_outcome *outcome,
                             double *f_new, int *budget)
{
    stylize_lbfgs *o = c->o;
    size_t n = o->n;
    for (int attempt = 0; attempt < 2; attempt++) {
        two_loop(o, head, *count);
        double dphi0 = dot(o->g, o->d, n);
        if (!(dphi0 < 0 && isfinite(dphi0)) && *count > 0) {
            *count = 0; /* not a descent direction: forget the history */
            two_loop(o, head, *count);
            dphi0 = dot(o->g, o->d, n);
        }
        if (!(dphi0 < 0 && isfinite(dphi0)))
            break; /* g = 0 to float precision: no descent direction */
        double a_init = 1.0;
        if (*count == 0) {
            double g1 = 0;
            for (size_t i = 0; i < n; i++)
                g1 += fabs((double)o->g[i]);
            a_init = fmin(1.0, 1.0 / g1);
        }
        double xmax = max_abs_checked(c->x, n), dmax = max_abs_checked(o->d, n);
        stylize_status st = line_search(c, fx, dphi0, a_init, xmax, dmax, outcome, f_new, budget);
        if (st != STYLIZE_OK)
            return st;
        if (*outcome == LS_ACCEPTED || *budget || *count == 0)
            break;
        *count = 0;
    }
    return STYLIZE_OK;
}

/* The stopping tests after the callback, in order: tol_grad, tol_change,
 * max_iterations, the evaluation budget. */
static int stop_test(const run_ctx *c, int iterations, double f_old, double fx, double gmax,
                     stylize_stop_reason *reason)
{
    const stylize_lbfgs_params *p = &c->o->p;
    if (gmax <= p->tol_grad)
        *reason = STYLIZE_STOP_TOL_GRAD;
    else if (iterations > 0 && p->tol_change > 0 &&
             fabs(f_old - fx) <= p->tol_change * fmax(fmax(fabs(f_old), fabs(fx)), 1e-30))
        *reason = STYLIZE_STOP_TOL_CHANGE;
    else if (iterations >= p->max_iterations)
        *reason = STYLIZE_STOP_MAX_ITER;
    else if (!budget_left(c))
        *reason = STYLIZE_STOP_MAX_EVALS;
    else
        return 0;
    return 1;
}

stylize_status stylize_lbfgs_run(stylize_lbfgs *opt, float *x, stylize_objective_fn f, void *fuser,
                                 stylize_progress_fn progress, void *puser, stylize_opt_result *res,
                                 stylize_error *err)
{
    if (res)
        stylize_fill_result(res, 0, 0, NAN, NAN, STYLIZE_STOP_MAX_ITER);
    if (!opt || !x || !f)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "lbfgs: NULL optimiser, x or objective");

    stylize_lbfgs *o = opt;
    const stylize_lbfgs_params *p = &o->p;
    const size_t n = o->n;
    run_ctx c = {o, x, f, fuser, err, 0, p->max_evaluations, 0.0, 0, 0, 0};
    stylize_status st;
    stylize_stop_reason reason = STYLIZE_STOP_MAX_ITER;
    int iterations = 0, head = 0, count = 0, cur_eval = 1; /* the iterate's evaluation */
    double fx;

    st = call_objective(&c, x, o->g, &fx);
    if (st != STYLIZE_OK) {
        stylize_fill_result(res, 0, c.evals, NAN, NAN, reason);
        return st;
    }
    double gmax = max_abs_checked(o->g, n);
    if (!isfinite(fx) || !isfinite(gmax)) {
        stylize_fill_result(res, 0, c.evals, fx, fx, reason);
        return stylize_error_set(err, STYLIZE_ERR_NUMERIC,
                                 "lbfgs: objective is not finite at the initial point "
                                 "(value %g, max |gradient| %g)",
                                 fx, gmax);
    }
    const double f_init = fx;
    double f_old = fx;
    c.f_best = fx;

    for (;;) {
        if (progress) { /* the stopping tests at the current iterate (iteration 0 included) */
            stylize_opt_progress pr = {iterations, c.evals, cur_eval, fx, gmax, x};
            if (progress(puser, &pr)) {
                reason = STYLIZE_STOP_CALLBACK;
                break;
            }
        }
        if (stop_test(&c, iterations, f_old, fx, gmax, &reason))
            break;
        ls_outcome outcome = LS_NO_DECREASE;
        double f_new = fx;
        int budget = 0;
        st = search(&c, &count, head, fx, &outcome, &f_new, &budget);
        if (st != STYLIZE_OK) {
            if (c.best_is_xbest)
                memcpy(x, o->xbest, n * sizeof(float));
            stylize_fill_result(res, iterations, c.evals, f_init, c.f_best, reason);
            return st;
        }
        if (outcome != LS_ACCEPTED) {
            reason = budget ? STYLIZE_STOP_MAX_EVALS : STYLIZE_STOP_LINE_SEARCH;
            break;
        }

        /* Accept xlo: update the history, then move the iterate. */
        update_history(o, x, &head, &count);
        memcpy(x, o->xlo, n * sizeof(float));
        swap_ptr(&o->g, &o->glo);
        cur_eval = c.lo_eval;
        f_old = fx;
        fx = f_new;
        if (fx <= c.f_best) {
            c.f_best = fx;
            c.best_is_xbest = 0;
        }
        gmax = max_abs_checked(o->g, n);
        iterations++;
    }

    if (c.best_is_xbest)
        memcpy(x, o->xbest, n * sizeof(float));
    stylize_fill_result(res, iterations, c.evals, f_init, c.f_best, reason);
    return STYLIZE_OK;
}

/* Tests for the optimisers (optim.h): L-BFGS convergence on Rosenbrock and
 * an ill-conditioned quadratic, strong Wolfe steps, every stop reason,
 * error propagation with the best point, memory accounting, and Adam. */
#include "stylize/optim/optim.h"

#include "testutil.h"

/* ---- objectives (double internally, float gradient) ---- */

typedef struct {
    int evals;           /* evaluations so far */
    int fail_at;         /* evaluation number (1-based) that returns an error; 0: never */
    double min_f;        /* lowest value returned */
    float min_x[128];    /* point where min_f was returned (n <= 128) */
    int nonfinite;       /* evaluations that returned a non-finite value */
} eval_log;

static void log_init(eval_log *l)
{
    memset(l, 0, sizeof *l);
    l->min_f = INFINITY;
}

/* Returns 1 when the call must fail; records value and point otherwise. */
static int log_eval(eval_log *l, const float *x, size_t n, double f)
{
    l->evals++;
    if (l->fail_at && l->evals == l->fail_at)
        return 1;
    if (!isfinite(f))
        l->nonfinite++;
    if (f < l->min_f && n <= 128) {
        l->min_f = f;
        memcpy(l->min_x, x, n * sizeof(float));
    }
    return 0;
}

typedef struct {
    size_t n;
    eval_log log;
} rosen_ctx;

/* Chained Rosenbrock: sum_{i<n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2. */
static double rosen_value_grad(const float *xf, float *g, size_t n)
{
    double f = 0;
    double gd[128] = {0};
    for (size_t i = 0; i + 1 < n; i++) {
        double xi = xf[i], xn = xf[i + 1];
        double a = xn - xi * xi, b = 1.0 - xi;
        f += 100.0 * a * a + b * b;
        gd[i] += -400.0 * xi * a - 2.0 * b;
        gd[i + 1] += 200.0 * a;
    }
    if (g)
        for (size_t i = 0; i < n; i++)
            g[i] = (float)gd[i];
    return f;
}

static stylize_status rosen_obj(void *user, const float *x, float *grad, double *value,
                                stylize_error *err)
{
    rosen_ctx *c = user;
    double f = rosen_value_grad(x, grad, c->n);
    if (log_eval(&c->log, x, c->n, f))
        return stylize_error_set(err, STYLIZE_ERR_INTERRUPTED, "test: interrupted");
    *value = f;
    return STYLIZE_OK;
}

/* f = 0.5 (x - c)' Q diag(lambda) Q' (x - c), Q = H1 H2 (Householder reflections). */
#define QN_MAX 64
typedef struct {
    size_t n;
    double lambda[QN_MAX], c[QN_MAX], u1[QN_MAX], u2[QN_MAX]; /* u: unit vectors */
    double offset; /* added to f: makes the relative change small near the minimum */
    eval_log log;
} quad_ctx;

static void householder(const double *u, double *v, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += u[i] * v[i];
    for (size_t i = 0; i < n; i++)
        v[i] -= 2.0 * d * u[i];
}

static double quad_value_grad(const quad_ctx *q, const float *x, float *g)
{
    double z[QN_MAX], f = q->offset;
    size_t n = q->n;
    for (size_t i = 0; i < n; i++)
        z[i] = (double)x[i] - q->c[i];
    householder(q->u1, z, n); /* z = Q' (x - c) = H2 H1 (x - c) */
    householder(q->u2, z, n);
    for (size_t i = 0; i < n; i++) {
        f += 0.5 * q->lambda[i] * z[i] * z[i];
        z[i] *= q->lambda[i];
    }
    householder(q->u2, z, n); /* grad = H1 H2 diag(lambda) z */
    householder(q->u1, z, n);
    if (g)
        for (size_t i = 0; i < n; i++)
            g[i] = (float)z[i];
    return f;
}

static stylize_status quad_obj(void *user, const float *x, float *grad, double *value,
                               stylize_error *err)
{
    quad_ctx *q = user;
    double f = quad_value_grad(q, x, grad);
    if (log_eval(&q->log, x, q->n, f))
        return stylize_error_set(err, STYLIZE_ERR_INTERRUPTED, "test: interrupted");
    *value = f;
    return STYLIZE_OK;
}

/* n variables, eigenvalues log-spaced in [1, cond], minimiser c in [-1, 1],
 * rotated when rotate != 0. */
static void quad_init(quad_ctx *q, size_t n, double cond, int rotate, uint64_t seed)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    uint64_t s = seed;
    double n1 = 0, n2 = 0;
    for (size_t i = 0; i < n; i++) {
        q->lambda[i] = n > 1 ? pow(cond, (double)i / (double)(n - 1)) : 1.0;
        q->c[i] = tu_uniform(&s, -1.0f, 1.0f);
        q->u1[i] = rotate ? tu_uniform(&s, -1.0f, 1.0f) : 0.0;
        q->u2[i] = rotate ? tu_uniform(&s, -1.0f, 1.0f) : 0.0;
        n1 += q->u1[i] * q->u1[i];
        n2 += q->u2[i] * q->u2[i];
    }
    for (size_t i = 0; i < n; i++) {
        q->u1[i] = rotate ? q->u1[i] / sqrt(n1) : 0.0;
        q->u2[i] = rotate ? q->u2[i] / sqrt(n2) : 0.0;
    }
    log_init(&q->log);
}

/* ---- progress callbacks ---- */

typedef struct {
    int calls;
    int first_iteration, first_evaluations;
    int last_iteration;
    int stop_at;          /* return 1 when iteration == stop_at (>= 0) */
    double stop_below;    /* return 1 when value < stop_below */
    int reached_at;       /* iteration at which value < stop_below, -1 before */
    int monotone;         /* value never increased */
    double last_value, prev_value;
} prog_ctx;

static void prog_init(prog_ctx *p)
{
    memset(p, 0, sizeof *p);
    p->first_iteration = p->first_evaluations = -1;
    p->stop_at = -1;
    p->stop_below = -INFINITY;
    p->reached_at = -1;
    p->monotone = 1;
    p->last_value = p->prev_value = INFINITY;
}

static int prog_fn(void *user, const stylize_opt_progress *pr)
{
    prog_ctx *p = user;
    if (p->calls == 0) {
        p->first_iteration = pr->iteration;
        p->first_evaluations = pr->evaluations;
    }
    p->calls++;
    p->last_iteration = pr->iteration;
    if (pr->value > p->last_value)
        p->monotone = 0;
    p->prev_value = p->last_value;
    p->last_value = pr->value;
    if (pr->value < p->stop_below) {
        p->reached_at = pr->iteration;
        return 1;
    }
    return p->stop_at >= 0 && pr->iteration == p->stop_at;
}

/* Checks the strong Wolfe conditions between successive iterates of the
 * chained Rosenbrock function, recomputing f and g at each reported x. */
typedef struct {
    size_t n;
    double c1, c2;
    int have_prev;
    float xp[128], gp[128];
    double fp;
    int steps, wolfe_ok, armijo_ok;
} wolfe_ctx;

static int wolfe_fn(void *user, const stylize_opt_progress *pr)
{
    wolfe_ctx *w = user;
    float g[128];
    double f = rosen_value_grad(pr->x, g, w->n);
    if (w->have_prev && w->fp > 1e-9) { /* above float noise in f and g's */
        double gs0 = 0, gs1 = 0;
        for (size_t i = 0; i < w->n; i++) {
            double s = (double)pr->x[i] - (double)w->xp[i];
            gs0 += (double)w->gp[i] * s;
            gs1 += (double)g[i] * s;
        }
        w->steps++;
        double slack = 1e-6 * fabs(w->fp); /* float evaluation noise in f */
        if (gs0 < 0 && f <= w->fp + w->c1 * gs0 + slack)
            w->armijo_ok++;
        if (gs0 < 0 && fabs(gs1) <= w->c2 * fabs(gs0) * (1 + 1e-4))
            w->wolfe_ok++;
    }
    memcpy(w->xp, pr->x, w->n * sizeof(float));
    memcpy(w->gp, g, w->n * sizeof(float));
    w->fp = f;
    w->have_prev = 1;
    return 0;
}

/* ---- L-BFGS convergence ---- */

static void test_rosenbrock2(void)
{
    stylize_lbfgs_params p;
    stylize_lbfgs_defaults(&p);
    p.tol_change = 0;
    p.tol_grad = 0;
    p.max_iterations = 200;
    rosen_ctx rc = {2, {0}};
    log_init(&rc.log);
    prog_ctx pc;
    prog_init(&pc);
    pc.stop_below = 1e-8;
    stylize_lbfgs *opt = NULL;
    stylize_error err = {0};
    CHECK(stylize_lbfgs_create(&opt, 2, &p, NULL, &err) == STYLIZE_OK);
    float x[2] = {-1.2f, 1.0f};
    stylize_opt_result res;
    CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, prog_fn, &pc, &res, &err) == STYLIZE_OK);
    printf("rosenbrock n=2: %d iterations, %d evaluations, f = %.3g, x = (%.6f, %.6f)\n",
           res.iterations, res.evaluations, res.value_final, x[0], x[1]);
    CHECK(res.reason == STYLIZE_STOP_CALLBACK); /* stopped by reaching f < 1e-8 */
    CHECK(res.value_final < 1e-8);
    CHECK(res.iterations < 200);
    CHECK(pc.reached_at >= 0 && pc.reached_at < 200);
    CHECK(fabs(x[0] - 1.0) < 1e-3 && fabs(x[1] - 1.0) < 1e-3);
    CHECK_CLOSE(res.value_final, rosen_value_grad(x, NULL, 2), 1e-12);
    CHECK_CLOSE(res.value_initial, 24.2, 1e-6);
    CHECK(res.evaluations == rc.log.evals);
    CHECK(pc.monotone);
    stylize_lbfgs_free(opt);
}

static void test_rosenbrock_chained(void)
{
    enum { N = 100 };
    stylize_lbfgs_params p;
    stylize_lbfgs_defaults(&p);
    p.tol_change = 0;
    p.tol_grad = 0;
    p.max_iterations = 2000;
    rosen_ctx rc = {N, {0}};
    log_init(&rc.log);
    prog_ctx pc;
    prog_init(&pc);
    pc.stop_below = 1e-6;
    stylize_lbfgs *opt = NULL;
    CHECK(stylize_lbfgs_create(&opt, N, &p, NULL, NULL) == STYLIZE_OK);
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = i % 2 == 0 ? -1.2f : 1.0f;
    stylize_opt_result res;
    CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, prog_fn, &pc, &res, NULL) == STYLIZE_OK);
    double maxerr = 0;
    for (int i = 0; i < N; i++)
        maxerr = fmax(maxerr, fabs(x[i] - 1.0));
    printf("chained rosenbrock n=%d: %d iterations, %d evaluations, f = %.3g, max |x-1| = %.2g\n",
           N, res.iterations, res.evaluations, res.value_final, maxerr);
    CHECK(res.value_final < 1e-6);
    CHECK(res.reason == STYLIZE_STOP_CALLBACK);
    CHECK(res.iterations < 1000);
    CHECK(res.evaluations < 800);
    CHECK(maxerr < 1e-2);
    CHECK(pc.monotone);
    stylize_lbfgs_free(opt);
}

/* Eigenvalues log-spaced in [1, 1e4], n = 50. Measured with the defaults
 * (m = 10, c2 = 0.9): ~390-400 iterations to f < 1e-10 f0, where gradient
 * descent would need ~1e5; with m = n and a near-exact search (c2 = 0.1) the
 * method behaves like conjugate gradients, ~n iterations. */
static void test_ill_conditioned_quadratic(int rotate, int history, double c2, int max_iter,
                                           int max_evals)
{
    enum { N = 50 };
    stylize_lbfgs_params p;
    stylize_lbfgs_defaults(&p);
    p.history = history;
    p.c2 = c2;
    p.tol_change = 0;
    p.tol_grad = 0;
    p.max_iterations = 10 * N;
    quad_ctx *q = malloc(sizeof *q);
    CHECK(q != NULL);
    if (!q)
        return;
    quad_init(q, N, 1e4, rotate, 42);
    float x[N];
    tu_fill(x, N, 7, -3.0f, 3.0f);
    double f0 = quad_value_grad(q, x, NULL);
    prog_ctx pc;
    prog_init(&pc);
    pc.stop_below = 1e-10 * f0;
    stylize_lbfgs *opt = NULL;
    CHECK(stylize_lbfgs_create(&opt, N, &p, NULL, NULL) == STYLIZE_OK);
    stylize_opt_result res;
    CHECK(stylize_lbfgs_run(opt, x, quad_obj, q, prog_fn, &pc, &res, NULL) == STYLIZE_OK);
    printf("quadratic n=%d cond 1e4 %s m=%d c2=%g: %d iterations, %d evaluations, f/f0 = %.3g\n",
           N, rotate ? "rotated" : "diagonal", history, c2, res.iterations, res.evaluations,
           res.value_final / f0);
    CHECK(res.value_final < 1e-10 * f0);
    CHECK(res.reason == STYLIZE_STOP_CALLBACK);
    CHECK_MSG(res.iterations <= max_iter, "%d iterations (bound %d)", res.iterations, max_iter);
    /* gamma scaling makes the unit step acceptable almost always */
    CHECK_MSG(res.evaluations <= max_evals, "%d evaluations (bound %d)", res.evaluations,
              max_evals);
    CHECK(pc.monotone);
    stylize_lbfgs_free(opt);
    free(q);
}

/* Every accepted step of a nonlinear problem satisfies the strong Wolfe
 * conditions (checked from outside, on the reported iterates). */
static void test_strong_wolfe_steps(void)
{
    for (int variant = 0; variant < 2; variant++) {
        size_t n = variant == 0 ? 2 : 20;
        stylize_lbfgs_params p;
        stylize_lbfgs_defaults(&p);
        p.max_iterations = 60;
        p.tol_change = 0;
        if (variant == 1)
            p.c2 = 0.5; /* tighter curvature condition exercises the zoom */
        rosen_ctx rc = {n, {0}};
        log_init(&rc.log);
        wolfe_ctx w;
        memset(&w, 0, sizeof w);
        w.n = n;
        w.c1 = p.c1;
        w.c2 = p.c2;
        float x[128];
        for (size_t i = 0; i < n; i++)
            x[i] = i % 2 == 0 ? -1.2f : 1.0f;
        stylize_lbfgs *opt = NULL;
        CHECK(stylize_lbfgs_create(&opt, n, &p, NULL, NULL) == STYLIZE_OK);
        stylize_opt_result res;
        CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, wolfe_fn, &w, &res, NULL) == STYLIZE_OK);
        printf("strong Wolfe n=%zu c2=%g: %d/%d steps satisfy Armijo, %d/%d curvature\n", n, p.c2,
               w.armijo_ok, w.steps, w.wolfe_ok, w.steps);
        CHECK(w.steps >= 10);
        CHECK(w.armijo_ok == w.steps);
        CHECK(w.wolfe_ok == w.steps);
        stylize_lbfgs_free(opt);
    }
}

/* 1-D quadratic f = 0.5 a (x - c)^2: known steps of the line search. */
typedef struct {
    double a, c;
    int evals;
    int fail_at; /* evaluation (1-based) that returns an error; 0: never */
    double min_f;
    float min_x;
} q1_ctx;

static stylize_status q1_obj(void *user, const float *x, float *grad, double *value,
                             stylize_error *err)
{
    (void)err;
    q1_ctx *q = user;
    q->evals++;
    if (q->evals == q->fail_at)
        return STYLIZE_ERR_INTERRUPTED; /* no message: the optimiser supplies one */
    double d = (double)x[0] - q->c;
    *value = 0.5 * q->a * d * d;
    grad[0] = (float)(q->a * d);
    if (q->evals == 1 || *value < q->min_f) {
        q->min_f = *value;
        q->min_x = x[0];
    }
    return STYLIZE_OK;
}

static void test_quadratic_1d_steps(void)
{
    stylize_lbfgs_params p;
    stylize_lbfgs_defaults(&p);
    p.tol_change = 0;
    p.tol_grad = 0;
    stylize_lbfgs *opt = NULL;
    stylize_opt_result res;

    /* c2 = 0.9: the first step min(1, 1/|g|_1) = 1/6 lands on x = 1, where
     * |g| = 4 <= 0.9 * 6, accepted with one evaluation; the second step uses
     * gamma = s'y / y'y = 1/a, the exact Newton step, to x = 3. */
    p.max_iterations = 1;
    q1_ctx q = {2.0, 3.0, 0, 0, 0, 0};
    float x = 0.0f;
    CHECK(stylize_lbfgs_create(&opt, 1, &p, NULL, NULL) == STYLIZE_OK);
    CHECK(stylize_lbfgs_run(opt, &x, q1_obj, &q, NULL, NULL, &res, NULL) == STYLIZE_OK);
    CHECK_CLOSE(x, 1.0, 1e-6);
    CHECK(res.evaluations == 2);
    stylize_lbfgs_free(opt);
    p.max_iterations = 2;
    x = 0.0f;
    q.evals = 0;
    CHECK(stylize_lbfgs_create(&opt, 1, &p, NULL, NULL) == STYLIZE_OK);
    CHECK(stylize_lbfgs_run(opt, &x, q1_obj, &q, NULL, NULL, &res, NULL) == STYLIZE_OK);
    CHECK_CLOSE(x, 3.0, 1e-6);
    CHECK(res.evaluations == 3);
    CHECK(res.value_final < 1e-10);
    stylize_lbfgs_free(opt);

    /* c2 = 0.1: x = 1 fails the curvature condition (4 > 0.6); the search
     * extrapolates and the cubic model (exact on a quadratic) returns the
     * minimiser, or the zoom does: one iteration reaches x = 3. */
    p.c2 = 0.1;
    p.max_iterations = 1;
    x = 0.0f;
    q.evals = 0;
    CHECK(stylize_lbfgs_create(&opt, 1, &p, NULL, NULL) == STYLIZE_OK);
    CHECK(stylize_lbfgs_run(opt, &x, q1_obj, &q, NULL, NULL, &res, NULL) == STYLIZE_OK);
    CHECK(res.iterations == 1);
    CHECK_MSG(fabs(x - 3.0) <= 0.1 * 3.0, "x = %g", x); /* |g| <= 0.1 |g0| */
    CHECK(res.evaluations <= 5);
    printf("1-D quadratic c2=0.1: x after one iteration %.7g, %d evaluations\n", x,
           res.evaluations);

    /* Objective error in the middle of that search (evaluation 3, after the
     * lower point x = 1 was seen but not accepted): x = that best point. */
    q.evals = 0;
    q.fail_at = 3;
    x = 0.0f;
    stylize_error err = {0};
    CHECK(stylize_lbfgs_run(opt, &x, q1_obj, &q, NULL, NULL, &res, &err) ==
          STYLIZE_ERR_INTERRUPTED);
    CHECK(res.iterations == 0 && res.evaluations == 3);
    CHECK(x == 1.0f && x == q.min_x);
    CHECK(res.value_final == q.min_f && res.value_final < res.value_initial);
    CHECK(err.code == STYLIZE_ERR_INTERRUPTED && strlen(err.msg) > 0); /* generic message */
    q.fail_at = 0;
    stylize_lbfgs_free(opt);

    /* Overshoot: a = 10, c = 0.3 from 0: the first trial x = 1 (step 1/|g|)
     * fails sufficient decrease; the zoom's cubic model, exact on a quadratic,
     * gives x = 0.3 on the next evaluation (bisection would not). */
    q.a = 10.0;
    q.c = 0.3;
    q.evals = 0;
    x = 0.0f;
    CHECK(stylize_lbfgs_create(&opt, 1, &p, NULL, NULL) == STYLIZE_OK);
    CHECK(stylize_lbfgs_run(opt, &x, q1_obj, &q, NULL, NULL, &res, NULL) == STYLIZE_OK);
    CHECK(res.iterations == 1 && res.evaluations == 3);
    CHECK_CLOSE(x, 0.3, 1e-6);
    stylize_lbfgs_free(opt);
}

/* ---- stopping reasons ---- */

static stylize_lbfgs *make_lbfgs(size_t n, void (*tweak)(stylize_lbfgs_params *))
{
    stylize_lbfgs_params p;
    stylize_lbfgs_defaults(&p);
    if (tweak)
        tweak(&p);
    stylize_lbfgs *opt = NULL;
    stylize_error err = {0};
    if (stylize_lbfgs_create(&opt, n, &p, NULL, &err) != STYLIZE_OK)
        fprintf(stderr, "create: %s\n", err.msg);
    return opt;
}

static void tw_iter5(stylize_lbfgs_params *p) { p->max_iterations = 5; }
static void tw_iter0(stylize_lbfgs_params *p) { p->max_iterations = 0; }
static void tw_change(stylize_lbfgs_params *p) { p->tol_change = 1e-6; p->tol_grad = 0; }
static void tw_grad(stylize_lbfgs_params *p) { p->tol_grad = 1e-2; p->tol_change = 0; }
static void tw_evals(stylize_lbfgs_params *p) { p->max_evaluations = 7; p->tol_change = 0; }
static void tw_plain(stylize_lbfgs_params *p) { p->tol_change = 0; p->tol_grad = 0; }

static void test_stop_reasons(void)
{
    stylize_opt_result res;
    stylize_error err = {0};
    rosen_ctx rc = {2, {0}};
    prog_ctx pc;
    stylize_lbfgs *opt;
    float x[2];

    /* max_iterations = 5 */
    opt = make_lbfgs(2, tw_iter5);
    log_init(&rc.log);
    prog_init(&pc);
    x[0] = -1.2f, x[1] = 1.0f;
    CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, prog_fn, &pc, &res, &err) == STYLIZE_OK);
    CHECK(res.iterations == 5);
    CHECK(res.reason == STYLIZE_STOP_MAX_ITER);
    CHECK(pc.calls == 6); /* iteration 0 and after each of the 5 iterations */
    CHECK(pc.first_iteration == 0 && pc.first_evaluations == 1);
    CHECK(pc.last_iteration == 5);
    CHECK(res.evaluations == rc.log.evals);
    CHECK(res.value_final < res.value_initial);
    stylize_lbfgs_free(opt);

    /* max_iterations = 0: one evaluation, x untouched */
    opt = make_lbfgs(2, tw_iter0);
    log_init(&rc.log);
    prog_init(&pc);
    x[0] = -1.2f, x[1] = 1.0f;
    CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, prog_fn, &pc, &res, &err) == STYLIZE_OK);
    CHECK(rc.log.evals == 1 && res.evaluations == 1);
    CHECK(res.iterations == 0 && res.reason == STYLIZE_STOP_MAX_ITER);
    CHECK(x[0] == -1.2f && x[1] == 1.0f);
    CHECK(pc.calls == 1 && pc.first_iteration == 0);
    CHECK_CLOSE(res.value_initial, 24.2, 1e-6);
    CHECK(res.value_final == res.value_initial);
    stylize_lbfgs_free(opt);

    /* callback stop at iteration 3 (and at iteration 0) */
    opt = make_lbfgs(2, NULL);
    for (int at = 0; at <= 3; at += 3) {
        log_init(&rc.log);
        prog_init(&pc);
        pc.stop_at = at;
        x[0] = -1.2f, x[1] = 1.0f;
        CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, prog_fn, &pc, &res, &err) == STYLIZE_OK);
        CHECK(res.reason == STYLIZE_STOP_CALLBACK);
        CHECK(res.iterations == at);
        CHECK(pc.calls == at + 1);
        CHECK(res.evaluations == rc.log.evals);
        CHECK(at > 0 || rc.log.evals == 1);
    }
    stylize_lbfgs_free(opt);

    /* objective error at evaluation 9: status propagates, x = best point */
    opt = make_lbfgs(2, NULL);
    log_init(&rc.log);
    rc.log.fail_at = 9;
    x[0] = -1.2f, x[1] = 1.0f;
    err.code = STYLIZE_OK;
    CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, NULL, NULL, &res, &err) ==
          STYLIZE_ERR_INTERRUPTED);
    CHECK(err.code == STYLIZE_ERR_INTERRUPTED && strstr(err.msg, "interrupted") != NULL);
    CHECK(res.evaluations == 9);
    CHECK(res.value_final == rc.log.min_f);
    CHECK(x[0] == rc.log.min_x[0] && x[1] == rc.log.min_x[1]);
    CHECK(res.value_final < res.value_initial);
    CHECK_CLOSE(rosen_value_grad(x, NULL, 2), res.value_final, 1e-12);
    rc.log.fail_at = 0;
    /* error at the very first evaluation: x untouched */
    log_init(&rc.log);
    rc.log.fail_at = 1;
    x[0] = -1.2f, x[1] = 1.0f;
    CHECK(stylize_lbfgs_run(opt, x, rosen_obj, &rc, NULL, NULL, &res, &err) ==
          STYLIZE_ERR_INTERRUPTED);
    CHECK(x[0] == -1.2f && x[1] == 1.0f && res.evaluations == 1);
    stylize_lbfgs_free(opt);

    /* tol_change = 1e-6 on 1000 + quadratic: stops once a step lowers f by
     * less than ~1e-3, well before the quadratic part reaches float noise. */
    quad_ctx *q = malloc(sizeof *q);
    CHECK(q != NULL);
    if (q) {
        float xq[20];
        quad_init(q, 20, 100.0, 1, 3);
        q->offset = 1000.0;
        opt = make_lbfgs(20, tw_change);
        tu_fill(xq, 20, 11, -2.0f, 2.0f);
        prog_init(&pc);
        CHECK(stylize_lbfgs_run(opt, xq, quad_obj, q, prog_fn, &pc, &res, &err) == STYLIZE_OK);
        printf("tol_change: %d iterations, f - 1000 = %.3g\n", res.iterations,
               res.value_final - 1000.0);
        CHECK(res.reason == STYLIZE_STOP_TOL_CHANGE);
        CHECK(res.iterations > 1 && res.iterations < 100);
        CHECK(fabs(pc.prev_value - pc.last_value) <= 1e-6 * pc.prev_value);
        CHECK(res.value_final - 1000.0 < 1e-2 && res.value_final - 1000.0 > 0);
        q->offset = 0;
        stylize_lbfgs_free(opt);

        /* tol_grad */
        opt = make_lbfgs(20, tw_grad);
        tu_fill(xq, 20, 11, -2.0f, 2.0f);
        CHECK(stylize_lbfgs_run(opt, xq, quad_obj, q, NULL, NULL, &res, &err) == STYLIZE_OK);
        CHECK(res.reason == STYLIZE_STOP_TOL_GRAD);
        float gq[20];
        quad_value_grad(q, xq, gq);
        double gmax = 0;
        for (int i = 0; i < 20; i++)
            gmax = fmax(gmax, fabs(gq[i]));
        CHECK(gmax <= 1e-2);
        stylize_lbfgs_free(opt);

        /* max_evaluations = 7 */
        opt = make_lbfgs(20, tw_evals);
        log_init(&q->log);
        tu_fill(xq, 20, 11, -2.0f, 2.0f);
        CHECK(stylize_lbfgs_run(opt, xq, quad_obj, q, NULL, NULL, &res, &err) == STYLIZE_OK);
        CHECK(res.reason == STYLIZE_STOP_MAX_EVALS);
        CHECK(res.evaluations <= 7 && q->log.evals == res.evaluations);
        CHECK(res.value_final == q->log.min_f);
        stylize_lbfgs_free(opt);
        free(q);
    }
}

/* Gradient with the wrong sign: every search direction increases f. */
static stylize_status wrong_sign_obj(void *user, const float *x, float *grad, double *value,
                                     stylize_error *err)
{
    (void)err;
    int *evals = user;
    (*evals)++;
    *value = (double)x[0] * x[0] + (double)x[1] * x[1];
    grad[0] = -2.0f * x[0];
    grad[1] = -2.0f * x[1];
    return STYLIZE_OK;
}

/* f = -x for x < 1 and NaN beyond: no minimiser, no curvature; exercises
 * non-finite trial points and the fallback to the best sufficient-decrease point. */
static stylize_status cliff_obj(void *user, const float *x, float *grad, double *value,
                                stylize_error *err)
{
    (void)err;
    int *nan_count = user;
    if (x[0] < 1.0f) {
        *value = -(double)x[0];
        grad[0] = -1.0f;
    } else {
        *value = NAN;
        grad[0] = NAN;
        (*nan_count)++;
    }
    return STYLIZE_OK;
}

static stylize_status nan_obj(void *user, const float *x, float *grad, double *value,
                              stylize_error *err)
{
    (void)user, (void)err, (void)x;
    *value = NAN;
    grad[0] = 0;
    return STYLIZE_OK;
}

/* f = 0.5 (x^2 + 25 y^2). While `poisoned` is set (by the callback at
 * iteration 3), every point off the ray x_c - t g_c returns NaN, so the
 * L-BFGS direction fails and only the steepest-descent retry can move. */
typedef struct {
    int poisoned;
    float xc[2], gc[2];
    int nan_evals;
} poison_ctx;

static stylize_status poison_obj(void *user, const float *x, float *grad, double *value,
                                 stylize_error *err)
{
    (void)err;
    poison_ctx *c = user;
    if (c->poisoned) {
        double dx = (double)x[0] - c->xc[0], dy = (double)x[1] - c->xc[1];
        double cross = dx * -c->gc[1] - dy * -c->gc[0];
        double along = dx * -c->gc[0] + dy * -c->gc[1];
        double nd = sqrt(dx * dx + dy * dy), ng = hypot(c->gc[0], c->gc[1]);
        if (nd > 0 && (along <= 0 || fabs(cross) > 1e-3 * nd * ng)) {
            c->nan_evals++;
            *value = NAN;
            grad[0] = grad[1] = NAN;
            return STYLIZE_OK;
        }
    }
    *value = 0.5 * ((double)x[0] * x[0] + 25.0 * (double)x[1] * x[1]);
    grad[0] = x[0];
    grad[1] = 25.0f * x[1];
    return STYLIZE_OK;
}

static int poison_progress(void *user, const stylize_opt_progress *pr)
{
    poison_ctx *c = user;
    c->poisoned = pr->iteration == 3;
    c->xc[0] = pr->x[0];
    c->xc[1] = pr->x[1];
    c->gc[0] = pr->x[0];
    c->gc[1] = 25.0f * pr->x[1];
    return 0;
}

static void test_steepest_descent_retry(void)
{
    poison_ctx pc;
    memset(&pc, 0, sizeof pc);
    float x[2] = {1.0f, 1.0f};
    stylize_opt_result res;
    stylize_lbfgs *opt = make_lbfgs(2, tw_iter5);
    CHECK(stylize_lbfgs_run(opt, x, poison_obj, &pc, poison_progress, &pc, &res, NULL) ==
          STYLIZE_OK);
    printf("retry: %d iterations, %d evaluations, %d NaN\n", res.iterations, res.evaluations,
           pc.nan_evals);
    CHECK(pc.nan_evals > 0);
    CHECK(res.iterations == 5 && res.reason == STYLIZE_STOP_MAX_ITER);
    stylize_lbfgs_free(opt);
}

static void test_line_search_edge_cases(void)
{
    stylize_opt_result res;
    stylize_error err = {0};
    int evals = 0;
    float x[2] = {1.0f, -2.0f};
    stylize_lbfgs *opt = make_lbfgs(2, tw_plain);
    CHECK(stylize_lbfgs_run(opt, x, wrong_sign_obj, &evals, NULL, NULL, &res, &err) ==
          STYLIZE_OK);
    CHECK(res.reason == STYLIZE_STOP_LINE_SEARCH);
    CHECK(res.iterations == 0);
    CHECK(x[0] == 1.0f && x[1] == -2.0f);
    CHECK(res.value_final == res.value_initial);
    CHECK(res.evaluations <= 1 + 25);
    stylize_lbfgs_free(opt);

    /* From 0 the first trial (a = 1) lands on the NaN side; bisection creeps
     * towards 1 without meeting the curvature condition, so the best
     * sufficient-decrease point is accepted (1 iteration). From there no float
     * lies between x and the cliff: the next search finds no decrease. */
    int nans = 0;
    float xc = 0.0f;
    opt = make_lbfgs(1, tw_iter5);
    CHECK(stylize_lbfgs_run(opt, &xc, cliff_obj, &nans, NULL, NULL, &res, &err) == STYLIZE_OK);
    printf("cliff: x = %.9g after %d iterations, %d evaluations, %d non-finite\n", xc,
           res.iterations, res.evaluations, nans);
    CHECK(res.iterations == 1 && res.reason == STYLIZE_STOP_LINE_SEARCH);
    CHECK(xc > 0.999f && xc < 1.0f);
    CHECK(res.evaluations <= 1 + 2 * 25);
    CHECK(nans > 0);
    CHECK(res.value_final == -(double)xc);
    stylize_lbfgs_free(opt);

    xc = 0.0f;
    opt = make_lbfgs(1, NULL);
    CHECK(stylize_lbfgs_run(opt, &xc, nan_obj, NULL, NULL, NULL, &res, &err) ==
          STYLIZE_ERR_NUMERIC);
    CHECK(err.code == STYLIZE_ERR_NUMERIC && strlen(err.msg) > 0);
    stylize_lbfgs_free(opt);
}

static void test_memory_and_args(void)
{
    for (size_t n = 1; n <= 1000000; n *= 100) {
        for (int m = 1; m <= 20; m += 9) {
            size_t b = stylize_lbfgs_memory_bytes(n, m);
            size_t hist = 2 * (size_t)m * n * sizeof(float);
            CHECK(b >= hist + n * sizeof(float));
            CHECK(b <= hist + 8 * n * sizeof(float) + 4096);
            /* one more pair costs exactly its two float vectors plus O(1) */
            size_t b1 = stylize_lbfgs_memory_bytes(n, m + 1);
            CHECK(b1 - b >= 2 * n * sizeof(float) && b1 - b <= 2 * n * sizeof(float) + 64);
        }
        size_t a = stylize_adam_memory_bytes(n);
        CHECK(a >= 4 * n * sizeof(float) && a <= 4 * n * sizeof(float) + 4096);
    }
    CHECK(stylize_lbfgs_memory_bytes(SIZE_MAX / 4, 10) == SIZE_MAX);

    stylize_lbfgs_params p;
    stylize_lbfgs *opt = (stylize_lbfgs *)&p; /* must be reset to NULL on failure */
    stylize_error err = {0};
    stylize_lbfgs_defaults(&p);
    CHECK(p.history == 10 && p.max_iterations == 1000 && p.max_evaluations == 0);
    CHECK(p.c1 == 1e-4 && p.c2 == 0.9 && p.max_line_search == 25);
    CHECK(stylize_lbfgs_create(&opt, 0, &p, NULL, &err) == STYLIZE_ERR_ARG && opt == NULL);
    p.c1 = 0.95;
    CHECK(stylize_lbfgs_create(&opt, 10, &p, NULL, &err) == STYLIZE_ERR_ARG && opt == NULL);
    CHECK(strstr(err.msg, "c1") != NULL);
    stylize_lbfgs_defaults(&p);
    p.history = 0;
    CHECK(stylize_lbfgs_create(&opt, 10, &p, NULL, &err) == STYLIZE_ERR_ARG);
    stylize_lbfgs_defaults(&p);
    p.max_iterations = -1;
    CHECK(stylize_lbfgs_create(&opt, 10, &p, NULL, &err) == STYLIZE_ERR_ARG);
    stylize_lbfgs_defaults(&p);
    CHECK(stylize_lbfgs_create(&opt, SIZE_MAX / 4, &p, NULL, &err) == STYLIZE_ERR_LIMIT);
    CHECK(opt == NULL);
    stylize_lbfgs_free(NULL);
    stylize_adam_free(NULL);

    stylize_adam_params ap;
    stylize_adam *ad = NULL;
    stylize_adam_defaults(&ap);
    CHECK(ap.learning_rate == 1.0 && ap.beta1 == 0.9 && ap.beta2 == 0.999 && ap.eps == 1e-8);
    ap.beta1 = 1.0;
    CHECK(stylize_adam_create(&ad, 10, &ap, NULL, &err) == STYLIZE_ERR_ARG && ad == NULL);

    const stylize_stop_reason reasons[] = {STYLIZE_STOP_MAX_ITER,   STYLIZE_STOP_MAX_EVALS,
                                           STYLIZE_STOP_TOL_CHANGE, STYLIZE_STOP_TOL_GRAD,
                                           STYLIZE_STOP_CALLBACK,   STYLIZE_STOP_LINE_SEARCH};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        const char *s = stylize_stop_reason_str(reasons[i]);
        CHECK(s != NULL && strlen(s) > 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, stylize_stop_reason_str(reasons[j])) != 0);
    }
}

/* ---- Adam ---- */

/* Records max over i of | |x_i - x0_i| - 0.05 | at iteration 1. */
typedef struct {
    size_t n;
    float x0[16];
    double max_dev;
} step_ctx;

static int step_fn(void *user, const stylize_opt_progress *pr)
{
    step_ctx *sc = user;
    if (pr->iteration == 1) {
        sc->max_dev = 0;
        for (size_t i = 0; i < sc->n; i++)
            sc->max_dev = fmax(sc->max_dev, fabs(fabs((double)pr->x[i] - sc->x0[i]) - 0.05));
    }
    return 0;
}

static void test_adam(void)
{
    enum { N = 10 };
    quad_ctx *q = malloc(sizeof *q);
    CHECK(q != NULL);
    if (!q)
        return;
    quad_init(q, N, 10.0, 1, 5);
    stylize_adam_params ap;
    stylize_adam_defaults(&ap);
    ap.learning_rate = 0.05;
    ap.max_iterations = 1000;
    stylize_adam *ad = NULL;
    stylize_error err = {0};
    CHECK(stylize_adam_create(&ad, N, &ap, NULL, &err) == STYLIZE_OK);
    float x[N];
    tu_fill(x, N, 9, -2.0f, 2.0f);
    stylize_opt_result res;
    prog_ctx pc;
    prog_init(&pc);
    CHECK(stylize_adam_run(ad, x, quad_obj, q, prog_fn, &pc, &res, &err) == STYLIZE_OK);
    double maxerr = 0;
    for (int i = 0; i < N; i++)
        maxerr = fmax(maxerr, fabs(x[i] - q->c[i]));
    printf("adam quadratic n=%d: f %.3g -> %.3g, max |x - x*| = %.2g\n", N, res.value_initial,
           res.value_final, maxerr);
    CHECK(res.reason == STYLIZE_STOP_MAX_ITER);
    CHECK(res.iterations == 1000 && res.evaluations == 1001);
    CHECK(pc.calls == 1001 && pc.first_iteration == 0 && pc.first_evaluations == 1);
    CHECK(maxerr < 1e-2);
    CHECK(res.value_final < 1e-4 * res.value_initial);
    CHECK(res.value_final == q->log.min_f); /* best point returned */
    CHECK_CLOSE(quad_value_grad(q, x, NULL), res.value_final, 1e-9);

    /* The first step moves every coordinate by lr (bias correction makes
     * m_hat = g and v_hat = g^2). */
    stylize_adam_free(ad);
    ap.max_iterations = 1;
    CHECK(stylize_adam_create(&ad, N, &ap, NULL, &err) == STYLIZE_OK);
    step_ctx sc;
    sc.n = N;
    tu_fill(sc.x0, N, 9, -2.0f, 2.0f);
    memcpy(x, sc.x0, sizeof x);
    sc.max_dev = -1;
    CHECK(stylize_adam_run(ad, x, quad_obj, q, step_fn, &sc, &res, &err) == STYLIZE_OK);
    CHECK_MSG(sc.max_dev >= 0 && sc.max_dev < 1e-5, "max | |dx| - lr | = %g", sc.max_dev);

    /* max_iterations = 0: one evaluation */
    stylize_adam_free(ad);
    ap.max_iterations = 0;
    CHECK(stylize_adam_create(&ad, N, &ap, NULL, &err) == STYLIZE_OK);
    log_init(&q->log);
    float x0[N];
    tu_fill(x0, N, 9, -2.0f, 2.0f);
    memcpy(x, x0, sizeof x);
    CHECK(stylize_adam_run(ad, x, quad_obj, q, NULL, NULL, &res, &err) == STYLIZE_OK);
    CHECK(q->log.evals == 1 && res.iterations == 0 && memcmp(x, x0, sizeof x) == 0);
    stylize_adam_free(ad);

    /* callback stop, tol_change, and error with best x (large lr oscillates) */
    ap.max_iterations = 1000;
    ap.learning_rate = 0.5;
    CHECK(stylize_adam_create(&ad, N, &ap, NULL, &err) == STYLIZE_OK);
    prog_init(&pc);
    pc.stop_at = 4;
    memcpy(x, x0, sizeof x);
    CHECK(stylize_adam_run(ad, x, quad_obj, q, prog_fn, &pc, &res, &err) == STYLIZE_OK);
    CHECK(res.reason == STYLIZE_STOP_CALLBACK && res.iterations == 4 && res.evaluations == 5);

    log_init(&q->log);
    q->log.fail_at = 30;
    memcpy(x, x0, sizeof x);
    CHECK(stylize_adam_run(ad, x, quad_obj, q, NULL, NULL, &res, &err) == STYLIZE_ERR_INTERRUPTED);
    CHECK(res.evaluations == 30);
    CHECK(res.value_final == q->log.min_f);
    CHECK(memcmp(x, q->log.min_x, sizeof x) == 0);
    stylize_adam_free(ad);

    /* tol_change on 1000 + quadratic */
    ap.tol_change = 1e-6;
    ap.learning_rate = 0.05;
    CHECK(stylize_adam_create(&ad, N, &ap, NULL, &err) == STYLIZE_OK);
    q->offset = 1000.0;
    prog_init(&pc);
    memcpy(x, x0, sizeof x);
    CHECK(stylize_adam_run(ad, x, quad_obj, q, prog_fn, &pc, &res, &err) == STYLIZE_OK);
    printf("adam tol_change: %d iterations, f - 1000 = %.3g\n", res.iterations,
           res.value_final - 1000.0);
    CHECK(res.reason == STYLIZE_STOP_TOL_CHANGE && res.iterations > 1 && res.iterations < 1000);
    CHECK(fabs(pc.prev_value - pc.last_value) <= 1e-6 * pc.prev_value);
    stylize_adam_free(ad);
    free(q);
}

/* ---- the accepted evaluation, Adam's step, memory plans ---- */

typedef struct {
    rosen_ctx r;
    double values[4096]; /* value of each evaluation (1-based) */
    int checked, bad, fresh; /* progress calls checked; mismatches; accepted older than the last */
} accept_ctx;

static stylize_status accept_obj(void *user, const float *x, float *grad, double *value,
                                 stylize_error *err)
{
    accept_ctx *c = user;
    stylize_status st = rosen_obj(&c->r, x, grad, value, err);
    if (st == STYLIZE_OK && c->r.log.evals < 4096)
        c->values[c->r.log.evals] = *value;
    return st;
}

static int accept_progress(void *user, const stylize_opt_progress *pr)
{
    accept_ctx *c = user;
    c->checked++;
    if (pr->evaluation < 1 || pr->evaluation > pr->evaluations || c->values[pr->evaluation] != pr->value)
        c->bad++;
    c->fresh += pr->evaluation < pr->evaluations;
    return 0;
}

static void tw_short_search(stylize_lbfgs_params *p)
{
    tw_plain(p);
    p->c2 = 0.01;            /* strong Wolfe points are rare ... */
    p->max_line_search = 3;  /* ... so searches end on their best earlier trial */
}

/* L-BFGS reports which evaluation its iterate came from (not always the
 * last: a line search may end on an earlier trial), with that value. */
static void test_accepted_evaluation(void)
{
    static accept_ctx c;
    memset(&c, 0, sizeof c);
    c.r.n = 6;
    log_init(&c.r.log);
    float x[6] = {-1.2f, 1, -1.2f, 1, 0.5f, -0.5f};
    stylize_lbfgs *opt = make_lbfgs(6, tw_short_search);
    stylize_opt_result res;
    if (opt)
        stylize_lbfgs_run(opt, x, accept_obj, &c, accept_progress, &c, &res, NULL);
    CHECK_MSG(c.checked > 20 && c.bad == 0, "%d progress calls, %d with a wrong evaluation", c.checked,
              c.bad);
    CHECK_MSG(c.fresh > 0, "every iterate was the last evaluation: the test cannot tell");
    stylize_lbfgs_free(opt);
}

/* stylize_adam_run is stylize_adam_step after each evaluation: the same
 * points, bit for bit; both optimisers count exactly their bytes on a plan. */
static void test_adam_step_and_plans(void)
{
    rosen_ctx r = {.n = 4};
    log_init(&r.log);
    stylize_adam_params ap;
    stylize_adam_defaults(&ap);
    ap.learning_rate = 0.01;
    ap.max_iterations = 25;
    stylize_adam *a = NULL, *b = NULL;
    float x1[4] = {-1, 1, 0.5f, 2}, x2[4] = {-1, 1, 0.5f, 2}, g[4];
    CHECK(stylize_adam_create(&a, 4, &ap, NULL, NULL) == STYLIZE_OK);
    CHECK(stylize_adam_create(&b, 4, &ap, NULL, NULL) == STYLIZE_OK);
    if (a && b) {
        stylize_adam_run(a, x1, rosen_obj, &r, NULL, NULL, NULL, NULL); /* best of 26 points */
        float best[4];
        double fbest = INFINITY;
        for (int it = 0; it <= 25; it++) {
            double f = rosen_value_grad(x2, g, 4);
            if (f < fbest)
                fbest = f, memcpy(best, x2, sizeof best);
            if (it < 25)
                stylize_adam_step(b, x2, g);
        }
        CHECK(memcmp(x1, best, sizeof best) == 0 && stylize_adam_steps(b) == 25);
    }
    stylize_adam_free(a);
    stylize_adam_free(b);
    for (int dry = 0; dry <= 1; dry++) {
        stylize_mem m;
        stylize_mem_init(&m, dry);
        stylize_lbfgs_params lp;
        stylize_lbfgs_defaults(&lp);
        stylize_lbfgs *l = NULL;
        CHECK(stylize_adam_create(&a, 1000, &ap, &m, NULL) == STYLIZE_OK);
        CHECK(stylize_lbfgs_create(&l, 1000, &lp, &m, NULL) == STYLIZE_OK);
        CHECK(m.cur == stylize_adam_memory_bytes(1000) + stylize_lbfgs_memory_bytes(1000, 10));
        stylize_adam_free(a);
        stylize_lbfgs_free(l);
        CHECK(m.cur == 0);
    }
}

int main(void)
{
    test_rosenbrock2();
    test_rosenbrock_chained();
    test_ill_conditioned_quadratic(0, 10, 0.9, 450, 500);
    test_ill_conditioned_quadratic(1, 10, 0.9, 450, 500);
    test_ill_conditioned_quadratic(1, 50, 0.1, 2 * 50, 150);
    test_strong_wolfe_steps();
    test_quadratic_1d_steps();
    test_stop_reasons();
    test_line_search_edge_cases();
    test_steepest_descent_retry();
    test_memory_and_args();
    test_adam();
    test_accepted_evaluation();
    test_adam_step_and_plans();
    return TEST_SUMMARY();
}

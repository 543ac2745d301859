/* Minimal test harness shared by the C tests: CHECK macros that count and
 * report, a deterministic random generator, and a central finite-difference
 * gradient checker. Each test executable ends with TEST_SUMMARY(). */
#ifndef STYLIZE_TESTUTIL_H
#define STYLIZE_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/core/rng.h"

static int tu_passed, tu_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            tu_passed++;                                                              \
        } else {                                                                      \
            tu_failed++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                \
    do {                                                                    \
        if (cond) {                                                         \
            tu_passed++;                                                    \
        } else {                                                            \
            tu_failed++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* |a - b| <= tol * max(1, |a|, |b|) */
#define CHECK_CLOSE(a, b, tol)                                                           \
    do {                                                                                 \
        double tu_a = (double)(a), tu_b = (double)(b), tu_t = (double)(tol);             \
        double tu_s = fmax(1.0, fmax(fabs(tu_a), fabs(tu_b)));                           \
        if (fabs(tu_a - tu_b) <= tu_t * tu_s) {                                          \
            tu_passed++;                                                                 \
        } else {                                                                         \
            tu_failed++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.9g, %s = %.9g (tol %g)\n", \
                    __FILE__, __LINE__, #a, tu_a, #b, tu_b, tu_t);                       \
        }                                                                                \
    } while (0)

/* Prints the closing line ctest-style readers understand and returns the exit code. */
#define TEST_SUMMARY()                                                  \
    (printf("%d passed, %d failed\n", tu_passed, tu_failed), tu_failed ? 1 : 0)

/* The library's splitmix64 (stylize/core/rng.h): deterministic, platform-independent. */
static inline uint64_t tu_next(uint64_t *s)
{
    return stylize_splitmix64(s);
}

/* Uniform in [lo, hi). */
static inline float tu_uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((tu_next(s) >> 40) * (1.0 / 16777216.0));
}

static inline void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = tu_uniform(&s, lo, hi);
}

/* Scalar function of x for finite differences; computed in double. */
typedef double (*tu_scalar_fn)(void *user, const float *x);

/* Central finite-difference check of an analytic gradient `grad` of f at x
 * (n floats; x is perturbed and restored). Checks up to max_checks
 * coordinates spread over the vector. Returns the worst relative error
 * |g - fd| / max(|g|, |fd|, floor), where floor = 1e-3 * max |g| guards tiny
 * components. */
static inline double tu_fd_check(tu_scalar_fn f, void *user, float *x, const float *grad, size_t n,
                                 float h, size_t max_checks)
{
    double gmax = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    size_t step = n > max_checks ? n / max_checks : 1;
    for (size_t i = 0; i < n; i += step) {
        float x0 = x[i];
        x[i] = x0 + h;
        double fp = f(user, x);
        x[i] = x0 - h;
        double fm = f(user, x);
        x[i] = x0;
        double fd = (fp - fm) / (2.0 * (double)h);
        double den = fmax(fmax(fabs(fd), fabs(grad[i])), 1e-3 * gmax + 1e-30);
        double rel = fabs(fd - grad[i]) / den;
        if (rel > worst)
            worst = rel;
    }
    return worst;
}

/* The one-sided and central differences of f at coordinate i of x (which
 * is perturbed and restored), given f0 = f(x). */
static inline void tu_fd_one(tu_scalar_fn f, void *user, float *x, size_t i, float h, double f0,
                             double *dl, double *dr, double *c)
{
    float x0 = x[i];
    x[i] = x0 + h;
    double fp = f(user, x);
    x[i] = x0 - h;
    double fm = f(user, x);
    x[i] = x0;
    *dr = (fp - f0) / h;
    *dl = (f0 - fm) / h;
    *c = (fp - fm) / (2.0 * h);
}

/* As tu_fd_check, for piecewise-smooth functions (ReLU, max pooling): where
 * the one-sided differences disagree by more than 10% a kink lies within h,
 * and the analytic derivative must then lie between the two one-sided
 * differences (within 1%); elsewhere the central difference must match.
 * Errors are relative to max(|g|, |fd|, floor_frac * max |g|): float32
 * networks need floor_frac around 0.1, since a single coordinate's change of
 * the loss is then near the loss's rounding noise.
 * *kinks (if non-NULL) receives the number of kinks met. */
static inline double tu_fd_check_kinks(tu_scalar_fn f, void *user, float *x, const float *grad,
                                       size_t n, float h, size_t max_checks, double floor_frac,
                                       int *kinks)
{
    double gmax = 0, worst = 0;
    int nk = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    double f0 = f(user, x);
    size_t step = n > max_checks ? n / max_checks : 1;
    for (size_t i = 0; i < n; i += step) {
        double dl, dr, c;
        tu_fd_one(f, user, x, i, h, f0, &dl, &dr, &c);
        double den = fmax(fmax(fabs(c), fabs(grad[i])), floor_frac * gmax + 1e-30);
        double rel;
        if (fabs(dr - dl) > 0.1 * fmax(fmax(fabs(dr), fabs(dl)), floor_frac * gmax + 1e-30)) {
            double lo = fmin(dl, dr), hi = fmax(dl, dr);
            nk++;
            rel = grad[i] < lo ? (lo - grad[i]) / den : grad[i] > hi ? (grad[i] - hi) / den : 0.0;
            rel = rel > 0.01 ? rel : 0.0;
        } else {
            rel = fabs(c - grad[i]) / den;
        }
        if (rel > worst)
            worst = rel;
    }
    if (kinks)
        *kinks = nk;
    return worst;
}

/* A scratch directory for tests: $STYLIZE_TEST_TMP or /tmp. */
static inline const char *tu_tmpdir(void)
{
    const char *d = getenv("STYLIZE_TEST_TMP");
    return d && *d ? d : "/tmp";
}


/* For functions with many kinks (a parameter that moves every
 * pre-activation of a ReLU layer at once): a coordinate passes when the
 * central difference matches within tol, or when the analytic derivative
 * lies between the two one-sided differences (within tol): with a kink
 * inside [x - h, x + h] the derivative at x is one of the one-sided
 * slopes. Errors relative to max(|g|, |fd|, floor_frac * max |g|). Returns
 * the worst error; *kinks (if non-NULL) counts the coordinates that passed
 * only by the second rule. */
static inline double tu_fd_check_piecewise(tu_scalar_fn f, void *user, float *x, const float *grad,
                                           size_t n, float h, size_t max_checks, double floor_frac,
                                           double tol, int *kinks)
{
    double gmax = 0, worst = 0;
    int nk = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    double f0 = f(user, x);
    size_t step = n > max_checks ? n / max_checks : 1;
    for (size_t i = 0; i < n; i += step) {
        double dl, dr, c;
        tu_fd_one(f, user, x, i, h, f0, &dl, &dr, &c);
        double den = fmax(fmax(fabs(c), fabs(grad[i])), floor_frac * gmax + 1e-30);
        double rel = fabs(c - grad[i]) / den;
        if (rel > tol) {
            double lo = fmin(dl, dr), hi = fmax(dl, dr);
            double out = grad[i] < lo ? (lo - grad[i]) / den : grad[i] > hi ? (grad[i] - hi) / den : 0.0;
            if (out <= tol) {
                nk++;
                rel = out;
            }
        }
        if (rel > worst)
            worst = rel;
    }
    if (kinks)
        *kinks = nk;
    return worst;
}

#endif

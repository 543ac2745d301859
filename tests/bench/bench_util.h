/* Shared by the benchmarks: the median of timed repetitions. Wall-clock
 * time is the library's one clock (stylize_seconds, core/clock.h). */
#ifndef STYLIZE_BENCH_UTIL_H
#define STYLIZE_BENCH_UTIL_H

#include <stdlib.h>

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif

/* The one random number generator: splitmix64 (see stylize/core/rng.h). */
#include "stylize/core/rng.h"

#include <math.h>
#include <stddef.h>

#include "parallel.h"

#define GOLDEN 0x9E3779B97F4A7C15ull /* the state's increment */

/* splitmix64's output function of a state. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t stylize_splitmix64(uint64_t *state)
{
    return mix64(*state += GOLDEN);
}

void stylize_rng_seed(stylize_rng *r, uint64_t seed)
{
    r->state = seed;
    r->spare = 0.0;
    r->has_spare = 0;
}

uint64_t stylize_rng_u64(stylize_rng *r)
{
    return stylize_splitmix64(&r->state);
}

float stylize_rng_uniform(stylize_rng *r)
{
    return (float)((stylize_splitmix64(&r->state) >> 40) * (1.0 / 16777216.0));
}

/* ---- many uniforms at once ---------------------------------------------- */

#define FILL_BLOCK 32768 /* values per task */

typedef struct {
    float *x;    /* (n) */
    size_t n;
    uint64_t s0; /* the state before x[0] */
} fill_job;

/* x[i] = the uniform of state s0 + (i + 1) GOLDEN for i < n: value i of the
 * sequence from s0, as stylize_rng_uniform computes it (the 24-bit integer
 * and the scaling by 2^-24 are exact in float). Cloned for AVX-512 (whose
 * 64-bit multiplies vectorise the mix) and AVX2. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
fill_range(float *x, size_t n, uint64_t s0)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(int32_t)(mix64(s0 + (uint64_t)(i + 1) * GOLDEN) >> 40) * (1.0f / 16777216.0f);
}

static void fill_task(void *ctx, int t)
{
    const fill_job *j = ctx;
    size_t lo = (size_t)t * FILL_BLOCK, n = j->n - lo < FILL_BLOCK ? j->n - lo : FILL_BLOCK;
    fill_range(j->x + lo, n, j->s0 + (uint64_t)lo * GOLDEN);
}

void stylize_rng_uniform_fill(stylize_rng *r, float *x, size_t n)
{
    fill_job j = {x, n, r->state};
    if (n)
        stylize_parallel_run((int)((n + FILL_BLOCK - 1) / FILL_BLOCK), fill_task, &j);
    r->state += (uint64_t)n * GOLDEN;
}

double stylize_rng_uniform_open0(stylize_rng *r)
{
    return (double)((stylize_splitmix64(&r->state) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

double stylize_rng_normal(stylize_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = stylize_rng_uniform_open0(r), u2 = stylize_rng_uniform_open0(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(two_pi * u2);
    r->has_spare = 1;
    return rad * cos(two_pi * u2);
}

uint64_t stylize_rng_below(stylize_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* accept [0, limit): a multiple of n */
    for (;;) {
        uint64_t v = stylize_splitmix64(&r->state);
        if (v < limit)
            return v % n;
    }
}

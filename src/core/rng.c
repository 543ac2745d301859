/* The one random number generator: splitmix64 (see stylize/core/rng.h). */
#include "stylize/core/rng.h"

#include <math.h>

uint64_t stylize_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
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

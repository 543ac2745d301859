/* stylize: the one random number generator (splitmix64), shared by noise
 * images, random weights, parameter initialisation and data shuffling.
 *
 * Deterministic and platform-independent: a seed gives the same sequence on
 * every machine. Normals use the Box-Muller transform on two 53-bit uniforms,
 * computed in double. */
#ifndef STYLIZE_RNG_H
#define STYLIZE_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The splitmix64 step: advances *state and returns the next 64-bit word. */
uint64_t stylize_splitmix64(uint64_t *state);

typedef struct {
    uint64_t state;
    double spare;  /* second Box-Muller output, valid when has_spare */
    int has_spare;
} stylize_rng;

void stylize_rng_seed(stylize_rng *r, uint64_t seed);
uint64_t stylize_rng_u64(stylize_rng *r);
/* Uniform in [0, 1) with 24 bits: exactly representable as a float. */
float stylize_rng_uniform(stylize_rng *r);
/* x[0..n) = the next n values of stylize_rng_uniform, bit for bit (the
 * state advances past them), computed in blocks on the thread pool: the
 * same numbers whatever the thread count. x is the caller's. */
void stylize_rng_uniform_fill(stylize_rng *r, float *x, size_t n);
/* Uniform in (0, 1] with 53 bits (never 0). */
double stylize_rng_uniform_open0(stylize_rng *r);
/* Standard normal (Box-Muller; the second value of each pair is kept). */
double stylize_rng_normal(stylize_rng *r);
/* Uniform integer in [0, n) for n >= 1 (rejection sampling: no modulo bias). */
uint64_t stylize_rng_below(stylize_rng *r, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif

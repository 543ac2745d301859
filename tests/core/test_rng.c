/* Tests of the one random number generator: splitmix64's published
 * outputs from seed 0, uniforms in [0, 1) on the 2^-24 grid, and
 * stylize_rng_uniform_fill giving exactly the sequence of single calls
 * (lengths across its task blocks, 1 and 2 threads, the state after it the
 * same as after the single calls). */
#include "stylize/core/rng.h"
#include "stylize/core/threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void check_reference_outputs(void)
{
    /* Vigna's splitmix64.c from x = 0 */
    static const uint64_t want[4] = {0xE220A8397B1DCDAFull, 0x6E789E6AA1B965F4ull, 0x06C45D188009454Full,
                                     0xF88BB8A8724C81ECull};
    stylize_rng r;
    stylize_rng_seed(&r, 0);
    for (int i = 0; i < 4; i++) {
        uint64_t got = stylize_rng_u64(&r);
        CHECK_MSG(got == want[i], "splitmix64 output %d: %016llx", i, (unsigned long long)got);
    }
}

static void check_uniform_grid(void)
{
    stylize_rng r;
    stylize_rng_seed(&r, 7);
    int bad = 0;
    double mean = 0;
    for (int i = 0; i < 100000; i++) {
        float u = stylize_rng_uniform(&r);
        double k = (double)u * 16777216.0;
        bad += !(u >= 0.0f && u < 1.0f) || k != floor(k);
        mean += u / 100000.0;
    }
    CHECK_MSG(bad == 0, "%d uniforms off [0, 1) or the 2^-24 grid", bad);
    CHECK_MSG(fabs(mean - 0.5) < 0.005, "mean of 100000 uniforms %g", mean);
}

/* fill(n) == n calls of stylize_rng_uniform, and the generator continues
 * where the calls would have left it. */
static void check_fill(void)
{
    static const size_t lens[] = {0, 1, 17, 32767, 32768, 32769, 3 * 32768 + 5};
    size_t nmax = 3 * 32768 + 5;
    float *want = malloc(nmax * sizeof(float)), *got = malloc((nmax + 1) * sizeof(float));
    if (!want || !got) {
        CHECK(0);
        free(want), free(got);
        return;
    }
    for (int threads = 1; threads <= 2; threads++) {
        stylize_set_threads(threads);
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            size_t n = lens[l];
            stylize_rng a, b;
            stylize_rng_seed(&a, 1234 + l);
            stylize_rng_seed(&b, 1234 + l);
            stylize_rng_u64(&a), stylize_rng_u64(&b); /* a state that is not the seed */
            for (size_t i = 0; i < n; i++)
                want[i] = stylize_rng_uniform(&a);
            got[n] = -1.0f; /* must stay untouched */
            stylize_rng_uniform_fill(&b, got, n);
            CHECK_MSG(memcmp(want, got, n * sizeof(float)) == 0 && got[n] == -1.0f,
                      "fill of %zu (%d threads) differs from single calls", n, threads);
            CHECK_MSG(a.state == b.state && stylize_rng_u64(&a) == stylize_rng_u64(&b),
                      "fill of %zu (%d threads): the state after it differs", n, threads);
        }
    }
    stylize_set_threads(1);
    free(want), free(got);
}

int main(void)
{
    check_reference_outputs();
    check_uniform_grid();
    check_fill();
    return TEST_SUMMARY();
}

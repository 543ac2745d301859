/* stylize: fault injection for tests. Not part of the stable API: nothing
 * but the test suite (through the CLI's STYLIZE_TEST_INJECT_NAN variable)
 * should call it. */
#ifndef STYLIZE_RUN_TESTING_H
#define STYLIZE_RUN_TESTING_H

#ifdef __cplusplus
extern "C" {
#endif

/* From the evaluation numbered `evaluation` (1-based, counted per scale) on,
 * every loss of a run becomes NaN, as if it had overflowed; 0 turns it off.
 * Process-wide; set it before stylize_run. */
void stylize_testing_inject_nan(int evaluation);

#ifdef __cplusplus
}
#endif
#endif

/* stylize: the one clock of the library and its front ends. */
#ifndef STYLIZE_CLOCK_H
#define STYLIZE_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds of a monotonic clock (for durations only). */
double stylize_seconds(void);

#ifdef __cplusplus
}
#endif
#endif

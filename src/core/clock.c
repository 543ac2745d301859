/* The monotonic clock (stylize/core/clock.h). */
#include <time.h>

#include "stylize/core/clock.h"

double stylize_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* stylize internal: helpers shared by the optimisers (optim_lbfgs.c,
 * optim_adam.c). Not a public header. */
#ifndef STYLIZE_OPTIM_COMMON_H
#define STYLIZE_OPTIM_COMMON_H

#include "stylize/optim/optim.h"

/* Fills res (if non-NULL) with the run's counts, values and stop reason. */
static inline void stylize_fill_result(stylize_opt_result *res, int iterations, int evals,
                                       double f_init, double f_final, stylize_stop_reason reason)
{
    if (!res)
        return;
    res->iterations = iterations;
    res->evaluations = evals;
    res->value_initial = f_init;
    res->value_final = f_final;
    res->reason = reason;
}

#endif

/* Internal: the generators (stylize/gen/generator.h). arch.c holds the
 * architectures and builds their descriptions, generator.c the models and
 * instances, model_file.c the .tnet format. */
#ifndef STYLIZE_GEN_INTERNAL_H
#define STYLIZE_GEN_INTERNAL_H

#include "stylize/gen/generator.h"

/* Builds a's description: *out owned by the caller, *output its output
 * node, *n_noise its noise inputs. */
stylize_status gen_build(const stylize_gen_arch *a, stylize_graph_desc **out, int *output, int *n_noise,
                         stylize_error *err);

#endif

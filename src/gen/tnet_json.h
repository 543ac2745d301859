/* Internal: the sections of a .tnet header (src/gen/model_file.c), also
 * the training report's (src/io/train_report.c), so that both say the same
 * things the same way. Each returns a new cJSON object (owned by the
 * caller, usually added to a parent). */
#ifndef STYLIZE_TNET_JSON_H
#define STYLIZE_TNET_JSON_H

#include <cjson/cJSON.h>

#include "stylize/gen/model_file.h"

cJSON *tnet_arch_json(const stylize_gen_arch *a);
cJSON *tnet_training_json(const stylize_tnet_meta *t);
cJSON *tnet_provenance_json(const stylize_tnet_meta *t);

#endif

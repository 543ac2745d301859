/* stylize: umbrella header. Every exported name starts with stylize_ or
 * STYLIZE_. See each header for ownership rules. */
#ifndef STYLIZE_STYLIZE_H
#define STYLIZE_STYLIZE_H

#include "stylize/activation.h"
#include "stylize/colour.h"
#include "stylize/conv.h"
#include "stylize/image.h"
#include "stylize/import.h"
#include "stylize/losses.h"
#include "stylize/network.h"
#include "stylize/objective.h"
#include "stylize/optim.h"
#include "stylize/pool.h"
#include "stylize/report.h"
#include "stylize/run.h"
#include "stylize/status.h"
#include "stylize/threads.h"
#include "stylize/weights.h"

#endif

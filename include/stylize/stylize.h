/* stylize: umbrella header. Every exported name starts with stylize_ or
 * STYLIZE_. See each header for ownership rules. The folders follow the
 * pipeline: core (status, threads), nn (tensor ops), vgg (the frozen
 * feature network and its weights), style (losses and the objective),
 * optim (L-BFGS, Adam), io (images, reports), run (one Gatys run). */
#ifndef STYLIZE_STYLIZE_H
#define STYLIZE_STYLIZE_H

#include "stylize/core/status.h"
#include "stylize/core/threads.h"
#include "stylize/core/clock.h"
#include "stylize/nn/activation.h"
#include "stylize/nn/conv.h"
#include "stylize/nn/pool.h"
#include "stylize/nn/graph.h"
#include "stylize/vgg/import.h"
#include "stylize/vgg/network.h"
#include "stylize/vgg/normalise.h"
#include "stylize/vgg/weights.h"
#include "stylize/style/colour.h"
#include "stylize/style/losses.h"
#include "stylize/style/objective.h"
#include "stylize/style/matting.h"
#include "stylize/post/smooth.h"
#include "stylize/io/segmentation.h"
#include "stylize/optim/optim.h"
#include "stylize/io/image.h"
#include "stylize/io/report.h"
#include "stylize/run/run.h"
#include "stylize/gen/generator.h"
#include "stylize/gen/model_file.h"
#include "stylize/train/loader.h"
#include "stylize/train/train.h"
#include "stylize/io/train_report.h"

#endif

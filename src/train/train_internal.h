/* Internal: training (stylize/train/train.h). trainer.c plans the run and
 * drives the steps; step.c is one step; loader.c streams the data. */
#ifndef STYLIZE_TRAIN_INTERNAL_H
#define STYLIZE_TRAIN_INTERNAL_H

#include "stylize/optim/optim.h"
#include "stylize/train/loader.h"
#include "stylize/train/train.h"

#define LOSS_RING 50

typedef struct {
    const stylize_train_config *c;
    stylize_gen_model *m;          /* borrowed */
    stylize_mem *mem;
    int dry;
    int style_mode;
    stylize_objective *obj;
    stylize_gen *gen;
    stylize_adam *adam;
    stylize_loader *loader;        /* style models */
    float *x;                      /* (3, S, S) an output image in VGG's convention */
    float *gx;                     /* (3, S, S) its gradient (and the content target's input) */
    float *dout;                   /* (B, 3, S, S) d(loss)/d(generator output) */
    stylize_loss_breakdown last;
    double ring[LOSS_RING];        /* recent step losses */
    long long n_ring;
    long long step;                /* steps done */
    double lr;
    stylize_precision precision; /* the convolutions', resolved */
} trainer;

/* One step: data, generator, objective per image, backward, Adam. */
stylize_status train_step(trainer *t, double *loss, stylize_error *err);
/* The learning rate of step s. */
double train_lr(const stylize_train_config *c, long long s);
/* Mean of the recent losses. */
double train_loss_avg(const trainer *t);

#endif

/* stylize: training a generator (Ulyanov et al. 2016, Texture Networks):
 *
 *   texture: theta = argmin E_z [ L_T(g(z; theta), x0) ]
 *   style:   theta = argmin E_{z,y} [ L_T(g(y, z; theta), x0) + alpha L_C(g(y, z; theta), y) ]
 *
 * with the Gatys losses of style/objective.h on the frozen VGG-19: every
 * step draws a batch (noise, and for a style model crops from the loader),
 * runs the generator, evaluates the objective on each output image (its
 * content target set from that image's own crop), averages the loss over
 * the batch, backpropagates through VGG-19 into the generator's parameters
 * and takes one Adam step. The learning rate decays in steps:
 * lr = learning_rate * lr_decay^floor(step / lr_decay_every).
 *
 * Each step's randomness (noise) comes from the RNG seeded by (seed, step)
 * and the data from the loader's stream position, so a run resumed from a
 * checkpoint continues exactly as an uninterrupted one (bit for bit with
 * one thread). Every buffer is planned and allocated before the first step
 * (core/mem.h); a step allocates nothing on the caller's thread. */
#ifndef STYLIZE_TRAIN_H
#define STYLIZE_TRAIN_H

#include <signal.h>
#include "stylize/gen/model_file.h"
#include "stylize/io/image.h"
#include "stylize/nn/precision.h"
#include "stylize/style/objective.h"
#include "stylize/vgg/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /* the loss network */
    const stylize_weights *weights;  /* borrowed */
    stylize_pool_kind pool;
    int random_features;             /* per-layer losses normalised by target energy */
    int n_content;
    stylize_layer_weight content_layers[STYLIZE_VGG19_NLAYERS];
    int n_style;
    stylize_layer_weight style_layers[STYLIZE_VGG19_NLAYERS];
    double alpha, beta, tv;
    /* the texture or style image (borrowed), RGB [0, 1], and the longest
     * side it is resized to for its Gram targets (0: size) */
    const stylize_image *style;
    int style_size;
    /* style models: the training images (borrowed paths) */
    int n_files;
    const char *const *files;
    /* steps */
    int size, batch, iterations;     /* crop side, images per step, total steps */
    double learning_rate, lr_decay;  /* lr_decay 1: constant */
    int lr_decay_every;              /* 0: never */
    unsigned long long seed;
    stylize_precision precision;     /* the convolutions' (nn/precision.h); recorded in the model */
    /* checkpoints: every checkpoint_every steps (0: never) and when stopped */
    const char *checkpoint_path;     /* NULL: no checkpoints */
    int checkpoint_every;
    volatile sig_atomic_t *stop_flag; /* non-zero: checkpoint and stop after the step */
    stylize_logger log;
} stylize_train_config;

/* Defaults: avg pooling, content relu4_2 (style models), style relu1_1,
 * relu2_1, relu3_1, relu4_1, relu5_1, alpha 1, beta 1000, tv 0, size 256,
 * batch 4, 2000 steps, learning rate 1e-3, no decay, seed 0. */
void stylize_train_defaults(stylize_train_config *c);

typedef struct {
    long long step, steps;  /* steps done, total */
    double loss;            /* this step's mean loss over the batch */
    double loss_avg;        /* mean over the last (up to) 50 steps */
    const stylize_loss_breakdown *last; /* of the batch's last image */
    double learning_rate;
    double seconds;         /* since this run started */
    long long skipped;      /* training files skipped */
} stylize_train_progress;

/* Returning non-zero stops the run as the stop flag does. */
typedef int (*stylize_train_progress_fn)(void *user, const stylize_train_progress *p);

typedef struct {
    long long steps;        /* done in total (resumed ones included) */
    double loss_first;      /* this run's first step's loss */
    double loss_final;      /* mean over the last steps */
    double seconds;
    long long skipped;
    size_t memory_peak;     /* bytes of the run's plan */
    int stopped;            /* stopped early (flag or callback): checkpoint written */
} stylize_train_result;

/* Trains m (its parameters updated in place; borrowed) from scratch or,
 * when resume is non-NULL (a loaded checkpoint's meta: its step count,
 * Adam's moments and the loader's position), from there. meta (out, owned
 * by the caller) receives the training settings and provenance of the
 * result, for stylize_tnet_save; its strings that the library cannot know
 * (style and weights names and hashes, created_by) are left to the caller.
 * A stop (flag or callback) writes the checkpoint first and returns
 * STYLIZE_ERR_INTERRUPTED. */
stylize_status stylize_train(const stylize_train_config *c, stylize_gen_model *m,
                             const stylize_tnet_meta *resume, stylize_train_progress_fn progress,
                             void *puser, stylize_tnet_meta *meta, stylize_train_result *res,
                             stylize_error *err);

/* Peak bytes stylize_train allocates (a dry run of its plan). */
size_t stylize_train_memory_estimate(const stylize_train_config *c, const stylize_gen_arch *a);

/* The generator's output (3, H, W) on the [0, 1] scale -> x in the network's
 * input convention, and a gradient with respect to x -> the gradient with
 * respect to the output (scaled by s). */
void stylize_train_to_input(const stylize_input_convention *conv, const float *v, float *x, size_t hw);
void stylize_train_grad_from_input(const stylize_input_convention *conv, const float *gx, float *gv,
                                   size_t hw, float s);

#ifdef __cplusplus
}
#endif
#endif

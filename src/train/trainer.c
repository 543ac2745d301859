/* Training a generator (stylize/train/train.h): the plan (every buffer
 * before the first step, through one memory plan that also gives the
 * estimate), the style targets, the loop with its checkpoints. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stylize/run/run.h"
#include "stylize/core/clock.h"
#include "train_internal.h"

void stylize_train_defaults(stylize_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->pool = STYLIZE_POOL_AVG;
    stylize_error e;
    stylize_parse_layers("relu4_2", c->content_layers, &c->n_content, &e);
    stylize_parse_layers("relu1_1:0.2,relu2_1:0.2,relu3_1:0.2,relu4_1:0.2,relu5_1:0.2", c->style_layers,
                         &c->n_style, &e);
    c->alpha = 1.0;
    c->beta = 1e3;
    c->size = 256;
    c->batch = 4;
    c->iterations = 2000;
    c->learning_rate = 1e-3;
    c->lr_decay = 1.0;
}

static stylize_status check_config(const stylize_train_config *c, const stylize_gen_arch *a,
                                   stylize_error *err)
{
    if (!c->weights || !c->style)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "training needs weights and a style image");
    if (a->mode == STYLIZE_GEN_STYLE && (c->n_files < 1 || !c->files))
        return stylize_error_set(err, STYLIZE_ERR_ARG, "a style model needs training images");
    if (c->batch < 1 || c->batch > 256 || c->iterations < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "batch %d or iterations %d out of range", c->batch,
                                 c->iterations);
    if (!(c->learning_rate > 0) || !(c->lr_decay > 0) || c->lr_decay_every < 0 || c->checkpoint_every < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "learning rate, decay or checkpoint interval out of range");
    int mult = stylize_gen_multiple(a);
    if (c->size < stylize_gen_min_side(a) || c->size % mult)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "training size %d: must be a multiple of %d (the %s generator's)",
                                 c->size, mult, stylize_arch_name(a->kind));
    return STYLIZE_OK;
}

static void objective_spec(const trainer *t, stylize_objective_spec *s)
{
    const stylize_train_config *c = t->c;
    memset(s, 0, sizeof *s);
    s->pool = c->pool;
    s->width = s->height = c->size;
    s->n_content = t->style_mode ? c->n_content : 0;
    memcpy(s->content, c->content_layers, sizeof s->content);
    s->n_style = c->n_style;
    memcpy(s->style, c->style_layers, sizeof s->style);
    s->alpha = c->alpha, s->beta = c->beta, s->tv = c->tv;
    s->normalise_by_target = c->random_features;
}

/* The style image at style_size (longest side), its Gram targets added;
 * its buffers are freed before the networks of the run are allocated. */
static stylize_status style_targets(trainer *t, stylize_error *err)
{
    const stylize_image *s = t->c->style;
    int side = t->c->style_size > 0 ? t->c->style_size : t->c->size, w, h;
    stylize_image_fit(s->width, s->height, side, &w, &h);
    stylize_image img;
    float *xs = NULL;
    size_t bytes = (size_t)3 * w * h * sizeof(float);
    stylize_status st = stylize_image_alloc_in(&img, w, h, t->mem, err);
    if (st != STYLIZE_OK)
        return st;
    if ((st = stylize_mem_alloc(t->mem, (void **)&xs, bytes, "the style image's input", err)) != STYLIZE_OK) {
        stylize_image_free_in(&img, t->mem);
        return st;
    }
    if (!t->dry) {
        st = stylize_image_resize_into(&img, s, err);
        if (st == STYLIZE_OK)
            stylize_image_to_input(&img, &t->c->weights->input, xs);
    }
    if (st == STYLIZE_OK)
        st = stylize_objective_add_style(t->obj, xs, w, h, 1.0, err);
    stylize_mem_free(t->mem, xs, bytes);
    stylize_image_free_in(&img, t->mem);
    return st;
}

static stylize_status alloc_floats(trainer *t, float **p, size_t n, const char *what, stylize_error *err)
{
    return stylize_mem_alloc(t->mem, (void **)p, n * sizeof(float), what, err);
}

/* Every buffer of the run, in the order they coexist. */
static stylize_status plan(trainer *t, long long start, stylize_error *err)
{
    const stylize_train_config *c = t->c;
    stylize_objective_spec spec;
    objective_spec(t, &spec);
    size_t per = (size_t)3 * c->size * c->size;
    stylize_status st = stylize_objective_create(&t->obj, c->weights, &spec, t->mem, err);
    if (st == STYLIZE_OK)
        st = style_targets(t, err);
    if (st == STYLIZE_OK)
        st = stylize_objective_prepare(t->obj, err);
    if (st == STYLIZE_OK)
        st = stylize_gen_create(&t->gen, t->m, c->batch, c->size, c->size, 1, t->mem, err);
    stylize_adam_params ap;
    stylize_adam_defaults(&ap);
    ap.learning_rate = c->learning_rate;
    if (st == STYLIZE_OK)
        st = stylize_adam_create(&t->adam, t->m->params.n, &ap, t->mem, err);
    if (st == STYLIZE_OK)
        st = alloc_floats(t, &t->x, per, "a generated image", err);
    if (st == STYLIZE_OK)
        st = alloc_floats(t, &t->gx, per, "its gradient", err);
    if (st == STYLIZE_OK)
        st = alloc_floats(t, &t->dout, per * c->batch, "the generator's output gradient", err);
    if (st == STYLIZE_OK && t->style_mode) {
        stylize_loader_config lc = {c->n_files, c->files, c->size, c->seed, start, 2 * c->batch, c->log};
        st = stylize_loader_create(&t->loader, &lc, t->mem, err);
    }
    return st;
}

static void unplan(trainer *t)
{
    size_t per = (size_t)3 * t->c->size * t->c->size;
    stylize_loader_free(t->loader);
    /* (on a dry plan the pointers are NULL: the count does not matter then) */
    if (t->dout)
        stylize_mem_free(t->mem, t->dout, per * t->c->batch * sizeof(float));
    if (t->gx)
        stylize_mem_free(t->mem, t->gx, per * sizeof(float));
    if (t->x)
        stylize_mem_free(t->mem, t->x, per * sizeof(float));
    stylize_adam_free(t->adam);
    stylize_gen_free(t->gen);
    stylize_objective_free(t->obj);
}

size_t stylize_train_memory_estimate(const stylize_train_config *c, const stylize_gen_arch *a)
{
    stylize_error e;
    stylize_mem mem;
    stylize_mem_init(&mem, 1);
    stylize_gen_model m;
    stylize_conv_algo old = stylize_conv_get_default_algo();
    if (check_config(c, a, &e) != STYLIZE_OK ||
        stylize_precision_select(c->precision, STYLIZE_WORK_TRAIN, NULL, &e) != STYLIZE_OK)
        return 0;
    if (stylize_gen_model_create(&m, a, 0, &mem, &e) != STYLIZE_OK) {
        stylize_conv_set_default_algo(old);
        return 0;
    }
    trainer t;
    memset(&t, 0, sizeof t);
    t.c = c, t.m = &m, t.mem = &mem, t.dry = 1, t.style_mode = a->mode == STYLIZE_GEN_STYLE;
    stylize_status st = plan(&t, 0, &e);
    unplan(&t);
    stylize_gen_model_free(&m);
    stylize_conv_set_default_algo(old);
    return st == STYLIZE_OK ? mem.peak : 0;
}

/* The settings and state of the result, for the model file. */
static void fill_meta(const trainer *t, stylize_tnet_meta *meta, long long skipped)
{
    const stylize_train_config *c = t->c;
    meta->size = c->size, meta->batch = c->batch, meta->iterations = c->iterations;
    meta->learning_rate = c->learning_rate, meta->lr_decay = c->lr_decay;
    meta->lr_decay_every = c->lr_decay_every;
    meta->alpha = c->alpha, meta->beta = c->beta, meta->tv = c->tv;
    meta->style_size = c->style_size;
    snprintf(meta->pool, sizeof meta->pool, "%s", c->pool == STYLIZE_POOL_MAX ? "max" : "avg");
    meta->random_features = c->random_features;
    meta->seed = c->seed;
    snprintf(meta->precision, sizeof meta->precision, "%s", stylize_precision_name(t->precision));
    meta->steps = t->step;
    meta->final_loss = train_loss_avg(t);
    meta->skipped = skipped;
    meta->adam_steps = stylize_adam_steps(t->adam);
    meta->lr_now = t->lr;
    meta->data_position = t->loader ? stylize_loader_position(t->loader) : 0;
}

static stylize_status checkpoint(trainer *t, stylize_tnet_meta *meta, long long skipped, stylize_error *err)
{
    if (!t->c->checkpoint_path)
        return STYLIZE_OK;
    fill_meta(t, meta, skipped);
    meta->checkpoint = 1;
    stylize_adam_state(t->adam, &meta->adam_m, &meta->adam_v);
    stylize_status st = stylize_tnet_save(t->c->checkpoint_path, t->m, meta, err);
    meta->checkpoint = 0;
    meta->adam_m = meta->adam_v = NULL; /* Adam's, not meta's */
    return st;
}

static stylize_status resume_from(trainer *t, const stylize_tnet_meta *r, stylize_error *err)
{
    if (!r->checkpoint || !r->adam_m || !r->adam_v)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "resume: not a checkpoint");
    stylize_adam_restore(t->adam, r->adam_m, r->adam_v, r->adam_steps);
    t->step = r->steps;
    t->lr = train_lr(t->c, t->step);
    return STYLIZE_OK;
}

/* The steps, with progress, checkpoints and stops. */
static stylize_status loop(trainer *t, long long skipped0, stylize_train_progress_fn progress, void *puser,
                           stylize_tnet_meta *meta, stylize_train_result *res, stylize_error *err)
{
    const stylize_train_config *c = t->c;
    double t0 = stylize_seconds();
    stylize_status st = STYLIZE_OK;
    while (t->step < c->iterations) {
        double loss;
        if ((st = train_step(t, &loss, err)) != STYLIZE_OK)
            return st;
        if (!isfinite(loss))
            return stylize_error_set(err, STYLIZE_ERR_NUMERIC, "training loss is %g at step %lld", loss, t->step);
        long long skipped = skipped0 + (t->loader ? stylize_loader_skipped(t->loader) : 0);
        if (res->steps == 0)
            res->loss_first = loss;
        res->steps = t->step;
        stylize_train_progress p = {t->step, c->iterations, loss, train_loss_avg(t), &t->last, t->lr,
                                    stylize_seconds() - t0, skipped};
        int stop = progress && progress(puser, &p);
        stop |= c->stop_flag && *c->stop_flag;
        if (stop || (c->checkpoint_every > 0 && t->step % c->checkpoint_every == 0))
            if ((st = checkpoint(t, meta, skipped, err)) != STYLIZE_OK)
                return st;
        if (stop) {
            res->stopped = 1;
            return stylize_error_set(err, STYLIZE_ERR_INTERRUPTED, "stopped at step %lld (checkpoint written)",
                                     t->step);
        }
    }
    return st;
}

stylize_status stylize_train(const stylize_train_config *c, stylize_gen_model *m,
                             const stylize_tnet_meta *resume, stylize_train_progress_fn progress,
                             void *puser, stylize_tnet_meta *meta, stylize_train_result *res,
                             stylize_error *err)
{
    stylize_train_result local;
    res = res ? res : &local;
    memset(res, 0, sizeof *res);
    stylize_status st = check_config(c, &m->arch, err);
    stylize_conv_algo old = stylize_conv_get_default_algo();
    stylize_precision precision = STYLIZE_PRECISION_FP32;
    if (st == STYLIZE_OK)
        st = stylize_precision_select(c->precision, STYLIZE_WORK_TRAIN, &precision, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_mem mem;
    stylize_mem_init(&mem, 0);
    trainer t;
    memset(&t, 0, sizeof t);
    t.c = c, t.m = m, t.mem = &mem, t.style_mode = m->arch.mode == STYLIZE_GEN_STYLE;
    t.lr = c->learning_rate;
    t.precision = precision;
    double t0 = stylize_seconds();
    st = plan(&t, resume ? resume->data_position : 0, err);
    if (st == STYLIZE_OK && resume)
        st = resume_from(&t, resume, err);
    long long skipped0 = resume ? resume->skipped : 0;
    if (st == STYLIZE_OK)
        st = loop(&t, skipped0, progress, puser, meta, res, err);
    res->steps = t.step;
    res->loss_final = train_loss_avg(&t);
    res->seconds = stylize_seconds() - t0;
    res->skipped = skipped0 + (t.loader ? stylize_loader_skipped(t.loader) : 0);
    res->memory_peak = mem.peak;
    if (t.adam)
        fill_meta(&t, meta, res->skipped);
    unplan(&t);
    stylize_conv_set_default_algo(old);
    return st;
}

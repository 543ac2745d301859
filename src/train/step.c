/* One training step (stylize/train/train.h). Allocates nothing. */
#include <math.h>
#include <string.h>

#include "stylize/core/rng.h"
#include "train_internal.h"

void stylize_train_to_input(const stylize_input_convention *conv, const float *v, float *x, size_t hw)
{
    for (int k = 0; k < 3; k++) {
        const float *src = v + (size_t)(conv->order == STYLIZE_BGR ? 2 - k : k) * hw;
        float *dst = x + (size_t)k * hw;
        const float scale = conv->pixel_scale, mean = conv->mean[k], sd = conv->std[k];
        for (size_t i = 0; i < hw; i++)
            dst[i] = (src[i] * scale - mean) / sd;
    }
}

void stylize_train_grad_from_input(const stylize_input_convention *conv, const float *gx, float *gv,
                                   size_t hw, float s)
{
    for (int k = 0; k < 3; k++) {
        const float *src = gx + (size_t)k * hw;
        float *dst = gv + (size_t)(conv->order == STYLIZE_BGR ? 2 - k : k) * hw;
        const float f = conv->pixel_scale / conv->std[k] * s;
        for (size_t i = 0; i < hw; i++)
            dst[i] = src[i] * f;
    }
}

double train_lr(const stylize_train_config *c, long long s)
{
    if (c->lr_decay_every <= 0 || c->lr_decay == 1.0)
        return c->learning_rate;
    return c->learning_rate * pow(c->lr_decay, (double)(s / c->lr_decay_every));
}

double train_loss_avg(const trainer *t)
{
    long long n = t->n_ring < LOSS_RING ? t->n_ring : LOSS_RING;
    double s = 0;
    for (long long i = 0; i < n; i++)
        s += t->ring[i];
    return n > 0 ? s / (double)n : 0.0;
}

/* The batch's crops into the generator's content input. */
static stylize_status take_batch(trainer *t, stylize_error *err)
{
    size_t per = (size_t)3 * t->c->size * t->c->size;
    float *content = stylize_gen_content(t->gen);
    for (int b = 0; b < t->c->batch; b++) {
        stylize_status st = stylize_loader_next(t->loader, content + (size_t)b * per, err);
        if (st != STYLIZE_OK)
            return st;
    }
    return STYLIZE_OK;
}

/* Loss of output image b and its gradient into dout (scaled by 1/B). */
static stylize_status image_loss(trainer *t, const float *out, int b, double *value, stylize_error *err)
{
    const stylize_input_convention *conv = &t->c->weights->input;
    size_t hw = (size_t)t->c->size * t->c->size, per = 3 * hw;
    stylize_status st;
    if (t->style_mode) {
        stylize_train_to_input(conv, stylize_gen_content(t->gen) + (size_t)b * per, t->gx, hw);
        if ((st = stylize_objective_set_content(t->obj, t->gx, err)) != STYLIZE_OK)
            return st;
    }
    stylize_train_to_input(conv, out, t->x, hw);
    if ((st = stylize_objective_eval(t->obj, t->x, t->gx, value, err)) != STYLIZE_OK)
        return st;
    stylize_train_grad_from_input(conv, t->gx, t->dout + (size_t)b * per, hw, 1.0f / (float)t->c->batch);
    return STYLIZE_OK;
}

stylize_status train_step(trainer *t, double *loss, stylize_error *err)
{
    stylize_status st = t->style_mode ? take_batch(t, err) : STYLIZE_OK;
    if (st != STYLIZE_OK)
        return st;
    stylize_rng rng;
    stylize_rng_seed(&rng, t->c->seed ^ (0x9e3779b97f4a7c15ull * (unsigned long long)(t->step + 1)));
    stylize_gen_forward(t->gen, &rng);
    size_t ns;
    const float *out = stylize_gen_output(t->gen, &ns);
    double total = 0;
    for (int b = 0; b < t->c->batch; b++) {
        double v;
        if ((st = image_loss(t, out + (size_t)b * ns, b, &v, err)) != STYLIZE_OK)
            return st;
        total += v;
    }
    stylize_objective_breakdown(t->obj, &t->last);
    *loss = total / t->c->batch;
    stylize_params_zero_grad(&t->m->params);
    stylize_gen_backward(t->gen, t->dout);
    t->lr = train_lr(t->c, t->step);
    stylize_adam_set_learning_rate(t->adam, t->lr);
    stylize_adam_step(t->adam, t->m->params.value, t->m->params.grad);
    stylize_gen_params_changed(t->gen);
    t->ring[t->n_ring++ % LOSS_RING] = *loss;
    t->step++;
    return STYLIZE_OK;
}

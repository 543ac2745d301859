/* The memory plan of a run: for several configurations (texture with
 * --width/--height, styles of other sizes, masks and style masks, strips
 * with several scales, colour modes with Adam, a batch's cached style
 * targets) the estimate (a dry run of the stages) equals the bytes the run
 * then allocates through its plan, exactly; and what the plan holds during
 * the optimisation matches the heap the process actually uses (glibc's
 * mallinfo2), so that nothing big is allocated outside the plan. */
#define _GNU_SOURCE
#include <malloc.h>

#include "stylize/stylize.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_MEASURABLE 0 /* ASan's allocator keeps its own books */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_MEASURABLE 0
#endif
#endif
#ifndef HEAP_MEASURABLE
#define HEAP_MEASURABLE 1
#endif

static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

typedef struct {
    size_t heap0;     /* heap in use before the run */
    size_t inputs;    /* bytes of the loaded inputs the plan counts */
    double worst;     /* largest |heap delta - plan bytes| seen, relative */
    size_t worst_abs;
    int calls;
} heap_probe;

static void probe(void *user, const stylize_run_progress *p)
{
    heap_probe *h = user;
    size_t heap = heap_in_use() - h->heap0, plan = p->memory - h->inputs;
    size_t diff = heap > plan ? heap - plan : plan - heap;
    h->calls++;
    if (diff > h->worst_abs) {
        h->worst_abs = diff;
        h->worst = (double)diff / (double)plan;
    }
}

static stylize_image image(int w, int h, uint64_t seed)
{
    stylize_image img = {0};
    if (stylize_image_alloc(&img, w, h, NULL) == STYLIZE_OK)
        tu_fill(img.data, (size_t)3 * w * h, seed, 0, 1);
    return img;
}

/* Runs c twice over: the estimate against the plan's peak, and the heap
 * against the plan during the optimisation. */
static void check_run(stylize_run_config *c, const char *what, size_t inputs)
{
    heap_probe h = {heap_in_use(), inputs, 0, 0, 0};
    size_t estimate = stylize_run_memory_estimate(c);
    stylize_run_result res;
    stylize_error err;
    stylize_status st = stylize_run(c, probe, &h, &res, &err);
    CHECK_MSG(st == STYLIZE_OK, "%s: %s", what, err.msg);
    CHECK_MSG(estimate > 0 && estimate == res.memory_estimate && estimate == res.memory_peak,
              "%s: estimate %zu, run's estimate %zu, run's plan peak %zu", what, estimate,
              res.memory_estimate, res.memory_peak);
    if (HEAP_MEASURABLE)
        CHECK_MSG(h.calls > 0 && h.worst_abs <= ((size_t)1 << 20) + (size_t)(0.02 * (double)estimate),
                  "%s: the heap differs from the plan by %zu bytes (%.1f%%)", what, h.worst_abs,
                  100 * h.worst);
    printf("%s: estimate %zu bytes = plan peak; heap within %zu bytes of the plan\n", what, estimate,
           h.worst_abs);
}

int main(void)
{
    stylize_weights *w = NULL;
    stylize_error err;
    CHECK(stylize_weights_random(&w, 3, 16, &err) == STYLIZE_OK);
    const char *dir = getenv("STYLIZE_TEST_TMP");
    if (!dir)
        dir = "/tmp";
    if (!w)
        return TEST_SUMMARY();
    stylize_set_threads(1);
    stylize_image content = image(90, 64, 1), style = image(70, 50, 2), mask1 = image(50, 40, 3);
    stylize_image mask2 = image(33, 47, 4);
    char out[4096];
    snprintf(out, sizeof out, "%s/out.png", dir);
    stylize_run_config c;

    /* texture: a source at --size, an output of its own size */
    stylize_run_defaults(&c);
    c.weights = w, c.random_features = 1, c.n_styles = 1, c.styles[0] = &style;
    c.size = 48, c.width = 80, c.height = 36, c.iterations = 2, c.output_path = out;
    c.init = STYLIZE_INIT_NOISE;
    stylize_parse_layers("relu1_1,pool1,pool2,pool3", c.style_layers, &c.n_style, NULL);
    size_t in_tex = stylize_image_bytes(70, 50) + w->blob_floats * sizeof(float);
    check_run(&c, "texture 80x36 from a 48 px source", in_tex);

    /* style transfer with a style of another size, two scales, L-BFGS */
    stylize_run_defaults(&c);
    c.weights = w, c.random_features = 1, c.content = &content, c.n_styles = 1, c.styles[0] = &style;
    c.size = 80, c.style_scale = 1.6, c.iterations = 2, c.output_path = out;
    c.n_scales = 2, c.scales[0] = 40, c.scales[1] = 80;
    stylize_parse_layers("relu4_2", c.content_layers, &c.n_content, NULL);
    stylize_parse_layers("relu1_1,relu2_1,relu3_1,relu4_1", c.style_layers, &c.n_style, NULL);
    size_t in_st = in_tex + stylize_image_bytes(90, 64);
    check_run(&c, "style of another size, two scales", in_st);

    /* strips of 16 rows */
    c.tile_rows = 16;
    check_run(&c, "strips of 16 rows", in_st);
    c.tile_rows = 0;

    /* masks and style masks, two styles, luminance colours, Adam */
    c.n_styles = 2, c.styles[1] = &content;
    c.content_masks[0] = &mask1, c.content_masks[1] = &mask2;
    c.style_masks[0] = &mask2, c.style_masks[1] = &mask1;
    c.preserve_colours = STYLIZE_COLOURS_LUMINANCE, c.optimizer = STYLIZE_OPTIM_ADAM;
    c.learning_rate = 0.01;
    size_t in_mask = in_st + 2 * stylize_image_bytes(90, 64) + 2 * (stylize_image_bytes(50, 40) +
                                                                   stylize_image_bytes(33, 47));
    check_run(&c, "masks, style masks, luminance, Adam", in_mask);

    /* a batch: the second run takes its style targets from the cache */
    stylize_run_defaults(&c);
    c.weights = w, c.random_features = 1, c.content = &content, c.n_styles = 1, c.styles[0] = &style;
    c.size = 64, c.iterations = 1, c.output_path = out;
    stylize_parse_layers("relu2_2", c.content_layers, &c.n_content, NULL);
    stylize_parse_layers("relu1_1,relu2_1", c.style_layers, &c.n_style, NULL);
    stylize_style_cache *cache = NULL;
    CHECK(stylize_style_cache_create(&cache, NULL) == STYLIZE_OK);
    c.style_cache = cache;
    check_run(&c, "batch, first content", in_st);
    check_run(&c, "batch, cached styles", in_st);
    CHECK(stylize_style_cache_hits(cache) == 1);
    stylize_style_cache_free(cache);

    stylize_image_free(&content), stylize_image_free(&style);
    stylize_image_free(&mask1), stylize_image_free(&mask2);
    stylize_weights_free(w);
    return TEST_SUMMARY();
}

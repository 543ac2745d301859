/* Style targets kept between the runs of a batch: each style's Gram
 * matrices at each style size, computed once (stylize/run/run.h). The cache
 * lives outside any one run's memory plan. */
#include <stdlib.h>
#include <string.h>

#include "run/run_internal.h"

struct run_cache_entry {
    int style, sw, sh, n;
    float *grams[STYLIZE_VGG19_NLAYERS]; /* (N_i, N_i) each */
    double areas[STYLIZE_VGG19_NLAYERS];
};

struct stylize_style_cache {
    run_cache_entry *entries;
    int n, cap, hits;
};

stylize_status stylize_style_cache_create(stylize_style_cache **out, stylize_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? STYLIZE_OK : stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
}

void stylize_style_cache_free(stylize_style_cache *cache)
{
    if (!cache)
        return;
    for (int e = 0; e < cache->n; e++)
        for (int i = 0; i < cache->entries[e].n; i++)
            free(cache->entries[e].grams[i]);
    free(cache->entries);
    free(cache);
}

int stylize_style_cache_hits(const stylize_style_cache *cache)
{
    return cache ? cache->hits : 0;
}

const run_cache_entry *run_cache_find(stylize_style_cache *cache, int style, int sw, int sh)
{
    for (int e = 0; cache && e < cache->n; e++)
        if (cache->entries[e].style == style && cache->entries[e].sw == sw && cache->entries[e].sh == sh)
            return &cache->entries[e];
    return NULL;
}

stylize_status run_cache_apply(stylize_style_cache *cache, const run_cache_entry *e,
                               stylize_objective *obj, int region, double blend, stylize_error *err)
{
    stylize_status st = stylize_objective_add_style_grams(obj, region, (const float *const *)e->grams,
                                                          e->areas, blend, err);
    if (st == STYLIZE_OK)
        cache->hits++;
    return st;
}

void run_cache_store(stylize_style_cache *cache, const stylize_weights *w,
                     const stylize_objective_spec *spec, stylize_objective *obj, int region,
                     int style, int sw, int sh)
{
    if (!cache)
        return;
    if (cache->n == cache->cap) {
        int nc = cache->cap ? 2 * cache->cap : 8;
        run_cache_entry *ne = realloc(cache->entries, (size_t)nc * sizeof *ne);
        if (!ne)
            return;
        cache->entries = ne;
        cache->cap = nc;
    }
    run_cache_entry *e = &cache->entries[cache->n];
    memset(e, 0, sizeof *e);
    e->style = style, e->sw = sw, e->sh = sh, e->n = spec->n_style;
    for (int i = 0; i < spec->n_style; i++) {
        int c = stylize_vgg19_layer_channels(w, spec->style[i].layer);
        e->grams[i] = malloc((size_t)c * c * sizeof(float));
        if (!e->grams[i]) {
            for (int j = 0; j < i; j++)
                free(e->grams[j]);
            return;
        }
    }
    if (stylize_objective_last_style_grams(obj, region, e->grams, e->areas) != STYLIZE_OK) {
        for (int i = 0; i < spec->n_style; i++)
            free(e->grams[i]);
        return;
    }
    cache->n++;
}

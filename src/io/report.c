/* The run report (JSON through cJSON) and the loss plot (SVG).
 *
 * The report keeps a fixed array of history entries, allocated once by
 * stylize_report_create; stylize_report_add copies into the next free slot
 * and allocates nothing. Writing builds the document in memory and replaces
 * the destination atomically (fileutil). Non-finite numbers are written as
 * JSON null so that the report always parses. */
#include "stylize/io/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fileutil.h"

#ifndef STYLIZE_VERSION
#define STYLIZE_VERSION "unknown"
#endif

/* Upper bound on scales a report accepts (far above any sensible run). */
#define REPORT_MAX_SCALES 256
#define STOP_REASON_MAX 48

typedef struct {
    int scale, iteration, evaluations;
    double seconds, loss;
    int has_breakdown;
    stylize_loss_breakdown b;
} report_entry;

typedef struct {
    int begun, ended;
    int width, height, max_iterations;
    int iterations, evaluations;
    double loss_initial, loss_final;
    char stop_reason[STOP_REASON_MAX];
} report_scale;

struct stylize_report {
    int max_entries, n_entries;
    report_entry *entries; /* max_entries slots, owned, from mem (NULL on a dry plan) */
    stylize_mem *mem;      /* borrowed */
    size_t bytes;          /* of entries */
    int n_scales;
    report_scale *scales;  /* n_scales slots, owned */
};

stylize_status stylize_report_create(stylize_report **out, int max_entries, int n_scales,
                                     stylize_mem *mem, stylize_error *err)
{
    *out = NULL;
    if (max_entries < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "report: %d history entries", max_entries);
    if (n_scales < 1 || n_scales > REPORT_MAX_SCALES)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "report: %d scales (1..%d)", n_scales,
                                 REPORT_MAX_SCALES);
    size_t bytes;
    if (stylize_size_mul((size_t)max_entries, sizeof(report_entry), &bytes) != 0)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT, "report: %d history entries is too many",
                                 max_entries);
    stylize_report *r = calloc(1, sizeof *r);
    if (!r)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "report: out of memory");
    r->scales = calloc((size_t)n_scales, sizeof *r->scales);
    void *entries = NULL;
    if (!r->scales || stylize_mem_calloc(mem, &entries, bytes, "the report", NULL) != STYLIZE_OK) {
        stylize_report_free(r);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM,
                                 "report: out of memory for %d history entries (%zu bytes)",
                                 max_entries, bytes);
    }
    r->entries = entries;
    r->mem = mem;
    r->max_entries = entries ? max_entries : 0;
    r->bytes = bytes;
    r->n_scales = n_scales;
    *out = r;
    return STYLIZE_OK;
}

void stylize_report_free(stylize_report *r)
{
    if (!r)
        return;
    stylize_mem_free(r->mem, r->entries, r->bytes);
    free(r->scales);
    free(r);
}

static report_scale *scale_at(stylize_report *r, int scale)
{
    if (!r || scale < 0 || scale >= r->n_scales)
        return NULL;
    return &r->scales[scale];
}

void stylize_report_begin_scale(stylize_report *r, int scale, int width, int height,
                                int max_iterations)
{
    report_scale *s = scale_at(r, scale);
    if (!s)
        return;
    s->begun = 1;
    s->width = width;
    s->height = height;
    s->max_iterations = max_iterations;
}

void stylize_report_add(stylize_report *r, int scale, int iteration, int evaluations, double seconds,
                        double loss, const stylize_loss_breakdown *b)
{
    if (!r || r->n_entries >= r->max_entries || scale < 0 || scale >= r->n_scales)
        return;
    report_entry *e = &r->entries[r->n_entries++];
    e->scale = scale;
    e->iteration = iteration;
    e->evaluations = evaluations;
    e->seconds = seconds;
    e->loss = loss;
    e->has_breakdown = b != NULL;
    if (b)
        e->b = *b;
    else
        memset(&e->b, 0, sizeof e->b);
    r->scales[scale].begun = 1;
}

void stylize_report_end_scale(stylize_report *r, int scale, int iterations, int evaluations,
                              double loss_initial, double loss_final, const char *stop_reason)
{
    report_scale *s = scale_at(r, scale);
    if (!s)
        return;
    s->begun = 1;
    s->ended = 1;
    s->iterations = iterations;
    s->evaluations = evaluations;
    s->loss_initial = loss_initial;
    s->loss_final = loss_final;
    snprintf(s->stop_reason, sizeof s->stop_reason, "%s", stop_reason ? stop_reason : "");
}

/* ---- loss layers of the configuration ------------------------------------ */

/* One distinct loss layer: the sum of the weights it is listed with and how
 * many times (the objective sums a repeated layer's losses into one slot). */
typedef struct {
    int layer;
    double weight_sum;
    int count;
} loss_layer;

/* Distinct valid layers of list (n entries) in first-seen order; returns the count. */
static int distinct_layers(const stylize_layer_weight *list, int n, loss_layer *out)
{
    int m = 0;
    if (n > STYLIZE_VGG19_NLAYERS)
        n = STYLIZE_VGG19_NLAYERS;
    for (int i = 0; i < n; i++) {
        int l = list[i].layer;
        if (l < 0 || l >= STYLIZE_VGG19_NLAYERS)
            continue;
        int k = 0;
        while (k < m && out[k].layer != l)
            k++;
        if (k == m) {
            out[m].layer = l;
            out[m].weight_sum = 0.0;
            out[m].count = 0;
            m++;
        }
        out[k].weight_sum += list[i].weight;
        out[k].count++;
    }
    return m;
}

static const char *layer_name(int l)
{
    const char *s = stylize_vgg19_layer_name(l);
    return s ? s : "?";
}

/* ---- JSON ----------------------------------------------------------------- */

/* Builders that remember a failed allocation in *ok instead of checking each
 * call: the document is discarded at the end if anything failed. */
static void j_add(cJSON *obj, const char *key, cJSON *item, int *ok)
{
    if (!item || !obj || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        *ok = 0;
    }
}

static void j_num(cJSON *obj, const char *key, double v, int *ok)
{
    j_add(obj, key, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(), ok);
}

static void j_str(cJSON *obj, const char *key, const char *s, int *ok)
{
    j_add(obj, key, s ? cJSON_CreateString(s) : cJSON_CreateNull(), ok);
}

static void j_bool(cJSON *obj, const char *key, int v, int *ok)
{
    j_add(obj, key, cJSON_CreateBool(v != 0), ok);
}

static cJSON *j_child(cJSON *obj, const char *key, cJSON *item, int *ok)
{
    j_add(obj, key, item, ok);
    return item && *ok ? item : NULL;
}

static void j_append(cJSON *arr, cJSON *item, int *ok)
{
    if (!item || !arr || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        *ok = 0;
    }
}

static const char *pool_str(stylize_pool_kind p)
{
    return p == STYLIZE_POOL_MAX ? "max" : "avg";
}

static const char *init_str(stylize_init_kind k)
{
    switch (k) {
    case STYLIZE_INIT_CONTENT: return "content";
    case STYLIZE_INIT_NOISE: return "noise";
    case STYLIZE_INIT_STYLE: return "style";
    case STYLIZE_INIT_IMAGE: return "image";
    }
    return "unknown";
}

static const char *colours_str(stylize_colours c)
{
    switch (c) {
    case STYLIZE_COLOURS_NONE: return "none";
    case STYLIZE_COLOURS_LUMINANCE: return "luminance";
    case STYLIZE_COLOURS_HISTOGRAM: return "histogram";
    }
    return "unknown";
}

static const char *run_status_str(stylize_status s)
{
    switch (s) {
    case STYLIZE_OK: return "ok";
    case STYLIZE_ERR_INTERRUPTED: return "interrupted";
    case STYLIZE_ERR_NUMERIC: return "numerical_error";
    default: return stylize_status_str(s);
    }
}

static cJSON *layer_array(const stylize_layer_weight *list, int n, int *ok)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        *ok = 0;
        return NULL;
    }
    if (n > STYLIZE_VGG19_NLAYERS)
        n = STYLIZE_VGG19_NLAYERS;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        j_append(arr, o, ok);
        if (!*ok)
            break;
        j_str(o, "layer", stylize_vgg19_layer_name(list[i].layer), ok);
        j_num(o, "weight", list[i].weight, ok);
    }
    return arr;
}

static cJSON *settings_json(const stylize_run_config *cfg, int *ok)
{
    cJSON *s = cJSON_CreateObject();
    if (!s) {
        *ok = 0;
        return NULL;
    }
    if (!cfg)
        return s;
    j_str(s, "mode", cfg->content ? "style" : "texture", ok);
    j_num(s, "alpha", cfg->alpha, ok);
    j_num(s, "beta", cfg->beta, ok);
    j_num(s, "tv", cfg->tv, ok);
    j_str(s, "pool", pool_str(cfg->pool), ok);
    j_num(s, "size", cfg->size, ok);
    j_num(s, "width", cfg->width, ok);
    j_num(s, "height", cfg->height, ok);
    j_num(s, "style_scale", cfg->style_scale, ok);
    j_num(s, "n_styles", cfg->n_styles, ok);
    cJSON *blend = j_child(s, "style_blend", cJSON_CreateArray(), ok);
    for (int i = 0; blend && i < cfg->n_styles && i < STYLIZE_MAX_STYLES; i++)
        j_append(blend, isfinite(cfg->style_blend[i]) ? cJSON_CreateNumber(cfg->style_blend[i])
                                                      : cJSON_CreateNull(),
                 ok);
    j_num(s, "iterations", cfg->iterations, ok);
    j_str(s, "optimizer", cfg->optimizer == STYLIZE_OPTIM_ADAM ? "adam" : "lbfgs", ok);
    j_num(s, "learning_rate", cfg->learning_rate, ok);
    j_num(s, "lbfgs_history", cfg->lbfgs_history, ok);
    j_num(s, "tol_change", cfg->tol_change, ok);
    j_str(s, "init", init_str(cfg->init), ok);
    j_str(s, "precision", stylize_precision_name(cfg->precision), ok);
    /* A seed above 2^53 would not survive a double: written as a string then. */
    if (cfg->seed <= (1ull << 53)) {
        j_num(s, "seed", (double)cfg->seed, ok);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", cfg->seed);
        j_str(s, "seed", buf, ok);
    }
    j_bool(s, "normalize_gradients", cfg->normalise_gradients, ok);
    j_str(s, "preserve_colors", colours_str(cfg->preserve_colours), ok);
    j_bool(s, "random_features", cfg->random_features, ok);
    j_add(s, "content_layers", layer_array(cfg->content_layers, cfg->n_content, ok), ok);
    j_add(s, "style_layers", layer_array(cfg->style_layers, cfg->n_style, ok), ok);
    cJSON *scales = j_child(s, "scales", cJSON_CreateArray(), ok);
    for (int i = 0; scales && i < cfg->n_scales && i < STYLIZE_MAX_SCALES; i++) {
        cJSON *o = cJSON_CreateObject();
        j_append(scales, o, ok);
        if (!*ok)
            break;
        j_num(o, "size", cfg->scales[i], ok);
        j_num(o, "iterations",
              cfg->scale_iterations[i] > 0 ? cfg->scale_iterations[i] : cfg->iterations, ok);
    }
    j_num(s, "tile_rows", cfg->weights ? stylize_run_tile_rows(cfg) : 0, ok);
    j_num(s, "photorealism", cfg->photorealism, ok);
    j_num(s, "photo_iterations", cfg->photo_iterations, ok);
    j_str(s, "smooth", stylize_smooth_name(cfg->smooth.kind), ok);
    j_num(s, "smooth_radius", cfg->smooth.radius, ok);
    j_num(s, "smooth_edge", cfg->smooth.edge, ok);
    j_num(s, "print_every", cfg->print_every, ok);
    j_num(s, "save_every", cfg->save_every, ok);
    /* The caller's key/value echo; a key already written above keeps the
     * configuration's value (the effective one). */
    int n = cfg->n_settings < 0 ? 0 : cfg->n_settings > 64 ? 64 : cfg->n_settings;
    for (int i = 0; i < n && *ok; i++) {
        const char *k = cfg->setting_keys[i];
        if (!k || cJSON_GetObjectItemCaseSensitive(s, k))
            continue;
        j_str(s, k, cfg->setting_values[i], ok);
    }
    return s;
}

/* Layer map {name: raw value} for the distinct layers; a layer listed twice
 * reports its own loss (the breakdown's slot divided by the repeat count). */
static cJSON *layer_values(const loss_layer *layers, int n, const double *raw, int has, int *ok)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        *ok = 0;
        return NULL;
    }
    for (int i = 0; i < n && *ok; i++) {
        double v = has ? raw[layers[i].layer] / layers[i].count : NAN;
        j_num(o, layer_name(layers[i].layer), v, ok);
    }
    return o;
}

static cJSON *entry_json(const report_entry *e, const loss_layer *cl, int ncl,
                         const loss_layer *sl, int nsl, int *ok)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        *ok = 0;
        return NULL;
    }
    j_num(o, "scale", e->scale, ok);
    j_num(o, "iteration", e->iteration, ok);
    j_num(o, "evaluations", e->evaluations, ok);
    j_num(o, "seconds", e->seconds, ok);
    j_num(o, "loss", e->loss, ok);
    j_num(o, "content_loss", e->has_breakdown ? e->b.content : NAN, ok);
    j_num(o, "style_loss", e->has_breakdown ? e->b.style : NAN, ok);
    j_num(o, "tv_loss", e->has_breakdown ? e->b.tv : NAN, ok);
    j_num(o, "photo_loss", e->has_breakdown ? e->b.photo : NAN, ok);
    j_num(o, "matting_loss", e->has_breakdown ? e->b.matting : NAN, ok);
    j_add(o, "content", layer_values(cl, ncl, e->b.content_layer, e->has_breakdown, ok), ok);
    j_add(o, "style", layer_values(sl, nsl, e->b.style_layer, e->has_breakdown, ok), ok);
    return o;
}

stylize_status stylize_report_write(const stylize_report *r, const stylize_run_config *cfg,
                                    const stylize_run_result *res, stylize_status run_status,
                                    const char *path, stylize_error *err)
{
    if (!r || !path)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "report: nothing to write");
    stylize_run_result zero;
    memset(&zero, 0, sizeof zero);
    if (!res)
        res = &zero;
    loss_layer cl[STYLIZE_VGG19_NLAYERS], sl[STYLIZE_VGG19_NLAYERS];
    int ncl = cfg ? distinct_layers(cfg->content_layers, cfg->n_content, cl) : 0;
    int nsl = cfg ? distinct_layers(cfg->style_layers, cfg->n_style, sl) : 0;

    int ok = 1;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "%s: out of memory for the report", path);
    j_str(root, "version", STYLIZE_VERSION, &ok);
    j_add(root, "settings", settings_json(cfg, &ok), &ok);
    j_str(root, "status", run_status_str(run_status), &ok);
    j_num(root, "iterations", res->iterations, &ok);
    j_num(root, "evaluations", res->evaluations, &ok);
    j_num(root, "seconds", res->seconds, &ok);
    j_num(root, "loss_initial", res->loss_initial, &ok);
    j_num(root, "loss_final", res->loss_final, &ok);
    j_num(root, "width", res->width, &ok);
    j_num(root, "height", res->height, &ok);
    j_num(root, "memory_estimate", (double)res->memory_estimate, &ok);
    j_num(root, "memory_peak", (double)res->memory_peak, &ok);
    j_str(root, "precision", stylize_precision_name(res->precision), &ok);
    j_num(root, "bf16_speed", stylize_precision_bf16_speed(), &ok);
    if (res->have_figures) {
        cJSON *ph = j_child(root, "photorealism", cJSON_CreateObject(), &ok);
        if (ph) {
            j_num(ph, "matting_per_pixel", res->matting_per_pixel, &ok);
            j_num(ph, "edge_ssim", res->edge_ssim, &ok);
        }
    }

    /* Scales that were begun (a run stopped early lists fewer than n_scales). */
    cJSON *scales = j_child(root, "scales", cJSON_CreateArray(), &ok);
    for (int k = 0; scales && ok && k < r->n_scales; k++) {
        const report_scale *s = &r->scales[k];
        if (!s->begun)
            continue;
        cJSON *o = cJSON_CreateObject();
        j_append(scales, o, &ok);
        if (!ok)
            break;
        j_num(o, "index", k, &ok);
        j_num(o, "width", s->width, &ok);
        j_num(o, "height", s->height, &ok);
        j_num(o, "max_iterations", s->max_iterations, &ok);
        j_num(o, "iterations", s->ended ? s->iterations : NAN, &ok);
        j_num(o, "evaluations", s->ended ? s->evaluations : NAN, &ok);
        j_num(o, "loss_initial", s->ended ? s->loss_initial : NAN, &ok);
        j_num(o, "loss_final", s->ended ? s->loss_final : NAN, &ok);
        j_str(o, "stop_reason", s->ended ? s->stop_reason : NULL, &ok);
        cJSON *h = j_child(o, "history", cJSON_CreateArray(), &ok);
        for (int i = 0; h && ok && i < r->n_entries; i++)
            if (r->entries[i].scale == k)
                j_append(h, entry_json(&r->entries[i], cl, ncl, sl, nsl, &ok), &ok);
    }
    cJSON *hist = j_child(root, "history", cJSON_CreateArray(), &ok);
    for (int i = 0; hist && ok && i < r->n_entries; i++)
        j_append(hist, entry_json(&r->entries[i], cl, ncl, sl, nsl, &ok), &ok);

    char *text = ok ? cJSON_Print(root) : NULL; /* owned: cJSON_free */
    cJSON_Delete(root);
    if (!text)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "%s: out of memory for the report", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the terminator: the buffer is not used as a string again */
    stylize_status st = stylize_file_write_atomic(path, text, len + 1, err);
    cJSON_free(text);
    return st;
}

/* ---- SVG plot --------------------------------------------------------------- */

#define SVG_W 800
#define SVG_H 500
#define PLOT_X0 80.0
#define PLOT_X1 580.0
#define PLOT_Y0 50.0
#define PLOT_Y1 440.0
#define LEGEND_X 600.0

/* Growing text buffer; a failed allocation sets failed and drops later output. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_vprintf(sbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void sb_vprintf(sbuf *b, const char *fmt, va_list ap)
{
    if (b->failed)
        return;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (!b->data || b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + (size_t)n + 1) {
            if (cap > ((size_t)-1) / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Text content with &, < and > (and quotes, for attributes) escaped. */
static void sb_escaped(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s); break;
        }
    }
}

/* Distinct, colour-blind-friendly-ish hues; beyond them hues are spread. */
static void curve_colour(int i, char out[16])
{
    static const char *palette[] = {"#000000", "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
                                    "#7f7f7f", "#393b79", "#ad494a", "#637939"};
    int np = (int)(sizeof palette / sizeof palette[0]);
    if (i < np) {
        snprintf(out, 16, "%s", palette[i]);
        return;
    }
    /* Golden-angle hue walk at fixed saturation / value, converted to RGB. */
    double h = fmod((double)(i - np) * 137.508, 360.0) / 60.0, v = 0.75, s = 0.8;
    double c = v * s, x = c * (1.0 - fabs(fmod(h, 2.0) - 1.0)), m = v - c;
    double rgb[3] = {0, 0, 0};
    int sector = (int)h;
    switch (sector) {
    case 0: rgb[0] = c; rgb[1] = x; break;
    case 1: rgb[0] = x; rgb[1] = c; break;
    case 2: rgb[1] = c; rgb[2] = x; break;
    case 3: rgb[1] = x; rgb[2] = c; break;
    case 4: rgb[0] = x; rgb[2] = c; break;
    default: rgb[0] = c; rgb[2] = x; break;
    }
    snprintf(out, 16, "#%02x%02x%02x", (int)lround((rgb[0] + m) * 255.0),
             (int)lround((rgb[1] + m) * 255.0), (int)lround((rgb[2] + m) * 255.0));
}

/* A plotted curve: which value of an entry it shows. */
typedef enum { CURVE_TOTAL, CURVE_STYLE, CURVE_CONTENT } curve_kind;

typedef struct {
    curve_kind kind;
    int layer;
    double factor; /* beta * w_l / count or alpha * c_l / count */
} curve;

/* Value of curve c at entry e, or NAN when it has none. */
static double curve_value(const curve *c, const report_entry *e)
{
    switch (c->kind) {
    case CURVE_TOTAL: return e->loss;
    case CURVE_STYLE: return e->has_breakdown ? c->factor * e->b.style_layer[c->layer] : NAN;
    case CURVE_CONTENT: return e->has_breakdown ? c->factor * e->b.content_layer[c->layer] : NAN;
    }
    return NAN;
}

static int plottable(double v)
{
    return isfinite(v) && v > 0.0;
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n ticks over span. */
static double nice_step(double span, int n)
{
    double raw = span / n;
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * p;
}

/* Plotted curves of cfg into curves (room for 1 + 2 * STYLIZE_VGG19_NLAYERS);
 * returns the count. The total, then each style layer (beta w_l E_l), then
 * each content layer (alpha c_l L_l), weighted as they enter the total. In
 * random-feature mode the objective also divides each layer by its target
 * energy, which the breakdown does not expose: those curves then show the
 * unnormalised weighted values. With cfg NULL only the total is plotted. */
static int plot_curves(const stylize_run_config *cfg, curve *curves)
{
    loss_layer cl[STYLIZE_VGG19_NLAYERS], sl[STYLIZE_VGG19_NLAYERS];
    int ncl = cfg ? distinct_layers(cfg->content_layers, cfg->n_content, cl) : 0;
    int nsl = cfg ? distinct_layers(cfg->style_layers, cfg->n_style, sl) : 0;
    int nc = 0;
    curves[nc++] = (curve){CURVE_TOTAL, -1, 1.0};
    for (int i = 0; i < nsl; i++)
        curves[nc++] = (curve){CURVE_STYLE, sl[i].layer, cfg->beta * sl[i].weight_sum / sl[i].count};
    for (int i = 0; i < ncl; i++)
        curves[nc++] =
            (curve){CURVE_CONTENT, cl[i].layer, cfg->alpha * cl[i].weight_sum / cl[i].count};
    return nc;
}

/* The plot's coordinate system: x is the iteration plus the iterations of
 * the earlier scales (offset[k] for scale k, up to xmax); y is log10 of the
 * value over the whole decades dlo..dhi. offset is borrowed. */
typedef struct {
    const double *offset; /* n_scales + 1 entries */
    double xmax;
    int dlo, dhi;
} plot_axes;

/* Fills offset (r->n_scales + 1 entries): where each scale starts on the x
 * axis. A scale spans its final iteration count if it ended, or its largest
 * recorded iteration if that is more. Returns the x axis's end (at least 1). */
static double scale_offsets(const stylize_report *r, double *offset)
{
    offset[0] = 0.0;
    for (int k = 0; k < r->n_scales; k++) {
        const report_scale *s = &r->scales[k];
        double span = s->ended ? s->iterations : 0.0;
        for (int i = 0; i < r->n_entries; i++)
            if (r->entries[i].scale == k && r->entries[i].iteration > span)
                span = r->entries[i].iteration;
        offset[k + 1] = offset[k] + span;
    }
    return offset[r->n_scales] > 0 ? offset[r->n_scales] : 1.0;
}

/* Sets a->dlo / a->dhi to whole decades around every plottable value of the
 * nc curves (0..1 when there is none; always at least one decade). */
static void decade_range(const stylize_report *r, const curve *curves, int nc, plot_axes *a)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < r->n_entries; i++)
        for (int c = 0; c < nc; c++) {
            double v = curve_value(&curves[c], &r->entries[i]);
            if (plottable(v)) {
                double l = log10(v);
                lo = l < lo ? l : lo;
                hi = l > hi ? l : hi;
            }
        }
    if (lo > hi) {
        a->dlo = 0;
        a->dhi = 1;
    } else {
        a->dlo = (int)floor(lo);
        a->dhi = (int)ceil(hi);
        if (a->dhi <= a->dlo)
            a->dhi = a->dlo + 1;
    }
}

/* SVG x of cumulative iteration it, and y of log10 value l. */
static double x_pos(const plot_axes *a, double it)
{
    return PLOT_X0 + (PLOT_X1 - PLOT_X0) * it / a->xmax;
}

static double y_pos(const plot_axes *a, double l)
{
    return PLOT_Y1 - (PLOT_Y1 - PLOT_Y0) * (l - a->dlo) / (double)(a->dhi - a->dlo);
}

/* XML prolog, <svg> element, title, background and heading. */
static void svg_begin(sbuf *b, const char *mode)
{
    sb_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sb_printf(b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
              SVG_W, SVG_H, SVG_W, SVG_H);
    sb_printf(b, "<title>stylize loss (");
    sb_escaped(b, mode);
    sb_printf(b, ")</title>\n");
    sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W,
              SVG_H);
    sb_printf(b, "<text x=\"%.1f\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">Loss (",
              (PLOT_X0 + PLOT_X1) / 2);
    sb_escaped(b, mode);
    sb_printf(b, ")</text>\n");
}

/* A grid line per decade; a tick and a 1eN label every few decades (at
 * most about 10 labels). */
static void svg_y_axis(sbuf *b, const plot_axes *a)
{
    int ddec = (a->dhi - a->dlo + 9) / 10; /* label every ddec decades */
    for (int d = a->dlo; d <= a->dhi; d++) {
        double y = y_pos(a, d);
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#dddddd\"/>\n",
                  PLOT_X0, y, PLOT_X1, y);
        if ((d - a->dlo) % ddec == 0) {
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#000000\"/>\n",
                      PLOT_X0 - 5, y, PLOT_X0, y);
            sb_printf(b, "<text x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\">1e%d</text>\n",
                      PLOT_X0 - 8, y + 4, d);
        }
    }
}

/* Labelled x ticks at a nice whole-iteration step, and a dashed line at the
 * start of each begun scale after the first. */
static void svg_x_axis(sbuf *b, const stylize_report *r, const plot_axes *a)
{
    double step = nice_step(a->xmax, 8);
    if (step < 1.0)
        step = 1.0; /* iterations are whole numbers */
    for (int k = 0; k * step <= a->xmax * (1 + 1e-9); k++) {
        double t = k * step, x = x_pos(a, t);
        sb_printf(b,
                  "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x,
                  PLOT_Y1, x, PLOT_Y1 + 5);
        sb_printf(b, "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%.6g</text>\n", x,
                  PLOT_Y1 + 18, t);
    }
    for (int k = 1; k < r->n_scales; k++) {
        if (!r->scales[k].begun)
            continue;
        double x = x_pos(a, a->offset[k]);
        sb_printf(b,
                  "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#888888\" "
                  "stroke-dasharray=\"5,4\"/>\n",
                  x, PLOT_Y0, x, PLOT_Y1);
        sb_printf(b,
                  "<text x=\"%.2f\" y=\"%.1f\" font-size=\"10\" fill=\"#666666\">scale %d</text>\n",
                  x + 3, PLOT_Y0 + 12, k + 1);
    }
}

/* The plot area's frame and the two axis titles. */
static void svg_frame(sbuf *b)
{
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#000000\"/>\n",
              PLOT_X0, PLOT_Y0, PLOT_X1 - PLOT_X0, PLOT_Y1 - PLOT_Y0);
    sb_printf(b,
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">iteration (cumulative over "
              "scales)</text>\n",
              (PLOT_X0 + PLOT_X1) / 2, PLOT_Y1 + 40);
    sb_printf(b,
              "<text x=\"20\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
              "%.1f)\">loss (log scale)</text>\n",
              (PLOT_Y0 + PLOT_Y1) / 2, (PLOT_Y0 + PLOT_Y1) / 2);
}

/* The path of curve c (index ci: its colour; the total's line is thicker).
 * A missing or non-positive value breaks the line, and a lone point is drawn
 * as a zero-length segment with round caps. */
static void svg_curve(sbuf *b, const stylize_report *r, const curve *c, int ci,
                      const plot_axes *a)
{
    char colour[16];
    curve_colour(ci, colour);
    sb_printf(b,
              "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-linecap=\"round\" "
              "stroke-linejoin=\"round\" d=\"",
              colour, ci == 0 ? "2.5" : "1.5");
    int run = 0;
    for (int i = 0; i < r->n_entries; i++) {
        const report_entry *e = &r->entries[i];
        double v = curve_value(c, e);
        if (!plottable(v)) {
            if (run == 1)
                sb_printf(b, "h0");
            run = 0;
            continue;
        }
        double x = x_pos(a, a->offset[e->scale] + e->iteration), y = y_pos(a, log10(v));
        sb_printf(b, "%s%.2f,%.2f", run ? "L" : "M", x, y);
        run++;
    }
    if (run == 1)
        sb_printf(b, "h0");
    sb_printf(b, "\"/>\n");
}

/* Legend of the nc curves and the weighting note under it; rows shrink when
 * many layers are plotted so that it fits. */
static void svg_legend(sbuf *b, const curve *curves, int nc)
{
    double row = (SVG_H - PLOT_Y0 - 40.0) / nc;
    if (row > 18.0)
        row = 18.0;
    double font = row * 0.8 < 12.0 ? row * 0.8 : 12.0;
    for (int c = 0; c < nc; c++) {
        char colour[16], label[96];
        curve_colour(c, colour);
        double y = PLOT_Y0 + 8 + row * c;
        if (curves[c].kind == CURVE_TOTAL)
            snprintf(label, sizeof label, "total");
        else
            snprintf(label, sizeof label, "%s %s", curves[c].kind == CURVE_STYLE ? "style" : "content",
                     layer_name(curves[c].layer));
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"%s\"/>\n",
                  LEGEND_X, y, LEGEND_X + 24, y, colour, c == 0 ? "2.5" : "1.5");
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\">", LEGEND_X + 30,
                  y + font / 3, font);
        sb_escaped(b, label);
        sb_printf(b, "</text>\n");
    }
    double ny = PLOT_Y0 + 8 + row * nc + 10;
    sb_printf(b,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#666666\">style: beta w E; "
              "content: alpha c L</text>\n",
              LEGEND_X, ny);
}

stylize_status stylize_report_plot(const stylize_report *r, const stylize_run_config *cfg,
                                   const char *path, stylize_error *err)
{
    if (!r || !path)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "plot: nothing to write");

    curve curves[1 + 2 * STYLIZE_VGG19_NLAYERS];
    int nc = plot_curves(cfg, curves);
    double offset[REPORT_MAX_SCALES + 1];
    plot_axes a = {offset, scale_offsets(r, offset), 0, 1};
    decade_range(r, curves, nc, &a);

    sbuf b = {0};
    svg_begin(&b, cfg && !cfg->content ? "texture synthesis" : "style transfer");
    svg_y_axis(&b, &a);
    svg_x_axis(&b, r, &a);
    svg_frame(&b);
    for (int c = 0; c < nc; c++)
        svg_curve(&b, r, &curves[c], c, &a);
    svg_legend(&b, curves, nc);
    sb_printf(&b, "</svg>\n");

    stylize_status st;
    if (b.failed)
        st = stylize_error_set(err, STYLIZE_ERR_NOMEM, "%s: out of memory for the plot", path);
    else
        st = stylize_file_write_atomic(path, b.data, b.len, err);
    free(b.data);
    return st;
}

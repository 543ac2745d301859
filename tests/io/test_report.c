/* Tests of the run report and loss plot: the JSON document parsed back with
 * cJSON (top-level fields, settings, scales, history, per-layer values,
 * nulls for non-finite numbers, status strings), the fixed capacity (extra
 * entries ignored), argument and I/O errors, and the SVG (one <path> per
 * curve, legend, XML well-formedness checked with python3 when present). */
#include "stylize/io/report.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testutil.h"

static char tmp_path[1024];

static const char *tmp_file(const char *name)
{
    const char *dir = tu_tmpdir();
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        fprintf(stderr, "test_report: cannot create %s\n", dir);
    snprintf(tmp_path, sizeof tmp_path, "%s/test_report_%ld_%s", dir, (long)getpid(), name);
    return tmp_path;
}

/* Whole file as a string (caller frees), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static cJSON *parse_file(const char *path)
{
    char *text = slurp(path);
    if (!text)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static int count_substr(const char *s, const char *needle)
{
    int n = 0;
    size_t k = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + k, needle))
        n++;
    return n;
}

static cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = get(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int str_is(const cJSON *o, const char *key, const char *want)
{
    const cJSON *v = get(o, key);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

static int layer(const char *name)
{
    int i = stylize_vgg19_layer_index(name);
    if (i < 0) {
        fprintf(stderr, "test_report: unknown layer %s\n", name);
        exit(2);
    }
    return i;
}

/* 1: well formed, 0: not, -1: no python3 to ask. */
static int xml_well_formed(const char *path)
{
    const char *py = "/usr/bin/python3";
    if (access(py, X_OK) != 0)
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' '%s'", py,
             path);
    return system(cmd) == 0;
}

static stylize_image dummy_content; /* only its address matters: "style" mode */

static void base_config(stylize_run_config *cfg)
{
    stylize_run_defaults(cfg);
    cfg->content = &dummy_content;
    cfg->n_content = 1;
    cfg->content_layers[0] = (stylize_layer_weight){layer("relu4_2"), 1.0};
    cfg->n_style = 3;
    cfg->style_layers[0] = (stylize_layer_weight){layer("relu1_1"), 0.2};
    cfg->style_layers[1] = (stylize_layer_weight){layer("relu2_1"), 0.3};
    cfg->style_layers[2] = (stylize_layer_weight){layer("conv3_1"), 0.5};
    cfg->alpha = 2.0;
    cfg->beta = 1000.0;
    cfg->n_scales = 2;
    cfg->scales[0] = 128;
    cfg->scales[1] = 256;
    cfg->scale_iterations[0] = 20;
    cfg->iterations = 30;
    cfg->seed = 42;
    cfg->n_settings = 3;
    cfg->setting_keys[0] = "content_image";
    cfg->setting_values[0] = "a&b<c>\"d\".jpg";
    cfg->setting_keys[1] = "alpha"; /* collides: the config's number wins */
    cfg->setting_values[1] = "999";
    cfg->setting_keys[2] = "note";
    cfg->setting_values[2] = NULL;
}

static stylize_loss_breakdown breakdown(const stylize_run_config *cfg, double scale)
{
    stylize_loss_breakdown b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < cfg->n_style; i++)
        b.style_layer[cfg->style_layers[i].layer] = scale * (i + 1) * 1e-3;
    for (int i = 0; i < cfg->n_content; i++)
        b.content_layer[cfg->content_layers[i].layer] = scale * 50.0;
    b.content = scale;
    b.style = 2 * scale;
    b.tv = 0.5;
    b.total = b.content + b.style + b.tv;
    /* A layer not in the configuration: must not appear in the report. */
    b.style_layer[layer("relu5_1")] = 123.0;
    return b;
}

/* The report used by several tests: 2 scales, 7 entries offered to a
 * capacity of 6. */
static stylize_report *make_report(const stylize_run_config *cfg)
{
    stylize_report *r = NULL;
    stylize_error err;
    CHECK(stylize_report_create(&r, 6, 2, NULL, &err) == STYLIZE_OK);
    if (!r)
        exit(2);
    stylize_report_begin_scale(r, 0, 128, 96, 20);
    for (int it = 0; it <= 20; it += 10) {
        stylize_loss_breakdown b = breakdown(cfg, 1000.0 / (it + 1));
        stylize_report_add(r, 0, it, it + 1, 0.1 * it, b.total, &b);
    }
    stylize_report_end_scale(r, 0, 20, 23, 1003.5, 50.0, "max iterations");
    stylize_report_begin_scale(r, 1, 256, 192, 30);
    stylize_loss_breakdown b = breakdown(cfg, 10.0);
    stylize_report_add(r, 1, 0, 1, 3.0, b.total, &b);
    stylize_report_add(r, 1, 10, 12, 4.0, NAN, &b);      /* non-finite loss */
    stylize_report_add(r, 1, 20, 23, 5.0, 17.0, NULL);   /* no breakdown */
    stylize_report_add(r, 1, 30, 34, 6.0, 16.0, &b);     /* over capacity: ignored */
    stylize_report_end_scale(r, 1, 30, 34, 30.0, INFINITY, "interrupted");
    return r;
}

static void test_json(void)
{
    stylize_run_config cfg;
    base_config(&cfg);
    stylize_report *r = make_report(&cfg);
    stylize_run_result res = {60, 57, 6.5, 1003.5, INFINITY, STYLIZE_STOP_CALLBACK, 256, 192, 0, 0, 0, 1, 0.25, 0.875, STYLIZE_PRECISION_BF16};
    stylize_error err;
    const char *path = tmp_file("report.json");
    CHECK(stylize_report_write(r, &cfg, &res, STYLIZE_ERR_INTERRUPTED, path, &err) == STYLIZE_OK);
    cJSON *j = parse_file(path);
    CHECK(j != NULL);
    if (!j) {
        stylize_report_free(r);
        return;
    }
    CHECK(cJSON_IsString(get(j, "version")));
    CHECK(str_is(j, "status", "interrupted"));
    CHECK(num(j, "iterations") == 60);
    CHECK(num(j, "evaluations") == 57);
    CHECK_CLOSE(num(j, "seconds"), 6.5, 1e-12);
    CHECK_CLOSE(num(j, "loss_initial"), 1003.5, 1e-12);
    CHECK(cJSON_IsNull(get(j, "loss_final"))); /* Inf */
    CHECK(num(j, "width") == 256 && num(j, "height") == 192);
    const cJSON *ph = get(j, "photorealism");
    CHECK(num(ph, "matting_per_pixel") == 0.25 && num(ph, "edge_ssim") == 0.875);
    CHECK(str_is(j, "precision", "bf16")); /* as resolved */

    const cJSON *s = get(j, "settings");
    CHECK(cJSON_IsObject(s));
    CHECK(str_is(s, "mode", "style"));
    CHECK(num(s, "alpha") == 2.0);
    CHECK(num(s, "beta") == 1000.0);
    CHECK(str_is(s, "pool", "avg"));
    CHECK(str_is(s, "optimizer", "lbfgs"));
    CHECK(str_is(s, "init", "content"));
    CHECK(str_is(s, "precision", "auto")); /* as asked */
    CHECK(str_is(s, "preserve_colors", "none"));
    CHECK(num(s, "seed") == 42);
    CHECK(num(s, "iterations") == 30);
    CHECK(cJSON_IsFalse(get(s, "normalize_gradients")));
    CHECK(str_is(s, "content_image", "a&b<c>\"d\".jpg"));
    CHECK(cJSON_IsNull(get(s, "note")));
    int n_alpha = 0;
    for (const cJSON *c = s->child; c; c = c->next)
        n_alpha += strcmp(c->string, "alpha") == 0;
    CHECK(n_alpha == 1);
    const cJSON *sl = get(s, "style_layers");
    CHECK(cJSON_GetArraySize(sl) == 3);
    CHECK(str_is(cJSON_GetArrayItem(sl, 0), "layer", "relu1_1"));
    CHECK_CLOSE(num(cJSON_GetArrayItem(sl, 0), "weight"), 0.2, 1e-15);
    CHECK(str_is(cJSON_GetArrayItem(sl, 2), "layer", "conv3_1"));
    const cJSON *cl = get(s, "content_layers");
    CHECK(cJSON_GetArraySize(cl) == 1);
    CHECK(str_is(cJSON_GetArrayItem(cl, 0), "layer", "relu4_2"));
    const cJSON *ss = get(s, "scales");
    CHECK(cJSON_GetArraySize(ss) == 2);
    CHECK(num(cJSON_GetArrayItem(ss, 0), "iterations") == 20);
    CHECK(num(cJSON_GetArrayItem(ss, 1), "iterations") == 30);
    CHECK(num(cJSON_GetArrayItem(ss, 1), "size") == 256);

    const cJSON *scales = get(j, "scales");
    CHECK(cJSON_GetArraySize(scales) == 2);
    const cJSON *s0 = cJSON_GetArrayItem(scales, 0), *s1 = cJSON_GetArrayItem(scales, 1);
    CHECK(num(s0, "index") == 0 && num(s1, "index") == 1);
    CHECK(num(s0, "width") == 128 && num(s0, "height") == 96);
    CHECK(num(s0, "evaluations") == 23);
    CHECK(str_is(s0, "stop_reason", "max iterations"));
    CHECK(cJSON_IsNull(get(s1, "loss_final")));
    CHECK(cJSON_GetArraySize(get(s0, "history")) == 3);
    CHECK(cJSON_GetArraySize(get(s1, "history")) == 3);

    const cJSON *h = get(j, "history");
    CHECK(cJSON_GetArraySize(h) == 6); /* the 7th entry did not fit */
    const cJSON *e1 = cJSON_GetArrayItem(h, 1);
    stylize_loss_breakdown b1 = breakdown(&cfg, 1000.0 / 11);
    CHECK(num(e1, "scale") == 0 && num(e1, "iteration") == 10 && num(e1, "evaluations") == 11);
    CHECK_CLOSE(num(e1, "loss"), b1.total, 1e-12);
    CHECK_CLOSE(num(e1, "content_loss"), b1.content, 1e-12);
    CHECK_CLOSE(num(e1, "style_loss"), b1.style, 1e-12);
    CHECK_CLOSE(num(e1, "tv_loss"), 0.5, 1e-12);
    const cJSON *st = get(e1, "style"), *ct = get(e1, "content");
    CHECK(cJSON_GetArraySize(st) == 3);
    CHECK_CLOSE(num(st, "relu1_1"), b1.style_layer[layer("relu1_1")], 1e-12);
    CHECK_CLOSE(num(st, "relu2_1"), b1.style_layer[layer("relu2_1")], 1e-12);
    CHECK_CLOSE(num(st, "conv3_1"), b1.style_layer[layer("conv3_1")], 1e-12);
    CHECK(get(st, "relu5_1") == NULL);
    CHECK(cJSON_GetArraySize(ct) == 1);
    CHECK_CLOSE(num(ct, "relu4_2"), b1.content_layer[layer("relu4_2")], 1e-12);
    const cJSON *e4 = cJSON_GetArrayItem(h, 4), *e5 = cJSON_GetArrayItem(h, 5);
    CHECK(cJSON_IsNull(get(e4, "loss")));
    CHECK(num(e4, "scale") == 1 && num(e4, "iteration") == 10);
    CHECK(num(e5, "loss") == 17.0);
    CHECK(cJSON_IsNull(get(e5, "content_loss")));
    CHECK(cJSON_IsNull(get(get(e5, "style"), "relu1_1")));
    cJSON_Delete(j);

    /* Status strings. */
    const struct {
        stylize_status st;
        const char *want;
    } cases[] = {{STYLIZE_OK, "ok"},
                 {STYLIZE_ERR_NUMERIC, "numerical_error"},
                 {STYLIZE_ERR_IO, stylize_status_str(STYLIZE_ERR_IO)}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(stylize_report_write(r, &cfg, NULL, cases[i].st, path, &err) == STYLIZE_OK);
        j = parse_file(path);
        CHECK(j && str_is(j, "status", cases[i].want));
        cJSON_Delete(j);
    }

    /* Texture mode, duplicate layer, Adam, max pooling, preserved colours. */
    cfg.content = NULL;
    cfg.n_content = 0;
    cfg.style_layers[1].layer = layer("relu1_1");
    cfg.optimizer = STYLIZE_OPTIM_ADAM;
    cfg.pool = STYLIZE_POOL_MAX;
    cfg.preserve_colours = STYLIZE_COLOURS_HISTOGRAM;
    cfg.init = STYLIZE_INIT_NOISE;
    CHECK(stylize_report_write(r, &cfg, &res, STYLIZE_OK, path, &err) == STYLIZE_OK);
    j = parse_file(path);
    CHECK(j != NULL);
    if (j) {
        s = get(j, "settings");
        CHECK(str_is(s, "mode", "texture"));
        CHECK(str_is(s, "optimizer", "adam"));
        CHECK(str_is(s, "pool", "max"));
        CHECK(str_is(s, "preserve_colors", "histogram"));
        CHECK(str_is(s, "init", "noise"));
        const cJSON *st2 = get(cJSON_GetArrayItem(get(j, "history"), 0), "style");
        CHECK(cJSON_GetArraySize(st2) == 2);
        CHECK(cJSON_GetArraySize(get(cJSON_GetArrayItem(get(j, "history"), 0), "content")) == 0);
        cJSON_Delete(j);
    }
    unlink(path);

    /* An unwritable destination is an I/O error; nothing is left behind. */
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/no_such_dir_%ld/r.json", tu_tmpdir(), (long)getpid());
    CHECK(stylize_report_write(r, &cfg, &res, STYLIZE_OK, bad, &err) == STYLIZE_ERR_IO);
    CHECK(strlen(err.msg) > 0);
    CHECK(stylize_report_plot(r, &cfg, bad, &err) == STYLIZE_ERR_IO);
    stylize_report_free(r);
}

static void test_create_and_capacity(void)
{
    stylize_report *r = NULL;
    stylize_error err;
    CHECK(stylize_report_create(&r, -1, 1, NULL, &err) == STYLIZE_ERR_ARG && r == NULL);
    CHECK(stylize_report_create(&r, 10, 0, NULL, &err) == STYLIZE_ERR_ARG && r == NULL);
    stylize_report_free(NULL);

    /* Zero capacity: every add is ignored; out-of-range scales are ignored. */
    CHECK(stylize_report_create(&r, 0, 1, NULL, &err) == STYLIZE_OK);
    stylize_report_begin_scale(r, 0, 8, 8, 5);
    stylize_report_begin_scale(r, 3, 8, 8, 5);
    for (int i = 0; i < 100; i++)
        stylize_report_add(r, 0, i, i, 0.0, 1.0, NULL);
    stylize_report_add(r, -1, 0, 0, 0.0, 1.0, NULL);
    stylize_report_end_scale(r, 0, 5, 6, 2.0, 1.0, NULL);
    stylize_report_end_scale(r, 7, 5, 6, 2.0, 1.0, "x");
    stylize_run_config cfg;
    base_config(&cfg);
    const char *path = tmp_file("empty.json");
    CHECK(stylize_report_write(r, &cfg, NULL, STYLIZE_OK, path, &err) == STYLIZE_OK);
    cJSON *j = parse_file(path);
    CHECK(j != NULL);
    if (j) {
        CHECK(cJSON_GetArraySize(get(j, "history")) == 0);
        CHECK(cJSON_GetArraySize(get(j, "scales")) == 1);
        CHECK(str_is(cJSON_GetArrayItem(get(j, "scales"), 0), "stop_reason", ""));
        cJSON_Delete(j);
    }
    unlink(path);
    path = tmp_file("empty.svg");
    CHECK(stylize_report_plot(r, &cfg, path, &err) == STYLIZE_OK);
    char *svg = slurp(path);
    CHECK(svg && count_substr(svg, "<path") == 1 + 3 + 1);
    free(svg);
    CHECK(xml_well_formed(path) != 0);
    unlink(path);
    stylize_report_free(r);
}

static void test_plot(void)
{
    stylize_run_config cfg;
    base_config(&cfg);
    stylize_report *r = make_report(&cfg);
    stylize_error err;
    const char *path = tmp_file("plot.svg");
    CHECK(stylize_report_plot(r, &cfg, path, &err) == STYLIZE_OK);
    char *svg = slurp(path);
    CHECK(svg != NULL);
    if (svg) {
        CHECK_MSG(count_substr(svg, "<path") == 1 + 3 + 1, "%d paths", count_substr(svg, "<path"));
        CHECK(strstr(svg, "<title>") != NULL);
        CHECK(strstr(svg, ">total<") != NULL);
        CHECK(strstr(svg, ">style relu1_1<") != NULL);
        CHECK(strstr(svg, ">style conv3_1<") != NULL);
        CHECK(strstr(svg, ">content relu4_2<") != NULL);
        CHECK(strstr(svg, "stroke-dasharray") != NULL); /* the scale boundary */
        CHECK(strstr(svg, ">1e") != NULL);              /* decade labels */
        CHECK(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL);
        free(svg);
    }
    int wf = xml_well_formed(path);
    if (wf < 0)
        printf("python3 not found: XML well-formedness not checked\n");
    else
        CHECK(wf == 1);
    unlink(path);

    /* Every layer as a style layer, texture mode: 1 + 37 curves. */
    cfg.content = NULL;
    cfg.n_content = 0;
    cfg.n_style = STYLIZE_VGG19_NLAYERS;
    for (int i = 0; i < STYLIZE_VGG19_NLAYERS; i++)
        cfg.style_layers[i] = (stylize_layer_weight){i, 1.0 / (i + 1)};
    path = tmp_file("many.svg");
    CHECK(stylize_report_plot(r, &cfg, path, &err) == STYLIZE_OK);
    svg = slurp(path);
    CHECK(svg && count_substr(svg, "<path") == 1 + STYLIZE_VGG19_NLAYERS);
    free(svg);
    CHECK(xml_well_formed(path) != 0);
    unlink(path);
    stylize_report_free(r);
}

int main(void)
{
    test_create_and_capacity();
    test_json();
    test_plot();
    return TEST_SUMMARY();
}

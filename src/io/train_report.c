/* The training report and plot (stylize/io/train_report.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fileutil.h"
#include "gen/tnet_json.h"
#include "stylize/io/train_report.h"
#include "stylize/nn/precision.h"

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *history_json(const stylize_train_entry *h, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "step", (double)h[i].step);
        cJSON_AddItemToObject(e, "loss", num_or_null(h[i].loss));
        cJSON_AddItemToObject(e, "loss_avg", num_or_null(h[i].loss_avg));
        cJSON_AddItemToObject(e, "content_loss", num_or_null(h[i].content));
        cJSON_AddItemToObject(e, "style_loss", num_or_null(h[i].style));
        cJSON_AddItemToObject(e, "tv_loss", num_or_null(h[i].tv));
        cJSON_AddNumberToObject(e, "learning_rate", h[i].learning_rate);
        cJSON_AddNumberToObject(e, "seconds", h[i].seconds);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

stylize_status stylize_train_report_write(const char *path, const stylize_gen_arch *a,
                                          const stylize_tnet_meta *meta, const stylize_train_result *res,
                                          size_t memory_estimate, const char *status,
                                          const stylize_train_entry *h, int n, stylize_error *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "kind", "training");
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddItemToObject(o, "architecture", tnet_arch_json(a));
    cJSON_AddItemToObject(o, "training", tnet_training_json(meta));
    cJSON_AddItemToObject(o, "bf16_speed", num_or_null(stylize_precision_bf16_speed()));
    cJSON_AddItemToObject(o, "provenance", tnet_provenance_json(meta));
    cJSON_AddNumberToObject(o, "steps", (double)res->steps);
    cJSON_AddItemToObject(o, "loss_first", num_or_null(res->loss_first));
    cJSON_AddItemToObject(o, "loss_final", num_or_null(res->loss_final));
    cJSON_AddNumberToObject(o, "seconds", res->seconds);
    cJSON_AddNumberToObject(o, "skipped_files", (double)res->skipped);
    cJSON_AddNumberToObject(o, "memory_peak", (double)res->memory_peak);
    cJSON_AddNumberToObject(o, "memory_estimate", (double)memory_estimate);
    cJSON_AddItemToObject(o, "history", history_json(h, n));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "%s: out of memory for the report", path);
    stylize_status st = stylize_file_write_atomic(path, text, strlen(text), err);
    cJSON_free(text);
    return st;
}

/* ---- plot ------------------------------------------------------------------- */

#define PW 720
#define PH 420
#define ML 80
#define MR 20
#define MT 30
#define MB 50

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || b->len + (size_t)k + 1 > b->cap) {
        size_t cap = (b->cap + (size_t)(k > 0 ? k : 0) + 1) * 2;
        char *nb = realloc(b->buf, cap);
        if (!nb || k < 0) {
            b->failed = 1;
            return;
        }
        b->buf = nb, b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)k;
}

static void curve(sbuf *b, const stylize_train_entry *h, int n, int avg, double x0, double x1, double l0,
                  double l1, const char *colour)
{
    sb_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"", colour);
    int first = 1;
    for (int i = 0; i < n; i++) {
        double v = avg ? h[i].loss_avg : h[i].loss;
        if (!(v > 0) || !isfinite(v))
            continue;
        double px = ML + (PW - ML - MR) * ((double)h[i].step - x0) / (x1 > x0 ? x1 - x0 : 1);
        double py = MT + (PH - MT - MB) * (1 - (log10(v) - l0) / (l1 > l0 ? l1 - l0 : 1));
        sb_printf(b, "%s%.1f %.1f ", first ? "M" : "L", px, py);
        first = 0;
    }
    sb_printf(b, "\"/>\n");
}

stylize_status stylize_train_plot(const char *path, const stylize_train_entry *h, int n, stylize_error *err)
{
    double x0 = n ? (double)h[0].step : 0, x1 = n ? (double)h[n - 1].step : 1, lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (h[i].loss > 0 && isfinite(h[i].loss))
            lo = fmin(lo, h[i].loss), hi = fmax(hi, h[i].loss);
    double l0 = isfinite(lo) ? floor(log10(lo)) : 0, l1 = isfinite(hi) ? ceil(log10(hi)) : 1;
    l1 = l1 > l0 ? l1 : l0 + 1;
    sbuf b = {NULL, 0, 0, 0};
    sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", PW, PH);
    sb_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", PW, PH);
    sb_printf(&b, "<path stroke=\"black\" fill=\"none\" d=\"M%d %d L%d %d L%d %d\"/>\n", ML, MT, ML, PH - MB, PW - MR, PH - MB);
    for (double d = l0; d <= l1 + 1e-9; d += 1) {
        double py = MT + (PH - MT - MB) * (1 - (d - l0) / (l1 - l0));
        sb_printf(&b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", ML - 6, py + 4, (int)d);
    }
    sb_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"start\">%.0f</text>\n", ML, PH - MB + 18, x0);
    sb_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.0f</text>\n", PW - MR, PH - MB + 18, x1);
    sb_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n", (ML + PW - MR) / 2, PH - 12);
    curve(&b, h, n, 0, x0, x1, l0, l1, "#c0c0c0");
    curve(&b, h, n, 1, x0, x1, l0, l1, "#1f5fbf");
    sb_printf(&b, "<text x=\"%d\" y=\"%d\" fill=\"#808080\">loss</text>\n", PW - 160, MT + 12);
    sb_printf(&b, "<text x=\"%d\" y=\"%d\" fill=\"#1f5fbf\">mean of the last 50 steps</text>\n", PW - 160, MT + 28);
    sb_printf(&b, "</svg>\n");
    if (b.failed) {
        free(b.buf);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "%s: out of memory for the plot", path);
    }
    stylize_status st = stylize_file_write_atomic(path, b.buf, b.len, err);
    free(b.buf);
    return st;
}

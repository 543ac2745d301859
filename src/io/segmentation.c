/* Colour-coded segmentation images (stylize/io/segmentation.h). */
#include <math.h>

#include "stylize/io/segmentation.h"

static const struct {
    const char *name;
    float rgb[3];
} labels[STYLIZE_SEG_LABELS] = {
    {"blue", {0, 0, 1}},   {"green", {0, 1, 0}},      {"black", {0, 0, 0}},
    {"white", {1, 1, 1}},  {"red", {1, 0, 0}},        {"yellow", {1, 1, 0}},
    {"grey", {0.5f, 0.5f, 0.5f}}, {"lightblue", {0, 1, 1}}, {"purple", {1, 0, 1}},
};

const char *stylize_seg_label_name(int label)
{
    return label >= 0 && label < STYLIZE_SEG_LABELS ? labels[label].name : "?";
}

/* The label of pixel i (-1: none); the colours are further apart than twice the tolerance. */
static int pixel_label(const stylize_image *seg, size_t i)
{
    size_t n = (size_t)seg->width * seg->height;
    for (int k = 0; k < STYLIZE_SEG_LABELS; k++) {
        int ok = 1;
        for (int c = 0; c < 3 && ok; c++)
            ok = fabsf(seg->data[c * n + i] - labels[k].rgb[c]) < (float)STYLIZE_SEG_TOLERANCE;
        if (ok)
            return k;
    }
    return -1;
}

size_t stylize_seg_count(const stylize_image *seg, size_t counts[STYLIZE_SEG_LABELS])
{
    size_t n = (size_t)seg->width * seg->height, none = 0;
    for (int k = 0; k < STYLIZE_SEG_LABELS; k++)
        counts[k] = 0;
    for (size_t i = 0; i < n; i++) {
        int k = pixel_label(seg, i);
        if (k < 0)
            none++;
        else
            counts[k]++;
    }
    return none;
}

stylize_status stylize_seg_mask(const stylize_image *seg, int label, stylize_image *mask, stylize_error *err)
{
    stylize_status st = stylize_image_alloc(mask, seg->width, seg->height, err);
    if (st != STYLIZE_OK)
        return st;
    size_t n = (size_t)seg->width * seg->height;
    for (size_t i = 0; i < n; i++) {
        float v = pixel_label(seg, i) == label ? 1.0f : 0.0f;
        mask->data[i] = mask->data[n + i] = mask->data[2 * n + i] = v;
    }
    return STYLIZE_OK;
}

/* Spatial tiling of the objective: horizontal strips of the image, each run
 * with enough halo rows that every loss layer's rows it owns are exact. */
#include <string.h>

#include "style/objective_internal.h"

int obj_spec_depth(const stylize_objective_spec *s)
{
    int d = -1;
    for (int i = 0; i < s->n_content; i++)
        if (s->content[i].layer > d)
            d = s->content[i].layer;
    for (int i = 0; i < s->n_style; i++)
        if (s->style[i].layer > d)
            d = s->style[i].layer;
    return d;
}

void obj_spec_keep(const stylize_objective_spec *s, unsigned char *keep)
{
    memset(keep, 0, NL);
    for (int i = 0; i < s->n_content; i++)
        keep[s->content[i].layer] = 1;
    for (int i = 0; i < s->n_style; i++)
        keep[s->style[i].layer] = 1;
}

void obj_strip_rows(int H, int tile, int halo, int t, int *a, int *b, int *L, int *R)
{
    if (tile <= 0) {
        *a = *L = 0;
        *b = *R = H;
        return;
    }
    *a = t * tile;
    *b = *a + tile < H ? *a + tile : H;
    *L = *a - halo > 0 ? *a - halo : 0;
    *R = *b + halo < H ? *b + halo : H;
}

int obj_strip_count(int H, int tile)
{
    return tile > 0 ? (H + tile - 1) / tile : 1;
}

/* Rows of halo for strips whose starts are multiples of align: at a strip's
 * inner edge each convolution spoils one more row (its zero padding stands
 * in for rows of the neighbour) and each pooling halves the spoiled rows,
 * rounding up; every kept layer's owned rows must stay clear of them. */
static int strip_halo(int depth, int align, const unsigned char *keep)
{
    for (int halo = align;; halo += align) {
        int bad = 0, k = 0, ok = 1;
        for (int i = 0; i <= depth && ok; i++) {
            switch (stylize_vgg19_layer_kind(i)) {
            case STYLIZE_LAYER_CONV: bad++; break;
            case STYLIZE_LAYER_RELU: break;
            case STYLIZE_LAYER_POOL: bad = (bad + 1) / 2, k++; break;
            }
            if (keep[i] && bad > (halo >> k))
                ok = 0;
        }
        if (ok)
            return halo;
    }
}

void obj_spec_tiling(const stylize_objective_spec *s, int depth, const unsigned char *keep,
                     int *tile, int *halo, int *strip_max)
{
    int pools = 0;
    for (int i = 0; i <= depth; i++)
        pools += stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_POOL;
    int align = 1 << pools; /* strip starts line up with every pooled grid */
    *tile = 0;
    *halo = 0;
    *strip_max = s->height;
    if (s->tile_rows <= 0)
        return;
    int t = (s->tile_rows + align - 1) / align * align;
    if (t >= s->height)
        return; /* one strip: the whole image */
    *tile = t;
    *halo = strip_halo(depth, align, keep);
    *strip_max = t + 2 * *halo < s->height ? t + 2 * *halo : s->height;
}

/* Sets the current strip to rows [a, b) of x, run on rows from L. */
static void set_strip(stylize_objective *obj, int a, int b, int L)
{
    for (int i = 0; i <= obj->depth; i++) {
        int k = obj->level[i];
        obj->row0[i] = L >> k;
        obj->own_lo[i] = (a >> k) - obj->row0[i];
        obj->own_hi[i] = (b >> k) - obj->row0[i];
    }
}

void obj_strip_forward(stylize_objective *obj, stylize_net *net, const float *x, int W, int H,
                       int t, float *xs, int layer)
{
    int a, b, L, R;
    obj_strip_rows(H, obj->tile, obj->halo, t, &a, &b, &L, &R);
    set_strip(obj, a, b, L);
    if (L == 0 && R == H && stylize_net_set_height(net, H, NULL) == STYLIZE_OK) {
        stylize_net_forward_to(net, x, layer);
        return;
    }
    size_t plane = (size_t)(R - L) * W;
    for (int ch = 0; ch < 3; ch++)
        memcpy(xs + ch * plane, x + ((size_t)ch * H + L) * W, plane * sizeof(float));
    stylize_net_set_height(net, R - L, NULL); /* R - L <= the network's height */
    stylize_net_forward_to(net, xs, layer);
}

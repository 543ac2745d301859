/* Internal: the objective's state (stylize/style/objective.h), shared by
 * objective.c (create, evaluation, gradients), targets.c (content and style
 * targets, masks) and strips.c (spatial tiling). */
#ifndef STYLIZE_OBJECTIVE_INTERNAL_H
#define STYLIZE_OBJECTIVE_INTERNAL_H

#include "stylize/style/matting.h"
#include "stylize/style/objective.h"

#define NL STYLIZE_VGG19_NLAYERS
#define NR STYLIZE_MAX_REGIONS

struct stylize_objective {
    const stylize_weights *weights; /* borrowed */
    stylize_objective_spec spec;
    stylize_mem *mem;                /* borrowed: every buffer below comes from it */
    int dry;                         /* mem is a dry plan: nothing is computed */
    int nreg;                        /* regions: spec.n_regions, or 1 without masks */
    unsigned char keep[NL];
    int depth;
    stylize_net *net;                /* at (3, strip_max, width) */
    unsigned char *block;            /* one allocation for the buffers below */
    size_t block_bytes;
    float *P[NL];                    /* content target per content entry: (C, H, W) */
    float *A[NL][NR];                /* style target per style entry and region: (N, N) */
    float *G[NL][NR];                /* Gram of x per style entry and region: (N, N) */
    float *mask[NL][NR];             /* per style entry and region: (M) at that layer, or NULL */
    double area[NL][NR];             /* sum of mask[i][r] (M without masks) */
    double content_norm[NL];         /* per content entry */
    double style_norm[NL][NR];       /* per style entry and region */
    double last_area_s[NL];          /* per style entry: area behind the last style Grams */
    int has_content, n_styles_added;
    float *D;        /* (Nmax, Nmax) scratch for the style gradient */
    float *fm;       /* (max style-layer size of a strip) masked features, masks only */
    float *fm2;      /* (same) (G - A) (F o m), masks only */
    float *scratch;  /* (max loss-layer size) for normalise_gradients, else NULL */
    /* spatial tiling (spec.tile_rows): strips of tile rows of x, each run
     * with halo rows above and below */
    int tile;        /* rows per strip, a multiple of 2^(pools up to depth); 0: no tiling */
    int halo;        /* a multiple of the same */
    int nstrips;     /* strips of x (1 without tiling) */
    int strip_max;   /* height of x's network */
    int level[NL];   /* pools at or before layer i */
    int chans[NL], rows[NL], cols[NL]; /* shape of layer i for the whole x */
    float *xs, *gs;  /* (3, strip_max, width): a strip of x and its gradient, tiling only */
    /* the current strip, per layer: global row of its first row, and the
     * rows [own_lo, own_hi) of its output that it owns */
    int row0[NL], own_lo[NL], own_hi[NL];
    stylize_matting *matting;        /* photorealism only: M_I of the content */
    double pix_a[3], pix_b[3];       /* pixel = a_c x_c + b_c per channel of x */
    stylize_loss_breakdown last;
};

/* ---- strips.c ---- */

/* The deepest loss layer of a spec, or -1. */
int obj_spec_depth(const stylize_objective_spec *s);
/* keep[i] = 1 for the layers the losses read (lean networks). */
void obj_spec_keep(const stylize_objective_spec *s, unsigned char *keep);
/* Tiling geometry of a spec: tile rows (0: none), halo, strip height. */
void obj_spec_tiling(const stylize_objective_spec *s, int depth, const unsigned char *keep,
                     int *tile, int *halo, int *strip_max);
/* Rows [*a, *b) of an image of H rows owned by strip t, and the rows
 * [*L, *R) it runs on (with the halo, clipped to the image). */
void obj_strip_rows(int H, int tile, int halo, int t, int *a, int *b, int *L, int *R);
int obj_strip_count(int H, int tile);
/* Runs net to layer (its depth or more: all of it; a backward needs all)
 * on strip t of x (3, H, W) (all of x without tiling), with xs (3, net
 * height, W) for the copy of the strip, and makes it current. */
void obj_strip_forward(stylize_objective *obj, stylize_net *net, const float *x, int W, int H,
                       int t, float *xs, int layer);

/* ---- targets.c ---- */

/* Recomputes the per-layer normalisations (random-feature mode). */
void obj_update_norms(stylize_objective *obj);
/* fm (N, m) = F o mk over m positions of F (rows ld floats apart). */
void obj_apply_mask(float *fm, const float *F, size_t ld, const float *mk, int N, int m);
/* G (c, c) = (first) or += the Gram matrix of the current strip's own rows
 * of layer l (strip output F (c, h, w)), masked by mask (the layer's
 * whole-image mask, or NULL) through fm (c, m). */
void obj_strip_gram(const stylize_objective *obj, float *G, const float *F, int l, int c, int h,
                    int w, const float *mask, float *fm, int first);

#endif

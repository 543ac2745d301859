/* 3x3, stride 1 convolutions with reflect, replicate or circular padding
 * through the Winograd path. The forward is the Winograd call itself, its
 * input transform reading the mode's pixels at the border. The input
 * gradient works on buffers one pixel larger on every side: it is
 * the forward's adjoint (the output gradient embedded in zeros, the
 * zero-padded Winograd input gradient over the larger buffer, its border
 * folded back onto the pixels the padding copied). The weight gradient
 * (conv_winograd.c) reads the padding as the forward does. */
#include <string.h>

#include "nn/conv_internal.h"

size_t stylize_conv_padded_floats(stylize_conv_algo algo, int cin, int cout, int h, int w)
{
    size_t big = (size_t)(h + 2) * (size_t)(w + 2);
    return ((size_t)cin + (size_t)cout) * big +
           stylize_conv_winograd_floats(algo, cin, cout, h + 2, w + 2);
}

typedef struct {
    float *big;          /* (c, h + 2, w + 2) */
    float *small;        /* (c, h, w) */
    const float *csmall; /* (c, h, w) */
    const float *cbig;
    int h, w;
    stylize_pad_mode mode;
} pad_job;

/* small[c] = the interior of big[c]. */
static void crop_task(void *arg, int c)
{
    const pad_job *j = arg;
    int W = j->w + 2;
    const float *b = j->cbig + (size_t)c * (j->h + 2) * W;
    float *s = j->small + (size_t)c * j->h * j->w;
    for (int y = 0; y < j->h; y++)
        memcpy(s + (size_t)y * j->w, b + (size_t)(y + 1) * W + 1, (size_t)j->w * sizeof(float));
}

/* big[c] = small[c] embedded in zeros. */
static void embed_task(void *arg, int c)
{
    const pad_job *j = arg;
    int H = j->h + 2, W = j->w + 2;
    const float *s = j->csmall + (size_t)c * j->h * j->w;
    float *b = j->big + (size_t)c * H * W;
    memset(b, 0, (size_t)W * sizeof(float));
    memset(b + (size_t)(H - 1) * W, 0, (size_t)W * sizeof(float));
    for (int y = 0; y < j->h; y++) {
        float *d = b + (size_t)(y + 1) * W;
        d[0] = d[W - 1] = 0.0f;
        memcpy(d + 1, s + (size_t)y * j->w, (size_t)j->w * sizeof(float));
    }
}

/* small[c] = the adjoint of pad_task: the interior of big[c], plus each
 * border pixel added onto the pixel it was read from. */
static void fold_task(void *arg, int c)
{
    const pad_job *j = arg;
    int H = j->h + 2, W = j->w + 2;
    crop_task(arg, c);
    const float *b = j->cbig + (size_t)c * H * W;
    float *s = j->small + (size_t)c * j->h * j->w;
    for (int y = 0; y < H; y++) {
        int sy = stylize_conv_pad_index(y - 1, j->h, j->mode);
        float *row = s + (size_t)sy * j->w;
        const float *src = b + (size_t)y * W;
        if (y == 0 || y == H - 1)
            for (int x = 1; x < W - 1; x++)
                row[x - 1] += src[x];
        row[stylize_conv_pad_index(-1, j->w, j->mode)] += src[0];
        row[stylize_conv_pad_index(j->w, j->w, j->mode)] += src[W - 1];
    }
}

void stylize_conv_padded_forward(const stylize_conv_geom *g, const void *kern, const float *bias,
                                 stylize_conv_algo algo, stylize_wino_pass pass, float *out,
                                 const float *in, int h, int w, float *ws)
{
    /* the input transform reads the padding itself: no copies */
    stylize_conv_winograd(out, in, kern, bias, algo, pass, g->pad, g->cin, g->cout, h, w, ws);
}

void stylize_conv_padded_backward(const stylize_conv_geom *g, const void *kern,
                                  stylize_conv_algo algo, float *gin, const float *gout, int h,
                                  int w, float *ws)
{
    size_t big = (size_t)(h + 2) * (size_t)(w + 2);
    float *E = ws, *D = ws + (size_t)g->cout * big, *rest = D + (size_t)g->cin * big;
    pad_job j = {E, gin, gout, D, h, w, g->pad};
    stylize_parallel_run(g->cout, embed_task, &j);
    stylize_conv_winograd(D, E, kern, NULL, algo, STYLIZE_WINO_BACKWARD, STYLIZE_PAD_ZERO, g->cout,
                          g->cin, h + 2, w + 2, rest);
    stylize_parallel_run(g->cin, fold_task, &j);
}


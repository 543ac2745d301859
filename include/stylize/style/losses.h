/* stylize: the losses of Gatys, Ecker and Bethge (2015), as building blocks.
 *
 * For a layer with N filters of M positions, F is the (N, M) feature map:
 *   content:  L = 1/2 sum (F - P)^2,             dL/dF = F - P
 *   Gram:     G = F F^T  (N, N)
 *   style:    E = 1/(4 N^2 M^2) sum (G - A)^2,   dE/dF = 1/(N^2 M^2) (G - A) F
 *   total variation of an image x (C, H, W):
 *             TV = sum (x[c,i,j+1] - x[c,i,j])^2 + sum (x[c,i+1,j] - x[c,i,j])^2
 * Values are accumulated in double. Gradients are accumulated (+=) into the
 * caller's buffer, multiplied by scale. */
#ifndef STYLIZE_LOSSES_H
#define STYLIZE_LOSSES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 1/2 sum (F - P)^2 over n values; if grad != NULL, grad += scale (F - P). */
double stylize_content_loss(const float *F, const float *P, size_t n, float *grad, float scale);

/* G (N, N) = F F^T for F (N, M). */
void stylize_gram(float *G, const float *F, int N, int M);

/* G (N, N) = F F^T (accumulate = 0) or G += F F^T (accumulate = 1), for F
 * (N, M) whose rows start ld >= M floats apart: the columns of F may be some
 * of a larger matrix's, e.g. the rows of a spatial tile of a (N, h, w)
 * feature map (Gram matrices are sums over positions). */
void stylize_gram_strided(float *G, const float *F, int N, int M, size_t ld, int accumulate);

/* Returns 1/(4 N^2 M^2) sum (G - A)^2 for G, A (N, N). */
double stylize_style_loss(const float *G, const float *A, int N, int M);

/* grad (N, M) += scale / (N^2 M^2) (G - A) F. D is (N, N) scratch. */
void stylize_style_grad(float *grad, const float *F, const float *G, const float *A, int N, int M,
                        float scale, float *D);

/* The same for m columns of F and grad (rows ld floats apart), with M the
 * layer's total positions: grad (N, m) += scale / (N^2 M^2) (G - A) F. */
void stylize_style_grad_strided(float *grad, const float *F, size_t ld, int N, int m, double M,
                                const float *G, const float *A, float scale, float *D);

/* Returns TV of x (C, H, W) as above; if grad != NULL, grad += scale dTV/dx. */
double stylize_tv_loss(const float *x, int C, int H, int W, float *grad, float scale);

#ifdef __cplusplus
}
#endif
#endif

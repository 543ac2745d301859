/* Internal: the inverse of a symmetric 3x3 matrix stored as its upper
 * triangle (xx xy xz yy yz zz), by cofactors, in double. Shared by the
 * Matting Laplacian's windows and the guided filter. */
#ifndef STYLIZE_SYM3_H
#define STYLIZE_SYM3_H

static inline void sym3_inverse(const double s[6], double a[6])
{
    double c00 = s[3] * s[5] - s[4] * s[4], c01 = s[2] * s[4] - s[1] * s[5], c02 = s[1] * s[4] - s[2] * s[3];
    double c11 = s[0] * s[5] - s[2] * s[2], c12 = s[1] * s[2] - s[0] * s[4], c22 = s[0] * s[3] - s[1] * s[1];
    double det = s[0] * c00 + s[1] * c01 + s[2] * c02, r = 1.0 / det;
    a[0] = c00 * r, a[1] = c01 * r, a[2] = c02 * r, a[3] = c11 * r, a[4] = c12 * r, a[5] = c22 * r;
}

#endif

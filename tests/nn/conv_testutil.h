/* Helpers shared by the convolution tests (test_conv.c, test_conv_general.c):
 * checked allocation, and workspaces filled with NaN and followed by guard
 * sentinels, so that a kernel that reads a float before writing it, or
 * writes past its workspace, is caught. */
#ifndef STYLIZE_CONV_TESTUTIL_H
#define STYLIZE_CONV_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/nn/activation.h"
#include "stylize/nn/conv.h"

#define GUARD 64            /* sentinel floats after each workspace */
#define SENTINEL 12345.678f /* value the guard must still hold afterwards */

static inline void *tc_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "conv test: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

static inline float *tc_floats(size_t n)
{
    return tc_alloc(n * sizeof(float));
}

static inline void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* Workspace of n floats (NaN: reading a float before writing it poisons the
 * result) followed by GUARD sentinels. */
static inline float *ws_alloc(size_t n)
{
    float *ws = tc_floats(n + GUARD);
    fill_nan(ws, n);
    for (size_t i = 0; i < GUARD; i++)
        ws[n + i] = SENTINEL;
    return ws;
}

static inline int ws_guard_intact(const float *ws, size_t n)
{
    for (size_t i = 0; i < GUARD; i++)
        if (ws[n + i] != SENTINEL)
            return 0;
    return 1;
}

/* The fused forward against the plain one: stylize_conv_forward_relu of in
 * must equal stylize_relu_forward(out) bit for bit, out (nout floats) being
 * the plain forward's output of the same call. 0: equal; 1: they differ;
 * 2: out has no negative value, so the check would prove nothing; 3: out
 * of memory. ws as for the forward (its guard is the caller's to check). */
static inline int fused_relu_differs(const stylize_conv *conv, const float *in, int h, int w,
                                     const float *out, size_t nout, float *ws)
{
    size_t neg = 0;
    for (size_t i = 0; i < nout; i++)
        neg += out[i] < 0.0f;
    if (neg == 0)
        return 2;
    float *want = malloc(nout * sizeof(float)), *got = malloc(nout * sizeof(float));
    int r = 3;
    if (want && got) {
        stylize_relu_forward(want, out, nout);
        fill_nan(got, nout);
        stylize_conv_forward_relu(conv, got, in, h, w, ws);
        r = memcmp(want, got, nout * sizeof(float)) != 0;
    }
    free(want);
    free(got);
    return r;
}

#endif

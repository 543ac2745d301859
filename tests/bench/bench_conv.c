/* Benchmark of the convolution engine: one VGG-19 forward + backward up to
 * relu5_1 (full width, random He-normal weights) per image size and
 * convolution algorithm, plus a large sgemm as the machine's reference.
 *
 *   bench_conv [-s SIZE]... [-r REPS] [-t THREADS] [-a ALGO]... [-q] [-l] [-c]
 *   bench_conv -g CIN,COUT,PAD[,BATCH] [-s SIZE]... [-r REPS] [-t THREADS] [-a ALGO]... [-c]
 *   bench_conv -H
 *
 * SIZE: square image side (default 256 and 512); REPS: timed evaluations,
 * the median is reported (default 5); ALGO: im2col, winograd, winograd2,
 * winograd-bf16 or winograd2-bf16 (stylize_conv_algo_name; default im2col and winograd); -q: skip the reference sgemm; -H: print
 * the OPENBLAS_CORETYPE value this CPU should use, if OpenBLAS picked a
 * slower kernel (stylize_blas_coretype_hint), and exit; -l: also time each
 * convolution layer alone (forward and backward, median), which separates
 * the convolutions from the ReLU and pooling layers; -c: measure CPU time of
 * the whole process instead of wall-clock time (all threads summed: on a
 * busy machine, with -t 1, the single-thread cost free of scheduling
 * noise). One line per
 * (size, algo): median seconds per evaluation (forward and backward
 * separately and together) and GFLOP/s counting 2 * 9 * cin * cout * h * w
 * per convolution, twice for forward + backward. Every algorithm after the
 * first is also compared with the first: RMS of the difference relative to
 * the RMS of the first's relu5_1 features and input gradient. Output is
 * plain text; lines starting with '#' are context.
 *
 * -g: instead, one 3x3, stride 1 layer CIN -> COUT with padding PAD (zero,
 * reflect, replicate or circular) over BATCH images (default 4) per size
 * and algorithm, as a generator's training step runs it: median seconds
 * of the batch's forward (with the ReLU), input gradient and weight
 * gradient, and the workspace. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "bench_util.h"
#include "stylize/core/rng.h"
#include "stylize/nn/conv.h"
#include "stylize/vgg/network.h"
#include "stylize/core/threads.h"
#include "stylize/vgg/weights.h"

#define MAX_SIZES 8
#define MAX_ALGOS 5
#define MAX_REPS 101

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Uniform in [0, 1) from the library's one RNG (splitmix64). */
static float uniform(uint64_t *s)
{
    return (float)((stylize_splitmix64(s) >> 40) * (1.0 / 16777216.0));
}

/* dL/d(output of the deepest layer) = 1: L = sum of relu5_1. */
static void inject_ones(void *user, int layer, const float *act, float *grad, int c, int h, int w)
{
    (void)act;
    if (layer != *(const int *)user)
        return;
    size_t n = (size_t)c * (size_t)h * (size_t)w;
    for (size_t i = 0; i < n; i++)
        grad[i] += 1.0f;
}

/* Forward GFLOP of the convolutions in layers 0..depth at size x size. */
static double conv_gflop(const stylize_weights *w, int depth, int size)
{
    double total = 0;
    int hw = size, conv = 0;
    for (int i = 0; i <= depth; i++) {
        switch (stylize_vgg19_layer_kind(i)) {
        case STYLIZE_LAYER_CONV: {
            const stylize_conv_layer *l = &w->layers[conv++];
            total += 2.0 * 9 * l->in_ch * l->out_ch * (double)hw * hw;
            break;
        }
        case STYLIZE_LAYER_POOL: hw /= 2; break;
        case STYLIZE_LAYER_RELU: break;
        }
    }
    return total * 1e-9;
}

/* sqrt(sum (a - b)^2 / sum b^2) */
static double rms_rel(const float *a, const float *b, size_t n)
{
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        e += d * d;
        r += (double)b[i] * (double)b[i];
    }
    return r > 0 ? sqrt(e / r) : sqrt(e);
}

static double sgemm_gflops(int reps)
{
    const int m = 512, k = 4608, n = 4096;
    float *a = malloc((size_t)m * k * sizeof(float));
    float *b = malloc((size_t)k * n * sizeof(float));
    float *c = malloc((size_t)m * n * sizeof(float));
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    uint64_t s = 7;
    for (size_t i = 0; i < (size_t)m * k; i++)
        a[i] = uniform(&s) - 0.5f;
    for (size_t i = 0; i < (size_t)k * n; i++)
        b[i] = uniform(&s) - 0.5f;
    double t[MAX_REPS];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c,
                    n);
        t[r] = now() - t0;
    }
    free(a), free(b), free(c);
    return 2.0 * m * k * n * 1e-9 / bench_median(t, reps);
}

static double rel_time_conv(stylize_conv *c, float *out, const float *in, int h, int w, float *ws,
                            int backward)
{
    double t0 = now();
    if (backward)
        stylize_conv_backward(c, out, in, h, w, ws);
    else
        stylize_conv_forward(c, out, in, h, w, ws);
    return now() - t0;
}

/* Times every conv layer of the network up to depth alone at size x size:
 * median forward and backward seconds; prints one line per layer and the
 * total. Returns 0, or 1 when out of memory. */
static int bench_layers(const stylize_weights *w, int depth, int size, stylize_conv_algo algo,
                        int reps, const char *name)
{
    int hw = size, conv = 0;
    double tot_f = 0, tot_b = 0;
    for (int i = 0; i <= depth; i++) {
        if (stylize_vgg19_layer_kind(i) == STYLIZE_LAYER_POOL)
            hw /= 2;
        if (stylize_vgg19_layer_kind(i) != STYLIZE_LAYER_CONV)
            continue;
        const stylize_conv_layer *l = &w->layers[conv++];
        stylize_conv *c = NULL;
        stylize_conv_set_default_algo(algo);
        if (stylize_conv_create(&c, l->weight, l->bias, l->in_ch, l->out_ch, NULL) != STYLIZE_OK)
            return 1;
        size_t nin = (size_t)l->in_ch * hw * hw, nout = (size_t)l->out_ch * hw * hw;
        size_t nws = stylize_conv_workspace_floats(c, hw, hw);
        float *x = malloc(nin * sizeof(float)), *y = malloc(nout * sizeof(float));
        float *ws = malloc((nws ? nws : 1) * sizeof(float));
        if (!x || !y || !ws) {
            free(x), free(y), free(ws);
            stylize_conv_free(c);
            return 1;
        }
        uint64_t s = 5;
        for (size_t k = 0; k < nin; k++)
            x[k] = uniform(&s);
        double tf[MAX_REPS], tb[MAX_REPS];
        rel_time_conv(c, y, x, hw, hw, ws, 0);
        for (int r = 0; r < reps; r++) {
            tf[r] = rel_time_conv(c, y, x, hw, hw, ws, 0);
            tb[r] = rel_time_conv(c, x, y, hw, hw, ws, 1);
        }
        double mf = bench_median(tf, reps), mb = bench_median(tb, reps);
        double gf = 2.0 * 9 * l->in_ch * l->out_ch * (double)hw * hw * 1e-9;
        printf("  %-6d %-10s %-8s %4d->%-4d %4d  fwd %8.4f s  bwd %8.4f s  %7.1f GFLOP/s\n", size,
               name, l->name, l->in_ch, l->out_ch, hw, mf, mb, 2 * gf / (mf + mb));
        tot_f += mf;
        tot_b += mb;
        free(x), free(y), free(ws);
        stylize_conv_free(c);
    }
    printf("  %-6d %-10s all convs                fwd %8.4f s  bwd %8.4f s  sum %.3f s\n", size,
           name, tot_f, tot_b, tot_f + tot_b);
    fflush(stdout);
    return 0;
}

/* One 3x3, stride 1 layer of geometry g at size x size over a batch of
 * images, alone: median seconds of the batch's forward (with the ReLU),
 * input gradient and weight gradient; one line. Returns 0, or 1 when a
 * buffer cannot be had. */
static int bench_shape(const stylize_conv_geom *g, int batch, int size, stylize_conv_algo algo, int reps,
                       const char *pad)
{
    size_t plane = (size_t)size * size, nin = (size_t)g->cin * plane * batch, nout = (size_t)g->cout * plane * batch;
    size_t nw = (size_t)g->cin * g->cout * 9;
    float *wt = malloc(nw * sizeof(float)), *gw = calloc(nw, sizeof(float)), *b = calloc(g->cout, sizeof(float));
    float *gb = calloc(g->cout, sizeof(float)), *x = malloc(nin * sizeof(float)), *gx = malloc(nin * sizeof(float));
    float *y = malloc(nout * sizeof(float));
    stylize_conv *c = NULL;
    int bad = !wt || !gw || !b || !gb || !x || !gx || !y;
    uint64_t s = 9;
    for (size_t k = 0; !bad && k < nw; k++)
        wt[k] = uniform(&s) - 0.5f;
    for (size_t k = 0; !bad && k < nin; k++)
        x[k] = uniform(&s);
    bad = bad || stylize_conv_create_ex(&c, g, wt, b, algo, NULL, NULL) != STYLIZE_OK;
    size_t nws = bad ? 0 : stylize_conv_workspace_floats_ex(c, size, size, 1);
    float *ws = bad ? NULL : malloc((nws ? nws : 1) * sizeof(float));
    if (!bad && ws) {
        double t[3][MAX_REPS];
        for (int r = -1; r < reps; r++) { /* r = -1: the warm-up */
            double t0 = now();
            for (int i = 0; i < batch; i++)
                stylize_conv_forward_relu(c, y + (size_t)i * g->cout * plane, x + (size_t)i * g->cin * plane, size, size, ws);
            double t1 = now();
            for (int i = 0; i < batch; i++)
                stylize_conv_backward(c, gx + (size_t)i * g->cin * plane, y + (size_t)i * g->cout * plane, size, size, ws);
            double t2 = now();
            for (int i = 0; i < batch; i++)
                stylize_conv_backward_weights(c, gw, gb, x + (size_t)i * g->cin * plane, y + (size_t)i * g->cout * plane,
                                              size, size, ws);
            double t3 = now();
            if (r >= 0)
                t[0][r] = t1 - t0, t[1][r] = t2 - t1, t[2][r] = t3 - t2;
        }
        printf("  %-6d %-10s %4d->%-4d %-9s x%d  fwd %8.4f s  gin %8.4f s  gw %8.4f s  workspace %.1f MB\n", size,
               stylize_conv_algo_name(stylize_conv_get_algo(c)), g->cin, g->cout, pad, batch, bench_median(t[0], reps),
               bench_median(t[1], reps), bench_median(t[2], reps), nws * 4e-6);
        fflush(stdout);
    }
    int ret = bad || !ws;
    stylize_conv_free(c);
    free(wt), free(gw), free(b), free(gb), free(x), free(gx), free(y), free(ws);
    return ret;
}

static const char *const pad_names[] = {"zero", "reflect", "replicate", "circular"};

/* -g's value CIN,COUT,PAD[,BATCH] into g (3x3, stride 1) and *batch: 0, or 1 when malformed. */
static int parse_shape(const char *v, stylize_conv_geom *g, int *batch)
{
    char pad[16];
    int n = sscanf(v, "%d,%d,%15[a-z],%d", &g->cin, &g->cout, pad, batch), p = 0;
    while (n >= 3 && p < 4 && strcmp(pad, pad_names[p]))
        p++;
    if (n < 3 || p == 4 || *batch < 1 || stylize_conv_geom_check(&(stylize_conv_geom){g->cin, g->cout, 3, 1,
                                                                 (stylize_pad_mode)p}, 8, 8, NULL) != STYLIZE_OK)
        return 1;
    g->pad = (stylize_pad_mode)p;
    return 0;
}

/* -g: bench_shape for every size and algorithm; the exit status. */
static int bench_shapes(const stylize_conv_geom *g, int batch, const int *sizes, int nsizes,
                        const stylize_conv_algo *algos, int nalgos, int reps)
{
    printf("# threads %d, one 3x3 layer, median of %d batches, %s\n", stylize_get_threads(), reps,
           bench_clock == CLOCK_MONOTONIC ? "wall-clock seconds" : "CPU seconds (all threads)");
    for (int si = 0; si < nsizes; si++) {
        if (stylize_conv_geom_check(g, sizes[si], sizes[si], NULL) != STYLIZE_OK) {
            fprintf(stderr, "bench_conv: -s %d: too small or too large for this layer\n", sizes[si]);
            return 2;
        }
        for (int ai = 0; ai < nalgos; ai++)
            if (bench_shape(g, batch, sizes[si], algos[ai], reps, pad_names[g->pad])) {
                fprintf(stderr, "bench_conv: out of memory for the layer at %d px\n", sizes[si]);
                return 1;
            }
    }
    return 0;
}

#define algo_name stylize_conv_algo_name

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-s SIZE]... [-r REPS] [-t THREADS] [-a im2col|winograd|winograd2|winograd-bf16|winograd2-bf16]... [-q] [-l] [-c]\n"
            "       %s -g CIN,COUT,zero|reflect|replicate|circular[,BATCH] [-s SIZE]... [-r REPS] [-t THREADS] [-a ALGO]... [-c]\n"
            "       %s -H\n",
            prog, prog, prog);
    return 2;
}

int main(int argc, char **argv)
{
    int sizes[MAX_SIZES], nsizes = 0, reps = 5, threads = 0, skip_sgemm = 0, layers = 0, shape = 0, batch = 4;
    stylize_conv_geom g = {0, 0, 3, 1, STYLIZE_PAD_ZERO};
    stylize_conv_algo algos[MAX_ALGOS];
    int nalgos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-q")) {
            skip_sgemm = 1;
            continue;
        }
        if (!strcmp(o, "-l")) {
            layers = 1;
            continue;
        }
        if (!strcmp(o, "-c")) {
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
            continue;
        }
        if (!strcmp(o, "-H")) {
            const char *h = stylize_blas_coretype_hint();
            if (h)
                puts(h);
            return 0;
        }
        if (i + 1 >= argc)
            return usage(argv[0]);
        const char *v = argv[++i];
        if (!strcmp(o, "-s") && nsizes < MAX_SIZES) {
            sizes[nsizes++] = atoi(v);
        } else if (!strcmp(o, "-r")) {
            reps = atoi(v);
        } else if (!strcmp(o, "-t")) {
            threads = atoi(v);
        } else if (!strcmp(o, "-g")) {
            if (parse_shape(v, &g, &batch))
                return usage(argv[0]);
            shape = 1;
        } else if (!strcmp(o, "-a") && nalgos < MAX_ALGOS) {
            if (stylize_conv_algo_parse(v, &algos[nalgos]) != 0)
                return usage(argv[0]);
            nalgos++;
        } else {
            return usage(argv[0]);
        }
    }
    if (reps < 1 || reps > MAX_REPS)
        return usage(argv[0]);
    if (!nsizes) {
        sizes[nsizes++] = 256;
        sizes[nsizes++] = 512;
    }
    if (!nalgos) {
        algos[nalgos++] = STYLIZE_CONV_IM2COL;
        algos[nalgos++] = STYLIZE_CONV_WINOGRAD;
    }
    if (threads > 0)
        stylize_set_threads(threads);
    if (shape)
        return bench_shapes(&g, batch, sizes, nsizes, algos, nalgos, reps);

    stylize_error err = {0};
    stylize_weights *w = NULL;
    if (stylize_weights_random(&w, 1, 1, &err) != STYLIZE_OK) {
        fprintf(stderr, "bench_conv: random weights: %s\n", err.msg);
        return 1;
    }
    int depth = stylize_vgg19_layer_index("relu5_1");
    const char *hint = stylize_blas_coretype_hint();
    printf("# threads %d, OpenBLAS core %s%s%s%s\n", stylize_get_threads(), stylize_blas_core(),
           hint ? " (slow; run with OPENBLAS_CORETYPE=" : "", hint ? hint : "", hint ? ")" : "");
    if (!skip_sgemm)
        printf("# sgemm 512x4608x4096: %.1f GFLOP/s (median of 3)\n", sgemm_gflops(3));
    printf("# VGG-19 to relu5_1, random weights, median of %d evaluations, %s\n", reps,
           bench_clock == CLOCK_MONOTONIC ? "wall-clock seconds" : "CPU seconds (all threads)");
    printf("%-6s %-10s %10s %10s %10s %9s %8s %10s %10s\n", "size", "algo", "fwd_s", "bwd_s",
           "eval_s", "GFLOP/s", "GFLOP", "feat_err", "grad_err");
    fflush(stdout);

    int rc = 0;
    for (int si = 0; si < nsizes; si++) {
        int size = sizes[si];
        size_t nx = (size_t)3 * size * size;
        float *x = malloc(nx * sizeof(float)), *gx = malloc(nx * sizeof(float));
        if (!x || !gx) {
            fprintf(stderr, "bench_conv: out of memory at size %d\n", size);
            free(x), free(gx);
            rc = 1;
            break;
        }
        uint64_t s = 42;
        for (size_t i = 0; i < nx; i++)
            x[i] = 2.0f * uniform(&s) - 1.0f;
        double gflop = 2.0 * conv_gflop(w, depth, size);
        float *ref_feat = NULL, *ref_gx = malloc(nx * sizeof(float));
        size_t nfeat = 0;
        for (int ai = 0; ai < nalgos; ai++) {
            stylize_conv_set_default_algo(algos[ai]);
            stylize_net *net = NULL;
            if (stylize_net_create(&net, w, STYLIZE_POOL_MAX, depth, size, size, NULL, NULL, &err) !=
                STYLIZE_OK) {
                fprintf(stderr, "bench_conv: network at %d px: %s\n", size, err.msg);
                rc = 1;
                continue;
            }
            double tf[MAX_REPS], tb[MAX_REPS], te[MAX_REPS];
            for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
                double t0 = now();
                stylize_net_forward(net, x);
                double t1 = now();
                stylize_net_backward(net, gx, inject_ones, &depth);
                double t2 = now();
                if (r >= 0) {
                    tf[r] = t1 - t0;
                    tb[r] = t2 - t1;
                    te[r] = t2 - t0;
                }
            }
            double mf = bench_median(tf, reps), mb = bench_median(tb, reps), me = bench_median(te, reps);
            int fc, fh, fw;
            const float *feat = stylize_net_output(net, depth, &fc, &fh, &fw);
            char fe[32] = "-", ge[32] = "-";
            if (ai == 0) {
                nfeat = (size_t)fc * fh * fw;
                ref_feat = malloc(nfeat * sizeof(float));
                if (ref_feat)
                    memcpy(ref_feat, feat, nfeat * sizeof(float));
                if (ref_gx)
                    memcpy(ref_gx, gx, nx * sizeof(float));
            } else {
                if (ref_feat)
                    snprintf(fe, sizeof fe, "%.2e", rms_rel(feat, ref_feat, nfeat));
                if (ref_gx)
                    snprintf(ge, sizeof ge, "%.2e", rms_rel(gx, ref_gx, nx));
            }
            printf("%-6d %-10s %10.3f %10.3f %10.3f %9.1f %8.1f %10s %10s\n", size,
                   algo_name(algos[ai]), mf, mb, me, gflop / me, gflop, fe, ge);
            fflush(stdout);
            stylize_net_free(net);
            if (layers && bench_layers(w, depth, size, algos[ai], reps, algo_name(algos[ai]))) {
                fprintf(stderr, "bench_conv: out of memory timing layers at %d px\n", size);
                rc = 1;
            }
        }
        free(x);
        free(gx);
        free(ref_feat);
        free(ref_gx);
    }
    stylize_weights_free(w);
    return rc;
}

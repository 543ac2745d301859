/* oneDNN's convolutions on the VGG-19 layers that stylize runs: the 13
 * convolutions conv1_1..conv5_1 (3x3, pad 1, stride 1, batch 1; the spatial
 * size halves, rounding down, at each of the 4 pools before conv2_1,
 * conv3_1, conv4_1 and conv5_1). A standalone benchmark, not part of the
 * CMake build: scripts/bench-dnnl.sh compiles it against Debian's
 * libdnnl-dev (oneDNN 2.x C API) and sets OMP_NUM_THREADS.
 *
 *   bench_dnnl [-s SIZE | -s WIDTHxHEIGHT] [-r REPS]
 *
 * SIZE: input side, square (default 512); REPS: timed runs per primitive
 * (default 5), after one warm-up; the median is reported. Configurations:
 * f32 convolution_direct, f32 convolution_winograd (each layer that oneDNN
 * refuses is reported as unsupported), bf16 convolution_direct (src,
 * weights and dst bfloat16, bias float32). For each layer and configuration
 * it times the forward (prop_kind forward_training, with bias) and the
 * backward-data (diff_src from diff_dst; no weight gradient) primitive.
 * Memory formats are format_tag any, so oneDNN picks its blocked layouts;
 * the reorders from plain nchw / oihw buffers run outside the timed region.
 * Every timed execution ends with dnnl_stream_wait.
 *
 * Output, whitespace-separated, one line per (config, layer):
 *   layer CONFIG NAME CIN COUT H W FWD_S BWD_S FWD_IMPL BWD_IMPL
 * ("unsupported" in place of a time and an implementation), then per config
 *   total CONFIG FWD_S BWD_S FWD_GFLOPS BWD_GFLOPS LAYERS_TIMED
 * counting 2 * 9 * cin * cout * h * w per convolution and direction over the
 * layers timed. Lines starting with '#' are context. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dnnl.h>

#define MAX_REPS 101

/* ---- errors ------------------------------------------------------------- */

static const char *status_name(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

/* Aborts the benchmark when a oneDNN call fails. */
#define CHECK(call) check_status((call), #call, __LINE__)

static void check_status(dnnl_status_t s, const char *what, int line)
{
    if (s == dnnl_success)
        return;
    fprintf(stderr, "bench_dnnl: line %d: %s: %s\n", line, what, status_name(s));
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_dnnl: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- clock, median, random data ----------------------------------------- */

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* n floats uniform in [lo, hi) (splitmix64). */
static float *random_floats(size_t n, uint64_t seed, float lo, float hi)
{
    float *v = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        v[i] = lo + (hi - lo) * (float)((z >> 40) * (1.0 / 16777216.0));
    }
    return v;
}

/* ---- the network and the configurations --------------------------------- */

typedef struct {
    const char *name;
    int cin, cout;
    int pool_before; /* a 2x2 pool halves h and w before this layer */
} layer_t;

static const layer_t vgg19[] = {
    {"conv1_1", 3, 64, 0},     {"conv1_2", 64, 64, 0},    {"conv2_1", 64, 128, 1},
    {"conv2_2", 128, 128, 0},  {"conv3_1", 128, 256, 1},  {"conv3_2", 256, 256, 0},
    {"conv3_3", 256, 256, 0},  {"conv3_4", 256, 256, 0},  {"conv4_1", 256, 512, 1},
    {"conv4_2", 512, 512, 0},  {"conv4_3", 512, 512, 0},  {"conv4_4", 512, 512, 0},
    {"conv5_1", 512, 512, 1},
};
#define N_LAYERS ((int)(sizeof vgg19 / sizeof vgg19[0]))

typedef struct {
    const char *name;
    dnnl_data_type_t dt; /* of src, weights, dst (bias stays f32) */
    dnnl_alg_kind_t alg;
} config_t;

static const config_t configs[] = {
    {"f32-direct", dnnl_f32, dnnl_convolution_direct},
    {"f32-winograd", dnnl_f32, dnnl_convolution_winograd},
    {"bf16-direct", dnnl_bf16, dnnl_convolution_direct},
};
#define N_CONFIGS ((int)(sizeof configs / sizeof configs[0]))

/* ---- oneDNN helpers ------------------------------------------------------ */

static dnnl_memory_desc_t make_md(int ndims, const dnnl_dims_t dims, dnnl_data_type_t dt,
                                  dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_init_by_tag(&md, ndims, dims, dt, tag));
    return md;
}

static const dnnl_memory_desc_t *query_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
    if (!md) {
        fprintf(stderr, "bench_dnnl: primitive descriptor has no memory for query %d\n",
                (int)what);
        exit(1);
    }
    return md;
}

static const char *impl_name(const_dnnl_primitive_desc_t pd)
{
    const char *s = NULL;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s));
    return s ? s : "?";
}

/* A oneDNN-allocated memory of descriptor md. */
static dnnl_memory_t new_memory(const dnnl_memory_desc_t *md, dnnl_engine_t eng)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    return m;
}

/* Fills dst (any layout and data type) from the plain f32 buffer user of
 * descriptor user_md, through a reorder primitive. */
static void reorder_in(dnnl_memory_t dst, const dnnl_memory_desc_t *user_md, float *user,
                       dnnl_engine_t eng, dnnl_stream_t stream)
{
    const dnnl_memory_desc_t *dst_md;
    CHECK(dnnl_memory_get_memory_desc(dst, &dst_md));
    dnnl_memory_t src;
    CHECK(dnnl_memory_create(&src, user_md, eng, user));
    dnnl_primitive_desc_t rpd;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, user_md, eng, dst_md, eng, NULL));
    dnnl_primitive_t r;
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    CHECK(dnnl_primitive_execute(r, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    CHECK(dnnl_primitive_destroy(r));
    CHECK(dnnl_primitive_desc_destroy(rpd));
    CHECK(dnnl_memory_destroy(src));
}

/* Median seconds of reps executions of p (after one warm-up). */
static double time_primitive(dnnl_primitive_t p, dnnl_stream_t stream, int nargs,
                             const dnnl_exec_arg_t *args, int reps)
{
    double t[MAX_REPS];
    CHECK(dnnl_primitive_execute(p, stream, nargs, args));
    CHECK(dnnl_stream_wait(stream));
    for (int r = 0; r < reps; r++) {
        double t0 = now(CLOCK_MONOTONIC);
        CHECK(dnnl_primitive_execute(p, stream, nargs, args));
        CHECK(dnnl_stream_wait(stream));
        t[r] = now(CLOCK_MONOTONIC) - t0;
    }
    return median(t, reps);
}

/* Creates a primitive descriptor; returns 0 when oneDNN has no
 * implementation for it (dnnl_unimplemented), aborts on any other error. */
static int try_pd(dnnl_primitive_desc_t *pd, const void *op_desc, dnnl_engine_t eng,
                  const_dnnl_primitive_desc_t hint)
{
    dnnl_status_t s = dnnl_primitive_desc_create(pd, op_desc, NULL, eng, hint);
    if (s == dnnl_unimplemented)
        return 0;
    CHECK(s);
    return 1;
}

/* ---- one layer in one configuration ------------------------------------- */

typedef struct {
    int ok;               /* 0: oneDNN has no implementation */
    double fwd_s, bwd_s;  /* medians */
    char fwd_impl[64], bwd_impl[64];
} result_t;

static result_t bench_layer(const layer_t *l, int h, int w, const config_t *cfg, int reps,
                            dnnl_engine_t eng, dnnl_stream_t stream)
{
    result_t res = {0};
    dnnl_dims_t src_dims = {1, l->cin, h, w}, dst_dims = {1, l->cout, h, w};
    dnnl_dims_t wei_dims = {l->cout, l->cin, 3, 3}, bias_dims = {l->cout};
    dnnl_dims_t strides = {1, 1}, pad = {1, 1};

    /* What the primitives see: format any, the configuration's data type. */
    dnnl_memory_desc_t src_md = make_md(4, src_dims, cfg->dt, dnnl_format_tag_any);
    dnnl_memory_desc_t wei_md = make_md(4, wei_dims, cfg->dt, dnnl_format_tag_any);
    dnnl_memory_desc_t dst_md = make_md(4, dst_dims, cfg->dt, dnnl_format_tag_any);
    dnnl_memory_desc_t bias_md = make_md(1, bias_dims, dnnl_f32, dnnl_x);

    dnnl_convolution_desc_t fwd_desc, bwd_desc;
    CHECK(dnnl_convolution_forward_desc_init(&fwd_desc, dnnl_forward_training, cfg->alg, &src_md,
                                             &wei_md, &bias_md, &dst_md, strides, pad, pad));
    CHECK(dnnl_convolution_backward_data_desc_init(&bwd_desc, cfg->alg, &src_md, &wei_md,
                                                   &dst_md, strides, pad, pad));
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    if (!try_pd(&fwd_pd, &fwd_desc, eng, NULL))
        return res;
    if (!try_pd(&bwd_pd, &bwd_desc, eng, fwd_pd)) {
        CHECK(dnnl_primitive_desc_destroy(fwd_pd));
        return res;
    }
    res.ok = 1;
    snprintf(res.fwd_impl, sizeof res.fwd_impl, "%s", impl_name(fwd_pd));
    snprintf(res.bwd_impl, sizeof res.bwd_impl, "%s", impl_name(bwd_pd));

    /* Plain f32 buffers, reordered into the layouts oneDNN chose. */
    size_t nsrc = (size_t)l->cin * h * w, ndst = (size_t)l->cout * h * w;
    size_t nwei = (size_t)l->cout * l->cin * 9;
    float *x = random_floats(nsrc, 1, 0.0f, 1.0f);
    float *gy = random_floats(ndst, 2, -1.0f, 1.0f);
    float *wt = random_floats(nwei, 3, -0.05f, 0.05f);
    float *b = random_floats((size_t)l->cout, 4, -0.1f, 0.1f);
    dnnl_memory_desc_t x_user = make_md(4, src_dims, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_t gy_user = make_md(4, dst_dims, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_t w_user = make_md(4, wei_dims, dnnl_f32, dnnl_oihw);

    dnnl_memory_t src = new_memory(query_md(fwd_pd, dnnl_query_src_md), eng);
    dnnl_memory_t wei = new_memory(query_md(fwd_pd, dnnl_query_weights_md), eng);
    dnnl_memory_t bias = new_memory(&bias_md, eng);
    dnnl_memory_t dst = new_memory(query_md(fwd_pd, dnnl_query_dst_md), eng);
    dnnl_memory_t diff_dst = new_memory(query_md(bwd_pd, dnnl_query_diff_dst_md), eng);
    dnnl_memory_t bwd_wei = new_memory(query_md(bwd_pd, dnnl_query_weights_md), eng);
    dnnl_memory_t diff_src = new_memory(query_md(bwd_pd, dnnl_query_diff_src_md), eng);
    reorder_in(src, &x_user, x, eng, stream);
    reorder_in(wei, &w_user, wt, eng, stream);
    reorder_in(bias, &bias_md, b, eng, stream);
    reorder_in(diff_dst, &gy_user, gy, eng, stream);
    reorder_in(bwd_wei, &w_user, wt, eng, stream);

    dnnl_primitive_t fwd, bwd;
    CHECK(dnnl_primitive_create(&fwd, fwd_pd));
    CHECK(dnnl_primitive_create(&bwd, bwd_pd));
    dnnl_exec_arg_t fwd_args[] = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
    dnnl_exec_arg_t bwd_args[] = {
        {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, bwd_wei}, {DNNL_ARG_DIFF_SRC, diff_src}};
    res.fwd_s = time_primitive(fwd, stream, 4, fwd_args, reps);
    res.bwd_s = time_primitive(bwd, stream, 3, bwd_args, reps);

    CHECK(dnnl_primitive_destroy(fwd));
    CHECK(dnnl_primitive_destroy(bwd));
    dnnl_memory_t mems[] = {src, wei, bias, dst, diff_dst, bwd_wei, diff_src};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        CHECK(dnnl_memory_destroy(mems[i]));
    CHECK(dnnl_primitive_desc_destroy(fwd_pd));
    CHECK(dnnl_primitive_desc_destroy(bwd_pd));
    free(x), free(gy), free(wt), free(b);
    return res;
}

/* ---- main --------------------------------------------------------------- */

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-s SIZE | -s WIDTHxHEIGHT] [-r REPS]\n", prog);
    return 2;
}

static const char *runtime_name(unsigned r)
{
    switch (r) {
    case DNNL_RUNTIME_SEQ: return "sequential";
    case DNNL_RUNTIME_OMP: return "OpenMP";
    case DNNL_RUNTIME_TBB: return "TBB";
    case DNNL_RUNTIME_THREADPOOL: return "threadpool";
    default: return "other";
    }
}

int main(int argc, char **argv)
{
    int width = 512, height = 512, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return usage(argv[0]);
        const char *o = argv[i], *v = argv[++i];
        if (!strcmp(o, "-s")) {
            if (sscanf(v, "%dx%d", &width, &height) == 1)
                height = width;
        } else if (!strcmp(o, "-r")) {
            reps = atoi(v);
        } else {
            return usage(argv[0]);
        }
    }
    if (width < 16 || height < 16 || reps < 1 || reps > MAX_REPS)
        return usage(argv[0]);

    const dnnl_version_t *ver = dnnl_version();
    const char *omp = getenv("OMP_NUM_THREADS");
    printf("# oneDNN %d.%d.%d (commit %s), CPU runtime %s, OMP_NUM_THREADS=%s\n", ver->major,
           ver->minor, ver->patch, ver->hash, runtime_name(ver->cpu_runtime), omp ? omp : "unset");
    printf("# VGG-19 conv1_1..conv5_1 at %dx%d (width x height), batch 1, median of %d runs after"
           " a warm-up, wall-clock seconds; forward = forward_training with bias\n",
           width, height, reps);
    printf("# layer CONFIG NAME CIN COUT H W FWD_S BWD_S FWD_IMPL BWD_IMPL\n");
    fflush(stdout);

    dnnl_engine_t eng;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));

    double wall0 = now(CLOCK_MONOTONIC), cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (int c = 0; c < N_CONFIGS; c++) {
        const config_t *cfg = &configs[c];
        double tot_f = 0, tot_b = 0, gflop = 0;
        int timed = 0, h = height, w = width;
        for (int i = 0; i < N_LAYERS; i++) {
            const layer_t *l = &vgg19[i];
            if (l->pool_before)
                h /= 2, w /= 2;
            result_t r = bench_layer(l, h, w, cfg, reps, eng, stream);
            if (!r.ok) {
                printf("layer %s %s %d %d %d %d unsupported unsupported unsupported unsupported\n",
                       cfg->name, l->name, l->cin, l->cout, h, w);
            } else {
                printf("layer %s %s %d %d %d %d %.6f %.6f %s %s\n", cfg->name, l->name, l->cin,
                       l->cout, h, w, r.fwd_s, r.bwd_s, r.fwd_impl, r.bwd_impl);
                tot_f += r.fwd_s;
                tot_b += r.bwd_s;
                gflop += 2.0 * 9 * l->cin * l->cout * (double)h * w * 1e-9;
                timed++;
            }
            fflush(stdout);
        }
        printf("total %s %.6f %.6f %.1f %.1f %d/%d\n", cfg->name, tot_f, tot_b,
               tot_f > 0 ? gflop / tot_f : 0.0, tot_b > 0 ? gflop / tot_b : 0.0, timed, N_LAYERS);
        fflush(stdout);
    }
    double wall = now(CLOCK_MONOTONIC) - wall0, cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    printf("# whole run: %.1f s wall, %.1f s CPU (%.2f cores busy on average)\n", wall, cpu,
           cpu / wall);

    CHECK(dnnl_stream_destroy(stream));
    CHECK(dnnl_engine_destroy(eng));
    return 0;
}

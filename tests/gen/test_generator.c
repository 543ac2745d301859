/* Generators (gen/generator.h): both architectures in both modes build with
 * the published shapes, run at the sizes they accept and refuse others,
 * give the same output through one instance at a smaller size as through a
 * fresh one, are deterministic for a seed, and have parameter gradients
 * that match central finite differences (small pyramid and residual nets,
 * batch 2, circular, replicate and reflect padding).
 *
 * The finite-difference nets use leaky ReLUs of slope 0.99: with plain ReLUs
 * after instance norms of 2 x 2 to 16 x 16 maps, one parameter moves every
 * pre-activation of a layer and kinks lie within any usable step (errors
 * of 15-35% at h = 1e-3 that shrink with h; 3-5% with slope 0.9). With
 * slope 0.99 the worst coordinates measured 0.1-1.0% (float32 rounding of
 * the loss at h = 1e-3), hence the 2% bound; a wrong gradient term is off
 * by far more. The
 * ReLU's own backward is checked in tests/nn/test_graph.c, and the default
 * generators against PyTorch in tests/gen/test_generator_torch.sh. */
#include "stylize/gen/generator.h"
#include "testutil.h"

/* Parameter count of a default pyramid: per scale block of c channels from
 * cin inputs: conv3 (c cin 9), conv3 (c c 9), conv1 (c c), each with an
 * affine norm (2 c); joins add two affine norms; the output conv 3 (K c) + 3. */
static size_t pyramid_params(int K, int c, int in_ch)
{
    size_t n = 0;
    for (int i = 0; i < K; i++) {
        size_t b = (size_t)c * in_ch * 9 + (size_t)c * c * 9 + (size_t)c * c + 6 * (size_t)c;
        n += b;
        if (i > 0) {
            size_t cc = (size_t)c * (i + 1);
            n += 2 * (size_t)c * i + 2 * (size_t)c; /* the two norms before the join */
            n += cc * cc * 9 * 2 + cc * cc + 6 * cc;
        }
    }
    return n + 3 * (size_t)K * c + 3;
}

static void test_shapes(void)
{
    stylize_error e;
    stylize_gen_arch a;
    stylize_gen_model m;
    stylize_gen_arch_defaults(&a, STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_TEXTURE);
    CHECK(stylize_gen_model_create(&m, &a, 1, NULL, &e) == STYLIZE_OK);
    CHECK(m.n_noise == 6);
    CHECK(m.params.n == pyramid_params(6, 8, 3));
    CHECK(stylize_gen_multiple(&a) == 32);
    stylize_gen_model_free(&m);
    a.mode = STYLIZE_GEN_STYLE;
    CHECK(stylize_gen_model_create(&m, &a, 1, NULL, &e) == STYLIZE_OK);
    CHECK(m.params.n == pyramid_params(6, 8, 6));
    stylize_gen_model_free(&m);
    /* Johnson's net without the biases that instance norm removes:
     * pytorch/examples' TransformerNet has 1,679,235 parameters with them. */
    stylize_gen_arch_defaults(&a, STYLIZE_ARCH_RESIDUAL, STYLIZE_GEN_STYLE);
    CHECK(stylize_gen_model_create(&m, &a, 1, NULL, &e) == STYLIZE_OK);
    size_t biases = 32 + 64 + 128 + 10 * 128 + 64 + 32;
    CHECK_MSG(m.params.n + biases == 1679235, "%zu parameters", m.params.n);
    CHECK(m.n_noise == 0);
    stylize_gen *g;
    CHECK(stylize_gen_create(&g, &m, 1, 30, 32, 0, NULL, &e) == STYLIZE_ERR_ARG);
    CHECK(stylize_gen_create(&g, &m, 1, 4, 4, 0, NULL, &e) == STYLIZE_ERR_ARG);
    stylize_gen_model_free(&m);
    a.width_mult = 0;
    CHECK(stylize_gen_model_create(&m, &a, 1, NULL, &e) == STYLIZE_ERR_ARG);
}

/* A small model of each kind. */
static void small_arch(stylize_gen_arch *a, stylize_arch_kind k, stylize_gen_mode mode)
{
    stylize_gen_arch_defaults(a, k, mode);
    a->scales = 3, a->channels = 3;
    a->width_mult = 0.125, a->blocks = 1;
    a->slope = 0.99f;
}

/* Loss = sum out * r over the batch, for finite differences. */
typedef struct {
    stylize_gen *g;
    stylize_gen_model *m;
    const float *r;
    int n, h, w;
    uint64_t noise_seed;
} fd_ctx;

static double run_loss(fd_ctx *c)
{
    stylize_rng rng;
    stylize_rng_seed(&rng, c->noise_seed);
    stylize_gen_forward(c->g, &rng);
    size_t ns;
    const float *out = stylize_gen_output(c->g, &ns);
    size_t per = (size_t)3 * c->h * c->w;
    double s = 0;
    for (int b = 0; b < c->n; b++)
        for (size_t j = 0; j < per; j++)
            s += (double)out[b * ns + j] * c->r[b * per + j];
    return s;
}

static double fd_fn(void *user, const float *x)
{
    (void)x;
    fd_ctx *c = user;
    stylize_gen_params_changed(c->g);
    return run_loss(c);
}

static void check_grad(stylize_arch_kind k, stylize_gen_mode mode, int h, int w)
{
    stylize_error e;
    stylize_gen_arch a;
    stylize_gen_model m;
    small_arch(&a, k, mode);
    CHECK(stylize_gen_model_create(&m, &a, 3, NULL, &e) == STYLIZE_OK);
    /* norms off their identity so that every parameter matters */
    for (size_t i = 0; i < m.params.n; i++)
        m.params.value[i] += 0.05f * (float)((i * 7919) % 13) / 13.0f;
    stylize_gen *g;
    CHECK(stylize_gen_create(&g, &m, 2, h, w, 1, NULL, &e) == STYLIZE_OK);
    size_t n = (size_t)2 * 3 * h * w;
    float *r = malloc(n * sizeof *r);
    tu_fill(r, n, 11, -1.0f, 1.0f);
    if (stylize_gen_content(g))
        tu_fill(stylize_gen_content(g), n, 12, 0.0f, 1.0f);
    fd_ctx c = {g, &m, r, 2, h, w, 99};
    run_loss(&c);
    stylize_params_zero_grad(&m.params);
    stylize_gen_backward(g, r);
    int kinks = 0;
    double worst = tu_fd_check_piecewise(fd_fn, &c, m.params.value, m.params.grad, m.params.n, 1e-3f,
                                         150, 0.05, 2e-2, &kinks);
    CHECK_MSG(worst < 2e-2, "%s/%s: worst FD error %.3g (%d kinks)", stylize_arch_name(k),
              mode == STYLIZE_GEN_STYLE ? "style" : "texture", worst, kinks);
    free(r);
    stylize_gen_free(g);
    stylize_gen_model_free(&m);
}

/* One instance at a smaller size equals a fresh instance of that size, and
 * a seed gives the same output twice. */
static void test_set_size(void)
{
    stylize_error e;
    stylize_gen_arch a;
    stylize_gen_model m;
    small_arch(&a, STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_STYLE);
    CHECK(stylize_gen_model_create(&m, &a, 5, NULL, &e) == STYLIZE_OK);
    stylize_gen *big, *small;
    CHECK(stylize_gen_create(&big, &m, 1, 32, 24, 0, NULL, &e) == STYLIZE_OK);
    CHECK(stylize_gen_create(&small, &m, 1, 16, 20, 0, NULL, &e) == STYLIZE_OK);
    CHECK(stylize_gen_set_size(big, 16, 20, &e) == STYLIZE_OK);
    CHECK(stylize_gen_set_size(big, 36, 20, &e) == STYLIZE_ERR_ARG);
    size_t n = (size_t)3 * 16 * 20;
    tu_fill(stylize_gen_content(big), n, 3, 0.0f, 1.0f);
    tu_fill(stylize_gen_content(small), n, 3, 0.0f, 1.0f);
    stylize_rng r1, r2;
    stylize_rng_seed(&r1, 8);
    stylize_rng_seed(&r2, 8);
    stylize_gen_forward(big, &r1);
    stylize_gen_forward(small, &r2);
    size_t s1, s2;
    const float *o1 = stylize_gen_output(big, &s1), *o2 = stylize_gen_output(small, &s2);
    CHECK(memcmp(o1, o2, n * sizeof(float)) == 0);
    float first = o2[5];
    stylize_rng_seed(&r2, 8);
    stylize_gen_forward(small, &r2);
    CHECK(stylize_gen_output(small, &s2)[5] == first);
    stylize_rng_seed(&r2, 9);
    stylize_gen_forward(small, &r2);
    CHECK(stylize_gen_output(small, &s2)[5] != first);
    stylize_gen_free(big);
    stylize_gen_free(small);
    stylize_gen_model_free(&m);
}

int main(void)
{
    /* Finite differences through im2col convolutions: Winograd's rounding
     * of the forward (about 1e-6 of the loss) gives 3-4% errors at h = 1e-3
     * (the Winograd paths: test_conv_general, and tnet_crosscheck.py). */
    stylize_conv_set_default_algo(STYLIZE_CONV_IM2COL);
    test_shapes();
    test_set_size();
    check_grad(STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_TEXTURE, 16, 12);
    check_grad(STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_STYLE, 12, 16);
    check_grad(STYLIZE_ARCH_RESIDUAL, STYLIZE_GEN_TEXTURE, 16, 12);
    check_grad(STYLIZE_ARCH_RESIDUAL, STYLIZE_GEN_STYLE, 12, 16);
    return TEST_SUMMARY();
}

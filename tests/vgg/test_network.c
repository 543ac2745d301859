/* The VGG-19 network and the full objective on a tiny generated network:
 * shapes, and central finite differences of the image gradient through
 * every layer kind (conv, ReLU, average and max pooling) and every loss. */
#include "stylize/vgg/network.h"
#include "stylize/style/matting.h"
#include "stylize/style/objective.h"
#include "stylize/vgg/weights.h"
#include "testutil.h"

static double coord_tol = 5e-2; /* single-coordinate finite-difference bound */

typedef struct {
    stylize_objective *obj;
    float *g;
} fctx;

static double f_obj(void *u, const float *x)
{
    fctx *c = u;
    double v = 0;
    stylize_objective_eval(c->obj, x, c->g, &v, NULL);
    return v;
}

/* Directional check: (f(x + h v) - f(x - h v)) / 2h against g . v. */
static double dir_check(fctx *c, float *x, const float *g, size_t n, uint64_t seed, float h)
{
    float *v = malloc(n * sizeof(float)), *xp = malloc(n * sizeof(float));
    if (seed) {
        tu_fill(v, n, seed, -1, 1);
    } else { /* along the gradient, unit max-norm */
        double gm = 0;
        for (size_t i = 0; i < n; i++)
            gm = fmax(gm, fabs(g[i]));
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(g[i] / gm);
    }
    double gv = 0, gn = 0, vn = 0;
    for (size_t i = 0; i < n; i++) {
        gv += (double)g[i] * v[i];
        gn += (double)g[i] * g[i];
        vn += (double)v[i] * v[i];
    }
    for (size_t i = 0; i < n; i++)
        xp[i] = x[i] + h * v[i];
    double fp = f_obj(c, xp);
    for (size_t i = 0; i < n; i++)
        xp[i] = x[i] - h * v[i];
    double fm = f_obj(c, xp);
    free(v);
    free(xp);
    double fd = (fp - fm) / (2.0 * h);
    /* Relative to |g| |v|: a random direction's g.v is about |g||v|/sqrt(n),
     * and float rounding should not be amplified by that cancellation. */
    return fabs(fd - gv) / (sqrt(gn) * sqrt(vn));
}

/* One content layer (weight 1) and two style layers (0.7, 0.3), alpha 1, beta 50. */
static stylize_objective_spec two_style_spec(stylize_pool_kind pool, int W, int H, const char *content,
                                             const char *style1, const char *style2, double tv)
{
    stylize_objective_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.pool = pool;
    spec.width = W;
    spec.height = H;
    spec.n_content = 1;
    spec.content[0].layer = stylize_vgg19_layer_index(content);
    spec.content[0].weight = 1.0;
    spec.n_style = 2;
    spec.style[0].layer = stylize_vgg19_layer_index(style1);
    spec.style[0].weight = 0.7;
    spec.style[1].layer = stylize_vgg19_layer_index(style2);
    spec.style[1].weight = 0.3;
    spec.alpha = 1.0;
    spec.beta = 50.0;
    spec.tv = tv;
    return spec;
}

static void run_case(const stylize_weights *w, stylize_pool_kind pool, const char *content,
                     const char *style1, const char *style2, double tv, int normalise_by_target)
{
    enum { W = 21, H = 19 };
    size_t n = 3 * W * H;
    stylize_objective_spec spec = two_style_spec(pool, W, H, content, style1, style2, tv);
    spec.normalise_by_target = normalise_by_target;
    stylize_objective *obj = NULL;
    stylize_error err;
    CHECK(stylize_objective_create(&obj, w, &spec, NULL, &err) == STYLIZE_OK);
    if (!obj)
        return;
    float *xc = malloc(n * sizeof(float)), *xs = malloc(4 * n * sizeof(float));
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
    tu_fill(xc, n, 11, -2, 2);
    tu_fill(xs, 4 * n, 12, -2, 2);
    tu_fill(x, n, 13, -2, 2);
    CHECK(stylize_objective_set_content(obj, xc, &err) == STYLIZE_OK);
    /* A style image of another size (2W x 2H): targets rescaled by M_x/M_s. */
    CHECK(stylize_objective_add_style(obj, xs, 2 * W, 2 * H, 1.0, &err) == STYLIZE_OK);
    double v = 0;
    CHECK(stylize_objective_eval(obj, x, g, &v, &err) == STYLIZE_OK);
    CHECK(v > 0 && isfinite(v));
    stylize_loss_breakdown b;
    stylize_objective_breakdown(obj, &b);
    CHECK_CLOSE(b.total, v, 1e-12);
    CHECK(b.style_layer[spec.style[0].layer] > 0);
    CHECK(b.content_layer[spec.content[0].layer] > 0);
    fctx c = {obj, g2};
    int kinks = 0;
    double worst = tu_fd_check_kinks(f_obj, &c, x, g, n, 5e-3f, 80, 0.1, &kinks);
    printf("pool %d %s/%s/%s: %d of 80 coordinates with a kink, worst rel err %.2g\n", (int)pool, content,
           style1, style2, kinks, worst);
    CHECK_MSG(kinks < 40, "too many kinks (%d of 80) for a meaningful check", kinks);
    CHECK_MSG(worst < coord_tol, "pool %d %s/%s/%s: worst coordinate rel err %g", (int)pool, content,
              style1, style2, worst);
    /* Directional central differences sum every coordinate's contribution:
     * a larger signal against float rounding. Along the gradient the signal
     * is largest and the tolerance tight; random directions check the rest. */
    double along = dir_check(&c, x, g, n, 0, 1e-3f);
    CHECK_MSG(along < 2e-3, "pool %d %s/%s/%s: along-gradient rel err %g", (int)pool, content,
              style1, style2, along);
    for (uint64_t seed = 99; seed < 102; seed++) {
        double dir = dir_check(&c, x, g, n, seed, 1e-3f);
        CHECK_MSG(dir < 1e-3, "pool %d %s/%s/%s: directional rel err %g", (int)pool, content,
                  style1, style2, dir);
    }
    /* The content image itself has zero content loss. */
    CHECK(stylize_objective_eval(obj, xc, g, &v, &err) == STYLIZE_OK);
    stylize_objective_breakdown(obj, &b);
    CHECK_MSG(b.content_layer[spec.content[0].layer] == 0.0, "%s (algo %d): content loss %g at the content image", content, (int)stylize_conv_get_default_algo(), b.content_layer[spec.content[0].layer]);
    free(xc), free(xs), free(x), free(g), free(g2);
    stylize_objective_free(obj);
}


/* Spatial control: two regions with soft masks, each with its own style
 * (the second restricted by a style mask); finite differences as above. */
static void run_masked(const stylize_weights *w)
{
    enum { W = 24, H = 20 };
    size_t n = 3 * W * H;
    stylize_objective_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.pool = STYLIZE_POOL_AVG;
    spec.width = W;
    spec.height = H;
    spec.n_content = 1;
    spec.content[0].layer = stylize_vgg19_layer_index("relu3_1");
    spec.content[0].weight = 1.0;
    spec.n_style = 2;
    spec.style[0].layer = stylize_vgg19_layer_index("relu1_1");
    spec.style[0].weight = 1.0;
    spec.style[1].layer = stylize_vgg19_layer_index("relu3_1");
    spec.style[1].weight = 1.0;
    spec.alpha = 1.0;
    spec.beta = 50.0;
    spec.n_regions = 2;
    stylize_objective *obj = NULL;
    stylize_error err;
    CHECK(stylize_objective_create(&obj, w, &spec, NULL, &err) == STYLIZE_OK);
    if (!obj)
        return;
    float *xc = malloc(n * sizeof(float)), *xs = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
    float *g = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
    float m0[W * H], m1[W * H], sm[W * H];
    tu_fill(xc, n, 21, -2, 2);
    tu_fill(xs, n, 22, -2, 2);
    tu_fill(x, n, 23, -2, 2);
    for (int y = 0; y < H; y++)
        for (int i = 0; i < W; i++) {
            float t = (float)i / (W - 1);
            m0[y * W + i] = 1.0f - t; /* left to right ramp */
            m1[y * W + i] = t;
            sm[y * W + i] = y < H / 2 ? 1.0f : 0.0f;
        }
    CHECK(stylize_objective_set_content(obj, xc, &err) == STYLIZE_OK);
    CHECK(stylize_objective_set_region_mask(obj, 0, m0, &err) == STYLIZE_OK);
    CHECK(stylize_objective_set_region_mask(obj, 1, m1, &err) == STYLIZE_OK);
    CHECK(stylize_objective_set_region_mask(obj, 2, m1, &err) == STYLIZE_ERR_ARG);
    CHECK(stylize_objective_add_style_region(obj, 0, xs, W, H, NULL, 1.0, &err) == STYLIZE_OK);
    CHECK(stylize_objective_add_style_region(obj, 1, xc, W, H, sm, 1.0, &err) == STYLIZE_OK);
    double v = 0;
    CHECK(stylize_objective_eval(obj, x, g, &v, &err) == STYLIZE_OK);
    CHECK(v > 0 && isfinite(v));
    fctx c = {obj, g2};
    int kinks = 0;
    double worst = tu_fd_check_kinks(f_obj, &c, x, g, n, 5e-3f, 80, 0.1, &kinks);
    printf("masked: %d of 80 coordinates with a kink, worst rel err %.2g\n", kinks, worst);
    CHECK_MSG(kinks < 40, "masked: too many kinks (%d of 80) for a meaningful check", kinks);
    CHECK_MSG(worst < coord_tol, "masked: worst coordinate rel err %g", worst);
    double along = dir_check(&c, x, g, n, 0, 1e-3f);
    CHECK_MSG(along < 2e-3, "masked: along-gradient rel err %g", along);
    for (uint64_t seed = 31; seed < 33; seed++) {
        double dir = dir_check(&c, x, g, n, seed, 1e-3f);
        CHECK_MSG(dir < 1e-3, "masked: directional rel err %g", dir);
    }
    /* A full mask reproduces the unmasked loss exactly (region = whole image). */
    stylize_objective_spec one = spec;
    one.n_regions = 1;
    stylize_objective *o1 = NULL, *o0 = NULL;
    float full[W * H];
    for (int k = 0; k < W * H; k++)
        full[k] = 1.0f;
    one.n_regions = 1;
    CHECK(stylize_objective_create(&o1, w, &one, NULL, &err) == STYLIZE_OK);
    one.n_regions = 0;
    CHECK(stylize_objective_create(&o0, w, &one, NULL, &err) == STYLIZE_OK);
    if (o1 && o0) {
        double v1 = 0, v0 = 0;
        stylize_objective_set_content(o1, xc, &err);
        stylize_objective_set_content(o0, xc, &err);
        stylize_objective_set_region_mask(o1, 0, full, &err);
        stylize_objective_add_style_region(o1, 0, xs, W, H, NULL, 1.0, &err);
        stylize_objective_add_style(o0, xs, W, H, 1.0, &err);
        stylize_objective_eval(o1, x, g, &v1, &err);
        stylize_objective_eval(o0, x, g2, &v0, &err);
        CHECK_CLOSE(v1, v0, 1e-5);
    }
    stylize_objective_free(o1);
    stylize_objective_free(o0);
    free(xc), free(xs), free(x), free(g), free(g2);
    stylize_objective_free(obj);
}

/* Spatial tiling: an objective run in strips of rows (with halos) gives the
 * untiled loss, per-layer breakdown and gradient (to float summation order),
 * for content, style images of another size, masks, TV and both poolings;
 * and its gradient passes the finite-difference check. */
static void check_tiled(const stylize_weights *w, stylize_pool_kind pool, const char *content,
                        const char *style1, const char *style2, int regions, int tile)
{
    enum { W = 24, H = 203 };
    size_t n = (size_t)3 * W * H;
    stylize_objective_spec spec = two_style_spec(pool, W, H, content, style1, style2, 0.01);
    spec.n_regions = regions;
    stylize_objective *o[2] = {NULL, NULL};
    stylize_error err;
    float *xc = malloc(n * sizeof(float)), *xs = malloc(2 * n * sizeof(float));
    float *x = malloc(n * sizeof(float)), *g[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    float *m0 = malloc((size_t)W * H * sizeof(float)), *m1 = malloc((size_t)W * H * sizeof(float));
    float *sm = malloc((size_t)2 * W * H * sizeof(float));
    double v[2] = {0, 0};
    stylize_loss_breakdown b[2];
    if (!xc || !xs || !x || !g[0] || !g[1] || !m0 || !m1 || !sm) {
        CHECK(0);
        goto done;
    }
    tu_fill(xc, n, 21, -2, 2);
    tu_fill(xs, 2 * n, 22, -2, 2);
    tu_fill(x, n, 23, -2, 2);
    for (int y = 0; y < H; y++)
        for (int k = 0; k < W; k++) {
            m0[y * W + k] = y < H / 3 ? 1.0f : 0.25f;
            m1[y * W + k] = 1.0f - m0[y * W + k];
        }
    for (size_t k = 0; k < (size_t)2 * W * H; k++)
        sm[k] = k % 3 ? 1.0f : 0.0f;
    for (int k = 0; k < 2; k++) {
        spec.tile_rows = k ? tile : 0;
        CHECK(stylize_objective_create(&o[k], w, &spec, NULL, &err) == STYLIZE_OK);
        if (!o[k])
            goto done;
        CHECK(stylize_objective_set_content(o[k], xc, &err) == STYLIZE_OK);
        if (regions) {
            CHECK(stylize_objective_set_region_mask(o[k], 0, m0, &err) == STYLIZE_OK);
            CHECK(stylize_objective_set_region_mask(o[k], 1, m1, &err) == STYLIZE_OK);
            CHECK(stylize_objective_add_style_region(o[k], 0, xs, 2 * W, H, NULL, 1.0, &err) == STYLIZE_OK);
            CHECK(stylize_objective_add_style_region(o[k], 1, xs, 2 * W, H, sm, 1.0, &err) == STYLIZE_OK);
        } else {
            CHECK(stylize_objective_add_style(o[k], xs, W, 2 * H, 1.0, &err) == STYLIZE_OK);
        }
        CHECK(stylize_objective_eval(o[k], x, g[k], &v[k], &err) == STYLIZE_OK);
        stylize_objective_breakdown(o[k], &b[k]);
    }
    /* for a tall image, strips need less memory than the whole */
    spec.height = 4000;
    size_t mem_tiled = stylize_objective_memory_bytes(w, &spec);
    spec.tile_rows = 0;
    size_t mem_whole = stylize_objective_memory_bytes(w, &spec);
    CHECK_MSG(mem_tiled > 0 && 3 * mem_tiled < mem_whole, "memory %zu tiled, %zu whole", mem_tiled, mem_whole);
    CHECK_MSG(fabs(v[1] - v[0]) <= 1e-5 * fabs(v[0]) && v[0] > 0, "tiled loss %.9g vs %.9g", v[1], v[0]);
    for (int l = 0; l < STYLIZE_VGG19_NLAYERS; l++) {
        CHECK_MSG(fabs(b[1].content_layer[l] - b[0].content_layer[l]) <= 1e-5 * fabs(b[0].content_layer[l]),
                  "layer %d content %g vs %g", l, b[1].content_layer[l], b[0].content_layer[l]);
        /* E_l is a difference of near Gram matrices: a little looser */
        CHECK_MSG(fabs(b[1].style_layer[l] - b[0].style_layer[l]) <= 1e-4 * fabs(b[0].style_layer[l]),
                  "layer %d style %g vs %g", l, b[1].style_layer[l], b[0].style_layer[l]);
    }
    double gmax = 0, dmax = 0;
    for (size_t k = 0; k < n; k++) {
        gmax = fmax(gmax, fabs(g[0][k]));
        dmax = fmax(dmax, fabs(g[1][k] - g[0][k]));
    }
    CHECK_MSG(gmax > 0 && dmax <= 1e-5 * gmax, "pool %d %s/%s/%s tile %d regions %d: gradient differs by %g of %g",
              (int)pool, content, style1, style2, tile, regions, dmax, gmax);
    /* the tiled gradient against finite differences of the tiled loss */
    fctx c = {o[1], g[0]};
    double along = dir_check(&c, x, g[1], n, 0, 1e-3f);
    CHECK_MSG(along < 2e-3, "tiled: along-gradient rel err %g", along);
    double dir = dir_check(&c, x, g[1], n, 7, 1e-3f);
    CHECK_MSG(dir < 1e-3, "tiled: directional rel err %g", dir);
done:
    stylize_objective_free(o[0]);
    stylize_objective_free(o[1]);
    free(xc), free(xs), free(x), free(g[0]), free(g[1]), free(m0), free(m1), free(sm);
}

/* Adds 0.5 act + 0.01 (layer + 1) at the layers in keep (user). */
static void inject_kept(void *user, int layer, const float *act, float *grad, int c, int h, int w)
{
    const unsigned char *keep = user;
    if (!keep[layer])
        return;
    for (size_t k = 0; k < (size_t)c * h * w; k++)
        grad[k] += 0.5f * act[k] + 0.01f * (float)(layer + 1);
}

/* A lean network (keep) gives bit-identical outputs and gradients to a full
 * one, with less memory; unkept layers are not readable. */
static void check_lean(const stylize_weights *w, stylize_pool_kind pool)
{
    const int W = 37, H = 35, depth = 29;
    unsigned char keep[STYLIZE_VGG19_NLAYERS] = {0};
    keep[1] = keep[5] = keep[22] = keep[29] = 1; /* relu1_1, conv2_1 (before its ReLU), relu4_2, relu5_1 */
    stylize_net *full = NULL, *lean = NULL;
    stylize_error err;
    size_t n = (size_t)3 * W * H;
    float *x = malloc(n * sizeof(float)), *g0 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float));
    CHECK(stylize_net_create(&full, w, pool, depth, W, H, NULL, NULL, &err) == STYLIZE_OK);
    CHECK(stylize_net_create(&lean, w, pool, depth, W, H, keep, NULL, &err) == STYLIZE_OK);
    if (!full || !lean || !x || !g0 || !g1)
        goto done;
    CHECK(stylize_net_memory_bytes(w, depth, W, H, keep) < stylize_net_memory_bytes(w, depth, W, H, NULL));
    tu_fill(x, n, 5, -2, 2);
    stylize_net_forward(full, x);
    stylize_net_forward(lean, x);
    unsigned char pre[STYLIZE_VGG19_NLAYERS] = {0}; /* a full network reads conv2_1 after its ReLU */
    pre[5] = 1;
    for (int i = 0; i <= depth; i++) {
        int c, h, wd;
        const float *b = stylize_net_output(lean, i, &c, &h, &wd);
        if (!keep[i]) {
            CHECK_MSG(b == NULL, "lean layer %d readable", i);
            continue;
        }
        const float *a = stylize_net_output(full, i, NULL, NULL, NULL);
        int bad = 0, neg = 0;
        for (size_t k = 0; b && k < (size_t)c * h * wd; k++) {
            neg += b[k] < 0;
            if (!pre[i])
                bad += memcmp(&a[k], &b[k], sizeof(float)) != 0;
            else
                bad += !(fmaxf(b[k], 0.0f) == a[k]);
        }
        CHECK_MSG(b && bad == 0, "layer %d: %d outputs differ", i, bad);
        if (pre[i])
            CHECK_MSG(neg > 0, "conv2_1 kept before its ReLU has no negative values");
    }
    /* conv2_1 (pre-ReLU in the lean network) gets no injection: compare the rest */
    keep[5] = 0;
    stylize_net_backward(full, g0, inject_kept, keep);
    stylize_net_backward(lean, g1, inject_kept, keep);
    int bad = 0;
    double gn = 0;
    for (size_t k = 0; k < n; k++) {
        bad += memcmp(&g0[k], &g1[k], sizeof(float)) != 0;
        gn += fabs(g0[k]);
    }
    CHECK_MSG(bad == 0 && gn > 0, "pool %d: %d gradient elements differ (|g|_1 %g)", (int)pool, bad, gn);
done:
    stylize_net_free(full);
    stylize_net_free(lean);
    free(x), free(g0), free(g1);
}

/* stylize_net_forward_to(layer) gives layer's output bit for bit as a full
 * forward does, and stops there: a deeper layer still holds the previous
 * forward's values (full and lean networks). */
static void check_forward_to(const stylize_weights *w, const unsigned char *keep)
{
    const int W = 37, H = 35, depth = 29;
    static const int layers[] = {0, 1, 5, 22, 27, 29}; /* 28 (conv5_1) reads relu5_1 in a full network */
    stylize_net *ref = NULL, *net = NULL;
    stylize_error err;
    size_t n = (size_t)3 * W * H;
    float *x1 = malloc(n * sizeof(float)), *x2 = malloc(n * sizeof(float));
    CHECK(stylize_net_create(&ref, w, STYLIZE_POOL_AVG, depth, W, H, keep, NULL, &err) == STYLIZE_OK);
    CHECK(stylize_net_create(&net, w, STYLIZE_POOL_AVG, depth, W, H, keep, NULL, &err) == STYLIZE_OK);
    if (!ref || !net || !x1 || !x2)
        goto done;
    tu_fill(x1, n, 21, -2, 2);
    tu_fill(x2, n, 22, -2, 2);
    stylize_net_forward(ref, x1);
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        int l = layers[i], c, h, wd, bad = 0, same = 0;
        if (keep && !keep[l])
            continue;
        stylize_net_forward(net, x2);
        int cl, hl, wl; /* the last layer after the full forward on x2 */
        const float *last = stylize_net_output(net, depth, &cl, &hl, &wl);
        float before = last ? last[0] : 0.0f;
        stylize_net_forward_to(net, x1, l);
        const float *a = stylize_net_output(ref, l, &c, &h, &wd), *b = stylize_net_output(net, l, NULL, NULL, NULL);
        for (size_t k = 0; a && b && k < (size_t)c * h * wd; k++)
            bad += memcmp(&a[k], &b[k], sizeof(float)) != 0;
        CHECK_MSG(a && b && bad == 0, "forward_to %d: %d outputs differ from the full forward's", l, bad);
        last = stylize_net_output(net, depth, NULL, NULL, NULL);
        const float *full = stylize_net_output(ref, depth, NULL, NULL, NULL);
        for (size_t k = 0; last && full && k < (size_t)cl * hl * wl; k++)
            same += last[k] == full[k];
        if (l < depth) /* stale: x2's, not x1's */
            CHECK_MSG(last && last[0] == before && same < cl * hl * wl, "forward_to %d ran past it", l);
        else
            CHECK_MSG(same == cl * hl * wl, "forward_to the last layer: %d of %d outputs", same, cl * hl * wl);
    }
done:
    stylize_net_free(ref);
    stylize_net_free(net);
    free(x1), free(x2);
}

/* The photorealism term inside the objective: the total is the plain
 * objective's plus lambda L_m, L_m equals the matting module's on x and the
 * content converted to pixels (a_c x_c + b_c), the content itself scores
 * ~0 (it is an affine function of itself), finite differences of the whole
 * objective hold, and strips give the whole image's value and gradient. */
static void check_photo(const stylize_weights *w)
{
    enum { W = 21, H = 40 };
    size_t n = 3 * W * H, np = (size_t)W * H;
    stylize_objective_spec plain = two_style_spec(STYLIZE_POOL_AVG, W, H, "relu4_2", "relu1_1", "relu3_1", 0.0);
    stylize_objective_spec photo = plain, tiled;
    photo.photorealism = 3.0;
    tiled = photo;
    tiled.tile_rows = 16;
    stylize_objective *o[3] = {NULL, NULL, NULL};
    const stylize_objective_spec *specs[3] = {&plain, &photo, &tiled};
    stylize_error err;
    float *xc = malloc(n * sizeof(float)), *xs = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
    float *g[3], *pc = malloc(n * sizeof(float)), *px = malloc(n * sizeof(float));
    tu_fill(xc, n, 31, -2, 2);
    tu_fill(xs, n, 32, -2, 2);
    tu_fill(x, n, 33, -2, 2);
    double v[3];
    stylize_loss_breakdown b[3];
    for (int k = 0; k < 3; k++) {
        g[k] = malloc(n * sizeof(float));
        CHECK(stylize_objective_create(&o[k], w, specs[k], NULL, &err) == STYLIZE_OK);
        CHECK(stylize_objective_add_style(o[k], xs, W, H, 1.0, &err) == STYLIZE_OK);
        CHECK(stylize_objective_set_content(o[k], xc, &err) == STYLIZE_OK);
        CHECK(stylize_objective_eval(o[k], x, g[k], &v[k], &err) == STYLIZE_OK);
        stylize_objective_breakdown(o[k], &b[k]);
    }
    /* the matting module on pixels */
    double a[3];
    for (int c = 0; c < 3; c++) {
        a[c] = w->input.std[c] / w->input.pixel_scale;
        for (size_t i = 0; i < np; i++) {
            pc[c * np + i] = (float)(a[c] * xc[c * np + i] + w->input.mean[c] / w->input.pixel_scale);
            px[c * np + i] = (float)(a[c] * x[c * np + i] + w->input.mean[c] / w->input.pixel_scale);
        }
    }
    stylize_matting *m = NULL;
    CHECK(stylize_matting_create(&m, W, H, STYLIZE_MATTING_EPS, NULL, &err) == STYLIZE_OK);
    stylize_matting_set_image(m, pc, NULL, NULL);
    double lm = stylize_matting_loss(m, px, NULL, NULL, 1.0);
    CHECK_MSG(fabs(b[1].matting - lm) <= 1e-4 * lm, "L_m %g in the objective, %g on pixels", b[1].matting, lm);
    CHECK_CLOSE(b[1].photo, 3.0 * b[1].matting, 1e-12);
    CHECK_MSG(fabs(v[1] - v[0] - b[1].photo) <= 1e-6 * v[1], "total %g = plain %g + photo %g?", v[1], v[0], b[1].photo);
    CHECK_MSG(fabs(v[2] - v[1]) <= 1e-5 * v[1], "strips %g vs whole %g", v[2], v[1]);
    double gmax = 0, gdiff = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(g[1][i])), gdiff = fmax(gdiff, fabs(g[2][i] - g[1][i]));
    CHECK_MSG(gdiff <= 1e-5 * gmax, "strips' gradient off by %g of %g", gdiff, gmax);
    CHECK(b[1].photo > 0.1 * b[1].style); /* the term matters in the checks below */
    fctx c = {o[1], g[2]};
    double along = dir_check(&c, x, g[1], n, 0, 1e-3f);
    CHECK_MSG(along < 2e-3, "photo objective: along-gradient rel err %g", along);
    for (uint64_t seed = 40; seed < 43; seed++) {
        double dir = dir_check(&c, x, g[1], n, seed, 1e-3f);
        CHECK_MSG(dir < 1e-3, "photo objective: directional rel err %g", dir);
    }
    int kinks = 0;
    double worst = tu_fd_check_kinks(f_obj, &c, x, g[1], n, 2e-3f, 60, 0.1, &kinks);
    CHECK_MSG(worst < coord_tol, "photo objective: worst coordinate rel err %g", worst);
    CHECK(stylize_objective_eval(o[1], xc, g[1], &v[1], &err) == STYLIZE_OK);
    stylize_loss_breakdown bc;
    stylize_objective_breakdown(o[1], &bc);
    CHECK_MSG(bc.matting <= 1e-6 * b[1].matting, "content's own L_m %g (random x: %g)", bc.matting, b[1].matting);
    /* the memory estimate counts the Laplacian */
    CHECK(stylize_objective_memory_bytes(w, &photo) >= stylize_objective_memory_bytes(w, &plain) + stylize_matting_bytes(W, H));
    stylize_matting_free(m);
    for (int k = 0; k < 3; k++) {
        stylize_objective_free(o[k]);
        free(g[k]);
    }
    free(xc), free(xs), free(x), free(pc), free(px);
}

int main(void)
{
    stylize_weights *w = NULL;
    stylize_error err;
    CHECK(stylize_weights_random(&w, 7, 16, &err) == STYLIZE_OK);
    if (!w)
        return TEST_SUMMARY();

    /* Layer table matches torchvision's indices. */
    CHECK(stylize_vgg19_layer_index("conv1_1") == 0);
    CHECK(stylize_vgg19_layer_index("relu4_2") == 22);
    CHECK(stylize_vgg19_layer_index("pool4") == 27);
    CHECK(stylize_vgg19_layer_index("relu5_1") == 29);
    CHECK(stylize_vgg19_layer_index("pool5") == 36);
    CHECK(stylize_vgg19_layer_index("relu6_1") == -1);

    /* Shapes with odd sizes: 21x19 -> pool1 10x9 -> pool2 5x4 -> pool3 2x2 -> pool4 1x1. */
    stylize_net *net = NULL;
    CHECK(stylize_net_create(&net, w, STYLIZE_POOL_MAX, 29, 21, 19, NULL, NULL, &err) == STYLIZE_OK);
    if (net) {
        int c, h, wd;
        stylize_net_output(net, 4, &c, &h, &wd);
        CHECK(c == 4 && h == 9 && wd == 10);
        stylize_net_output(net, 27, &c, &h, &wd);
        CHECK(c == 32 && h == 1 && wd == 1);
        stylize_net_free(net);
    }
    check_lean(w, STYLIZE_POOL_MAX);
    check_lean(w, STYLIZE_POOL_AVG);
    check_forward_to(w, NULL);
    {
        unsigned char keep[STYLIZE_VGG19_NLAYERS] = {0};
        keep[1] = keep[5] = keep[22] = keep[29] = 1;
        check_forward_to(w, keep);
    }
    stylize_conv_set_default_algo(STYLIZE_CONV_IM2COL);
    check_photo(w);
    check_tiled(w, STYLIZE_POOL_AVG, "relu4_2", "relu1_1", "relu5_1", 0, 32);
    check_tiled(w, STYLIZE_POOL_MAX, "conv3_1", "pool1", "relu4_1", 0, 48);
    check_tiled(w, STYLIZE_POOL_AVG, "relu2_2", "relu1_1", "relu3_1", 2, 20);
    /* Too small for pool5. */
    CHECK(stylize_net_create(&net, w, STYLIZE_POOL_MAX, 36, 21, 19, NULL, NULL, &err) == STYLIZE_ERR_ARG);

    /* Every convolution path: the reference im2col and both Winograd
     * transforms. Winograd rounds a little more, so single-coordinate checks
     * get a looser bound there (coord_tol); the directional ones do not. */
    static const stylize_conv_algo algos[] = {STYLIZE_CONV_IM2COL, STYLIZE_CONV_WINOGRAD,
                                              STYLIZE_CONV_WINOGRAD_F2};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        stylize_conv_set_default_algo(algos[a]);
        coord_tol = algos[a] == STYLIZE_CONV_IM2COL ? 5e-2 : 1e-1;
        run_case(w, STYLIZE_POOL_AVG, "relu4_2", "relu1_1", "relu3_1", 0.0, 0);
        run_case(w, STYLIZE_POOL_MAX, "relu2_2", "pool1", "relu5_1", 0.0, 0);
        run_case(w, STYLIZE_POOL_AVG, "conv3_1", "conv1_1", "pool4", 0.05, 0);
        run_case(w, STYLIZE_POOL_AVG, "relu4_2", "relu1_1", "relu5_1", 0.0, 1);
        run_masked(w);
    }
    stylize_conv_set_default_algo(STYLIZE_CONV_IM2COL);

    /* Spec validation. */
    stylize_objective_spec bad;
    memset(&bad, 0, sizeof bad);
    bad.width = bad.height = 32;
    stylize_objective *obj = NULL;
    CHECK(stylize_objective_create(&obj, w, &bad, NULL, &err) == STYLIZE_ERR_ARG);
    bad.n_style = 1;
    bad.style[0].layer = 40;
    CHECK(stylize_objective_create(&obj, w, &bad, NULL, &err) == STYLIZE_ERR_ARG);
    stylize_weights_free(w);
    return TEST_SUMMARY();
}

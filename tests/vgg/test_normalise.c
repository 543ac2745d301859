/* Gatys' normalisation: on the normalising images every filter's mean
 * rectified activation becomes 1, and on any other image the normalised
 * network's features equal the original's divided by the per-filter means. */
#include "stylize/nn/conv.h"
#include "stylize/io/image.h"
#include "stylize/vgg/network.h"
#include "stylize/vgg/normalise.h"
#include "stylize/vgg/weights.h"
#include "testutil.h"

static void fill_image(stylize_image *img, int w, int h, uint64_t seed)
{
    stylize_image_alloc(img, w, h, NULL);
    tu_fill(img->data, (size_t)3 * w * h, seed, 0, 1);
}

int main(void)
{
    /* The normalisation's arithmetic is what is tested here: the reference
     * convolution keeps the rounding of the two networks comparable. */
    stylize_conv_set_default_algo(STYLIZE_CONV_IM2COL);
    stylize_weights *w = NULL, *n = NULL;
    stylize_error err;
    CHECK(stylize_weights_random(&w, 11, 16, &err) == STYLIZE_OK);
    CHECK(stylize_weights_random(&n, 11, 16, &err) == STYLIZE_OK);
    if (!w || !n)
        return TEST_SUMMARY();
    /* Non-zero biases so that the bias rescaling is exercised too. */
    for (int l = 0; l < w->n_layers; l++)
        for (int f = 0; f < w->layers[l].out_ch; f++)
            w->layers[l].bias[f] = n->layers[l].bias[f] = 0.05f * (float)((f % 5) - 1);
    stylize_image a, b, c;
    fill_image(&a, 40, 36, 1);
    fill_image(&b, 36, 40, 2);
    fill_image(&c, 48, 32, 3);
    const stylize_image *imgs[2] = {&a, &b};
    size_t total = 0;
    for (int l = 0; l < w->n_layers; l++)
        total += (size_t)w->layers[l].out_ch;
    float *means = malloc(total * sizeof(float));
    CHECK(stylize_weights_normalise(n, imgs, 2, 0, means, &err) == STYLIZE_OK);
    CHECK(strstr(n->source, "normalised") != NULL);
    CHECK(stylize_weights_normalise(n, imgs, 0, 0, NULL, &err) == STYLIZE_ERR_ARG);

    int depth = stylize_vgg19_layer_index("relu5_4");
    /* (1) mean activation 1 over the normalising images. */
    double *acc = calloc(total, sizeof(double)), pos[STYLIZE_VGG19_NCONV] = {0};
    for (int i = 0; i < 2; i++) {
        stylize_net *net = NULL;
        float *x = malloc((size_t)3 * imgs[i]->width * imgs[i]->height * sizeof(float));
        CHECK(stylize_net_create(&net, n, STYLIZE_POOL_MAX, depth, imgs[i]->width, imgs[i]->height, NULL, NULL, &err) == STYLIZE_OK);
        stylize_image_to_input(imgs[i], &n->input, x);
        stylize_net_forward(net, x);
        size_t o = 0;
        int l = 0;
        for (int k = 0; k <= depth; k++) {
            if (stylize_vgg19_layer_kind(k) != STYLIZE_LAYER_RELU)
                continue;
            int ch, h, wd;
            const float *F = stylize_net_output(net, k, &ch, &h, &wd);
            for (int f = 0; f < ch; f++)
                for (int p = 0; p < h * wd; p++)
                    acc[o + f] += F[(size_t)f * h * wd + p];
            pos[l++] += (double)h * wd;
            o += (size_t)ch;
        }
        stylize_net_free(net);
        free(x);
    }
    size_t o = 0;
    int live = 0;
    double worst = 0;
    for (int l = 0; l < n->n_layers; l++) {
        for (int f = 0; f < n->layers[l].out_ch; f++) {
            if (means[o + f] > 0) {
                live++;
                worst = fmax(worst, fabs(acc[o + f] / pos[l] - 1.0));
            }
        }
        o += (size_t)n->layers[l].out_ch;
    }
    CHECK_MSG(worst < 1e-3, "mean activation off 1 by %g", worst);
    CHECK_MSG(live > (int)total / 2, "only %d of %zu filters fire", live, total);

    /* (2) on another image, normalised features = original / means, for
     * every ReLU and pooling layer, with both kinds of pooling. */
    for (int pk = 0; pk < 2; pk++) {
        stylize_pool_kind kind = pk ? STYLIZE_POOL_AVG : STYLIZE_POOL_MAX;
        stylize_net *n0 = NULL, *n1 = NULL;
        float *x = malloc((size_t)3 * c.width * c.height * sizeof(float));
        CHECK(stylize_net_create(&n0, w, kind, depth, c.width, c.height, NULL, NULL, &err) == STYLIZE_OK);
        CHECK(stylize_net_create(&n1, n, kind, depth, c.width, c.height, NULL, NULL, &err) == STYLIZE_OK);
        stylize_image_to_input(&c, &w->input, x);
        stylize_net_forward(n0, x);
        stylize_net_forward(n1, x);
        double err_max = 0;
        size_t lo = 0;
        int l = -1;
        for (int k = 0; k <= depth; k++) {
            stylize_layer_kind lk = stylize_vgg19_layer_kind(k);
            if (lk == STYLIZE_LAYER_CONV) {
                l++;
                lo = 0;
                for (int j = 0; j < l; j++)
                    lo += (size_t)n->layers[j].out_ch;
                continue;
            }
            int ch, h, wd;
            const float *F0 = stylize_net_output(n0, k, &ch, &h, &wd);
            const float *F1 = stylize_net_output(n1, k, NULL, NULL, NULL);
            for (int f = 0; f < ch; f++) {
                double m = means[lo + f] > 0 ? means[lo + f] : 1.0;
                double scale = 0;
                for (int p = 0; p < h * wd; p++)
                    scale = fmax(scale, fabs(F0[(size_t)f * h * wd + p] / m));
                for (int p = 0; p < h * wd; p++) {
                    double d = fabs(F1[(size_t)f * h * wd + p] - F0[(size_t)f * h * wd + p] / m);
                    err_max = fmax(err_max, d / (scale + 1e-6));
                }
            }
        }
        /* float32 rounding differs between the two networks; with max pooling
         * a rounding change can also pick the other of two near-equal inputs. */
        CHECK_MSG(err_max < (pk ? 1e-4 : 2e-3), "pool %d: normalised features differ by %g", pk,
                  err_max);
        stylize_net_free(n0);
        stylize_net_free(n1);
        free(x);
    }
    free(acc);
    free(means);
    stylize_image_free(&a), stylize_image_free(&b), stylize_image_free(&c);
    stylize_weights_free(w);
    stylize_weights_free(n);
    return TEST_SUMMARY();
}

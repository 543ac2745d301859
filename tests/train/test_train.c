/* Training generators (train/train.h) on a tiny random VGG-19 (widths / 16,
 * trimmed to relu3_1): a texture model lowers the texture loss of samples
 * from unseen noise at least 5x below the untrained generator's; a style
 * model lowers the total loss of an unseen content image below the
 * untrained one's; a run checkpointed halfway and resumed ends with the
 * same parameters, bit for bit, as an uninterrupted one (texture and style
 * models, the data loader's position included); the loader skips bad
 * files, counts them and refuses a set without one usable image; every
 * buffer is planned (the estimate equals the run's plan plus the model). */
#include <sys/stat.h>

#include "stylize/stylize.h"
#include "testutil.h"

#define S 32

static stylize_weights *tiny_vgg(void)
{
    stylize_weights *w;
    stylize_error e;
    if (stylize_weights_random(&w, 5, 16, &e) != STYLIZE_OK)
        return NULL;
    stylize_weights_trim(w, stylize_vgg19_convs_needed(stylize_vgg19_layer_index("relu3_1")));
    return w;
}

/* A texture: stripes and blobs with some noise, size s x s. */
static void pattern(stylize_image *img, int s, int k)
{
    stylize_error e;
    stylize_image_alloc(img, s, s, &e);
    uint64_t r = 77 + (uint64_t)k;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                img->data[((size_t)c * s + y) * s + x] =
                    0.5f + 0.3f * sinf((float)(x * (k + 1) + 2 * y * c) * 0.7f) + tu_uniform(&r, -0.1f, 0.1f);
}

static void config(stylize_train_config *c, const stylize_weights *w, const stylize_image *style)
{
    stylize_train_defaults(c);
    stylize_error e;
    c->weights = w;
    c->random_features = 1;
    stylize_parse_layers("relu1_1,relu2_1,relu3_1", c->style_layers, &c->n_style, &e);
    stylize_parse_layers("relu2_1", c->content_layers, &c->n_content, &e);
    c->beta = 10;
    c->style = style;
    c->size = S, c->batch = 2, c->learning_rate = 1e-2, c->seed = 3;
}

static void small_arch(stylize_gen_arch *a, stylize_arch_kind k, stylize_gen_mode mode)
{
    stylize_gen_arch_defaults(a, k, mode);
    a->scales = 3, a->channels = 8, a->width_mult = 0.25, a->blocks = 1;
}

/* Mean loss of the model's outputs over 4 samples of unseen noise (seeds
 * 1000..) for the content image (style models) through the same objective. */
static double eval_loss(const stylize_train_config *c, stylize_gen_model *m, const stylize_image *content)
{
    stylize_error e;
    stylize_objective_spec s;
    memset(&s, 0, sizeof s);
    s.pool = c->pool, s.width = s.height = S;
    s.n_content = content ? c->n_content : 0;
    memcpy(s.content, c->content_layers, sizeof s.content);
    s.n_style = c->n_style;
    memcpy(s.style, c->style_layers, sizeof s.style);
    s.alpha = c->alpha, s.beta = c->beta, s.normalise_by_target = 1;
    stylize_objective *obj;
    stylize_gen *g;
    float x[3 * S * S], gx[3 * S * S];
    CHECK(stylize_objective_create(&obj, c->weights, &s, NULL, &e) == STYLIZE_OK);
    stylize_image_to_input(c->style, &c->weights->input, x);
    CHECK(stylize_objective_add_style(obj, x, S, S, 1.0, &e) == STYLIZE_OK);
    CHECK(stylize_gen_create(&g, m, 1, S, S, 0, NULL, &e) == STYLIZE_OK);
    if (content) {
        memcpy(stylize_gen_content(g), content->data, sizeof x);
        stylize_image_to_input(content, &c->weights->input, x);
        CHECK(stylize_objective_set_content(obj, x, &e) == STYLIZE_OK);
    }
    double sum = 0;
    for (int k = 0; k < 4; k++) {
        stylize_rng r;
        stylize_rng_seed(&r, 1000 + (uint64_t)k);
        stylize_gen_forward(g, &r);
        size_t ns;
        stylize_train_to_input(&c->weights->input, stylize_gen_output(g, &ns), x, (size_t)S * S);
        double v;
        CHECK(stylize_objective_eval(obj, x, gx, &v, &e) == STYLIZE_OK);
        sum += v;
    }
    stylize_gen_free(g);
    stylize_objective_free(obj);
    return sum / 4;
}

static void test_texture(const stylize_weights *w)
{
    stylize_image tex;
    pattern(&tex, S, 0);
    stylize_train_config c;
    config(&c, w, &tex);
    c.iterations = 200;
    stylize_gen_arch a;
    small_arch(&a, STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_TEXTURE);
    stylize_gen_model m;
    stylize_error e;
    CHECK(stylize_gen_model_create(&m, &a, 1, NULL, &e) == STYLIZE_OK);
    double before = eval_loss(&c, &m, NULL);
    stylize_tnet_meta meta;
    stylize_tnet_meta_init(&meta);
    stylize_train_result res;
    stylize_status st = stylize_train(&c, &m, NULL, NULL, NULL, &meta, &res, &e);
    CHECK_MSG(st == STYLIZE_OK, "%s", e.msg);
    double after = eval_loss(&c, &m, NULL);
    CHECK_MSG(after * 5 < before, "texture loss on unseen noise %.4g -> %.4g", before, after);
    printf("texture: unseen-noise loss %.4g -> %.4g (%.1fx) in %.2f s\n", before, after, before / after, res.seconds);
    CHECK(res.steps == 200 && meta.steps == 200 && meta.size == S && meta.batch == 2);
    size_t est = stylize_train_memory_estimate(&c, &a);
    size_t params = 2 * m.params.n * sizeof(float);
    CHECK_MSG(est == res.memory_peak + params, "estimate %zu, plan %zu + model %zu", est, res.memory_peak, params);
    stylize_gen_model_free(&m);
    stylize_image_free(&tex);
}

/* Writes n training images (PNG, some of another size) and a bad file
 * into dir; paths[] receives them. */
static int write_set(const char *dir, char paths[][512], int n) /* dir: < 256 chars */
{
    stylize_error e;
    for (int i = 0; i < n; i++) {
        stylize_image img;
        pattern(&img, i % 2 ? 40 : 24, i + 1);
        snprintf(paths[i], 512, "%.256s/c%d.png", dir, i);
        if (stylize_image_save(&img, paths[i], 95, &e) != STYLIZE_OK)
            return -1;
        stylize_image_free(&img);
    }
    snprintf(paths[n], 512, "%.256s/broken.jpg", dir);
    FILE *f = fopen(paths[n], "wb");
    if (!f)
        return -1;
    fputs("not a jpeg", f);
    fclose(f);
    return n + 1;
}

static int warnings;
static void count_warn(void *user, stylize_log_level level, const char *msg)
{
    (void)user, (void)msg;
    warnings += level == STYLIZE_LOG_WARN;
}

static void test_style(const stylize_weights *w, const char *const *files, int n)
{
    stylize_image style, unseen;
    pattern(&style, S, 5);
    pattern(&unseen, S, 9);
    stylize_train_config c;
    config(&c, w, &style);
    c.files = files, c.n_files = n;
    c.iterations = 100;
    c.log.fn = count_warn;
    stylize_gen_arch a;
    small_arch(&a, STYLIZE_ARCH_RESIDUAL, STYLIZE_GEN_STYLE);
    stylize_gen_model m;
    stylize_error e;
    CHECK(stylize_gen_model_create(&m, &a, 2, NULL, &e) == STYLIZE_OK);
    double before = eval_loss(&c, &m, &unseen);
    stylize_tnet_meta meta;
    stylize_tnet_meta_init(&meta);
    stylize_train_result res;
    warnings = 0;
    stylize_status st = stylize_train(&c, &m, NULL, NULL, NULL, &meta, &res, &e);
    CHECK_MSG(st == STYLIZE_OK, "%s", e.msg);
    double after = eval_loss(&c, &m, &unseen);
    CHECK_MSG(after < before, "style model: unseen content's loss %.4g -> %.4g", before, after);
    printf("style: unseen content's loss %.4g -> %.4g in %.2f s\n", before, after, res.seconds);
    CHECK_MSG(res.skipped == 1 && warnings == 1, "skipped %lld, warnings %d", res.skipped, warnings);
    stylize_gen_model_free(&m);
    stylize_image_free(&style);
    stylize_image_free(&unseen);
}

/* N steps straight, or N/2 with a checkpoint, loaded and resumed to N. */
static void test_resume(const stylize_weights *w, stylize_gen_mode mode, const char *const *files, int n)
{
    char ck[512];
    snprintf(ck, sizeof ck, "%s/resume.tnet", tu_tmpdir());
    stylize_image style;
    pattern(&style, S, 2);
    stylize_train_config c;
    config(&c, w, &style);
    c.files = files, c.n_files = n;
    c.iterations = 8, c.lr_decay = 0.5, c.lr_decay_every = 3;
    stylize_gen_arch a;
    small_arch(&a, STYLIZE_ARCH_PYRAMID, mode);
    stylize_gen_model full, half, back;
    stylize_tnet_meta meta, ckm;
    stylize_error e;
    stylize_tnet_meta_init(&meta);
    CHECK(stylize_gen_model_create(&full, &a, 4, NULL, &e) == STYLIZE_OK);
    CHECK(stylize_train(&c, &full, NULL, NULL, NULL, &meta, NULL, &e) == STYLIZE_OK);
    CHECK(stylize_gen_model_create(&half, &a, 4, NULL, &e) == STYLIZE_OK);
    c.iterations = 4, c.checkpoint_path = ck, c.checkpoint_every = 4;
    CHECK(stylize_train(&c, &half, NULL, NULL, NULL, &meta, NULL, &e) == STYLIZE_OK);
    CHECK(stylize_tnet_load(ck, &back, &ckm, &e) == STYLIZE_OK);
    CHECK(ckm.checkpoint && ckm.steps == 4 && ckm.adam_steps == 4);
    CHECK(mode == STYLIZE_GEN_TEXTURE || ckm.data_position >= 8);
    c.iterations = 8, c.checkpoint_path = NULL, c.checkpoint_every = 0;
    CHECK(stylize_train(&c, &back, &ckm, NULL, NULL, &meta, NULL, &e) == STYLIZE_OK);
    CHECK(meta.steps == 8);
    CHECK_MSG(memcmp(back.params.value, full.params.value, full.params.n * sizeof(float)) == 0,
              "resumed %s model differs from the uninterrupted one", mode == STYLIZE_GEN_STYLE ? "style" : "texture");
    CHECK(memcmp(half.params.value, full.params.value, full.params.n * sizeof(float)) != 0);
    stylize_tnet_meta_free(&ckm);
    stylize_gen_model_free(&full);
    stylize_gen_model_free(&half);
    stylize_gen_model_free(&back);
    stylize_image_free(&style);
}

/* Crops: size, range, the same stream from a later start; no usable file. */
static void test_loader(const char *const *files, int n)
{
    stylize_loader *l, *l2;
    stylize_error e;
    stylize_loader_config lc = {n, files, 16, 9, 0, 3, {NULL, NULL}};
    CHECK(stylize_loader_create(&l, &lc, NULL, &e) == STYLIZE_OK);
    float a[3 * 16 * 16], b[3 * 16 * 16], saved[3 * 16 * 16];
    long long pos3 = 0;
    for (int i = 0; i < 2 * n; i++) {
        CHECK(stylize_loader_next(l, a, &e) == STYLIZE_OK);
        if (i == 2)
            pos3 = stylize_loader_position(l);
        if (i == 3)
            memcpy(saved, a, sizeof a);
    }
    float lo = 1, hi = 0;
    for (int i = 0; i < 3 * 16 * 16; i++)
        lo = fminf(lo, a[i]), hi = fmaxf(hi, a[i]);
    CHECK(lo > -0.2f && hi < 1.2f && hi - lo > 0.1f);
    CHECK(stylize_loader_skipped(l) == 1);
    stylize_loader_free(l);
    lc.start = pos3;
    CHECK(stylize_loader_create(&l2, &lc, NULL, &e) == STYLIZE_OK);
    CHECK(stylize_loader_next(l2, b, &e) == STYLIZE_OK);
    CHECK(memcmp(b, saved, sizeof b) == 0);
    stylize_loader_free(l2);
    const char *bad[2] = {files[n - 1], "/nonexistent.png"};
    stylize_loader_config lb = {2, bad, 16, 9, 0, 3, {NULL, NULL}};
    CHECK(stylize_loader_create(&l, &lb, NULL, &e) == STYLIZE_ERR_ARG && strstr(e.msg, "no usable image"));
}

int main(void)
{
    stylize_set_threads(1);
    stylize_weights *w = tiny_vgg();
    CHECK(w != NULL);
    if (!w)
        return TEST_SUMMARY();
    char dir[256], paths[8][512];
    snprintf(dir, sizeof dir, "%.200s/set", tu_tmpdir());
    mkdir(dir, 0755);
    int n = write_set(dir, paths, 5);
    CHECK(n == 6);
    const char *files[8];
    for (int i = 0; i < n; i++)
        files[i] = paths[i];
    test_loader(files, n);
    test_texture(w);
    test_style(w, files, n);
    test_resume(w, STYLIZE_GEN_TEXTURE, files, n);
    test_resume(w, STYLIZE_GEN_STYLE, files, n);
    stylize_weights_free(w);
    return TEST_SUMMARY();
}

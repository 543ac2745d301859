/* The .tnet model file (gen/model_file.h): round trips of models and
 * checkpoints of both architectures (parameters, moments and settings
 * bit for bit); every truncation, every byte flip of the blob and of the
 * prefix, a newer version, hostile headers (huge hyper-parameters, a
 * tensor table that lies, trailing bytes, non-finite values) are refused
 * with a message naming the file; a flip inside the header either fails or
 * loads the very same parameters. */
#include <sys/stat.h>

#include "core/fileutil.h"
#include "stylize/gen/model_file.h"
#include "testutil.h"

static unsigned char *file_bytes(const char *path, size_t *len)
{
    unsigned char *d;
    stylize_error e;
    if (stylize_file_read(path, 1u << 30, &d, len, &e) != STYLIZE_OK)
        return NULL;
    return d;
}

static void small_model(stylize_gen_model *m, stylize_arch_kind k, stylize_gen_mode mode)
{
    stylize_gen_arch a;
    stylize_error e;
    stylize_gen_arch_defaults(&a, k, mode);
    a.scales = 2, a.channels = 2, a.width_mult = 1.0 / 16, a.blocks = 1;
    CHECK(stylize_gen_model_create(m, &a, 4, NULL, &e) == STYLIZE_OK);
}

static void fill_meta(stylize_tnet_meta *t, size_t n, int checkpoint)
{
    stylize_tnet_meta_init(t);
    t->size = 256, t->batch = 4, t->iterations = 2000, t->learning_rate = 1e-3;
    t->alpha = 1, t->beta = 10, t->seed = 18446744073709551615ull;
    strcpy(t->style_name, "style.png");
    strcpy(t->style_sha256, "ab12");
    strcpy(t->content_layers, "relu4_2");
    t->steps = 77, t->final_loss = 12.5;
    if (checkpoint) {
        t->checkpoint = 1, t->adam_steps = 77, t->lr_now = 5e-4, t->skipped = 3;
        t->adam_m = malloc(n * sizeof(float));
        t->adam_v = malloc(n * sizeof(float));
        tu_fill(t->adam_m, n, 1, -1, 1);
        tu_fill(t->adam_v, n, 2, 0, 1);
    }
}

static void round_trip(stylize_arch_kind k, stylize_gen_mode mode, int checkpoint)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rt.tnet", tu_tmpdir());
    stylize_gen_model m, m2;
    stylize_tnet_meta t, t2;
    stylize_error e;
    small_model(&m, k, mode);
    fill_meta(&t, m.params.n, checkpoint);
    CHECK(stylize_tnet_save(path, &m, &t, &e) == STYLIZE_OK);
    CHECK(stylize_tnet_load(path, &m2, &t2, &e) == STYLIZE_OK);
    CHECK(m2.arch.kind == k && m2.arch.mode == mode && m2.params.n == m.params.n);
    CHECK(memcmp(m2.params.value, m.params.value, m.params.n * sizeof(float)) == 0);
    CHECK(t2.seed == t.seed && t2.steps == 77 && t2.final_loss == 12.5 && t2.checkpoint == checkpoint);
    CHECK(strcmp(t2.style_name, "style.png") == 0 && strcmp(t2.content_layers, "relu4_2") == 0);
    if (checkpoint) {
        CHECK(t2.adam_steps == 77 && t2.lr_now == 5e-4 && t2.skipped == 3);
        CHECK(memcmp(t2.adam_m, t.adam_m, m.params.n * sizeof(float)) == 0);
        CHECK(memcmp(t2.adam_v, t.adam_v, m.params.n * sizeof(float)) == 0);
    }
    stylize_gen_model_free(&m2);
    stylize_tnet_meta_free(&t2);
    stylize_tnet_meta_free(&t);
    stylize_gen_model_free(&m);
}

static stylize_status load_bytes(const unsigned char *b, size_t len, stylize_gen_model *m, stylize_error *e)
{
    stylize_tnet_meta t;
    stylize_status st = stylize_tnet_load_memory(b, len, "x.tnet", m, &t, e);
    stylize_tnet_meta_free(&t);
    return st;
}

/* Every truncation and every flip of the prefix and blob fails; flips in
 * the header fail or load the same parameters. */
static void hostile_bytes(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/h.tnet", tu_tmpdir());
    stylize_gen_model m, m2;
    stylize_tnet_meta t;
    stylize_error e;
    small_model(&m, STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_TEXTURE);
    fill_meta(&t, m.params.n, 1);
    CHECK(stylize_tnet_save(path, &m, &t, &e) == STYLIZE_OK);
    size_t len;
    unsigned char *b = file_bytes(path, &len);
    CHECK(b != NULL);
    if (!b)
        return;
    uint32_t hlen;
    memcpy(&hlen, b + 12, 4);
    int trunc_ok = 1, flip_ok = 1, header_ok = 1, named = 1;
    for (size_t n = 0; n < len; n++) {
        if (load_bytes(b, n, &m2, &e) != STYLIZE_ERR_FORMAT)
            trunc_ok = 0;
        named &= strstr(e.msg, "x.tnet") != NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char *c = malloc(len);
        memcpy(c, b, len);
        c[i] ^= (unsigned char)(1u << (i % 8));
        stylize_status st = load_bytes(c, len, &m2, &e);
        if (i < 16 || i >= 16 + hlen) {
            flip_ok &= st == STYLIZE_ERR_FORMAT;
        } else if (st == STYLIZE_OK) {
            header_ok &= m2.params.n == m.params.n &&
                         memcmp(m2.params.value, m.params.value, m.params.n * sizeof(float)) == 0;
            stylize_gen_model_free(&m2);
        } else {
            header_ok &= st == STYLIZE_ERR_FORMAT;
        }
        free(c);
    }
    CHECK(trunc_ok);
    CHECK(flip_ok);
    CHECK(header_ok);
    CHECK(named);
    /* trailing bytes */
    unsigned char *c = malloc(len + 4);
    memcpy(c, b, len);
    memset(c + len, 0, 4);
    CHECK(load_bytes(c, len + 4, &m2, &e) == STYLIZE_ERR_FORMAT && strstr(e.msg, "trailing"));
    /* a newer version */
    uint32_t v = STYLIZE_TNET_VERSION + 1;
    memcpy(c + 8, &v, 4);
    CHECK(load_bytes(c, len, &m2, &e) == STYLIZE_ERR_FORMAT && strstr(e.msg, "version 2"));
    free(c);
    free(b);
    stylize_tnet_meta_free(&t);
    stylize_gen_model_free(&m);
}

/* Writes a file with the header edited: text from -> to (first match). */
static stylize_status load_edited(const char *path, const char *from, const char *to, stylize_error *e)
{
    size_t len;
    unsigned char *b = file_bytes(path, &len);
    if (!b)
        return STYLIZE_ERR_IO;
    uint32_t hlen;
    memcpy(&hlen, b + 12, 4);
    char *hdr = calloc(hlen + 1, 1);
    memcpy(hdr, b + 16, hlen);
    char *at = strstr(hdr, from);
    size_t nl = hlen + strlen(to) - (at ? strlen(from) : 0);
    unsigned char *o = malloc(16 + nl + (len - 16 - hlen));
    size_t pre = at ? (size_t)(at - hdr) : hlen;
    memcpy(o, b, 16);
    memcpy(o + 16, hdr, pre);
    memcpy(o + 16 + pre, to, at ? strlen(to) : 0);
    size_t rest = at ? hlen - pre - strlen(from) : 0;
    memcpy(o + 16 + pre + (at ? strlen(to) : 0), hdr + pre + (at ? strlen(from) : 0), rest);
    uint32_t nl32 = (uint32_t)(at ? nl : hlen);
    memcpy(o + 12, &nl32, 4);
    memcpy(o + 16 + nl32, b + 16 + hlen, len - 16 - hlen);
    stylize_gen_model m;
    stylize_status st = load_bytes(o, 16 + nl32 + (len - 16 - hlen), &m, e);
    if (st == STYLIZE_OK)
        stylize_gen_model_free(&m);
    free(o), free(hdr), free(b);
    return at ? st : STYLIZE_ERR_INTERNAL;
}

static void hostile_headers(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/e.tnet", tu_tmpdir());
    stylize_gen_model m;
    stylize_tnet_meta t;
    stylize_error e;
    small_model(&m, STYLIZE_ARCH_RESIDUAL, STYLIZE_GEN_STYLE);
    fill_meta(&t, m.params.n, 0);
    CHECK(stylize_tnet_save(path, &m, &t, &e) == STYLIZE_OK);
    CHECK(load_edited(path, "\"model\"", "\"model\"", &e) == STYLIZE_OK);
    CHECK(load_edited(path, "\"blocks\":\t1", "\"blocks\":\t100000000", &e) == STYLIZE_ERR_FORMAT);
    CHECK(load_edited(path, "\"blocks\":\t1", "\"blocks\":\t2", &e) == STYLIZE_ERR_FORMAT);
    CHECK(strstr(e.msg, "tensor table") || strstr(e.msg, "blob"));
    CHECK(load_edited(path, "\"residual\"", "\"unet\"", &e) == STYLIZE_ERR_FORMAT);
    CHECK(load_edited(path, "\"count\":\t", "\"count\":\t1e15+", &e) == STYLIZE_ERR_FORMAT);
    CHECK(load_edited(path, "\"tensors\"", "\"tensorz\"", &e) == STYLIZE_ERR_FORMAT);
    CHECK(load_edited(path, "\"model\"", "\"checkpoint\"", &e) == STYLIZE_ERR_FORMAT);
    CHECK(load_edited(path, "{", "[", &e) == STYLIZE_ERR_FORMAT);
    /* non-finite values with a matching checksum */
    m.params.value[3] = NAN;
    CHECK(stylize_tnet_save(path, &m, &t, &e) == STYLIZE_OK);
    stylize_gen_model m2;
    stylize_tnet_meta t2;
    CHECK(stylize_tnet_load(path, &m2, &t2, &e) == STYLIZE_ERR_FORMAT && strstr(e.msg, "non-finite"));
    CHECK(stylize_tnet_load("/nonexistent/x.tnet", &m2, &t2, &e) == STYLIZE_ERR_IO);
    CHECK(m2.desc == NULL && m2.params.value == NULL);
    stylize_tnet_meta_free(&t);
    stylize_gen_model_free(&m);
}

int main(void)
{
    round_trip(STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_TEXTURE, 0);
    round_trip(STYLIZE_ARCH_PYRAMID, STYLIZE_GEN_STYLE, 1);
    round_trip(STYLIZE_ARCH_RESIDUAL, STYLIZE_GEN_TEXTURE, 1);
    round_trip(STYLIZE_ARCH_RESIDUAL, STYLIZE_GEN_STYLE, 0);
    hostile_bytes();
    hostile_headers();
    return TEST_SUMMARY();
}

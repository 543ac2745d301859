/* libFuzzer harness: the Texture Network model file (.tnet) parser,
 * through stylize_tnet_load_memory (gen/model_file.h).
 *
 * Input: the file's bytes, as is (a finding replays as a real .tnet file).
 * Seeds: make_corpus.sh's tnet/ (small pyramid and residual, texture and
 * style models and checkpoints written by stylize_tnet_save, from
 * make_seeds.c).
 *
 * The header carries the blob's SHA-256, which a mutation almost never
 * keeps right, so nothing past the checksum would be reached. When the
 * header holds a recognisable "blob_sha256": "<64 hex digits>" whose value
 * is not the SHA-256 of the bytes after the header, the input is loaded a
 * second time with that value replaced by the right one (same length, so
 * the header length still holds): the fuzzer then explores the blob's
 * checks (size, non-finite values, moments) and edited headers over a
 * valid checksum.
 *
 * Every load must either fail with a status, a matching non-empty message
 * naming the file ("fuzz.tnet"), and nothing left allocated (the model and
 * the moments zeroed; LeakSanitizer sees the rest), or succeed with:
 *   - an architecture that passes stylize_gen_arch_check, a description,
 *     an output node inside it;
 *   - params.n == stylize_graph_desc_param_floats(desc), values present
 *     and every one finite and bit-identical to the blob's float at its
 *     place; the blob exactly n floats (model) or 3n (checkpoint);
 *   - for a checkpoint, adam_m and adam_v present, finite and equal to the
 *     blob's second and third thirds; for a model, neither;
 *   - NUL-terminated strings;
 *   - a round trip: stylize_tnet_save of the result, then stylize_tnet_load
 *     of that file, gives the same architecture, parameters, moments and
 *     settings.
 * A violation aborts (fuzz_fail), so libFuzzer records the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "stylize/core/sha256.h"
#include "stylize/gen/model_file.h"

#define NAME "fuzz.tnet"
#define PREFIX 16 /* magic, version, header length */

static char save_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_path(save_path, sizeof save_path, "rt.tnet");
    return 0;
}

static float le_float(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t le_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* x (n floats) must be finite and bit-identical to the n floats at blob. */
static void check_values(const float *x, size_t n, const uint8_t *blob, const char *what)
{
    if (!x)
        fuzz_fail("%s: NULL", what);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            fuzz_fail("%s[%zu] = %g is not finite", what, i, (double)x[i]);
        float f = le_float(blob + 4 * i);
        if (memcmp(&f, &x[i], sizeof f) != 0)
            fuzz_fail("%s[%zu] = %a, the file holds %a", what, i, (double)x[i], (double)f);
    }
}

#define CHECK_STR(field)                                                                   \
    do {                                                                                   \
        if (!memchr(t->field, '\0', sizeof t->field))                                      \
            fuzz_fail("%s: meta." #field " is not NUL-terminated", what);                  \
    } while (0)

static void check_strings(const stylize_tnet_meta *t, const char *what)
{
    CHECK_STR(pool);
    CHECK_STR(content_layers);
    CHECK_STR(style_layers);
    CHECK_STR(precision);
    CHECK_STR(style_name);
    CHECK_STR(style_sha256);
    CHECK_STR(weights);
    CHECK_STR(weights_sha256);
    CHECK_STR(created_by);
}

/* Everything a caller may rely on after a successful load of data. */
static void check_loaded(const stylize_gen_model *m, const stylize_tnet_meta *t,
                         const uint8_t *data, size_t size, const char *what)
{
    stylize_error e = {STYLIZE_OK, ""};
    if (!m->desc)
        fuzz_fail("%s: success but no graph description", what);
    if (stylize_gen_arch_check(&m->arch, &e) != STYLIZE_OK)
        fuzz_fail("%s: success with an invalid architecture: %s", what, e.msg);
    int nodes = stylize_graph_desc_nodes(m->desc);
    if (m->output < 0 || m->output >= nodes)
        fuzz_fail("%s: output node %d of %d", what, m->output, nodes);
    size_t n = stylize_graph_desc_param_floats(m->desc);
    if (m->params.n != n)
        fuzz_fail("%s: params.n = %zu but the description has %zu floats", what, m->params.n, n);
    if (n == 0 || !m->params.value)
        fuzz_fail("%s: %zu parameters, value %p", what, n, (void *)m->params.value);
    /* The blob: what follows the header, exactly n or 3n floats. */
    if (size < PREFIX)
        fuzz_fail("%s: success on %zu bytes", what, size);
    uint32_t hlen = le_u32(data + 12);
    if (hlen > size - PREFIX)
        fuzz_fail("%s: success with header length %u in %zu bytes", what, hlen, size);
    size_t blob = size - PREFIX - hlen, thirds = t->checkpoint ? 3 : 1;
    if (n > SIZE_MAX / 4 / thirds || blob != n * 4 * thirds)
        fuzz_fail("%s: %zu parameters (%s) but %zu bytes of blob", what, n,
                  t->checkpoint ? "checkpoint" : "model", blob);
    const uint8_t *b = data + PREFIX + hlen;
    check_values(m->params.value, n, b, "params");
    if (t->checkpoint) {
        if (!t->adam_m || !t->adam_v)
            fuzz_fail("%s: a checkpoint without its moments (adam_m %p, adam_v %p)", what,
                      (void *)t->adam_m, (void *)t->adam_v);
        check_values(t->adam_m, n, b + 4 * n, "adam_m");
        check_values(t->adam_v, n, b + 8 * n, "adam_v");
    } else if (t->adam_m || t->adam_v) {
        fuzz_fail("%s: a model with moments", what);
    }
    check_strings(t, what);
}

static int same_meta(const stylize_tnet_meta *a, const stylize_tnet_meta *b)
{
#define EQ(f) (a->f == b->f)
#define SEQ(f) (strcmp(a->f, b->f) == 0)
    return EQ(size) && EQ(batch) && EQ(iterations) && EQ(learning_rate) && EQ(lr_decay) &&
           EQ(lr_decay_every) && EQ(alpha) && EQ(beta) && EQ(tv) && EQ(style_size) && SEQ(pool) &&
           SEQ(content_layers) && SEQ(style_layers) && EQ(random_features) && EQ(seed) &&
           SEQ(precision) && SEQ(style_name) && SEQ(style_sha256) && SEQ(weights) &&
           SEQ(weights_sha256) && EQ(steps) && EQ(final_loss) && SEQ(created_by) &&
           EQ(checkpoint) && EQ(adam_steps) && EQ(lr_now) && EQ(skipped) && EQ(data_position);
#undef EQ
#undef SEQ
}

/* Save what was loaded and load it back: the same model and settings. */
static void round_trip(const stylize_gen_model *m, const stylize_tnet_meta *t, const char *what)
{
    stylize_error e = {STYLIZE_OK, ""};
    stylize_gen_model m2;
    stylize_tnet_meta t2;
    if (stylize_tnet_save(save_path, m, t, &e) != STYLIZE_OK)
        fuzz_fail("%s: a loaded model does not save: %s", what, e.msg);
    if (stylize_tnet_load(save_path, &m2, &t2, &e) != STYLIZE_OK)
        fuzz_fail("%s: a saved model does not load back: %s", what, e.msg);
    const stylize_gen_arch *x = &m->arch, *y = &m2.arch;
    size_t n = m->params.n, bytes = n * sizeof(float);
    if (x->kind != y->kind || x->mode != y->mode || x->scales != y->scales ||
        x->channels != y->channels || x->slope != y->slope || x->width_mult != y->width_mult ||
        x->blocks != y->blocks)
        fuzz_fail("%s: the architecture changed in a save and load", what);
    if (m2.params.n != n || memcmp(m2.params.value, m->params.value, bytes) != 0)
        fuzz_fail("%s: the parameters changed in a save and load", what);
    if (!same_meta(t, &t2))
        fuzz_fail("%s: the settings changed in a save and load", what);
    if (t->checkpoint && (!t2.adam_m || !t2.adam_v || memcmp(t2.adam_m, t->adam_m, bytes) != 0 ||
                          memcmp(t2.adam_v, t->adam_v, bytes) != 0))
        fuzz_fail("%s: the moments changed in a save and load", what);
    stylize_tnet_meta_free(&t2);
    stylize_gen_model_free(&m2);
}

static void load_one(const uint8_t *data, size_t size, const char *what)
{
    stylize_gen_model m;
    stylize_tnet_meta t;
    stylize_error err = {STYLIZE_OK, ""};
    memset(&m, 0x5a, sizeof m); /* must be reset by the loader */
    memset(&t, 0x5a, sizeof t);
    stylize_status s = stylize_tnet_load_memory(data, size, NAME, &m, &t, &err);
    if (s != STYLIZE_OK) {
        fuzz_check_error(&err, s, what);
        if (!strstr(err.msg, NAME))
            fuzz_fail("%s: the message does not name the file: %s", what, err.msg);
        if (m.desc || m.params.value || m.params.grad || t.adam_m || t.adam_v)
            fuzz_fail("%s: failed (%s) but left desc %p, value %p, grad %p, adam_m %p, adam_v %p",
                      what, err.msg, (void *)m.desc, (void *)m.params.value,
                      (void *)m.params.grad, (void *)t.adam_m, (void *)t.adam_v);
        return;
    }
    check_loaded(&m, &t, data, size, what);
    round_trip(&m, &t, what);
    stylize_tnet_meta_free(&t);
    stylize_gen_model_free(&m);
}

static int is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Offset of the 64 hex digits of the header's first "blob_sha256": "..."
 * (inside data[PREFIX, PREFIX + hlen)), or 0 if there is none. */
static size_t sha_offset(const uint8_t *data, size_t hend)
{
    static const char key[] = "\"blob_sha256\"";
    const size_t klen = sizeof key - 1;
    for (size_t i = PREFIX; i + klen <= hend; i++) {
        if (memcmp(data + i, key, klen) != 0)
            continue;
        size_t j = i + klen;
        while (j < hend && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r'))
            j++;
        if (j >= hend || data[j] != ':')
            return 0;
        j++;
        while (j < hend && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r'))
            j++;
        if (j >= hend || data[j] != '"' || hend - (j + 1) < 65)
            return 0;
        j++;
        for (size_t k = 0; k < 64; k++)
            if (!is_hex(data[j + k]))
                return 0;
        return data[j + 64] == '"' ? j : 0;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_one(data, size, "tnet load");

    /* The same input with the blob's checksum made right. */
    if (size < PREFIX || memcmp(data, "STYLTNET", 8) != 0)
        return 0;
    uint32_t hlen = le_u32(data + 12);
    if (hlen > size - PREFIX)
        return 0;
    size_t hend = PREFIX + (size_t)hlen, at = sha_offset(data, hend);
    if (!at)
        return 0;
    stylize_sha256 s;
    unsigned char d[32];
    char hex[65];
    stylize_sha256_init(&s);
    stylize_sha256_update(&s, data + hend, size - hend);
    stylize_sha256_final(&s, d);
    stylize_sha256_hex(d, hex);
    if (memcmp(data + at, hex, 64) == 0)
        return 0; /* already right: loaded above */
    uint8_t *fixed = malloc(size);
    if (!fixed) {
        fprintf(stderr, "fuzz_tnet: out of memory\n");
        abort();
    }
    memcpy(fixed, data, size);
    memcpy(fixed + at, hex, 64);
    load_one(fixed, size, "tnet load (checksum fixed)");
    free(fixed);
    return 0;
}

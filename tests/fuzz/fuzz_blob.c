/* libFuzzer harness: the native weights blob, through stylize_weights_load
 * with a fixed valid manifest.
 *
 * At startup a small random network (widths divided by 64) is saved by
 * stylize_weights_save as "w.json" + "w.bin" in a per-process scratch
 * directory; each input then replaces w.bin and w.json is loaded. The seed
 * is make_corpus.sh's blob/valid.bin (the same w.bin, 20000 bytes).
 *
 * stylize_weights_save lays the blob out as conv1_1 weight, conv1_1 bias,
 * conv1_2 weight, ... so on success every loaded value must equal the
 * little-endian float32 at its place in the input, and the input must have
 * exactly the manifest's blob_bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "stylize/vgg/weights.h"

static char manifest_path[4200];
static char blob_path[4200];
static size_t blob_bytes;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    stylize_weights *w = NULL;
    stylize_error err = {STYLIZE_OK, ""};
    fuzz_path(manifest_path, sizeof manifest_path, "w.json");
    fuzz_path(blob_path, sizeof blob_path, "w.bin");
    if (stylize_weights_random(&w, 1, 64, &err) != STYLIZE_OK ||
        stylize_weights_save(w, manifest_path, &err) != STYLIZE_OK) {
        fprintf(stderr, "fuzz_blob: cannot write the reference network: %s\n", err.msg);
        abort();
    }
    stylize_weights_free(w);
    free(fuzz_read_file(blob_path, &blob_bytes));
    if (stylize_weights_load(&w, manifest_path, &err) != STYLIZE_OK) {
        fprintf(stderr, "fuzz_blob: the reference network does not load: %s\n", err.msg);
        abort();
    }
    fuzz_check_weights(w, "reference network");
    stylize_weights_free(w);
    return 0;
}

static float le_float(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Values x (n floats) must be bit-identical to the n floats at data + off. */
static void check_same(const float *x, size_t n, const uint8_t *data, size_t size, size_t off,
                       const char *layer, const char *what)
{
    if (off > size || n > (size - off) / 4)
        fuzz_fail("blob: %s %s would lie past the end of a %zu-byte blob that loaded", layer, what,
                  size);
    for (size_t i = 0; i < n; i++) {
        float f = le_float(data + off + 4 * i);
        if (memcmp(&f, &x[i], sizeof f) != 0)
            fuzz_fail("blob: %s %s[%zu] is %g, the file holds %g", layer, what, i, (double)x[i],
                      (double)f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stylize_weights *w = (stylize_weights *)(uintptr_t)1; /* must be reset */
    stylize_error err = {STYLIZE_OK, ""};
    fuzz_write_file(blob_path, data, size);
    stylize_status s = stylize_weights_load(&w, manifest_path, &err);
    if (s != STYLIZE_OK) {
        fuzz_check_error(&err, s, "weights load");
        if (w)
            fuzz_fail("weights load failed but returned weights");
        return 0;
    }
    fuzz_check_weights(w, "weights load");
    if (size != blob_bytes)
        fuzz_fail("blob of %zu bytes loaded, the manifest says %zu", size, blob_bytes);
    size_t off = 0;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        const stylize_conv_layer *l = &w->layers[i];
        size_t nw = (size_t)l->out_ch * (size_t)l->in_ch * 9, nb = (size_t)l->out_ch;
        check_same(l->weight, nw, data, size, off, l->name, "weight");
        off += 4 * nw;
        check_same(l->bias, nb, data, size, off, l->name, "bias");
        off += 4 * nb;
    }
    stylize_weights_free(w);
    return 0;
}

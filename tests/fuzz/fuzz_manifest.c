/* libFuzzer harness: the native weights manifest (JSON) parser and
 * validator, through stylize_weights_load.
 *
 * The loader takes a path, so each input is written to "m.json" in a
 * per-process scratch directory. At startup that directory also receives a
 * valid small network saved by stylize_weights_save as "w.json" + "w.bin"
 * (random weights, widths divided by 64: a 20000-byte blob), so a manifest
 * naming "w.bin" with matching offsets loads for real. A seed manifest is
 * tests/fuzz/make_corpus.sh's manifest/valid.json (the same w.json).
 *
 * On success the network must satisfy fuzz_check_weights; a failure must
 * come with an error message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "stylize/vgg/weights.h"

static char manifest_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char valid[4200];
    stylize_weights *w = NULL;
    stylize_error err = {STYLIZE_OK, ""};
    fuzz_path(valid, sizeof valid, "w.json");
    fuzz_path(manifest_path, sizeof manifest_path, "m.json");
    if (stylize_weights_random(&w, 1, 64, &err) != STYLIZE_OK ||
        stylize_weights_save(w, valid, &err) != STYLIZE_OK) {
        fprintf(stderr, "fuzz_manifest: cannot write the reference network: %s\n", err.msg);
        abort();
    }
    stylize_weights_free(w);
    /* The reference manifest must load: otherwise every input is noise. */
    if (stylize_weights_load(&w, valid, &err) != STYLIZE_OK) {
        fprintf(stderr, "fuzz_manifest: the reference network does not load: %s\n", err.msg);
        abort();
    }
    fuzz_check_weights(w, "reference network");
    stylize_weights_free(w);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stylize_weights *w = (stylize_weights *)(uintptr_t)1; /* must be reset */
    stylize_error err = {STYLIZE_OK, ""};
    fuzz_write_file(manifest_path, data, size);
    stylize_status s = stylize_weights_load(&w, manifest_path, &err);
    if (s != STYLIZE_OK) {
        fuzz_check_error(&err, s, "weights load");
        if (w)
            fuzz_fail("weights load failed but returned weights");
        return 0;
    }
    fuzz_check_weights(w, "weights load");
    stylize_weights_free(w);
    return 0;
}

/* Shared by fuzz_torch.c and fuzz_caffe.c: one importer run on fuzzed
 * bytes, from memory and from a file, with the two results compared.
 *
 * stylize_import_memory and stylize_import_file share the parsers but not
 * the reader (a memory buffer versus a FILE* with a read-ahead window), so
 * they must agree: the same status, and on success the same network bit for
 * bit. Any success must satisfy fuzz_check_weights and carry the expected
 * input convention. */
#ifndef STYLIZE_FUZZ_IMPORT_H
#define STYLIZE_FUZZ_IMPORT_H

#include "fuzz_common.h"
#include "stylize/vgg/import.h"

static char fuzz_import_path[4200];

static inline void fuzz_import_both(const uint8_t *data, size_t size, stylize_import_format fmt)
{
    stylize_weights *wm = (stylize_weights *)(uintptr_t)1, *wf = (stylize_weights *)(uintptr_t)1;
    stylize_error em = {STYLIZE_OK, ""}, ef = {STYLIZE_OK, ""};

    if (!fuzz_import_path[0])
        fuzz_path(fuzz_import_path, sizeof fuzz_import_path, "input.pth");
    /* The memory import gets the file's name so that both set the same
     * source string. */
    stylize_status sm = stylize_import_memory(&wm, data, size, "input.pth", fmt, &em);
    if (sm != STYLIZE_OK) {
        fuzz_check_error(&em, sm, "import from memory");
        if (wm)
            fuzz_fail("import from memory failed but returned weights");
    } else {
        fuzz_check_weights(wm, "import from memory");
    }

    fuzz_write_file(fuzz_import_path, data, size);
    stylize_status sf = stylize_import_file(&wf, fuzz_import_path, fmt, &ef);
    if (sf != STYLIZE_OK) {
        fuzz_check_error(&ef, sf, "import from file");
        if (wf)
            fuzz_fail("import from file failed but returned weights");
    } else {
        fuzz_check_weights(wf, "import from file");
    }

    if (sm != sf)
        fuzz_fail("import status differs: memory %d (%s), file %d (%s)", (int)sm,
                  sm ? em.msg : "ok", (int)sf, sf ? ef.msg : "ok");
    if (sm == STYLIZE_OK) {
        if (!fuzz_same_weights(wm, wf))
            fuzz_fail("memory and file imports give different networks");
        if (strcmp(wm->source, wf->source) != 0)
            fuzz_fail("memory and file imports give different sources: '%s' / '%s'", wm->source,
                      wf->source);
        /* Caffe files carry Caffe's convention, torch files torchvision's. */
        int caffe = fmt == STYLIZE_IMPORT_CAFFE ||
                    (fmt == STYLIZE_IMPORT_AUTO &&
                     stylize_import_detect(data, size) == STYLIZE_IMPORT_CAFFE);
        stylize_input_convention want;
        memset(&want, 0, sizeof want);
        if (caffe)
            stylize_convention_caffe(&want);
        else
            stylize_convention_torchvision(&want);
        if (memcmp(&want, &wm->input, sizeof want) != 0)
            fuzz_fail("import: input convention is not %s's", caffe ? "Caffe" : "torchvision");
    }
    /* Both are NULL or valid here: a failure that left *out set aborted above. */
    stylize_weights_free(wm);
    stylize_weights_free(wf);
}

#endif

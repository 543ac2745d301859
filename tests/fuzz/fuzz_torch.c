/* libFuzzer harness: the PyTorch checkpoint importers (zip-based and legacy
 * torch.save streams, and the pickle machine under both).
 *
 * Input: one selector byte, then the file's bytes. The selector picks the
 * format passed to the importer: 0 STYLIZE_IMPORT_AUTO, 1 TORCH_ZIP,
 * 2 TORCH_LEGACY (value modulo 3). make_corpus.sh writes its torch seeds
 * with a leading 0x00; to replay a finding as a real file, drop the first
 * byte (tail -c +2 crash-... > crash.pth).
 *
 * Each input is imported from memory and from a file and the results are
 * compared (fuzz_import.h). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const stylize_import_format fmts[3] = {STYLIZE_IMPORT_AUTO, STYLIZE_IMPORT_TORCH_ZIP,
                                                  STYLIZE_IMPORT_TORCH_LEGACY};
    if (size < 1)
        return 0;
    fuzz_import_both(data + 1, size - 1, fmts[data[0] % 3]);
    return 0;
}

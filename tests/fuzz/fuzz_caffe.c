/* libFuzzer harness: the Caffe .caffemodel importer (protobuf, V1 `layers`
 * and current `layer` fields), with the format forced to
 * STYLIZE_IMPORT_CAFFE so that every input reaches the protobuf parser.
 *
 * Input: the file's bytes. Each input is imported from memory and from a
 * file and the results are compared (fuzz_import.h). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_import_both(data, size, STYLIZE_IMPORT_CAFFE);
    return 0;
}

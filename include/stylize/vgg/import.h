/* stylize: importers of published VGG-19 files into stylize_weights.
 *
 * - PyTorch checkpoints written by torch.save, zip-based (torch >= 1.6) and
 *   legacy (e.g. torchvision's vgg19-dcbb9e9d.pth): a state dict with keys
 *   features.N.weight / features.N.bias for N = 0, 2, 5, 7, 10, 12, 14, 16,
 *   19, 21, 23, 25, 28, 30, 32, 34 (conv1_1 .. conv5_4). Other tensors are
 *   skipped without being read. Input convention: torchvision's.
 * - Caffe .caffemodel files (protobuf; V1 `layers` and current `layer`
 *   fields) with layers named conv1_1 .. conv5_4. Input convention: Caffe's.
 *
 * Every size read from a file is checked against the file's length and
 * against VGG-19's shapes before anything is allocated. */
#ifndef STYLIZE_IMPORT_H
#define STYLIZE_IMPORT_H

#include "stylize/core/status.h"
#include "stylize/vgg/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    STYLIZE_IMPORT_AUTO = 0,   /* detect from the content */
    STYLIZE_IMPORT_TORCH_ZIP,
    STYLIZE_IMPORT_TORCH_LEGACY,
    STYLIZE_IMPORT_CAFFE
} stylize_import_format;

/* Detects the format of the bytes (STYLIZE_IMPORT_AUTO if unknown). */
stylize_import_format stylize_import_detect(const unsigned char *bytes, size_t len);

/* Imports a file. *out is owned by the caller: free with stylize_weights_free. */
stylize_status stylize_import_file(stylize_weights **out, const char *path, stylize_import_format fmt,
                                   stylize_error *err);

/* Imports from memory (name is used in messages). Same ownership. */
stylize_status stylize_import_memory(stylize_weights **out, const unsigned char *bytes, size_t len,
                                     const char *name, stylize_import_format fmt, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* stylize: the Texture Network model file (.tnet), documented in
 * weights/README.md ("Model files").
 *
 * Layout: the 8 bytes "STYLTNET", a little-endian uint32 format version,
 * a uint32 header length L, L bytes of JSON (the header), then the tensor
 * blob: little-endian float32, blob_floats of them, and nothing after it.
 * The header names the architecture and its hyper-parameters (enough to
 * rebuild the graph), the input and output conventions, the training
 * settings, the provenance (SHA-256 of the style image and of the VGG
 * weights, steps, final loss), every tensor (node, op, which, shape,
 * offset, count: exactly the parameter layout of the rebuilt graph), and
 * the SHA-256 of the blob. A checkpoint is the same file with kind
 * "checkpoint": the blob then holds the parameters followed by Adam's two
 * moment vectors, and the header the step count and the schedule's state.
 *
 * Files are written atomically (a temporary file renamed into place), so a
 * crash at any moment leaves either the old file or the new one. Loading
 * refuses, with one message naming the file: a wrong magic, a newer
 * version, a header that is not JSON or lacks a field, hyper-parameters out
 * of range, a tensor table that differs from the architecture's, a size
 * that is not exactly the header's, a checksum mismatch, non-finite
 * values. */
#ifndef STYLIZE_MODEL_FILE_H
#define STYLIZE_MODEL_FILE_H

#include "stylize/core/status.h"
#include "stylize/gen/generator.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_TNET_VERSION 1
#define STYLIZE_TNET_MAX_HEADER (1u << 22) /* bytes of JSON */

/* What a model file says besides its architecture and parameters. Strings
 * are NUL-terminated, truncated to their buffers. */
typedef struct {
    /* training settings */
    int size, batch, iterations;   /* crop side, images per step, planned steps */
    double learning_rate, lr_decay;
    int lr_decay_every;
    double alpha, beta, tv;
    int style_size;
    char pool[8];                  /* "avg" / "max" */
    char content_layers[512], style_layers[512];
    int random_features;           /* per-layer losses normalised by target energy */
    unsigned long long seed;
    char precision[8];             /* "fp32" */
    /* provenance */
    char style_name[256];          /* the style image's file name (no directory) */
    char style_sha256[65];
    char weights[256];             /* "random:SEED" or the manifest's file name */
    char weights_sha256[65];       /* of the weights blob; "" for random weights */
    long long steps;               /* training steps done */
    double final_loss;             /* mean loss over the last steps */
    char created_by[64];           /* "stylize 0.x" */
    /* checkpoints only */
    int checkpoint;                /* kind "checkpoint" */
    long long adam_steps;          /* Adam's step count (bias correction) */
    double lr_now;                 /* the schedule's current learning rate */
    long long skipped;             /* training files skipped so far */
    long long data_position;       /* the data loader's stream position */
    float *adam_m, *adam_v;        /* (params) each; owned: stylize_tnet_meta_free */
} stylize_tnet_meta;

/* Zeroes *meta and sets the strings to "" and precision to "fp32". */
void stylize_tnet_meta_init(stylize_tnet_meta *meta);
/* Frees the moments a checkpoint load allocated (and zeroes them). */
void stylize_tnet_meta_free(stylize_tnet_meta *meta);

/* Writes m with meta atomically to path. With meta->checkpoint, meta's
 * adam_m and adam_v (m->params.n floats each, borrowed) are written too. */
stylize_status stylize_tnet_save(const char *path, const stylize_gen_model *m,
                                 const stylize_tnet_meta *meta, stylize_error *err);

/* Loads path: rebuilds the architecture into *m (owned by the caller: free
 * with stylize_gen_model_free; parameters through malloc) and fills *meta
 * (for a checkpoint its moments are allocated: stylize_tnet_meta_free). On
 * failure nothing is left allocated. Errors: STYLIZE_ERR_IO (unreadable),
 * STYLIZE_ERR_FORMAT (everything listed above), STYLIZE_ERR_NOMEM. */
stylize_status stylize_tnet_load(const char *path, stylize_gen_model *m, stylize_tnet_meta *meta,
                                 stylize_error *err);
/* As stylize_tnet_load from len bytes in memory (name used in messages). */
stylize_status stylize_tnet_load_memory(const unsigned char *bytes, size_t len, const char *name,
                                        stylize_gen_model *m, stylize_tnet_meta *meta,
                                        stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

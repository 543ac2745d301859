/* The stylize command's file helpers: comma lists, content paths (files,
 * directories, @LIST files), the weights lookup, output checks and image
 * loading. Errors print one line "stylize: ..." naming the flag or file. */
#ifndef STYLIZE_CLI_INPUTS_H
#define STYLIZE_CLI_INPUTS_H

#include <stddef.h>

#include "stylize/io/image.h"
#include "stylize/style/objective.h"
#include "stylize/vgg/weights.h"

/* Splits the comma list in buf (modified) into at most max items, pointers
 * into buf. Returns the count, or -1 if there are more than max. */
int cli_split_list(char *buf, char **items, int max);

/* Expands content arguments (image files, directories of images in name
 * order, @LIST files of one path a line) into a list of paths owned by
 * the caller (cli_free_list). Returns 0, or -1 after printing the error. */
int cli_expand_contents(char **args, int nargs, char ***out, int *nout);
void cli_free_list(char **list, int n);

/* The weights manifest to use: flag, else $STYLIZE_WEIGHTS, else
 * ./weights/vgg19.json, else the data directory's (written to buf); NULL
 * if none of the files exists. */
const char *cli_find_weights(const char *flag, char *buf, size_t cap);

/* The deepest layer index among two layer lists (-1 for none). */
int cli_deepest_layer(const stylize_layer_weight *a, int na, const stylize_layer_weight *b, int nb);

/* Weights for --weights FLAG: random[:SEED] (then *random_features = 1, and
 * unless quiet a line says so) or the manifest cli_find_weights gives;
 * then only the convolutions up to layer deepest stay. name (256, or
 * NULL) receives "random:SEED" or the manifest's file name, sha (65, or
 * NULL) the SHA-256 of the values before trimming. Errors print one line
 * "WHO: ..." and return EXIT_USAGE (a bad seed) or EXIT_WEIGHTS; 0 on
 * success, *w owned by the caller. */
int cli_load_weights(const char *who, const char *flag, int deepest, int quiet, stylize_weights **w,
                     int *random_features, char name[256], char sha[65]);

/* 1 if a and b both exist and are the same file. */
int cli_same_file(const char *a, const char *b);

/* 1 if the directory of the file path exists and is writable. */
int cli_output_dir_ok(const char *path);

/* 1 if path is a writable directory. */
int cli_writable_dir(const char *path);

/* MemAvailable from /proc/meminfo in bytes, or 0 if unknown. */
size_t cli_available_memory(void);

/* Loads an image; on failure prints "stylize: FLAG: reason" and returns -1. */
int cli_load_image(stylize_image *img, const char *flag, const char *path);

#endif

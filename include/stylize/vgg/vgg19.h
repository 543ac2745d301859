/* stylize: the VGG-19 feature network's layer table (Simonyan and Zisserman
 * 2015; torchvision's vgg19().features), the one place its structure is
 * written down: 37 layers, 16 of them 3x3 convolutions, in 5 blocks.
 *
 * Layer indices match torchvision's feature indices: 0 conv1_1, 1 relu1_1,
 * 2 conv1_2, 3 relu1_2, 4 pool1, 5 conv2_1, ..., 34 conv5_4, 35 relu5_4,
 * 36 pool5 (torchvision's checkpoints name conv k's tensors
 * features.<layer index>.weight / .bias). Convolutions are also numbered
 * 0..15 on their own (conv ordinals), as the weights store them. */
#ifndef STYLIZE_VGG19_H
#define STYLIZE_VGG19_H

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_VGG19_NLAYERS 37
#define STYLIZE_VGG19_NCONV 16

typedef enum { STYLIZE_LAYER_CONV = 0, STYLIZE_LAYER_RELU, STYLIZE_LAYER_POOL } stylize_layer_kind;

/* Name of layer i ("conv1_1", "relu1_1", "pool1", ...), or NULL. */
const char *stylize_vgg19_layer_name(int i);
/* Index of a layer name, or -1. */
int stylize_vgg19_layer_index(const char *name);
/* Kind of layer i (0 <= i < STYLIZE_VGG19_NLAYERS). */
stylize_layer_kind stylize_vgg19_layer_kind(int i);
/* Convolutions that layers 0..i contain (0 for i < 0; 16 from conv5_4 on). */
int stylize_vgg19_convs_needed(int i);
/* Layer index of conv ordinal k (0..15), or -1: torchvision's feature index. */
int stylize_vgg19_conv_layer(int k);

/* Name of conv ordinal i (0..15): "conv1_1" .. "conv5_4"; NULL if out of range. */
const char *stylize_vgg19_conv_name(int i);
/* Conv ordinal of a conv layer name, or -1. */
int stylize_vgg19_conv_index(const char *name);
/* Output channels of conv ordinal i in the published VGG-19 (64 .. 512). */
int stylize_vgg19_conv_width(int i);

#ifdef __cplusplus
}
#endif
#endif

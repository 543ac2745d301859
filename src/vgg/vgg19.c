/* The VGG-19 layer table (stylize/vgg/vgg19.h). */
#include "stylize/vgg/vgg19.h"

#include <string.h>

typedef struct {
    const char *name;
    stylize_layer_kind kind;
    int width; /* convolutions: the published output channels */
} vgg_layer;

#define CONV(n, w) {"conv" n, STYLIZE_LAYER_CONV, w}, {"relu" n, STYLIZE_LAYER_RELU, 0}
#define POOL(n) {"pool" n, STYLIZE_LAYER_POOL, 0}

static const vgg_layer layers[STYLIZE_VGG19_NLAYERS] = {
    CONV("1_1", 64),  CONV("1_2", 64),  POOL("1"),
    CONV("2_1", 128), CONV("2_2", 128), POOL("2"),
    CONV("3_1", 256), CONV("3_2", 256), CONV("3_3", 256), CONV("3_4", 256), POOL("3"),
    CONV("4_1", 512), CONV("4_2", 512), CONV("4_3", 512), CONV("4_4", 512), POOL("4"),
    CONV("5_1", 512), CONV("5_2", 512), CONV("5_3", 512), CONV("5_4", 512), POOL("5")};

const char *stylize_vgg19_layer_name(int i)
{
    return i >= 0 && i < STYLIZE_VGG19_NLAYERS ? layers[i].name : NULL;
}

int stylize_vgg19_layer_index(const char *name)
{
    for (int i = 0; name && i < STYLIZE_VGG19_NLAYERS; i++)
        if (strcmp(name, layers[i].name) == 0)
            return i;
    return -1;
}

stylize_layer_kind stylize_vgg19_layer_kind(int i)
{
    return i >= 0 && i < STYLIZE_VGG19_NLAYERS ? layers[i].kind : STYLIZE_LAYER_CONV;
}

int stylize_vgg19_convs_needed(int i)
{
    int k = 0;
    for (int l = 0; l <= i && l < STYLIZE_VGG19_NLAYERS; l++)
        k += layers[l].kind == STYLIZE_LAYER_CONV;
    return k;
}

int stylize_vgg19_conv_layer(int k)
{
    for (int l = 0, c = 0; l < STYLIZE_VGG19_NLAYERS; l++)
        if (layers[l].kind == STYLIZE_LAYER_CONV && c++ == k)
            return l;
    return -1;
}

const char *stylize_vgg19_conv_name(int i)
{
    return stylize_vgg19_layer_name(stylize_vgg19_conv_layer(i));
}

int stylize_vgg19_conv_index(const char *name)
{
    int l = stylize_vgg19_layer_index(name);
    return l >= 0 && layers[l].kind == STYLIZE_LAYER_CONV ? stylize_vgg19_convs_needed(l) - 1 : -1;
}

int stylize_vgg19_conv_width(int i)
{
    int l = stylize_vgg19_conv_layer(i);
    return l >= 0 ? layers[l].width : 0;
}

/* src/nn/conv_amx.c compiled over the tile model of amx_emul.h, its
 * functions renamed with an _emul suffix: part of test_conv_bf16 (see
 * tests/CMakeLists.txt), which checks the direct AMX convolution's packing,
 * taps and bands with it on CPUs whose tiles are not granted. */
#include "amx_emul.h"

#define stylize_conv_amx stylize_conv_amx_emul
#define stylize_conv_amx_kernel stylize_conv_amx_kernel_emul
#define stylize_conv_amx_kernel_bytes stylize_conv_amx_kernel_bytes_emul
#define stylize_conv_amx_min_floats stylize_conv_amx_min_floats_emul
#include "nn/conv_amx.c"

int stylize_conv_amx_emul_misuse(void);
int stylize_conv_amx_emul_misuse(void)
{
    return __atomic_load_n(&amx_emul_misuse, __ATOMIC_RELAXED);
}

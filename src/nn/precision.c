/* The convolutions' arithmetic (stylize/nn/precision.h): names, auto's
 * measured defaults, and the one mapping from precision to algorithm. */
#include "stylize/nn/precision.h"

#include <string.h>

#include "stylize/core/cpu.h"

static const char *const names[] = {"auto", "fp32", "bf16"};

const char *stylize_precision_name(stylize_precision p)
{
    return (unsigned)p < 3u ? names[p] : "?";
}

int stylize_precision_parse(const char *name, stylize_precision *out)
{
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (stylize_precision)i;
            return 0;
        }
    return -1;
}

int stylize_precision_bf16_available(void)
{
    return stylize_cpu()->avx512_bf16;
}

/* auto's choice per work where bfloat16 is available, from the quality
 * measurements (scripts/bench-precision.sh, README "Precision"): bf16 only
 * where its result stayed within the allowed distance of float32's --
 * training's final loss within 2%, L-BFGS's loss after 100 evaluations
 * within 1%. Measured on AMD EPYC (Zen 4) with the F(4x4) bfloat16 path:
 * training 1.33x fp32's loss (its samples judged in fp32: see the README),
 * L-BFGS 1.009x at 512 px but a failed first line search at 128 px. So
 * every work stays fp32 until a path measures better; applying follows
 * training (a model is judged by the images it paints). */
static stylize_precision auto_default(stylize_work work)
{
    switch (work) {
    case STYLIZE_WORK_TRAIN:
    case STYLIZE_WORK_APPLY:
    case STYLIZE_WORK_OPTIMISE: break;
    }
    return STYLIZE_PRECISION_FP32;
}

stylize_precision stylize_precision_resolve(stylize_precision p, stylize_work work)
{
    if (p != STYLIZE_PRECISION_AUTO)
        return p;
    return stylize_precision_bf16_available() ? auto_default(work) : STYLIZE_PRECISION_FP32;
}

stylize_conv_algo stylize_precision_algo(stylize_precision p)
{
    return p == STYLIZE_PRECISION_BF16 ? STYLIZE_CONV_WINOGRAD_BF16 : STYLIZE_CONV_WINOGRAD;
}

stylize_status stylize_precision_select(stylize_precision p, stylize_work work,
                                        stylize_precision *resolved, stylize_error *err)
{
    stylize_precision r = stylize_precision_resolve(p, work);
    if (r == STYLIZE_PRECISION_BF16 && !stylize_precision_bf16_available())
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "precision bf16: this CPU has no AVX512-BF16 (use fp32 or auto)");
    if (resolved)
        *resolved = r;
    stylize_conv_set_default_algo(stylize_precision_algo(r));
    return STYLIZE_OK;
}

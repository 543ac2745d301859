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
 * where its result stayed within the allowed distance of float32's.
 * Training (final loss within 2%): 0.97x fp32's, its samples judged in
 * fp32 0.86x -- so training and applying (a model is judged by the images
 * it paints) default to bf16. L-BFGS (loss after 100 evaluations within
 * 1%): 1.007x at 512 px but 1.68x at 128 px, where the line search
 * compares values rounded more coarsely than the decrease it looks for --
 * so the image's optimisation stays fp32. */
static stylize_precision auto_default(stylize_work work)
{
    switch (work) {
    case STYLIZE_WORK_TRAIN:
    case STYLIZE_WORK_APPLY: return STYLIZE_PRECISION_BF16;
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

stylize_conv_algo stylize_precision_algo(stylize_precision p, stylize_conv_algo base)
{
    if (p == STYLIZE_PRECISION_BF16)
        return STYLIZE_CONV_WINOGRAD_BF16;
    switch (base) { /* float32: base itself, or a bfloat16 one's counterpart */
    case STYLIZE_CONV_WINOGRAD_BF16: return STYLIZE_CONV_WINOGRAD;
    case STYLIZE_CONV_WINOGRAD_F2_BF16: return STYLIZE_CONV_WINOGRAD_F2;
    case STYLIZE_CONV_IM2COL:
    case STYLIZE_CONV_WINOGRAD:
    case STYLIZE_CONV_WINOGRAD_F2: break;
    }
    return base;
}

stylize_status stylize_precision_check(stylize_precision p, stylize_error *err)
{
    if ((unsigned)p > (unsigned)STYLIZE_PRECISION_BF16)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "precision: unknown value %d", (int)p);
    if (p == STYLIZE_PRECISION_BF16 && !stylize_precision_bf16_available())
        return stylize_error_set(err, STYLIZE_ERR_ARG,
                                 "bf16: this CPU has no AVX512-BF16 (use fp32 or auto)");
    return STYLIZE_OK;
}

stylize_status stylize_precision_select(stylize_precision p, stylize_work work,
                                        stylize_precision *resolved, stylize_error *err)
{
    stylize_status st = stylize_precision_check(p, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_precision r = stylize_precision_resolve(p, work);
    if (resolved)
        *resolved = r;
    stylize_conv_set_default_algo(stylize_precision_algo(r, stylize_conv_get_default_algo()));
    return STYLIZE_OK;
}

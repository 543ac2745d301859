/* stylize: the arithmetic the convolutions run in.
 *
 * fp32: every convolution in float32 (Winograd F(4x4, 3x3) for the 3x3
 * layers). bf16: the 3x3 convolutions' GEMMs in bfloat16 with float32
 * accumulation (STYLIZE_CONV_WINOGRAD_BF16, stylize/nn/conv.h) where the CPU
 * has AVX512-BF16; the transforms, every other layer, the losses, Gram
 * matrices, normalisation statistics, optimiser state and the image stay
 * float32. auto: the measured default of each kind of work (README
 * "Precision"): bf16 where the CPU has it, runs it fast and quality held,
 * else fp32. */
#ifndef STYLIZE_PRECISION_H
#define STYLIZE_PRECISION_H

#include "stylize/core/status.h"
#include "stylize/nn/conv.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    STYLIZE_PRECISION_AUTO = 0,
    STYLIZE_PRECISION_FP32 = 1,
    STYLIZE_PRECISION_BF16 = 2
} stylize_precision;

/* The work a precision is chosen for (auto's defaults differ). */
typedef enum {
    STYLIZE_WORK_OPTIMISE = 0, /* Gatys et al.: the image optimised (L-BFGS or Adam) */
    STYLIZE_WORK_TRAIN = 1,    /* a generator trained through VGG-19 */
    STYLIZE_WORK_APPLY = 2     /* a generator's forward pass */
} stylize_work;

/* "auto", "fp32", "bf16" (static storage); parse returns 0 and sets *out,
 * or -1 for another name. */
const char *stylize_precision_name(stylize_precision p);
int stylize_precision_parse(const char *name, stylize_precision *out);

/* 1 when this CPU runs the bfloat16 convolutions (AVX512-BF16). */
int stylize_precision_bf16_available(void);

/* bfloat16's speed on this CPU: the rate of multiply-adds of the GEMM
 * kernel's instruction (AMX tdpbf16ps where the tiles are granted, else
 * vdpbf16ps) over float32 FMAs' (16-lane), measured on the first call
 * (under a millisecond, thread-safe; later calls return the same value); 0
 * where bf16 is not available. STYLIZE_BF16_SPEED in the environment, a
 * finite number >= 0, replaces the measurement (any other value is
 * ignored). Measured 0.45-0.51 on an Intel Xeon without AMX, 14.5 on one
 * with AMX, and 2.00 on an AMD EPYC (Zen 4), whose bf16 GEMM ran 2.2x
 * OpenBLAS's sgemm (README Precision). */
double stylize_precision_bf16_speed(void);

/* auto picks bf16 only where stylize_precision_bf16_speed() is at least
 * this. Where our bf16 GEMM ran 2.2x sgemm's rate (AMD Zen 4) bf16 made
 * training steps 1.2x and Gatys evaluations 1.4x faster; where the probe
 * reads 0.48 (Intel) 1.2x and 1.3x slower: the GEMMs must gain enough to
 * pay for the packing and conversions. */
#define STYLIZE_BF16_MIN_SPEED 1.5

/* The precision p means for work on a CPU whose bf16 speed is speed (0:
 * no bf16): auto becomes the work's measured default where speed >=
 * STYLIZE_BF16_MIN_SPEED (bf16 for training and apply), else fp32; fp32
 * and bf16 stay. */
stylize_precision stylize_precision_resolve_for(stylize_precision p, stylize_work work, double speed);

/* stylize_precision_resolve_for on this CPU (measuring its speed only when
 * auto could pick bf16). */
stylize_precision stylize_precision_resolve(stylize_precision p, stylize_work work);

/* The convolution algorithm of a resolved precision: bf16 ->
 * STYLIZE_CONV_WINOGRAD_BF16; fp32 -> base (a caller's choice such as
 * im2col stays) or, when base is a bfloat16 algorithm, its float32
 * counterpart. */
stylize_conv_algo stylize_precision_algo(stylize_precision p, stylize_conv_algo base);

/* STYLIZE_OK when p is a known value this CPU can run; else
 * STYLIZE_ERR_ARG with one line ("bf16: this CPU has no AVX512-BF16 ..."). */
stylize_status stylize_precision_check(stylize_precision p, stylize_error *err);

/* Checks p, resolves it for work and makes it the convolutions' default
 * algorithm: stylize_precision_algo(resolved, the current default), through
 * stylize_conv_set_default_algo, which is process-wide and not synchronised
 * (so runs with different precisions must not overlap in one process), and
 * sets the work's narrowest bfloat16 layer (stylize_conv_set_bf16_min_channels:
 * STYLIZE_CONV_BF16_APPLY_MIN_CHANNELS to apply, else
 * STYLIZE_CONV_BF16_MIN_CHANNELS); *resolved (may be NULL) receives fp32
 * or bf16. On failure nothing changes. */
stylize_status stylize_precision_select(stylize_precision p, stylize_work work,
                                        stylize_precision *resolved, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

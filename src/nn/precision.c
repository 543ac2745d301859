/* The convolutions' arithmetic (stylize/nn/precision.h): names, auto's
 * measured defaults, and the one mapping from precision to algorithm. */
#include "stylize/nn/precision.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/core/clock.h"
#include "stylize/core/cpu.h"
#include "stylize/nn/gemm_bf16.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_BF16_PROBE 1
#endif

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

/* ---- bfloat16's speed on this CPU ------------------------------------------ */

/* AVX512-BF16 does not make bfloat16 fast everywhere: on AMD Zen 4 our
 * bf16 GEMM ran 2.2x OpenBLAS's sgemm, but on an Intel Xeon (model 207,
 * AMX not exposed) vdpbf16ps (32 multiply-adds) issued once in two cycles
 * against two 16-lane FMAs a cycle, and bf16 runs were 1.2-1.3x slower
 * than fp32 (Intel's fast bfloat16 is AMX). So the rate is measured: 12
 * independent accumulator chains (more than latency x throughput on
 * either), PROBE_ITERS rounds, the fastest of PROBE_TRIALS interleaved
 * trials (the first ones also wake the 512-bit units); under a
 * millisecond, once per process. */
#define PROBE_ITERS 8192
#define PROBE_TRIALS 5
/* Where the GEMMs run on AMX (Intel Xeon with Linux's tile permission),
 * its tile multiply-adds are timed instead of vdpbf16ps (stylize/nn/
 * gemm_bf16.h's probe, 32768 multiply-adds a round): 14.5 x FMA's rate
 * on an Intel Xeon with AMX (CPUID family 6, model 167 as its VM reports
 * it), where a VGG-19 evaluation with bf16 Winograd ran 1.77x fp32's. */
#define PROBE_AMX_ROUNDS 1024

#ifdef HAVE_BF16_PROBE
/* The chains in assembly, so that they stay in registers whatever the
 * compiler and its optimisation level (at -O0 C would keep them in memory
 * and time its loads and stores instead). Accumulators and operands
 * start at zero: no denormals, no overflow. */
#define PROBE_CHAIN12(op)                                                                              \
    op " %%zmm13, %%zmm12, %%zmm0\n\t" op " %%zmm13, %%zmm12, %%zmm1\n\t" op " %%zmm13, %%zmm12, %%zmm2\n\t" \
    op " %%zmm13, %%zmm12, %%zmm3\n\t" op " %%zmm13, %%zmm12, %%zmm4\n\t" op " %%zmm13, %%zmm12, %%zmm5\n\t" \
    op " %%zmm13, %%zmm12, %%zmm6\n\t" op " %%zmm13, %%zmm12, %%zmm7\n\t" op " %%zmm13, %%zmm12, %%zmm8\n\t" \
    op " %%zmm13, %%zmm12, %%zmm9\n\t" op " %%zmm13, %%zmm12, %%zmm10\n\t" op " %%zmm13, %%zmm12, %%zmm11\n\t"
/* vzeroupper at the end clears the upper halves of all of registers 0..15 */
#define PROBE_CLOBBERS                                                                                 \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", \
        "xmm13", "xmm14", "xmm15", "cc"
#define PROBE_ZERO                                                                                     \
    "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvmovaps %%zmm0, %%zmm1\n\tvmovaps %%zmm0, %%zmm2\n\t"                 \
    "vmovaps %%zmm0, %%zmm3\n\tvmovaps %%zmm0, %%zmm4\n\tvmovaps %%zmm0, %%zmm5\n\tvmovaps %%zmm0, %%zmm6\n\t" \
    "vmovaps %%zmm0, %%zmm7\n\tvmovaps %%zmm0, %%zmm8\n\tvmovaps %%zmm0, %%zmm9\n\tvmovaps %%zmm0, %%zmm10\n\t" \
    "vmovaps %%zmm0, %%zmm11\n\tvmovaps %%zmm0, %%zmm12\n\tvmovaps %%zmm0, %%zmm13\n\t"

/* n rounds of 12 op (an asm template is a literal, so one per op) */
#define PROBE_RUN(op, n)                                                                               \
    __asm__ volatile(PROBE_ZERO "1:\n\t" PROBE_CHAIN12(op) "dec %0\n\tjnz 1b\n\tvzeroupper"             \
                     : "+r"(n)                                                                         \
                     :                                                                                 \
                     : PROBE_CLOBBERS)

/* Seconds for PROBE_ITERS rounds of 12 vdpbf16ps (bf16 is 1)
 * or 16-lane FMAs (0). */
static double probe(int bf16)
{
    long n = PROBE_ITERS;
    double t0 = stylize_seconds();
    if (bf16)
        PROBE_RUN("vdpbf16ps", n);
    else
        PROBE_RUN("vfmadd231ps", n);
    return stylize_seconds() - t0;
}
#endif

static double bf16_speed;
static pthread_once_t speed_once = PTHREAD_ONCE_INIT;

static void measure_speed(void)
{
    const char *env = getenv("STYLIZE_BF16_SPEED");
    char *end = NULL;
    double forced = env ? strtod(env, &end) : 0.0;
    if (env && end != env && *end == '\0' && isfinite(forced) && forced >= 0.0) {
        bf16_speed = forced;
        return;
    }
#ifdef HAVE_BF16_PROBE
    /* the GEMM kernel's instruction (AMX tiles or vdpbf16ps) against
     * 16-lane FMAs, trials interleaved; multiply-adds per round: 32768 per
     * AMX round, 12 x 32 per vdpbf16ps round, 12 x 16 per FMA round */
    int amx = stylize_bf16_kernel_for_cpu() == STYLIZE_BF16_AMX;
    double dp = 1e30, fma = 1e30;
    for (int t = 0; t < PROBE_TRIALS; t++) {
        double a = amx ? stylize_bf16_amx_probe(PROBE_AMX_ROUNDS) : probe(1), b = probe(0);
        dp = a < dp ? a : dp;
        fma = b < fma ? b : fma;
    }
    double dp_macs = amx ? (double)PROBE_AMX_ROUNDS * 32768 : (double)PROBE_ITERS * 12 * 32;
    double fma_macs = (double)PROBE_ITERS * 12 * 16;
    bf16_speed = dp > 0.0 && fma > 0.0 ? (dp_macs / dp) / (fma_macs / fma) : 0.0;
#endif
}

double stylize_precision_bf16_speed(void)
{
    if (!stylize_precision_bf16_available())
        return 0.0;
    pthread_once(&speed_once, measure_speed);
    return bf16_speed;
}

/* auto's choice per work where bfloat16 is available, from the quality
 * measurements (scripts/bench-precision.sh, README "Precision"): bf16 only
 * where its result stayed within the allowed distance of float32's.
 * Training (final loss within 2%): 0.97x fp32's, its samples judged in
 * fp32 0.86x -- so training and applying (a model is judged by the images
 * it paints) default to bf16. L-BFGS (loss after 100 evaluations within
 * 1%): 1.007x at 512 px but 1.68x at 128 px, where the line search
 * compares values rounded more coarsely than the decrease it looks for --
 * so the image's optimisation stays fp32. On an Intel Xeon with AMX (the
 * direct path, conv_amx.c): training 0.951x, its samples 0.893x; L-BFGS
 * 0.999x at 512 px, 1.094x at 128 px: the same defaults. */
static stylize_precision auto_default(stylize_work work)
{
    switch (work) {
    case STYLIZE_WORK_TRAIN:
    case STYLIZE_WORK_APPLY: return STYLIZE_PRECISION_BF16;
    case STYLIZE_WORK_OPTIMISE: break;
    }
    return STYLIZE_PRECISION_FP32;
}

stylize_precision stylize_precision_resolve_for(stylize_precision p, stylize_work work, double speed)
{
    if (p != STYLIZE_PRECISION_AUTO)
        return p;
    return speed >= STYLIZE_BF16_MIN_SPEED ? auto_default(work) : STYLIZE_PRECISION_FP32;
}

stylize_precision stylize_precision_resolve(stylize_precision p, stylize_work work)
{
    /* the probe runs only where its answer matters (0.0 stands for "not
     * fast": the threshold is positive; the rule's test pins speed 0) */
    int ask = p == STYLIZE_PRECISION_AUTO && auto_default(work) == STYLIZE_PRECISION_BF16;
    return stylize_precision_resolve_for(p, work, ask ? stylize_precision_bf16_speed() : 0.0);
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
    stylize_conv_set_bf16_min_channels(work == STYLIZE_WORK_APPLY ? STYLIZE_CONV_BF16_APPLY_MIN_CHANNELS
                                                                  : STYLIZE_CONV_BF16_MIN_CHANNELS);
    stylize_conv_set_bf16_thin(work == STYLIZE_WORK_APPLY);
    return STYLIZE_OK;
}

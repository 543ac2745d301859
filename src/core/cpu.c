/* Run-time CPU feature detection (stylize/core/cpu.h). */
#define _GNU_SOURCE /* syscall */
#include "stylize/core/cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define STYLIZE_X86 1
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

static stylize_cpu_features detected, current;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* STYLIZE_NO_BF16 set (and not "0"): the user's request to run as a CPU
 * without AVX512-BF16 and AMX would (README "Environment"). */
static int bf16_refused(void)
{
    const char *v = getenv("STYLIZE_NO_BF16");
    return v && *v && strcmp(v, "0") != 0;
}

/* STYLIZE_NO_AMX set (and not "0"): run as a CPU without AMX would (the
 * bf16 GEMMs on vdpbf16ps; README "Environment"). */
static int amx_refused(void)
{
    const char *v = getenv("STYLIZE_NO_AMX");
    return v && *v && strcmp(v, "0") != 0;
}

#ifdef STYLIZE_X86
static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static void brand(char out[64])
{
    unsigned r[12], a, b, c, d;
    out[0] = '\0';
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000004u)
        return;
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    memcpy(out, r, 48);
    out[48] = '\0';
}

static void detect(void)
{
    stylize_cpu_features *f = &detected;
    unsigned a, b, c, d, a1 = 0, b1, c1, d1;
    brand(f->model);
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return;
    unsigned ecx1 = c;
    unsigned long long xcr0 = xgetbv0();
    int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6, tiles = (xcr0 & 0x60000) == 0x60000;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    f->sha = (b & bit_SHA) && (ecx1 & bit_SSE4_1) && (ecx1 & bit_SSSE3);
    f->avx2 = ymm && (b & bit_AVX2);
    f->fma = ymm && f->avx2;
    f->avx512f = zmm && (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL);
    f->avx512_bf16 = f->avx512f && (a1 & (1u << 5));
    f->amx_bf16 = (d & (1u << 24)) && (d & (1u << 22));
#if defined(__linux__) && defined(__x86_64__)
    /* tile data is requested only where it may be used (its signal frames are larger) */
    f->amx_usable = f->amx_bf16 && tiles && !bf16_refused() && !amx_refused() &&
                    syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    (void)tiles;
#endif
#ifdef STYLIZE_AMX_MODEL /* a developers' build: the tiles are modelled in software (CMakeLists.txt) */
    f->amx_bf16 = f->avx512_bf16;
    f->amx_usable = f->avx512_bf16 && !bf16_refused() && !amx_refused();
#endif
}
#else
static void detect(void)
{
}
#endif

static void init(void)
{
    detect();
    if (bf16_refused())
        detected.avx512_bf16 = detected.amx_bf16 = detected.amx_usable = 0;
    if (amx_refused())
        detected.amx_bf16 = detected.amx_usable = 0;
    current = detected;
}

const stylize_cpu_features *stylize_cpu(void)
{
    pthread_once(&once, init);
    return &current;
}

/* current = the detected features, with AVX2 (and every later vector
 * extension), AVX-512 (and what needs it), only the bf16 units, only AMX
 * or the SHA extensions hidden. */
static void testing_hide(int avx2, int avx512, int bf16, int amx, int sha)
{
    pthread_once(&once, init);
    current = detected;
    if (sha)
        current.sha = 0;
    if (avx2)
        current.avx2 = current.fma = 0;
    if (avx2 || avx512)
        current.avx512f = 0;
    if (avx2 || avx512 || bf16)
        current.avx512_bf16 = current.amx_bf16 = current.amx_usable = 0;
    if (amx)
        current.amx_bf16 = current.amx_usable = 0;
}

void stylize_cpu_testing_disable_bf16(int disable)
{
    testing_hide(0, 0, disable, 0, 0);
}

void stylize_cpu_testing_disable_avx512(int disable)
{
    testing_hide(0, disable, 0, 0, 0);
}

void stylize_cpu_testing_disable_avx2(int disable)
{
    testing_hide(disable, 0, 0, 0, 0);
}

void stylize_cpu_testing_disable_sha(int disable)
{
    testing_hide(0, 0, 0, 0, disable);
}

void stylize_cpu_testing_disable_amx(int disable)
{
    testing_hide(0, 0, 0, disable, 0);
}

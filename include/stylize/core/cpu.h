/* stylize: what this CPU (and the kernel) let the library use, detected at
 * run time from CPUID and XCR0, once. AMX tile data also needs Linux's
 * permission (arch_prctl ARCH_REQ_XCOMP_PERM), requested on first use. */
#ifndef STYLIZE_CPU_H
#define STYLIZE_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int avx2, fma;      /* AVX2 and FMA3, with the OS saving YMM state */
    int avx512f;        /* AVX-512 F, BW, VL, with the OS saving ZMM and opmask state */
    int avx512_bf16;    /* AVX512-BF16 (vdpbf16ps, vcvtne2ps2bf16) */
    int amx_bf16;       /* AMX-TILE and AMX-BF16 in CPUID */
    int amx_usable;     /* amx_bf16, the OS saves tile state and Linux granted tile data */
    int sha;            /* the SHA extensions (sha256rnds2) with SSE4.1 */
    char model[64];     /* the brand string */
} stylize_cpu_features;

/* The features, detected on the first call (thread-safe); never NULL.
 * With STYLIZE_NO_BF16 set (not "0") in the environment, AVX512-BF16 and
 * AMX read as absent; with STYLIZE_NO_AMX, AMX alone. */
const stylize_cpu_features *stylize_cpu(void);

/* Test hook: pretend the CPU lacks AVX512-BF16 and AMX (disable != 0), as on
 * a machine without them; 0 restores the detected features. */
void stylize_cpu_testing_disable_bf16(int disable);
/* Test hook: pretend the CPU lacks AMX only (AVX512-BF16 stays), so that
 * the vdpbf16ps kernels run on an AMX machine; 0 restores the detected
 * features. */
void stylize_cpu_testing_disable_amx(int disable);
/* Test hook: pretend the CPU lacks AVX-512 (and so AVX512-BF16 and AMX),
 * for the paths chosen at call time (not the load-time clones); 0 restores
 * the detected features. */
void stylize_cpu_testing_disable_avx512(int disable);
/* Test hook: pretend the CPU lacks AVX2 and FMA (and so AVX-512 and what
 * needs it), for the paths chosen at call time; 0 restores them. */
void stylize_cpu_testing_disable_avx2(int disable);
/* Test hook: pretend the CPU lacks the SHA extensions; 0 restores them. */
void stylize_cpu_testing_disable_sha(int disable);

#ifdef __cplusplus
}
#endif
#endif

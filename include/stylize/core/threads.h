/* stylize: thread count for everything (OpenBLAS and the library's own loops)
 * and a check of the BLAS kernel that OpenBLAS selected.
 *
 * The library's own loops (im2col and the Winograd transforms of the
 * convolution) run on a small pthread pool of n - 1 workers plus the calling
 * thread. The pool is created once, by the first stylize_set_threads or the
 * first convolution created, and is reused: no thread is created and nothing
 * is allocated inside a forward or backward pass. The pool serves one caller
 * at a time; a second thread that calls in while it is busy runs its loop
 * serially. */
#ifndef STYLIZE_THREADS_H
#define STYLIZE_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the number of threads used by sgemm and the library's own loops
 * (n < 1 is taken as 1). Must not be called while a forward or backward pass
 * runs in another thread. Without a call the count is OpenBLAS's default
 * (OPENBLAS_NUM_THREADS, or the number of cores). */
void stylize_set_threads(int n);
int stylize_get_threads(void);

/* Name of the sgemm kernel family OpenBLAS picked at load time ("Haswell",
 * "SkylakeX", "Prescott", ...). */
const char *stylize_blas_core(void);

/* OpenBLAS built with DYNAMIC_ARCH picks its kernels when the library is
 * loaded; versions older than the CPU fall back to a generic SSE3 kernel
 * ("Prescott"), 5-10x slower on AVX2/AVX-512 machines. Returns the value for
 * the OPENBLAS_CORETYPE environment variable that selects the fast kernel
 * this CPU supports ("SkylakeX" or "Haswell") when the selected one is
 * slower, else NULL. The variable is read only at load time: a program must
 * set it before it starts (or re-execute itself with it set). */
const char *stylize_blas_coretype_hint(void);

#ifdef __cplusplus
}
#endif
#endif

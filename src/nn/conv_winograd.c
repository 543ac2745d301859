/* Winograd F(m x m, 3 x 3), m = 4 or 2 (Lavin & Gray 2015), for the 3x3,
 * stride 1, zero-padding convolution (stylize/nn/conv.h).
 *
 * The output is cut into m x m tiles, each computed from the (m + 2) x (m + 2)
 * input patch around it (zero outside the image) as Y = A^T [U .* V] A with
 * U = G g G^T (the kernel, transformed once when the algorithm is selected or
 * the weights are refreshed) and V = B^T d B. Summed over input channels, the
 * element-wise products become a^2 = (m + 2)^2 independent sgemms
 * [cout x cin] x [cin x tiles]. The tiles are processed in blocks of nt
 * (raster order over the tile grid) so the transformed input V (a^2, cin, nt)
 * and product M (a^2, cout, nt) stay within the workspace bound. The
 * forward can apply the ReLU in its output transform; the weight gradient
 * (at the end of the file) is the forward's adjoint in the kernel.
 *
 * Interpolation points. F(2, 3) uses Lavin's {0, 1, -1, inf}; F(4, 3) uses
 * {0, 1, -1, 2, 1/2, inf} instead of Lavin's {0, 1, -1, 2, -2, inf}. Both
 * sets are closed under p -> 1/p (0 <-> inf), which makes the transform of
 * the 180-degree-flipped kernel a permutation of the transform of the kernel:
 * with G's rows scaled as below, G J = P G for the flip J, so
 * G (J g J) G^T = P U P^T. The input gradient is the Winograd convolution of
 * the output gradient with the flipped, channel-swapped kernel, so it reuses
 * U: element k = (i, j) of its transform is U[(pi(i), pi(j))] transposed
 * (sgemm with CblasTrans), and no second kernel transform is stored. The
 * price is rounding: ~1.7x Lavin's F(4, 3) error, ~4e-6 RMS relative at 256
 * channels (tests/nn/test_conv.c checks < 1e-4 on VGG-like data).
 *
 * Threads: the nt columns of V and M are split into contiguous shares, one
 * task per pool thread (parallel.h). A task repeatedly takes the next run of
 * tiles (as many as its share holds) from a shared counter, transforms them
 * into its columns, runs the a^2 sgemms on its columns with OpenBLAS
 * single-threaded, and writes their output tiles: tasks never wait for each
 * other, a call synchronises once, and a thread that runs slow (a busy
 * machine) simply takes fewer runs. The workspace does not depend on the
 * thread count. */
#include "nn/conv_internal.h"
#include "nn/bf16_internal.h"

#include "stylize/core/cpu.h"
#include "stylize/nn/gemm_bf16.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_SSE2 1
#endif

/* ---- kernel transform --------------------------------------------------- */

/* G (a x 3) of F(4, 3) over {0, 1, -1, 2, 1/2, inf} and of F(2, 3) over
 * {0, 1, -1, inf}, rows scaled so that reversing a row's three entries gives
 * the row pi(i) (pi4 / pi2 below). */
static const double G4[6][3] = {{1, 0, 0},
                                {1, 1, 1},
                                {1.0 / 9, -1.0 / 9, 1.0 / 9},
                                {1.0 / 9, 2.0 / 9, 4.0 / 9},
                                {4.0 / 9, 2.0 / 9, 1.0 / 9},
                                {0, 0, 1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const int pi4[6] = {5, 1, 2, 4, 3, 0};
static const int pi2[4] = {3, 1, 2, 0};

/* The bfloat16 kernel starts with this many bytes holding its layout (an
 * int): a stylize_bf16_kernel (the Winograd slots packed for that GEMM
 * kernel), or STYLIZE_CONV_BF16_DIRECT (conv_amx.c's taps); the slots
 * follow. */
#define WINO_BF16_HEADER STYLIZE_CONV_BF16_HEADER
#define WINO_BF16_DIRECT STYLIZE_CONV_BF16_DIRECT

static int amx_direct = 1; /* stylize_conv_testing_amx_direct */

void stylize_conv_testing_amx_direct(int on)
{
    amx_direct = on != 0;
}

typedef struct {
    float *u;              /* (a * a, cout, cin), or NULL: packs */
    unsigned short *packs; /* the bfloat16 kernel's slots (conv_internal.h), or NULL */
    stylize_bf16_kernel kern; /* the GEMM kernel whose layout the slots take */
    const float *wt;       /* (cout, cin, 3, 3) */
    int cout, cin, m, ntasks;
    size_t fwd, bwd;       /* bfloat16 elements per packed slot of each half */
} utrans_job;

/* Writes component k of (G g G^T) for the pairs (co, c0 + l), l < n, into
 * both packed halves: slot k of the forward at (co, ci), and, since the
 * input gradient uses U[pi(k)]^T at slot k and pi is an involution, slot
 * pi(k) of the input gradient at (ci, co). */
static void put_packed(const utrans_job *j, int k, int co, int c0, int n, const float *v)
{
    int a = j->m + 2;
    const int *pi = j->m == 4 ? pi4 : pi2;
    unsigned short *fwd = j->packs + (size_t)k * j->fwd;
    size_t kb = (size_t)(pi[k / a] * a + pi[k % a]);
    unsigned short *bwd = j->packs + (size_t)(a * a) * j->fwd + kb * j->bwd;
    for (int l = 0; l < n; l++) {
        unsigned short b = stylize_bf16_round(v[l]);
        fwd[stylize_bf16_pack_a_index(j->kern, co, c0 + l, j->cin)] = b;
        bwd[stylize_bf16_pack_a_index(j->kern, c0 + l, co, j->cout)] = b;
    }
}

#define UT_LANES 8 /* input channels transformed together, one per SIMD lane */

/* out[k][l] = (G g G^T)[k] for g = g0 + 9 l (l < n; (3, 3) each), in
 * double and in the order of the scalar formula, lane by lane: the same
 * bits on every clone (cloned as the transforms below, WINO_CLONES: ISO C
 * does not contract into FMA). */
#define UT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
UT_CLONES static void utrans_lanes(const double (*G)[3], int a, const float *g0, int n, float out[36][UT_LANES])
{
    double gv[9][UT_LANES], t[6][3][UT_LANES];
    for (int q = 0; q < 9; q++)
        for (int l = 0; l < UT_LANES; l++)
            gv[q][l] = l < n ? g0[9 * l + q] : 0.0;
    for (int i = 0; i < a; i++) /* t = G g */
        for (int x = 0; x < 3; x++)
            for (int l = 0; l < UT_LANES; l++)
                t[i][x][l] = G[i][0] * gv[x][l] + G[i][1] * gv[3 + x][l] + G[i][2] * gv[6 + x][l];
    for (int i = 0; i < a; i++) /* u = t G^T */
        for (int x = 0; x < a; x++)
            for (int l = 0; l < UT_LANES; l++)
                out[i * a + x][l] = (float)(t[i][0][l] * G[x][0] + t[i][1][l] * G[x][1] + t[i][2][l] * G[x][2]);
}

/* u[k][co][ci] = (G g G^T)[k] for g = weight[co][ci]; task t takes a band
 * of output channels, UT_LANES input channels at a time. */
static void utrans_task(void *vctx, int task)
{
    const utrans_job *j = vctx;
    int a = j->m + 2;
    const double(*G)[3] = j->m == 4 ? G4 : G2;
    size_t plane = (size_t)j->cout * (size_t)j->cin;
    int r0 = (int)((long long)j->cout * task / j->ntasks);
    int r1 = (int)((long long)j->cout * (task + 1) / j->ntasks);
    float out[36][UT_LANES];
    for (int r = r0; r < r1; r++)
        for (int c0 = 0; c0 < j->cin; c0 += UT_LANES) {
            int n = j->cin - c0 < UT_LANES ? j->cin - c0 : UT_LANES;
            utrans_lanes(G, a, j->wt + ((size_t)r * (size_t)j->cin + (size_t)c0) * 9, n, out);
            for (int k = 0; k < a * a; k++) {
                if (j->u)
                    memcpy(j->u + (size_t)k * plane + (size_t)r * (size_t)j->cin + (size_t)c0, out[k],
                           (size_t)n * sizeof(float));
                else
                    put_packed(j, k, r, c0, n, out[k]);
            }
        }
}

void stylize_conv_winograd_kernel(float *u, const float *weight, int cin, int cout, int m)
{
    stylize_parallel_init();
    int nthr = stylize_parallel_threads();
    utrans_job j = {u, NULL, STYLIZE_BF16_DPBF16, weight, cout, cin, m, nthr, 0, 0};
    stylize_parallel_run(nthr, utrans_task, &j);
}

int stylize_conv_bf16_layout_for_cpu(void)
{
    stylize_bf16_kernel kern = stylize_bf16_kernel_for_cpu();
    return kern == STYLIZE_BF16_AMX && amx_direct ? WINO_BF16_DIRECT : (int)kern;
}

size_t stylize_conv_winograd_bf16_kernel_bytes(int layout, int m, int cin, int cout)
{
    if (layout == WINO_BF16_DIRECT)
        return WINO_BF16_HEADER + stylize_conv_amx_kernel_bytes(cin, cout);
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
    return WINO_BF16_HEADER + aa * (stylize_bf16_pack_a_bytes(cout, cin) + stylize_bf16_pack_a_bytes(cin, cout));
}

void stylize_conv_winograd_kernel_bf16(void *packs, int layout, const float *weight, int cin, int cout, int m)
{
    stylize_parallel_init();
    memset(packs, 0, stylize_conv_winograd_bf16_kernel_bytes(layout, m, cin, cout)); /* the padding */
    memcpy(packs, &layout, sizeof layout);
    unsigned char *slots = (unsigned char *)packs + WINO_BF16_HEADER;
    if (layout == WINO_BF16_DIRECT) {
        stylize_conv_amx_kernel(slots, weight, cin, cout);
        return;
    }
    int nthr = stylize_parallel_threads();
    utrans_job j = {NULL, (unsigned short *)slots, (stylize_bf16_kernel)layout, weight, cout, cin, m, nthr,
                    stylize_bf16_pack_a_bytes(cout, cin) / 2, stylize_bf16_pack_a_bytes(cin, cout) / 2};
    stylize_parallel_run(nthr, utrans_task, &j);
}

/* ---- workspace sizing --------------------------------------------------- */

/* Preferred Winograd block: enough tiles for an efficient sgemm (its N),
 * few enough that V and M stay near the caches. */
#define WINO_BLOCK_MIN_TILES 256
#define WINO_BLOCK_TARGET_FLOATS ((size_t)1 << 20)

/* Floats between consecutive (a^2) slices of V or M for a block of nt tiles
 * over `channels` channels: channels * nt rounded up to an odd multiple of
 * 16 floats (64 bytes), so the a^2 streams that a transform reads or writes
 * do not all map to the same cache sets (a multiple of 4 KiB would). */
static size_t wino_kstride(int channels, int nt)
{
    size_t s = ((size_t)channels * (size_t)nt + 15) & ~(size_t)15;
    if (((s >> 4) & 1) == 0)
        s += 16;
    return s;
}

/* Floats per tile column of the bfloat16 path's packed V slice: pairs of
 * the larger channel count (either direction), rounded up to the AMX
 * tile's 16, one 32-bit word each. */
static size_t pack_per_tile(int bf16, int cin, int cout)
{
    return bf16 ? (size_t)stylize_bf16_pack_b_pairs(cin > cout ? cin : cout) : 0;
}

static int test_block_tiles; /* stylize_conv_testing_wino_block_tiles */

void stylize_conv_testing_wino_block_tiles(int tiles)
{
    test_block_tiles = tiles > 0 ? tiles : 0;
}

/* Tiles per Winograd block for tile size m: the preferred block, capped by
 * the tile count and by the workspace bound (at least one tile). */
static size_t wino_block_tiles(int m, int bf16, int cin, int cout, int h, int w)
{
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2), pack = pack_per_tile(bf16, cin, cout);
    size_t tiles = (size_t)((h + m - 1) / m) * (size_t)((w + m - 1) / m);
    size_t per_tile = aa * ((size_t)cin + (size_t)cout) + pack; /* floats of V, M (and packed V) */
    size_t nt = WINO_BLOCK_TARGET_FLOATS / per_tile;
    if (nt < WINO_BLOCK_MIN_TILES)
        nt = WINO_BLOCK_MIN_TILES;
    /* the bound, less the kstride padding (at most 31 floats per slice) and
     * the packed panels' rounding (at most NR - 1 columns) */
    size_t cap = (STYLIZE_CONV_WORKSPACE_MAX_FLOATS - 2 * 31 * aa - (STYLIZE_BF16_NR - 1) * pack) / per_tile;
    if (nt > cap)
        nt = cap;
    if (test_block_tiles && nt > (size_t)test_block_tiles)
        nt = (size_t)test_block_tiles;
    if (nt > tiles)
        nt = tiles;
    return nt ? nt : 1;
}

/* Floats of the bfloat16 path's packed B: one V slice's columns, pairs of
 * the larger channel count (either direction) by nt rounded up to panels. */
static size_t wino_pack_floats(stylize_conv_algo algo, int cin, int cout, int nt)
{
    if (!stylize_conv_algo_bf16(algo))
        return 0;
    return stylize_bf16_pack_b_bytes(cin > cout ? cin : cout, nt) / sizeof(float);
}

size_t stylize_conv_winograd_floats(stylize_conv_algo algo, int cin, int cout, int h, int w)
{
    /* V (a^2, channels in, nt) + M (a^2, channels out, nt): the same sum both
     * ways; the bfloat16 path adds one packed V slice */
    int m = stylize_conv_algo_tile(algo);
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
    int nt = (int)wino_block_tiles(m, stylize_conv_algo_bf16(algo), cin, cout, h, w);
    size_t n = aa * (wino_kstride(cin, nt) + wino_kstride(cout, nt)) + wino_pack_floats(algo, cin, cout, nt);
    if (stylize_conv_algo_bf16(algo)) { /* the direct path on AMX, either direction */
        size_t d = stylize_conv_amx_min_floats(cin > cout ? cin : cout, w, 1);
        n = d > n ? d : n;
    }
    return n;
}

/* ---- transforms --------------------------------------------------------- */

/* One convolution call. V and M have nt columns (the block); each task owns
 * a contiguous share of them and streams runs of tiles through it. */
typedef struct {
    const float *in;   /* (cin, h, w) */
    float *out;        /* (cout, h, w) */
    const float *u;    /* (a^2, cout, cin) */
    const float *bias; /* (cout) or NULL */
    float *V, *M;      /* (a^2, cin, nt), (a^2, cout, nt); slices vstride, mstride apart */
    size_t vstride, mstride;
    int cin, cout, h, w, m, tw;
    long long tiles;   /* tiles of the image */
    int nt;            /* columns of V and M: tiles per block */
    int relu;          /* 1: the ReLU fused into the output transform */
    stylize_pad_mode pad; /* the input transform's padding (one pixel) */
    int ntasks;        /* tasks: each owns cap columns */
    int cap;           /* columns per task (bfloat16: a multiple of NR when ntasks > 1) */
    const int *perm;   /* NULL: sgemm k uses u[k]; else u[(perm[i], perm[j])]^T, k = (i, j) */
    const unsigned char *pk; /* bfloat16: this direction's packed slices, pkstride bytes
                              * apart (already permuted); NULL: float32 through u */
    size_t pkstride;
    unsigned char *pbuf;     /* bfloat16: packed V columns (pairs of cin, nt) */
    atomic_llong next; /* first tile not yet taken by a task */
    long long bs;      /* phased (float32): the block's first tile */
    int bn;            /* phased: its tiles */
    stylize_bf16_kernel kern; /* bfloat16: the GEMM kernel the packed slices are laid out for */
    int kq;            /* packed: pairs of cin per panel row block (0: V is float32, packed per GEMM) */
} wino_job;

/* The transforms work on row segments of up to SEG tiles of one tile row:
 * each loop over the SEG lanes has a constant trip count, so compilers turn
 * it into SIMD code at -O2. Lanes past the segment's n tiles compute on
 * zeros and are not stored. */
#define SEG 16

/* The per-segment transforms are cloned for AVX-512 and AVX2 (chosen at
 * load time from the CPU, the SSE2 baseline otherwise): the helpers they
 * call are inlined into each clone, so the SEG-lane loops run one
 * 16-float vector (AVX-512) or two (AVX2) per statement. ISO C mode does
 * not contract a * b + c into FMA, so every clone computes bit-identical
 * results. */
#define WINO_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define WINO_INLINE static inline __attribute__((always_inline))

/* P[p][t] = src[s t + p] for p < s, t < cnt: splits interleaved tiles into
 * s phase arrays of stride SEG + 1. */
WINO_INLINE void deinterleave(float *P, int s, const float *src, int cnt)
{
    int t = 0;
#ifdef HAVE_SSE2
    if (s == 4) {
        for (; t + 4 <= cnt; t += 4) {
            __m128 a0 = _mm_loadu_ps(src + 4 * t), a1 = _mm_loadu_ps(src + 4 * t + 4);
            __m128 a2 = _mm_loadu_ps(src + 4 * t + 8), a3 = _mm_loadu_ps(src + 4 * t + 12);
            _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
            _mm_storeu_ps(P + t, a0);
            _mm_storeu_ps(P + (SEG + 1) + t, a1);
            _mm_storeu_ps(P + 2 * (SEG + 1) + t, a2);
            _mm_storeu_ps(P + 3 * (SEG + 1) + t, a3);
        }
    } else {
        for (; t + 4 <= cnt; t += 4) {
            __m128 a0 = _mm_loadu_ps(src + 2 * t), a1 = _mm_loadu_ps(src + 2 * t + 4);
            _mm_storeu_ps(P + t, _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)));
            _mm_storeu_ps(P + (SEG + 1) + t, _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)));
        }
    }
#endif
    for (; t < cnt; t++)
        for (int p = 0; p < s; p++)
            P[p * (SEG + 1) + t] = src[s * t + p];
}

/* Index that position i of a line of n reads under the padding mode when
 * the convolution pads by one: i itself inside, the mode's pixel at -1 and
 * n, else -1 (a zero: beyond the padding only outputs outside the image
 * read it). */
WINO_INLINE int pad1_index(int i, int n, stylize_pad_mode mode)
{
    if (i >= 0 && i < n)
        return i;
    return i == -1 || i == n ? stylize_conv_pad_index(i, n, mode) : -1;
}

/* P[p][t] = row[x0 + s t + p] for p < s, t <= n (the n tiles plus the next
 * one, whose first values the last tile's patch reaches); outside [0, w)
 * the padding mode's value at -1 and w (pad1_index), zero elsewhere and for
 * t > n. row == NULL: all zero. */
WINO_INLINE void load_phases(float *P, int s, const float *row, int w, int x0, int n, stylize_pad_mode mode)
{
    if (!row) {
        memset(P, 0, (size_t)s * (SEG + 1) * sizeof(float));
        return;
    }
    /* groups t in [lo, hi) lie inside [0, w): deinterleaved in bulk; the
     * (at most a few) groups across the image edges element by element */
    int lo = x0 < 0 ? (-x0 + s - 1) / s : 0, hi = x0 < w ? (w - x0) / s : 0;
    if (hi > n + 1)
        hi = n + 1;
    if (lo > n + 1)
        lo = n + 1;
    if (hi < lo)
        hi = lo;
    if (hi > lo)
        deinterleave(P + lo, s, row + x0 + s * lo, hi - lo);
    for (int t = 0; t <= n; t++) {
        if (t == lo)
            t = hi;
        if (t > n)
            break;
        for (int p = 0; p < s; p++) {
            int x = pad1_index(x0 + s * t + p, w, mode);
            P[p * (SEG + 1) + t] = x >= 0 ? row[x] : 0.0f;
        }
    }
    for (int p = 0; p < s; p++)
        for (int t = n + 1; t <= SEG; t++)
            P[p * (SEG + 1) + t] = 0.0f;
}

/* row[s t + j] = Y[j][t] for j < s, t < n: interleaves tile outputs. */
WINO_INLINE void interleave(float *row, int s, const float Y[4][SEG], int n)
{
    int t = 0;
#ifdef HAVE_SSE2
    if (s == 4) {
        for (; t + 4 <= n; t += 4) {
            __m128 a0 = _mm_loadu_ps(&Y[0][t]), a1 = _mm_loadu_ps(&Y[1][t]);
            __m128 a2 = _mm_loadu_ps(&Y[2][t]), a3 = _mm_loadu_ps(&Y[3][t]);
            _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
            _mm_storeu_ps(row + 4 * t, a0);
            _mm_storeu_ps(row + 4 * t + 4, a1);
            _mm_storeu_ps(row + 4 * t + 8, a2);
            _mm_storeu_ps(row + 4 * t + 12, a3);
        }
    } else {
        for (; t + 4 <= n; t += 4) {
            __m128 a0 = _mm_loadu_ps(&Y[0][t]), a1 = _mm_loadu_ps(&Y[1][t]);
            _mm_storeu_ps(row + 2 * t, _mm_unpacklo_ps(a0, a1));
            _mm_storeu_ps(row + 2 * t + 4, _mm_unpackhi_ps(a0, a1));
        }
    }
#endif
    for (; t < n; t++)
        for (int j = 0; j < s; j++)
            row[s * t + j] = Y[j][t];
}

/* Writes one output row of n tiles of width s (Y[j][t]: column j of tile t)
 * at row: interleaved when every tile fits (full), else clipped to the
 * avail columns left in the image. Shared by the F(4, 3) and F(2, 3) paths. */
WINO_INLINE void store_tile_row(float *row, int s, const float Y[4][SEG], int n, int full, int avail)
{
    if (full) {
        interleave(row, s, Y, n);
        return;
    }
    for (int t = 0; t < n; t++)
        for (int j = 0; j < s && s * t + j < avail; j++)
            row[s * t + j] = Y[j][t];
}


/* o[k * 6 ks + t] = (B^T d(t))[k], k < 6, for the six rows d0..d5 of SEG
 * lanes (F(4, 3)), with
 *   B^T = [1 -5/2 0 5/2 -1 0; 0 -1 3/2 3/2 -1 0; 0 -1 7/2 -7/2 1 0;
 *          0 1/2 -1 -1/2 1 0; 0 8 -4 -8 4 0; 0 -1 5/2 0 -5/2 1]. The six outputs are separate restrict pointers so that
 * the lanes vectorize without alias checks. */
WINO_INLINE void bt4_store(float *restrict o0, float *restrict o1, float *restrict o2,
                      float *restrict o3, float *restrict o4, float *restrict o5,
                      const float *restrict d0, const float *restrict d1, const float *restrict d2,
                      const float *restrict d3, const float *restrict d4, const float *restrict d5)
{
    for (int t = 0; t < SEG; t++) {
        float a = d1[t] - d3[t], b = d4[t] - d2[t];
        o0[t] = (d0[t] - d4[t]) - 2.5f * a;
        o1[t] = 1.5f * (d2[t] + d3[t]) - (d1[t] + d4[t]);
        o2[t] = 3.5f * (d2[t] - d3[t]) + (d4[t] - d1[t]);
        o3[t] = 0.5f * a + b;
        o4[t] = 8.0f * a + 4.0f * b;
        o5[t] = 2.5f * (d2[t] - d4[t]) + (d5[t] - d1[t]);
    }
}

WINO_INLINE void bt4_columns(float *v, size_t ks, const float *d0, const float *d1, const float *d2,
                        const float *d3, const float *d4, const float *d5)
{
    bt4_store(v, v + 6 * ks, v + 12 * ks, v + 18 * ks, v + 24 * ks, v + 30 * ks, d0, d1, d2, d3,
              d4, d5);
}

/* F(2, 3): o[k * 4 ks + t] = (B^T d(t))[k], k < 4. */
WINO_INLINE void bt2_store(float *restrict o0, float *restrict o1, float *restrict o2,
                      float *restrict o3, const float *restrict d0, const float *restrict d1,
                      const float *restrict d2, const float *restrict d3)
{
    for (int t = 0; t < SEG; t++) {
        o0[t] = d0[t] - d2[t];
        o1[t] = d1[t] + d2[t];
        o2[t] = d2[t] - d1[t];
        o3[t] = d1[t] - d3[t];
    }
}

WINO_INLINE void bt2_columns(float *v, size_t ks, const float *d0, const float *d1, const float *d2,
                        const float *d3)
{
    bt2_store(v, v + 4 * ks, v + 8 * ks, v + 12 * ks, d0, d1, d2, d3);
}

/* F(4, 3) input transform of n <= SEG tiles (tile row ty, first tile column
 * tx) of one channel plane (h, w): v[k * ks + t] = (B^T d_t B)[k], k < 36,
 * for all SEG lanes t (lanes past n get the transform of zeros). */
WINO_CLONES static void wino4_input_seg(float *v, size_t ks, const float *plane, int h, int w, int ty, int tx,
                            int n, stylize_pad_mode mode)
{
    float P[4][SEG + 1], H[6][6][SEG]; /* H[i][k2][t]: row i of the patch, B-transformed */
    for (int i = 0; i < 6; i++) {
        int y = pad1_index(4 * ty - 1 + i, h, mode);
        const float *row = y >= 0 ? plane + (size_t)y * (size_t)w : NULL;
        load_phases(&P[0][0], 4, row, w, 4 * tx - 1, n, mode);
        for (int t = 0; t < SEG; t++) {
            float d0 = P[0][t], d1 = P[1][t], d2 = P[2][t], d3 = P[3][t];
            float d4 = P[0][t + 1], d5 = P[1][t + 1];
            float a = d1 - d3, b = d4 - d2;
            H[i][0][t] = (d0 - d4) - 2.5f * a;
            H[i][1][t] = 1.5f * (d2 + d3) - (d1 + d4);
            H[i][2][t] = 3.5f * (d2 - d3) + (d4 - d1);
            H[i][3][t] = 0.5f * a + b;
            H[i][4][t] = 8.0f * a + 4.0f * b;
            H[i][5][t] = 2.5f * (d2 - d4) + (d5 - d1);
        }
    }
    for (int k2 = 0; k2 < 6; k2++)
        bt4_columns(v + (size_t)k2 * ks, ks, H[0][k2], H[1][k2], H[2][k2], H[3][k2], H[4][k2],
                    H[5][k2]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_INPUT 1

/* The row values r[0..63] in a[0..3] and r[64], r[65] in e, for
 * r[i] = row[x0 + i] under the padding: inside [0, w) the row (masked
 * loads: nothing outside it is read), at -1 and w the mode's pixel
 * (pad1_index), zero beyond. x0 >= -1. */
__attribute__((target("avx512f"))) static void load_row_avx512(__m512 a[4], float e[2], const float *row, int x0,
                                                              int w, stylize_pad_mode mode)
{
    for (int k = 0; k < 4; k++) {
        int base = x0 + 16 * k, lo = base < 0 ? 1 : 0, hi = w - base < 16 ? w - base : 16;
        __mmask16 m = hi > lo ? (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1)) : 0;
        if (!m) { /* nothing of the row: no pointer past it is formed */
            a[k] = _mm512_setzero_ps();
        } else if (!lo) {
            a[k] = _mm512_maskz_loadu_ps(m, row + base);
        } else { /* base == -1: lanes 1..15 are row[0..14] */
            __m512 v = _mm512_maskz_loadu_ps((__mmask16)(m >> 1), row);
            a[k] = _mm512_castsi512_ps(
                _mm512_alignr_epi32(_mm512_castps_si512(v), _mm512_setzero_si512(), 15));
        }
    }
    for (int q = 0; q < 2; q++)
        e[q] = x0 + 64 + q < w ? row[x0 + 64 + q] : 0.0f;
    for (int side = 0; side < 2; side++) { /* the padding's pixels at -1 and w */
        int pos = side ? w : -1, o = pos - x0, src = pad1_index(pos, w, mode);
        float val = src >= 0 ? row[src] : 0.0f;
        if (o < 0 || o >= 66)
            continue;
        if (o >= 64)
            e[o - 64] = val;
        else
            a[o / 16] = _mm512_mask_mov_ps(a[o / 16], (__mmask16)(1u << (o % 16)), _mm512_set1_ps(val));
    }
}

/* D[q][t] = r[4 t + q] for q < 6, t < SEG (the six rows d0..d5 of the
 * F(4, 3) row transform: four phases and the first two shifted by a tile)
 * from the row values of load_row_avx512, in registers: two levels of
 * two-source permutes for the phases, an element shift for the last two.
 * Full, aligned vector stores, which the loads of the row transform that
 * follows read back as stored (the generic path's deinterleave writes
 * 4-float pieces that a 16-float load cannot be forwarded from: it waits
 * for them to reach the cache). */
__attribute__((target("avx512f"))) static void row_phases_avx512(float D[6][SEG], const __m512 a[4],
                                                                const float e[2])
{
    const __m512i every4 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    __m512 p[4];
    for (int q = 0; q < 4; q++) {
        __m512i idx = _mm512_add_epi32(every4, _mm512_set1_epi32(q));
        __m512 lo = _mm512_permutex2var_ps(a[0], idx, a[1]), hi = _mm512_permutex2var_ps(a[2], idx, a[3]);
        p[q] = _mm512_shuffle_f32x4(lo, hi, 0x44); /* lo's lanes 0..7, then hi's */
        _mm512_store_ps(D[q], p[q]);
    }
    for (int q = 0; q < 2; q++) { /* d4 = phase 0, d5 = phase 1, one tile on: r[64 + q] enters */
        __m512i next = _mm512_castps_si512(_mm512_set1_ps(e[q]));
        _mm512_store_ps(D[4 + q], _mm512_castsi512_ps(_mm512_alignr_epi32(next, _mm512_castps_si512(p[q]), 1)));
    }
}

/* wino4_input_seg for AVX-512 CPUs, every segment (lanes past n: the
 * transform of what the row holds there; callers keep n lanes). The
 * arithmetic is bt4_store's in both passes, so lanes < n are
 * wino4_input_seg's bit for bit. */
__attribute__((target("avx512f"))) static void wino4_input_seg_avx512(float *v, size_t ks, const float *plane,
                                                                     int h, int w, int ty, int tx, int n,
                                                                     stylize_pad_mode mode)
{
    (void)n;
    float D[6][SEG] __attribute__((aligned(64)));
    float H[6][6][SEG] __attribute__((aligned(64))); /* H[i][k2][t]: row i of the patch, B-transformed */
    for (int i = 0; i < 6; i++) {
        int y = pad1_index(4 * ty - 1 + i, h, mode);
        if (y >= 0) {
            __m512 a[4];
            float e[2];
            const float *row = plane + (size_t)y * (size_t)w;
            /* the same row of the next plane, which the caller transforms
             * after this run of segments: an address (past the tensor for
             * its last plane, where the prefetch is wasted: prefetches do
             * not fault), not a pointer into the array */
            uintptr_t next = (uintptr_t)(row + 4 * tx) + (size_t)h * (size_t)w * sizeof(float) - sizeof(float);
            for (int b = 0; b < 66 * 4 + 64; b += 64)
                __builtin_prefetch((const void *)(next + (uintptr_t)b));
            load_row_avx512(a, e, row, 4 * tx - 1, w, mode);
            row_phases_avx512(D, a, e);
        } else {
            memset(D, 0, sizeof D);
        }
        bt4_store(H[i][0], H[i][1], H[i][2], H[i][3], H[i][4], H[i][5], D[0], D[1], D[2], D[3], D[4], D[5]);
    }
    for (int k2 = 0; k2 < 6; k2++)
        bt4_columns(v + (size_t)k2 * ks, ks, H[0][k2], H[1][k2], H[2][k2], H[3][k2], H[4][k2],
                    H[5][k2]);
}
#endif

/* F(2, 3) input transform: v[k * ks + t] = (B^T d_t B)[k], k < 16. */
WINO_CLONES static void wino2_input_seg(float *v, size_t ks, const float *plane, int h, int w, int ty, int tx,
                            int n, stylize_pad_mode mode)
{
    float P[2][SEG + 1], H[4][4][SEG];
    for (int i = 0; i < 4; i++) {
        int y = pad1_index(2 * ty - 1 + i, h, mode);
        const float *row = y >= 0 ? plane + (size_t)y * (size_t)w : NULL;
        load_phases(&P[0][0], 2, row, w, 2 * tx - 1, n, mode);
        for (int t = 0; t < SEG; t++) {
            float d0 = P[0][t], d1 = P[1][t], d2 = P[0][t + 1], d3 = P[1][t + 1];
            H[i][0][t] = d0 - d2;
            H[i][1][t] = d1 + d2;
            H[i][2][t] = d2 - d1;
            H[i][3][t] = d1 - d3;
        }
    }
    for (int k2 = 0; k2 < 4; k2++)
        bt2_columns(v + (size_t)k2 * ks, ks, H[0][k2], H[1][k2], H[2][k2], H[3][k2]);
}

/* Y[j][t] = ReLU(Y[j][t]) for j < s, as stylize_relu_forward: the value
 * where !(v < 0) (NaN and -0 pass), else +0. */
WINO_INLINE void relu_rows(float Y[4][SEG], int s)
{
    for (int j = 0; j < s; j++)
        for (int t = 0; t < SEG; t++)
            Y[j][t] = Y[j][t] < 0.0f ? 0.0f : Y[j][t];
}

/* F(4, 3) output transform of n <= SEG tiles from mm[k * ks + t] (k < 36):
 * the 4 x 4 tiles A^T m_t A + bias (then the ReLU if relu) into rows
 * ty * 4 .. of plane (h, w), clipped to the plane, with
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 1/2 0; 0 1 1 4 1/4 0; 0 1 -1 8 1/8 1]. */
WINO_CLONES static void wino4_output_seg(float *plane, int h, int w, int ty, int tx, int n,
                             const float *mm, size_t ks, float bias, int relu)
{
    float T[4][6][SEG], Y[4][SEG]; /* T[r][k2][t] = (A^T m)[r][k2]; Y[j][t]: row r of the tile */
    for (int k2 = 0; k2 < 6; k2++)
        for (int t = 0; t < SEG; t++) {
            float m0 = mm[(size_t)k2 * ks + (size_t)t], m1 = mm[(size_t)(6 + k2) * ks + (size_t)t];
            float m2 = mm[(size_t)(12 + k2) * ks + (size_t)t];
            float m3 = mm[(size_t)(18 + k2) * ks + (size_t)t];
            float m4 = mm[(size_t)(24 + k2) * ks + (size_t)t];
            float m5 = mm[(size_t)(30 + k2) * ks + (size_t)t];
            float s1 = m1 + m2, d1 = m1 - m2;
            T[0][k2][t] = m0 + s1 + (m3 + m4);
            T[1][k2][t] = d1 + (2.0f * m3 + 0.5f * m4);
            T[2][k2][t] = s1 + (4.0f * m3 + 0.25f * m4);
            T[3][k2][t] = d1 + (8.0f * m3 + 0.125f * m4) + m5;
        }
    int x0 = 4 * tx, full = x0 + 4 * n <= w;
    for (int r = 0; r < 4; r++) {
        int y = 4 * ty + r;
        if (y >= h)
            break;
        for (int t = 0; t < SEG; t++) {
            float m0 = T[r][0][t], m1 = T[r][1][t], m2 = T[r][2][t];
            float m3 = T[r][3][t], m4 = T[r][4][t], m5 = T[r][5][t];
            float s1 = m1 + m2, d1 = m1 - m2;
            Y[0][t] = m0 + s1 + (m3 + m4) + bias;
            Y[1][t] = d1 + (2.0f * m3 + 0.5f * m4) + bias;
            Y[2][t] = s1 + (4.0f * m3 + 0.25f * m4) + bias;
            Y[3][t] = d1 + (8.0f * m3 + 0.125f * m4) + m5 + bias;
        }
        if (relu)
            relu_rows(Y, 4);
        float *row = plane + (size_t)y * (size_t)w + (size_t)x0;
        store_tile_row(row, 4, Y, n, full, w - x0);
    }
}

/* F(2, 3) output transform: 2 x 2 tiles A^T m_t A + bias (ReLU if relu), clipped. */
WINO_CLONES static void wino2_output_seg(float *plane, int h, int w, int ty, int tx, int n,
                             const float *mm, size_t ks, float bias, int relu)
{
    float T[2][4][SEG], Y[4][SEG];
    for (int k2 = 0; k2 < 4; k2++)
        for (int t = 0; t < SEG; t++) {
            float m0 = mm[(size_t)k2 * ks + (size_t)t], m1 = mm[(size_t)(4 + k2) * ks + (size_t)t];
            float m2 = mm[(size_t)(8 + k2) * ks + (size_t)t];
            float m3 = mm[(size_t)(12 + k2) * ks + (size_t)t];
            T[0][k2][t] = m0 + m1 + m2;
            T[1][k2][t] = m1 - m2 - m3;
        }
    int x0 = 2 * tx, full = x0 + 2 * n <= w;
    for (int r = 0; r < 2; r++) {
        int y = 2 * ty + r;
        if (y >= h)
            break;
        for (int t = 0; t < SEG; t++) {
            Y[0][t] = T[r][0][t] + T[r][1][t] + T[r][2][t] + bias;
            Y[1][t] = T[r][1][t] - T[r][2][t] - T[r][3][t] + bias;
        }
        if (relu)
            relu_rows(Y, 2);
        float *row = plane + (size_t)y * (size_t)w + (size_t)x0;
        store_tile_row(row, 2, Y, n, full, w - x0);
    }
}

/* A per-segment transform: v[k * ks + t] for the a^2 components k of the
 * n <= SEG tiles at tile row ty, first tile column tx, of one plane
 * (h, w) read with one pixel of padding mode. */
typedef void (*wino_seg_fn)(float *v, size_t ks, const float *plane, int h, int w, int ty, int tx, int n,
                            stylize_pad_mode mode);

/* seg of tiles [t0, t0 + n) of every plane of src (channels, h, w) into
 * columns [b0, b0 + n) of dst (a^2 slices ks apart, channel rows nt
 * apart). A full segment is written in place; a short one through v, as
 * its SEG lanes would overrun the tiles that follow. */
static void wino_range(const wino_job *j, wino_seg_fn seg, const float *src, int channels, float *dst,
                       size_t ks, stylize_pad_mode mode, long long t0, int b0, int n)
{
    int aa = (j->m + 2) * (j->m + 2);
    size_t plane = (size_t)j->h * (size_t)j->w;
    float v[36 * SEG];
    for (int c = 0; c < channels; c++) {
        const float *sc = src + (size_t)c * plane;
        float *dc = dst + (size_t)c * (size_t)j->nt;
        for (int i = 0; i < n;) {
            long long t = t0 + i;
            int ty = (int)(t / j->tw), tx = (int)(t % j->tw), b = b0 + i;
            int cnt = n - i < SEG ? n - i : SEG;
            if (cnt > j->tw - tx)
                cnt = j->tw - tx;
            if (cnt == SEG)
                seg(dc + b, ks, sc, j->h, j->w, ty, tx, cnt, mode);
            else
                seg(v, SEG, sc, j->h, j->w, ty, tx, cnt, mode);
            if (cnt < SEG)
                for (int k = 0; k < aa; k++)
                    memcpy(dc + (size_t)k * ks + (size_t)b, v + k * SEG, (size_t)cnt * sizeof(float));
            i += cnt;
        }
    }
}

/* Input transform of tiles [t0, t0 + n) into columns [b0, b0 + n) of V,
 * every input channel: V[k][c][b] = (B^T d B)[k]. */
static void wino_input_range(const wino_job *j, long long t0, int b0, int n)
{
    wino_seg_fn seg = j->m == 4 ? wino4_input_seg : wino2_input_seg;
#ifdef HAVE_AVX512_INPUT
    if (j->m == 4 && stylize_cpu()->avx512f)
        seg = wino4_input_seg_avx512;
#endif
    wino_range(j, seg, j->in, j->cin, j->V, j->vstride, j->pad, t0, b0, n);
}

/* The packed path's panel of the task whose columns start at b0, in
 * component 0 (component k's is k * vstride words on): panel b0 / NR of
 * each component's slice of V, kq pairs of NR words. */
static unsigned *packed_panel(const wino_job *j, int b0)
{
    return (unsigned *)j->V + (size_t)(b0 / STYLIZE_BF16_NR) * (size_t)j->kq * STYLIZE_BF16_NR;
}

#if defined(HAVE_AVX512_INPUT)
#define HAVE_PACKED_INPUT 1
static int packed_input = 1;      /* stylize_conv_testing_wino_packed */
static atomic_long packed_calls; /* calls that took the packed path, for the hook */

/* bfloat16 F(4, 3): the input transform of tiles [t0, t0 + n), n <= NR,
 * straight into one packed B panel per component (gemm_bf16.h's layout;
 * component k's at pk + k * vstride words), instead of float32 V and a
 * packing pass per GEMM: each pair of input channels is transformed into
 * local SEG-lane rows and rounded to the words stylize_bf16_pack_b writes
 * (the same vcvtneps2bf16), 16 words to a store: half the bytes V took
 * to the cache. Columns past n and the pairs' padding to kq are zero. */
BF16_TARGET static void wino4_input_packed(const wino_job *j, long long t0, unsigned *pk, int n)
{
    int kp = (j->cin + 1) / 2;
    size_t plane = (size_t)j->h * (size_t)j->w, ks = j->vstride;
    float v0[36 * SEG] __attribute__((aligned(64))), v1[36 * SEG] __attribute__((aligned(64)));
    memset(v1, 0, sizeof v1); /* an odd channel count's last pair: zeros above */
    for (int q = 0; q < kp; q++) {
        const float *p0 = j->in + (size_t)(2 * q) * plane;
        unsigned *row = pk + (size_t)q * STYLIZE_BF16_NR; /* pair q's words in component 0 */
        for (int i = 0; i < n;) {
            long long t = t0 + i;
            int ty = (int)(t / j->tw), tx = (int)(t % j->tw);
            int cnt = n - i < SEG ? n - i : SEG;
            cnt = cnt > j->tw - tx ? j->tw - tx : cnt;
            wino4_input_seg_avx512(v0, SEG, p0, j->h, j->w, ty, tx, cnt, j->pad);
            if (2 * q + 1 < j->cin)
                wino4_input_seg_avx512(v1, SEG, p0 + plane, j->h, j->w, ty, tx, cnt, j->pad);
            __mmask16 keep = (__mmask16)((1u << cnt) - 1);
            for (int k = 0; k < 36; k++)
                _mm512_mask_storeu_epi32(row + (size_t)k * ks + (size_t)i, keep,
                                         stylize_bf16_pairs16(_mm512_load_ps(v0 + k * SEG),
                                                              _mm512_load_ps(v1 + k * SEG)));
            i += cnt;
        }
        for (int k = 0; n < STYLIZE_BF16_NR && k < 36; k++)
            memset(row + (size_t)k * ks + (size_t)n, 0, (size_t)(STYLIZE_BF16_NR - n) * sizeof *row);
    }
    for (int k = 0; k < 36; k++)
        memset(pk + (size_t)k * ks + (size_t)kp * STYLIZE_BF16_NR, 0,
               (size_t)(j->kq - kp) * STYLIZE_BF16_NR * sizeof *pk);
}
#endif

long stylize_conv_testing_wino_packed(int on)
{
#ifdef HAVE_PACKED_INPUT
    packed_input = on != 0;
    return atomic_exchange(&packed_calls, 0);
#else
    (void)on;
    return 0;
#endif
}

/* Output transform of columns [b0, b0 + n) of M into tiles [t0, t0 + n),
 * every output channel: the m x m output tiles A^T M A + bias (and the
 * ReLU when the job fuses it). */
static void wino_output_range(const wino_job *j, long long t0, int b0, int n)
{
    int m = j->m, aa = (m + 2) * (m + 2);
    size_t plane = (size_t)j->h * (size_t)j->w;
    float mm[36 * SEG];
    memset(mm, 0, sizeof mm); /* lanes past cnt stay defined */
    for (int c = 0; c < j->cout; c++) {
        float bias = j->bias ? j->bias[c] : 0.0f;
        float *dst = j->out + (size_t)c * plane;
        const float *mc = j->M + (size_t)c * (size_t)j->nt;
        for (int i = 0; i < n;) {
            long long t = t0 + i;
            int ty = (int)(t / j->tw), tx = (int)(t % j->tw), b = b0 + i;
            int cnt = n - i < SEG ? n - i : SEG;
            if (cnt > j->tw - tx)
                cnt = j->tw - tx;
            /* a full segment is read in place, a short one through mm */
            const float *src = mc + b;
            size_t ks = j->mstride;
            for (int k = 0; c + 1 < j->cout && k < aa; k++) /* the next channel's, after this run */
                __builtin_prefetch(src + j->nt + (size_t)k * ks);
            if (cnt < SEG) {
                for (int k = 0; k < aa; k++)
                    memcpy(mm + k * SEG, mc + (size_t)k * j->mstride + (size_t)b,
                           (size_t)cnt * sizeof(float));
                src = mm;
                ks = SEG;
            }
            if (m == 4)
                wino4_output_seg(dst, j->h, j->w, ty, tx, cnt, src, ks, bias, j->relu);
            else
                wino2_output_seg(dst, j->h, j->w, ty, tx, cnt, src, ks, bias, j->relu);
            i += cnt;
        }
    }
}

/* The a^2 bfloat16 GEMMs of one run: each V slice's n columns packed into
 * the task's panels of pbuf (its columns start on a panel), then M[k] =
 * U[k] V[k] from the packed kernel slice k. */
static void wino_gemms_bf16(const wino_job *j, int b0, int n)
{
    int aa = (j->m + 2) * (j->m + 2);
    unsigned char *pb = j->pbuf + (size_t)(b0 / STYLIZE_BF16_NR) *
                                      stylize_bf16_pack_b_bytes(j->cin, STYLIZE_BF16_NR);
    for (int k = 0; k < aa; k++) {
        const void *b = pb;
        if (j->kq) /* the transform's own panel */
            b = packed_panel(j, b0) + (size_t)k * j->vstride;
        else
            stylize_bf16_pack_b(j->V + (size_t)k * j->vstride + (size_t)b0, j->nt, j->cin, n, pb);
        stylize_gemm_bf16(j->kern, j->cout, n, j->cin, j->pk + (size_t)k * j->pkstride, b,
                          j->M + (size_t)k * j->mstride + (size_t)b0, j->nt, 0);
    }
}

/* Component k of columns [b0, b0 + n): forward: M[k] = u[k] V[k], u[k]
 * (cout, cin); input gradient (cout, cin here are the gradient's
 * channels): M[k] = u[k']^T V[k] with u[k'] (cin, cout) as the forward
 * stores it. */
static void wino_sgemm(const wino_job *j, int k, int b0, int n)
{
    int a = j->m + 2;
    int kk = j->perm ? j->perm[k / a] * a + j->perm[k % a] : k;
    size_t usize = (size_t)j->cout * (size_t)j->cin;
    cblas_sgemm(CblasRowMajor, j->perm ? CblasTrans : CblasNoTrans, CblasNoTrans, j->cout, n, j->cin, 1.0f,
                j->u + (size_t)kk * usize, j->perm ? j->cout : j->cin, j->V + (size_t)k * j->vstride + (size_t)b0,
                j->nt, 0.0f, j->M + (size_t)k * j->mstride + (size_t)b0, j->nt);
}

/* Tiles per run of one task, at most: the run's V (a^2, cin, run) is
 * written by the input transform and read back by the GEMMs, and a shorter
 * run keeps more of it in the core's L2. AMD Zen 4, medians of 7
 * alternated bench_conv -g runs (one thread: CPU time), against runs of a
 * whole block (256 tiles on one thread, 128 on two): float32 64 -> 64 at
 * 256 x 256, one thread, 22.3 -> 20.3 ms at 128 tiles; bfloat16 through
 * vdpbf16ps 128 -> 128 at 128 x 128 at 64 (one packed panel), one thread
 * 14.0 -> 10.7 ms, two 7.7 -> 6.8 ms. */
#define WINO_RUN_MAX_TILES 128
#define WINO_RUN_MAX_TILES_BF16 STYLIZE_BF16_NR

/* Task t owns columns [b0, b0 + cap) of V and M, cap = nt / ntasks for
 * every task but at most the run bound above (bfloat16: rounded down to
 * whole packed panels of NR columns). It takes runs of cap tiles from the
 * shared counter (so a thread that runs slow takes fewer) and walks each
 * through its columns: input transform, the a^2 sgemms (or bfloat16
 * GEMMs) on its columns, output transform. Tasks touch disjoint columns
 * and disjoint output tiles, so they never wait for
 * each other. Every run starts at a multiple of cap and has the same length
 * whichever task takes it, so each tile meets the same sgemm shape and
 * column position on every call: results do not depend on the threads'
 * timing (with unequal shares they did, in the last bits). */
static void wino_task(void *vctx, int t)
{
    wino_job *j = vctx;
    int a = j->m + 2, aa = a * a;
    int cap = j->cap, b0 = cap * t;
    for (;;) {
        long long s = atomic_fetch_add_explicit(&j->next, cap, memory_order_relaxed);
        if (s >= j->tiles)
            break;
        int n = j->tiles - s < cap ? (int)(j->tiles - s) : cap;
#ifdef HAVE_PACKED_INPUT
        if (j->kq)
            wino4_input_packed(j, s, packed_panel(j, b0), n);
        else
#endif
            wino_input_range(j, s, b0, n);
        if (j->pk)
            wino_gemms_bf16(j, b0, n);
        for (int k = 0; j->pk == NULL && k < aa; k++)
            wino_sgemm(j, k, b0, n);
        wino_output_range(j, s, b0, n);
    }
}

#define WINO_TASK_MIN_TILES 32 /* fewer columns per task than this: fewer tasks */

/* ---- phased float32 path --------------------------------------------------
 * With wide kernels, splitting a block's tiles between tasks makes every
 * task pack all of u[k] for its sgemms (OpenBLAS packs both operands per
 * call): at 512 channels the packing of u was 12% of a Gatys evaluation,
 * done twice over. Here a block runs in three phases, each split between
 * the tasks: the input transform by tiles, the a^2 sgemms by component
 * (each packs only its u[k], over the whole block: N twice as large), the
 * output transform by tiles. Each component's sgemm has the block's whole
 * width whatever the threads, so the result does not depend on them. */
#define WINO_PHASED_MIN_KERNEL (256 * 256) /* cin x cout from which it runs phased */

/* Task t's share of the block's tiles through a transform (input or output). */
static void phase_tiles(const wino_job *j, int t, void (*range)(const wino_job *, long long, int, int))
{
    int lo = (int)((long long)j->bn * t / j->ntasks), hi = (int)((long long)j->bn * (t + 1) / j->ntasks);
    if (hi > lo)
        range(j, j->bs + lo, lo, hi - lo);
}

static void phase_input_task(void *vctx, int t)
{
    phase_tiles(vctx, t, wino_input_range);
}

static void phase_gemm_task(void *vctx, int t)
{
    const wino_job *j = vctx;
    int aa = (j->m + 2) * (j->m + 2);
    for (int k = aa * t / j->ntasks; k < aa * (t + 1) / j->ntasks; k++)
        wino_sgemm(j, k, 0, j->bn);
}

static void phase_output_task(void *vctx, int t)
{
    phase_tiles(vctx, t, wino_output_range);
}

static void wino_phased(wino_job *j)
{
    for (j->bs = 0; j->bs < j->tiles; j->bs += j->nt) {
        j->bn = j->tiles - j->bs < j->nt ? (int)(j->tiles - j->bs) : j->nt;
        stylize_conv_run_blas_tasks(j->ntasks, phase_input_task, j);
        stylize_conv_run_blas_tasks(j->ntasks, phase_gemm_task, j);
        stylize_conv_run_blas_tasks(j->ntasks, phase_output_task, j);
    }
}

/* The packed input transform's kq (pairs of cin per panel) when it runs
 * for this call, else 0: F(4, 3) on AVX-512, each task's runs one panel
 * (cap NR, or one task's shorter block), and the ntasks panels fitting
 * in each component's slice of V (vstride floats; cin * nt at least, so
 * they fit from 32 channels on over a block of NR tiles or more). */
static int packed_fits(int m, int cin, int ntasks, int cap, size_t vstride)
{
#ifdef HAVE_PACKED_INPUT
    int kq = stylize_bf16_pack_b_pairs(cin);
    size_t need = (size_t)ntasks * (size_t)kq * STYLIZE_BF16_NR;
    int one_panel = ntasks == 1 ? cap <= STYLIZE_BF16_NR : cap == STYLIZE_BF16_NR;
    return packed_input && m == 4 && stylize_cpu()->avx512f && one_panel && need <= vstride ? kq : 0;
#else
    (void)m, (void)cin, (void)ntasks, (void)cap, (void)vstride;
    return 0;
#endif
}

void stylize_conv_winograd(float *out, const float *in, const void *kern, const float *bias,
                           stylize_conv_algo algo, stylize_wino_pass pass, stylize_pad_mode pad, int cin,
                           int cout, int h, int w, float *ws)
{
    if (h <= 0 || w <= 0)
        return;
    int backward = pass == STYLIZE_WINO_BACKWARD;
    int m = stylize_conv_algo_tile(algo), bf16 = stylize_conv_algo_bf16(algo), layout = 0;
    if (bf16)
        memcpy(&layout, kern, sizeof layout);
    if (layout == WINO_BF16_DIRECT) {
        stylize_conv_amx(out, in, (const unsigned char *)kern + WINO_BF16_HEADER, bias,
                         pass == STYLIZE_WINO_FORWARD_RELU, backward, pad, 1, cin, cout, h, w, ws,
                         stylize_conv_winograd_floats(algo, cin, cout, h, w));
        return;
    }
    int a = m + 2, aa = a * a;
    int th = (h + m - 1) / m, tw = (w + m - 1) / m;
    int nt = (int)wino_block_tiles(m, bf16, cin, cout, h, w);
    int nthr = stylize_parallel_threads();
    int min_cols = bf16 ? STYLIZE_BF16_NR : WINO_TASK_MIN_TILES;
    int ntasks = nt / min_cols < nthr ? nt / min_cols : nthr;
    ntasks = ntasks < 1 ? 1 : ntasks;
    int cap = nt / ntasks, run_max = bf16 ? WINO_RUN_MAX_TILES_BF16 : WINO_RUN_MAX_TILES;
    cap = cap < run_max ? cap : run_max;
    if (bf16 && ntasks > 1) /* each task's columns start on a packed panel */
        cap -= cap % STYLIZE_BF16_NR;
    size_t vstride = wino_kstride(cin, nt), mstride = wino_kstride(cout, nt);
    float *M = ws + (size_t)aa * vstride;
    wino_job j = {in, out, bf16 ? NULL : kern, bias, ws, M, vstride, mstride,
                  cin, cout, h, w, m, tw, (long long)th * tw, nt, pass == STYLIZE_WINO_FORWARD_RELU, pad,
                  ntasks, cap,
                  backward ? (m == 4 ? pi4 : pi2) : NULL, NULL, 0, NULL, 0, 0, 0, STYLIZE_BF16_DPBF16, 0};
    if (bf16) {
        /* the forward's kernel is (cout x cin) per slot here; the input
         * gradient's (cin x cout of the forward) = this call's (cout x cin) */
        size_t fwd = stylize_bf16_pack_a_bytes(backward ? cin : cout, backward ? cout : cin);
        size_t slot = stylize_bf16_pack_a_bytes(cout, cin);
        j.kern = (stylize_bf16_kernel)layout;
        j.pk = (const unsigned char *)kern + WINO_BF16_HEADER + (backward ? (size_t)aa * fwd : 0);
        j.pkstride = slot;
        j.pbuf = (unsigned char *)(M + (size_t)aa * mstride);
        j.kq = packed_fits(m, cin, ntasks, cap, vstride);
#ifdef HAVE_PACKED_INPUT
        if (j.kq)
            atomic_fetch_add_explicit(&packed_calls, 1, memory_order_relaxed);
#endif
    }
    atomic_init(&j.next, 0);
    if (!bf16 && nthr > 1 && (long long)cin * cout >= WINO_PHASED_MIN_KERNEL) {
        j.ntasks = nthr;
        wino_phased(&j);
        return;
    }
    stylize_conv_run_blas_tasks(j.ntasks, wino_task, &j);
}

/* ---- weight gradient ---------------------------------------------------- */

/* The adjoint of the forward in the kernel: with M_t = U .* V_t and
 * Y_t = A^T M_t A, U = G g G^T, the gradient of g is
 *   dg = G^T dU G,  dU[k] (cout, cin) = sum_t dM_t[k] V_t[k]^T,
 *   dM_t = A dY_t A^T (dY_t: the output gradient's m x m tile t).
 * So per block of tiles: the input transform V (as the forward), the
 * output gradient's transform dM (a^2, cout, nt), and the a^2 sgemms
 * dU[k] += dM[k] V[k]^T over the block's tiles; at the end the kernel
 * transform's adjoint. Exact in exact arithmetic, as the forward is, and
 * (m + 2)^2 / m^2 multiplies per output pixel and channel pair instead of
 * im2col's 9. Always float32 (the bfloat16 algorithms' weight gradients
 * too). */

/* o[k * 6 ks + t] = (A d(t))[k], k < 6, for the rows d0..d3 (F(4, 3)):
 * A's columns of A^T = [1 1 1 1 1 0; 0 1 -1 2 1/2 0; 0 1 1 4 1/4 0;
 * 0 1 -1 8 1/8 1]. */
WINO_INLINE void at4_store(float *restrict o0, float *restrict o1, float *restrict o2,
                           float *restrict o3, float *restrict o4, float *restrict o5,
                           const float *restrict d0, const float *restrict d1,
                           const float *restrict d2, const float *restrict d3)
{
    for (int t = 0; t < SEG; t++) {
        float e = d0[t] + d2[t], o = d1[t] + d3[t];
        o0[t] = d0[t];
        o1[t] = e + o;
        o2[t] = e - o;
        o3[t] = (d0[t] + 4.0f * d2[t]) + 2.0f * (d1[t] + 4.0f * d3[t]);
        o4[t] = (d0[t] + 0.25f * d2[t]) + 0.5f * (d1[t] + 0.25f * d3[t]);
        o5[t] = d3[t];
    }
}

/* F(4, 3) output-gradient transform of n <= SEG tiles (tile row ty, first
 * tile column tx) of one plane (h, w), read with padding mode (the weight
 * gradient asks for zero): v[k * ks + t] =
 * (A g_t A^T)[k], k < 36, for all SEG lanes. */
WINO_CLONES static void wino4_gout_seg(float *v, size_t ks, const float *plane, int h, int w, int ty,
                                       int tx, int n, stylize_pad_mode mode)
{
    float P[4][SEG + 1], H[4][6][SEG]; /* H[r][k2][t]: row r of the tile, A-transformed */
    for (int r = 0; r < 4; r++) {
        int y = 4 * ty + r;
        load_phases(&P[0][0], 4, y < h ? plane + (size_t)y * (size_t)w : NULL, w, 4 * tx, n, mode);
        at4_store(H[r][0], H[r][1], H[r][2], H[r][3], H[r][4], H[r][5], P[0], P[1], P[2], P[3]);
    }
    for (int k2 = 0; k2 < 6; k2++)
        at4_store(v + (size_t)k2 * ks, v + (size_t)(6 + k2) * ks, v + (size_t)(12 + k2) * ks,
                  v + (size_t)(18 + k2) * ks, v + (size_t)(24 + k2) * ks, v + (size_t)(30 + k2) * ks,
                  H[0][k2], H[1][k2], H[2][k2], H[3][k2]);
}

/* F(2, 3): A's columns of A^T = [1 1 1 0; 0 1 -1 -1]; k < 16. */
WINO_INLINE void at2_store(float *restrict o0, float *restrict o1, float *restrict o2,
                           float *restrict o3, const float *restrict d0, const float *restrict d1)
{
    for (int t = 0; t < SEG; t++) {
        o0[t] = d0[t];
        o1[t] = d0[t] + d1[t];
        o2[t] = d0[t] - d1[t];
        o3[t] = -d1[t];
    }
}

WINO_CLONES static void wino2_gout_seg(float *v, size_t ks, const float *plane, int h, int w, int ty,
                                       int tx, int n, stylize_pad_mode mode)
{
    float P[2][SEG + 1], H[2][4][SEG];
    for (int r = 0; r < 2; r++) {
        int y = 2 * ty + r;
        load_phases(&P[0][0], 2, y < h ? plane + (size_t)y * (size_t)w : NULL, w, 2 * tx, n, mode);
        at2_store(H[r][0], H[r][1], H[r][2], H[r][3], P[0], P[1]);
    }
    for (int k2 = 0; k2 < 4; k2++)
        at2_store(v + (size_t)k2 * ks, v + (size_t)(4 + k2) * ks, v + (size_t)(8 + k2) * ks,
                  v + (size_t)(12 + k2) * ks, H[0][k2], H[1][k2]);
}

/* Output-gradient transform of tiles [t0, t0 + n) of gout (cout, h, w)
 * into columns [b0, b0 + n) of M, every output channel (zero outside the
 * image: the gradient of outputs that do not exist). */
static void wino_gout_range(const wino_job *j, const float *gout, long long t0, int b0, int n)
{
    wino_range(j, j->m == 4 ? wino4_gout_seg : wino2_gout_seg, gout, j->cout, j->M, j->mstride, STYLIZE_PAD_ZERO,
               t0, b0, n);
}

/* The weight gradient's dU (a^2, cout, cin) floats, and whether the
 * Winograd path takes it: dU within half the workspace bound (every layer
 * of the generators; wider layers keep im2col). */
static size_t wgrad_du_floats(int m, int cin, int cout)
{
    return (size_t)(m + 2) * (size_t)(m + 2) * (size_t)cin * (size_t)cout;
}

int stylize_conv_winograd_weights_ok(stylize_conv_algo algo, int cin, int cout)
{
    int m = stylize_conv_algo_tile(algo);
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
    size_t one_tile = aa * ((size_t)cin + (size_t)cout) + 2 * 31 * aa; /* V and M of one tile, padded */
    return m && wgrad_du_floats(m, cin, cout) <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS / 2 &&
           wgrad_du_floats(m, cin, cout) + one_tile <= STYLIZE_CONV_WORKSPACE_MAX_FLOATS;
}

/* Tiles per weight-gradient block: the forward's block, capped so that V,
 * M and dU stay within the workspace bound. */
static int wgrad_block_tiles(int m, int cin, int cout, int h, int w)
{
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
    size_t nt = wino_block_tiles(m, 0, cin, cout, h, w);
    size_t room = STYLIZE_CONV_WORKSPACE_MAX_FLOATS - wgrad_du_floats(m, cin, cout) - 2 * 31 * aa;
    size_t cap = room / (aa * ((size_t)cin + (size_t)cout));
    if (nt > cap)
        nt = cap;
    return nt ? (int)nt : 1;
}

size_t stylize_conv_winograd_weights_floats(stylize_conv_algo algo, int cin, int cout, int h, int w)
{
    int m = stylize_conv_algo_tile(algo);
    size_t aa = (size_t)(m + 2) * (size_t)(m + 2);
    int nt = wgrad_block_tiles(m, cin, cout, h, w);
    return aa * (wino_kstride(cin, nt) + wino_kstride(cout, nt)) + wgrad_du_floats(m, cin, cout);
}

typedef struct {
    wino_job *j;       /* the block: V, M, strides, the image */
    const float *gout; /* (cout, h, w) */
    float *dU;         /* (a^2, cout, cin) */
    float *gw, *gb;    /* (cout, cin, 3, 3), (cout) or NULL: accumulated */
    long long t0;      /* the block's first tile */
    int n;             /* its tiles */
    int ntasks;
} wgrad_job;

/* Phase 1, task t: a contiguous share of the block's columns, both
 * transforms. */
static void wgrad_transform_task(void *vctx, int t)
{
    const wgrad_job *g = vctx;
    int c0 = (int)((long long)g->n * t / g->ntasks), c1 = (int)((long long)g->n * (t + 1) / g->ntasks);
    if (c1 > c0) {
        wino_input_range(g->j, g->t0 + c0, c0, c1 - c0);
        wino_gout_range(g->j, g->gout, g->t0 + c0, c0, c1 - c0);
    }
}

/* Phase 2, task t: components [k0, k1): dU[k] (+)= M[k] V[k]^T over the
 * block's columns (the first block overwrites). */
static void wgrad_gemm_task(void *vctx, int t)
{
    const wgrad_job *g = vctx;
    const wino_job *j = g->j;
    int aa = (j->m + 2) * (j->m + 2);
    int k0 = aa * t / g->ntasks, k1 = aa * (t + 1) / g->ntasks;
    for (int k = k0; k < k1; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->cout, j->cin, g->n, 1.0f,
                    j->M + (size_t)k * j->mstride, j->nt, j->V + (size_t)k * j->vstride, j->nt,
                    g->t0 ? 1.0f : 0.0f, g->dU + (size_t)k * (size_t)j->cout * (size_t)j->cin, j->cin);
}

/* Phase 3, task t: a band of output channels: gw += G^T dU G for each
 * (co, ci), in double; gb[co] += the sum of gout[co]. */
static void wgrad_kernel_task(void *vctx, int t)
{
    const wgrad_job *g = vctx;
    const wino_job *j = g->j;
    int a = j->m + 2;
    const double(*G)[3] = j->m == 4 ? G4 : G2;
    size_t plane = (size_t)j->cout * (size_t)j->cin, hw = (size_t)j->h * (size_t)j->w;
    int r0 = (int)((long long)j->cout * t / g->ntasks), r1 = (int)((long long)j->cout * (t + 1) / g->ntasks);
    for (int co = r0; co < r1; co++) {
        for (int ci = 0; ci < j->cin; ci++) {
            const float *du = g->dU + (size_t)co * (size_t)j->cin + (size_t)ci; /* slices plane apart */
            double s[6][3] = {{0}}; /* s = dU G */
            for (int i = 0; i < a; i++)
                for (int y = 0; y < 3; y++)
                    for (int x = 0; x < a; x++)
                        s[i][y] += (double)du[(size_t)(i * a + x) * plane] * G[x][y];
            float *dst = g->gw + ((size_t)co * (size_t)j->cin + (size_t)ci) * 9; /* (3, 3) */
            for (int y0 = 0; y0 < 3; y0++) /* gw += G^T s */
                for (int y = 0; y < 3; y++) {
                    double v = 0;
                    for (int i = 0; i < a; i++)
                        v += G[i][y0] * s[i][y];
                    dst[y0 * 3 + y] += (float)v;
                }
        }
        if (g->gb)
            stylize_conv_bias_grad(g->gb, g->gout, hw, co, co + 1);
    }
}

void stylize_conv_winograd_weights(float *gw, float *gb, const float *in, const float *gout,
                                   stylize_conv_algo algo, stylize_pad_mode pad, int cin, int cout, int h,
                                   int w, float *ws)
{
    if (h <= 0 || w <= 0)
        return;
    int m = stylize_conv_algo_tile(algo), aa = (m + 2) * (m + 2);
    int th = (h + m - 1) / m, tw = (w + m - 1) / m;
    int nt = wgrad_block_tiles(m, cin, cout, h, w), nthr = stylize_parallel_threads();
    size_t vstride = wino_kstride(cin, nt), mstride = wino_kstride(cout, nt);
    /* V (a^2, cin, nt), M (a^2, cout, nt): the block's transforms, slices
     * vstride, mstride apart; dU (a^2, cout, cin): the kernel's gradient */
    float *M = ws + (size_t)aa * vstride, *dU = M + (size_t)aa * mstride;
    wino_job j = {in, NULL, NULL, NULL, ws, M, vstride, mstride, cin, cout, h, w, m, tw,
                  (long long)th * tw, nt, 0, pad, 1, nt, NULL, NULL, 0, NULL, 0, 0, 0, STYLIZE_BF16_DPBF16, 0};
    wgrad_job g = {&j, gout, dU, gw, gb, 0, 0, 1};
    for (long long t0 = 0; t0 < j.tiles; t0 += nt) {
        g.t0 = t0;
        g.n = j.tiles - t0 < nt ? (int)(j.tiles - t0) : nt;
        g.ntasks = g.n / WINO_TASK_MIN_TILES < nthr ? g.n / WINO_TASK_MIN_TILES : nthr;
        g.ntasks = g.ntasks < 1 ? 1 : g.ntasks;
        stylize_parallel_run(g.ntasks, wgrad_transform_task, &g);
        g.ntasks = aa < nthr ? aa : nthr;
        stylize_conv_run_blas_tasks(g.ntasks, wgrad_gemm_task, &g);
    }
    g.ntasks = cout < nthr ? cout : nthr;
    stylize_parallel_run(g.ntasks, wgrad_kernel_task, &g);
}

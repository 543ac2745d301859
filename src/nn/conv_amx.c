/* 3x3 convolutions (stride 1; stride 2 forward) in bfloat16 on AMX tiles, directly: no
 * Winograd transforms (conv_internal.h). Where AMX multiplies 14x faster
 * than float32 FMAs, the transforms, not the products, bounded the bf16
 * Winograd path (a third of its time went to the GEMMs); the direct
 * convolution does 2.25x the multiplications of F(4x4, 3x3) but reads the
 * image in place as the tiles' B operand, so nothing else remains.
 *
 * At stride 1 the image is packed once per band of rows into P, bfloat16 pairs of
 * channels: P[(r nq + q) Wp + xx] = (in[2q][y0 - 1 + r][xx - 1],
 * in[2q + 1][...]) with the padding mode's pixels at the border (zero
 * outside the image, beyond cin and beyond the row's end), nq = the
 * channel pairs rounded up to 16, Wp = w rounded up to 32, plus 16. For
 * output row y, pixels x0..x0+15 and tap (dy, dx), the 16 x 16 B tile of
 * channel pairs q0..q0+15 is then P at row r + dy, column x0 + dx, its
 * rows Wp words apart: the tile loads straight from the packed image. The
 * kernel of tap t is a packed A (stylize/nn/gemm_bf16.h, AMX layout) of
 * (cout x cin); a 32 x 32 block of the output (channels co0.., pixels
 * x0..) is four float32 tiles summed over the 9 taps and cin / 32 blocks,
 * then stored in place (rows = channels, oh ow floats apart), with the bias
 * and the ReLU applied to the block while it is in L1. Each output is one
 * tile element's sum in a fixed order: the same bits whatever the threads.
 *
 * Stride 2 (forward only): output pixel x of tap dx reads input column
 * 2x + dx - 1, so each packed row holds two phases, E[x] = column 2x - 1
 * and O[x] = column 2x, of We = ow rounded up to 32, plus 16, words each
 * (Wp = 2 We); taps dx = 0, 1, 2 read E at x, O at x and E at x + 1, and
 * output row y reads packed rows 2 y + dy (input row 2 y + dy - 1): again
 * whole tiles in place. The kernel's input-gradient half goes unused there. */
#include <string.h>

#include "nn/conv_internal.h"
#include "stylize/core/cpu.h"
#include "stylize/nn/gemm_bf16.h"
#include "nn/bf16_internal.h"

#define KQ STYLIZE_BF16_KQ

/* Channel pairs of the packed image (rounded up to whole tiles). */
static int amx_pairs(int c)
{
    return ((c + 1) / 2 + KQ - 1) / KQ * KQ;
}

/* Output side of input side n at stride s (3x3, one pixel of padding). */
static int amx_out_side(int n, int s)
{
    return (n - 1) / s + 1;
}

/* Words of one phase of a packed row: the output width rounded up to 32
 * (whole blocks) plus 16 (the taps' dx reach: 2 at stride 1, 1 at 2). */
static int amx_phase_words(int w, int s)
{
    return (amx_out_side(w, s) + 31) / 32 * 32 + 16;
}

size_t stylize_conv_amx_kernel_bytes(int cin, int cout)
{
    return 9 * (stylize_bf16_pack_a_bytes(cout, cin) + stylize_bf16_pack_a_bytes(cin, cout));
}

/* Packed input rows a band of `rows` output rows reads at stride s. */
static int band_packs(int s, int rows)
{
    return s * (rows - 1) + 3;
}

size_t stylize_conv_amx_min_floats(int cin, int w, int stride)
{
    return (size_t)band_packs(stride, 1) * (size_t)amx_pairs(cin) * (size_t)(stride * amx_phase_words(w, stride));
}

typedef struct {
    unsigned short *f, *b; /* the forward's and the input gradient's 9 slabs */
    size_t fwd, bwd;       /* bf16 elements per slab of each */
    const float *weight;   /* (cout, cin, 3, 3) */
    int cin, cout, ntasks;
} taps_job;

/* Task t: a band of output channels of every tap, both directions. */
static void taps_task(void *user, int t)
{
    const taps_job *j = user;
    int c0 = (int)((long long)j->cout * t / j->ntasks), c1 = (int)((long long)j->cout * (t + 1) / j->ntasks);
    for (int co = c0; co < c1; co++)
        for (int ci = 0; ci < j->cin; ci++)
            for (int tap = 0; tap < 9; tap++) {
                /* forward: tap t reads in[y + dy - 1][x + dx - 1] with weight[..][t];
                 * input gradient: tap t reads gout there with weight[..][8 - t] */
                unsigned short v = stylize_bf16_round(j->weight[((size_t)co * j->cin + ci) * 9 + tap]);
                j->f[(size_t)tap * j->fwd + stylize_bf16_pack_a_index(STYLIZE_BF16_AMX, co, ci, j->cin)] = v;
                j->b[(size_t)(8 - tap) * j->bwd + stylize_bf16_pack_a_index(STYLIZE_BF16_AMX, ci, co, j->cout)] = v;
            }
}

void stylize_conv_amx_kernel(void *slabs, const float *weight, int cin, int cout)
{
    size_t fwd = stylize_bf16_pack_a_bytes(cout, cin) / 2, bwd = stylize_bf16_pack_a_bytes(cin, cout) / 2;
    int nthr = stylize_parallel_threads();
    taps_job j = {slabs, (unsigned short *)slabs + 9 * fwd, fwd, bwd, weight, cin, cout, cout < nthr ? cout : nthr};
    stylize_parallel_run(j.ntasks, taps_task, &j);
}

#if defined(__x86_64__)

typedef struct {
    const float *in;    /* (cin, h, w) */
    float *out;         /* (cout, oh, ow) */
    const unsigned short *slabs; /* 9 packed A (cout x cin), a slab apart */
    size_t slab;        /* bf16 elements per slab */
    const float *bias;  /* (cout) or NULL */
    int relu;
    stylize_pad_mode pad;
    int cin, cout, h, w, s, oh, ow; /* s: the stride */
    int nq, we, wp;     /* P's pairs, words per phase and per row (s phases) */
    unsigned *P;        /* (s (rows - 1) + 3, nq, wp) words: the band */
    int y0, rows;       /* the band: output rows y0 .. y0 + rows - 1 */
    int ntasks;
} amx_job;

/* The pair of input pixels (r0[x], r1[x]) under the padding (r1 NULL: zero). */
static unsigned pad_pair(const amx_job *j, const float *r0, const float *r1, int x)
{
    int c = stylize_conv_pad_index(x, j->w, j->pad);
    return c < 0 ? 0 : stylize_bf16_pair(r0[c], r1 ? r1[c] : 0.0f);
}

/* Stride 1: the row's pixels at dst[1..w], its padding at 0 and w + 1. */
AMX_TARGET static void pack_row1(const amx_job *j, unsigned *dst, const float *r0, const float *r1)
{
    int x = 0, w = j->w;
    for (; x + 16 <= w; x += 16)
        stylize_bf16_pair16(r0 + x, r1 ? r1 + x : NULL, dst + 1 + x);
    for (; x < w; x++)
        dst[1 + x] = stylize_bf16_pair(r0[x], r1 ? r1[x] : 0.0f);
    dst[0] = pad_pair(j, r0, r1, -1);
    dst[w + 1] = pad_pair(j, r0, r1, w);
    memset(dst + w + 2, 0, (size_t)(j->wp - w - 2) * 4);
}

/* Stride 2: phase E (dst[x] = column 2x - 1, x <= ow) and phase O
 * (dst[we + x] = column 2x, x < ow); 32 columns split by vector at a time. */
AMX_TARGET static void pack_row2(const amx_job *j, unsigned *dst, const float *r0, const float *r1)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    unsigned *e = dst, *o = dst + j->we;
    int x = 0, w = j->w, ow = j->ow;
    for (; 2 * x + 32 <= w; x += 16) {
        __m512 a0 = _mm512_loadu_ps(r0 + 2 * x), a1 = _mm512_loadu_ps(r0 + 2 * x + 16);
        __m512 b0 = r1 ? _mm512_loadu_ps(r1 + 2 * x) : _mm512_setzero_ps();
        __m512 b1 = r1 ? _mm512_loadu_ps(r1 + 2 * x + 16) : _mm512_setzero_ps();
        stylize_bf16_pair16v(_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(b0, even, b1), o + x);
        stylize_bf16_pair16v(_mm512_permutex2var_ps(a0, odd, a1), _mm512_permutex2var_ps(b0, odd, b1), e + 1 + x);
    }
    for (int k = x; k < ow; k++)
        o[k] = stylize_bf16_pair(r0[2 * k], r1 ? r1[2 * k] : 0.0f);
    for (int k = x + 1; k <= ow; k++)
        e[k] = pad_pair(j, r0, r1, 2 * k - 1); /* 2 ow - 1 = w for odd w: the padding */
    e[0] = pad_pair(j, r0, r1, -1);
    memset(e + ow + 1, 0, (size_t)(j->we - ow - 1) * 4);
    memset(o + ow, 0, (size_t)(j->we - ow) * 4);
}

/* Packed row r of the band for pair q: input row s y0 - 1 + r. */
AMX_TARGET static void pack_row(const amx_job *j, int r, int q)
{
    unsigned *dst = j->P + ((size_t)r * j->nq + q) * j->wp;
    int iy = stylize_conv_pad_index(j->s * j->y0 - 1 + r, j->h, j->pad), c0 = 2 * q;
    if (iy < 0 || c0 >= j->cin) {
        memset(dst, 0, (size_t)j->wp * 4);
        return;
    }
    size_t plane = (size_t)j->h * (size_t)j->w;
    const float *r0 = j->in + (size_t)c0 * plane + (size_t)iy * j->w;
    const float *r1 = c0 + 1 < j->cin ? r0 + plane : NULL;
    if (j->s == 1)
        pack_row1(j, dst, r0, r1);
    else
        pack_row2(j, dst, r0, r1);
}

static void pack_task(void *user, int t)
{
    const amx_job *j = user;
    long long n = (long long)band_packs(j->s, j->rows) * j->nq;
    for (long long i = n * t / j->ntasks; i < n * (t + 1) / j->ntasks; i++)
        pack_row(j, (int)(i / j->nq), (int)(i % j->nq));
}

/* Tiles 0..3 = the 32 x 32 block (channels co0.., pixels x0.. of output
 * row r of the band):
 * sum over taps and channel blocks of A (2 tiles) times B (2 tiles). */
AMX_TARGET static void block(const amx_job *j, int co0, int r, int x0)
{
    int nkb = j->nq / KQ;
    stylize_amx_zero_c();
    for (int t = 0; t < 9; t++) {
        const unsigned short *a0 = j->slabs + (size_t)t * j->slab + (size_t)(co0 / 16) * nkb * 512;
        const unsigned short *a1 = a0 + (size_t)nkb * 512;
        int dx = t % 3, col = j->s == 1 ? x0 + dx : dx == 1 ? j->we + x0 : x0 + dx / 2;
        const unsigned *b = j->P + ((size_t)(j->s * r + t / 3) * j->nq) * j->wp + col;
        for (int kb = 0; kb < nkb; kb++, a0 += 512, a1 += 512, b += (size_t)KQ * j->wp)
            stylize_amx_step(a0, a1, b, (long)j->wp * 4);
    }
}

/* The bias and ReLU on rows x cols of the output at o (ldo apart),
 * channels from co0; from a local block (ld 32) first when blk. */
static void finish(const amx_job *j, float *o, size_t ldo, const float *blk, int co0, int rows, int cols)
{
    for (int i = 0; i < rows; i++) {
        float *d = o + (size_t)i * ldo, b = j->bias ? j->bias[co0 + i] : 0.0f;
        const float *s = blk ? blk + i * 32 : d;
        for (int x = 0; x < cols; x++) {
            float v = s[x] + b;
            d[x] = j->relu && v < 0.0f ? 0.0f : v;
        }
    }
}

/* Task t: a share of the band's rows, every channel block and pixel block. */
AMX_TARGET static void conv_task(void *user, int t)
{
    const amx_job *j = user;
    float blk[32 * 32] __attribute__((aligned(64)));
    size_t plane = (size_t)j->oh * (size_t)j->ow;
    int ra = j->rows * t / j->ntasks, rb = j->rows * (t + 1) / j->ntasks;
    /* P and the slabs were written before this task started (the pool's
     * join orders them); the barrier keeps the compiler from moving
     * memory accesses across the tile loads, which it cannot see */
    __asm__ volatile("" ::: "memory");
    stylize_amx_begin();
    for (int co0 = 0; co0 < j->cout; co0 += 32)
        for (int r = ra; r < rb; r++)
            for (int x0 = 0; x0 < j->ow; x0 += 32) {
                int rows = j->cout - co0 < 32 ? j->cout - co0 : 32, cols = j->ow - x0 < 32 ? j->ow - x0 : 32;
                float *o = j->out + (size_t)co0 * plane + (size_t)(j->y0 + r) * j->ow + x0;
                block(j, co0, r, x0);
                if (rows == 32 && cols == 32) {
                    stylize_amx_store_c(o, (long)plane);
                    finish(j, o, plane, NULL, co0, 32, 32);
                } else {
                    stylize_amx_store_c(blk, 32);
                    finish(j, o, plane, blk, co0, rows, cols);
                }
            }
    _tile_release();
}

void stylize_conv_amx(float *out, const float *in, const void *slabs, const float *bias, int relu, int backward,
                      stylize_pad_mode pad, int stride, int cin, int cout, int h, int w, float *ws,
                      size_t ws_floats)
{
    if (h <= 0 || w <= 0)
        return;
    int s = backward ? 1 : stride, nthr = stylize_parallel_threads();
    int we = amx_phase_words(w, s), oh = amx_out_side(h, s);
    /* the input gradient's slabs follow the forward's 9 (cin x cout of this call) */
    size_t fwd = stylize_bf16_pack_a_bytes(backward ? cin : cout, backward ? cout : cin) / 2;
    amx_job j = {in, out, (const unsigned short *)slabs + (backward ? 9 * fwd : 0),
                 stylize_bf16_pack_a_bytes(cout, cin) / 2, bias, relu, pad, cin, cout, h, w, s, oh,
                 amx_out_side(w, s), amx_pairs(cin), we, s * we, (unsigned *)ws, 0, 0, 1};
    long long fit = (long long)(ws_floats / ((size_t)j.nq * (size_t)j.wp)), one = band_packs(s, 1); /* packed rows */
    long long band = fit < one ? 1 : (fit - one) / s + 1; /* output rows per band: band_packs(s, band) <= fit */
    band = band > oh ? oh : band;
    for (j.y0 = 0; j.y0 < oh; j.y0 += (int)band) {
        j.rows = oh - j.y0 < band ? oh - j.y0 : (int)band;
        long long packs = (long long)band_packs(s, j.rows) * j.nq;
        j.ntasks = packs < nthr ? (int)packs : nthr;
        stylize_parallel_run(j.ntasks, pack_task, &j);
        j.ntasks = j.rows < nthr ? j.rows : nthr;
        stylize_parallel_run(j.ntasks, conv_task, &j);
    }
}
#else
void stylize_conv_amx(float *out, const float *in, const void *slabs, const float *bias, int relu, int backward,
                      stylize_pad_mode pad, int stride, int cin, int cout, int h, int w, float *ws,
                      size_t ws_floats)
{
    (void)out, (void)in, (void)slabs, (void)bias, (void)relu, (void)backward, (void)pad, (void)stride;
    (void)cin, (void)cout;
    (void)h, (void)w, (void)ws, (void)ws_floats; /* never called: no AMX */
}
#endif

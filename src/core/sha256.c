/* SHA-256 following FIPS 180-4 (sections 4.1.2, 4.2.2, 5.1.1, 5.3.3 and
 * 6.2). See stylize/core/sha256.h. */
#include "stylize/core/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "stylize/core/cpu.h"

/* 4.2.2: the first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u,
    0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u,
    0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u,
    0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

/* 5.3.3: the first 32 bits of the fractional parts of the square roots of
 * the first 8 primes. */
static const uint32_t H0[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

/* 3.2 and 4.1.2 (n is a constant in 1..31 at every use). */
static inline uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (~x & z);
}

static inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (x & z) ^ (y & z);
}

static inline uint32_t big_sigma0(uint32_t x)
{
    return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
}

static inline uint32_t big_sigma1(uint32_t x)
{
    return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
}

static inline uint32_t small_sigma0(uint32_t x)
{
    return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3);
}

static inline uint32_t small_sigma1(uint32_t x)
{
    return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10);
}

/* Words are big-endian (3.1), independent of the host's byte order. */
static inline uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* 6.2.2: one 512-bit block M(i) updates H(i-1) to H(i). */
static void compress(uint32_t h[8], const unsigned char block[64])
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++)
        w[t] = small_sigma1(w[t - 2]) + w[t - 7] + small_sigma0(w[t - 15]) + w[t - 16];

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + big_sigma1(e) + ch(e, f, g) + K[t] + w[t];
        uint32_t t2 = big_sigma0(a) + maj(a, b, c);
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_SHA_NI 1
#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* The same 6.2.2 with the SHA extensions. They keep the eight working
 * variables as two vectors, (A, B, E, F) and (C, D, G, H) from the high word
 * down; sha256rnds2 runs two rounds (t, t + 1) from the low two words of
 * W + K and returns the new (A, B, E, F), the old one being the new
 * (C, D, G, H). The schedule (6.2.2 step 1) runs four words at a time:
 * sha256msg1 adds sigma0(W[t-15]) to W[t-16], the alignr gives W[t-7],
 * sha256msg2 adds sigma1(W[t-2]). */
SHA_TARGET static void compress_blocks_ni(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i dcba = _mm_loadu_si128((const __m128i *)h), hgfe = _mm_loadu_si128((const __m128i *)(h + 4));
    __m128i badc = _mm_shuffle_epi32(dcba, 0xb1), efgh = _mm_shuffle_epi32(hgfe, 0x1b);
    __m128i abef = _mm_alignr_epi8(badc, efgh, 8), cdgh = _mm_blend_epi16(efgh, badc, 0xf0);
    for (; nblocks > 0; nblocks--, p += 64) {
        __m128i abef0 = abef, cdgh0 = cdgh, w[4];
        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
        for (int i = 0; i < 16; i++) { /* rounds 4i .. 4i + 3 */
            if (i >= 4) /* w[i % 4] holds W[4i - 16 ..]; it becomes W[4i ..] */
                w[i & 3] = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]),
                                  _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4)),
                    w[(i + 3) & 3]);
            __m128i wk = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const __m128i *)(K + 4 * i)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1b), dchg = _mm_shuffle_epi32(cdgh, 0xb1);
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xf0));
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}
#endif

/* nblocks whole blocks from p: with the SHA extensions where the CPU has
 * them (the same digest, tested against the portable rounds). */
static void compress_blocks(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
#ifdef HAVE_SHA_NI
    if (stylize_cpu()->sha) {
        compress_blocks_ni(h, p, nblocks);
        return;
    }
#endif
    for (; nblocks > 0; nblocks--, p += 64)
        compress(h, p);
}

void stylize_sha256_init(stylize_sha256 *s)
{
    memcpy(s->h, H0, sizeof s->h);
    s->len = 0;
    memset(s->buf, 0, sizeof s->buf);
    s->n = 0;
}

void stylize_sha256_update(stylize_sha256 *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len == 0)
        return;
    s->len += (uint64_t)len;
    /* Complete a partial block first. */
    if (s->n > 0) {
        size_t take = sizeof s->buf - s->n;
        if (take > len)
            take = len;
        memcpy(s->buf + s->n, p, take);
        s->n += take;
        p += take;
        len -= take;
        if (s->n < sizeof s->buf)
            return;
        compress_blocks(s->h, s->buf, 1);
        s->n = 0;
    }
    /* Whole blocks straight from the caller's data. */
    size_t whole = len / sizeof s->buf;
    compress_blocks(s->h, p, whole);
    p += whole * sizeof s->buf;
    len -= whole * sizeof s->buf;
    if (len > 0) {
        memcpy(s->buf, p, len);
        s->n = len;
    }
}

void stylize_sha256_final(stylize_sha256 *s, unsigned char out[32])
{
    /* 5.1.1: a 1 bit, k zero bits, then the message length in bits as a
     * 64-bit big-endian integer, filling the last block. */
    uint64_t bits = s->len << 3;
    s->buf[s->n++] = 0x80;
    if (s->n > 56) {
        memset(s->buf + s->n, 0, sizeof s->buf - s->n);
        compress_blocks(s->h, s->buf, 1);
        s->n = 0;
    }
    memset(s->buf + s->n, 0, 56 - s->n);
    store_be32(s->buf + 56, (uint32_t)(bits >> 32));
    store_be32(s->buf + 60, (uint32_t)bits);
    compress_blocks(s->h, s->buf, 1);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, s->h[i]);
    memset(s, 0, sizeof *s);
}

void stylize_sha256_hex(const unsigned char digest[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    hex[64] = '\0';
}

stylize_status stylize_sha256_file(const char *path, char hex[65], stylize_error *err)
{
    unsigned char chunk[64 * 1024];
    unsigned char digest[32];
    stylize_sha256 s;
    uint64_t size;
    int fd;

    hex[0] = '\0';
    stylize_status st = stylize_file_open_read(path, &fd, &size, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_sha256_init(&s);
    /* Read to the end of file rather than to the size fstat reported. */
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            int e = errno;
            char eb[128];
            if (e == EINTR)
                continue;
            if (strerror_r(e, eb, sizeof eb) != 0)
                snprintf(eb, sizeof eb, "error %d", e);
            close(fd);
            return stylize_error_set(err, STYLIZE_ERR_IO, "cannot read %s: %s", path, eb);
        }
        if (r == 0)
            break;
        stylize_sha256_update(&s, chunk, (size_t)r);
    }
    close(fd);
    stylize_sha256_final(&s, digest);
    stylize_sha256_hex(digest, hex);
    return STYLIZE_OK;
}

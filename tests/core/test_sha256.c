/* Tests of SHA-256: the FIPS 180-4 example messages (empty, "abc", the
 * 448-bit two-block message, one million 'a' fed in uneven pieces), lengths
 * around the padding boundaries, digests independent of how the message is
 * split into updates, every single-bit change of the input changing the
 * digest, and stylize_sha256_file against the in-memory digest (empty file,
 * exactly one 64 KiB chunk, several chunks with a partial tail) plus its
 * errors naming the path. */
#include "stylize/core/sha256.h"
#include "stylize/core/cpu.h"

#include <string.h>

#include "testutil.h"

static void digest_hex(const void *data, size_t len, char hex[65])
{
    stylize_sha256 s;
    unsigned char d[32];
    stylize_sha256_init(&s);
    stylize_sha256_update(&s, data, len);
    stylize_sha256_final(&s, d);
    stylize_sha256_hex(d, hex);
}

#define CHECK_HEX(got, want) CHECK_MSG(strcmp((got), (want)) == 0, "got %s, want %s", (got), (want))

static void check_fips_vectors(void)
{
    char hex[65];
    digest_hex("", 0, hex);
    CHECK_HEX(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    digest_hex(NULL, 0, hex); /* NULL is fine with length 0 */
    CHECK_HEX(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    digest_hex("abc", 3, hex);
    CHECK_HEX(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(strlen(m448) == 56);
    digest_hex(m448, strlen(m448), hex);
    CHECK_HEX(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK(strlen(m896) == 112);
    digest_hex(m896, strlen(m896), hex);
    CHECK_HEX(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a': whole, one byte at a time, and in the cycle of piece
 * sizes 1, 63, 64, 65, 1000 (partial blocks completed, whole blocks direct,
 * both in one call). */
static void check_million_a(void)
{
    static const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    const size_t total = 1000000;
    unsigned char *a = malloc(total);
    if (!a) {
        fprintf(stderr, "test_sha256: out of memory\n");
        exit(2);
    }
    memset(a, 'a', total);
    char hex[65];
    unsigned char d[32];
    stylize_sha256 s;

    digest_hex(a, total, hex);
    CHECK_HEX(hex, want);

    stylize_sha256_init(&s);
    for (size_t i = 0; i < total; i++)
        stylize_sha256_update(&s, a + i, 1);
    stylize_sha256_final(&s, d);
    stylize_sha256_hex(d, hex);
    CHECK_HEX(hex, want);

    static const size_t pieces[] = {1, 63, 64, 65, 1000};
    size_t off = 0, k = 0;
    stylize_sha256_init(&s);
    while (off < total) {
        size_t n = pieces[k++ % (sizeof pieces / sizeof pieces[0])];
        if (n > total - off)
            n = total - off;
        stylize_sha256_update(&s, a + off, n);
        stylize_sha256_update(&s, a + off, 0); /* empty updates change nothing */
        off += n;
    }
    CHECK(s.len == total);
    stylize_sha256_final(&s, d);
    stylize_sha256_hex(d, hex);
    CHECK_HEX(hex, want);
    free(a);
}

/* Lengths where the padding needs one block or spills into a second one.
 * Expected digests computed once with an independent implementation
 * (Python's hashlib), not at test time. */
static void check_padding_boundaries(void)
{
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    unsigned char a[128];
    char hex[65];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        digest_hex(a, cases[i].n, hex);
        CHECK_MSG(strcmp(hex, cases[i].hex) == 0, "%zu x 'a': got %s", cases[i].n, hex);
    }

    /* Every length 0..299 of the bytes (7i + 1) mod 256: the SHA-256 of
     * the concatenated 300 digests (also from hashlib). Each length is
     * also hashed split at every third position, which must not matter. */
    unsigned char pat[300];
    for (size_t i = 0; i < sizeof pat; i++)
        pat[i] = (unsigned char)(i * 7 + 1);
    stylize_sha256 agg, s;
    unsigned char d[32], d2[32];
    int split_mismatch = 0;
    stylize_sha256_init(&agg);
    for (size_t n = 0; n < sizeof pat; n++) {
        stylize_sha256_init(&s);
        stylize_sha256_update(&s, pat, n);
        stylize_sha256_final(&s, d);
        stylize_sha256_update(&agg, d, sizeof d);
        for (size_t cut = 0; cut <= n; cut += 3) {
            stylize_sha256_init(&s);
            stylize_sha256_update(&s, pat, cut);
            stylize_sha256_update(&s, pat + cut, n - cut);
            stylize_sha256_final(&s, d2);
            if (memcmp(d, d2, sizeof d) != 0)
                split_mismatch++;
        }
    }
    stylize_sha256_final(&agg, d);
    stylize_sha256_hex(d, hex);
    CHECK_HEX(hex, "5ebbf7b17a4f2bbb50cae3f26da221c90542499a6b4cbc177190a5e8cf00710d");
    CHECK_MSG(split_mismatch == 0, "%d split positions changed the digest", split_mismatch);

    /* A copied state continues like the original (the header promises it). */
    stylize_sha256 c1, c2;
    stylize_sha256_init(&c1);
    stylize_sha256_update(&c1, pat, 100);
    c2 = c1;
    stylize_sha256_update(&c1, pat + 100, 200);
    stylize_sha256_update(&c2, pat + 100, 200);
    stylize_sha256_final(&c1, d);
    stylize_sha256_final(&c2, d2);
    CHECK(memcmp(d, d2, sizeof d) == 0);
}

static int popcount8(unsigned v)
{
    int c = 0;
    for (; v; v &= v - 1)
        c++;
    return c;
}

/* Flipping any one bit of a 3-block message changes the digest, and by
 * about half its bits (the binomial's mean 128, standard deviation 8: the
 * bounds 64..192 are 8 deviations away). */
static void check_single_bit_changes(void)
{
    unsigned char msg[150], base[32], d[32];
    uint64_t seed = 0x5a17u;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)(tu_next(&seed) >> 56);
    stylize_sha256 s;
    stylize_sha256_init(&s);
    stylize_sha256_update(&s, msg, sizeof msg);
    stylize_sha256_final(&s, base);

    int unchanged = 0, outside = 0, min_diff = 256, max_diff = 0;
    for (size_t bit = 0; bit < 8 * sizeof msg; bit++) {
        msg[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        stylize_sha256_init(&s);
        stylize_sha256_update(&s, msg, sizeof msg);
        stylize_sha256_final(&s, d);
        msg[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        int diff = 0;
        for (int i = 0; i < 32; i++)
            diff += popcount8((unsigned)(d[i] ^ base[i]));
        if (diff == 0)
            unchanged++;
        if (diff < 64 || diff > 192)
            outside++;
        if (diff < min_diff)
            min_diff = diff;
        if (diff > max_diff)
            max_diff = diff;
    }
    CHECK_MSG(unchanged == 0, "%d single-bit changes left the digest unchanged", unchanged);
    CHECK_MSG(outside == 0, "%d flips changed a digest bit count outside 64..192 (min %d, max %d)",
              outside, min_diff, max_diff);

    /* The message length alone changes the digest too (the padding). */
    unsigned char zeros[2] = {0, 0};
    char h1[65], h2[65];
    digest_hex(zeros, 1, h1);
    digest_hex(zeros, 2, h2);
    CHECK(strcmp(h1, h2) != 0);
}

static int write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

static void check_file(void)
{
    const char *dir = tu_tmpdir();
    /* Sizes: empty, a partial block, exactly one 64 KiB read, one byte
     * more, and several reads with a partial tail. */
    static const size_t sizes[] = {0, 3, 65536, 65537, 3 * 65536 + 1234};
    const size_t max = 3 * 65536 + 1234;
    unsigned char *data = malloc(max);
    if (!data) {
        fprintf(stderr, "test_sha256: out of memory\n");
        exit(2);
    }
    uint64_t seed = 42;
    for (size_t i = 0; i < max; i++)
        data[i] = (unsigned char)(tu_next(&seed) >> 32);

    char path[4096], want[65], got[65];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        snprintf(path, sizeof path, "%s/sha256_%zu.bin", dir, sizes[i]);
        if (write_file(path, data, sizes[i]) != 0) {
            CHECK_MSG(0, "cannot write %s", path);
            continue;
        }
        stylize_error err = {0};
        memset(got, 'x', sizeof got);
        stylize_status st = stylize_sha256_file(path, got, &err);
        CHECK_MSG(st == STYLIZE_OK, "%s: %s", path, err.msg);
        digest_hex(data, sizes[i], want);
        CHECK_MSG(st == STYLIZE_OK && strcmp(got, want) == 0, "%zu bytes: file %s, memory %s",
                  sizes[i], got, want);
        remove(path);
    }
    free(data);

    /* Missing file: an I/O error naming the path, and an empty hex. */
    snprintf(path, sizeof path, "%s/sha256_no_such_file.bin", dir);
    remove(path);
    stylize_error err = {0};
    memset(got, 'x', sizeof got);
    stylize_status st = stylize_sha256_file(path, got, &err);
    CHECK(st == STYLIZE_ERR_IO);
    CHECK(err.code == STYLIZE_ERR_IO);
    CHECK_MSG(strstr(err.msg, path) != NULL, "message \"%s\" does not name %s", err.msg, path);
    CHECK(got[0] == '\0');

    /* A directory is not a regular file. */
    memset(&err, 0, sizeof err);
    st = stylize_sha256_file(dir, got, &err);
    CHECK(st == STYLIZE_ERR_IO);
    CHECK_MSG(strstr(err.msg, dir) != NULL, "message \"%s\" does not name %s", err.msg, dir);

    /* A NULL error pointer is allowed. */
    CHECK(stylize_sha256_file(path, got, NULL) == STYLIZE_ERR_IO);
}

static void check_hex(void)
{
    unsigned char d[32];
    char hex[65];
    for (int i = 0; i < 32; i++)
        d[i] = (unsigned char)(i * 8 + 0x0f);
    memset(hex, 'x', sizeof hex);
    stylize_sha256_hex(d, hex);
    CHECK(hex[64] == '\0');
    CHECK(strlen(hex) == 64);
    CHECK_HEX(hex, "0f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff07");
    int lower = 1;
    for (int i = 0; i < 64; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            lower = 0;
    CHECK(lower);
}

/* The SHA extensions' rounds against the portable ones: every length from
 * 0 to 300 bytes and a few long ones of pseudo-random bytes, whole and
 * split at an odd offset. */
static void check_sha_ni_matches_portable(void)
{
    enum { N = 70001 };
    unsigned char *m = malloc(N);
    if (!m) {
        fprintf(stderr, "test_sha256: out of memory\n");
        exit(2);
    }
    unsigned x = 12345;
    for (size_t i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        m[i] = (unsigned char)(x >> 23);
    }
    int bad = 0, n = 0;
    for (size_t len = 0; len <= N; len += len < 300 ? 1 : 9973) {
        char a[65], b[65];
        stylize_cpu_testing_disable_sha(0);
        digest_hex(m, len, a);
        stylize_cpu_testing_disable_sha(1);
        stylize_sha256 s;
        unsigned char d[32];
        stylize_sha256_init(&s);
        stylize_sha256_update(&s, m, len / 3);
        stylize_sha256_update(&s, m + len / 3, len - len / 3);
        stylize_sha256_final(&s, d);
        stylize_sha256_hex(d, b);
        bad += strcmp(a, b) != 0;
        n++;
    }
    stylize_cpu_testing_disable_sha(0);
    CHECK_MSG(bad == 0, "SHA extensions: %d of %d lengths differ from the portable rounds", bad, n);
    free(m);
}

/* Every check, with the SHA extensions where the CPU has them, then with
 * the portable rounds. */
int main(void)
{
    int ni = stylize_cpu()->sha;
    printf("SHA extensions: %s\n", ni ? "yes (both paths tested)" : "no (skipped: only the portable rounds run)");
    for (int pass = ni ? 0 : 1; pass < 2; pass++) {
        stylize_cpu_testing_disable_sha(pass);
        check_fips_vectors();
        check_million_a();
        check_padding_boundaries();
        check_single_bit_changes();
        check_file();
    }
    stylize_cpu_testing_disable_sha(0);
    if (ni)
        check_sha_ni_matches_portable();
    check_hex();
    return TEST_SUMMARY();
}

/* libFuzzer harness: the numeric flag parsers of src/cli/cli_common.c
 * (cli_parse_double, cli_parse_int, cli_parse_u64) and the layer-list
 * parser stylize_parse_layers, on a NUL-terminated copy of the input.
 *
 * Invariants (abort when violated):
 *  - cli_parse_double: success means a finite value within [lo, hi], equal
 *    to what strtod reads from the string;
 *  - cli_parse_int: success means the string is an optional sign and
 *    decimal digits (after leading white space, as strtol allows) whose
 *    value is in [lo, hi], and the int returned is that value;
 *  - cli_parse_u64: success means the string holds no '-' at all (the
 *    flags documented as non-negative integers must not accept a negated
 *    value that strtoull wraps around) and the value equals the digits'
 *    value;
 *  - stylize_parse_layers: success means one entry per comma-separated item
 *    (1 .. STYLIZE_VGG19_NLAYERS), each a known layer with a finite weight
 *    >= 0; failure fills the error.
 * The ranges are the ones the command-line tools use. */
#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "fuzz_common.h"
#include "stylize/vgg/network.h"
#include "stylize/run/run.h"

/* Reference decimal reader: optional leading white space (isspace), an
 * optional sign (if allow_sign or it is '+'), then one or more digits and
 * nothing else. Returns 1 and sets *neg, *mag when the string has that
 * form and the magnitude fits in 64 bits; 0 otherwise. */
static int ref_decimal(const char *s, int allow_minus, int *neg, unsigned long long *mag)
{
    unsigned long long v = 0;
    *neg = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '+' || (*s == '-' && allow_minus)) {
        *neg = *s == '-';
        s++;
    }
    if (!isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *mag = v;
    return 1;
}

static void check_double(const char *s, double lo, double hi)
{
    double v = NAN;
    if (cli_parse_double(s, lo, hi, &v) != 0)
        return;
    if (!isfinite(v) || v < lo || v > hi)
        fuzz_fail("cli_parse_double('%s', %g, %g) accepted %g", s, lo, hi, v);
    char *end = NULL;
    double r = strtod(s, &end);
    if (*end != '\0' || memcmp(&r, &v, sizeof r) != 0)
        fuzz_fail("cli_parse_double('%s') gave %.17g, strtod reads %.17g", s, v, r);
}

static void check_int(const char *s, long lo, long hi)
{
    int v = 0;
    if (cli_parse_int(s, lo, hi, &v) != 0)
        return;
    int neg;
    unsigned long long mag;
    if (!ref_decimal(s, 1, &neg, &mag))
        fuzz_fail("cli_parse_int('%s') accepted something that is not a decimal integer", s);
    if (mag > (unsigned long long)LONG_MAX + (neg ? 1u : 0u))
        fuzz_fail("cli_parse_int('%s') accepted a value beyond long", s);
    long want = neg ? (mag == (unsigned long long)LONG_MAX + 1u ? LONG_MIN : -(long)mag) : (long)mag;
    if (want < lo || want > hi || (long)v != want)
        fuzz_fail("cli_parse_int('%s', %ld, %ld) gave %d, the string says %ld", s, lo, hi, v, want);
}

static void check_u64(const char *s)
{
    unsigned long long v = 0;
    if (cli_parse_u64(s, &v) != 0)
        return;
    if (strchr(s, '-'))
        fuzz_fail("cli_parse_u64('%s') accepted a negative number as %llu", s, v);
    int neg;
    unsigned long long mag;
    if (!ref_decimal(s, 0, &neg, &mag))
        fuzz_fail("cli_parse_u64('%s') accepted something that is not a decimal integer", s);
    if (v != mag)
        fuzz_fail("cli_parse_u64('%s') gave %llu, the string says %llu", s, v, mag);
}

static void check_layers(const char *s)
{
    stylize_layer_weight *out = malloc(STYLIZE_VGG19_NLAYERS * sizeof *out);
    stylize_error err = {STYLIZE_OK, ""};
    int n = -1;
    if (!out)
        abort();
    stylize_status st = stylize_parse_layers(s, out, &n, &err);
    if (st != STYLIZE_OK) {
        fuzz_check_error(&err, st, "stylize_parse_layers");
        free(out);
        return;
    }
    int items = 1;
    for (const char *p = s; *p; p++)
        items += *p == ',';
    if (n < 1 || n > STYLIZE_VGG19_NLAYERS || n != items)
        fuzz_fail("stylize_parse_layers('%s'): %d entries for %d items", s, n, items);
    for (int i = 0; i < n; i++) {
        if (!stylize_vgg19_layer_name(out[i].layer))
            fuzz_fail("stylize_parse_layers('%s'): entry %d has layer %d", s, i, out[i].layer);
        if (!isfinite(out[i].weight) || out[i].weight < 0)
            fuzz_fail("stylize_parse_layers('%s'): entry %d has weight %g", s, i, out[i].weight);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1); /* exact size: ASan sees any read past the NUL */
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    /* Ranges of stylize's and stylize-weights' flags. */
    check_double(s, 0, 1e30);    /* --alpha, --beta, --tv, style blend */
    check_double(s, 0.01, 100);  /* --style-scale */
    check_double(s, 1e-12, 1e6); /* --learning-rate */
    check_double(s, 0, 1);       /* --tolerance */
    check_double(s, -DBL_MAX, DBL_MAX);
    check_int(s, 0, 1000000);    /* --iterations, --save-every */
    check_int(s, 16, 16384);     /* --size, --width, --height */
    check_int(s, 1, 100);        /* --jpeg-quality */
    check_int(s, 1, 64);         /* stylize-weights --divisor */
    check_int(s, INT_MIN, INT_MAX);
    check_u64(s);                /* --seed */
    check_layers(s);
    free(s);
    return 0;
}

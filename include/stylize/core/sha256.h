/* stylize: SHA-256 (FIPS 180-4), written for this project from the standard.
 *
 * Used for provenance, not for security: the SHA-256 of the style image and
 * of the VGG weight file recorded next to a result (so that a run can be
 * traced to the exact model files it used), and checksums of tensors when
 * comparing runs. Byte-oriented: messages are whole bytes, at most
 * 2^61 - 1 of them (the standard's limit of 2^64 - 1 bits).
 *
 * Usage: stylize_sha256_init, any number of stylize_sha256_update calls (the
 * split into calls does not change the digest), then stylize_sha256_final.
 * The state holds no pointers or resources: it may be copied (to hash a
 * common prefix once) and needs no cleanup. */
#ifndef STYLIZE_SHA256_H
#define STYLIZE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STYLIZE_SHA256_DIGEST_SIZE 32
#define STYLIZE_SHA256_BLOCK_SIZE 64

typedef struct {
    uint32_t h[8];          /* intermediate hash value H(i) */
    uint64_t len;           /* message bytes consumed so far */
    unsigned char buf[64];  /* the incomplete block */
    size_t n;               /* bytes in buf, 0..63 */
} stylize_sha256;

/* Sets s to the initial hash value H(0): the start of an empty message. */
void stylize_sha256_init(stylize_sha256 *s);

/* Appends len bytes of data to the message (data may be NULL when len is 0). */
void stylize_sha256_update(stylize_sha256 *s, const void *data, size_t len);

/* Pads the message, writes its 32-byte digest to out and wipes s; call
 * stylize_sha256_init before using s again. */
void stylize_sha256_final(stylize_sha256 *s, unsigned char out[32]);

/* The digest as 64 lowercase hexadecimal digits and a terminating NUL. */
void stylize_sha256_hex(const unsigned char digest[32], char hex[65]);

/* SHA-256 of the whole of the regular file path, read in 64 KiB chunks (the
 * file is never held in memory), as lowercase hex in hex. Errors
 * (STYLIZE_ERR_IO: missing, unreadable, not a regular file) name the path;
 * on failure hex is the empty string. */
stylize_status stylize_sha256_file(const char *path, char hex[65], stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif

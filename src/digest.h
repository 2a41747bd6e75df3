/* digest: SHA-256 and lower-case hex from libcrypto, for generated ids, Redis keys and
 * webhook body hashes. */
#ifndef DIGEST_H
#define DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_HEX_LEN 64

/* Writes 2n lower-case hex digits of in[0..n) and a NUL to out (2n + 1 bytes). */
void digest_hex(const unsigned char *in, size_t n, char *out);

/* Writes the SHA-256 of data[0..n) as DIGEST_SHA256_HEX_LEN hex digits and a NUL. Returns 0 or -1. */
int digest_sha256_hex(const void *data, size_t n, char out[DIGEST_SHA256_HEX_LEN + 1]);

#endif

/* aead: small secrets sealed with AES-256-GCM (OpenSSL) under a 32-byte key, as text fit to
 * store: base64 of a random 12-byte nonce, the ciphertext and the 16-byte tag. The aad (a
 * campaign's id) is bound to the text, so a sealed value moved to another record fails. */
#ifndef AEAD_H
#define AEAD_H

#include <stddef.h>

#define AEAD_KEY_LEN 32

/* The key from a passphrase (CAMPAIGN_SECRET): SHA-256 of it. Returns 0 or -1. */
int aead_key_from(const char *passphrase, unsigned char key[AEAD_KEY_LEN]);

/* A random key (per process). Returns 0 or -1. */
int aead_key_random(unsigned char key[AEAD_KEY_LEN]);

/* Seals n bytes of plain into a new NUL-terminated base64 text. Returns it, or NULL. */
char *aead_seal(const unsigned char key[AEAD_KEY_LEN], const char *aad, const void *plain,
                size_t n);

/* Opens text sealed by aead_seal under the same key and aad into a new NUL-terminated buffer
 * (*n its length). Returns it, or NULL when the text was altered, the key or aad differ, or
 * memory ran out. */
char *aead_open(const unsigned char key[AEAD_KEY_LEN], const char *aad, const char *text,
                size_t *n);

#endif

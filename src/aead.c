#include "aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define NONCE_LEN 12
#define TAG_LEN 16

int aead_key_from(const char *passphrase, unsigned char key[AEAD_KEY_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(passphrase, strlen(passphrase), key, &n, EVP_sha256(), NULL) &&
                   n == AEAD_KEY_LEN
               ? 0
               : -1;
}

int aead_key_random(unsigned char key[AEAD_KEY_LEN])
{
    return RAND_bytes(key, AEAD_KEY_LEN) == 1 ? 0 : -1;
}

char *aead_seal(const unsigned char key[AEAD_KEY_LEN], const char *aad, const void *plain, size_t n)
{
    size_t raw_len = NONCE_LEN + n + TAG_LEN;
    unsigned char *raw = malloc(raw_len);
    char *text = malloc(4 * ((raw_len + 2) / 3) + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0, ok = raw && text && ctx && n < (size_t)1 << 20;
    ok = ok && RAND_bytes(raw, NONCE_LEN) == 1 &&
         EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) == 1 &&
         EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &len, plain, (int)n) == 1 &&
         EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + len, &fin) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + n) == 1;
    if (ok)
        EVP_EncodeBlock((unsigned char *)text, raw, (int)raw_len);
    EVP_CIPHER_CTX_free(ctx);
    if (raw)
        OPENSSL_cleanse(raw, raw_len);
    free(raw);
    if (!ok) {
        free(text);
        return NULL;
    }
    return text;
}

char *aead_open(const unsigned char key[AEAD_KEY_LEN], const char *aad, const char *text, size_t *n)
{
    size_t tlen = strlen(text);
    if (tlen % 4 || tlen < 4 * ((NONCE_LEN + TAG_LEN + 2) / 3) || tlen > (size_t)2 << 20)
        return NULL;
    unsigned char *raw = malloc(tlen / 4 * 3 + 1);
    char *plain = NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int got = raw ? EVP_DecodeBlock(raw, (const unsigned char *)text, (int)tlen) : -1;
    /* EVP_DecodeBlock counts the padding as bytes */
    if (got > 0 && text[tlen - 1] == '=')
        got -= text[tlen - 2] == '=' ? 2 : 1;
    int len = 0, fin = 0;
    size_t clen = got >= NONCE_LEN + TAG_LEN ? (size_t)got - NONCE_LEN - TAG_LEN : 0;
    int ok =
        ctx && got >= NONCE_LEN + TAG_LEN && (plain = malloc(clen + 1)) &&
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) == 1 &&
        EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
        EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, raw + NONCE_LEN, (int)clen) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + clen) == 1 &&
        EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    free(raw);
    if (!ok) {
        if (plain)
            OPENSSL_cleanse(plain, clen);
        free(plain);
        return NULL;
    }
    plain[clen] = '\0';
    *n = clen;
    return plain;
}

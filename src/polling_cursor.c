#include "polling_cursor.h"

#include <stdint.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "value.h"

#define CURSOR_VERSION 2 /* 1: unkeyed */
#define CHECK_LEN 16
#define HEAD_LEN 10 /* version, watermark, SID length */

static unsigned char own_key[32];
static int own_ok;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;

static void draw_own_key(void)
{
    own_ok = RAND_bytes(own_key, sizeof own_key) == 1;
}

int polling_cursor_key(const char *secret, struct polling_cursor_key *k)
{
    if (secret && *secret) {
        /* a long secret is hashed to a key, as HMAC itself would */
        unsigned int n = 0;
        if (!EVP_Digest(secret, strlen(secret), k->key, &n, EVP_sha256(), NULL))
            return -1;
        k->len = n;
        return 0;
    }
    pthread_once(&own_once, draw_own_key);
    if (!own_ok)
        return -1;
    memcpy(k->key, own_key, sizeof own_key);
    k->len = sizeof own_key;
    return 0;
}

/* The check of a cursor's bytes for scope: a cursor of another block, account or key fails it,
 * as does any change to its text. */
static int check(const struct polling_cursor_key *k, const char *scope, const unsigned char *bytes,
                 size_t n, unsigned char out[CHECK_LEN])
{
    static const char label[] = "twilio-block poll cursor";
    unsigned char data[sizeof label + 1024 + HEAD_LEN + POLLING_CURSOR_SID_MAX],
        md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t s = strlen(scope), at = 0;
    if (s >= 1024 || n > HEAD_LEN + POLLING_CURSOR_SID_MAX)
        return -1;
    memcpy(data, label, sizeof label);
    at += sizeof label;
    memcpy(data + at, scope, s + 1);
    at += s + 1;
    memcpy(data + at, bytes, n);
    at += n;
    if (!HMAC(EVP_sha256(), k->key, (int)k->len, data, at, md, &len) || len < CHECK_LEN)
        return -1;
    memcpy(out, md, CHECK_LEN);
    return 0;
}

static int sid_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= 'a' && s[i] <= 'z')))
            return 0;
    return 1;
}

int polling_cursor_encode(const struct polling_cursor_key *k, const char *scope,
                          const struct poll_position *pos, char out[POLLING_CURSOR_TEXT_MAX])
{
    unsigned char bytes[HEAD_LEN + POLLING_CURSOR_SID_MAX + CHECK_LEN];
    size_t n = strlen(pos->after);
    uint64_t lo = (uint64_t)pos->lo;
    if (n > POLLING_CURSOR_SID_MAX)
        return -1;
    bytes[0] = CURSOR_VERSION;
    for (int i = 0; i < 8; i++)
        bytes[1 + i] = (unsigned char)(lo >> (56 - 8 * i));
    bytes[9] = (unsigned char)n;
    memcpy(bytes + HEAD_LEN, pos->after, n);
    if (check(k, scope, bytes, HEAD_LEN + n, bytes + HEAD_LEN + n) < 0)
        return -1;
    value_b64url_encode(bytes, HEAD_LEN + n + CHECK_LEN, out);
    return 0;
}

int polling_cursor_decode(const struct polling_cursor_key *k, const char *scope, const char *text,
                          long long now, struct poll_position *pos)
{
    unsigned char bytes[HEAD_LEN + POLLING_CURSOR_SID_MAX + CHECK_LEN + 3], want[CHECK_LEN];
    size_t len = strlen(text);
    long n =
        len < POLLING_CURSOR_TEXT_MAX ? value_b64url_decode(text, len, bytes, sizeof bytes) : -1;
    if (n < HEAD_LEN + CHECK_LEN || bytes[0] != CURSOR_VERSION ||
        bytes[9] > POLLING_CURSOR_SID_MAX || (size_t)n != HEAD_LEN + (size_t)bytes[9] + CHECK_LEN)
        return -1;
    size_t body = (size_t)n - CHECK_LEN;
    if (check(k, scope, bytes, body, want) < 0 || CRYPTO_memcmp(want, bytes + body, CHECK_LEN) != 0)
        return -1;
    uint64_t lo = 0;
    for (int i = 0; i < 8; i++)
        lo = lo << 8 | bytes[1 + i];
    /* read as unsigned and compared before it is a date: no overflow, whatever the bits */
    if (lo < (uint64_t)POLLING_CURSOR_MIN_S || now < POLLING_CURSOR_MIN_S ||
        lo > (uint64_t)now + (uint64_t)POLLING_CURSOR_AHEAD_S ||
        !sid_ok(bytes + HEAD_LEN, bytes[9]))
        return -1;
    pos->lo = (long long)lo;
    memcpy(pos->after, bytes + HEAD_LEN, bytes[9]);
    pos->after[bytes[9]] = '\0';
    return 0;
}

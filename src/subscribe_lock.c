#include "subscribe_lock.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "digest.h"
#include "redis_conn.h"
#include "redis_url.h"

#define KEY_PREFIX "twilio-block:lock:"
/* How often a call waiting for a Redis lock asks again. */
#define POLL_MS 50

/* The keys held in this process: few at once (one per subscribe in flight). */
struct held {
    char key[128];
    struct held *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct held *all;

static void init(void)
{
    clock_cond_init(&freed);
}

static int is_held(const char *key)
{
    for (struct held *h = all; h; h = h->next)
        if (strcmp(h->key, key) == 0)
            return 1;
    return 0;
}

static int take_local(const char *key, long wait_ms)
{
    struct timespec until = clock_after(wait_ms);
    struct held *h = calloc(1, sizeof *h);
    int rc = -1;
    if (!h)
        return -1;
    snprintf(h->key, sizeof h->key, "%s", key);
    pthread_mutex_lock(&mu);
    while (is_held(key))
        if (pthread_cond_timedwait(&freed, &mu, &until) != 0 && is_held(key))
            goto done;
    h->next = all;
    all = h;
    h = NULL;
    rc = 0;
done:
    pthread_mutex_unlock(&mu);
    free(h);
    return rc;
}

static void give_local(const char *key)
{
    pthread_mutex_lock(&mu);
    for (struct held **p = &all; *p; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            struct held *h = *p;
            *p = h->next;
            free(h);
            break;
        }
    }
    pthread_cond_broadcast(&freed);
    pthread_mutex_unlock(&mu);
}

static redisContext *connect_redis(const struct config *cfg)
{
    struct redis_url u;
    char why[160];
    struct timeval tv = {cfg->redis_timeout_ms / 1000, (cfg->redis_timeout_ms % 1000) * 1000};
    if (redis_url_parse(cfg->redis_url, &u, why, sizeof why) < 0)
        return NULL;
    redisContext *c = redis_conn_open(&u, tv, why, sizeof why);
    memset(&u, 0, sizeof u);
    return c;
}

/* The Redis key of a target: a digest, so a key costs the same whatever the target's text. */
static void redis_key(const char *key, char out[sizeof KEY_PREFIX + DIGEST_SHA256_HEX_LEN])
{
    memcpy(out, KEY_PREFIX, sizeof KEY_PREFIX - 1);
    if (digest_sha256_hex(key, strlen(key), out + sizeof KEY_PREFIX - 1) < 0)
        out[sizeof KEY_PREFIX - 1] = '\0';
}

/* Lives as long as a subscribe flow can: its reads and writes, each within
 * UPSTREAM_TIMEOUT_MS, and a margin; a holder that dies frees it then. */
static long hold_ms(const struct config *cfg)
{
    return 5 * cfg->upstream_timeout_ms + 5000;
}

static enum subscribe_lock_result take_remote(const struct config *cfg, struct subscribe_lock *l,
                                              long wait_ms)
{
    char rkey[sizeof KEY_PREFIX + DIGEST_SHA256_HEX_LEN], px[24];
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return SUBSCRIBE_LOCK_UNAVAILABLE;
    digest_hex(raw, sizeof raw, l->token);
    redis_key(l->key, rkey);
    snprintf(px, sizeof px, "%ld", hold_ms(cfg));
    redisContext *c = connect_redis(cfg);
    if (!c)
        return SUBSCRIBE_LOCK_UNAVAILABLE;
    const long until = clock_ms() + wait_ms;
    enum subscribe_lock_result rc = SUBSCRIBE_LOCK_BUSY;
    for (;;) {
        const char *argv[] = {"SET", rkey, l->token, "NX", "PX", px};
        redisReply *r = redisCommandArgv(c, 6, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            rc = SUBSCRIBE_LOCK_UNAVAILABLE;
            if (r)
                freeReplyObject(r);
            break;
        }
        int got = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (got) {
            l->remote = 1;
            rc = SUBSCRIBE_LOCKED;
            break;
        }
        if (clock_ms() + POLL_MS > until)
            break;
        clock_sleep_ms(POLL_MS);
    }
    redisFree(c);
    return rc;
}

static void give_remote(const struct config *cfg, struct subscribe_lock *l)
{
    static const char script[] =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0";
    char rkey[sizeof KEY_PREFIX + DIGEST_SHA256_HEX_LEN];
    redis_key(l->key, rkey);
    redisContext *c = connect_redis(cfg);
    if (!c)
        return; /* it lapses after hold_ms */
    const char *argv[] = {"EVAL", script, "1", rkey, l->token};
    freeReplyObject(redisCommandArgv(c, 5, argv, NULL)); /* refused or lost: it lapses too */
    redisFree(c);
}

enum subscribe_lock_result subscribe_lock_take(const struct config *cfg, const char *key,
                                               long wait_ms, struct subscribe_lock *l)
{
    pthread_once(&once, init);
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s", key);
    const long start = clock_ms();
    if (take_local(l->key, wait_ms) < 0)
        return SUBSCRIBE_LOCK_BUSY;
    l->local = 1;
    if (!cfg->redis_url[0])
        return SUBSCRIBE_LOCKED;
    long left = wait_ms - (clock_ms() - start);
    enum subscribe_lock_result rc = take_remote(cfg, l, left > 0 ? left : 0);
    if (rc != SUBSCRIBE_LOCKED)
        subscribe_lock_give(cfg, l);
    return rc;
}

void subscribe_lock_give(const struct config *cfg, struct subscribe_lock *l)
{
    if (l->remote)
        give_remote(cfg, l);
    if (l->local)
        give_local(l->key);
    l->remote = l->local = 0;
}

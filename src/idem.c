#include "idem.h"

#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "idem_redis.h"

struct entry {
    char *key;
    unsigned char fp[IDEM_FP_LEN];
    char *body; /* NULL while pending */
    size_t len;
    unsigned long ticket; /* which claim made it */
    time_t expires;
    struct entry *next_in_bucket;
    struct entry *newer, *older; /* LRU list */
};

struct idem_store {
    struct idem_redis *redis; /* set: every call goes to Redis and nothing below is used */
    pthread_mutex_t lock;
    pthread_cond_t done;
    struct entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t count, max;
    long ttl_s;
    unsigned long next_ticket;
    struct entry *newest, *oldest;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: keys are scoped and bounded */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int idem_key_valid(const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return 0;
    return n <= 255;
}

struct idem_store *idem_new(size_t max, long ttl_s)
{
    struct idem_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n_buckets = 64;
    while (s->n_buckets < max / 2 && s->n_buckets < (1u << 20))
        s->n_buckets *= 2;
    s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    s->max = max;
    s->ttl_s = ttl_s;
    pthread_mutex_init(&s->lock, NULL);
    clock_cond_init(&s->done);
    return s;
}

struct idem_store *idem_new_redis_bounded(const char *url, long ttl_s, long hold_ms,
                                          long timeout_ms, size_t max, const char *index, char *err,
                                          size_t errlen)
{
    struct idem_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!(s->redis =
              idem_redis_connect(url, ttl_s, hold_ms, timeout_ms, max, index, err, errlen))) {
        free(s);
        return NULL;
    }
    return s;
}

struct idem_store *idem_new_redis(const char *url, long ttl_s, long hold_ms, long timeout_ms,
                                  char *err, size_t errlen)
{
    return idem_new_redis_bounded(url, ttl_s, hold_ms, timeout_ms, 0, NULL, err, errlen);
}

static void lru_unlink(struct idem_store *s, struct entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(struct idem_store *s, struct entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    s->newest = e;
    if (!s->oldest)
        s->oldest = e;
}

static struct entry **slot(struct idem_store *s, const char *key)
{
    struct entry **p = &s->buckets[hash(key) & (s->n_buckets - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next_in_bucket;
    return p;
}

static void drop(struct idem_store *s, struct entry **p)
{
    struct entry *e = *p;
    *p = e->next_in_bucket;
    lru_unlink(s, e);
    free(e->key);
    free(e->body);
    free(e);
    s->count--;
}

/* Makes room: the least recently used answered entries go. Pending ones stay whatever their
 * age (forgetting one would let a repeat send again), so the store may briefly pass max. */
static void evict(struct idem_store *s)
{
    struct entry *e = s->oldest;
    while (e && s->count >= s->max) {
        struct entry *newer = e->newer;
        if (e->body)
            drop(s, slot(s, e->key));
        e = newer;
    }
}

enum idem_claim idem_claim(struct idem_store *s, const char *key, const unsigned char *fp,
                           long wait_ms, char **body, size_t *len, unsigned long *ticket)
{
    if (s->redis)
        return idem_redis_claim(s->redis, key, fp, wait_ms, body, len, ticket);
    const struct timespec until = clock_after(wait_ms);
    pthread_mutex_lock(&s->lock);
    enum idem_claim rc;
    for (;;) {
        time_t now = time(NULL);
        struct entry **p = slot(s, key);
        if (*p && (*p)->body && (*p)->expires <= now) {
            drop(s, p);
            p = slot(s, key);
        }
        struct entry *e = *p;
        if (!e) {
            evict(s);
            e = calloc(1, sizeof *e);
            if (!e || !(e->key = strdup(key))) {
                free(e);
                rc = IDEM_NOMEM;
                break;
            }
            memcpy(e->fp, fp, IDEM_FP_LEN);
            e->expires = now + s->ttl_s;
            e->ticket = *ticket = ++s->next_ticket;
            *slot(s, key) = e;
            lru_push(s, e);
            s->count++;
            rc = IDEM_FRESH;
            break;
        }
        if (memcmp(e->fp, fp, IDEM_FP_LEN) != 0) {
            rc = IDEM_CONFLICT;
            break;
        }
        if (e->body) {
            lru_unlink(s, e);
            lru_push(s, e);
            *body = malloc(e->len + 1);
            if (!*body) {
                rc = IDEM_NOMEM;
                break;
            }
            memcpy(*body, e->body, e->len + 1);
            *len = e->len;
            rc = IDEM_REPLAY;
            break;
        }
        if (pthread_cond_timedwait(&s->done, &s->lock, &until) == ETIMEDOUT) {
            rc = IDEM_PENDING;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void idem_finish(struct idem_store *s, const char *key, unsigned long ticket, const char *body,
                 size_t len)
{
    if (s->redis) {
        idem_redis_finish(s->redis, key, ticket, body, len);
        return;
    }
    char *copy = malloc(len + 1);
    pthread_mutex_lock(&s->lock);
    struct entry **p = slot(s, key);
    struct entry *e = *p && (*p)->ticket == ticket && !(*p)->body ? *p : NULL;
    if (e && copy) {
        memcpy(copy, body, len);
        copy[len] = '\0';
        e->body = copy;
        e->len = len;
        e->expires = time(NULL) + s->ttl_s;
        copy = NULL;
    } else if (e) {
        drop(s, p); /* out of memory: forgotten (a repeat could send again), not pending for ever */
    }
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
    free(copy);
}

void idem_abandon(struct idem_store *s, const char *key, unsigned long ticket)
{
    if (s->redis) {
        idem_redis_abandon(s->redis, key, ticket);
        return;
    }
    pthread_mutex_lock(&s->lock);
    struct entry **p = slot(s, key);
    if (*p && !(*p)->body && (*p)->ticket == ticket)
        drop(s, p);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
}

size_t idem_count(struct idem_store *s)
{
    if (s->redis)
        return 0;
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void idem_free(struct idem_store *s)
{
    if (!s)
        return;
    if (s->redis) {
        idem_redis_free(s->redis);
        free(s);
        return;
    }
    while (s->oldest)
        drop(s, slot(s, s->oldest->key));
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->done);
    free(s);
}

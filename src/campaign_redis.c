#include "campaign_redis.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "digest.h"
#include "log.h"
#include "redis_conn.h"
#include "redis_url.h"

#define MAX_IDLE 64
#define MAX_ARGS 24000

struct campaign_redis {
    struct redis_url url;
    char where[640];
    struct timeval timeout;
    pthread_mutex_t lock; /* guards idle, n_idle, down */
    redisContext *idle[MAX_IDLE];
    size_t n_idle;
    int down;
};

static redisContext *connect_one(struct campaign_redis *r, char *why, size_t n)
{
    return redis_conn_open(&r->url, r->timeout, why, n);
}

static redisContext *take(struct campaign_redis *r)
{
    pthread_mutex_lock(&r->lock);
    redisContext *c = r->n_idle ? r->idle[--r->n_idle] : NULL;
    pthread_mutex_unlock(&r->lock);
    return c;
}

static void give_back(struct campaign_redis *r, redisContext *c)
{
    pthread_mutex_lock(&r->lock);
    if (r->n_idle < MAX_IDLE) {
        r->idle[r->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    if (c)
        redisFree(c);
}

static void drop_idle(struct campaign_redis *r)
{
    redisContext *c;
    while ((c = take(r)))
        redisFree(c);
}

/* Logs the changes only: an outage gives two lines, not one per command. */
static void mark(struct campaign_redis *r, int ok, const char *why)
{
    pthread_mutex_lock(&r->lock);
    int changed = r->down == ok;
    r->down = !ok;
    pthread_mutex_unlock(&r->lock);
    if (changed && ok)
        log_msg(LOG_INFO, "campaigns: Redis at %s answers again", r->where);
    else if (changed)
        log_msg(LOG_WARN, "campaigns: Redis at %s is unavailable (%s); campaigns wait for it",
                r->where, why);
}

struct campaign_redis *campaign_redis_new(const char *url, long timeout_ms, char *err,
                                          size_t errlen)
{
    struct campaign_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (redis_url_parse(url, &r->url, err, errlen) < 0) {
        free(r);
        return NULL;
    }
    redis_url_describe(&r->url, r->where, sizeof r->where);
    r->timeout.tv_sec = timeout_ms / 1000;
    r->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void campaign_redis_free(struct campaign_redis *r)
{
    if (!r)
        return;
    drop_idle(r);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* One try on one connection; *sent_maybe is set when the command may have reached Redis. */
static redisReply *once(struct campaign_redis *r, int argc, const char **argv, const size_t *lens,
                        int *pooled, char *why, size_t whylen)
{
    redisContext *c = take(r);
    *pooled = c != NULL;
    if (!c && !(c = connect_one(r, why, whylen)))
        return NULL;
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    if (!rep) {
        snprintf(why, whylen, "%s", c->errstr[0] ? c->errstr : "no answer");
        redisFree(c);
        if (*pooled)
            drop_idle(r);
        return NULL;
    }
    give_back(r, c);
    return rep;
}

static redisReply *checked(struct campaign_redis *r, redisReply *rep, const char *what, char *why,
                           size_t whylen)
{
    if (!rep) {
        mark(r, 0, why);
        return NULL;
    }
    mark(r, 1, NULL);
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, whylen, "%s answered %.160s", what, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

redisReply *campaign_redis_run(struct campaign_redis *r, int argc, const char **argv,
                               const size_t *lens, char *why, size_t whylen)
{
    int pooled = 0;
    redisReply *rep = once(r, argc, argv, lens, &pooled, why, whylen);
    if (!rep && pooled) /* a stale pooled connection: Redis restarted */
        rep = once(r, argc, argv, lens, &pooled, why, whylen);
    return checked(r, rep, argv[0], why, whylen);
}

redisReply *campaign_redis_script(struct campaign_redis *r, const char *script, int nkeys, int argc,
                                  const char **argv, const size_t *lens, char *why, size_t whylen)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char sha[2 * SHA_DIGEST_LENGTH + 1], n[16];
    if (argc + 3 > MAX_ARGS) {
        snprintf(why, whylen, "too many args");
        return NULL;
    }
    const char **av = malloc((size_t)(argc + 3) * sizeof *av);
    size_t *lv = malloc((size_t)(argc + 3) * sizeof *lv);
    redisReply *rep = NULL;
    if (!av || !lv) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    SHA1((const unsigned char *)script, strlen(script), md);
    digest_hex(md, sizeof md, sha);
    snprintf(n, sizeof n, "%d", nkeys);
    av[0] = "EVALSHA";
    av[1] = sha;
    av[2] = n;
    lv[0] = 7;
    lv[1] = strlen(sha);
    lv[2] = strlen(n);
    for (int i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        lv[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    int pooled = 0;
    rep = once(r, argc + 3, av, lv, &pooled, why, whylen);
    if (!rep && pooled) { /* a stale connection took nothing: it could not be written */
        rep = NULL;
        mark(r, 0, why);
        goto done;
    }
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        av[0] = "EVAL";
        av[1] = script;
        lv[0] = 4;
        lv[1] = strlen(script);
        rep = once(r, argc + 3, av, lv, &pooled, why, whylen);
    }
    rep = checked(r, rep, "a campaign script", why, whylen);
done:
    free(av);
    free(lv);
    return rep;
}

#include "idem_redis.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "digest.h"
#include "log.h"
#include "redis_conn.h"
#include "redis_url.h"

#define KEY_PREFIX "twilio-block:idem:"
#define KEY_SIZE (sizeof KEY_PREFIX + DIGEST_SHA256_HEX_LEN)
#define FP_HEX (IDEM_FP_LEN * 2)
#define MAX_IDLE 32     /* connections kept open between calls; more are closed after use */
#define POLL_MAX_MS 200 /* longest pause between two looks at a claim another caller holds */
#define LAPSE_MARGIN_MS 5000
#define MAX_OWED 8 /* finishes written on one connection before their replies are read */

/* Settles a claim only while it is still the caller's: ARGV[1] is "p:<owner>-<ticket>:", what
 * follows it in the value is the fingerprint. */
static const char finish_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then\n"
    "  redis.call('SET', KEYS[1], 'd:' .. string.sub(v, #ARGV[1] + 1) .. ':' .. ARGV[2],\n"
    "             'EX', ARGV[3])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";
/* A key's value and what is left of its life, read at once: a claim's life is its lapse and
 * then IDEMPOTENCY_TTL_S, so a claim with less than the TTL left has lapsed. */
static const char read_lua[] = "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}\n";
/* A claim in a bounded store (idem_new_redis_bounded): SET NX, then the key is listed in the
 * index KEYS[2] by Redis's own time, entries past their life leave it, and the oldest keys past
 * ARGV[3] are deleted. Returns 1 when claimed, 0 when the key was there. */
static const char claim_bounded_lua[] =
    "if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[2], now, KEYS[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))\n"
    "local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])\n"
    "if over > 0 then\n"
    "  local old = redis.call('ZPOPMIN', KEYS[2], over)\n"
    "  for i = 1, #old, 2 do redis.call('DEL', old[i]) end\n"
    "end\n"
    "return 1\n";
static const char abandon_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/* A connection and the answers it still owes: stored answers (finish) are written without
 * waiting for Redis's reply, so a keyed call waits for Redis once (its claim) and not twice. The
 * next user of the connection reads those replies first (Redis answers in order), and a
 * connection that breaks before it replied has its finishes sent again on a new one, as a
 * finish that met a stale connection was before. Each is kept as it was sent until then. */
struct link {
    redisContext *c;
    size_t owed;
    char *sent[MAX_OWED];
    size_t sent_len[MAX_OWED];
};

struct idem_redis {
    struct redis_url url;
    char where[640]; /* the URL with its password masked, for log lines */
    long ttl_s;
    long lapse_ms; /* an unsettled claim lapses after this long: its request may have been sent */
    size_t max;    /* keys kept at most (claim_bounded_lua), 0: no bound */
    char max_text[24]; /* max as claim_bounded_lua's ARGV[3] */
    char index[64];    /* the sorted set of a bounded store's keys */
    struct timeval timeout;
    char owner[33]; /* this store's random id: its claims read "p:<owner>-<ticket>:<fp>" */
    atomic_ulong next_ticket;
    /* Claims whose SET NX got no answer: Redis may still have taken them (a paused Redis runs
     * the command once it wakes). A later claim of the same key takes such a claim over, so
     * it never reads as another caller's, nor lapses into "may have been sent". */
    pthread_mutex_t lost_lock;
    unsigned long lost[64];
    size_t n_lost;
    pthread_mutex_t lock; /* guards idle and n_idle, and changes of down */
    struct link idle[MAX_IDLE];
    size_t n_idle;
    atomic_int down; /* the last command failed; logged once until Redis answers again */
};

/* The Redis key for a scoped key: hashed, so the account SID and the caller's key are not
 * readable in Redis. */
static int redis_key(const char *key, char out[KEY_SIZE])
{
    memcpy(out, KEY_PREFIX, sizeof KEY_PREFIX - 1);
    return digest_sha256_hex(key, strlen(key), out + sizeof KEY_PREFIX - 1);
}

static redisContext *connect_one(struct idem_redis *r, char *why, size_t n)
{
    return redis_conn_open(&r->url, r->timeout, why, n);
}

static int take_idle(struct idem_redis *r, struct link *l)
{
    pthread_mutex_lock(&r->lock);
    int got = r->n_idle > 0;
    if (got)
        *l = r->idle[--r->n_idle];
    pthread_mutex_unlock(&r->lock);
    return got;
}

static void finish_outcome(struct idem_redis *r, const redisReply *rep);
static void retire(struct idem_redis *r, struct link *l);

static void give_back(struct idem_redis *r, struct link *l)
{
    pthread_mutex_lock(&r->lock);
    int kept = r->n_idle < MAX_IDLE;
    if (kept)
        r->idle[r->n_idle++] = *l;
    pthread_mutex_unlock(&r->lock);
    if (!kept)
        retire(r, l);
}

/* Reads the replies l owes, oldest first, and reports each finish's outcome. Returns 0, or -1
 * when the connection broke: the finishes not answered stay owed. */
static int collect(struct idem_redis *r, struct link *l)
{
    size_t done = 0;
    int rc = 0;
    while (done < l->owed) {
        redisReply *rep = NULL;
        if (redisGetReply(l->c, (void **)&rep) != REDIS_OK || !rep) {
            rc = -1;
            break;
        }
        finish_outcome(r, rep);
        freeReplyObject(rep);
        free(l->sent[done++]);
    }
    l->owed -= done;
    memmove(l->sent, l->sent + done, l->owed * sizeof l->sent[0]);
    memmove(l->sent_len, l->sent_len + done, l->owed * sizeof l->sent_len[0]);
    return rc;
}

/* Closes l after reading what it owes; finishes it could not answer are sent again on a new
 * connection (each compares before it writes, so one that Redis ran already changes nothing),
 * and reported as not stored when that fails too. */
static void retire(struct idem_redis *r, struct link *l)
{
    char why[192];
    if (l->owed && collect(r, l) < 0 && l->owed) {
        redisContext *fresh = connect_one(r, why, sizeof why);
        for (size_t i = 0; i < l->owed; i++) {
            redisReply *rep = NULL;
            if (fresh &&
                (redisAppendFormattedCommand(fresh, l->sent[i], l->sent_len[i]) != REDIS_OK ||
                 redisGetReply(fresh, (void **)&rep) != REDIS_OK)) {
                redisFree(fresh);
                fresh = NULL;
                rep = NULL;
            }
            finish_outcome(r, rep);
            if (rep)
                freeReplyObject(rep);
        }
        if (fresh)
            redisFree(fresh);
    }
    for (size_t i = 0; i < l->owed; i++)
        free(l->sent[i]);
    l->owed = 0;
    redisFree(l->c);
    l->c = NULL;
}

/* After one idle connection turned out dead (Redis restarted), the others are dead too. */
static void drop_idle(struct idem_redis *r)
{
    struct link l;
    while (take_idle(r, &l))
        retire(r, &l);
}

static const char *store_name(const struct idem_redis *r)
{
    return r->max ? "webhook delivery store" : "idempotency store";
}

/* Logs only the changes, so a Redis outage gives two lines and not one per request. Without a
 * change no lock is taken: every command of every worker passes here. */
static void mark(struct idem_redis *r, int ok, const char *why)
{
    if (atomic_load(&r->down) == !ok)
        return;
    pthread_mutex_lock(&r->lock);
    int changed = r->down == ok;
    r->down = !ok;
    pthread_mutex_unlock(&r->lock);
    if (changed && ok)
        log_msg(LOG_INFO, "%s: Redis at %s answers again", store_name(r), r->where);
    else if (changed)
        log_msg(LOG_WARN, "%s: Redis at %s is unavailable (%s); %s", store_name(r), r->where, why,
                r->max ? "deliveries are passed on without being remembered until it answers"
                       : "requests with an Idempotency-Key get 503 "
                         "IDEMPOTENCY_STORE_UNAVAILABLE until it answers");
}

/* Runs one command and returns its reply (the caller frees it), or NULL when Redis could not
 * be reached or answered an error. A pooled connection may have gone stale: then the command
 * is tried once more on a new one, which every command here allows (a repeated SET NX finds
 * its own claim; the scripts compare before they write). */
static redisReply *run(struct idem_redis *r, int argc, const char **argv, const size_t *lens)
{
    char why[192] = "no connection";
    for (int attempt = 0; attempt < 2; attempt++) {
        struct link l = {.owed = 0};
        int pooled = take_idle(r, &l);
        if (!pooled && !(l.c = connect_one(r, why, sizeof why)))
            break;
        redisReply *rep = NULL;
        /* written together with nothing before it in flight but the owed finishes, whose
         * replies come first */
        if (redisAppendCommandArgv(l.c, argc, argv, lens) != REDIS_OK || collect(r, &l) < 0 ||
            redisGetReply(l.c, (void **)&rep) != REDIS_OK || !rep) {
            snprintf(why, sizeof why, "%s", l.c->errstr[0] ? l.c->errstr : "no answer");
            retire(r, &l);
            if (!pooled)
                break;
            drop_idle(r);
            continue;
        }
        give_back(r, &l);
        if (rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, sizeof why, "%s answered %.120s", argv[0], rep->str);
            freeReplyObject(rep);
            break;
        }
        mark(r, 1, NULL);
        return rep;
    }
    mark(r, 0, why);
    return NULL;
}

/* Writes one command whose reply the connection's next user reads (see struct link). Returns
 * 0, or -1 when it could not be written (nothing is owed then). */
static int post(struct idem_redis *r, int argc, const char **argv, const size_t *lens)
{
    char why[192] = "no connection";
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct link l = {.owed = 0};
        int pooled = take_idle(r, &l);
        if (!pooled && !(l.c = connect_one(r, why, sizeof why)))
            break;
        /* a connection owing its most is settled with first */
        if (l.owed == MAX_OWED && collect(r, &l) < 0) {
            retire(r, &l);
            continue;
        }
        int done = 0;
        if (redisAppendFormattedCommand(l.c, cmd, (size_t)n) == REDIS_OK) {
            while (!done && redisBufferWrite(l.c, &done) == REDIS_OK)
                ;
        }
        if (!done) {
            retire(r, &l);
            if (!pooled)
                break;
            continue;
        }
        l.sent[l.owed] = cmd;
        l.sent_len[l.owed++] = (size_t)n;
        give_back(r, &l);
        return 0;
    }
    free(cmd);
    mark(r, 0, why);
    return -1;
}

struct idem_redis *idem_redis_connect(const char *url, long ttl_s, long hold_ms, long timeout_ms,
                                      size_t max, const char *index, char *err, size_t errlen)
{
    unsigned char id[16];
    struct idem_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (redis_url_parse(url, &r->url, err, errlen) < 0)
        goto fail;
    if (RAND_bytes(id, sizeof id) != 1) {
        snprintf(err, errlen, "no random bytes for the idempotency store's owner id");
        goto fail;
    }
    digest_hex(id, sizeof id, r->owner);
    redis_url_describe(&r->url, r->where, sizeof r->where);
    r->ttl_s = ttl_s;
    r->lapse_ms = hold_ms + 4 * timeout_ms + LAPSE_MARGIN_MS;
    r->max = max;
    snprintf(r->max_text, sizeof r->max_text, "%zu", max);
    if (max && snprintf(r->index, sizeof r->index, "%s", index) >= (int)sizeof r->index) {
        snprintf(err, errlen, "idempotency store: index name too long");
        goto fail;
    }
    r->timeout.tv_sec = timeout_ms / 1000;
    r->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    atomic_init(&r->next_ticket, 0);
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->lost_lock, NULL);
    /* A Redis that is down at start-up is not fatal: requests without a key do not need it, and
     * keyed ones are refused (nothing sent) until it answers; run() says so. */
    const char *ping[] = {"PING"};
    redisReply *rep = run(r, 1, ping, NULL);
    if (rep && r->max)
        log_msg(LOG_INFO, "webhook delivery store: Redis at %s (at most %zu ids, kept %ld s)",
                r->where, r->max, r->ttl_s);
    else if (rep)
        log_msg(LOG_INFO,
                "idempotency store: Redis at %s (answers kept %ld s, an unsettled claim lapses "
                "after %ld ms)",
                r->where, r->ttl_s, r->lapse_ms);
    if (rep)
        freeReplyObject(rep);
    return r;
fail:
    OPENSSL_cleanse(&r->url, sizeof r->url);
    free(r);
    return NULL;
}

void idem_redis_free(struct idem_redis *r)
{
    if (!r)
        return;
    drop_idle(r); /* reads what each connection still owes */
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->lost_lock);
    OPENSSL_cleanse(&r->url, sizeof r->url);
    free(r);
}

static void lose(struct idem_redis *r, unsigned long ticket)
{
    pthread_mutex_lock(&r->lost_lock);
    r->lost[r->n_lost++ % (sizeof r->lost / sizeof r->lost[0])] = ticket;
    pthread_mutex_unlock(&r->lost_lock);
}

/* Whether the claim value v (n bytes) is one of this store's lost claims: its ticket in
 * *ticket, forgotten as lost. */
static int find_lost(struct idem_redis *r, const char *v, size_t n, unsigned long *ticket)
{
    size_t own = strlen(r->owner);
    if (n < 2 + own + 2 || memcmp(v + 2, r->owner, own) != 0 || v[2 + own] != '-')
        return 0;
    unsigned long t = strtoul(v + 3 + own, NULL, 10);
    int found = 0;
    pthread_mutex_lock(&r->lost_lock);
    for (size_t i = 0; i < sizeof r->lost / sizeof r->lost[0] && !found; i++) {
        if (t && r->lost[i] == t) {
            r->lost[i] = 0;
            found = 1;
        }
    }
    pthread_mutex_unlock(&r->lost_lock);
    *ticket = t;
    return found;
}

/* Reads a key's value: IDEM_FRESH when it is the caller's own claim (a SET NX whose answer was
 * lost and was repeated), IDEM_PENDING when another caller's claim, IDEM_LAPSED when that
 * claim has lived longer than its lapse (pttl, ms left, is less than the TTL). */
static enum idem_claim read_value(struct idem_redis *r, const redisReply *rep, long long pttl,
                                  const char *fp, const char *mine, unsigned long *ticket,
                                  char **body, size_t *len)
{
    const char *v = rep->str;
    size_t n = rep->len;
    if (rep->type == REDIS_REPLY_STRING && n > FP_HEX + 2 && memcmp(v, "d:", 2) == 0 &&
        v[FP_HEX + 2] == ':') {
        if (memcmp(v + 2, fp, FP_HEX) != 0)
            return IDEM_CONFLICT;
        size_t skip = FP_HEX + 3;
        if (!(*body = malloc(n - skip + 1)))
            return IDEM_NOMEM;
        memcpy(*body, v + skip, n - skip);
        (*body)[n - skip] = '\0';
        *len = n - skip;
        return IDEM_REPLAY;
    }
    if (rep->type == REDIS_REPLY_STRING && n > FP_HEX + 2 && memcmp(v, "p:", 2) == 0 &&
        v[n - FP_HEX - 1] == ':') {
        if (memcmp(v + n - FP_HEX, fp, FP_HEX) != 0)
            return IDEM_CONFLICT;
        if (n == strlen(mine) && memcmp(v, mine, n) == 0)
            return IDEM_FRESH;
        if (find_lost(r, v, n - FP_HEX - 1, ticket))
            return IDEM_FRESH; /* *ticket: the lost claim's, so the caller settles it */
        return pttl >= 0 && pttl < r->ttl_s * 1000 ? IDEM_LAPSED : IDEM_PENDING;
    }
    log_msg(LOG_WARN,
            "idempotency store: Redis at %s holds a value this service did not write "
            "under its key prefix " KEY_PREFIX,
            r->where);
    return IDEM_UNAVAILABLE;
}

enum idem_claim idem_redis_claim(struct idem_redis *r, const char *key, const unsigned char *fp,
                                 long wait_ms, char **body, size_t *len, unsigned long *ticket)
{
    char rkey[KEY_SIZE], fp_hex[FP_HEX + 1], mine[128], lapse[24];
    if (redis_key(key, rkey) < 0)
        return IDEM_NOMEM;
    digest_hex(fp, IDEM_FP_LEN, fp_hex);
    unsigned long t = atomic_fetch_add(&r->next_ticket, 1) + 1;
    snprintf(mine, sizeof mine, "p:%s-%lu:%s", r->owner, t, fp_hex);
    /* A claim outlives its lapse by the TTL: a repeat after the lapse learns that the request
     * may have been sent (IDEM_LAPSED), and never sends it again. */
    snprintf(lapse, sizeof lapse, "%ld", r->lapse_ms + r->ttl_s * 1000);
    const char *set[] = {"SET", rkey, mine, "NX", "PX", lapse};
    const char *bounded[] = {"EVAL", claim_bounded_lua, "2", rkey, r->index, mine,
                             lapse,  r->max_text};
    const char *get[] = {"EVAL", read_lua, "1", rkey};
    const long deadline = clock_ms() + wait_ms;
    long pause = 10;
    int gone = 0;
    for (;;) {
        redisReply *rep = r->max ? run(r, 8, bounded, NULL) : run(r, 6, set, NULL);
        if (!rep) {
            lose(r, t);
            return IDEM_UNAVAILABLE;
        }
        int claimed = r->max ? rep->type == REDIS_REPLY_INTEGER && rep->integer == 1
                             : rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (claimed) {
            *ticket = t;
            return IDEM_FRESH;
        }
        if (!(rep = run(r, 4, get, NULL)))
            return IDEM_UNAVAILABLE;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            return IDEM_UNAVAILABLE;
        }
        const redisReply *value = rep->element[0];
        long long pttl =
            rep->element[1]->type == REDIS_REPLY_INTEGER ? rep->element[1]->integer : -1;
        if (value->type == REDIS_REPLY_NIL) { /* abandoned or expired in between: claim again */
            freeReplyObject(rep);
            if (++gone < 8)
                continue;
            return IDEM_PENDING;
        }
        unsigned long owner_ticket = t;
        enum idem_claim rc = read_value(r, value, pttl, fp_hex, mine, &owner_ticket, body, len);
        freeReplyObject(rep);
        if (rc == IDEM_FRESH)
            *ticket = owner_ticket;
        if (rc != IDEM_PENDING)
            return rc;
        long left = deadline - clock_ms();
        if (left <= 0)
            return IDEM_PENDING;
        clock_sleep_ms(pause < left ? pause : left);
        pause = pause * 2 < POLL_MAX_MS ? pause * 2 : POLL_MAX_MS;
    }
}

/* Runs a settle script for the caller's claim; returns its result, or -1. */
static long long settle(struct idem_redis *r, const char *key, unsigned long ticket,
                        const char *script, const char *body, size_t len)
{
    char rkey[KEY_SIZE], prefix[64], ttl[24];
    if (redis_key(key, rkey) < 0)
        return -1;
    snprintf(prefix, sizeof prefix, "p:%s-%lu:", r->owner, ticket);
    snprintf(ttl, sizeof ttl, "%ld", r->ttl_s);
    const char *argv[] = {"EVAL", script, "1", rkey, prefix, body, ttl};
    size_t lens[] = {4, strlen(script), 1, strlen(rkey), strlen(prefix), len, strlen(ttl)};
    redisReply *rep = run(r, body ? 7 : 5, argv, lens);
    long long result = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep)
        freeReplyObject(rep);
    return result;
}

/* Reports what became of a finish: rep is its reply, NULL when none came. */
static void finish_outcome(struct idem_redis *r, const redisReply *rep)
{
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        if (rep)
            mark(r, 0, "a stored answer was refused");
        log_msg(LOG_WARN,
                "idempotency store: an answer could not be stored in Redis; a repeat "
                "of that request after its claim lapses (%ld ms) is answered that it "
                "may have been sent",
                r->lapse_ms);
    } else if (rep->integer == 0) {
        log_msg(LOG_WARN,
                "idempotency store: an answer came after its claim had expired "
                "(%ld ms and IDEMPOTENCY_TTL_S) or been taken over; it was not kept",
                r->lapse_ms);
    }
}

void idem_redis_finish(struct idem_redis *r, const char *key, unsigned long ticket,
                       const char *body, size_t len)
{
    char rkey[KEY_SIZE], prefix[64], ttl[24];
    if (redis_key(key, rkey) < 0) {
        finish_outcome(r, NULL);
        return;
    }
    snprintf(prefix, sizeof prefix, "p:%s-%lu:", r->owner, ticket);
    snprintf(ttl, sizeof ttl, "%ld", r->ttl_s);
    const char *argv[] = {"EVAL", finish_lua, "1", rkey, prefix, body, ttl};
    size_t lens[] = {4, strlen(finish_lua), 1, strlen(rkey), strlen(prefix), len, strlen(ttl)};
    if (post(r, 7, argv, lens) < 0)
        finish_outcome(r, NULL);
}

void idem_redis_abandon(struct idem_redis *r, const char *key, unsigned long ticket)
{
    if (settle(r, key, ticket, abandon_lua, NULL, 0) < 0)
        log_msg(LOG_WARN,
                "idempotency store: a claim could not be released in Redis; repeats "
                "of that request wait until it lapses (%ld ms)",
                r->lapse_ms);
}

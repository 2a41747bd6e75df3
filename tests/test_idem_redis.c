/* idem with REDIS_URL, against a real redis-server: the in-process store's contract (claims,
 * replays byte for byte, conflicts, waiting, only the owner settles) held across two stores as
 * two replicas would hold it, lapsing claims, hashed keys, a password, answers Redis did not
 * keep reported, and Redis going away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "idem.h"
#include "redisd.h"

#define KEY "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\norder-1042"
#define PREFIX "twilio-block:idem:"

static const unsigned char FP_A[IDEM_FP_LEN] = {1};
static const unsigned char FP_B[IDEM_FP_LEN] = {2};
static struct redisd redis; /* no password; the password test starts its own */

static struct idem_store *store_at(const struct redisd *r, int db, long ttl_s)
{
    char url[128], err[256] = "";
    redisd_url(r, db, url, sizeof url);
    struct idem_store *s = idem_new_redis(url, ttl_s, 1000, 1000, err, sizeof err);
    if (!s)
        fprintf(stderr, "idem_new_redis: %s\n", err);
    assert_non_null(s);
    return s;
}

static enum idem_claim claim(struct idem_store *s, const char *key, const unsigned char *fp,
                             long wait_ms, unsigned long *ticket, char **body, size_t *len)
{
    *body = NULL;
    return idem_claim(s, key, fp, wait_ms, body, len, ticket);
}

static void flush(int db)
{
    redisContext *c = redisd_connect(&redis, db);
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "FLUSHDB"));
    redisFree(c);
}

/* The one key the stores wrote in db (asserting there is exactly one); the caller frees it. */
static char *only_key(int db)
{
    redisContext *c = redisd_connect(&redis, db);
    assert_non_null(c);
    redisReply *rep = redisCommand(c, "KEYS *");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 1);
    char *key = strdup(rep->element[0]->str);
    freeReplyObject(rep);
    redisFree(c);
    return key;
}

static long long command_int(int db, const char *fmt, const char *arg)
{
    redisContext *c = redisd_connect(&redis, db);
    assert_non_null(c);
    redisReply *rep = redisCommand(c, fmt, arg);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    long long v = rep->integer;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

static void fresh_replay_conflict_across_replicas(void **state)
{
    (void)state;
    flush(0);
    struct idem_store *a = store_at(&redis, 0, 60), *b = store_at(&redis, 0, 60);
    unsigned long t, t2;
    char *body;
    size_t len;
    /* An answer with a NUL, CR LF and non-UTF-8 bytes must come back exactly. */
    static const char answer[] = "{\"callback\":\"success\"}\0\r\n\xff tail";
    assert_int_equal(claim(a, KEY, FP_A, 0, &t, &body, &len), IDEM_FRESH);
    assert_int_equal(claim(b, KEY, FP_A, 0, &t2, &body, &len), IDEM_PENDING);
    assert_int_equal(claim(a, KEY, FP_A, 0, &t2, &body, &len), IDEM_PENDING);
    assert_int_equal(claim(b, KEY, FP_B, 0, &t2, &body, &len), IDEM_CONFLICT);
    idem_finish(a, KEY, t, answer, sizeof answer - 1);
    assert_int_equal(claim(b, KEY, FP_A, 0, &t2, &body, &len), IDEM_REPLAY);
    assert_int_equal(len, sizeof answer - 1);
    assert_memory_equal(body, answer, sizeof answer - 1);
    assert_int_equal(body[len], '\0');
    free(body);
    assert_int_equal(claim(a, KEY, FP_A, 0, &t2, &body, &len), IDEM_REPLAY);
    free(body);
    assert_int_equal(claim(b, KEY, FP_B, 0, &t2, &body, &len), IDEM_CONFLICT);
    assert_int_equal(
        claim(b, "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\norder-1042", FP_B, 0, &t2, &body, &len),
        IDEM_FRESH); /* another account, another key */
    idem_free(a);
    idem_free(b);
}

/* Both stores number their tickets from 1: a ticket alone must not let b settle a's claim. */
static void only_the_owner_settles(void **state)
{
    (void)state;
    flush(0);
    struct idem_store *a = store_at(&redis, 0, 60), *b = store_at(&redis, 0, 60);
    unsigned long ta, tb, first, t;
    char *body;
    size_t len;
    assert_int_equal(claim(b, "other", FP_A, 0, &tb, &body, &len), IDEM_FRESH);
    assert_int_equal(claim(a, KEY, FP_A, 0, &first, &body, &len), IDEM_FRESH);
    assert_int_equal(first, tb);
    idem_finish(b, KEY, tb, "b's", 3);
    idem_abandon(b, KEY, tb);
    assert_int_equal(claim(b, KEY, FP_A, 0, &t, &body, &len), IDEM_PENDING);

    idem_abandon(a, KEY, first);
    assert_int_equal(claim(a, KEY, FP_A, 0, &ta, &body, &len), IDEM_FRESH);
    idem_abandon(a, KEY, first); /* stale: must not free the second claim */
    idem_finish(a, KEY, first, "stale", 5);
    assert_int_equal(claim(b, KEY, FP_A, 0, &t, &body, &len), IDEM_PENDING);
    idem_finish(a, KEY, ta, "fresh", 5);
    idem_abandon(a, KEY, ta); /* settled: abandoning now must not forget the answer */
    assert_int_equal(claim(b, KEY, FP_A, 0, &t, &body, &len), IDEM_REPLAY);
    assert_string_equal(body, "fresh");
    free(body);
    idem_free(a);
    idem_free(b);
}

struct waiter {
    struct idem_store *s;
    enum idem_claim rc;
    char *body;
    size_t len;
};

static void *wait_for_answer(void *arg)
{
    struct waiter *w = arg;
    unsigned long t;
    w->rc = claim(w->s, KEY, FP_A, 20000, &t, &w->body, &w->len);
    return NULL;
}

static void a_repeat_waits_for_the_answer(void **state)
{
    (void)state;
    flush(0);
    struct idem_store *a = store_at(&redis, 0, 60), *b = store_at(&redis, 0, 60);
    unsigned long t;
    char *body;
    size_t len;
    assert_int_equal(claim(a, KEY, FP_A, 0, &t, &body, &len), IDEM_FRESH);
    struct waiter w = {.s = b};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, wait_for_answer, &w), 0);
    clock_sleep_ms(100);
    idem_finish(a, KEY, t, "the answer", 10);
    pthread_join(thread, NULL);
    assert_int_equal(w.rc, IDEM_REPLAY);
    assert_string_equal(w.body, "the answer");
    free(w.body);

    /* An abandoned claim lets the waiter claim it. */
    assert_int_equal(claim(a, "k2", FP_A, 0, &t, &body, &len), IDEM_FRESH);
    unsigned long t2;
    assert_int_equal(claim(b, "k2", FP_A, 50, &t2, &body, &len), IDEM_PENDING);
    idem_abandon(a, "k2", t);
    assert_int_equal(claim(b, "k2", FP_A, 0, &t2, &body, &len), IDEM_FRESH);
    idem_free(a);
    idem_free(b);
}

/* A replica that dies holding a claim holds the key until the claim lapses; after that a
 * repeat learns that the request may have been sent (IDEM_LAPSED) and the key is never
 * claimed again; the owner's late answer is still kept. */
static void claims_lapse_and_answers_expire(void **state)
{
    (void)state;
    flush(0);
    struct idem_store *a = store_at(&redis, 0, 3600), *b = store_at(&redis, 0, 3600);
    unsigned long ta, tb;
    char *body;
    size_t len;
    assert_int_equal(claim(a, KEY, FP_A, 0, &ta, &body, &len), IDEM_FRESH);
    char *key = only_key(0);
    long long pttl = command_int(0, "PTTL %s", key);
    assert_true(pttl > 3600 * 1000LL);
    /* hold + 4 x timeout + margin, then the TTL */
    assert_true(pttl <= 1000 + 4 * 1000 + 5000 + 3600 * 1000LL);
    assert_int_equal(claim(b, KEY, FP_A, 0, &tb, &body, &len), IDEM_PENDING);

    /* as if the lapse had passed */
    assert_int_equal(command_int(0, "PEXPIRE %s 3599999", key), 1);
    assert_int_equal(claim(b, KEY, FP_A, 0, &tb, &body, &len), IDEM_LAPSED);
    assert_int_equal(claim(b, KEY, FP_B, 0, &tb, &body, &len), IDEM_CONFLICT);
    idem_finish(a, KEY, ta, "late", 4);
    assert_int_equal(claim(b, KEY, FP_A, 0, &tb, &body, &len), IDEM_REPLAY);
    assert_string_equal(body, "late");
    free(body);
    long long ttl = command_int(0, "TTL %s", key);
    assert_true(ttl > 10 && ttl <= 3600); /* IDEMPOTENCY_TTL_S, not the claim's lapse */
    free(key);
    idem_free(a);
    idem_free(b);
}

static void keys_are_hashed(void **state)
{
    (void)state;
    flush(0);
    struct idem_store *a = store_at(&redis, 0, 60);
    unsigned long t;
    char *body;
    size_t len;
    assert_int_equal(claim(a, KEY, FP_A, 0, &t, &body, &len), IDEM_FRESH);
    idem_finish(a, KEY, t, "x", 1);
    char *key = only_key(0);
    assert_int_equal(strlen(key), strlen(PREFIX) + 64);
    assert_memory_equal(key, PREFIX, strlen(PREFIX));
    assert_null(strstr(key, "ACaaaa"));
    assert_null(strstr(key, "order-1042"));
    free(key);
    idem_free(a);
}

/* A password and a database from the URL; the password never reaches the log. */
static void password_and_database(void **state)
{
    (void)state;
    struct redisd locked;
    assert_int_equal(redisd_start(&locked, "pw-Zq81x"), 0);
    char url[128], err[256];
    struct log_capture logged;
    assert_int_equal(log_capture_start(&logged, "idem-redis"), 0);
    log_set_level(LOG_DEBUG);

    struct idem_store *s = store_at(&locked, 3, 60);
    unsigned long t;
    char *body;
    size_t len;
    assert_int_equal(claim(s, KEY, FP_A, 0, &t, &body, &len), IDEM_FRESH);
    idem_finish(s, KEY, t, "ok", 2);
    idem_free(s);
    redisContext *c = redisd_connect(&locked, 3);
    assert_non_null(c);
    redisReply *rep = redisCommand(c, "DBSIZE");
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    redisFree(c);

    snprintf(url, sizeof url, "redis://:wrong-Zq81x@127.0.0.1:%d/3", locked.port);
    s = idem_new_redis(url, 60, 1000, 1000, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(claim(s, KEY, FP_A, 0, &t, &body, &len), IDEM_UNAVAILABLE);
    idem_free(s);
    redisd_stop(&locked);

    struct buf log;
    int read = read_file(logged.path, &log);
    log_capture_end(&logged);
    log_set_level(LOG_WARN);
    assert_int_equal(read, 0);
    char expect[128];
    snprintf(expect, sizeof expect, "idempotency store: Redis at redis://:***@127.0.0.1:%d/3 (",
             locked.port);
    assert_non_null(strstr(buf_str(&log), expect));
    assert_non_null(strstr(buf_str(&log), "is unavailable (AUTH refused (WRONGPASS))"));
    assert_null(strstr(buf_str(&log), "Zq81x"));
    buf_free(&log);
}

/* An answer is stored without waiting for Redis's reply; one that Redis did not keep (its claim
 * had gone, as when it expired) is still reported: by the connection's next command, or when
 * the store is freed. */
static void an_answer_not_kept_is_reported(void **state)
{
    (void)state;
    flush(0);
    struct log_capture logged;
    assert_int_equal(log_capture_start(&logged, "idem-redis-late"), 0);
    struct idem_store *a = store_at(&redis, 0, 60);
    unsigned long t;
    char *body;
    size_t len;
    assert_int_equal(claim(a, "late-1", FP_A, 0, &t, &body, &len), IDEM_FRESH);
    flush(0);
    idem_finish(a, "late-1", t, "late", 4);
    assert_int_equal(claim(a, "late-2", FP_A, 0, &t, &body, &len), IDEM_FRESH);
    flush(0);
    idem_finish(a, "late-2", t, "late", 4);
    idem_free(a);

    struct buf log;
    int read = read_file(logged.path, &log);
    log_capture_end(&logged);
    assert_int_equal(read, 0);
    const char *at = buf_str(&log);
    int n = 0;
    while ((at = strstr(at, "or been taken over; it was not kept"))) {
        n++;
        at++;
    }
    assert_int_equal(n, 2);
    buf_free(&log);
}

/* Redis down: nothing is claimed; back on the same port: the pool's dead connections are
 * replaced and claims work again. */
static void redis_going_away_and_back(void **state)
{
    (void)state;
    flush(0);
    struct idem_store *a = store_at(&redis, 0, 60);
    unsigned long t;
    char *body;
    size_t len;
    assert_int_equal(claim(a, "before", FP_A, 0, &t, &body, &len), IDEM_FRESH);
    idem_finish(a, "before", t, "kept", 4);
    redisd_stop(&redis);
    assert_int_equal(claim(a, KEY, FP_A, 0, &t, &body, &len), IDEM_UNAVAILABLE);
    idem_finish(a, KEY, 999, "lost", 4); /* must not crash or block */
    idem_abandon(a, KEY, 999);
    assert_int_equal(redisd_restart(&redis), 0);
    assert_int_equal(claim(a, KEY, FP_A, 0, &t, &body, &len), IDEM_FRESH);
    idem_finish(a, KEY, t, "back", 4);
    assert_int_equal(claim(a, KEY, FP_A, 0, &t, &body, &len), IDEM_REPLAY);
    assert_string_equal(body, "back");
    free(body);
    idem_free(a);

    char url[128], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", redisd_free_port());
    struct idem_store *none = idem_new_redis(url, 60, 1000, 1000, err, sizeof err);
    assert_non_null(none); /* starting without Redis is allowed */
    assert_int_equal(claim(none, KEY, FP_A, 1000, &t, &body, &len), IDEM_UNAVAILABLE);
    idem_free(none);
}

static int setup(void **state)
{
    (void)state;
    return redisd_start(&redis, NULL);
}

static int teardown(void **state)
{
    (void)state;
    redisd_stop(&redis);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_replay_conflict_across_replicas),
        cmocka_unit_test(only_the_owner_settles),
        cmocka_unit_test(a_repeat_waits_for_the_answer),
        cmocka_unit_test(claims_lapse_and_answers_expire),
        cmocka_unit_test(keys_are_hashed),
        cmocka_unit_test(password_and_database),
        cmocka_unit_test(an_answer_not_kept_is_reported),
        cmocka_unit_test(redis_going_away_and_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Keyed calls while Redis fails (issue 16): a real redis-server paused past REDIS_TIMEOUT_MS
 * (SIGSTOP), killed, started again. A keyed call is answered 503 IDEMPOTENCY_STORE_UNAVAILABLE
 * and sends nothing; an unkeyed call goes on; nothing is sent twice. And a replica killed in
 * the middle of a keyed sendBulkSms batch (argv[1]: the twilio-block binary): the repeat on
 * the other replica sends to no recipient that was or may have been sent to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "clock.h"
#include "harness.h"
#include "redisd.h"
#include "send.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS "\"accountSid\":\"" SID "\",\"accountToken\":\"redis-fault-token\""
#define SMS "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155550001\",\"body\":\"Hi\"}"
#define BULK(recipients)                                                                           \
    "{" CREDS ",\"from\":\"+15005550006\",\"body\":\"Hi\",\"recipients\":[" recipients "]}"

static const char *binary;

static json_t *to_of(const struct http_reply *r)
{
    json_t *v = json_loadb(r->body.data, r->body.len, 0, NULL);
    assert_non_null(v);
    return v;
}

static const char *code_of(json_t *env)
{
    const char *cb = json_string_value(json_object_get(env, "callback"));
    const char *code = json_string_value(json_object_get(
        json_object_get(json_object_get(env, "contextWrites"), "to"), "status_code"));
    return code ? code : cb ? cb : "(none)";
}

/* POSTs json to block on url with key (or NULL); fails unless HTTP status and status_code (or
 * "success") are as wanted. */
static void expect(const char *base, const char *block, const char *key, const char *json,
                   long status, const char *want, const char *replayed)
{
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/%s", base, block);
    assert_int_equal(http_post_keyed(url, key, json, &r), 0);
    json_t *env = to_of(&r);
    if (r.status != status || strcmp(code_of(env), want) != 0)
        fail_msg("%s %s: HTTP %ld %s, want %ld %s", block, key ? key : "(no key)", r.status,
                 buf_str(&r.body), status, want);
    if (replayed)
        assert_string_equal(r.replayed, replayed);
    json_decref(env);
    http_reply_free(&r);
}

static void redis_paused_killed_and_restarted(void **state)
{
    (void)state;
    struct redisd redis;
    struct harness h;
    struct config cfg;
    memset(&redis, 0, sizeof redis);
    assert_int_equal(redisd_start(&redis, NULL), 0);
    harness_config(&cfg);
    redisd_url(&redis, 0, cfg.redis_url, sizeof cfg.redis_url);
    cfg.redis_timeout_ms = 200;
    assert_int_equal(harness_start_with(&h, &cfg), 0);

    expect(h.url, "sendSms", "redis-1", SMS, 200, "success", "");
    expect(h.url, "sendSms", "redis-1", SMS, 200, "success", "true");
    assert_int_equal(standin_count(h.up), 1);

    /* paused past REDIS_TIMEOUT_MS */
    assert_int_equal(kill(redis.pid, SIGSTOP), 0);
    expect(h.url, "sendSms", "redis-2", SMS, 503, "IDEMPOTENCY_STORE_UNAVAILABLE", NULL);
    expect(h.url, "sendBulkSms", "redis-3", BULK("\"+14155550002\""), 503,
           "IDEMPOTENCY_STORE_UNAVAILABLE", NULL);
    assert_int_equal(standin_count(h.up), 1);
    expect(h.url, "sendSms", NULL, SMS, 200, "success", NULL);
    assert_int_equal(standin_count(h.up), 2);
    assert_int_equal(kill(redis.pid, SIGCONT), 0);
    expect(h.url, "sendSms", "redis-1", SMS, 200, "success", "true");
    expect(h.url, "sendSms", "redis-2", SMS, 200, "success", "");
    assert_int_equal(standin_count(h.up), 3);

    /* killed */
    assert_int_equal(kill(redis.pid, SIGKILL), 0);
    waitpid(redis.pid, NULL, 0);
    redis.pid = 0;
    expect(h.url, "sendSms", "redis-4", SMS, 503, "IDEMPOTENCY_STORE_UNAVAILABLE", NULL);
    expect(h.url, "sendSms", "redis-2", SMS, 503, "IDEMPOTENCY_STORE_UNAVAILABLE", NULL);
    assert_int_equal(standin_count(h.up), 3);
    expect(h.url, "sendSms", NULL, SMS, 200, "success", NULL);
    assert_int_equal(standin_count(h.up), 4);

    /* started again (empty: Redis without persistence forgets its keys, see
     * docs/operations.md) */
    assert_int_equal(redisd_restart(&redis), 0);
    expect(h.url, "sendSms", "redis-5", SMS, 200, "success", "");
    expect(h.url, "sendSms", "redis-5", SMS, 200, "success", "true");
    expect(h.url, "sendBulkSms", "redis-6", BULK("\"+14155550002\""), 200, "success", "");
    expect(h.url, "sendBulkSms", "redis-6", BULK("\"+14155550002\""), 200, "success", "true");
    assert_int_equal(standin_count(h.up), 6);
    harness_stop(&h);
    redisd_stop(&redis);
}

struct async_call {
    int port;
    const char *json;
    pthread_t thread;
};

/* The fingerprint a sendSms call with args json has: what an earlier version stored with its key. */
static void fingerprint_of(const struct harness *h, const char *json, unsigned char *fp)
{
    const struct block_def *b = block_find(h->blocks, "sendSms", 7);
    json_t *args = json_loads(json, 0, NULL), *reasons = NULL;
    struct prepared prep;
    assert_non_null(b);
    assert_int_equal(args_prepare(b, args, 1u << 20, &prep, &reasons), ARGS_OK);
    assert_int_equal(send_fingerprint(b->name, &prep, 0, fp), 0);
    args_prepared_free(&prep);
    json_decref(args);
}

/* A rolling upgrade with IDEMPOTENCY_EARLIER_KEYS=1: a replica of the earlier version kept a key
 * scoped to the account alone ("<account>\n<key>") in the shared Redis. A repeat reaching this
 * version replays it and sends nothing; a key this version claims first is held under that name
 * too, so an earlier replica's repeat replays this answer instead of sending again. */
static void keys_of_an_earlier_version_are_found(void **state)
{
    (void)state;
    struct redisd redis;
    struct harness h;
    struct config cfg;
    char err[256];
    unsigned char fp[IDEM_FP_LEN];
    memset(&redis, 0, sizeof redis);
    assert_int_equal(redisd_start(&redis, NULL), 0);
    harness_config(&cfg);
    cfg.idempotency_earlier_keys = 1;
    redisd_url(&redis, 0, cfg.redis_url, sizeof cfg.redis_url);
    assert_int_equal(harness_start_with(&h, &cfg), 0);
    struct idem_store *old = idem_new_redis(cfg.redis_url, 3600, 20000, 1000, err, sizeof err);
    assert_non_null(old);
    fingerprint_of(&h, SMS, fp);

    static const char earlier[] = "{\"callback\":\"success\",\"contextWrites\":{\"to\":{\"sid\":"
                                  "\"SMearlier\"}}}";
    char *body = NULL;
    size_t len = 0;
    unsigned long ticket = 0;
    assert_int_equal(idem_claim(old, SID "\nupgrade-1", fp, 0, &body, &len, &ticket), IDEM_FRESH);
    idem_finish(old, SID "\nupgrade-1", ticket, earlier, sizeof earlier - 1);
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", h.url);
    assert_int_equal(http_post_keyed(url, "upgrade-1", SMS, &r), 0);
    assert_string_equal(buf_str(&r.body), earlier);
    assert_string_equal(r.replayed, "true");
    http_reply_free(&r);
    assert_int_equal(standin_count(h.up), 0);

    expect(h.url, "sendSms", "upgrade-2", SMS, 200, "success", "");
    assert_int_equal(standin_count(h.up), 1);
    assert_int_equal(idem_claim(old, SID "\nupgrade-2", fp, 0, &body, &len, &ticket), IDEM_REPLAY);
    assert_non_null(strstr(body, "\"callback\":\"success\""));
    free(body);

    idem_free(old);
    harness_stop(&h);
    redisd_stop(&redis);
}

/* The round trips clients made to Redis since the last call, as MONITOR (on mon) saw them: every
 * command but those a script ran inside Redis ("[0 lua]"), up to the ECHO sent on look that
 * marks the end. */
static long round_trips(redisContext *mon, redisContext *look)
{
    redisReply *rep = redisCommand(look, "ECHO %s", "round-trips-counted");
    assert_non_null(rep);
    freeReplyObject(rep);
    long n = 0;
    for (;;) {
        assert_int_equal(redisGetReply(mon, (void **)&rep), REDIS_OK);
        assert_int_equal(rep->type, REDIS_REPLY_STATUS);
        int end = strstr(rep->str, "round-trips-counted") != NULL;
        n += !end && !strstr(rep->str, " lua]");
        freeReplyObject(rep);
        if (end)
            return n;
    }
}

/* At the defaults a keyed call costs Redis one round trip to claim its key and one to settle it
 * (the earlier name of the key is not looked up), and a repeat one to find the answer; the
 * earlier name stays unclaimed. */
static void a_keyed_call_claims_and_settles_in_one_round_trip_each(void **state)
{
    (void)state;
    struct redisd redis;
    struct harness h;
    struct config cfg;
    char err[256];
    unsigned char fp[IDEM_FP_LEN];
    memset(&redis, 0, sizeof redis);
    assert_int_equal(redisd_start(&redis, NULL), 0);
    harness_config(&cfg);
    redisd_url(&redis, 0, cfg.redis_url, sizeof cfg.redis_url);
    assert_int_equal(harness_start_with(&h, &cfg), 0);
    redisContext *look = redisd_connect(&redis, 0), *mon = redisd_connect(&redis, 0);
    assert_non_null(look);
    assert_non_null(mon);
    redisReply *ok = redisCommand(mon, "MONITOR");
    assert_non_null(ok);
    freeReplyObject(ok);

    expect(h.url, "sendSms", "trips-1", SMS, 200, "success", "");
    assert_int_equal(standin_count(h.up), 1);
    assert_int_equal(round_trips(mon, look), 2); /* SET NX, then the answer stored (EVAL) */
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", h.url);
    assert_int_equal(http_post_keyed(url, "trips-1", SMS, &r), 0);
    assert_string_equal(r.replayed, "true");
    http_reply_free(&r);
    assert_int_equal(standin_count(h.up), 1);
    assert_int_equal(round_trips(mon, look), 2); /* SET NX refused, then the answer read */

    struct idem_store *old = idem_new_redis(cfg.redis_url, 3600, 20000, 1000, err, sizeof err);
    assert_non_null(old);
    fingerprint_of(&h, SMS, fp);
    char *body = NULL;
    size_t len = 0;
    unsigned long ticket = 0;
    assert_int_equal(idem_claim(old, SID "\ntrips-1", fp, 0, &body, &len, &ticket), IDEM_FRESH);
    idem_abandon(old, SID "\ntrips-1", ticket);

    idem_free(old);
    redisFree(mon);
    redisFree(look);
    harness_stop(&h);
    redisd_stop(&redis);
}

static void *call_and_forget(void *arg)
{
    struct async_call *a = arg;
    char url[128];
    struct http_reply r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendBulkSms", a->port);
    if (http_post_keyed(url, "replica-killed-1", a->json, &r) == 0) /* it dies first */
        http_reply_free(&r);
    return NULL;
}

static const char *field(json_t *v, const char *k)
{
    const char *s = json_string_value(json_object_get(v, k));
    return s ? s : "(none)";
}

/* Replica A is killed while Twilio holds its fourth send; after A's claims lapse, the repeat
 * on replica B answers the first three from the store, the fourth as unknown, and sends only
 * to the two A never started. */
static void a_replica_killed_mid_batch(void **state)
{
    (void)state;
    struct replicas s;
    char base[64], sid[35];
    struct standin *up = standin_start();
    assert_non_null(up);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port(up));
    /* a claim whose owner died lapses after BULK_DEADLINE_MS + 4 x REDIS_TIMEOUT_MS + 5 s */
    static const char *const env[] = {"BULK_CONCURRENCY",
                                      "1",
                                      "BULK_DEADLINE_MS",
                                      "3000",
                                      "UPSTREAM_TIMEOUT_MS",
                                      "1000",
                                      "REDIS_TIMEOUT_MS",
                                      "200",
                                      NULL};
    assert_int_equal(replicas_start(&s, binary, "replica", NULL, base, env), 0);
    standin_number_sids(up);
    standin_answer(
        up, &(struct standin_answer){201, "application/json", standin_message_201, 300, NULL, 0});
    static const char args[] = BULK("\"+14155550001\",\"+14155550002\",\"+14155550003\","
                                    "\"+14155550004\",\"+14155550005\",\"+14155550006\"");
    struct async_call call = {.port = s.a.port, .json = args};
    assert_int_equal(pthread_create(&call.thread, NULL, call_and_forget, &call), 0);
    for (int i = 0; i < 1000 && standin_count(up) < 4; i++)
        clock_sleep_ms(5);
    assert_int_equal(standin_count(up), 4); /* three answered, the fourth in Twilio's hands */
    kill(s.a.pid, SIGKILL);
    waitpid(s.a.pid, NULL, 0);
    s.a.pid = 0;
    pthread_join(call.thread, NULL);
    clock_sleep_ms(3000 + 4 * 200 + 5000 + 500);

    char url[128];
    struct http_reply r;
    child_url(&s.b, "sendBulkSms", url, sizeof url);
    assert_int_equal(http_post_keyed(url, "replica-killed-1", args, &r), 0);
    json_t *answer = to_of(&r);
    json_t *results =
        json_object_get(json_object_get(json_object_get(answer, "contextWrites"), "to"), "results");
    assert_int_equal(standin_count(up), 6);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(field(json_array_get(results, i), "sid"), standin_sid(i, sid));
    assert_string_equal(field(json_array_get(results, 3), "status"), "unknown");
    assert_non_null(strstr(field(json_array_get(results, 3), "status_msg"), "may have been"));
    assert_string_equal(field(json_array_get(results, 4), "sid"), standin_sid(4, sid));
    assert_string_equal(field(json_array_get(results, 5), "sid"), standin_sid(5, sid));
    char to[64];
    for (size_t i = 4; i < 6; i++) {
        assert_int_equal(standin_param(up, i, "To", to, sizeof to), 0);
        assert_string_not_equal(to, "+14155550004");
    }
    json_decref(answer);
    http_reply_free(&r);
    replicas_stop(&s);
    standin_stop(up);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/twilio-block\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redis_paused_killed_and_restarted),
        cmocka_unit_test(a_replica_killed_mid_batch),
        cmocka_unit_test(keys_of_an_earlier_version_are_found),
        cmocka_unit_test(a_keyed_call_claims_and_settles_in_one_round_trip_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

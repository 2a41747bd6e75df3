/* Scale-out: two real twilio-block processes (argv[1]) sharing one real redis-server through
 * REDIS_URL send a request once per Idempotency-Key, whichever replica each repeat reaches;
 * with Redis down a keyed request sends nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>
#include <curl/curl.h>

#include "clock.h"
#include "harness.h"
#include "redisd.h"

#define PASSWORD "pw-Kq27vX"
#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SMS(body)                                                                                  \
    "{\"accountSid\":\"" SID "\",\"accountToken\":\"t\",\"from\":\"+15005550006\","                \
    "\"to\":\"+14155552671\",\"body\":\"" body "\"}"

static const char *binary;

static void start(struct child *r, const struct standin *up, const char *redis_url)
{
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port(up));
    const char *const env[] = {"THREADS", "16", "TWILIO_API_BASE", base, "REDIS_URL",
                               redis_url, NULL};
    child_start(r, binary, "scaleout", env, 10000);
}

/* SIGTERM; it must exit 0 (under the sanitizers a leak would make it fail) and its log must
 * never show the Redis password. */
static void stop(struct child *r)
{
    child_stop(r);
    assert_false(child_log_has(r, PASSWORD));
    unlink(r->log);
}

static int post(const struct child *r, const char *key, const char *json, struct http_reply *out)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendSms", r->port);
    return http_post_keyed(url, key, json, out);
}

struct fixture {
    struct replicas s;
    struct standin *up;
};

static int setup(void **state)
{
    static struct fixture f;
    static const char *const env[] = {"THREADS", "16", NULL};
    char base[64];
    memset(&f, 0, sizeof f);
    if (!(f.up = standin_start()))
        return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port(f.up));
    if (replicas_start(&f.s, binary, "scaleout", PASSWORD, base, env) < 0)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    replicas_stop(&f->s);
    standin_stop(f->up);
    return 0;
}

struct call {
    const struct child *r;
    const char *key;
    struct http_reply reply;
    int rc;
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    c->rc = post(c->r, c->key, SMS("Hi"), &c->reply);
    return NULL;
}

/* Eight calls at once, alternating between the replicas, while Twilio takes its time: one
 * create, seven replays of the same bytes. */
static void concurrent_repeats_send_once(void **state)
{
    struct fixture *f = *state;
    struct standin_answer slow = {201, "application/json", standin_message_201, 300, NULL, 0};
    standin_clear(f->up);
    standin_answer(f->up, &slow);
    struct call calls[8];
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        calls[i] = (struct call){.r = i % 2 ? &f->s.b : &f->s.a, .key = "concurrent-1"};
        assert_int_equal(pthread_create(&threads[i], NULL, call_thread, &calls[i]), 0);
    }
    int replayed = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(calls[i].rc, 0);
        assert_int_equal(calls[i].reply.status, 200);
        assert_non_null(strstr(buf_str(&calls[i].reply.body), "\"callback\":\"success\""));
        assert_string_equal(buf_str(&calls[i].reply.body), buf_str(&calls[0].reply.body));
        replayed += strcmp(calls[i].reply.replayed, "true") == 0;
    }
    assert_int_equal(standin_count(f->up), 1);
    assert_int_equal(replayed, 7);
    assert_true(child_log_has(&f->s.a, "idempotency store: Redis at redis://:***@127.0.0.1:"));
    assert_true(child_log_has(&f->s.b, "idempotency store: Redis at redis://:***@127.0.0.1:"));
    for (int i = 0; i < 8; i++)
        http_reply_free(&calls[i].reply);
}

static void sequential_repeats_across_replicas(void **state)
{
    struct fixture *f = *state;
    struct standin_answer created = {201, "application/json", standin_message_201, 0, NULL, 0};
    standin_clear(f->up);
    standin_answer(f->up, &created);
    const struct child *order[] = {&f->s.a, &f->s.b, &f->s.a, &f->s.b};
    struct http_reply first;
    assert_int_equal(post(order[0], "sequential-1", SMS("Hi"), &first), 0);
    assert_int_equal(first.status, 200);
    assert_string_equal(first.replayed, "");
    for (int i = 1; i < 4; i++) {
        struct http_reply again;
        assert_int_equal(post(order[i], "sequential-1", SMS("Hi"), &again), 0);
        assert_int_equal(again.status, 200);
        assert_string_equal(again.replayed, "true");
        assert_string_equal(buf_str(&again.body), buf_str(&first.body));
        http_reply_free(&again);
    }
    assert_int_equal(standin_count(f->up), 1);
    http_reply_free(&first);

    /* The same key from another account is another key. */
    static const char other[] = "{\"accountSid\":\"ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
                                "\"accountToken\":\"t\",\"from\":\"+15005550006\","
                                "\"to\":\"+14155552671\",\"body\":\"Hi\"}";
    struct http_reply r;
    assert_int_equal(post(&f->s.b, "sequential-1", other, &r), 0);
    assert_string_equal(r.replayed, "");
    assert_int_equal(standin_count(f->up), 2);
    http_reply_free(&r);
}

static void conflict_across_replicas(void **state)
{
    struct fixture *f = *state;
    struct standin_answer created = {201, "application/json", standin_message_201, 0, NULL, 0};
    standin_clear(f->up);
    standin_answer(f->up, &created);
    struct http_reply r;
    assert_int_equal(post(&f->s.a, "conflict-1", SMS("Hi"), &r), 0);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    assert_int_equal(post(&f->s.b, "conflict-1", SMS("Something else"), &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_str(&r.body),
                        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                        "\"IDEMPOTENCY_KEY_REUSED\",\"status_msg\":\"This Idempotency-Key was "
                        "already used with different credentials or args; nothing was sent.\"}}}");
    http_reply_free(&r);
    assert_int_equal(standin_count(f->up), 1);
}

static const char unavailable[] =
    "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
    "\"IDEMPOTENCY_STORE_UNAVAILABLE\",\"status_msg\":\"The idempotency store (Redis) cannot be "
    "reached, so a request with an Idempotency-Key cannot be checked; nothing was sent. Retry "
    "later.\"}}}";

/* Redis down: a keyed request is refused on both replicas and nothing reaches Twilio; a request
 * without a key still goes through; Redis back: keys work again. */
static void redis_down_sends_nothing(void **state)
{
    struct fixture *f = *state;
    struct standin_answer created = {201, "application/json", standin_message_201, 0, NULL, 0};
    standin_clear(f->up);
    standin_answer(f->up, &created);
    redisd_stop(&f->s.redis);
    const struct child *both[] = {&f->s.a, &f->s.b};
    for (int i = 0; i < 2; i++) {
        struct http_reply r;
        assert_int_equal(post(both[i], "down-1", SMS("Hi"), &r), 0);
        assert_int_equal(r.status, 503);
        assert_string_equal(buf_str(&r.body), unavailable);
        http_reply_free(&r);
    }
    assert_int_equal(standin_count(f->up), 0);
    assert_true(child_log_has(&f->s.a, "is unavailable (Connection refused); requests with an "
                                       "Idempotency-Key get 503 IDEMPOTENCY_STORE_UNAVAILABLE"));
    struct http_reply r;
    assert_int_equal(post(&f->s.a, NULL, SMS("Hi"), &r), 0);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    assert_int_equal(standin_count(f->up), 1);

    assert_int_equal(redisd_restart(&f->s.redis), 0);
    assert_int_equal(post(&f->s.b, "down-1", SMS("Hi"), &r), 0);
    assert_string_equal(r.replayed, "");
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    assert_int_equal(post(&f->s.a, "down-1", SMS("Hi"), &r), 0);
    assert_string_equal(r.replayed, "true");
    http_reply_free(&r);
    assert_int_equal(standin_count(f->up), 2);
    assert_true(child_log_has(&f->s.b, "answers again"));
}

/* A replica started while Redis is down says so, serves requests without a key, and refuses
 * keyed ones without sending. */
static void starts_without_redis(void **state)
{
    struct fixture *f = *state;
    struct standin_answer created = {201, "application/json", standin_message_201, 0, NULL, 0};
    standin_clear(f->up);
    standin_answer(f->up, &created);
    char url[128];
    snprintf(url, sizeof url, "redis://:" PASSWORD "@127.0.0.1:%d/0", redisd_free_port());
    struct child c;
    start(&c, f->up, url);
    assert_true(child_log_has(&c, "idempotency store: Redis at redis://:***@127.0.0.1:"));
    assert_true(child_log_has(&c, "is unavailable"));
    struct http_reply r;
    assert_int_equal(post(&c, "startup-1", SMS("Hi"), &r), 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(buf_str(&r.body), unavailable);
    http_reply_free(&r);
    assert_int_equal(standin_count(f->up), 0);
    assert_int_equal(post(&c, NULL, SMS("Hi"), &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(standin_count(f->up), 1);
    stop(&c);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_scaleout path/to/twilio-block\n");
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    mg_init_library(0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_repeats_send_once),
        cmocka_unit_test(sequential_repeats_across_replicas),
        cmocka_unit_test(conflict_across_replicas),
        cmocka_unit_test(redis_down_sends_nothing),
        cmocka_unit_test(starts_without_redis),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    mg_exit_library();
    return rc;
}

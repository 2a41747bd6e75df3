/* sendBulkSms repeated with its Idempotency-Key across real twilio-block processes (argv[1])
 * sharing a real redis-server: on another replica, after a restart of the service, and twice at
 * once. Each repeat sends only to the recipients that certainly were not sent to and answers
 * with the same SIDs; the stand-in counts what reached "Twilio". Also: a batch when the service
 * is told to stop. */
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

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ARGS(recipients)                                                                           \
    "{\"accountSid\":\"" SID                                                                       \
    "\",\"accountToken\":\"t\",\"from\":\"+15005550006\",\"body\":\"Hi\","                         \
    "\"recipients\":[" recipients "]}"

static const char *binary;

struct fixture {
    struct replicas s;
    struct standin *up;
};

/* One sender per batch, so each recipient gets the stand-in's answers in list order, and a
 * recipient rate limited twice is not sent (RETRY_MAX=1). */
static int setup(void **state)
{
    static struct fixture f;
    static const char *const env[] = {"THREADS", "16", "BULK_CONCURRENCY", "1", "RETRY_MAX",
                                      "1",       NULL};
    char base[64];
    memset(&f, 0, sizeof f);
    if (!(f.up = standin_start()))
        return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port(f.up));
    if (replicas_start(&f.s, binary, "bulk-scaleout", NULL, base, env) < 0)
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

static int reset(void **state)
{
    struct fixture *f = *state;
    standin_clear(f->up);
    standin_number_sids(f->up);
    return 0;
}

static json_t *call(const struct child *c, const char *key, const char *json, struct http_reply *r)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendBulkSms", c->port);
    assert_int_equal(http_post_keyed(url, key, json, r), 0);
    json_t *env = json_loadb(r->body.data, r->body.len, 0, NULL);
    assert_non_null(env);
    return env;
}

static json_t *result(json_t *env, size_t i)
{
    json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
    return json_array_get(json_object_get(to, "results"), i);
}

static const char *field(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "(none)";
}

/* The SID the stand-in gives its request n (a few at once may be in use). */
static const char *sid(size_t n)
{
    static char out[8][35];
    static int next;
    return standin_sid(n, out[next++ % 8]);
}

/* The To parameter of the stand-in's request i. */
static const char *sent_to(const struct fixture *f, size_t i)
{
    static char out[64];
    assert_int_equal(standin_param(f->up, i, "To", out, sizeof out), 0);
    return out;
}

static const struct standin_answer created = {201, "application/json", standin_message_201, 0, NULL,
                                              0};
static const struct standin_answer limited = {
    429, "application/json", "{\"code\":20429,\"message\":\"Too Many Requests\"}", 0, "0", 0};

/* Replica A cannot get one recipient past Twilio's rate limit; the repeat on replica B sends to
 * it alone, and answers with A's SIDs for the others; then A replays B's whole answer. */
static void a_repeat_on_another_replica(void **state)
{
    struct fixture *f = *state;
    struct standin_answer script[4] = {created, limited, limited, created};
    standin_script(f->up, script, 4);
    static const char args[] = ARGS("\"+14155550001\",\"+14155550002\",\"+14155550003\"");
    struct http_reply r1, r2, r3;
    json_t *first = call(&f->s.a, "bulk-replicas-1", args, &r1);
    assert_string_equal(field(result(first, 1), "status"), "not_sent");
    assert_string_equal(field(result(first, 2), "sid"), sid(3));
    assert_int_equal(standin_count(f->up), 4);

    json_t *second = call(&f->s.b, "bulk-replicas-1", args, &r2);
    assert_int_equal(standin_count(f->up), 5);
    assert_string_equal(sent_to(f, 4), "+14155550002");
    assert_string_equal(field(second, "callback"), "success");
    assert_string_equal(field(result(second, 0), "sid"), sid(0));
    assert_string_equal(field(result(second, 1), "sid"), sid(4));
    assert_string_equal(field(result(second, 2), "sid"), sid(3));
    assert_string_equal(r2.replayed, "");

    json_decref(call(&f->s.a, "bulk-replicas-1", args, &r3));
    assert_string_equal(r3.replayed, "true");
    assert_string_equal(buf_str(&r3.body), buf_str(&r2.body));
    assert_int_equal(standin_count(f->up), 5);
    json_decref(first);
    json_decref(second);
    http_reply_free(&r1);
    http_reply_free(&r2);
    http_reply_free(&r3);
}

/* The service restarts between a call and its repeat: the repeat sends only to the recipient
 * that certainly was not sent to, not to the one that may have been (a 500). */
static void a_repeat_after_a_restart(void **state)
{
    struct fixture *f = *state;
    struct standin_answer script[5] = {
        created, {500, "text/html", "<html>oops</html>", 0, NULL, 0}, limited, limited, created};
    standin_script(f->up, script, 5);
    static const char args[] =
        ARGS("\"+14155550001\",\"+14155550002\",\"+14155550003\",\"+14155550004\"");
    struct http_reply r1, r2, r3;
    json_t *first = call(&f->s.a, "bulk-restart-1", args, &r1);
    assert_string_equal(field(result(first, 1), "status"), "unknown");
    assert_string_equal(field(result(first, 2), "status"), "not_sent");
    assert_int_equal(standin_count(f->up), 5);

    child_stop(&f->s.a);
    replicas_restart(&f->s, &f->s.a);
    json_t *second = call(&f->s.a, "bulk-restart-1", args, &r2);
    assert_int_equal(standin_count(f->up), 6);
    assert_string_equal(sent_to(f, 5), "+14155550003");
    assert_string_equal(field(result(second, 2), "sid"), sid(5));
    for (size_t i = 0; i < 4; i++) {
        if (i != 2)
            assert_true(json_equal(result(first, i), result(second, i)));
    }
    json_decref(call(&f->s.b, "bulk-restart-1", args, &r3));
    assert_string_equal(r3.replayed, "true");
    assert_string_equal(buf_str(&r3.body), buf_str(&r2.body));
    assert_int_equal(standin_count(f->up), 6);
    json_decref(first);
    json_decref(second);
    http_reply_free(&r1);
    http_reply_free(&r2);
    http_reply_free(&r3);
}

struct concurrent {
    const struct child *c;
    struct http_reply reply;
    json_t *env;
};

static void *call_thread(void *arg)
{
    struct concurrent *k = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendBulkSms", k->c->port);
    if (http_post_keyed(url, "bulk-concurrent-1",
                        ARGS("\"+14155550001\",\"+14155550002\",\"+14155550003\","
                             "\"+14155550004\""),
                        &k->reply) == 0)
        k->env = json_loadb(k->reply.body.data, k->reply.body.len, 0, NULL);
    return NULL;
}

/* The same call on both replicas at once, while Twilio is slow: each recipient once, and both
 * answers the same. */
static void the_same_call_on_two_replicas_at_once(void **state)
{
    struct fixture *f = *state;
    struct standin_answer slow = created;
    slow.delay_ms = 200;
    standin_answer(f->up, &slow);
    struct concurrent calls[2] = {{.c = &f->s.a}, {.c = &f->s.b}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, call_thread, &calls[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(standin_count(f->up), 4);
    for (int i = 0; i < 2; i++) {
        assert_non_null(calls[i].env);
        assert_string_equal(field(calls[i].env, "callback"), "success");
    }
    assert_string_equal(buf_str(&calls[0].reply.body), buf_str(&calls[1].reply.body));
    for (int i = 0; i < 2; i++) {
        json_decref(calls[i].env);
        http_reply_free(&calls[i].reply);
    }
}

/* Redis down: a keyed batch sends nothing (503); without a key it goes through. */
static void redis_down_sends_nothing(void **state)
{
    struct fixture *f = *state;
    static const char args[] = ARGS("\"+14155550001\",\"+14155550002\"");
    redisd_stop(&f->s.redis);
    struct http_reply r;
    json_t *env = call(&f->s.b, "bulk-down-1", args, &r);
    assert_int_equal(r.status, 503);
    json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
    assert_string_equal(field(to, "status_code"), "IDEMPOTENCY_STORE_UNAVAILABLE");
    assert_int_equal(standin_count(f->up), 0);
    json_decref(env);
    http_reply_free(&r);
    env = call(&f->s.b, NULL, args, &r);
    assert_string_equal(field(env, "callback"), "success");
    assert_int_equal(standin_count(f->up), 2);
    json_decref(env);
    http_reply_free(&r);
    assert_int_equal(redisd_restart(&f->s.redis), 0);
}

struct stopping {
    const struct child *c;
    struct http_reply reply;
    int rc;
};

static void *stopping_call(void *arg)
{
    struct stopping *k = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendBulkSms", k->c->port);
    k->rc = http_post_keyed(url, NULL,
                            ARGS("\"+14155550001\",\"+14155550002\",\"+14155550003\","
                                 "\"+14155550004\",\"+14155550005\",\"+14155550006\""),
                            &k->reply);
    return NULL;
}

/* SIGTERM during a batch: it starts no more sends, answers at once with the rest not sent, and
 * the service exits 0. */
static void a_stopping_service_starts_no_more_sends(void **state)
{
    struct fixture *f = *state;
    struct standin_answer slow = created;
    slow.delay_ms = 300;
    standin_answer(f->up, &slow);
    struct stopping k = {.c = &f->s.a};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, stopping_call, &k), 0);
    while (standin_count(f->up) == 0)
        clock_sleep_ms(10);
    child_stop(&f->s.a);
    pthread_join(thread, NULL);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.reply.status, 200);
    json_t *env = json_loadb(k.reply.body.data, k.reply.body.len, 0, NULL);
    size_t sent = standin_count(f->up);
    assert_true(sent >= 1 && sent < 6);
    for (size_t i = sent; i < 6; i++) {
        assert_string_equal(field(result(env, i), "status"), "not_sent");
        assert_string_equal(field(result(env, i), "status_code"), "SHUTTING_DOWN");
    }
    json_decref(env);
    http_reply_free(&k.reply);
    replicas_restart(&f->s, &f->s.a);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_bulk_scaleout path/to/twilio-block\n");
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    mg_init_library(0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_repeat_on_another_replica, reset),
        cmocka_unit_test_setup(a_repeat_after_a_restart, reset),
        cmocka_unit_test_setup(the_same_call_on_two_replicas_at_once, reset),
        cmocka_unit_test_setup(redis_down_sends_nothing, reset),
        cmocka_unit_test_setup(a_stopping_service_starts_no_more_sends, reset),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    mg_exit_library();
    return rc;
}

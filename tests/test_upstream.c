/* The upstream loop (UPSTREAM_LOOPS=1, UPSTREAM_INLINE=0): transfers handed to it share its
 * connections to Twilio across callers, run side by side, and each caller gets its own answer.
 * The stand-in keeps connections open, and records the caller's port of each, so that shared
 * connections show. Then the borrowed handles (UPSTREAM_INLINE): a transfer runs on its caller's
 * thread while one is free, and on the loop once all are lent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "upstream.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS "\"accountSid\":\"" SID "\",\"accountToken\":\"upstream-token-5a1d\""
#define CALLERS 6

static struct harness H;
static struct standin *up; /* keeps connections open; H.up is not used */

static int start(long upstream_timeout_ms)
{
    struct config cfg;
    up = standin_start_keep_alive();
    if (!up)
        return -1;
    harness_config(&cfg);
    cfg.upstream_loops = 1;
    cfg.upstream_inline = 0;
    cfg.upstream_timeout_ms = upstream_timeout_ms;
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:%d", standin_port(up));
    return harness_start_with(&H, &cfg);
}

static int setup(void **state)
{
    (void)state;
    return start(15000);
}

static int setup_short(void **state)
{
    (void)state;
    return start(500);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    standin_stop(up);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    standin_clear(up);
    standin_answer(
        up, &(struct standin_answer){201, "application/json", standin_message_201, 0, NULL, 0});
    return 0;
}

static void send_sms(int n)
{
    char json[256];
    struct http_reply r;
    snprintf(json, sizeof json,
             "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"n%d\"}", n);
    assert_int_equal(harness_post(&H, "sendSms", json, &r), 0);
    assert_int_equal(r.status, 200);
    if (strncmp(buf_str(&r.body), "{\"callback\":\"success\",", 22) != 0)
        fail_msg("call %d: %s", n, buf_str(&r.body));
    http_reply_free(&r);
}

static int port_of_request(size_t i)
{
    struct standin_record rec;
    assert_int_equal(standin_request(up, i, &rec), 0);
    return rec.remote_port;
}

/* Each call comes on its own client connection, so on its own worker, as often as not: only a
 * pool shared by every worker sends them all over one connection. */
static void callers_share_one_connection(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        send_sms(i);
    assert_int_equal(standin_count(up), 5);
    for (size_t i = 0; i < 5; i++) {
        struct standin_record rec;
        char want[64];
        assert_int_equal(standin_request(up, i, &rec), 0);
        snprintf(want, sizeof want, "Body=n%zu", i);
        assert_non_null(strstr(rec.body, want));
        assert_int_equal(rec.remote_port, port_of_request(0));
    }
}

static void *caller(void *arg)
{
    send_sms((int)(intptr_t)arg);
    return NULL;
}

/* Calls in flight together each need a connection of their own: one loop runs them side by
 * side, and later callers reuse those connections. */
static void calls_in_flight_run_side_by_side(void **state)
{
    (void)state;
    pthread_t t[CALLERS];
    int ports[CALLERS];
    standin_answer(
        up, &(struct standin_answer){201, "application/json", standin_message_201, 800, NULL, 0});
    for (int i = 0; i < CALLERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, caller, (void *)(intptr_t)i), 0);
    for (int i = 0; i < CALLERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(standin_count(up), CALLERS);
    for (int i = 0; i < CALLERS; i++) {
        ports[i] = port_of_request((size_t)i);
        for (int k = 0; k < i; k++)
            assert_int_not_equal(ports[i], ports[k]);
    }
    standin_answer(
        up, &(struct standin_answer){201, "application/json", standin_message_201, 0, NULL, 0});
    for (int i = 0; i < CALLERS; i++)
        send_sms(CALLERS + i);
    for (size_t i = CALLERS; i < 2 * CALLERS; i++) {
        int port = port_of_request(i), known = 0;
        for (int k = 0; k < CALLERS; k++)
            known |= port == ports[k];
        if (!known)
            fail_msg("request %zu came on a new connection (port %d)", i, port);
    }
}

/* A transfer that fails on the loop fails for its caller only, worded as on a worker. */
static void a_timeout_on_the_loop_is_reported(void **state)
{
    (void)state;
    struct http_reply r;
    standin_answer(
        up, &(struct standin_answer){201, "application/json", standin_message_201, 900, NULL, 0});
    const char json[] = "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\","
                        "\"body\":\"late\"}";
    assert_int_equal(harness_post(&H, "sendSms", json, &r), 0);
    assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"INTERNAL_PACKAGE_ERROR\""));
    assert_non_null(strstr(buf_str(&r.body), "did not answer within 500 ms"));
    http_reply_free(&r);
    standin_answer(
        up, &(struct standin_answer){201, "application/json", standin_message_201, 0, NULL, 0});
    send_sms(99); /* the loop carries on */
    assert_int_equal(standin_count(up), 2);
}

/* Where a transfer's body was delivered, and optionally a pause there until released. */
struct seen {
    pthread_t thread;
    sem_t *entered; /* posted once the body arrives */
    sem_t *release; /* then waited for */
};

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    (void)data;
    struct seen *s = userp;
    s->thread = pthread_self();
    if (s->entered)
        sem_post(s->entered);
    if (s->release)
        sem_wait(s->release);
    s->entered = s->release = NULL;
    return size * n;
}

static CURL *transfer_to(struct standin *to, struct seen *s)
{
    char url[64];
    CURL *h = curl_easy_init();
    assert_non_null(h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", standin_port(to));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    return h;
}

struct holder {
    struct upstream *u;
    CURL *h;
    pthread_t self;
    CURLcode rc;
};

static void *hold_the_slot(void *arg)
{
    struct holder *k = arg;
    k->self = pthread_self();
    k->rc = upstream_run(k->u, k->h);
    return NULL;
}

/* With one handle to lend: the first transfer runs on its caller's thread and keeps the handle
 * while it is paused in its body; the next goes to the loop thread; once the handle is back,
 * the one after runs on its caller again, over the connection the first one opened. */
static void transfers_borrow_a_handle_while_one_is_free(void **state)
{
    (void)state;
    char err[128];
    sem_t entered, release;
    struct upstream *u = upstream_start(1, 8, 1, err, sizeof err);
    assert_non_null(u);
    assert_int_equal(sem_init(&entered, 0, 0), 0);
    assert_int_equal(sem_init(&release, 0, 0), 0);
    struct seen first = {.entered = &entered, .release = &release}, second = {0}, third = {0};
    struct holder k = {.u = u, .h = transfer_to(up, &first)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_the_slot, &k), 0);
    while (sem_wait(&entered) != 0)
        continue;
    CURL *h2 = transfer_to(up, &second), *h3 = transfer_to(up, &third);
    assert_int_equal(upstream_run(u, h2), CURLE_OK);
    assert_false(pthread_equal(second.thread, pthread_self()));
    sem_post(&release);
    pthread_join(t, NULL);
    assert_int_equal(k.rc, CURLE_OK);
    assert_true(pthread_equal(first.thread, k.self));
    assert_int_equal(upstream_run(u, h3), CURLE_OK);
    assert_true(pthread_equal(third.thread, pthread_self()));
    assert_int_equal(standin_count(up), 3);
    assert_int_equal(port_of_request(2), port_of_request(0)); /* the handle kept its connection */
    assert_int_not_equal(port_of_request(1), port_of_request(0));
    curl_easy_cleanup(k.h);
    curl_easy_cleanup(h2);
    curl_easy_cleanup(h3);
    upstream_stop(u);
    sem_destroy(&entered);
    sem_destroy(&release);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test_setup(callers_share_one_connection, reset),
        cmocka_unit_test_setup(calls_in_flight_run_side_by_side, reset),
    };
    const struct CMUnitTest timeouts[] = {
        cmocka_unit_test_setup(a_timeout_on_the_loop_is_reported, reset),
    };
    const struct CMUnitTest lent[] = {
        cmocka_unit_test_setup(transfers_borrow_a_handle_while_one_is_free, reset),
    };
    int failed = cmocka_run_group_tests_name("shared", shared, setup, teardown);
    failed += cmocka_run_group_tests_name("lent", lent, setup, teardown);
    return failed + cmocka_run_group_tests_name("timeouts", timeouts, setup_short, teardown);
}

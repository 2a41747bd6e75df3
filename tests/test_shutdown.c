/* SIGTERM on the real binary (argv[1]): it stops accepting, lets the request in flight finish
 * within SHUTDOWN_GRACE_MS, and exits 0; past the grace it exits 0 anyway and says so; no
 * request's log line is lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <civetweb.h>
#include <curl/curl.h>

#include "clock.h"
#include "harness.h"

#define SMS                                                                                        \
    "{\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"accountToken\":\"t\","               \
    "\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"Hi\"}"

static const char *binary;

static void start(struct child *r, struct standin *up, const char *grace_ms, const char *loops)
{
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port(up));
    const char *const env[] = {
        "TWILIO_API_BASE", base, "SHUTDOWN_GRACE_MS", grace_ms, "UPSTREAM_LOOPS", loops, NULL};
    child_start(r, binary, "shutdown", env, 5000);
}

struct call {
    int port;
    struct http_reply reply;
};

static void *post(void *arg)
{
    struct call *c = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendSms", c->port);
    http_call("POST", url, SMS, strlen(SMS), &c->reply);
    return NULL;
}

/* Sends SIGTERM once the stand-in holds the request; while the request is still held, a new
 * one is turned away with 503. Returns the exit status. */
static int terminate_mid_request(struct child *r, struct standin *up, struct call *c)
{
    pthread_t t;
    c->port = r->port;
    pthread_create(&t, NULL, post, c);
    for (int i = 0; i < 400 && standin_count(up) == 0; i++)
        clock_sleep_ms(10);
    assert_int_equal(standin_count(up), 1);
    kill(r->pid, SIGTERM);
    for (int i = 0; i < 400 && !child_log_has(r, "stopping"); i++)
        clock_sleep_ms(5);
    struct http_reply turned_away;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", r->port);
    assert_int_equal(http_call("GET", url, NULL, 0, &turned_away), 0);
    assert_int_equal(turned_away.status, 503);
    assert_non_null(strstr(buf_str(&turned_away.body), "\"status_code\":\"SHUTTING_DOWN\""));
    http_reply_free(&turned_away);
    pthread_join(t, NULL);
    int status = 0;
    assert_int_equal(waitpid(r->pid, &status, 0), r->pid);
    return status;
}

/* loops: UPSTREAM_LOOPS, so that the call in flight is on a worker or on an upstream loop. */
static void in_flight_request_finishes_with(const char *loops)
{
    struct standin *up = standin_start();
    struct standin_answer slow = {201, "application/json", standin_message_201, 700, NULL, 0};
    struct child r;
    struct call c;
    standin_answer(up, &slow);
    start(&r, up, "5000", loops);
    char said[64];
    snprintf(said, sizeof said, " %s upstream loops,", loops);
    assert_true(child_log_has(&r, said));
    int status = terminate_mid_request(&r, up, &c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(c.reply.status, 200);
    assert_non_null(strstr(buf_str(&c.reply.body), "\"callback\":\"success\""));
    http_reply_free(&c.reply);
    struct http_reply after;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", r.port);
    assert_int_equal(http_call("GET", url, NULL, 0, &after), -1); /* no longer accepting */
    http_reply_free(&after);
    assert_true(child_log_has(&r, "stopped"));
    unlink(r.log);
    standin_stop(up);
}

static void in_flight_request_finishes(void **state)
{
    (void)state;
    in_flight_request_finishes_with("0");
}

static void in_flight_request_finishes_on_a_loop(void **state)
{
    (void)state;
    in_flight_request_finishes_with("2");
}

static void grace_is_bounded(void **state)
{
    (void)state;
    struct standin *up = standin_start();
    struct standin_answer stuck = {201, "application/json", standin_message_201, 2000, NULL, 0};
    struct child r;
    struct call c;
    standin_answer(up, &stuck);
    start(&r, up, "200", "0");
    int status = terminate_mid_request(&r, up, &c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    http_reply_free(&c.reply);
    assert_true(child_log_has(&r, "requests still in flight after 200 ms; exiting anyway"));
    unlink(r.log);
    standin_stop(up);
}

/* Request lines wait in their workers' batches for up to 100 ms: a SIGTERM right after the
 * last answer still finds every one of them written, each once. */
static void a_clean_stop_loses_no_log_line(void **state)
{
    (void)state;
    enum { CALLS = 100 };
    struct standin *up = standin_start();
    struct child r;
    start(&r, up, "5000", "0");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendSms", r.port);
    for (int i = 0; i < CALLS; i++) {
        struct http_reply reply;
        assert_int_equal(http_call("POST", url, SMS, strlen(SMS), &reply), 0);
        assert_int_equal(reply.status, 200);
        http_reply_free(&reply);
    }
    child_stop(&r);
    struct buf log;
    assert_int_equal(read_file(r.log, &log), 0);
    int lines = 0;
    for (const char *p = buf_str(&log); (p = strstr(p, " POST /api/twilio/sendSms status=200 "));
         p++)
        lines++;
    buf_free(&log);
    assert_int_equal(lines, CALLS);
    unlink(r.log);
    standin_stop(up);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_shutdown path/to/twilio-block\n");
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    mg_init_library(0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_flight_request_finishes),
        cmocka_unit_test(in_flight_request_finishes_on_a_loop),
        cmocka_unit_test(grace_is_bounded),
        cmocka_unit_test(a_clean_stop_loses_no_log_line),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    mg_exit_library();
    return rc;
}

/* How the server holds client connections: a socket that sends nothing takes no worker, an idle
 * kept-alive connection gives its worker back when workers run short, slow headers meet a
 * deadline, and the binary refuses to start when its descriptors cannot fit (argv[1]). Every
 * check is on real sockets; none measures time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "log.h"

#define HEALTH "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
#define HEALTH_CLOSE "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

static const char *binary;
static struct harness H;

static int start(long threads, long header_timeout_ms)
{
    struct config cfg;
    harness_config(&cfg);
    cfg.threads = threads;
    cfg.header_timeout_ms = header_timeout_ms;
    cfg.keep_alive_timeout_ms = 600000; /* only the server's policy may free a kept worker */
    return harness_start_with(&H, &cfg);
}

static int start_4(void **state)
{
    (void)state;
    return start(4, 600000);
}

static int start_128(void **state)
{
    (void)state;
    return start(128, 600000);
}

static int start_short_headers(void **state)
{
    (void)state;
    return start(4, 300);
}

static int stop(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

static int dial(void)
{
    int fd = loopback_connect(harness_port(&H));
    assert_true(fd >= 0);
    return fd;
}

/* Sends request on fd and returns the value of the reply's Connection header. */
static const char *ask(int fd, const char *request)
{
    static char connection[32];
    struct buf reply;
    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    raw_read_reply(fd, &reply);
    if (strncmp(buf_str(&reply), "HTTP/1.1 200 ", 13) != 0)
        fail_msg("want 200, got: %s", buf_str(&reply));
    const char *c = strstr(buf_str(&reply), "\r\nConnection: ");
    assert_non_null(c);
    snprintf(connection, sizeof connection, "%.*s", (int)strcspn(c + 14, "\r"), c + 14);
    buf_free(&reply);
    return connection;
}

/* A metric's value from a scrape on a connection of its own, closed by the server before the
 * reply is read to its end, so that the scrape's worker is free again when this returns. */
static double metric(const char *name)
{
    int fd = dial();
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    struct buf reply;
    char key[128];
    assert_int_equal(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)(sizeof req - 1));
    raw_read_reply(fd, &reply);
    assert_true(raw_closed_by_server(fd));
    close(fd);
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(buf_str(&reply), key);
    if (!at)
        fail_msg("no %s in: %s", name, buf_str(&reply));
    double v = strtod(at + strlen(key), NULL);
    buf_free(&reply);
    return v;
}

/* Three times as many silent sockets as workers, then a request: without TCP_DEFER_ACCEPT each
 * silent socket would hold a worker for HEADER_TIMEOUT_MS (here ten minutes). */
static void silent_sockets_take_no_worker(void **state)
{
    (void)state;
    int silent[12];
    for (size_t i = 0; i < 12; i++)
        silent[i] = dial();
    int fd = dial();
    assert_string_equal(ask(fd, HEALTH_CLOSE), "close");
    assert_true(raw_closed_by_server(fd));
    close(fd);
    assert_true(metric("twilio_block_workers_busy") == 1); /* the scrape */
    assert_true(metric("twilio_block_connections_open") == 1);
    for (size_t i = 0; i < 12; i++)
        close(silent[i]);
}

/* Four workers: three idle kept-alive connections hold three; the fourth caller would take the
 * last one, so its reply closes its connection, and the same for the caller after it. A
 * connection that already carried a request keeps its worker while one is free. */
static void idle_connections_give_the_last_worker_back(void **state)
{
    (void)state;
    struct log_capture logged;
    struct buf log;
    assert_int_equal(log_capture_start(&logged, "connections"), 0);
    log_set_level(LOG_WARN);
    int idle[3];
    for (size_t i = 0; i < 3; i++) {
        idle[i] = dial();
        assert_string_equal(ask(idle[i], HEALTH), "keep-alive");
    }
    for (int caller = 0; caller < 2; caller++) {
        int fd = dial();
        assert_string_equal(ask(fd, HEALTH), "close");
        assert_true(raw_closed_by_server(fd));
        close(fd);
    }
    assert_string_equal(ask(idle[0], HEALTH), "keep-alive");
    assert_true(metric("twilio_block_connections_closed_early_total") == 2);
    assert_true(metric("twilio_block_workers_busy") == 4); /* three idle and the scrape */
    for (size_t i = 0; i < 3; i++)
        close(idle[i]);
    /* Every worker was taken four times (two callers, two scrapes): one line says so. */
    int read = read_file(logged.path, &log);
    log_capture_end(&logged);
    assert_int_equal(read, 0);
    const char *line = strstr(buf_str(&log), " warn every worker is taken (THREADS=4): ");
    if (!line || strstr(line + 30, "every worker is taken"))
        fail_msg("want one warn line, got: %s", buf_str(&log));
    buf_free(&log);
}

/* 128 workers, of which one in 64 (2) is the reserve: 126 idle connections are kept; then with
 * one worker free, a connection on its second request keeps it, and first requests do not. */
static void scarce_workers_stay_with_connections_that_reuse_them(void **state)
{
    (void)state;
    static int idle[126];
    for (size_t i = 0; i < 126; i++) {
        idle[i] = dial();
        assert_string_equal(ask(idle[i], HEALTH), "keep-alive");
    }
    /* Half a request holds a worker while its headers are read. */
    int half = dial();
    const char head[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    assert_int_equal(send(half, head, sizeof head - 1, MSG_NOSIGNAL), (ssize_t)(sizeof head - 1));
    for (int tries = 0; metric("twilio_block_workers_busy") < 128; tries++) {
        if (tries == 500)
            fail_msg("the half request never reached a worker");
        clock_sleep_ms(10);
    }
    assert_string_equal(ask(idle[0], HEALTH), "keep-alive"); /* one free, a second request */
    int last = dial();
    assert_string_equal(ask(last, HEALTH), "close"); /* none free */
    assert_true(raw_closed_by_server(last));
    close(last);
    assert_string_equal(ask(half, "\r\n"), "close"); /* one free, a first request */
    assert_true(raw_closed_by_server(half));
    close(half);
    assert_true(metric("twilio_block_connections_closed_early_total") == 2);
    for (size_t i = 0; i < 126; i++)
        close(idle[i]);
}

/* HEADER_TIMEOUT_MS is 300: headers trickling in over a second are cut off, and the same headers
 * sent at once are served. */
static void slow_headers_are_cut_off(void **state)
{
    (void)state;
    const char *const lines[] = {"GET /healthz HTTP/1.1\r\n",
                                 "Host: x\r\n",
                                 "X-A: 1\r\n",
                                 "X-B: 2\r\n",
                                 "X-C: 3\r\n",
                                 "X-D: 4\r\n",
                                 "X-E: 5\r\n",
                                 "X-F: 6\r\n",
                                 "X-G: 7\r\n",
                                 "Connection: close\r\n\r\n"};
    struct buf out;
    assert_int_equal(raw_request(harness_port(&H), lines, 10, 0, &out), 0);
    if (strncmp(buf_str(&out), "HTTP/1.1 200 ", 13) != 0)
        fail_msg("the control request failed: %s", buf_str(&out));
    buf_free(&out);
    assert_int_equal(raw_request(harness_port(&H), lines, 10, 120, &out), 0);
    if (strstr(buf_str(&out), "HTTP/1.1 200 "))
        fail_msg("slow headers were served: %s", buf_str(&out));
    buf_free(&out);
}

/* Runs the binary with the open-file limits given; returns its exit status and its stderr. */
static int run_limited(rlim_t soft, rlim_t hard, const char *threads, struct buf *log)
{
    char path[96];
    snprintf(path, sizeof path, "/tmp/twilio-block-fdlimit-%ld.log", (long)getpid());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {soft, hard};
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || !freopen(path, "w", stderr))
            _exit(127);
        setenv("PORT", "0", 1);
        setenv("BIND", "127.0.0.1", 1);
        setenv("THREADS", threads, 1);
        execl(binary, binary, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(read_file(path, log), 0);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void too_few_descriptors_refuse_to_start(void **state)
{
    (void)state;
    struct buf log;
    assert_int_equal(run_limited(200, 200, "1024", &log), 2);
    const char *want = "twilio-block: the open-file limit is 200 (hard limit 200) but the "
                       "service needs 2240 descriptors: a client and an upstream connection for "
                       "each of THREADS=1024 workers";
    if (strncmp(buf_str(&log), want, strlen(want)) != 0)
        fail_msg("got: %s", buf_str(&log));
    buf_free(&log);
}

/* The soft limit is raised to the hard one, which here is well above what 64 workers need. */
static void the_soft_limit_is_raised(void **state)
{
    (void)state;
    struct rlimit mine, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &mine), 0);
    if (mine.rlim_max < 1024)
        skip();
    low = (struct rlimit){256, mine.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    const char *const env[] = {"THREADS", "64", NULL};
    struct child c;
    child_start(&c, binary, "fdlimit", env, 5000);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &mine), 0);
    char path[64], want[64];
    struct buf limits;
    snprintf(path, sizeof path, "/proc/%ld/limits", (long)c.pid);
    assert_int_equal(read_file(path, &limits), 0);
    kill(c.pid, SIGKILL);
    waitpid(c.pid, NULL, 0);
    unlink(c.log);
    const char *line = strstr(buf_str(&limits), "Max open files");
    assert_non_null(line);
    unsigned long soft = 0, hard = 0;
    assert_int_equal(sscanf(line, "Max open files %lu %lu", &soft, &hard), 2);
    snprintf(want, sizeof want, "%lu", (unsigned long)mine.rlim_max);
    assert_int_equal(soft, hard);
    assert_int_equal(hard, strtoul(want, NULL, 10));
    buf_free(&limits);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_connections path/to/twilio-block\n");
        return 2;
    }
    binary = argv[1];
    const struct CMUnitTest four[] = {
        cmocka_unit_test_setup_teardown(silent_sockets_take_no_worker, start_4, stop),
        cmocka_unit_test_setup_teardown(idle_connections_give_the_last_worker_back, start_4, stop),
    };
    const struct CMUnitTest many[] = {
        cmocka_unit_test(scarce_workers_stay_with_connections_that_reuse_them),
    };
    const struct CMUnitTest headers[] = {
        cmocka_unit_test(slow_headers_are_cut_off),
    };
    const struct CMUnitTest limits[] = {
        cmocka_unit_test(too_few_descriptors_refuse_to_start),
        cmocka_unit_test(the_soft_limit_is_raised),
    };
    int failed = cmocka_run_group_tests_name("four workers", four, NULL, NULL);
    failed += cmocka_run_group_tests_name("128 workers", many, start_128, stop);
    failed += cmocka_run_group_tests_name("header deadline", headers, start_short_headers, stop);
    return failed + cmocka_run_group_tests_name("descriptors", limits, NULL, NULL);
}

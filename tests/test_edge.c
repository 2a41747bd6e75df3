/* deploy/edge.nginx.conf (argv[1]) with the real nginx in front of the real service: calls pass
 * through, and crowds of silent, slow-header and slow-body clients stay at the edge while a
 * service with four workers answers the next caller. The file is used as shipped, but for its
 * addresses and the paths a test run needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"

#define NGINX "/usr/sbin/nginx"
#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char *shipped;
static struct harness H;
static pid_t nginx_pid;
static int edge_port;
static char dir[64];
static char edge[64];

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Replaces the one occurrence of from in text by to. Returns 0, or -1 when from is not there
 * exactly once. */
static int replace(struct buf *text, const char *from, const char *to)
{
    const char *at = strstr(buf_str(text), from);
    if (!at || strstr(at + 1, from))
        return -1;
    struct buf out;
    buf_init(&out, 1u << 20);
    buf_append(&out, buf_str(text), (size_t)(at - buf_str(text)));
    buf_appendz(&out, to);
    buf_appendz(&out, at + strlen(from));
    buf_free(text);
    *text = out;
    return 0;
}

/* The shipped file with the test's ports, and its paths inside dir. */
static int adapt(const char *conf_path, int svc_port)
{
    struct buf text;
    char listen[64], server[64], paths[512];
    if (read_file(shipped, &text) < 0)
        return -1;
    snprintf(listen, sizeof listen, "listen 127.0.0.1:%d ", edge_port);
    snprintf(server, sizeof server, "server 127.0.0.1:%d;", svc_port);
    snprintf(paths, sizeof paths,
             "http {\n    client_body_temp_path %s/body;\n    proxy_temp_path %s/proxy;\n"
             "    fastcgi_temp_path %s/fastcgi;\n    uwsgi_temp_path %s/uwsgi;\n"
             "    scgi_temp_path %s/scgi;\n",
             dir, dir, dir, dir, dir);
    int rc = replace(&text, "listen 80 ", listen) |
             replace(&text, "server 127.0.0.1:8080;", server) | replace(&text, "http {\n", paths);
    FILE *f = fopen(conf_path, "w");
    if (rc || !f) {
        if (f)
            fclose(f);
        buf_free(&text);
        return -1;
    }
    if (geteuid() == 0)
        fputs("user root;\n", f); /* its workers use the test's directory */
    fputs(buf_str(&text), f);
    buf_free(&text);
    return fclose(f) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    struct config cfg;
    harness_config(&cfg);
    cfg.threads = 4;
    cfg.header_timeout_ms = 600000; /* a slow client that reached the service would stay */
    cfg.body_timeout_ms = 600000;
    if (harness_start_with(&H, &cfg) < 0)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/twilio-block-edge-%ld", (long)getpid());
    char conf[128], log[128], globals[256];
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(log, sizeof log, "%s/stderr.log", dir);
    snprintf(globals, sizeof globals, "daemon off; pid %s/nginx.pid;", dir);
    edge_port = free_port();
    if (mkdir(dir, 0700) < 0 || edge_port < 0 || adapt(conf, harness_port(&H)) < 0)
        return -1;
    snprintf(edge, sizeof edge, "http://127.0.0.1:%d", edge_port);
    nginx_pid = fork();
    if (nginx_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(NGINX, NGINX, "-p", dir, "-c", conf, "-g", globals, (char *)NULL);
        _exit(127);
    }
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", edge);
    for (int tries = 0; tries < 200; tries++) {
        struct http_reply r;
        if (http_call("GET", url, NULL, 0, &r) == 0) {
            long status = r.status;
            http_reply_free(&r);
            if (status == 200)
                return 0;
        }
        clock_sleep_ms(25);
    }
    struct buf out;
    read_file(log, &out);
    fprintf(stderr, "nginx did not answer: %s\n", buf_str(&out));
    buf_free(&out);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGTERM);
        waitpid(nginx_pid, NULL, 0);
    }
    harness_stop(&H);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void calls_pass_through(void **state)
{
    (void)state;
    char url[128];
    struct http_reply r;
    const char body[] = "{\"accountSid\":\"" SID "\",\"accountToken\":\"edge-token-77\","
                        "\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"Hi\","
                        "\"dryRun\":true}";
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", edge);
    assert_int_equal(http_call("POST", url, body, sizeof body - 1, &r), 0);
    assert_int_equal(r.status, 200);
    if (strncmp(buf_str(&r.body), "{\"callback\":\"success\"", 21) != 0)
        fail_msg("got: %s", buf_str(&r.body));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 0); /* a dry run */
}

static int dial_edge(void)
{
    int fd = loopback_connect(edge_port);
    assert_true(fd >= 0);
    return fd;
}

static void say(int fd, const char *text)
{
    assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* 60 clients that never finish a request, against a service with four workers: had nginx passed
 * any of them on, the service would have no worker left for the caller after them. */
static void crowds_stay_at_the_edge(void **state)
{
    (void)state;
    int crowd[60];
    char url[256];
    for (size_t i = 0; i < 60; i++) {
        crowd[i] = dial_edge();
        if (i % 3 == 1)
            say(crowd[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n");
        else if (i % 3 == 2)
            say(crowd[i], "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          "application/json\r\nContent-Length: 100\r\n\r\n{\"accountSid\"");
    }
    struct http_reply r;
    /* nginx takes the crowd in while this watches the service for a second: none of it may
     * show there as a request in flight (the scrape itself is one). */
    snprintf(url, sizeof url, "%s/metrics", H.url);
    for (int look = 0; look < 40; look++) {
        assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
        if (!strstr(buf_str(&r.body), "\ntwilio_block_requests_in_flight 1\n"))
            fail_msg("the crowd reached the service: %s", buf_str(&r.body));
        http_reply_free(&r);
        clock_sleep_ms(25);
    }
    snprintf(url, sizeof url, "%s/healthz", edge);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    for (size_t i = 0; i < 60; i++)
        close(crowd[i]);
}

/* The kept connections of every nginx process together stay within half the default workers. */
static void the_pool_fits_the_default_workers(void **state)
{
    (void)state;
    struct buf text;
    struct config cfg;
    config_defaults(&cfg);
    assert_int_equal(read_file(shipped, &text), 0);
    const char *wp = strstr(buf_str(&text), "\nworker_processes ");
    const char *ka = strstr(buf_str(&text), "\n        keepalive ");
    assert_non_null(wp);
    assert_non_null(ka);
    long processes = strtol(wp + 18, NULL, 10), kept = strtol(ka + 19, NULL, 10);
    assert_true(processes > 0 && kept > 0);
    assert_true(processes * kept <= cfg.threads / 2);
    buf_free(&text);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_edge deploy/edge.nginx.conf\n");
        return 2;
    }
    shipped = argv[1];
    if (access(NGINX, X_OK) != 0) {
        fprintf(stderr, "test_edge: %s is missing (apt-get install nginx-light)\n", NGINX);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_pass_through),
        cmocka_unit_test(crowds_stay_at_the_edge),
        cmocka_unit_test(the_pool_fits_the_default_workers),
    };
    return cmocka_run_group_tests_name("edge", tests, setup, teardown);
}

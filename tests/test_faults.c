#define _GNU_SOURCE /* strcasestr */
/* The fault matrix (issue 16): a Twilio stand-in that fails at each point of an exchange, on a
 * fresh connection and on a kept-alive one that answered a request before, with the transfers
 * on the workers' own handles, on a handle lent by upstream.c and on upstream.c's loops, for
 * sendSms, sendBulkSms and a keyed sendSms. Each cell asserts what reached the stand-in (a
 * POST at most once), the envelope's status_code and words, and that a keyed repeat sends
 * nothing more when the first may have been sent. docs/envelope.md's table of faults is this
 * table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS "\"accountSid\":\"" SID "\",\"accountToken\":\"fault-token-1\""
#define SMS "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155550001\",\"body\":\"Hi\"}"
#define BULK                                                                                       \
    "{" CREDS ",\"from\":\"+15005550006\",\"body\":\"Hi\",\"recipients\":[\"+14155550002\"]}"
#define TIMEOUT_MS 300

enum fault {
    F_REFUSE,       /* nothing listens */
    F_CLOSE,        /* accepts, closes before reading the request */
    F_READ_PART,    /* reads part of the request, closes */
    F_READ_ALL,     /* reads all of it, closes without a byte of answer */
    F_PART_HEADERS, /* answers part of the headers, closes */
    F_PART_BODY,    /* answers the headers and part of the body, closes */
    F_SLOW,         /* answers after UPSTREAM_TIMEOUT_MS */
    F_HTML_500,     /* answers 500 with an HTML page */
};

/* What each fault comes to: the stand-in's count of requests for the faulted call, the
 * envelope's status_code and a part of its words, the bulk recipient's status, and whether a
 * keyed repeat must replay (send nothing) or may send again. */
static const struct row {
    enum fault fault;
    const char *name;
    int posts;
    const char *code;
    const char *words;
    const char *bulk_status;
    int replayed;
    /* on a reused connection the stand-in read none of it: libcurl may send it again on a new
     * connection (then answered: 1 request read, success) */
    int may_resend;
} rows[] = {
    {F_REFUSE, "refuse", 0, "INTERNAL_PACKAGE_ERROR", "connection refused", "not_sent", 0, 0},
    {F_CLOSE, "close before reading", 0, "INTERNAL_PACKAGE_ERROR",
     "failed after the request was sent", "unknown", 1, 1},
    {F_READ_PART, "read part and close", 0, "INTERNAL_PACKAGE_ERROR",
     "failed after the request was sent", "unknown", 1, 1},
    {F_READ_ALL, "read all and close", 1, "INTERNAL_PACKAGE_ERROR",
     "failed after the request was sent", "unknown", 1, 0},
    {F_PART_HEADERS, "part of the headers", 1, "INTERNAL_PACKAGE_ERROR", "HTTP 201", "unknown", 1,
     0},
    {F_PART_BODY, "headers and part of the body", 1, "INTERNAL_PACKAGE_ERROR",
     "failed after the request was sent", "unknown", 1, 0},
    {F_SLOW, "slower than UPSTREAM_TIMEOUT_MS", 1, "INTERNAL_PACKAGE_ERROR",
     "did not answer within 300 ms", "unknown", 1, 0},
    {F_HTML_500, "5xx HTML page", 1, "API_ERROR", "Twilio failed after receiving the request",
     "unknown", 1, 0},
};

/* The stand-in: a raw listener on one port for the whole run. In each cell a connection's
 * first request is answered 201 (keep-alive) unless fresh is set, and the request after it
 * meets the fault. A new cell closes every connection of the one before (curl notices an idle
 * connection closed before it sends on it). requests counts the requests read whole: those the
 * stand-in could have acted on. */
struct faultd {
    int fd, port;
    enum fault fault;
    int fresh;
    int gen; /* the cell */
    pthread_t thread;
    volatile int accepting;
    pthread_mutex_t lock;
    int requests;
    int open; /* connection threads running */
    volatile int stop;
};

static const char created[] =
    "{\"sid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"status\":\"queued\",\"body\":\"Hi\"}";

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int current(struct faultd *d, int gen)
{
    pthread_mutex_lock(&d->lock);
    int now = d->gen == gen && !d->stop;
    pthread_mutex_unlock(&d->lock);
    return now;
}

static void count_request(struct faultd *d)
{
    pthread_mutex_lock(&d->lock);
    d->requests++;
    pthread_mutex_unlock(&d->lock);
}

/* Waits for a request's first byte while the cell lasts; returns 1 when one came. */
static int request_begins(struct faultd *d, int c, int gen)
{
    while (current(d, gen)) {
        struct pollfd p = {c, POLLIN, 0};
        int n = poll(&p, 1, 50);
        if (n < 0)
            return 0;
        if (n == 0)
            continue;
        char b;
        return recv(c, &b, 1, MSG_PEEK) == 1;
    }
    return 0;
}

/* Reads one whole request (headers and Content-Length bytes). Returns 0 when whole. */
static int read_whole(int c)
{
    char buf[65536];
    size_t len = 0;
    long body = -1;
    char *end = NULL;
    while (len < sizeof buf - 1) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            return -1;
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "Content-Length:");
            body = cl ? strtol(cl + 15, NULL, 10) : 0;
        }
        if (end && (long)(len - (size_t)(end + 4 - buf)) >= body)
            return 0;
    }
    return -1;
}

static void say(int c, const char *text)
{
    size_t n = strlen(text);
    while (n) {
        ssize_t w = send(c, text, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        text += w;
        n -= (size_t)w;
    }
}

static void answer(int c, int status, const char *type, const char *body)
{
    char head[512];
    snprintf(head, sizeof head,
             "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
             "Twilio-Request-Id: RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
             status, type, strlen(body));
    say(c, head);
    say(c, body);
}

/* Reads a request whole and counts it. */
static int take(struct faultd *d, int c)
{
    if (read_whole(c) < 0)
        return -1;
    count_request(d);
    return 0;
}

static void meet_fault(struct faultd *d, enum fault fault, int c)
{
    char part[16];
    switch (fault) {
    case F_REFUSE:
    case F_CLOSE:
        break;
    case F_READ_PART:
        if (read(c, part, sizeof part) < 0)
            break;
        break;
    case F_READ_ALL:
        take(d, c);
        break;
    case F_PART_HEADERS:
        take(d, c);
        say(c, "HTTP/1.1 201 Created\r\nContent-Ty");
        break;
    case F_PART_BODY:
        take(d, c);
        say(c, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
               "Content-Length: 200\r\n\r\n{\"sid\":\"SMaaaa");
        break;
    case F_SLOW:
        take(d, c);
        sleep_ms(2 * TIMEOUT_MS);
        answer(c, 201, "application/json", created);
        break;
    case F_HTML_500:
        take(d, c);
        answer(c, 500, "text/html", "<html><body>Internal Server Error</body></html>");
        break;
    }
}

struct conn {
    struct faultd *d;
    int c, gen, fresh;
    enum fault fault;
};

static void *serve(void *arg)
{
    struct conn *cn = arg;
    struct faultd *d = cn->d;
    int c = cn->c, gen = cn->gen, fresh = cn->fresh;
    enum fault fault = cn->fault;
    free(cn);
    for (int k = 0; request_begins(d, c, gen); k++) {
        if (fresh || k > 0) {
            meet_fault(d, fault, c);
            break;
        }
        if (take(d, c) < 0)
            break;
        answer(c, 201, "application/json", created);
    }
    close(c);
    pthread_mutex_lock(&d->lock);
    d->open--;
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void *accept_loop(void *arg)
{
    struct faultd *d = arg;
    while (d->accepting) {
        struct pollfd p = {d->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(d->fd, NULL, NULL);
        struct conn *cn = c >= 0 ? malloc(sizeof *cn) : NULL;
        pthread_t t;
        if (!cn) {
            if (c >= 0)
                close(c);
            continue;
        }
        cn->d = d;
        cn->c = c;
        pthread_mutex_lock(&d->lock);
        d->open++;
        cn->gen = d->gen;
        cn->fresh = d->fresh;
        cn->fault = d->fault;
        pthread_mutex_unlock(&d->lock);
        if (pthread_create(&t, NULL, serve, cn) != 0) {
            close(c);
            free(cn);
            pthread_mutex_lock(&d->lock);
            d->open--;
            pthread_mutex_unlock(&d->lock);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static void listen_on(struct faultd *d)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
    socklen_t alen = sizeof a;
    int one = 1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(d->fd >= 0);
    setsockopt(d->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(d->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(d->fd, 16), 0);
    assert_int_equal(getsockname(d->fd, (struct sockaddr *)&a, &alen), 0);
    d->port = ntohs(a.sin_port);
    d->accepting = 1;
    assert_int_equal(pthread_create(&d->thread, NULL, accept_loop, d), 0);
}

static void stop_listening(struct faultd *d)
{
    if (!d->accepting)
        return;
    d->accepting = 0;
    pthread_join(d->thread, NULL);
    close(d->fd);
}

static struct faultd *faultd_start(void)
{
    struct faultd *d = calloc(1, sizeof *d);
    assert_non_null(d);
    pthread_mutex_init(&d->lock, NULL);
    listen_on(d);
    return d;
}

/* Waits until the connections of the cells before are closed. */
static void wait_closed(struct faultd *d)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&d->lock);
        int open = d->open;
        pthread_mutex_unlock(&d->lock);
        if (!open)
            return;
        sleep_ms(10);
    }
    fail_msg("the stand-in's connections did not close");
}

/* Starts a cell: every connection so far is closed, the count is 0, and the port refuses
 * connections when fault is F_REFUSE. */
static void faultd_cell(struct faultd *d, enum fault fault, int fresh)
{
    pthread_mutex_lock(&d->lock);
    d->gen++;
    d->fault = fault;
    d->fresh = fresh;
    d->requests = 0;
    pthread_mutex_unlock(&d->lock);
    wait_closed(d);
    if (fault == F_REFUSE)
        stop_listening(d);
    else if (!d->accepting)
        listen_on(d);
}

static int faultd_requests(struct faultd *d)
{
    pthread_mutex_lock(&d->lock);
    int n = d->requests;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static void faultd_stop(struct faultd *d)
{
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_mutex_unlock(&d->lock);
    stop_listening(d);
    wait_closed(d);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* The client: one handle, so every call of a cell goes over one connection to one worker. */
static CURL *client;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    return buf_append(userp, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static json_t *call(const char *base, const char *block, const char *json, const char *key)
{
    char url[256], header[128];
    struct buf body;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (key) {
        snprintf(header, sizeof header, "Idempotency-Key: %s", key);
        h = curl_slist_append(h, header);
    }
    buf_init(&body, 1u << 20);
    snprintf(url, sizeof url, "%s/api/twilio/%s", base, block);
    curl_easy_reset(client);
    curl_easy_setopt(client, CURLOPT_URL, url);
    curl_easy_setopt(client, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(client, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(client, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(client, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(client, CURLOPT_TIMEOUT_MS, 10000L);
    assert_int_equal(curl_easy_perform(client), CURLE_OK);
    curl_slist_free_all(h);
    json_t *v = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
    if (!v)
        fail_msg("not JSON: %s", buf_str(&body));
    buf_free(&body);
    return v;
}

static const char *to_field(json_t *envelope, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(envelope, "contextWrites"), "to"), name));
}

enum kind { SINGLE, BULK_CALL, KEYED };
static const char *const kind_names[] = {"sendSms", "sendBulkSms", "keyed sendSms"};

/* The settings of a transport: where transfers run. */
struct transport {
    const char *name;
    long loops, lent;
};

/* One cell, on the transport's server and stand-in. */
static void run_cell(const char *url, struct faultd *d, const char *transport, const struct row *r,
                     int fresh, enum kind kind)
{
    static int serial;
    char where[256], key[64], first_msg[1024] = "";
    faultd_cell(d, r->fault, fresh);
    snprintf(where, sizeof where, "%s, %s connection, %s, %s", r->name, fresh ? "fresh" : "reused",
             transport, kind_names[kind]);
    snprintf(key, sizeof key, "fault-%d", ++serial);
    int before = 0;
    if (!fresh && r->fault != F_REFUSE) { /* a first exchange leaves the connection open */
        json_t *ok = call(url, "sendSms", SMS, NULL);
        if (strcmp(json_string_value(json_object_get(ok, "callback")), "success") != 0)
            fail_msg("%s: the first call was not answered", where);
        json_decref(ok);
        before = faultd_requests(d);
        assert_int_equal(before, 1);
    }
    json_t *got = call(url, kind == BULK_CALL ? "sendBulkSms" : "sendSms",
                       kind == BULK_CALL ? BULK : SMS, kind == KEYED ? key : NULL);
    int posts = faultd_requests(d) - before;
    const char *callback = json_string_value(json_object_get(got, "callback"));
    const char *code = to_field(got, "status_code"), *msg = to_field(got, "status_msg");
    if (r->may_resend && !fresh && posts == 1 && strcmp(callback, "success") == 0) {
        snprintf(first_msg, sizeof first_msg, "%s", "");
    } else {
        if (posts != r->posts)
            fail_msg("%s: %d requests reached the stand-in, want %d", where, posts, r->posts);
        if (!code || strcmp(code, r->code) != 0)
            fail_msg("%s: status_code %s, want %s", where, code ? code : "(none)", r->code);
        if (kind == BULK_CALL) {
            json_t *first = json_array_get(
                json_object_get(json_object_get(json_object_get(got, "contextWrites"), "to"),
                                "results"),
                0);
            const char *status = json_string_value(json_object_get(first, "status"));
            msg = json_string_value(json_object_get(first, "status_msg"));
            if (!status || strcmp(status, r->bulk_status) != 0)
                fail_msg("%s: recipient status %s, want %s", where, status ? status : "(none)",
                         r->bulk_status);
        }
        if (!msg || !strstr(msg, r->words))
            fail_msg("%s: status_msg \"%s\" lacks \"%s\"", where, msg ? msg : "", r->words);
        if (r->fault != F_REFUSE && !strstr(msg, "the message may have been created"))
            fail_msg("%s: status_msg \"%s\" does not say what may have happened", where, msg);
        snprintf(first_msg, sizeof first_msg, "%s", msg);
    }
    json_decref(got);
    if (kind == KEYED) {
        int sent = faultd_requests(d);
        json_t *again = call(url, "sendSms", SMS, key);
        const char *msg2 = to_field(again, "status_msg");
        if (r->replayed && faultd_requests(d) != sent)
            fail_msg("%s: the keyed repeat sent again", where);
        if (r->replayed && first_msg[0] && (!msg2 || strcmp(msg2, first_msg) != 0))
            fail_msg("%s: the repeat did not replay the first answer: %s", where,
                     msg2 ? msg2 : "(none)");
        json_decref(again);
    }
}

static void run_transport(const char *name, long loops, long lent)
{
    struct harness h;
    struct config cfg;
    struct faultd *d = faultd_start();
    harness_config(&cfg);
    cfg.upstream_loops = loops;
    cfg.upstream_inline = lent;
    cfg.upstream_timeout_ms = TIMEOUT_MS;
    cfg.connect_timeout_ms = TIMEOUT_MS;
    cfg.retry_max = 1;
    cfg.bulk_concurrency = 1;
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:%d", d->port);
    assert_int_equal(harness_start_with(&h, &cfg), 0);
    client = curl_easy_init();
    assert_non_null(client);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (int fresh = 1; fresh >= 0; fresh--)
            for (int kind = SINGLE; kind <= KEYED; kind++)
                run_cell(h.url, d, name, &rows[i], fresh, (enum kind)kind);
    curl_easy_cleanup(client);
    harness_stop(&h);
    faultd_stop(d);
}

/* Each transfer on the worker's own curl handle (no upstream.c). */
static void on_worker_handles(void **state)
{
    (void)state;
    run_transport("worker handles", 0, 0);
}

/* On the one multi handle upstream.c lends to workers. */
static void inline_on_a_lent_handle(void **state)
{
    (void)state;
    run_transport("inline", 1, 1);
}

/* On upstream.c's event loop (UPSTREAM_INLINE=0). */
static void on_the_upstream_loops(void **state)
{
    (void)state;
    run_transport("loops", 1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(on_worker_handles),
        cmocka_unit_test(inline_on_a_lent_handle),
        cmocka_unit_test(on_the_upstream_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

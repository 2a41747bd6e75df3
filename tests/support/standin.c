#include "standin.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "form.h"

#define MAX_RECORDS 64

const char standin_message_201[] =
    "{\"account_sid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"body\":\"Hello\",\"num_segments\":"
    "\"1\","
    "\"sid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"status\":\"queued\",\"price\":null}";

struct standin {
    struct mg_context *ctx;
    int port;
    pthread_mutex_t lock;
    struct standin_answer script[8];
    size_t script_len, script_start;
    struct standin_record records[MAX_RECORDS];
    size_t count;
    int in_flight, max_in_flight;
    int numbered; /* standin_number_sids */
};

const char *standin_sid(size_t n, char out[35])
{
    snprintf(out, 35, "SM%032zx", n);
    return out;
}

/* body with its first SMaaaa...a SID replaced by request n's, in out. */
static const char *numbered(const char *body, size_t n, char *out, size_t size)
{
    static const char sid[] = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char mine[35];
    const char *at = strstr(body, sid);
    if (!at)
        return body;
    snprintf(out, size, "%.*s%s%s", (int)(at - body), body, standin_sid(n, mine),
             at + sizeof sid - 1);
    return out;
}

static int on_request(struct mg_connection *conn, void *cbdata)
{
    struct standin *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct standin_record rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.method, sizeof rec.method, "%s", ri->request_method);
    snprintf(rec.path, sizeof rec.path, "%s%s%s", ri->local_uri_raw ? ri->local_uri_raw : "",
             ri->query_string ? "?" : "", ri->query_string ? ri->query_string : "");
    const char *auth = mg_get_header(conn, "Authorization");
    snprintf(rec.authorization, sizeof rec.authorization, "%s", auth ? auth : "");
    const char *webhooks = mg_get_header(conn, "X-Twilio-Webhook-Enabled");
    snprintf(rec.webhook_enabled, sizeof rec.webhook_enabled, "%s", webhooks ? webhooks : "");
    rec.remote_port = ri->remote_port;
    rec.at_ms = clock_ms();
    size_t len = 0;
    int n;
    while (len < sizeof rec.body - 1 &&
           (n = mg_read(conn, rec.body + len, sizeof rec.body - 1 - len)) > 0)
        len += (size_t)n;
    rec.body[len] = '\0';

    pthread_mutex_lock(&s->lock);
    size_t number = s->count++;
    if (number < MAX_RECORDS)
        s->records[number] = rec;
    size_t k = number - s->script_start;
    struct standin_answer a = s->script[k < s->script_len ? k : s->script_len - 1];
    int numbers = s->numbered;
    if (++s->in_flight > s->max_in_flight)
        s->max_in_flight = s->in_flight;
    pthread_mutex_unlock(&s->lock);

    char body[4096];
    if (numbers)
        a.body = numbered(a.body, number, body, sizeof body);
    if (a.delay_ms > 0) {
        struct timespec ts = {a.delay_ms / 1000, (long)(a.delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&s->lock);
    if (number < MAX_RECORDS && number < s->count) /* not cleared meanwhile */
        s->records[number].answered_ms = clock_ms();
    s->in_flight--;
    pthread_mutex_unlock(&s->lock);
    char length[32];
    snprintf(length, sizeof length, "%zu", strlen(a.body) + (size_t)a.short_by);
    mg_response_header_start(conn, a.status);
    mg_response_header_add(conn, "Content-Type", a.content_type, -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_add(conn, "Twilio-Request-Id", "RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -1);
    if (a.retry_after)
        mg_response_header_add(conn, "Retry-After", a.retry_after, -1);
    if (a.short_by)
        mg_response_header_add(conn, "Connection", "close", -1);
    mg_response_header_send(conn);
    mg_write(conn, a.body, strlen(a.body));
    return a.status;
}

static struct standin *start(const char *keep_alive)
{
    struct standin *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->script[0] =
        (struct standin_answer){201, "application/json", standin_message_201, 0, NULL, 0};
    s->script_len = 1;
    const char *options[] = {"listening_ports",   "127.0.0.1:0", "num_threads", "8",
                             "enable_keep_alive", keep_alive,    NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_init_data init = {.callbacks = &cb, .user_data = s, .configuration_options = options};
    s->ctx = mg_start2(&init, NULL);
    if (!s->ctx) {
        free(s);
        return NULL;
    }
    mg_set_request_handler(s->ctx, "/", on_request, s);
    struct mg_server_port port;
    if (mg_get_server_ports(s->ctx, 1, &port) < 1) {
        standin_stop(s);
        return NULL;
    }
    s->port = port.port;
    return s;
}

struct standin *standin_start(void)
{
    return start("no");
}

struct standin *standin_start_keep_alive(void)
{
    return start("yes");
}

int standin_port(const struct standin *s)
{
    return s->port;
}

void standin_answer(struct standin *s, const struct standin_answer *a)
{
    standin_script(s, a, 1);
}

void standin_script(struct standin *s, const struct standin_answer *answers, size_t n)
{
    pthread_mutex_lock(&s->lock);
    if (n > sizeof s->script / sizeof s->script[0])
        n = sizeof s->script / sizeof s->script[0];
    memcpy(s->script, answers, n * sizeof *answers);
    s->script_len = n;
    s->script_start = s->count;
    pthread_mutex_unlock(&s->lock);
}

size_t standin_count(struct standin *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int standin_request(struct standin *s, size_t i, struct standin_record *out)
{
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (i < s->count && i < MAX_RECORDS) {
        *out = s->records[i];
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int standin_param(struct standin *s, size_t i, const char *name, char *out, size_t size)
{
    struct standin_record rec;
    if (standin_request(s, i, &rec) < 0)
        return -1;
    json_t *form = form_parse(rec.body, strlen(rec.body));
    json_t *v = json_object_get(form, name);
    const char *value = json_string_value(json_is_array(v) ? json_array_get(v, 0) : v);
    snprintf(out, size, "%s", value ? value : "");
    json_decref(form);
    return 0;
}

void standin_clear(struct standin *s)
{
    pthread_mutex_lock(&s->lock);
    s->count = 0;
    s->script[0] =
        (struct standin_answer){201, "application/json", standin_message_201, 0, NULL, 0};
    s->script_len = 1;
    s->script_start = 0;
    s->max_in_flight = 0;
    s->numbered = 0;
    pthread_mutex_unlock(&s->lock);
}

void standin_number_sids(struct standin *s)
{
    pthread_mutex_lock(&s->lock);
    s->numbered = 1;
    pthread_mutex_unlock(&s->lock);
}

int standin_max_in_flight(struct standin *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->max_in_flight;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void standin_stop(struct standin *s)
{
    if (!s)
        return;
    mg_stop(s->ctx);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

struct dropper {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    size_t count;
    volatile int stop;
};

/* Reads one request (headers, then Content-Length bytes of body); returns 0 when whole. */
static int read_request(int fd)
{
    char buf[65536];
    size_t len = 0;
    long body = -1;
    char *end = NULL;
    while (len < sizeof buf - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            return -1;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strstr(buf, "Content-Length:");
            body = cl ? strtol(cl + 15, NULL, 10) : 0;
        }
        if (end && (long)(len - (size_t)(end + 4 - buf)) >= body)
            return 0;
    }
    return -1;
}

static void *dropper_run(void *arg)
{
    struct dropper *d = arg;
    while (!d->stop) {
        struct pollfd p = {d->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(d->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (read_request(c) == 0) {
            pthread_mutex_lock(&d->lock);
            d->count++;
            pthread_mutex_unlock(&d->lock);
        }
        struct linger lg = {1, 0}; /* close with RST */
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c);
    }
    return NULL;
}

struct dropper *dropper_start(void)
{
    struct dropper *d = calloc(1, sizeof *d);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t alen = sizeof a;
    if (!d)
        return NULL;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(d->fd, 16) < 0 ||
        getsockname(d->fd, (struct sockaddr *)&a, &alen) < 0) {
        if (d->fd >= 0)
            close(d->fd);
        free(d);
        return NULL;
    }
    d->port = ntohs(a.sin_port);
    pthread_mutex_init(&d->lock, NULL);
    if (pthread_create(&d->thread, NULL, dropper_run, d) != 0) {
        close(d->fd);
        free(d);
        return NULL;
    }
    return d;
}

int dropper_port(const struct dropper *d)
{
    return d->port;
}

size_t dropper_count(struct dropper *d)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->count;
    pthread_mutex_unlock(&d->lock);
    return n;
}

void dropper_stop(struct dropper *d)
{
    if (!d)
        return;
    d->stop = 1;
    pthread_join(d->thread, NULL);
    close(d->fd);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

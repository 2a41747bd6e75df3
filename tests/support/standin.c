#include "standin.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RECORDS 64

const char standin_message_201[] =
    "{\"account_sid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"body\":\"Hello\",\"num_segments\":\"1\","
    "\"sid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"status\":\"queued\",\"price\":null}";

struct standin {
    struct mg_context *ctx;
    int port;
    pthread_mutex_t lock;
    struct standin_answer answer;
    struct standin_record records[MAX_RECORDS];
    size_t count;
};

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
    size_t len = 0;
    int n;
    while (len < sizeof rec.body - 1 &&
           (n = mg_read(conn, rec.body + len, sizeof rec.body - 1 - len)) > 0)
        len += (size_t)n;
    rec.body[len] = '\0';

    pthread_mutex_lock(&s->lock);
    if (s->count < MAX_RECORDS)
        s->records[s->count] = rec;
    s->count++;
    struct standin_answer a = s->answer;
    pthread_mutex_unlock(&s->lock);

    if (a.delay_ms > 0) {
        struct timespec ts = {a.delay_ms / 1000, (long)(a.delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    char length[32];
    snprintf(length, sizeof length, "%zu", strlen(a.body));
    mg_response_header_start(conn, a.status);
    mg_response_header_add(conn, "Content-Type", a.content_type, -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_add(conn, "Twilio-Request-Id", "RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -1);
    mg_response_header_send(conn);
    mg_write(conn, a.body, strlen(a.body));
    return a.status;
}

struct standin *standin_start(void)
{
    struct standin *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->answer = (struct standin_answer){201, "application/json", standin_message_201, 0};
    const char *options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "8", NULL};
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

int standin_port(const struct standin *s)
{
    return s->port;
}

void standin_answer(struct standin *s, const struct standin_answer *a)
{
    pthread_mutex_lock(&s->lock);
    s->answer = *a;
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

void standin_clear(struct standin *s)
{
    pthread_mutex_lock(&s->lock);
    s->count = 0;
    s->answer = (struct standin_answer){201, "application/json", standin_message_201, 0};
    pthread_mutex_unlock(&s->lock);
}

void standin_stop(struct standin *s)
{
    if (!s)
        return;
    mg_stop(s->ctx);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

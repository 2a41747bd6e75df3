#define _DEFAULT_SOURCE /* timegm */
#include "lister.h"

#include <civetweb.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "form.h"

#define MAX_REQUESTS 4096

struct resource {
    char collection[32];
    char sid[40];
    long long date, appears;
    char *fields;
};

struct lister {
    struct mg_context *ctx;
    int port;
    pthread_mutex_t lock;
    struct resource *res;
    size_t n, cap;
    long long now;
    unsigned salt;
    int fail_status;
    char *fail_body;
    char *requests[MAX_REQUESTS];
    size_t count;
};

/* Each collection: its path segment, its list key, its date field and its date filter. */
static const struct {
    const char *name, *key, *date, *filter;
} kinds[] = {
    {"Messages", "messages", "date_sent", "DateSent"},
    {"Calls", "calls", "start_time", "StartTime"},
    {"Recordings", "recordings", "date_created", "DateCreated"},
    {"Transcriptions", "transcriptions", "date_created", NULL},
    {"IncomingPhoneNumbers", "incoming_phone_numbers", "date_created", NULL},
};

void lister_date(long long t, char out[40])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* 2026-11-23 or 2026-11-23T09:30:00Z (what the flow sends) to seconds; -1 when neither. */
static long long parse_filter_date(const char *s, int *day_only)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    *day_only = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 &&
        s[n] == '\0') {
    } else if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && s[n] == '\0') {
        *day_only = 1;
    } else {
        return -1;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (long long)timegm(&tm);
}

static unsigned mix(const char *sid, unsigned salt)
{
    unsigned h = 2166136261u ^ salt;
    for (; *sid; sid++)
        h = (h ^ (unsigned char)*sid) * 16777619u;
    return h;
}

static unsigned sort_salt;
/* Newest first; within one second an order that is not the SIDs' (Twilio promises none). */
static int newest_first(const void *a, const void *b)
{
    const struct resource *x = *(const struct resource *const *)a;
    const struct resource *y = *(const struct resource *const *)b;
    if (x->date != y->date)
        return x->date > y->date ? -1 : 1;
    unsigned hx = mix(x->sid, sort_salt), hy = mix(y->sid, sort_salt);
    if (hx != hy)
        return hx < hy ? -1 : 1;
    return strcmp(x->sid, y->sid);
}

static int reply(struct mg_connection *conn, int status, const char *body, size_t len)
{
    char length[32];
    snprintf(length, sizeof length, "%zu", len);
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_send(conn);
    mg_write(conn, body, len);
    return status;
}

/* Whether r passes every filter of the query. */
static int matches(const struct resource *r, json_t *query, const char *filter)
{
    const char *key;
    json_t *v;
    json_object_foreach(query, key, v) {
        const char *value = json_string_value(v);
        if (!value)
            return 0;
        if (!strcmp(key, "PageSize") || !strcmp(key, "Page") || !strcmp(key, "PageToken"))
            continue;
        size_t fl = filter ? strlen(filter) : 0;
        if (filter && strncmp(key, filter, fl) == 0 &&
            (key[fl] == '\0' || ((key[fl] == '>' || key[fl] == '<') && key[fl + 1] == '\0'))) {
            int day_only;
            long long t = parse_filter_date(value, &day_only);
            if (t < 0)
                return 0;
            long long end = day_only ? t + 86399 : t;
            if ((key[fl] == '>' && r->date < t) || (key[fl] == '<' && r->date > end) ||
                (key[fl] == '\0' && (r->date < t || r->date > end)))
                return 0;
            continue;
        }
        /* To -> "to", CallSid -> "call_sid": the resource's field must equal the value */
        char field[64], want[256];
        size_t o = 0;
        for (const char *p = key; *p && o < sizeof field - 2; p++) {
            if (*p >= 'A' && *p <= 'Z') {
                if (p != key)
                    field[o++] = '_';
                field[o++] = (char)(*p - 'A' + 'a');
            } else {
                field[o++] = *p;
            }
        }
        field[o] = '\0';
        snprintf(want, sizeof want, "\"%s\":\"%s\"", field, value);
        if (!r->fields || !strstr(r->fields, want))
            return 0;
    }
    return 1;
}

static int on_request(struct mg_connection *conn, void *cbdata)
{
    struct lister *l = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *uri = ri->local_uri_raw ? ri->local_uri_raw : "";
    const char *qs = ri->query_string ? ri->query_string : "";
    char line[2048], account[40], coll[40];
    snprintf(line, sizeof line, "%s %s%s%s", ri->request_method, uri, *qs ? "?" : "", qs);
    pthread_mutex_lock(&l->lock);
    if (l->count < MAX_REQUESTS)
        l->requests[l->count] = strdup(line);
    l->count++;
    int fail = l->fail_status;
    char *fail_body = fail ? strdup(l->fail_body) : NULL;
    pthread_mutex_unlock(&l->lock);
    if (fail) {
        int rc =
            reply(conn, fail, fail_body ? fail_body : "{}", strlen(fail_body ? fail_body : "{}"));
        free(fail_body);
        return rc;
    }
    int n = 0;
    size_t kind = sizeof kinds / sizeof kinds[0];
    if (sscanf(uri, "/2010-04-01/Accounts/%34[A-Za-z0-9]/%39[A-Za-z].json%n", account, coll, &n) ==
            2 &&
        uri[n] == '\0')
        for (kind = 0; kind < sizeof kinds / sizeof kinds[0] && strcmp(kinds[kind].name, coll);
             kind++)
            ;
    static const char not_found[] = "{\"code\":20404,\"message\":\"The requested resource was not "
                                    "found\",\"status\":404}";
    if (strcmp(ri->request_method, "GET") || kind == sizeof kinds / sizeof kinds[0] ||
        !mg_get_header(conn, "Authorization"))
        return reply(conn, 404, not_found, sizeof not_found - 1);
    json_t *query = form_parse(qs, strlen(qs));
    const char *size_text = json_string_value(json_object_get(query, "PageSize"));
    const char *token = json_string_value(json_object_get(query, "PageToken"));
    const char *page_text = json_string_value(json_object_get(query, "Page"));
    long size = size_text ? strtol(size_text, NULL, 10) : 50,
         page = page_text ? strtol(page_text, NULL, 10) : 0;
    if (size < 1 || size > 1000) {
        static const char bad[] = "{\"code\":20001,\"message\":\"PageSize must be 1 to 1000\","
                                  "\"status\":400}";
        json_decref(query);
        return reply(conn, 400, bad, sizeof bad - 1);
    }

    pthread_mutex_lock(&l->lock);
    struct resource **list = calloc(l->n + 1, sizeof *list);
    size_t m = 0;
    for (size_t i = 0; list && i < l->n; i++)
        if (!strcmp(l->res[i].collection, coll) && l->res[i].appears <= l->now &&
            matches(&l->res[i], query, kinds[kind].filter))
            list[m++] = &l->res[i];
    sort_salt = l->salt;
    qsort(list, m, sizeof *list, newest_first);
    size_t start = 0;
    if (token && strncmp(token, "PA", 2) == 0) { /* the page after the resource it names */
        for (start = 0; start < m && strcmp(list[start]->sid, token + 2); start++)
            ;
        start = start < m ? start + 1 : m;
    }
    struct buf out, rest;
    buf_init(&out, 16u << 20);
    buf_init(&rest, 4096);
    /* the query without Page and PageToken, for the next page's uri */
    for (const char *p = qs; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (strncmp(p, "Page=", 5) && strncmp(p, "PageToken=", 10)) {
            if (rest.len)
                buf_append(&rest, "&", 1);
            buf_append(&rest, p, len);
        }
        p += len + (amp ? 1 : 0);
    }
    buf_appendf(&out, "{\"%s\":[", kinds[kind].key);
    size_t end = start + (size_t)size < m ? start + (size_t)size : m;
    for (size_t i = start; i < end; i++) {
        char date[40];
        lister_date(list[i]->date, date);
        buf_appendf(&out, "%s{\"account_sid\":\"%s\",\"sid\":\"%s\",\"%s\":\"%s\"",
                    i > start ? "," : "", account, list[i]->sid, kinds[kind].date, date);
        if (strcmp(kinds[kind].date, "date_created"))
            buf_appendf(&out, ",\"date_created\":\"%s\"", date);
        buf_appendf(&out, ",\"uri\":\"/2010-04-01/Accounts/%s/%s/%s.json\"%s%s}", account, coll,
                    list[i]->sid, list[i]->fields ? "," : "",
                    list[i]->fields ? list[i]->fields : "");
    }
    buf_appendf(&out, "],\"page\":%ld,\"page_size\":%ld,\"start\":%zu,\"end\":%zu,", page, size,
                start, end ? end - 1 : 0);
    buf_appendf(&out, "\"uri\":\"%s%s%s\",\"first_page_uri\":\"%s?%s\",\"previous_page_uri\":null,",
                uri, *qs ? "?" : "", qs, uri, buf_str(&rest));
    if (end < m)
        buf_appendf(&out, "\"next_page_uri\":\"%s?%s&Page=%ld&PageToken=PA%s\"}", uri,
                    buf_str(&rest), page + 1, list[end - 1]->sid);
    else
        buf_appendf(&out, "\"next_page_uri\":null}");
    pthread_mutex_unlock(&l->lock);
    int rc = reply(conn, 200, buf_str(&out), out.len);
    buf_free(&out);
    buf_free(&rest);
    free(list);
    json_decref(query);
    return rc;
}

struct lister *lister_start(void)
{
    struct lister *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->lock, NULL);
    l->now = (long long)time(NULL);
    const char *options[] = {"listening_ports",   "127.0.0.1:0", "num_threads", "4",
                             "enable_keep_alive", "no",          NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_init_data init = {.callbacks = &cb, .user_data = l, .configuration_options = options};
    l->ctx = mg_start2(&init, NULL);
    struct mg_server_port port;
    if (!l->ctx || mg_get_server_ports(l->ctx, 1, &port) < 1) {
        lister_stop(l);
        return NULL;
    }
    mg_set_request_handler(l->ctx, "/", on_request, l);
    l->port = port.port;
    return l;
}

int lister_port(const struct lister *l)
{
    return l->port;
}

void lister_stop(struct lister *l)
{
    if (!l)
        return;
    if (l->ctx)
        mg_stop(l->ctx);
    for (size_t i = 0; i < l->n; i++)
        free(l->res[i].fields);
    free(l->res);
    lister_clear(l);
    free(l->fail_body);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void lister_set_now(struct lister *l, long long now)
{
    pthread_mutex_lock(&l->lock);
    l->now = now;
    pthread_mutex_unlock(&l->lock);
}

void lister_set_salt(struct lister *l, unsigned salt)
{
    pthread_mutex_lock(&l->lock);
    l->salt = salt;
    pthread_mutex_unlock(&l->lock);
}

int lister_add(struct lister *l, const char *collection, const char *sid, long long date,
               long long appears, const char *fields)
{
    int rc = -1;
    pthread_mutex_lock(&l->lock);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct resource *r = realloc(l->res, cap * sizeof *r);
        if (!r)
            goto done;
        l->res = r;
        l->cap = cap;
    }
    struct resource *r = &l->res[l->n];
    memset(r, 0, sizeof *r);
    snprintf(r->collection, sizeof r->collection, "%s", collection);
    snprintf(r->sid, sizeof r->sid, "%s", sid);
    r->date = date;
    r->appears = appears;
    r->fields = fields ? strdup(fields) : NULL;
    l->n++;
    rc = 0;
done:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void lister_fail(struct lister *l, int status, const char *body)
{
    pthread_mutex_lock(&l->lock);
    l->fail_status = status;
    free(l->fail_body);
    l->fail_body = body ? strdup(body) : NULL;
    pthread_mutex_unlock(&l->lock);
}

size_t lister_count(struct lister *l)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->count;
    pthread_mutex_unlock(&l->lock);
    return n;
}

int lister_request(struct lister *l, size_t i, char *out, size_t size)
{
    int rc = -1;
    pthread_mutex_lock(&l->lock);
    if (i < l->count && i < MAX_REQUESTS && l->requests[i]) {
        snprintf(out, size, "%s", l->requests[i]);
        rc = 0;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void lister_clear(struct lister *l)
{
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->count && i < MAX_REQUESTS; i++) {
        free(l->requests[i]);
        l->requests[i] = NULL;
    }
    l->count = 0;
    pthread_mutex_unlock(&l->lock);
}

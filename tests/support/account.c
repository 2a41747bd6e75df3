#include "account.h"

#include <civetweb.h>
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "form.h"
#include "harness.h"

#define MAX_LINES 512

struct account {
    struct mg_context *ctx;
    int port;
    pthread_mutex_t lock;
    json_t *state; /* collection name -> array of resources */
    int writes, requests;
    char *lines[MAX_LINES];
    unsigned long next_sid;
    char validate[256];  /* Prism's base, or "" */
    char fail_line[256]; /* account_fail_next */
    int fail_status;
    int refused;
    atomic_int read_delay_ms; /* account_delay_reads */
};

static const char *const collections[] = {"numbers",       "services", "sinks",
                                          "subscriptions", "types",    NULL};

static json_t *fresh_state(void)
{
    json_t *s = json_object();
    for (size_t i = 0; collections[i]; i++)
        json_object_set_new(s, collections[i], json_array());
    return s;
}

static const char *str(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static json_t *find(json_t *list, const char *sid)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        if (strcmp(str(json_object_get(r, "sid")), sid) == 0)
            return r;
    }
    return NULL;
}

static void answer(struct mg_connection *conn, int status, const char *body)
{
    char length[32];
    snprintf(length, sizeof length, "%zu", strlen(body));
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_send(conn);
    mg_write(conn, body, strlen(body));
}

static void answer_json(struct mg_connection *conn, int status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    answer(conn, status, text ? text : "{}");
    free(text);
    json_decref(v);
}

static void not_found(struct mg_connection *conn)
{
    answer(conn, 404,
           "{\"code\":20404,\"message\":\"The requested resource was not found\","
           "\"more_info\":\"https://www.twilio.com/docs/errors/20404\",\"status\":404}");
}

/* SmsUrl -> sms_url: how a parameter names its member in Twilio's answers. */
static void snake(const char *param, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = param; *p && n + 2 < size; p++) {
        if (isupper((unsigned char)*p) && p != param)
            out[n++] = '_';
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
}

static long query_long(json_t *q, const char *key, long otherwise)
{
    const char *v = json_string_value(json_object_get(q, key));
    return v ? strtol(v, NULL, 10) : otherwise;
}

/* One page of items (those for which keep says yes) as a v1 list answers it. */
static json_t *v1_page(json_t *items, const char *key, const char *path, json_t *q,
                       const char *filter_key)
{
    long size = query_long(q, "PageSize", 50), page = query_long(q, "Page", 0);
    const char *filter = filter_key ? json_string_value(json_object_get(q, filter_key)) : NULL;
    char member[64];
    json_t *kept = json_array(), *out = json_array();
    size_t i;
    json_t *r;
    if (filter_key)
        snake(filter_key, member, sizeof member);
    json_array_foreach(items, i, r) {
        const char *v = filter ? json_string_value(json_object_get(r, member)) : NULL;
        if (!filter || (v && strcmp(v, filter) == 0))
            json_array_append(kept, r);
    }
    for (long k = page * size; k < (long)json_array_size(kept) && k < (page + 1) * size; k++)
        json_array_append(out, json_array_get(kept, (size_t)k));
    json_t *next = json_null();
    if ((page + 1) * size < (long)json_array_size(kept))
        next = filter ? json_sprintf("https://events.twilio.com%s?PageSize=%ld&Page=%ld&SinkSid=%s"
                                     "&PageToken=PT%ld",
                                     path, size, page + 1, filter, page + 1)
                      : json_sprintf("https://events.twilio.com%s?PageSize=%ld&Page=%ld"
                                     "&PageToken=PT%ld",
                                     path, size, page + 1, page + 1);
    json_decref(kept);
    return json_pack("{s:o, s:{s:i, s:i, s:s, s:o, s:s}}", key, out, "meta", "page", (int)page,
                     "page_size", (int)size, "first_page_url", "https://x", "next_page_url", next,
                     "key", key);
}

static size_t keep(char *p, size_t size, size_t n, void *userdata)
{
    struct buf *b = userdata;
    return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

/* Sends the request to Prism; returns its status (0 when it could not be reached) and body. */
static long prism(const struct account *a, struct mg_connection *conn, const char *body, size_t len,
                  struct buf *answer)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char url[4096], auth[1024];
    long status = 0;
    snprintf(url, sizeof url, "%s%s%s%s", a->validate, ri->local_uri_raw,
             ri->query_string ? "?" : "", ri->query_string ? ri->query_string : "");
    snprintf(auth, sizeof auth, "Authorization: %s", mg_get_header(conn, "Authorization"));
    CURL *h = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, ri->request_method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    /* An empty URL clears a webhook: Twilio accepts it, but the specs' "format: uri" cannot
     * say so, so Prism checks everything else of such a request with a stand-in URL there. */
    struct buf form;
    buf_init(&form, 1u << 20);
    for (const char *p = body; p < body + len;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        buf_append(&form, p, n);
        if (eq && eq + 1 == p + n &&
            (strstr(p, "Url=") == eq - 3 || strstr(p, "Callback=") == eq - 8))
            buf_appendz(&form, "https%3A%2F%2Fcleared.example.com%2F");
        p += n;
        if (p < body + len) {
            buf_append(&form, "&", 1);
            p++;
        }
    }
    if (strcmp(ri->request_method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, buf_str(&form));
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)form.len);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    buf_free(&form);
    return status;
}

static int on_request(struct mg_connection *conn, void *cbdata)
{
    struct account *a = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *m = ri->request_method, *path = ri->local_uri ? ri->local_uri : "";
    char body[16384], seg[5][64], member[64];
    size_t len = 0;
    int n;
    while (len < sizeof body - 1 && (n = mg_read(conn, body + len, sizeof body - 1 - len)) > 0)
        len += (size_t)n;
    body[len] = '\0';
    const char *qs = ri->query_string ? ri->query_string : "";
    json_t *form = form_parse(body, len), *q = form_parse(qs, strlen(qs));
    int post = strcmp(m, "POST") == 0, del = strcmp(m, "DELETE") == 0;

    if (strcmp(m, "GET") == 0 && atomic_load(&a->read_delay_ms) > 0)
        clock_sleep_ms(atomic_load(&a->read_delay_ms));
    pthread_mutex_lock(&a->lock);
    a->requests++;
    if (post || del)
        a->writes++;
    for (size_t i = 0; i < MAX_LINES; i++) {
        if (!a->lines[i]) {
            size_t need = strlen(m) + strlen(path) + strlen(qs) + 3;
            if ((a->lines[i] = malloc(need)))
                snprintf(a->lines[i], need, "%s %s%s%s", m, path, *qs ? "?" : "", qs);
            break;
        }
    }
    if (!mg_get_header(conn, "Authorization")) {
        answer(conn, 401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}");
        goto done;
    }
    if (a->fail_line[0]) {
        char line[600];
        snprintf(line, sizeof line, "%s %s", m, path);
        if (strcmp(line, a->fail_line) == 0) {
            char err[160];
            snprintf(err, sizeof err,
                     "{\"code\":20500,\"message\":\"Internal Server Error\","
                     "\"more_info\":\"https://www.twilio.com/docs/errors/20500\",\"status\":%d}",
                     a->fail_status);
            a->fail_line[0] = '\0';
            answer(conn, a->fail_status, err);
            goto done;
        }
    }
    if (a->validate[0]) {
        struct buf checked;
        buf_init(&checked, 1u << 20);
        long status = prism(a, conn, body, len, &checked);
        if (status == 0 || status >= 400) {
            a->refused++;
            fprintf(stderr, "account: Prism refused %s %s?%s [%s]: HTTP %ld %s\n", m, path, qs,
                    body, status, buf_str(&checked));
            answer(conn, status ? (int)status : 502, status ? buf_str(&checked) : "{}");
            buf_free(&checked);
            goto done;
        }
        buf_free(&checked);
    }
    memset(seg, 0, sizeof seg);
    n = sscanf(path, "/%63[^/]/%63[^/]/%63[^/]/%63[^/]/%63[^/]", seg[0], seg[1], seg[2], seg[3],
               seg[4]);
    json_t *numbers = json_object_get(a->state, "numbers");
    if (n >= 4 && strcmp(seg[0], "2010-04-01") == 0 &&
        strcmp(seg[3], "IncomingPhoneNumbers.json") == 0) {
        const char *want = json_string_value(json_object_get(q, "PhoneNumber"));
        json_t *list = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(numbers, i, r) {
            if (!want || strcmp(json_string_value(json_object_get(r, "phone_number")), want) == 0)
                json_array_append(list, r);
        }
        answer_json(conn, 200,
                    json_pack("{s:o, s:n, s:i}", "incoming_phone_numbers", list, "next_page_uri",
                              "page", 0));
    } else if (n == 5 && strcmp(seg[0], "2010-04-01") == 0 &&
               strcmp(seg[3], "IncomingPhoneNumbers") == 0) {
        char sid[64];
        snprintf(sid, sizeof sid, "%.*s", (int)strcspn(seg[4], "."), seg[4]);
        json_t *r = find(numbers, sid), *v;
        const char *key;
        if (!r) {
            not_found(conn);
            goto done;
        }
        json_object_foreach(post ? form : NULL, key, v) {
            snake(key, member, sizeof member);
            json_object_set(r, member, v);
        }
        answer_json(conn, 200, json_incref(r));
    } else if (n == 3 && strcmp(seg[1], "Services") == 0) {
        json_t *r = find(json_object_get(a->state, "services"), seg[2]), *v;
        const char *key;
        if (!r) {
            not_found(conn);
            goto done;
        }
        json_object_foreach(post ? form : NULL, key, v) {
            snake(key, member, sizeof member);
            json_object_set(r, member, v);
        }
        answer_json(conn, 200, json_incref(r));
    } else if (strcmp(path, "/v1/Sinks") == 0 && post) {
        json_t *cfg = json_loads(str(json_object_get(form, "SinkConfiguration")), 0, NULL);
        json_t *r = json_pack("{s:s, s:s, s:o, s:s, s:s}", "sid", "", "description",
                              str(json_object_get(form, "Description")), "sink_configuration",
                              cfg ? cfg : json_object(), "sink_type",
                              str(json_object_get(form, "SinkType")), "status", "initialized");
        json_object_set_new(r, "sid", json_sprintf("DG%032lx", ++a->next_sid));
        json_array_append(json_object_get(a->state, "sinks"), r);
        answer_json(conn, 201, r);
    } else if (strcmp(path, "/v1/Sinks") == 0) {
        answer_json(conn, 200, v1_page(json_object_get(a->state, "sinks"), "sinks", path, q, NULL));
    } else if (n == 3 && strcmp(seg[1], "Sinks") == 0 && del) {
        json_t *sinks = json_object_get(a->state, "sinks"), *r = find(sinks, seg[2]);
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(a->state, "subscriptions"), i, s) {
            if (strcmp(json_string_value(json_object_get(s, "sink_sid")), seg[2]) == 0) {
                answer(conn, 400,
                       "{\"code\":20001,\"message\":\"Sink has subscriptions\","
                       "\"status\":400}");
                goto done;
            }
        }
        if (!r) {
            not_found(conn);
            goto done;
        }
        json_array_foreach(sinks, i, s) {
            if (s == r) {
                json_array_remove(sinks, i);
                break;
            }
        }
        answer(conn, 204, "");
    } else if (strcmp(path, "/v1/Subscriptions") == 0 && post) {
        json_t *types = json_array(), *given = json_object_get(form, "Types");
        if (json_is_string(given)) {
            json_t *one = json_array();
            json_array_append(one, given);
            given = one;
        } else {
            json_incref(given);
        }
        size_t i;
        json_t *t;
        json_array_foreach(given, i, t) {
            json_t *parsed = json_loads(str(t), 0, NULL);
            json_t *name = json_object_get(parsed, "type");
            if (json_is_string(name))
                json_array_append(types, name);
            json_decref(parsed);
        }
        json_decref(given);
        json_t *r =
            json_pack("{s:o, s:s, s:s, s:o}", "sid", json_sprintf("DF%032lx", ++a->next_sid),
                      "sink_sid", str(json_object_get(form, "SinkSid")), "description",
                      str(json_object_get(form, "Description")), "types", types);
        json_array_append(json_object_get(a->state, "subscriptions"), r);
        answer_json(conn, 201, r);
    } else if (strcmp(path, "/v1/Subscriptions") == 0) {
        answer_json(conn, 200,
                    v1_page(json_object_get(a->state, "subscriptions"), "subscriptions", path, q,
                            "SinkSid"));
    } else if (n == 3 && strcmp(seg[1], "Subscriptions") == 0 && del) {
        json_t *subs = json_object_get(a->state, "subscriptions");
        size_t i;
        json_t *s;
        json_array_foreach(subs, i, s) {
            if (strcmp(json_string_value(json_object_get(s, "sid")), seg[2]) == 0) {
                json_array_remove(subs, i);
                answer(conn, 204, "");
                goto done;
            }
        }
        not_found(conn);
    } else if (n == 4 && strcmp(seg[1], "Subscriptions") == 0 &&
               strcmp(seg[3], "SubscribedEvents") == 0) {
        json_t *s = find(json_object_get(a->state, "subscriptions"), seg[2]);
        if (!s) {
            not_found(conn);
            goto done;
        }
        json_t *types = json_object_get(s, "types");
        if (post) {
            const char *t = str(json_object_get(form, "Type"));
            json_array_append_new(types, json_string(t));
            answer_json(conn, 201,
                        json_pack("{s:s, s:i, s:s}", "type", t, "schema_version", 1,
                                  "subscription_sid", seg[2]));
            goto done;
        }
        json_t *items = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(types, i, t)
            json_array_append_new(items, json_pack("{s:O, s:i, s:s}", "type", t, "schema_version",
                                                   1, "subscription_sid", seg[2]));
        char p[256];
        snprintf(p, sizeof p, "%s", path);
        answer_json(conn, 200, v1_page(items, "types", p, q, NULL));
        json_decref(items);
    } else if (strcmp(path, "/v1/Types") == 0) {
        answer_json(conn, 200, v1_page(json_object_get(a->state, "types"), "types", path, q, NULL));
    } else {
        not_found(conn);
    }
done:
    pthread_mutex_unlock(&a->lock);
    json_decref(form);
    json_decref(q);
    return 1;
}

struct account *account_start(void)
{
    struct account *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    a->state = fresh_state();
    const char *options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "4", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_init_data init = {.callbacks = &cb, .user_data = a, .configuration_options = options};
    a->ctx = mg_start2(&init, NULL);
    if (!a->ctx) {
        account_stop(a);
        return NULL;
    }
    mg_set_request_handler(a->ctx, "/", on_request, a);
    struct mg_server_port port;
    if (mg_get_server_ports(a->ctx, 1, &port) < 1) {
        account_stop(a);
        return NULL;
    }
    a->port = port.port;
    return a;
}

void account_validate(struct account *a, const char *base)
{
    pthread_mutex_lock(&a->lock);
    snprintf(a->validate, sizeof a->validate, "%s", base);
    pthread_mutex_unlock(&a->lock);
}

void account_delay_reads(struct account *a, int ms)
{
    atomic_store(&a->read_delay_ms, ms);
}

void account_fail_next(struct account *a, const char *line, int status)
{
    pthread_mutex_lock(&a->lock);
    snprintf(a->fail_line, sizeof a->fail_line, "%s", line);
    a->fail_status = status;
    pthread_mutex_unlock(&a->lock);
}

int account_refused(struct account *a)
{
    pthread_mutex_lock(&a->lock);
    int n = a->refused;
    pthread_mutex_unlock(&a->lock);
    return n;
}

int account_port(const struct account *a)
{
    return a->port;
}

void account_reset(struct account *a)
{
    pthread_mutex_lock(&a->lock);
    json_decref(a->state);
    a->state = fresh_state();
    a->writes = a->requests = a->refused = 0;
    a->fail_line[0] = '\0';
    a->next_sid = 0;
    atomic_store(&a->read_delay_ms, 0);
    for (size_t i = 0; i < MAX_LINES; i++) {
        free(a->lines[i]);
        a->lines[i] = NULL;
    }
    pthread_mutex_unlock(&a->lock);
}

void account_stop(struct account *a)
{
    if (!a)
        return;
    if (a->ctx)
        mg_stop(a->ctx);
    account_reset(a);
    json_decref(a->state);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void account_add(struct account *a, const char *collection, json_t *resource)
{
    pthread_mutex_lock(&a->lock);
    json_array_append_new(json_object_get(a->state, collection), resource);
    pthread_mutex_unlock(&a->lock);
}

int account_get(struct account *a, const char *collection, const char *sid, const char *key,
                char *out, size_t size)
{
    pthread_mutex_lock(&a->lock);
    json_t *r = find(json_object_get(a->state, collection), sid);
    const char *v = json_string_value(json_object_get(r, key));
    snprintf(out, size, "%s", v ? v : "");
    pthread_mutex_unlock(&a->lock);
    return r ? 0 : -1;
}

void account_set(struct account *a, const char *collection, const char *sid, const char *key,
                 json_t *value)
{
    pthread_mutex_lock(&a->lock);
    json_object_set_new(find(json_object_get(a->state, collection), sid), key, value);
    pthread_mutex_unlock(&a->lock);
}

size_t account_size(struct account *a, const char *collection)
{
    pthread_mutex_lock(&a->lock);
    size_t n = json_array_size(json_object_get(a->state, collection));
    pthread_mutex_unlock(&a->lock);
    return n;
}

json_t *account_copy(struct account *a, const char *collection)
{
    pthread_mutex_lock(&a->lock);
    json_t *c = json_deep_copy(json_object_get(a->state, collection));
    pthread_mutex_unlock(&a->lock);
    return c;
}

int account_writes(struct account *a)
{
    pthread_mutex_lock(&a->lock);
    int n = a->writes;
    pthread_mutex_unlock(&a->lock);
    return n;
}

int account_requests(struct account *a)
{
    pthread_mutex_lock(&a->lock);
    int n = a->requests;
    pthread_mutex_unlock(&a->lock);
    return n;
}

int account_line(struct account *a, size_t i, char *out, size_t size)
{
    pthread_mutex_lock(&a->lock);
    int rc = i < MAX_LINES && a->lines[i] ? 0 : -1;
    if (rc == 0)
        snprintf(out, size, "%s", a->lines[i]);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int account_harness_start(struct harness *h, struct account **a, const char *prism)
{
    struct config cfg;
    harness_config(&cfg);
    *a = account_start();
    if (!*a)
        return -1;
    if (prism) {
        cfg.upstream_timeout_ms = 15000;
        account_validate(*a, prism);
    }
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:%d", account_port(*a));
    return harness_start_with(h, &cfg);
}

void account_harness_stop(struct harness *h, struct account *a)
{
    harness_stop(h);
    account_stop(a);
}

static void *harness_stopper(void *h)
{
    harness_stop(h);
    return NULL;
}

void account_harness_stop_with(struct harness *h, struct account *a, struct harness *other)
{
    pthread_t t;
    int started = pthread_create(&t, NULL, harness_stopper, other) == 0;
    account_harness_stop(h, a);
    if (started)
        pthread_join(t, NULL);
    else
        harness_stop(other);
}

static struct harness *fixture_h;
static struct account **fixture_a;

void account_fixture(struct harness *h, struct account **a)
{
    fixture_h = h;
    fixture_a = a;
}

int account_fixture_setup(void **state)
{
    (void)state;
    return account_harness_start(fixture_h, fixture_a, NULL);
}

int account_fixture_teardown(void **state)
{
    (void)state;
    account_harness_stop(fixture_h, *fixture_a);
    return 0;
}

int account_fixture_reset(void **state)
{
    (void)state;
    account_reset(*fixture_a);
    return 0;
}

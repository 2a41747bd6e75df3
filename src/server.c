#include "server.h"

#include <civetweb.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "envelope.h"
#include "log.h"
#include "twilio.h"

/* Twilio's answers are small; a cap keeps a misbehaving upstream from exhausting memory. */
#define MAX_UPSTREAM_BYTES (4u << 20)

struct server {
    struct config cfg;
    const struct block_set *blocks;
    struct mg_context *ctx;
    int port;
};

struct outcome {
    const char *block;
    const char *what;
    long upstream_status;
};

static void *init_thread(const struct mg_context *ctx, int thread_type)
{
    (void)ctx;
    return thread_type == 1 ? curl_easy_init() : NULL; /* 1: a worker thread */
}

static void exit_thread(const struct mg_context *ctx, int thread_type, void *pointer)
{
    (void)ctx;
    if (thread_type == 1 && pointer)
        curl_easy_cleanup(pointer);
}

static int reply(struct mg_connection *conn, int status, const char *body, size_t len,
                 const char *allow)
{
    char length[32];
    snprintf(length, sizeof length, "%zu", len);
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (allow)
        mg_response_header_add(conn, "Allow", allow, -1);
    mg_response_header_send(conn);
    if (strcmp(mg_get_request_info(conn)->request_method, "HEAD") != 0)
        mg_write(conn, body, len);
    return status;
}

/* Sends an error envelope, or a bare JSON error when even that cannot be built. */
static int reply_error(struct mg_connection *conn, int status, const char *code, const char *msg,
                       json_t *extra, const char *allow)
{
    size_t len = 0;
    char *body = envelope_error(code, msg, extra, &len);
    if (!body) {
        static const char oom[] = "{\"callback\":\"error\",\"contextWrites\":{\"to\":{"
                                  "\"status_code\":\"INTERNAL_PACKAGE_ERROR\","
                                  "\"status_msg\":\"out of memory\"}}}";
        return reply(conn, status, oom, sizeof oom - 1, allow);
    }
    reply(conn, status, body, len, allow);
    free(body);
    return status;
}

/* Sends and frees a 200 envelope; len is read after body was built. */
static int reply_owned(struct mg_connection *conn, char *body, const size_t *len)
{
    if (!body)
        return reply_error(conn, 200, "INTERNAL_PACKAGE_ERROR", "out of memory", NULL, NULL);
    reply(conn, 200, body, *len, NULL);
    free(body);
    return 200;
}

/* Reads the whole body into out (capped by MAX_BODY_BYTES). Returns 0, 1 when it is too
 * large, or -1 when the client went away. */
static int read_body(struct mg_connection *conn, const struct server *s, struct buf *out)
{
    long long declared = mg_get_request_info(conn)->content_length;
    if (declared > s->cfg.max_body_bytes)
        return 1;
    char chunk[16384];
    for (;;) {
        int n = mg_read(conn, chunk, sizeof chunk);
        if (n == 0)
            return 0;
        if (n < 0)
            return -1;
        if (buf_append(out, chunk, (size_t)n) < 0)
            return 1;
    }
}

static int reply_too_large(struct mg_connection *conn, const struct server *s)
{
    char msg[128];
    snprintf(msg, sizeof msg, "The request body is larger than %ld bytes (MAX_BODY_BYTES).",
             s->cfg.max_body_bytes);
    mg_disable_connection_keep_alive(conn); /* the rest of the body is never read */
    return reply_error(conn, 413, "PAYLOAD_TOO_LARGE", msg, NULL, NULL);
}

static int call_twilio(struct mg_connection *conn, const struct server *s,
                       const struct block_def *b, const struct prepared *prep,
                       struct outcome *oc)
{
    struct buf url;
    struct twilio_response rs;
    char *body = NULL;
    size_t len = 0;
    CURL *own = NULL;
    CURL *h = mg_get_thread_pointer(conn);
    buf_init(&url, 1u << 20);
    twilio_response_init(&rs, MAX_UPSTREAM_BYTES);
    if (!h)
        h = own = curl_easy_init();
    int get = strcmp(b->method, "GET") == 0;
    if (!h || buf_appendz(&url, s->cfg.api_base) < 0 || buf_appendz(&url, buf_str(&prep->path)) < 0 ||
        (get && prep->form.len &&
         (buf_append(&url, "?", 1) < 0 || buf_append(&url, prep->form.data, prep->form.len) < 0))) {
        oc->what = "internal_error";
        body = envelope_error("INTERNAL_PACKAGE_ERROR", "out of memory", NULL, &len);
        goto done;
    }
    struct twilio_request rq = {
        .method = b->method,
        .base = s->cfg.api_base,
        .url = buf_str(&url),
        .username = buf_str(&prep->username),
        .password = buf_str(&prep->password),
        .form = get ? "" : buf_str(&prep->form),
        .form_len = get ? 0 : prep->form.len,
        .timeout_ms = s->cfg.upstream_timeout_ms,
        .connect_timeout_ms = s->cfg.connect_timeout_ms,
        .allow_http = strncmp(s->cfg.api_base, "http://", 7) == 0,
    };
    if (twilio_perform(h, &rq, &rs) < 0) {
        oc->what = "upstream_unreachable";
        body = envelope_error("INTERNAL_PACKAGE_ERROR", rs.error, NULL, &len);
        goto done;
    }
    oc->upstream_status = rs.status;
    if (rs.status >= 200 && rs.status < 300) {
        json_t *resource = rs.body.len ? json_loadb(rs.body.data, rs.body.len, 0, NULL) : NULL;
        if (rs.status == 204 || (rs.body.len == 0 && rs.status != 201)) {
            oc->what = "success";
            body = envelope_success_raw("{}", 2, &len);
        } else if (json_is_object(resource)) {
            oc->what = "success";
            body = envelope_success_raw(rs.body.data, rs.body.len, &len);
        } else {
            char msg[256];
            oc->what = "upstream_bad_body";
            snprintf(msg, sizeof msg,
                     "Twilio answered HTTP %ld but its body is not a JSON object; the request "
                     "may have succeeded",
                     rs.status);
            body = envelope_error("INTERNAL_PACKAGE_ERROR", msg, NULL, &len);
        }
        json_decref(resource);
    } else {
        oc->what = "api_error";
        body = envelope_api_error(rs.status, b->action, rs.body.data ? rs.body.data : "",
                                  rs.body.len, rs.content_type, &len);
    }
done:
    if (own)
        curl_easy_cleanup(own);
    twilio_response_free(&rs);
    buf_free(&url);
    return reply_owned(conn, body, &len);
}

static int run_block(struct mg_connection *conn, const struct server *s, const struct block_def *b,
                     struct outcome *oc)
{
    struct buf in;
    struct prepared prep;
    json_error_t jerr;
    json_t *root = NULL, *reasons = NULL;
    size_t len = 0;
    int status;
    buf_init(&in, (size_t)s->cfg.max_body_bytes);
    int rd = read_body(conn, s, &in);
    if (rd != 0) {
        oc->what = rd > 0 ? "too_large" : "client_gone";
        status = rd > 0 ? reply_too_large(conn, s) : 400;
        goto done;
    }
    root = json_loadb(in.data ? in.data : "", in.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        oc->what = "bad_json";
        status = reply_owned(conn, envelope_bad_body(&jerr, &len), &len);
        goto done;
    }
    json_t *args = json_object_get(root, "args");
    if (!json_is_object(root) || (args && !json_is_object(args) && !json_is_null(args))) {
        oc->what = "bad_json";
        status = reply_error(conn, 200, "JSON_VALIDATION",
                             json_is_object(root) ? "\"args\" must be a JSON object."
                                                  : "The request body must be a JSON object.",
                             NULL, NULL);
        goto done;
    }
    if (!json_is_object(args))
        args = root;
    size_t form_cap = (size_t)s->cfg.max_body_bytes * 3 + 65536;
    enum args_status rc = args_prepare(b, args, form_cap, &prep, &reasons);
    if (rc == ARGS_OK) {
        status = call_twilio(conn, s, b, &prep, oc);
        prepared_free(&prep);
    } else if (rc == ARGS_INVALID || rc == ARGS_BAD_JSON) {
        oc->what = "invalid_args";
        status = reply_owned(conn, envelope_fields(reasons, rc == ARGS_BAD_JSON, &len), &len);
    } else {
        oc->what = "internal_error";
        status = reply_error(conn, 200, "INTERNAL_PACKAGE_ERROR", "out of memory", NULL, NULL);
    }
done:
    json_decref(reasons);
    json_decref(root);
    buf_free(&in);
    return status;
}

static int has_prefix(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return 0;
    *rest = s + n;
    return 1;
}

/* Copies a caller-supplied path for a log line: printable ASCII only, bounded. */
static void safe_copy(char *out, size_t size, const char *in)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = in[i] > 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[i] = '\0';
}

static int route(struct mg_connection *conn, const struct server *s, struct outcome *oc)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *method = ri->request_method;
    const char *uri = ri->local_uri ? ri->local_uri : "";
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const char *rest;

    if (strcmp(uri, "/healthz") == 0) {
        oc->what = get ? "health" : "method_not_allowed";
        if (!get)
            return reply_error(conn, 405, "METHOD_NOT_ALLOWED", "Use GET.", NULL, "GET, HEAD");
        return reply(conn, 200, "{\"status\":\"ok\"}", 15, NULL);
    }
    if (!has_prefix(uri, "/api/twilio", &rest) && !has_prefix(uri, "/api/Twilio", &rest)) {
        oc->what = "not_found";
        return reply_error(conn, 404, "NOT_FOUND",
                           "No such route. Blocks are at POST /api/twilio/<block>; the package "
                           "metadata is at GET /api/twilio.",
                           NULL, NULL);
    }
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        oc->what = get ? "metadata" : "method_not_allowed";
        if (!get)
            return reply_error(conn, 405, "METHOD_NOT_ALLOWED",
                               "The package metadata is read with GET.", NULL, "GET, HEAD");
        size_t len;
        const char *meta = block_metadata(s->blocks, &len);
        return reply(conn, 200, meta, len, NULL);
    }
    if (rest[0] != '/') {
        oc->what = "not_found";
        return reply_error(conn, 404, "NOT_FOUND", "No such route.", NULL, NULL);
    }
    const char *name = rest + 1;
    size_t name_len = strlen(name);
    if (name_len && name[name_len - 1] == '/')
        name_len--;
    const struct block_def *b = block_find(s->blocks, name, name_len);
    if (!b) {
        struct buf msg;
        buf_init(&msg, 4096);
        buf_appendz(&msg, "No block with that name. Blocks:");
        for (size_t i = 0; i < block_count(s->blocks); i++)
            buf_appendf(&msg, "%s %s", i ? "," : "", block_at(s->blocks, i)->name);
        buf_appendz(&msg, ".");
        oc->what = "unknown_block";
        int status = reply_error(conn, 404, "UNKNOWN_BLOCK", buf_str(&msg), NULL, NULL);
        buf_free(&msg);
        return status;
    }
    oc->block = b->name;
    if (strcmp(method, "POST") != 0) {
        oc->what = "method_not_allowed";
        return reply_error(conn, 405, "METHOD_NOT_ALLOWED", "A block is called with POST.", NULL,
                           "POST");
    }
    return run_block(conn, s, b, oc);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

static int on_request(struct mg_connection *conn, void *cbdata)
{
    const struct server *s = cbdata;
    struct outcome oc = {.block = "-", .what = "-", .upstream_status = 0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = route(conn, s, &oc);
    if (log_enabled(LOG_INFO)) {
        const struct mg_request_info *ri = mg_get_request_info(conn);
        char path[128];
        safe_copy(path, sizeof path, ri->local_uri ? ri->local_uri : "");
        log_msg(LOG_INFO, "%s %s status=%d block=%s outcome=%s upstream_status=%ld ms=%ld",
                ri->request_method, path, status, oc.block, oc.what, oc.upstream_status,
                elapsed_ms(&t0));
    }
    return status;
}

struct server *server_start(const struct config *cfg, const struct block_set *blocks, char *err,
                            size_t errlen)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->blocks = blocks;
    char ports[300], threads[32];
    if (strchr(cfg->bind, ':'))
        snprintf(ports, sizeof ports, "[%s]:%ld", cfg->bind, cfg->port);
    else
        snprintf(ports, sizeof ports, "%s:%ld", cfg->bind, cfg->port);
    snprintf(threads, sizeof threads, "%ld", cfg->threads);
    const char *options[] = {"listening_ports", ports,
                             "num_threads", threads,
                             "enable_keep_alive", "yes",
                             "keep_alive_timeout_ms", "5000",
                             "request_timeout_ms", "30000",
                             "tcp_nodelay", "1",
                             "max_request_size", "16384",
                             NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.init_thread = init_thread;
    callbacks.exit_thread = exit_thread;
    struct mg_init_data init = {.callbacks = &callbacks, .user_data = s,
                                .configuration_options = options};
    char text[256] = "";
    struct mg_error_data error = {.text = text, .text_buffer_size = sizeof text};
    s->ctx = mg_start2(&init, &error);
    if (!s->ctx) {
        snprintf(err, errlen, "cannot listen on %s: %s", ports, text[0] ? text : "unknown error");
        free(s);
        return NULL;
    }
    mg_set_request_handler(s->ctx, "/", on_request, s);
    struct mg_server_port port;
    if (mg_get_server_ports(s->ctx, 1, &port) >= 1)
        s->port = port.port;
    return s;
}

int server_port(const struct server *s)
{
    return s->port;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    mg_stop(s->ctx);
    free(s);
}

#include "server.h"

#include <civetweb.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "campaign.h"
#include "clock.h"
#include "deadline.h"
#include "envelope.h"
#include "jsonparse.h"
#include "listensock.h"
#include "log.h"
#include "mcp.h"
#include "memtune.h"
#include "metrics.h"
#include "pipeline.h"
#include "reqid.h"
#include "request.h"
#include "status.h"
#include "suggest.h"

/* Buffer caps: a text built here whole (no cap), /metrics, and a message. */
#define SERVER_UNCAPPED ((size_t)-1)
#define SERVER_METRICS_CAP (4u << 20)
#define SERVER_MSG_CAP 4096

/* A connection that sends nothing stays in the kernel this long before a worker sees it (Linux
 * rounds up to its SYN-ACK retransmission times: accepted after about 63 s). */
#define DEFER_ACCEPT_S 60
/* "Every worker is taken" is logged at most this often. */
#define FULL_WARN_EVERY_MS 60000
/* An unread body is drained for at most this long after the reply, in pieces of this size. */
#define LINGER_MS 2000
#define LINGER_SCRAP 16384

struct server {
    atomic_int in_flight;           /* requests inside on_request */
    struct service *svc;            /* given: it outlives the server */
    const struct config *cfg;       /* the service's */
    const struct block_set *blocks; /* the service's */
    struct mg_context *ctx;
    int port;
    struct metrics metrics;
    struct listensock listener; /* civetweb's listening sockets */
    atomic_long warned_full_ms; /* when "every worker is taken" was last logged */
};

struct outcome {
    const char *block;
    const char *what;
    struct metrics_figures figures; /* what the block call cost at Twilio */
    char request_id[REQID_MAX + 1]; /* sent back on every reply */
    int closing;                    /* the reply ends the connection */
    int unread;                     /* ... before its body was read: linger after it */
};

/* Each worker thread owns one curl handle, made on its first Twilio call (idle workers cost no
 * handle) and kept for the thread's life; it carries the transfer's options, while the
 * connections live with the handles upstream.c lends and its loops (or, with UPSTREAM_LOOPS=0,
 * in this handle's own cache). A worker holds one client connection at a time. */
struct worker {
    struct server *s;
    CURL *curl;
    int holding;            /* a client connection, counted in workers_busy */
    unsigned long requests; /* on the connection held, this one included */
};

static void *init_thread(const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1) /* 1: a worker */
        return NULL;
    struct worker *w = calloc(1, sizeof *w);
    if (w)
        w->s = mg_get_user_data(ctx);
    memtune_release_stack(); /* below here: only the dead frames of this thread's first malloc */
    return w;
}

static void exit_thread(const struct mg_context *ctx, int thread_type, void *pointer)
{
    (void)ctx;
    struct worker *w = pointer;
    if (thread_type == 1 && w) {
        if (w->curl)
            curl_easy_cleanup(w->curl);
        free(w);
    }
}

static void warn_every_worker_taken(struct server *s)
{
    long now = clock_ms(), last = atomic_load(&s->warned_full_ms);
    if ((last && now - last < FULL_WARN_EVERY_MS) ||
        !atomic_compare_exchange_strong(&s->warned_full_ms, &last, now))
        return;
    log_msg(LOG_WARN,
            "every worker is taken (THREADS=%ld): new connections wait in the listen queue "
            "(%ld now), and replies close their connections until workers are free",
            s->cfg->threads, listensock_queued(&s->listener));
}

/* civetweb calls this on the worker that takes a new connection, before its first byte is
 * read, and on_connection_close on the same worker when the connection ends. */
static int on_connection_open(const struct mg_connection *conn, void **conn_data)
{
    struct worker *w = mg_get_thread_pointer(conn);
    *conn_data = NULL;
    if (w && !w->holding) {
        w->holding = 1;
        w->requests = 0;
        if (metrics_connection_taken(&w->s->metrics) >= w->s->cfg->threads)
            warn_every_worker_taken(w->s);
    }
    return 0;
}

static void on_connection_close(const struct mg_connection *conn)
{
    struct worker *w = mg_get_thread_pointer(conn);
    if (w && w->holding) {
        w->holding = 0;
        metrics_connection_left(&w->s->metrics);
    }
}

/* Whether a worker may keep its connection after a reply, waiting for the next request. While
 * workers are plentiful, yes. When fewer than one in 64 is free, only a connection that has
 * already carried a request before this one keeps its worker: a new one may make one call and
 * then sit idle for KEEP_ALIVE_TIMEOUT_MS. When none is free, no connection does, so that
 * callers waiting in the listen queue get their turn. */
static int worker_may_stay(struct worker *w)
{
    long free_now = w->s->cfg->threads - metrics_workers_busy(&w->s->metrics);
    long scarce = w->s->cfg->threads / 64;
    if (free_now <= 0)
        return 0;
    return free_now >= scarce || w->requests > 1;
}

/* The worker's slot for its curl handle, filled on its first Twilio call; NULL off a worker. */
static CURL **worker_curl(struct mg_connection *conn)
{
    struct worker *w = mg_get_thread_pointer(conn);
    return w ? &w->curl : NULL;
}

/* Whether the client may send another request on this connection, decided as civetweb decides
 * it: a client's Connection header is obeyed, otherwise HTTP/1.1 keeps the connection. */
static int client_keeps_alive(const struct mg_connection *conn, const struct outcome *oc)
{
    if (oc && oc->closing)
        return 0;
    const char *h = mg_get_header(conn, "Connection");
    if (h) {
        while (*h) {
            h += strspn(h, " \t,");
            size_t n = strcspn(h, ",");
            size_t t = n;
            while (t && (h[t - 1] == ' ' || h[t - 1] == '\t'))
                t--;
            if (t == 10 && strncasecmp(h, "keep-alive", 10) == 0)
                return 1;
            h += n;
        }
        return 0;
    }
    const char *v = mg_get_request_info(conn)->http_version;
    return v && strcmp(v, "1.1") == 0;
}

/* The reply says "Connection: close", and civetweb closes the connection after it. */
static void close_after_reply(struct mg_connection *conn)
{
    struct outcome *oc = mg_get_user_connection_data(conn);
    if (oc)
        oc->closing = 1;
    mg_disable_connection_keep_alive(conn);
}

/* As close_after_reply, for a reply sent before the body was read (or all of it). */
static void close_unread(struct mg_connection *conn, struct outcome *oc)
{
    close_after_reply(conn);
    oc->unread = 1;
}

/* Whether the connection stays open after this reply: the client's wish, unless workers are
 * scarce (worker_may_stay); then the reply says so and civetweb closes it. */
static int keeps_alive(struct mg_connection *conn, const struct outcome *oc)
{
    if (!client_keeps_alive(conn, oc))
        return 0;
    struct worker *w = mg_get_thread_pointer(conn);
    if (w && w->holding && !worker_may_stay(w)) {
        metrics_closed_early(&w->s->metrics);
        close_after_reply(conn);
        return 0;
    }
    return 1;
}

/* Sends a reply with an exact Content-Length, so keep-alive survives, and the request's
 * X-Request-Id; extra is NULL or a NULL-terminated list of header name/value pairs. Head and
 * body go out in one write: civetweb's header API sends every line on its own, which costs a
 * syscall and a packet each. */
static int reply_typed(struct mg_connection *conn, int status, const char *type, const char *body,
                       size_t len, const char *const *extra)
{
    const struct outcome *oc = mg_get_user_connection_data(conn);
    int head_only = strcmp(mg_get_request_info(conn)->request_method, "HEAD") == 0;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    struct buf out;

    if (!gmtime_r(&now, &tm) || !strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        date[0] = '\0';
    buf_init(&out, SERVER_UNCAPPED);
    int bad = buf_appendf(&out,
                          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                          "Cache-Control: no-store\r\n",
                          status, mg_get_response_code_text(conn, status), type, len);
    if (oc && oc->request_id[0])
        bad |= buf_appendf(&out, "X-Request-Id: %s\r\n", oc->request_id);
    for (; extra && extra[0]; extra += 2)
        bad |= buf_appendf(&out, "%s: %s\r\n", extra[0], extra[1]);
    if (date[0])
        bad |= buf_appendf(&out, "Date: %s\r\n", date);
    bad |=
        buf_appendf(&out, "Connection: %s\r\n\r\n", keeps_alive(conn, oc) ? "keep-alive" : "close");
    if (!head_only)
        bad |= buf_append(&out, body, len);
    if (bad) {
        /* Out of memory: a reply without a complete head cannot be framed, so end the
         * connection instead. */
        close_after_reply(conn);
    } else {
        mg_write(conn, out.data, out.len);
    }
    buf_free(&out);
    return status;
}

static int reply(struct mg_connection *conn, int status, const char *body, size_t len,
                 const char *const *extra)
{
    return reply_typed(conn, status, "application/json", body, len, extra);
}

/* Sends an error envelope, or a fixed one when even that cannot be built. */
static int reply_error(struct mg_connection *conn, int status, const char *code, const char *msg,
                       const char *const *extra)
{
    size_t len = 0;
    char *body = envelope_error(code, msg, NULL, &len);
    if (!body) {
        static const char oom[] = "{\"callback\":\"error\",\"contextWrites\":{\"to\":{"
                                  "\"status_code\":\"INTERNAL_PACKAGE_ERROR\","
                                  "\"status_msg\":\"out of memory\"}}}";
        return reply(conn, status, oom, sizeof oom - 1, extra);
    }
    reply(conn, status, body, len, extra);
    free(body);
    return status;
}

/* Sends and frees a 200 envelope; len is read after body was built. */
static int reply_owned(struct mg_connection *conn, char *body, const size_t *len,
                       const char *const *extra)
{
    if (!body)
        return reply_error(conn, 200, STATUS_INTERNAL, "out of memory", extra);
    reply(conn, 200, body, *len, extra);
    free(body);
    return 200;
}

enum body_status { BODY_OK, BODY_TOO_LARGE, BODY_TOO_SLOW, BODY_BROKEN };

static enum body_status read_body_until(struct mg_connection *conn, long long declared,
                                        long deadline, struct buf *out);

/* Reads the whole body into out, capped at MAX_BODY_BYTES and BODY_TIMEOUT_MS in total, so a
 * drip-fed body, chunked or not, cannot hold a worker. A declared length over the cap is
 * refused before a byte is read. civetweb's read waits as long as bytes keep coming, so the
 * deadline interrupts it (deadline.h) rather than waiting for it to return. */
static enum body_status read_body(struct mg_connection *conn, const struct server *s,
                                  struct buf *out)
{
    long long declared = mg_get_request_info(conn)->content_length;
    if (declared > s->cfg->max_body_bytes)
        return BODY_TOO_LARGE;
    const long deadline = clock_ms() + s->cfg->body_timeout_ms;
    deadline_arm(s->cfg->body_timeout_ms);
    enum body_status st = read_body_until(conn, declared, deadline, out);
    deadline_disarm();
    return st;
}

/* read_body's loop; a read blocked past the deadline is interrupted by the watchdog. */
static enum body_status read_body_until(struct mg_connection *conn, long long declared,
                                        long deadline, struct buf *out)
{
    /* Read in place, not through a buffer on the stack: a thousand workers' stacks add up. */
    for (;;) {
        size_t want = out->max - out->len < 4096 ? out->max - out->len : 4096;
        if (declared >= 0 && (size_t)declared - out->len < want)
            want = (size_t)declared - out->len;
        char probe; /* nothing left to want: a byte more means the body passes the cap */
        char *at = want ? buf_prepare(out, want) : &probe;
        if (!at)
            return BODY_TOO_LARGE;
        int n = mg_read(conn, at, want ? want : 1);
        if (n == 0 && declared >= 0 && out->len < (size_t)declared) {
            if (clock_ms() >= deadline)
                return BODY_TOO_SLOW;
            continue; /* the read timed out before the declared length came */
        }
        if (n == 0)
            return BODY_OK;
        if (n < 0)
            return clock_ms() >= deadline ? BODY_TOO_SLOW : BODY_BROKEN;
        if (!want)
            return BODY_TOO_LARGE;
        buf_commit(out, (size_t)n);
        if (clock_ms() >= deadline)
            return BODY_TOO_SLOW;
    }
}

static int reply_body_problem(struct mg_connection *conn, const struct server *s,
                              enum body_status st, struct outcome *oc)
{
    char msg[160];
    /* The rest of the body is never read, so this connection cannot carry another request. */
    close_after_reply(conn);
    if (st == BODY_TOO_LARGE) {
        oc->what = "too_large";
        oc->unread = 1;
        snprintf(msg, sizeof msg, "The request body is larger than %ld bytes (MAX_BODY_BYTES).",
                 s->cfg->max_body_bytes);
        return reply_error(conn, 413, STATUS_PAYLOAD_TOO_LARGE, msg, NULL);
    }
    if (st == BODY_TOO_SLOW) {
        oc->what = "too_slow";
        snprintf(msg, sizeof msg,
                 "The request body did not arrive within %ld ms (BODY_TIMEOUT_MS).",
                 s->cfg->body_timeout_ms);
        return reply_error(conn, 408, STATUS_REQUEST_TIMEOUT, msg, NULL);
    }
    oc->what = "client_gone";
    return reply_error(conn, 400, STATUS_BAD_REQUEST, "The request body could not be read.", NULL);
}

/* JSON, or no Content-Type at all: workflow tools are not always careful to send one. */
static int json_content_type(const char *ct)
{
    if (!ct || !*ct)
        return 1;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Compares in time that depends only on the expected secret's length. */
static int secret_matches(const char *given, const char *want)
{
    size_t g = given ? strlen(given) : 0, w = strlen(want);
    unsigned char diff = g != w;
    for (size_t i = 0; i < w; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < g ? given[i] : 0);
    return diff == 0;
}

/* Refuses what HTTP itself gets wrong before the body is touched. Returns 0 to go on, or the
 * status already sent. */
/* How many times the request carries header name. civetweb reads the first and ignores the
 * rest, which a proxy in front may have read differently: the way requests are smuggled. */
static int header_count(struct mg_connection *conn, const char *name)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    int n = 0;
    for (int i = 0; i < ri->num_headers; i++)
        n += strcasecmp(ri->http_headers[i].name, name) == 0;
    return n;
}

static int check_request(struct mg_connection *conn, const struct server *s, struct outcome *oc)
{
    if (header_count(conn, "Content-Length") > 1 || header_count(conn, "Transfer-Encoding") > 1) {
        oc->what = "bad_request";
        close_after_reply(conn);
        return reply_error(conn, 400, STATUS_BAD_REQUEST,
                           "A request may carry Content-Length and Transfer-Encoding at most "
                           "once each.",
                           NULL);
    }
    if (mg_get_header(conn, "Transfer-Encoding") && mg_get_header(conn, "Content-Length")) {
        oc->what = "bad_request";
        close_after_reply(conn);
        return reply_error(conn, 400, STATUS_BAD_REQUEST,
                           "A request may not carry both Content-Length and Transfer-Encoding.",
                           NULL);
    }
    if (s->cfg->proxy_secret[0] &&
        !secret_matches(mg_get_header(conn, "X-RapidAPI-Proxy-Secret"), s->cfg->proxy_secret)) {
        oc->what = "unauthorized";
        close_unread(conn, oc);
        return reply_error(conn, 401, STATUS_UNAUTHORIZED,
                           "Missing or wrong X-RapidAPI-Proxy-Secret header.", NULL);
    }
    if (!json_content_type(mg_get_header(conn, "Content-Type"))) {
        oc->what = "unsupported_media_type";
        close_unread(conn, oc);
        return reply_error(conn, 415, STATUS_UNSUPPORTED_MEDIA_TYPE,
                           "Send the args as JSON with Content-Type: application/json.", NULL);
    }
    return 0;
}

static int run_block(struct mg_connection *conn, const struct server *s, const struct block_def *b,
                     struct outcome *oc)
{
    struct buf in;
    struct jsonparse_error jerr;
    json_t *root = NULL;
    size_t len = 0;
    int status = check_request(conn, s, oc);
    if (status)
        return status;
    buf_init(&in, (size_t)s->cfg->max_body_bytes);
    enum body_status st = read_body(conn, s, &in);
    if (st != BODY_OK) {
        status = reply_body_problem(conn, s, st, oc);
        goto done;
    }
    json_t *args = NULL;
    char msg[320], why[240];
    enum request_shape shape = request_parse_body(buf_str(&in), in.len, &root, &args, &jerr);
    if (shape != REQUEST_PARSED) {
        oc->what = "bad_json";
        if (shape == REQUEST_NOT_JSON) {
            status = reply_owned(conn, envelope_bad_body_in(buf_str(&in), in.len, &jerr.json, &len),
                                 &len, NULL);
            goto done;
        }
        if (shape == REQUEST_TOO_BIG)
            snprintf(msg, sizeof msg, "The request body %s.",
                     jsonparse_fault_text(&jerr, why, sizeof why));
        else
            snprintf(msg, sizeof msg, "%s",
                     shape == REQUEST_ARGS_NOT_OBJECT ? "\"args\" must be a JSON object."
                                                      : "The request body must be a JSON object.");
        status = reply_error(conn, 200, STATUS_JSON_VALIDATION, msg, NULL);
        goto done;
    }
    struct call_answer a;
    pipeline_run(&s->svc->calls, b, args, worker_curl(conn), mg_get_header(conn, "Idempotency-Key"),
                 &a);
    oc->what = a.what;
    oc->figures = a.figures;
    status = a.body ? reply(conn, a.status, a.body, a.len, a.headers)
                    : reply_error(conn, a.status, STATUS_INTERNAL, "out of memory", a.headers);
    free(a.body);
done:
    json_decref(root);
    buf_free(&in);
    return status;
}

/* /mcp (mcp.h): the Origin first (DNS rebinding), then a POST is checked, capped and timed
 * like a block call, and a tool call's outcome is logged and counted as the block's. */
static int serve_mcp(struct mg_connection *conn, const struct server *s, struct outcome *oc)
{
    const char *method = mg_get_request_info(conn)->request_method;
    struct mcp_reply r;
    struct buf in;
    int status = 0;
    buf_init(&in, (size_t)s->cfg->max_body_bytes);
    if (!mcp_origin_allowed(mg_get_header(conn, "Origin"), s->cfg->mcp_allowed_origins)) {
        mcp_forbidden(&r);
    } else {
        if (strcmp(method, "POST") == 0 && (status = check_request(conn, s, oc)) != 0)
            goto done;
        enum body_status st = strcmp(method, "POST") == 0 ? read_body(conn, s, &in) : BODY_OK;
        if (st != BODY_OK) {
            status = reply_body_problem(conn, s, st, oc);
            goto done;
        }
        struct mcp_request rq = {.method = method,
                                 .query = mg_get_request_info(conn)->query_string,
                                 .protocol_version = mg_get_header(conn, "MCP-Protocol-Version"),
                                 .authorization = mg_get_header(conn, "Authorization"),
                                 .account_sid = mg_get_header(conn, "X-Twilio-Account-Sid"),
                                 .accept = mg_get_header(conn, "Accept"),
                                 .body = buf_str(&in),
                                 .len = in.len};
        struct mcp_service m = {.svc = &s->svc->calls, .tools = s->svc->mcp_tools};
        mcp_serve(&m, &rq, worker_curl(conn), &r);
    }
    oc->what = r.what;
    if (r.block) {
        oc->block = r.block;
        oc->figures = r.call.figures;
    }
    if (r.body || r.status == 202)
        status = reply(conn, r.status, r.body ? r.body : "", r.len, r.headers);
    else
        status = reply_error(conn, 500, STATUS_INTERNAL, "out of memory", NULL);
    free(r.body);
done:
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

/* Copies a caller-supplied string for a log line: printable ASCII only, bounded. */
static void safe_copy(char *out, size_t size, const char *in)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = in[i] > 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[i] = '\0';
}

static int reply_metrics(struct mg_connection *conn, const struct server *s)
{
    /* Counters change under everyone's feet anyway: reading them is not a const operation. */
    struct metrics *m = (struct metrics *)&s->metrics;
    struct buf text;
    buf_init(&text, SERVER_METRICS_CAP);
    int status = metrics_render(m, listensock_queued(&s->listener), &text) == 0 &&
                         campaign_metrics(&text) == 0
                     ? reply_typed(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
                                   buf_str(&text), text.len, NULL)
                     : reply_error(conn, 500, STATUS_INTERNAL, "out of memory", NULL);
    buf_free(&text);
    return status;
}

/* What to say about a name that is no block: the nearest block or event ("did you mean"), then
 * every route a caller can POST to. */
static void unknown_block_message(const struct block_set *set, const char *name, size_t len,
                                  struct buf *msg)
{
    const char *names[128];
    size_t n = 0;
    for (size_t i = 0; i < block_count(set) && n < sizeof names / sizeof names[0]; i++)
        names[n++] = block_at(set, i)->name;
    size_t blocks = n;
    for (size_t i = 0; i < block_event_count(set) && n < sizeof names / sizeof names[0]; i++)
        names[n++] = block_event_at(set, i)->name;
    long near = suggest_nearest(name, len, names, n);
    buf_appendz(msg, "No block with that name.");
    if (near >= 0)
        buf_appendf(msg, " Did you mean %s?", names[near]);
    buf_appendz(msg, " Blocks:");
    for (size_t i = 0; i < blocks; i++)
        buf_appendf(msg, "%s %s", i ? "," : "", names[i]);
    for (size_t i = blocks; i < n; i++)
        buf_appendf(msg, "%s %s", i > blocks ? "," : "; events:", names[i]);
    buf_appendz(msg, ".");
}

static int route(struct mg_connection *conn, const struct server *s, struct outcome *oc)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *method = ri->request_method;
    const char *uri = ri->local_uri ? ri->local_uri : "";
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    static const char *const allow_get[] = {"Allow", "GET, HEAD", NULL};
    static const char *const allow_post[] = {"Allow", "POST", NULL};
    const char *rest;

    if (strcmp(uri, "/healthz") == 0) {
        oc->what = get ? "health" : "method_not_allowed";
        if (!get)
            return reply_error(conn, 405, STATUS_METHOD_NOT_ALLOWED, "Use GET.", allow_get);
        return reply(conn, 200, "{\"status\":\"ok\"}", 15, NULL);
    }
    if (strcmp(uri, "/metrics") == 0) {
        oc->what = get ? "metrics" : "method_not_allowed";
        if (!get)
            return reply_error(conn, 405, STATUS_METHOD_NOT_ALLOWED, "Use GET.", allow_get);
        return reply_metrics(conn, s);
    }
    if (strcmp(uri, "/mcp") == 0)
        return serve_mcp(conn, s, oc);
    if (!has_prefix(uri, "/api/twilio", &rest) && !has_prefix(uri, "/api/Twilio", &rest)) {
        oc->what = "not_found";
        return reply_error(conn, 404, STATUS_NOT_FOUND,
                           "No such route. Blocks are at POST /api/twilio/<block>; the package "
                           "metadata is at GET /api/twilio.",
                           NULL);
    }
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        oc->what = get ? "metadata" : "method_not_allowed";
        if (!get)
            return reply_error(conn, 405, STATUS_METHOD_NOT_ALLOWED,
                               "The package metadata is read with GET.", allow_get);
        size_t len;
        const char *meta = block_metadata(s->blocks, &len);
        return reply(conn, 200, meta, len, NULL);
    }
    if (rest[0] != '/') {
        oc->what = "not_found";
        return reply_error(conn, 404, STATUS_NOT_FOUND, "No such route.", NULL);
    }
    /* Ahead of the block lookup, which would answer UNKNOWN_BLOCK. */
    if (strcmp(rest, "/openapi.json") == 0) {
        oc->what = get ? "openapi" : "method_not_allowed";
        if (!get)
            return reply_error(conn, 405, STATUS_METHOD_NOT_ALLOWED,
                               "The OpenAPI document is read with GET.", allow_get);
        return reply(conn, 200, s->svc->openapi, s->svc->openapi_len, NULL);
    }
    const char *name = rest + 1;
    size_t name_len = strlen(name);
    if (name_len && name[name_len - 1] == '/')
        name_len--;
    const struct block_def *b = block_find(s->blocks, name, name_len);
    if (!b)
        b = block_find_event(s->blocks, name, name_len);
    if (!b) {
        struct buf msg;
        buf_init(&msg, SERVER_MSG_CAP);
        unknown_block_message(s->blocks, name, name_len, &msg);
        oc->what = "unknown_block";
        int status = reply_error(conn, 404, STATUS_UNKNOWN_BLOCK, buf_str(&msg), NULL);
        buf_free(&msg);
        return status;
    }
    oc->block = b->name;
    if (strcmp(method, "POST") != 0) {
        oc->what = "method_not_allowed";
        return reply_error(conn, 405, STATUS_METHOD_NOT_ALLOWED, "A block is called with POST.",
                           allow_post);
    }
    return run_block(conn, s, b, oc);
}

/* While draining, civetweb still accepts connections: their requests are told to go
 * elsewhere, and /healthz says so to load balancers. */
static int reply_draining(struct mg_connection *conn, struct outcome *oc)
{
    static const char *const retry[] = {"Retry-After", "1", NULL};
    oc->what = "draining";
    close_unread(conn, oc);
    return reply_error(conn, 503, STATUS_SHUTTING_DOWN,
                       "The service is shutting down; nothing was sent. Retry the request.", retry);
}

/* Reads and drops what is left of a body the reply did not wait for. Closing a socket with
 * unread bytes makes the kernel answer with a reset, which can destroy the reply before the
 * client reads it; civetweb drains only on Windows. The client stops sending once it has the
 * reply or its body ends, so this is short; LINGER_MS (or BODY_TIMEOUT_MS, if shorter) bounds
 * a client that does neither. */
static void linger(struct mg_connection *conn, const struct server *s)
{
    const long ms = s->cfg->body_timeout_ms < LINGER_MS ? s->cfg->body_timeout_ms : LINGER_MS;
    const long deadline = clock_ms() + ms;
    char *scrap = malloc(LINGER_SCRAP);
    if (!scrap)
        return;
    deadline_arm(ms);
    while (mg_read(conn, scrap, LINGER_SCRAP) > 0 && clock_ms() < deadline)
        ;
    deadline_disarm();
    free(scrap);
}

static int on_request(struct mg_connection *conn, struct server *s)
{
    struct outcome oc = {.block = "-", .what = "-"};
    const long t0 = clock_ms();
    struct worker *w = mg_get_thread_pointer(conn);
    if (w)
        w->requests++;
    atomic_fetch_add(&s->in_flight, 1);
    metrics_request_begin(&s->metrics);
    reqid_take(mg_get_header(conn, "X-Request-Id"), oc.request_id);
    mg_set_user_connection_data(conn, &oc); /* for reply_typed; cleared before oc goes */
    int status = atomic_load(&s->svc->draining) ? reply_draining(conn, &oc) : route(conn, s, &oc);
    mg_set_user_connection_data(conn, NULL);
    struct metrics_request mr = {.block = oc.block, .outcome = oc.what, .figures = &oc.figures};
    metrics_request_end(&s->metrics, &mr);
    atomic_fetch_sub(&s->in_flight, 1);
    if (log_enabled(LOG_INFO)) {
        const struct mg_request_info *ri = mg_get_request_info(conn);
        char path[128], method[16];
        safe_copy(path, sizeof path, ri->local_uri ? ri->local_uri : "");
        safe_copy(method, sizeof method, ri->request_method ? ri->request_method : "");
        struct log_request lr = {.request_id = oc.request_id,
                                 .method = method,
                                 .path = path,
                                 .status = status,
                                 .block = oc.block,
                                 .outcome = oc.what,
                                 .figures = &oc.figures,
                                 .duration_ms = clock_ms() - t0};
        log_request(&lr);
    }
    if (oc.unread)
        linger(conn, s);
    memtune_release_stack_due(); /* after a handed-over call: see upstream_run */
    return status;
}

/* Every request comes here first, before civetweb's access checks (PROXY_SECRET is the
 * handler's business; no .htpasswd stat per request). A callback is set before the server
 * listens: a handler can only be set after, and a request in between got civetweb's own 404. */
static int begin_request(struct mg_connection *conn)
{
    return on_request(conn, mg_get_user_data(mg_get_context(conn)));
}

/* Why civetweb could not listen on cfg's address, found by trying to bind it as civetweb does
 * (civetweb only says "Failed to setup server ports"). Returns 0 with the reason, or -1 when
 * the bind works or fails for a reason with no advice. */
static int listen_refused_why(const struct config *cfg, char *why, size_t size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%ld", cfg->port);
    if (getaddrinfo(cfg->bind, port, &hints, &ai) != 0 || !ai) {
        snprintf(why, size, "%.64s is not an IP address of this machine (set BIND or --bind)",
                 cfg->bind);
        return 0;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0, on = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        e = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? errno : 0;
        close(fd);
    }
    freeaddrinfo(ai);
    if (e == EADDRINUSE)
        snprintf(why, size, "the port is in use (another twilio-block? set PORT or --port)");
    else if (e == EACCES)
        snprintf(why, size,
                 "permission denied (ports below 1024 need privileges; set PORT or "
                 "--port)");
    else if (e == EADDRNOTAVAIL)
        snprintf(why, size, "%.64s is not an address of this machine (set BIND or --bind)",
                 cfg->bind);
    else
        return -1;
    return 0;
}

/* civetweb started on the configured address with the server's callbacks; NULL with the
 * reason in err. */
static struct mg_context *listen_on(struct server *s, char *err, size_t errlen)
{
    const struct config *cfg = s->cfg;
    char ports[300], threads[32], header_timeout[32], keep_alive_timeout[32];
    snprintf(header_timeout, sizeof header_timeout, "%ld", cfg->header_timeout_ms);
    snprintf(keep_alive_timeout, sizeof keep_alive_timeout, "%ld", cfg->keep_alive_timeout_ms);
    if (strchr(cfg->bind, ':'))
        snprintf(ports, sizeof ports, "[%s]:%ld", cfg->bind, cfg->port);
    else
        snprintf(ports, sizeof ports, "%s:%ld", cfg->bind, cfg->port);
    snprintf(threads, sizeof threads, "%ld", cfg->threads);
    const char *options[] = {"listening_ports", ports, "num_threads", threads, "enable_keep_alive",
                             "yes",
                             /* also the deadline of a kept connection's next request line
                              * and headers, counted from the end of the last reply */
                             "keep_alive_timeout_ms", keep_alive_timeout,
                             /* the deadline of a new connection's request line and headers,
                              * and the longest any one read or write waits */
                             "request_timeout_ms", header_timeout, "tcp_nodelay", "1",
                             /* a burst of a thousand connecting clients must not overflow
                              * the accept queue (civetweb's default is 200) */
                             "listen_backlog", "4096", "max_request_size", "16384", NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.begin_request = begin_request;
    callbacks.init_thread = init_thread;
    callbacks.exit_thread = exit_thread;
    callbacks.init_connection = on_connection_open;
    callbacks.connection_close = on_connection_close;
    struct mg_init_data init = {
        .callbacks = &callbacks, .user_data = s, .configuration_options = options};
    char text[256] = "";
    struct mg_error_data error = {.text = text, .text_buffer_size = sizeof text};
    struct mg_context *ctx = mg_start2(&init, &error);
    if (!ctx) {
        char why[320];
        if (listen_refused_why(cfg, why, sizeof why) < 0)
            snprintf(why, sizeof why, "%s", text[0] ? text : "unknown error");
        snprintf(err, errlen, "cannot listen on %s: %s", ports, why);
    }
    return ctx;
}

struct server *server_start(struct service *svc, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->svc = svc;
    s->cfg = &svc->cfg;
    s->blocks = svc->blocks;
    if (deadline_init() < 0) {
        snprintf(err, errlen,
                 "cannot start the body deadline (its signal handler or watchdog thread)");
        free(s);
        return NULL;
    }
    if (log_batch_start() < 0)
        log_msg(LOG_WARN, "request lines are written one by one: no thread to flush batches");
    metrics_init(&s->metrics, s->cfg->threads);
    for (size_t i = 0; i < block_count(s->blocks); i++)
        metrics_add_block(&s->metrics, block_at(s->blocks, i)->name);
    s->ctx = listen_on(s, err, errlen);
    if (!s->ctx) {
        deadline_release();
        log_batch_stop();
        free(s);
        return NULL;
    }
    struct mg_server_port port;
    if (mg_get_server_ports(s->ctx, 1, &port) >= 1)
        s->port = port.port;
    char why[128];
    if (listensock_find(&s->listener, s->port) == 0 ||
        listensock_defer_accept(&s->listener, DEFER_ACCEPT_S, why, sizeof why) < 0)
        log_msg(LOG_WARN, "connections that send nothing will occupy workers: %s",
                s->listener.n ? why : "the listening socket was not found");
    return s;
}

int server_drain(struct server *s, long grace_ms)
{
    atomic_store(&s->svc->draining, 1);
    const long deadline = clock_ms() + grace_ms;
    while (atomic_load(&s->in_flight) > 0) {
        if (clock_ms() >= deadline)
            return -1;
        clock_sleep_ms(10);
    }
    /* A proxy may be writing its next request on a kept-alive connection just as mg_stop
     * closes it, and a POST cut that way is never resent: its caller gets a 502 and cannot
     * know what happened. While draining, each reply closes its connection and idle ones close
     * at KEEP_ALIVE_TIMEOUT_MS, so wait for them to go, within the grace. */
    long idle_deadline = clock_ms() + s->cfg->keep_alive_timeout_ms + 100;
    if (idle_deadline > deadline)
        idle_deadline = deadline;
    while (metrics_workers_busy(&s->metrics) > 0 && clock_ms() < idle_deadline)
        clock_sleep_ms(10);
    return 0;
}

int server_port(const struct server *s)
{
    return s->port;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    mg_stop(s->ctx); /* every worker has finished: no transfer is handed over after this */
    deadline_release();
    log_batch_stop(); /* every request line written before the server is gone */
    free(s);
}

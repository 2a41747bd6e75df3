/* Hardening: hostile and broken input, upstream faults and the retry policy, idempotency keys,
 * the proxy secret, and proof that no secret reaches any output. Every upstream assertion
 * counts what reached the stand-in: a request that must not be repeated is seen exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define TOKEN "tok-SECRET-9f8e7d6c"
#define PROXY_SECRET "proxy-SECRET-1a2b3c"
#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS "\"accountSid\":\"" SID "\",\"accountToken\":\"" TOKEN "\""
#define SMS                                                                                        \
    "{\"args\":{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"Hi\"}}"
#define SMS_OTHER                                                                                  \
    "{\"args\":{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"Ho\"}}"

static struct harness H;
static struct log_capture logged;

static int setup(void **state)
{
    (void)state;
    if (log_capture_start(&logged, "hardening") < 0)
        return -1;
    struct config cfg;
    harness_config(&cfg);
    cfg.log_level = LOG_DEBUG;
    cfg.upstream_timeout_ms = 600;
    cfg.max_body_bytes = 16384;
    cfg.body_timeout_ms = 300;
    cfg.header_timeout_ms = 1000; /* also the longest wait of one body read */
    cfg.idempotency_max = 3;
    return harness_start_with(&H, &cfg);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    log_capture_end(&logged);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    standin_clear(H.up);
    return 0;
}

static void no_secret_in(const char *text)
{
    if (strstr(text, TOKEN) || strstr(text, PROXY_SECRET))
        fail_msg("a secret was echoed: %s", text);
}

/* Posts and checks the HTTP status and the envelope's status_code (NULL: success). */
static void post_expect(const char *json, size_t len, int status, const char *code,
                        struct http_reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", H.url);
    assert_int_equal(http_call_ex("POST", url, "application/json", NULL, NULL, json, len, r), 0);
    assert_int_equal(r->status, status);
    no_secret_in(buf_str(&r->body));
    json_t *env = json_loadb(r->body.data, r->body.len, 0, NULL);
    if (!env)
        fail_msg("not JSON: %s", buf_str(&r->body));
    const char *cb = json_string_value(json_object_get(env, "callback"));
    const char *got = json_string_value(json_object_get(
        json_object_get(json_object_get(env, "contextWrites"), "to"), "status_code"));
    if (code ? !got || strcmp(got, code) != 0 || strcmp(cb, "error") != 0
             : strcmp(cb, "success") != 0)
        fail_msg("want %s, got %s", code ? code : "success", buf_str(&r->body));
    json_decref(env);
}

static void post_code(const char *json, int status, const char *code)
{
    struct http_reply r;
    post_expect(json, strlen(json), status, code, &r);
    http_reply_free(&r);
}

static const char *status_msg(struct http_reply *r, char *out, size_t size)
{
    json_t *env = json_loadb(r->body.data, r->body.len, 0, NULL);
    const char *m = json_string_value(json_object_get(
        json_object_get(json_object_get(env, "contextWrites"), "to"), "status_msg"));
    snprintf(out, size, "%s", m ? m : "");
    json_decref(env);
    return out;
}

static void broken_bodies_get_envelopes(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        size_t len;
        const char *code;
    } cases[] = {
#define CASE(s, code) {s, sizeof s - 1, code}
        CASE("", "JSON_VALIDATION"),
        CASE("not json", "JSON_VALIDATION"),
        CASE("{\"args\": {\"accountToken\": \"" TOKEN, "JSON_VALIDATION"),
        CASE("[1, 2]", "JSON_VALIDATION"),
        CASE("42", "JSON_VALIDATION"),
        CASE("{\"args\": [1]}", "JSON_VALIDATION"),
        CASE("{\"args\": \"x\"}", "JSON_VALIDATION"),
        CASE("{\"body\": \"\xff\xfe\"}", "JSON_VALIDATION"),
        CASE("{\"body\": \"a\\u0000b\"}", "JSON_VALIDATION"),
        CASE("{\"to\": \"+1\", \"to\": \"+2\"}", "JSON_VALIDATION"),
        CASE("{" CREDS ", \"to\": {\"deep\": true}, \"from\": [1], \"body\": \"x\"}",
             "REQUIRED_FIELDS"),
#undef CASE
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_reply r;
        post_expect(cases[i].body, cases[i].len, 200, cases[i].code, &r);
        http_reply_free(&r);
    }
    assert_int_equal(standin_count(H.up), 0);
}

static void deep_nesting_and_many_keys(void **state)
{
    (void)state;
    char body[16000];
    size_t n = 0;
    for (int i = 0; i < 5000; i++)
        body[n++] = '[';
    body[n] = '\0';
    post_code(body, 200, "JSON_VALIDATION");
    n = (size_t)snprintf(body, sizeof body, "{" CREDS);
    for (int i = 0; i < 1000 && n < sizeof body - 32; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, ",\"k%d\":%d", i, i);
    snprintf(body + n, sizeof body - n, "}");
    post_code(body, 200, "REQUIRED_FIELDS"); /* unknown keys ignored, to is still missing */
    char *big = malloc(3u << 20);
    memset(big, 'a', 3u << 20);
    memcpy(big, "{\"body\":\"", 9);
    memcpy(big + (3u << 20) - 3, "\"}", 3);
    post_code(big, 413, "PAYLOAD_TOO_LARGE");
    free(big);
    post_code(SMS, 200, NULL); /* still serving */
    assert_int_equal(standin_count(H.up), 1);
}

/* A body refused by its length is read and dropped after the 413: closed with bytes unread,
 * the kernel resets the connection, and a client still sending loses the reply. So the client
 * here finishes its body after the reply and then sees a clean end, not a reset. */
static void drained_once(void)
{
    enum { BODY = 65536, LAST = 1024 };
    static char req[BODY + 160];
    int n = snprintf(req, sizeof req,
                     "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nContent-Length: %d\r\n\r\n",
                     BODY);
    memset(req + n, ' ', BODY);
    int fd = loopback_connect(harness_port(&H));
    assert_true(fd >= 0);
    const size_t first = (size_t)n + BODY - LAST; /* at once: the server has it all unread */
    assert_int_equal(send(fd, req, first, MSG_NOSIGNAL), (ssize_t)first);
    struct buf got;
    raw_read_reply(fd, &got);
    if (strncmp(buf_str(&got), "HTTP/1.1 413 ", 13) != 0 ||
        !strstr(buf_str(&got), "\"PAYLOAD_TOO_LARGE\""))
        fail_msg("want the 413 envelope, got: %s", buf_str(&got));
    buf_free(&got);
    if (send(fd, req + n, LAST, MSG_NOSIGNAL) != LAST)
        fail_msg("the rest of the body after the reply: %s", strerror(errno));
    assert_true(raw_closed_by_server(fd));
    close(fd);
}

/* The race is the kernel's, so one exchange may miss it: four of them rarely do. */
static void refused_body_is_drained_before_close(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        drained_once();
    assert_int_equal(standin_count(H.up), 0);
}

#define CHUNKED_HEAD                                                                               \
    ("POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"          \
     "Transfer-Encoding: chunked\r\n\r\n")

/* Sends raw parts and expects the status line and the envelope's status_code, with nothing
 * reaching Twilio. */
static void expect_raw(const char *const *parts, size_t n, int gap_ms, const char *status_line,
                       const char *code)
{
    struct buf out;
    char want[96];
    assert_int_equal(raw_request(harness_port(&H), parts, n, gap_ms, &out), 0);
    snprintf(want, sizeof want, "\"status_code\":\"%s\"", code);
    if (strncmp(buf_str(&out), status_line, strlen(status_line)) != 0 ||
        !strstr(buf_str(&out), want))
        fail_msg("want %s and %s, got: %s", status_line, code, buf_str(&out));
    buf_free(&out);
    assert_int_equal(standin_count(H.up), 0);
}

static void chunked_body_is_capped(void **state)
{
    (void)state;
    static char chunk[20000 + 16];
    int n = snprintf(chunk, sizeof chunk, "%x\r\n", 20000);
    memset(chunk + n, ' ', 20000);
    memcpy(chunk + n + 20000, "\r\n", 3);
    const char *parts[] = {CHUNKED_HEAD, chunk, "0\r\n\r\n"};
    expect_raw(parts, 3, 0, "HTTP/1.1 413", "PAYLOAD_TOO_LARGE");
}

static void drip_fed_body_is_cut_off(void **state)
{
    (void)state;
    const char *parts[] = {CHUNKED_HEAD, "1\r\n{\r\n", "1\r\n \r\n", "1\r\n \r\n",
                           "1\r\n \r\n", "1\r\n \r\n", "1\r\n \r\n", "1\r\n \r\n"};
    expect_raw(parts, 8, 100, "HTTP/1.1 408", "REQUEST_TIMEOUT"); /* BODY_TIMEOUT_MS is 300 */
}

static void length_and_chunked_together_are_refused(void **state)
{
    (void)state;
    const char *parts[] = {("POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            "application/json\r\nContent-Length: 5\r\nTransfer-Encoding: "
                            "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")};
    expect_raw(parts, 1, 0, "HTTP/1.1 400", "BAD_REQUEST");
}

static void content_type_must_be_json(void **state)
{
    (void)state;
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", H.url);
    assert_int_equal(
        http_call_ex("POST", url, "application/x-www-form-urlencoded", NULL, NULL, "to=1", 4, &r),
        0);
    assert_int_equal(r.status, 415);
    assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"UNSUPPORTED_MEDIA_TYPE\""));
    http_reply_free(&r);
    assert_int_equal(http_call_ex("POST", url, "application/json; charset=utf-8", NULL, NULL, SMS,
                                  strlen(SMS), &r),
                     0);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 1);
}

/* Walks the HTTP/1.1 replies in out: for each, the status code, the Connection header and the
 * body, which must be exactly Content-Length bytes; the reply at head_at answers a HEAD and
 * carries none. Returns how many replies were read. */
struct raw_reply {
    int status;
    char connection[16];
    char body[512];
};

static int split_replies(const char *out, struct raw_reply *r, int max, int head_at)
{
    int n = 0;
    while (*out && n < max) {
        const char *end = strstr(out, "\r\n\r\n");
        assert_non_null(end);
        assert_int_equal(strncmp(out, "HTTP/1.1 ", 9), 0);
        struct raw_reply *x = &r[n++];
        x->status = atoi(out + 9);
        const char *len = strstr(out, "\r\nContent-Length: ");
        const char *conn = strstr(out, "\r\nConnection: ");
        assert_true(len && len < end && conn && conn < end);
        assert_true(strstr(out, "\r\nDate: ") < end);
        size_t body_len = strtoul(len + 18, NULL, 10);
        if (n - 1 == head_at) {
            assert_true(body_len > 0);
            body_len = 0;
        }
        snprintf(x->connection, sizeof x->connection, "%.*s", (int)strcspn(conn + 14, "\r"),
                 conn + 14);
        assert_true(body_len < sizeof x->body && strlen(end + 4) >= body_len);
        snprintf(x->body, sizeof x->body, "%.*s", (int)body_len, end + 4);
        out = end + 4 + body_len;
    }
    return n;
}

#define RAW_SMS_POST                                                                               \
    "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"           \
    "Content-Length: %zu\r\n\r\n%s"

/* Each reply goes out in one write, so it must carry the whole head civetweb would have sent:
 * an exact Content-Length, a Date, and a Connection header that matches what the server then
 * does with the connection. */
static void replies_are_framed_for_keep_alive(void **state)
{
    (void)state;
    char post[1024];
    struct buf out;
    struct raw_reply r[4];
    snprintf(post, sizeof post, RAW_SMS_POST, strlen(SMS), SMS);
    const char *const keep[] = {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", post,
                                "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"};
    assert_int_equal(raw_request(harness_port(&H), keep, 4, 0, &out), 0);
    assert_int_equal(split_replies(buf_str(&out), r, 4, 2), 4);
    buf_free(&out);
    assert_int_equal(r[0].status, 200);
    assert_string_equal(r[0].connection, "keep-alive");
    assert_int_equal(r[1].status, 200);
    assert_string_equal(r[1].connection, "keep-alive");
    assert_non_null(strstr(r[1].body, "\"callback\":\"success\""));
    assert_int_equal(r[2].status, 200);
    assert_string_equal(r[2].body, "");
    assert_string_equal(r[3].connection, "close");
    assert_string_equal(r[3].body, r[0].body);
    assert_int_equal(standin_count(H.up), 1);

    /* HTTP/1.0 closes unless the client asks otherwise; the server then answers nothing more. */
    const char *const old[] = {"GET /healthz HTTP/1.0\r\n\r\n", "GET /healthz HTTP/1.0\r\n\r\n"};
    assert_int_equal(raw_request(harness_port(&H), old, 2, 0, &out), 0);
    assert_int_equal(split_replies(buf_str(&out), r, 4, -1), 1);
    buf_free(&out);
    assert_string_equal(r[0].connection, "close");
    const char *const old_keep[] = {"GET /healthz HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                                    "GET /healthz HTTP/1.0\r\nConnection: close\r\n\r\n"};
    assert_int_equal(raw_request(harness_port(&H), old_keep, 2, 0, &out), 0);
    assert_int_equal(split_replies(buf_str(&out), r, 4, -1), 2);
    buf_free(&out);
    assert_string_equal(r[0].connection, "keep-alive");
    assert_string_equal(r[1].connection, "close");

    /* A refused request ends its connection: the next request on it is never read. */
    const char *const refused[] = {
        "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        "Content-Length: 2\r\n\r\nhi",
        post};
    assert_int_equal(raw_request(harness_port(&H), refused, 2, 0, &out), 0);
    assert_int_equal(split_replies(buf_str(&out), r, 4, -1), 1);
    buf_free(&out);
    assert_int_equal(r[0].status, 415);
    assert_string_equal(r[0].connection, "close");
    assert_int_equal(standin_count(H.up), 1);
}

static void hostile_values_never_reach_twilio(void **state)
{
    (void)state;
    const char *sids[] = {
        "AC/../../x", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?", "AC%2Faaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\r\\n", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#"};
    char body[512];
    for (size_t i = 0; i < sizeof sids / sizeof sids[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"accountSid\":\"%s\",\"accountToken\":\"t\",\"to\":\"+14155552671\","
                 "\"from\":\"+15005550006\",\"body\":\"x\"}",
                 sids[i]);
        post_code(body, 200, "REQUIRED_FIELDS");
    }
    struct http_reply r;
    const char *crlf =
        "{\"accountSid\":\"" SID "\",\"accountToken\":\"" TOKEN "\\r\\nX-Evil: 1\","
        "\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"x\","
        "\"statusCallback\":\"javascript:alert(1)\",\"mediaUrl\":\"file:///etc/passwd, "
        "example.com/a.png\"}";
    post_expect(crlf, strlen(crlf), 200, "REQUIRED_FIELDS", &r);
    assert_non_null(
        strstr(buf_str(&r.body), "\"accountToken\":\"must not contain control characters"));
    assert_non_null(strstr(buf_str(&r.body), "\"statusCallback\":\"must be an absolute"));
    assert_non_null(strstr(buf_str(&r.body), "\"mediaUrl\":\"item 1 must be an absolute"));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 0);
}

static const struct standin_answer rate_limited = {
    429,
    "application/json",
    "{\"code\":20429,\"message\":\"Too Many Requests\",\"more_info\":\"https://www.twilio.com/docs/"
    "errors/20429\",\"status\":429}",
    0,
    "0",
    0};

static void rate_limit_is_retried(void **state)
{
    (void)state;
    struct standin_answer script[] = {rate_limited,
                                      {201, "application/json", standin_message_201, 0, NULL, 0}};
    standin_script(H.up, script, 2);
    post_code(SMS, 200, NULL);
    assert_int_equal(standin_count(H.up), 2);
}

static void rate_limit_retries_are_bounded(void **state)
{
    (void)state;
    struct http_reply r;
    char msg[512];
    standin_answer(H.up, &rate_limited);
    post_expect(SMS, strlen(SMS), 200, "API_ERROR", &r);
    assert_string_equal(status_msg(&r, msg, sizeof msg),
                        "[HTTP 429] Unable to create record: Too Many Requests (rate limited on 3 "
                        "attempts; nothing was sent)");
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 3); /* RETRY_MAX 2 */
}

static void retry_after_past_the_deadline_is_not_waited_for(void **state)
{
    (void)state;
    struct standin_answer a = rate_limited;
    a.retry_after = "3600";
    standin_answer(H.up, &a);
    post_code(SMS, 200, "API_ERROR");
    assert_int_equal(standin_count(H.up), 1);
}

static void server_error_is_never_retried(void **state)
{
    (void)state;
    struct http_reply r;
    char msg[512];
    struct standin_answer a = {
        503,
        "application/json",
        "{\"code\":20503,\"message\":\"Service Unavailable\",\"status\":503}",
        0,
        NULL,
        0};
    standin_answer(H.up, &a);
    post_expect(SMS, strlen(SMS), 200, "API_ERROR", &r);
    assert_string_equal(status_msg(&r, msg, sizeof msg),
                        "[HTTP 503] Unable to create record: Service Unavailable (Twilio failed "
                        "after receiving the request; the message may have been created)");
    assert_non_null(
        strstr(buf_str(&r.body), "\"twilio_request_id\":\"RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 1);
}

static void timeout_after_sending_is_never_retried(void **state)
{
    (void)state;
    struct standin_answer a = {201, "application/json", standin_message_201, 1200, NULL, 0};
    standin_answer(H.up, &a);
    post_code(SMS, 200, "INTERNAL_PACKAGE_ERROR");
    assert_int_equal(standin_count(H.up), 1);
}

static void reset_after_sending_is_never_retried(void **state)
{
    (void)state;
    struct dropper *d = dropper_start();
    struct harness other;
    struct config cfg;
    struct http_reply r;
    char msg[512];
    assert_non_null(d);
    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:%d", dropper_port(d));
    assert_int_equal(harness_start_with(&other, &cfg), 0);
    assert_int_equal(harness_post(&other, "sendSms", SMS, &r), 0);
    status_msg(&r, msg, sizeof msg);
    if (!strstr(msg, "failed after the request was sent") || !strstr(msg, "may have been created"))
        fail_msg("%s", msg);
    http_reply_free(&r);
    harness_stop(&other);
    assert_int_equal(dropper_count(d), 1);
    dropper_stop(d);
}

static void truncated_or_non_json_success_is_an_error(void **state)
{
    (void)state;
    struct standin_answer cut = {201, "application/json", "{\"sid\":\"SM", 0, NULL, 100};
    standin_answer(H.up, &cut);
    post_code(SMS, 200, "INTERNAL_PACKAGE_ERROR");
    assert_int_equal(standin_count(H.up), 1);
    struct http_reply r;
    char msg[512];
    struct standin_answer text = {201, "text/plain", "Created", 0, NULL, 0};
    standin_answer(H.up, &text);
    post_expect(SMS, strlen(SMS), 200, "INTERNAL_PACKAGE_ERROR", &r);
    assert_string_equal(status_msg(&r, msg, sizeof msg),
                        "Twilio answered HTTP 201 but its body is not a JSON object; the message "
                        "may have been created (Twilio request id "
                        "RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)");
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 2);
}

static void oversized_answer_is_cut_off(void **state)
{
    (void)state;
    size_t n = 5u << 20;
    char *huge = malloc(n + 1);
    memset(huge, ' ', n);
    huge[0] = '{';
    huge[n - 1] = '}';
    huge[n] = '\0';
    struct standin_answer a = {201, "application/json", huge, 0, NULL, 0};
    struct http_reply r;
    char msg[512];
    standin_answer(H.up, &a);
    post_expect(SMS, strlen(SMS), 200, "INTERNAL_PACKAGE_ERROR", &r);
    assert_string_equal(status_msg(&r, msg, sizeof msg),
                        "Twilio's answer was larger than 4194304 bytes and was cut off; the "
                        "message may have been created (Twilio request id "
                        "RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)");
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 1);
    standin_clear(H.up);
    free(huge);
}

static void post_with_key(const char *json, const char *key, struct http_reply *r)
{
    char url[256], header[300];
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", H.url);
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    const char *extra[] = {header, NULL};
    assert_int_equal(http_call_ex("POST", url, "application/json", NULL, key ? extra : NULL, json,
                                  strlen(json), r),
                     0);
    assert_int_equal(r->status, 200);
}

static void repeat_with_key_replays_the_first_answer(void **state)
{
    (void)state;
    struct http_reply a, b;
    post_with_key(SMS, "order-77", &a);
    post_with_key(SMS, "order-77", &b);
    assert_non_null(strstr(buf_str(&a.body), "\"callback\":\"success\""));
    assert_string_equal(buf_str(&a.body), buf_str(&b.body));
    assert_string_equal(a.replayed, "");
    assert_string_equal(b.replayed, "true");
    assert_int_equal(standin_count(H.up), 1);
    http_reply_free(&a);
    http_reply_free(&b);
    /* The arg form is the same key. */
    const char *with_arg = "{\"args\":{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\","
                           "\"body\":\"Hi\",\"idempotencyKey\":\"order-77\"}}";
    post_with_key(with_arg, NULL, &b);
    assert_string_equal(b.replayed, "true");
    http_reply_free(&b);
    assert_int_equal(standin_count(H.up), 1);
}

static void overlong_key_is_a_field_error(void **state)
{
    (void)state;
    char key[300];
    struct http_reply r;
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    post_with_key(SMS, key, &r);
    assert_non_null(strstr(buf_str(&r.body), "\"fields\":[\"idempotencyKey\"],\"reasons\":"
                                             "{\"idempotencyKey\":\"must be at most 255"));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 0);
}

static void same_key_other_args_is_refused(void **state)
{
    (void)state;
    struct http_reply a, b;
    post_with_key(SMS, "order-78", &a);
    post_with_key(SMS_OTHER, "order-78", &b);
    assert_non_null(strstr(buf_str(&b.body), "\"status_code\":\"IDEMPOTENCY_KEY_REUSED\""));
    assert_int_equal(standin_count(H.up), 1);
    http_reply_free(&a);
    http_reply_free(&b);
}

struct racer {
    struct http_reply r;
};

static void *race(void *arg)
{
    struct racer *x = arg;
    post_with_key(SMS, "order-79", &x->r);
    return NULL;
}

static void repeat_in_flight_waits_for_the_first(void **state)
{
    (void)state;
    struct standin_answer slow = {201, "application/json", standin_message_201, 300, NULL, 0};
    standin_answer(H.up, &slow);
    struct racer a, b;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, &a);
    pthread_create(&tb, NULL, race, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_non_null(strstr(buf_str(&a.r.body), "\"callback\":\"success\""));
    assert_string_equal(buf_str(&a.r.body), buf_str(&b.r.body));
    assert_int_equal(standin_count(H.up), 1);
    http_reply_free(&a.r);
    http_reply_free(&b.r);
}

static void nothing_sent_is_not_remembered(void **state)
{
    (void)state;
    struct http_reply r;
    standin_answer(H.up, &rate_limited);
    post_with_key(SMS, "order-80", &r);
    assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"API_ERROR\""));
    http_reply_free(&r);
    standin_clear(H.up);
    post_with_key(SMS, "order-80", &r);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    assert_string_equal(r.replayed, "");
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 1);
}

static void key_store_is_bounded(void **state)
{
    (void)state;
    const char *keys[] = {"lru-1", "lru-2", "lru-3", "lru-4", "lru-1"};
    for (size_t i = 0; i < 5; i++) {
        struct http_reply r;
        post_with_key(SMS, keys[i], &r);
        http_reply_free(&r);
    }
    /* IDEMPOTENCY_MAX is 3, so lru-1 was forgotten when lru-4 came and is sent again. */
    assert_int_equal(standin_count(H.up), 5);
}

static void proxy_secret_is_required_when_set(void **state)
{
    (void)state;
    struct harness other;
    struct config cfg;
    struct http_reply r;
    char url[256];
    harness_config(&cfg);
    cfg.log_level = LOG_DEBUG;
    snprintf(cfg.proxy_secret, sizeof cfg.proxy_secret, "%s", PROXY_SECRET);
    assert_int_equal(harness_start_with(&other, &cfg), 0);
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", other.url);
    const char *wrong[] = {"X-RapidAPI-Proxy-Secret: proxy-SECRET-1a2b3", NULL};
    const char *right[] = {"X-RapidAPI-Proxy-Secret: " PROXY_SECRET, NULL};
    const char *const *tries[] = {NULL, wrong};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(
            http_call_ex("POST", url, "application/json", NULL, tries[i], SMS, strlen(SMS), &r), 0);
        assert_int_equal(r.status, 401);
        assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"UNAUTHORIZED\""));
        no_secret_in(buf_str(&r.body));
        http_reply_free(&r);
    }
    assert_int_equal(standin_count(other.up), 0);
    assert_int_equal(
        http_call_ex("POST", url, "application/json", NULL, right, SMS, strlen(SMS), &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    snprintf(url, sizeof url, "%s/api/twilio", other.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200); /* the metadata stays public */
    http_reply_free(&r);
    assert_int_equal(standin_count(other.up), 1);
    harness_stop(&other);
}

/* Runs last: everything the server wrote during this run, at debug level, holds no secret. */
static void no_secret_in_any_log_line(void **state)
{
    (void)state;
    struct buf all;
    log_flush(); /* request lines waiting in their workers' batches */
    fflush(stderr);
    assert_int_equal(read_file(logged.path, &all), 0);
    assert_non_null(strstr(buf_str(&all), "outcome=success"));
    assert_non_null(strstr(buf_str(&all), "outcome=unauthorized"));
    if (strstr(buf_str(&all), TOKEN) || strstr(buf_str(&all), PROXY_SECRET))
        fail_msg("a secret reached the log");
    buf_free(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(broken_bodies_get_envelopes, reset),
        cmocka_unit_test_setup(deep_nesting_and_many_keys, reset),
        cmocka_unit_test_setup(refused_body_is_drained_before_close, reset),
        cmocka_unit_test_setup(chunked_body_is_capped, reset),
        cmocka_unit_test_setup(drip_fed_body_is_cut_off, reset),
        cmocka_unit_test_setup(length_and_chunked_together_are_refused, reset),
        cmocka_unit_test_setup(content_type_must_be_json, reset),
        cmocka_unit_test_setup(replies_are_framed_for_keep_alive, reset),
        cmocka_unit_test_setup(hostile_values_never_reach_twilio, reset),
        cmocka_unit_test_setup(rate_limit_is_retried, reset),
        cmocka_unit_test_setup(rate_limit_retries_are_bounded, reset),
        cmocka_unit_test_setup(retry_after_past_the_deadline_is_not_waited_for, reset),
        cmocka_unit_test_setup(server_error_is_never_retried, reset),
        cmocka_unit_test_setup(timeout_after_sending_is_never_retried, reset),
        cmocka_unit_test_setup(reset_after_sending_is_never_retried, reset),
        cmocka_unit_test_setup(truncated_or_non_json_success_is_an_error, reset),
        cmocka_unit_test_setup(oversized_answer_is_cut_off, reset),
        cmocka_unit_test_setup(repeat_with_key_replays_the_first_answer, reset),
        cmocka_unit_test_setup(overlong_key_is_a_field_error, reset),
        cmocka_unit_test_setup(same_key_other_args_is_refused, reset),
        cmocka_unit_test_setup(repeat_in_flight_waits_for_the_first, reset),
        cmocka_unit_test_setup(nothing_sent_is_not_remembered, reset),
        cmocka_unit_test_setup(key_store_is_bounded, reset),
        cmocka_unit_test_setup(proxy_secret_is_required_when_set, reset),
        cmocka_unit_test(no_secret_in_any_log_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

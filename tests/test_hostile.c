/* Hostile input, round two: whatever a caller or Twilio sends, the service answers and lives.
 * Bodies nested deep enough to overflow a worker's stack in jansson, bodies of many tiny
 * values, upstream answers of the same, a body that trickles in, a crowd of them, duplicate
 * framing headers; and a body is sent as typed while a dry run hides what looks secret. A call
 * after a transfer curl refused still has a sound handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ACC "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS "\"accountSid\":\"" ACC "\",\"accountToken\":\"hostile-token-1\""
#define SMS_ARGS CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\""
#define ERR_HEAD "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"

static struct harness H;

static int setup(void **state)
{
    (void)state;
    struct config cfg;
    harness_config(&cfg);
    cfg.body_timeout_ms = 1000;
    cfg.header_timeout_ms = 1000;
    return harness_start_with(&H, &cfg);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    standin_clear(H.up);
    return 0;
}

static void post(const char *block, const char *body, size_t len, struct http_reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/api/twilio/%s", H.url, block);
    assert_int_equal(http_call_ex("POST", url, "application/json", NULL, NULL, body, len, r), 0);
}

static void expect(const char *block, const char *body, size_t len, const char *want)
{
    struct http_reply r;
    post(block, body, len, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_str(&r.body), want);
    http_reply_free(&r);
}

/* The service still answers: the crash this guards against would have ended the process. */
static void still_alive(void)
{
    struct http_reply r;
    char url[256];
    snprintf(url, sizeof url, "%s/healthz", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
}

/* {"args":{...,"body":"x","note":[[[...]]]}}: depth levels of lists inside the args. */
static char *nested(int depth, size_t *len)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    buf_appendz(&b, "{\"args\":{" SMS_ARGS ",\"body\":\"x\",\"note\":");
    for (int i = 0; i < depth; i++)
        buf_append(&b, "[", 1);
    for (int i = 0; i < depth; i++)
        buf_append(&b, "]", 1);
    buf_appendz(&b, "}}");
    char *out = strdup(buf_str(&b));
    *len = b.len;
    buf_free(&b);
    return out;
}

static void deep_request_answered(void **state)
{
    (void)state;
    size_t len;
    char *body = nested(300, &len);
    expect("sendSms", body, len,
           ERR_HEAD "\"JSON_VALIDATION\",\"status_msg\":\"The request body nests arrays or objects "
                    "deeper than 32 levels (at byte 182).\"}}}");
    free(body);
    body = nested(3000, &len);
    expect("sendSms", body, len,
           ERR_HEAD "\"JSON_VALIDATION\",\"status_msg\":\"The request body nests arrays or objects "
                    "deeper than 32 levels (at byte 182).\"}}}");
    free(body);
    assert_int_equal(standin_count(H.up), 0);
    still_alive();
}

/* 60,000 empty objects in 180 KB would cost jansson about 15 MB: refused before it parses. */
static void many_values_refused(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1u << 20);
    buf_appendz(&b, "{\"args\":{" SMS_ARGS ",\"body\":\"x\",\"note\":[{}");
    for (int i = 1; i < 60000; i++)
        buf_append(&b, ",{}", 3);
    buf_appendz(&b, "]}}");
    struct http_reply r;
    post("sendSms", buf_str(&b), b.len, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(buf_str(&r.body), "\"JSON_VALIDATION\""));
    assert_non_null(strstr(buf_str(&r.body), "holds more values than the service parses"));
    assert_non_null(strstr(buf_str(&r.body), "(JSON_MAX_VALUES)"));
    http_reply_free(&r);
    buf_free(&b);
    assert_int_equal(standin_count(H.up), 0);
    still_alive();
}

/* The largest legitimate call still fits: 1,000 bulk recipients, each an object. */
static void thousand_recipients_fit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1u << 20);
    buf_appendz(&b, "{\"args\":{" CREDS ",\"from\":\"+15005550006\",\"dryRun\":true,"
                    "\"recipients\":[");
    for (int i = 0; i < 1000; i++)
        buf_appendf(&b, "%s{\"to\":\"+1415555%04d\",\"body\":\"Order %d shipped\"}", i ? "," : "",
                    i, i);
    buf_appendz(&b, "]}}");
    struct http_reply r;
    post("sendBulkSms", buf_str(&b), b.len, &r);
    assert_int_equal(r.status, 200);
    if (strncmp(buf_str(&r.body), "{\"callback\":\"success\"", 21) != 0)
        fail_msg("1,000 recipients refused: %.300s", buf_str(&r.body));
    http_reply_free(&r);
    buf_free(&b);
    assert_int_equal(standin_count(H.up), 0);
}

/* A list given as text is counted while it is split: 48,000 comma-separated names are refused
 * once the cap is passed, before credentials matter and before anything is sent. */
static void long_lists_refused_while_split(void **state)
{
    (void)state;
    struct buf b;
    struct http_reply r;
    buf_init(&b, 1u << 20);
    buf_appendz(&b, "{\"args\":{" CREDS
                    ",\"webhookUrl\":\"https://hooks.example.com/e\",\"dryRun\":true,"
                    "\"types\":\"");
    for (int i = 0; i < 48000; i++) { /* distinct names in base 36: about 190 KB */
        char name[8];
        int n = 0;
        for (int v = i; n == 0 || v; v /= 36)
            name[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
        buf_appendf(&b, "%s%.*s", i ? "," : "", n, name);
    }
    buf_appendz(&b, "\"}}");
    post("subscribeEvents", buf_str(&b), b.len, &r);
    assert_string_equal(buf_str(&r.body),
                        FIELDS_ERROR("\"types\"", "\"types\":\"must list at most 100 event types "
                                                  "(more than Twilio has)\""));
    http_reply_free(&r);
    /* the same name 48,000 times */
    buf_reset(&b);
    buf_appendz(&b, "{\"args\":{" CREDS ",\"webhookUrl\":\"https://hooks.example.com/e\","
                    "\"dryRun\":true,\"types\":\"");
    for (int i = 0; i < 48000; i++)
        buf_appendz(&b, i ? ",a.t" : "a.t");
    buf_appendz(&b, "\"}}");
    post("subscribeEvents", buf_str(&b), b.len, &r);
    assert_string_equal(buf_str(&r.body),
                        FIELDS_ERROR("\"types\"", "\"types\":\"must list at most 100 event types "
                                                  "(more than Twilio has)\""));
    http_reply_free(&r);
    /* recipients as text: split no further than one past BULK_MAX_RECIPIENTS */
    buf_reset(&b);
    buf_appendz(&b, "{\"args\":{" CREDS ",\"from\":\"+15005550006\",\"body\":\"Hi\","
                    "\"dryRun\":true,\"recipients\":\"");
    for (int i = 0; i < 20000; i++)
        buf_appendz(&b, i ? ",+14155552671" : "+14155552671");
    buf_appendz(&b, "\"}}");
    post("sendBulkSms", buf_str(&b), b.len, &r);
    assert_string_equal(buf_str(&r.body),
                        FIELDS_ERROR("\"recipients\"",
                                     "\"recipients\":\"must have at most 1000 entries "
                                     "(BULK_MAX_RECIPIENTS), got more\""));
    http_reply_free(&r);
    /* a List arg as text: split no further than one past its maxItems */
    buf_reset(&b);
    buf_appendz(&b, "{\"args\":{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\","
                    "\"dryRun\":true,\"mediaUrl\":\"");
    for (int i = 0; i < 15000; i++) /* about 225 KB */
        buf_appendz(&b, i ? ",https://a.co/x" : "https://a.co/x");
    buf_appendz(&b, "\"}}");
    post("sendMms", buf_str(&b), b.len, &r);
    assert_string_equal(
        buf_str(&r.body),
        FIELDS_ERROR("\"mediaUrl\"", "\"mediaUrl\":\"must have at most 10 items (got more)\""));
    http_reply_free(&r);
    /* webhookEvent's listeners: each signed one costs a pass over the body, so at most 100 */
    buf_reset(&b);
    buf_appendz(&b, "{\"args\":{\"body\":{\"MessageSid\":\"SMa\",\"To\":\"+15005550006\"},"
                    "\"headers\":{\"X-Twilio-Signature\":\"x\"},\"params\":[");
    for (int i = 0; i < 3000; i++)
        buf_appendf(&b, "%s{\"authToken\":\"t%d\",\"webhookUrl\":\"https://h.example.com/%d\"}",
                    i ? "," : "", i, i);
    buf_appendz(&b, "]}}");
    post("webhookEvent", buf_str(&b), b.len, &r);
    assert_string_equal(buf_str(&r.body),
                        FIELDS_ERROR("\"params\"", "\"params\":\"must list at most 100 listeners: "
                                                   "deliver to more in several calls of up to "
                                                   "100\""));
    http_reply_free(&r);
    buf_free(&b);
    assert_int_equal(standin_count(H.up), 0);
}

/* A page of about 3 MB: one resource whose field holds the bulk, and a next page that never
 * ends (path_key "next_page_uri" or Event Streams' meta.next_page_url). */
static char *giant_page(const char *list, const char *item_head, int meta)
{
    struct buf b;
    buf_init(&b, 8u << 20);
    buf_appendf(&b, "{\"%s\":[{%s,\"body\":\"", list, item_head);
    char *fill = buf_prepare(&b, 3u << 20);
    memset(fill, 'x', 3u << 20);
    buf_commit(&b, 3u << 20);
    buf_appendz(&b, "\"}],");
    if (meta)
        buf_appendz(&b, "\"meta\":{\"next_page_url\":\"https://events.twilio.com/v1/Types?"
                        "PageSize=50&Page=1\"}}");
    else
        buf_appendz(&b, "\"next_page_uri\":\"/2010-04-01/Accounts/" ACC
                        "/Messages.json?PageSize=101&Page=1\"}");
    char *out = strdup(buf_str(&b));
    buf_free(&b);
    return out;
}

/* Every page within its cap, their sum past the list budget (8 MB): the call stops at the page
 * that passes it, answers LIST_TOO_LARGE naming the budget, and holds no more. */
static void giant_pages_stop_at_the_list_budget(void **state)
{
    (void)state;
    char *types = giant_page("types", "\"type\":\"com.twilio.x\",\"schema_id\":\"x\"", 1);
    char *messages = giant_page("messages",
                                "\"sid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                                "\"date_sent\":\"Thu, 03 Dec 2026 10:00:00 +0000\"",
                                0);
    struct standin_answer a = {200, "application/json", types, 0, NULL, 0};
    struct http_reply r;
    standin_answer(H.up, &a);
    const char *list = "{\"args\":{" CREDS "}}";
    post("listEventTypes", list, strlen(list), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"LIST_TOO_LARGE\""));
    assert_non_null(strstr(buf_str(&r.body), "passed 8 MB together, the list budget"));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 3);
    standin_clear(H.up);
    a.body = messages;
    standin_answer(H.up, &a);
    const char *poll = "{\"args\":{" CREDS ",\"since\":\"2026-12-01\"}}";
    post("pollMessages", poll, strlen(poll), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"LIST_TOO_LARGE\""));
    assert_non_null(strstr(buf_str(&r.body), "the cursor stays where it was"));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 3);
    standin_clear(H.up);
    free(types);
    free(messages);
}

/* subscribeEvents reads three lists and more (sinks, their subscriptions, each one's types):
 * pages of 3 MB each pass the 8 MB budget at the third list, not at none of them. */
static void every_list_of_one_call_shares_the_budget(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8u << 20);
    buf_appendz(&b, "{\"sinks\":[{\"sid\":\"DGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"sink_type\":"
                    "\"webhook\",\"sink_configuration\":{\"destination\":"
                    "\"https://hooks.example.com/e\"}}],\"subscriptions\":[{\"sid\":"
                    "\"DFaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},{\"sid\":"
                    "\"DFbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}],\"types\":[{\"type\":"
                    "\"com.twilio.x\"}],\"meta\":{\"next_page_url\":null},\"fill\":\"");
    char *fill = buf_prepare(&b, 3u << 20);
    memset(fill, 'x', 3u << 20);
    buf_commit(&b, 3u << 20);
    buf_appendz(&b, "\"}");
    struct standin_answer a = {200, "application/json", buf_str(&b), 0, NULL, 0};
    struct http_reply r;
    standin_answer(H.up, &a);
    const char *call = "{\"args\":{" CREDS ",\"webhookUrl\":\"https://hooks.example.com/e\","
                       "\"types\":\"com.twilio.x\"}}";
    post("subscribeEvents", call, strlen(call), &r);
    assert_int_equal(r.status, 200);
    if (!strstr(buf_str(&r.body), "\"status_code\":\"LIST_TOO_LARGE\""))
        fail_msg("%s", buf_str(&r.body));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 3);
    standin_clear(H.up);
    buf_free(&b);
}

/* A next_page_url with a line break in it: libcurl refuses the request before sending it, and
 * the answer says nothing was sent. */
static void refused_next_page_says_nothing_was_sent(void **state)
{
    (void)state;
    static const char page[] =
        "{\"types\":[{\"type\":\"com.twilio.x\",\"schema_id\":\"x\"}],\"meta\":{"
        "\"next_page_url\":\"https://events.twilio.com/v1/Types?Page=1\\r\\nX-Evil: 1\"}}";
    struct standin_answer a = {200, "application/json", page, 0, NULL, 0};
    struct http_reply r;
    standin_answer(H.up, &a);
    const char *list = "{\"args\":{" CREDS "}}";
    post("listEventTypes", list, strlen(list), &r);
    assert_int_equal(r.status, 200);
    if (!strstr(buf_str(&r.body), "nothing was sent") || strstr(buf_str(&r.body), "may have been"))
        fail_msg("%s", buf_str(&r.body));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 1);
}

/* An error answer nested 2,000 deep (Twilio's, or whatever TWILIO_API_BASE points at). */
static void deep_upstream_error_answered(void **state)
{
    (void)state;
    size_t n;
    char *deep = deep_json(2000, &n);
    assert_non_null(deep);
    struct standin_answer a = {400, "application/json", deep, 0, NULL, 0};
    standin_answer(H.up, &a);
    char want[512];
    snprintf(want, sizeof want,
             ERR_HEAD "\"API_ERROR\",\"status_msg\":\"[HTTP 400] Unable to create record: Twilio "
                      "answered HTTP 400 with an unreadably deep or large JSON body (%zu bytes) of "
                      "type application/json\",\"status\":400,\"twilio_request_id\":"
                      "\"RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}",
             n);
    static const char body[] = "{\"args\":{" SMS_ARGS ",\"body\":\"hi\"}}";
    expect("sendSms", body, sizeof body - 1, want);
    assert_int_equal(standin_count(H.up), 1);
    still_alive();
    free(deep);
}

/* "  hi\n\n  " reaches Twilio as typed: a message body is free text, never trimmed. */
static void body_sent_as_typed(void **state)
{
    (void)state;
    struct standin_answer a = {201, "application/json", "{\"sid\":\"SMx\"}", 0, NULL, 0};
    standin_answer(H.up, &a);
    static const char body[] = "{\"args\":{" SMS_ARGS ",\"body\":\"  hi\\n\\n  \"}}";
    expect("sendSms", body, sizeof body - 1,
           "{\"callback\":\"success\",\"contextWrites\":{\"to\":{\"sid\":\"SMx\"}}}");
    char got[64];
    assert_int_equal(standin_param(H.up, 0, "Body", got, sizeof got), 0);
    assert_string_equal(got, "  hi\n\n  ");
}

/* twilioRequest's dry run: whatever looks like a secret is masked, a page token is not. */
static void dry_run_masks_secret_params(void **state)
{
    (void)state;
    static const char body[] =
        "{\"args\":{" CREDS ",\"product\":\"api\",\"method\":\"POST\",\"path\":\"/2010-04-01/"
        "Accounts/" ACC "/SIP/CredentialLists/CLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
        "Credentials.json\",\"params\":{\"Username\":\"alice\",\"Password\":\"Hunter2-secret\","
        "\"AuthToken\":\"tok-1\",\"ApiKeySecret\":\"s3\",\"PageToken\":\"PT1\"},\"dryRun\":true}}";
    struct http_reply r;
    post("twilioRequest", body, sizeof body - 1, &r);
    assert_int_equal(r.status, 200);
    const char *text = buf_str(&r.body);
    if (strstr(text, "Hunter2") || strstr(text, "tok-1") || strstr(text, "\"s3\"") ||
        strstr(text, "hostile-token-1"))
        fail_msg("a secret was shown: %s", text);
    assert_non_null(strstr(text, "\"Password\":\"********\""));
    assert_non_null(strstr(text, "\"AuthToken\":\"********\""));
    assert_non_null(strstr(text, "\"Username\":\"alice\""));
    assert_non_null(strstr(text, "\"PageToken\":\"PT1\""));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 0);
}

static void duplicate_framing_refused(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
        "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\ncontent-length: 2\r\n\r\n{}",
        "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf out;
        buf_init(&out, 1u << 16);
        const char *parts[] = {cases[i]};
        assert_int_equal(raw_request(harness_port(&H), parts, 1, 0, &out), 0);
        if (strncmp(buf_str(&out), "HTTP/1.1 400", 12) != 0 ||
            !strstr(buf_str(&out), "at most once each") ||
            !strstr(buf_str(&out), "Connection: close"))
            fail_msg("case %zu: %s", i, buf_str(&out));
        buf_free(&out);
    }
    assert_int_equal(standin_count(H.up), 0);
}

/* A socket that declares a body and sends one byte of it every 100 ms: 40 s for all of it. */
struct trickle {
    int fd;
    char answer[64];
};

static int trickle_open(struct trickle *t)
{
    static const char head[] = "POST /api/twilio/sendSms HTTP/1.1\r\nHost: x\r\n"
                               "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n";
    t->answer[0] = '\0';
    t->fd = loopback_connect(harness_port(&H));
    return t->fd >= 0 &&
                   send(t->fd, head, sizeof head - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof head - 1)
               ? 0
               : -1;
}

/* Sends a byte to each open socket every 100 ms until each has answered or closed, or every
 * byte is sent. */
static void trickle_run(struct trickle *t, size_t n)
{
    for (int sent = 0; sent < 400; sent++) {
        size_t open = 0;
        for (size_t i = 0; i < n; i++) {
            if (t[i].fd < 0)
                continue;
            struct pollfd p = {t[i].fd, POLLIN, 0};
            if (poll(&p, 1, 0) > 0) {
                ssize_t got = recv(t[i].fd, t[i].answer, sizeof t[i].answer - 1, 0);
                t[i].answer[got > 0 ? got : 0] = '\0';
                close(t[i].fd);
                t[i].fd = -1;
                continue;
            }
            open++;
            if (send(t[i].fd, " ", 1, MSG_NOSIGNAL) != 1) {
                close(t[i].fd);
                t[i].fd = -1;
            }
        }
        if (!open)
            return;
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    }
}

static void trickled_body_ends_at_deadline(void **state)
{
    (void)state;
    struct trickle t;
    assert_int_equal(trickle_open(&t), 0);
    trickle_run(&t, 1);
    if (strncmp(t.answer, "HTTP/1.1 408", 12) != 0)
        fail_msg("a trickled body was not cut at its deadline: %s", t.answer);
    assert_int_equal(standin_count(H.up), 0);
}

static void *crowd_main(void *arg)
{
    struct trickle *t = arg;
    trickle_run(t, 8);
    return NULL;
}

/* As many trickling sockets as workers (8): each is cut at its deadline, so /healthz gets a
 * worker instead of waiting 40 s behind them. */
static void trickle_crowd_leaves_health(void **state)
{
    (void)state;
    struct trickle t[8];
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(trickle_open(&t[i]), 0);
    pthread_t crowd;
    assert_int_equal(pthread_create(&crowd, NULL, crowd_main, t), 0);
    nanosleep(&(struct timespec){0, 300 * 1000000L}, NULL);
    still_alive();
    pthread_join(crowd, NULL);
    for (size_t i = 0; i < 8; i++)
        if (strncmp(t[i].answer, "HTTP/1.1 408", 12) != 0)
            fail_msg("socket %zu: %s", i, t[i].answer);
}

static int setup_one_worker(void **state)
{
    (void)state;
    struct config cfg;
    harness_config(&cfg);
    cfg.threads = 1; /* every call on the one worker's curl handle */
    return harness_start_with(&H, &cfg);
}

/* A next page curl refuses as a URL ends that transfer before it has a connection, and curl
 * keeps the handle's 1 KB receive buffer: the next call on the handle, answered with 4 KB,
 * read it into that buffer (heap overflow, seen once in six CI runs). */
static void a_refused_url_leaves_the_handle_sound(void **state)
{
    refused_next_page_says_nothing_was_sent(state);
    standin_clear(H.up);
    deep_upstream_error_answered(state);
    standin_clear(H.up);
    deep_upstream_error_answered(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(deep_request_answered, reset),
        cmocka_unit_test_setup(many_values_refused, reset),
        cmocka_unit_test_setup(thousand_recipients_fit, reset),
        cmocka_unit_test_setup(long_lists_refused_while_split, reset),
        cmocka_unit_test_setup(giant_pages_stop_at_the_list_budget, reset),
        cmocka_unit_test_setup(every_list_of_one_call_shares_the_budget, reset),
        cmocka_unit_test_setup(refused_next_page_says_nothing_was_sent, reset),
        cmocka_unit_test_setup(deep_upstream_error_answered, reset),
        cmocka_unit_test_setup(body_sent_as_typed, reset),
        cmocka_unit_test_setup(dry_run_masks_secret_params, reset),
        cmocka_unit_test_setup(duplicate_framing_refused, reset),
        cmocka_unit_test_setup(trickled_body_ends_at_deadline, reset),
        cmocka_unit_test_setup(trickle_crowd_leaves_health, reset),
    };
    const struct CMUnitTest one_worker[] = {
        cmocka_unit_test_setup(a_refused_url_leaves_the_handle_sound, reset),
    };
    return cmocka_run_group_tests_name("hostile", tests, setup, teardown) |
           cmocka_run_group_tests_name("hostile_one_worker", one_worker, setup_one_worker,
                                       teardown);
}

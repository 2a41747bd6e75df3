/* sendBulkSms in one process: the real server with the scriptable stand-in as Twilio. Each test
 * counts what reached "Twilio": a bad list sends nothing, an address given twice is sent once,
 * a 429 pauses the whole batch, each failure is reported with its own error, the deadline
 * leaves the rest not sent, and a repeat with the Idempotency-Key sends only to recipients that
 * certainly were not sent to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"
#include "harness.h"
#include "recipients.h"
#include "send.h"
#include "service.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS                                                                                      \
    "\"accountSid\":\"" SID "\",\"accountToken\":\"bulk-token-5c1\",\"from\":\"+15005550006\""
#define ERROR_21211                                                                                \
    "{\"code\":21211,\"message\":\"The 'To' number +15005550001 is not a valid phone number.\","   \
    "\"more_info\":\"https://www.twilio.com/docs/errors/21211\",\"status\":400}"
#define ERROR_20003                                                                                \
    "{\"code\":20003,\"message\":\"Authenticate\",\"more_info\":"                                  \
    "\"https://www.twilio.com/docs/errors/20003\",\"status\":401}"

/* The args of a call with the default body "Hi". */
#define ARGS(recipients) "{" CREDS ",\"body\":\"Hi\",\"recipients\":[" recipients "]}"
#define EIGHT                                                                                      \
    "\"+14155550001\",\"+14155550002\",\"+14155550003\",\"+14155550004\",\"+14155550005\","        \
    "\"+14155550006\",\"+14155550007\",\"+14155550008\""

static struct harness H;

static const struct standin_answer created = {201, "application/json", standin_message_201, 0, NULL,
                                              0};

/* The server with these bulk settings and BULK_MAX_RECIPIENTS 20, for a group of tests. */
static int start(long concurrency, long retry_max, long deadline_ms)
{
    struct config cfg;
    harness_config(&cfg);
    cfg.upstream_timeout_ms = 3000;
    cfg.bulk_concurrency = concurrency;
    cfg.retry_max = retry_max;
    cfg.bulk_deadline_ms = deadline_ms;
    cfg.bulk_max_recipients = 20;
    return harness_start_with(&H, &cfg);
}

/* One sender at a time: each recipient gets the stand-in's answers in list order. */
static int start_serial(void **state)
{
    (void)state;
    return start(1, 1, 20000);
}

static int start_parallel(void **state)
{
    (void)state;
    return start(3, 2, 20000);
}

static int start_short_deadline(void **state)
{
    (void)state;
    return start(1, 2, 1500);
}

static int start_unreachable(void **state)
{
    (void)state;
    struct config cfg;
    harness_config(&cfg);
    cfg.retry_max = 0;
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:1");
    return harness_start_with(&H, &cfg);
}

static int stop(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    standin_clear(H.up);
    standin_number_sids(H.up);
    return 0;
}

/* POSTs args to sendBulkSms, with an Idempotency-Key unless key is NULL; returns the parsed
 * answer (the caller frees it) and keeps the raw one in r. */
static json_t *call(const char *key, const char *args, struct http_reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/api/twilio/sendBulkSms", H.url);
    assert_int_equal(http_post_keyed(url, key, args, r), 0);
    assert_int_equal(r->status, 200);
    json_t *env = json_loadb(r->body.data, r->body.len, 0, NULL);
    assert_non_null(env);
    return env;
}

static json_t *to_of(json_t *env)
{
    return json_object_get(json_object_get(env, "contextWrites"), "to");
}

static const char *str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "(none)";
}

static json_t *result(json_t *env, size_t i)
{
    return json_array_get(json_object_get(to_of(env), "results"), i);
}

static long long num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* The SID the stand-in gives its request n (a few at once may be in use). */
static const char *sid(size_t n)
{
    static char out[8][35];
    static int next;
    return standin_sid(n, out[next++ % 8]);
}

/* The To parameter of the stand-in's request i. */
static const char *sent_to(size_t i)
{
    static char out[64];
    assert_int_equal(standin_param(H.up, i, "To", out, sizeof out), 0);
    return out;
}

static void expect_envelope(const char *args, const char *want)
{
    struct http_reply r;
    json_decref(call(NULL, args, &r));
    assert_string_equal(buf_str(&r.body), want);
    http_reply_free(&r);
}

/* One bad entry fails the whole call, naming every entry to fix; nothing is sent. */
static void a_bad_list_sends_nothing(void **state)
{
    (void)state;
    expect_envelope(
        "{" CREDS ",\"body\":\"Hi\",\"recipients\":[\"+14155552671\",\"nope\","
        "{\"to\":\"+14155552672\",\"body\":\"\",\"mediaUrl\":\"ftp://x\"},"
        "{\"to\":\"+14155552673\",\"colour\":\"red\"},{\"to\":\"+1 415 555 "
        "2671\",\"body\":\"Other\"},"
        "null,[1]]}",
        FIELDS_ERROR("\"recipients[1].to\",\"recipients[2].mediaUrl\",\"recipients[3].colour\","
                     "\"recipients[4].to\",\"recipients[5].to\",\"recipients[6]\"",
                     "\"recipients[1].to\":\"must be a phone number in E.164 format (+14155552671)"
                     " or a whatsapp:, client: or sip: address\",\"recipients[2].mediaUrl\":\"item"
                     " 1 must be an absolute http:// or https:// URL\",\"recipients[3].colour\":"
                     "\"is not a field of a recipient (to, body, mediaUrl, contentVariables)\","
                     "\"recipients[4].to\":\"repeats the address of recipients[0] with another "
                     "message: give each address once\",\"recipients[5].to\":\"is required\","
                     "\"recipients[6]\":\"must be an address, or an object with to, body, "
                     "mediaUrl, contentVariables\""));
    /* A fault of the shared args is named once, not for each recipient. */
    expect_envelope("{\"accountSid\":\"" SID "\",\"accountToken\":\"t\",\"from\":\"nope!\","
                    "\"body\":\"Hi\",\"recipients\":[\"+14155552671\",\"+14155552672\"]}",
                    FIELDS_ERROR("\"from\"", "\"from\":\"must be a phone number in E.164 format "
                                             "(+14155552671), a whatsapp:, client: or sip: "
                                             "address, a short code or an alphanumeric sender ID "
                                             "(up to 11 letters, digits and spaces)\""));
    /* No body anywhere: each recipient without one is named. */
    expect_envelope(
        "{" CREDS ",\"recipients\":[\"+14155552671\",{\"to\":\"+14155552672\","
        "\"body\":\"Hi\"},{\"to\":\"+14155552673\",\"contentVariables\":{\"1\":\"x\"}}]}",
        FIELDS_ERROR("\"recipients[0].body\",\"recipients[0].mediaUrl\","
                     "\"recipients[2].body\",\"recipients[2].mediaUrl\","
                     "\"recipients[2].contentVariables\"",
                     "\"recipients[0].body\":\"one of body, mediaUrl, contentSid is "
                     "required\",\"recipients[0].mediaUrl\":\"one of body, mediaUrl, "
                     "contentSid is required\",\"recipients[2].body\":\"one of body, "
                     "mediaUrl, contentSid is required\",\"recipients[2].mediaUrl\":"
                     "\"one of body, mediaUrl, contentSid is required\","
                     "\"recipients[2].contentVariables\":\"needs contentSid as "
                     "well\""));
    /* The list itself. */
    expect_envelope("{" CREDS ",\"body\":\"Hi\"}",
                    FIELDS_ERROR("\"recipients\"", "\"recipients\":\"is required\""));
    expect_envelope("{" CREDS ",\"body\":\"Hi\",\"recipients\":{\"to\":\"+14155552671\"}}",
                    FIELDS_ERROR("\"recipients\"", "\"recipients\":\"must be a list of "
                                                   "addresses, or of objects with to, body, "
                                                   "mediaUrl, contentVariables\""));
    expect_envelope("{" CREDS ",\"body\":\"Hi\",\"recipients\":[]}",
                    FIELDS_ERROR("\"recipients\"", "\"recipients\":\"must have at least one "
                                                   "entry\""));
    char many[2048];
    int used = snprintf(many, sizeof many, "{" CREDS ",\"body\":\"Hi\",\"recipients\":[");
    for (int i = 0; i < 21; i++)
        used += snprintf(many + used, sizeof many - (size_t)used, "%s\"+1415555%04d\"",
                         i ? "," : "", i);
    snprintf(many + used, sizeof many - (size_t)used, "]}");
    expect_envelope(many,
                    FIELDS_ERROR("\"recipients\"", "\"recipients\":\"must have at most 20 entries "
                                                   "(BULK_MAX_RECIPIENTS), got 21\""));
    struct http_reply r;
    json_t *env =
        call(NULL, "{" CREDS ",\"body\":\"Hi\",\"recipients\":\"[\\\"+14155552671\\\",\"}", &r);
    assert_string_equal(str(to_of(env), "status_code"), "JSON_VALIDATION");
    json_decref(env);
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 0);
}

/* The list as low-code tools send it: a string of addresses, or of JSON. */
static void a_list_may_be_a_string(void **state)
{
    (void)state;
    struct http_reply r;
    json_t *env = call(NULL,
                       "{" CREDS ",\"body\":\"Hi\",\"recipients\":\" +14155552671, +1 415 555 "
                       "2672\\n+14155552673,\"}",
                       &r);
    assert_string_equal(str(env, "callback"), "success");
    assert_int_equal(num(to_of(env), "total"), 3);
    assert_int_equal(standin_count(H.up), 3);
    assert_string_equal(sent_to(1), "+14155552672");
    json_decref(env);
    http_reply_free(&r);
    env = call(NULL, "{" CREDS ",\"body\":\"Hi\",\"recipients\":\"[\\\"+14155552674\\\"]\"}", &r);
    assert_int_equal(num(to_of(env), "sent"), 1);
    assert_string_equal(sent_to(3), "+14155552674");
    json_decref(env);
    http_reply_free(&r);
}

/* The same address twice (however it is typed) is one message; the answer says which entries
 * were merged, with the first one's SID. */
static void duplicates_are_sent_once(void **state)
{
    (void)state;
    struct http_reply r;
    json_t *env = call(NULL,
                       "{" CREDS ",\"body\":\"Hi\",\"recipients\":[\"+14155552671\","
                       "{\"to\":\"+1 (415) 555-2671\",\"body\":\"Hi\"},\"+14155552672\","
                       "\"+1.415.555.2671\"]}",
                       &r);
    assert_int_equal(standin_count(H.up), 2);
    json_t *to = to_of(env);
    assert_string_equal(str(env, "callback"), "success");
    assert_int_equal(num(to, "total"), 4);
    assert_int_equal(num(to, "messages"), 2);
    assert_int_equal(num(to, "sent"), 2); /* as many as the requests that reached Twilio */
    assert_int_equal(num(to, "failed"), 0);
    assert_int_equal(num(to, "merged"), 2);
    const char *first = str(result(env, 0), "sid");
    assert_int_equal(strlen(first), 34);
    for (size_t i = 0; i < 4; i++) {
        json_t *e = result(env, i);
        assert_string_equal(str(e, "to"), i == 2 ? "+14155552672" : "+14155552671");
        assert_string_equal(str(e, "status"), "queued");
        if (i == 1 || i == 3) {
            assert_int_equal(num(e, "duplicateOf"), 0);
            assert_string_equal(str(e, "sid"), first);
        } else {
            assert_null(json_object_get(e, "duplicateOf"));
        }
    }
    assert_string_not_equal(str(result(env, 2), "sid"), first);
    json_decref(env);
    http_reply_free(&r);
}

/* At most BULK_CONCURRENCY sends in flight, and more than one. */
static void sends_in_flight_are_bounded(void **state)
{
    (void)state;
    struct standin_answer slow = created;
    slow.delay_ms = 150;
    standin_answer(H.up, &slow);
    struct http_reply r;
    json_t *env = call(NULL, ARGS(EIGHT ",\"+14155550009\""), &r);
    assert_int_equal(num(to_of(env), "sent"), 9);
    assert_int_equal(standin_count(H.up), 9);
    assert_true(standin_max_in_flight(H.up) <= 3);
    assert_true(standin_max_in_flight(H.up) >= 2);
    json_decref(env);
    http_reply_free(&r);
}

/* sendBulkSms's twilio_block_upstream_retries_total, from /metrics. */
static long bulk_retries(void)
{
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/metrics", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    const char key[] = "\ntwilio_block_upstream_retries_total{block=\"sendBulkSms\"} ";
    const char *at = strstr(buf_str(&r.body), key);
    assert_non_null(at);
    long n = strtol(at + sizeof key - 1, NULL, 10);
    http_reply_free(&r);
    return n;
}

/* A 429 pauses every send for its Retry-After, not only its own recipient's: of the sends
 * already in flight none is followed by another before the pause ends, and the recipient is
 * sent once the pause is over; the metrics count one retry, not the batch's other sends. */
static void a_429_paces_the_whole_batch(void **state)
{
    (void)state;
    long retries = bulk_retries();
    struct standin_answer script[2] = {
        {429, "application/json",
         "{\"code\":20429,\"message\":\"Too Many Requests\","
         "\"status\":429}",
         0, "1", 0},
        created,
    };
    script[1].delay_ms = 900; /* under the hold (1 s), and long enough for the 429 to set it */
    standin_script(H.up, script, 2);
    struct http_reply r;
    json_t *env = call(NULL, ARGS(EIGHT), &r);
    assert_string_equal(str(env, "callback"), "success");
    assert_int_equal(num(to_of(env), "sent"), 8);
    assert_int_equal(standin_count(H.up), 9);
    struct standin_record limited, rec;
    assert_int_equal(standin_request(H.up, 0, &limited), 0);
    size_t before_resume = 0, again = 0;
    const char *to = sent_to(0);
    char first_to[64];
    snprintf(first_to, sizeof first_to, "%s", to);
    for (size_t i = 1; i < 9; i++) {
        assert_int_equal(standin_request(H.up, i, &rec), 0);
        before_resume += rec.at_ms < limited.answered_ms + 1000;
        if (strcmp(sent_to(i), first_to) == 0) {
            again++;
            assert_true(rec.at_ms >= limited.answered_ms + 1000);
        }
    }
    assert_int_equal(again, 1);
    /* Only the two that were already in flight with it; a per-request retry would have let
     * their senders go on after 900 ms. */
    assert_true(before_resume <= 2);
    assert_int_equal(bulk_retries() - retries, 1);
    json_decref(env);
    http_reply_free(&r);
}

/* A recipient still rate limited after RETRY_MAX retries is not sent; the others are. */
static void rate_limited_too_often_is_not_sent(void **state)
{
    (void)state;
    struct standin_answer limited = {429,
                                     "application/json",
                                     "{\"code\":20429,\"message\":\"Too Many Requests\","
                                     "\"more_info\":\"https://www.twilio.com/docs/errors/20429\","
                                     "\"status\":429}",
                                     0,
                                     "0",
                                     0};
    struct standin_answer script[4] = {created, limited, limited, created};
    standin_script(H.up, script, 4);
    struct http_reply r;
    json_decref(call(NULL,
                     "{" CREDS ",\"body\":\"Hi\",\"recipients\":[\"+14155550001\","
                     "\"+14155550002\",\"+14155550003\"]}",
                     &r));
    char want[4096];
    snprintf(
        want, sizeof want,
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
        "\"PARTIAL_FAILURE\",\"status_msg\":\"Sent to 2 of 3 recipients; see results for "
        "the others (not_sent: nothing was sent; failed: Twilio refused it; unknown: it may "
        "have been "
        "sent).\",\"total\":3,\"messages\":3,\"sent\":2,\"failed\":1,\"merged\":0,\"results\":["
        "{\"to\":\"+14155550001\",\"sid\":\"%s\",\"status\":\"queued\"},"
        "{\"to\":\"+14155550002\",\"sid\":null,\"status\":\"not_sent\",\"status_code\":"
        "\"API_ERROR\",\"status_msg\":\"[HTTP 429] Unable to create record: Too Many "
        "Requests (rate limited on 2 attempts; nothing was sent)\",\"code\":20429,"
        "\"message\":\"Too Many Requests\",\"more_info\":"
        "\"https://www.twilio.com/docs/errors/20429\",\"http_status\":429,"
        "\"twilio_request_id\":\"RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
        "{\"to\":\"+14155550003\",\"sid\":\"%s\",\"status\":\"queued\"}]}}}",
        sid(0), sid(3));
    assert_string_equal(buf_str(&r.body), want);
    assert_int_equal(standin_count(H.up), 4);
    http_reply_free(&r);
}

/* Each failed entry carries its own error: refused by Twilio, or maybe created (a 5xx). */
static void partial_failures_are_reported_each(void **state)
{
    (void)state;
    struct standin_answer script[4] = {
        created,
        {400, "application/json", ERROR_21211, 0, NULL, 0},
        {500, "text/html", "<html>oops</html>", 0, NULL, 0},
        created,
    };
    standin_script(H.up, script, 4);
    struct http_reply r;
    json_t *env = call(NULL,
                       "{" CREDS ",\"body\":\"Hi\",\"recipients\":[\"+14155550001\","
                       "\"+15005550001\",\"+14155550003\",\"+14155550004\"]}",
                       &r);
    json_t *to = to_of(env);
    assert_string_equal(str(env, "callback"), "error");
    assert_string_equal(str(to, "status_code"), "PARTIAL_FAILURE");
    assert_int_equal(num(to, "total"), 4);
    assert_int_equal(num(to, "sent"), 2);
    assert_int_equal(num(to, "failed"), 2);
    assert_string_equal(str(result(env, 0), "sid"), sid(0));
    assert_string_equal(str(result(env, 3), "sid"), sid(3));
    json_t *refused = result(env, 1);
    assert_true(json_is_null(json_object_get(refused, "sid")));
    assert_string_equal(str(refused, "status"), "failed");
    assert_string_equal(str(refused, "status_code"), "API_ERROR");
    assert_string_equal(str(refused, "status_msg"),
                        "[HTTP 400] Unable to create record: The 'To' number +15005550001 is not "
                        "a valid phone number.");
    assert_int_equal(num(refused, "code"), 21211);
    assert_string_equal(str(refused, "more_info"), "https://www.twilio.com/docs/errors/21211");
    assert_int_equal(num(refused, "http_status"), 400);
    json_t *maybe = result(env, 2);
    assert_string_equal(str(maybe, "status"), "unknown");
    assert_string_equal(str(maybe, "status_msg"),
                        "[HTTP 500] Unable to create record: Twilio answered HTTP 500 with a "
                        "non-JSON body (17 bytes) of type text/html (Twilio failed after "
                        "receiving the request; the message may have been created)");
    assert_int_equal(standin_count(H.up), 4);
    json_decref(env);
    http_reply_free(&r);
}

/* Nothing sent: the usual error envelope (the first failure's), with the counts; Twilio
 * refusing the credentials stops the batch. */
static void nothing_sent_is_the_usual_error(void **state)
{
    (void)state;
    struct standin_answer refused = {401, "application/json", ERROR_20003, 0, NULL, 0};
    standin_answer(H.up, &refused);
    struct http_reply r;
    json_t *env = call(NULL,
                       "{" CREDS ",\"body\":\"Hi\",\"recipients\":[\"+14155550001\","
                       "\"+14155550002\",\"+14155550003\"]}",
                       &r);
    json_t *to = to_of(env);
    assert_string_equal(str(env, "callback"), "error");
    assert_string_equal(str(to, "status_code"), "API_ERROR");
    assert_string_equal(str(to, "status_msg"), "[HTTP 401] Unable to create record: Authenticate");
    assert_int_equal(num(to, "code"), 20003);
    assert_int_equal(num(to, "status"), 401);
    assert_int_equal(num(to, "sent"), 0);
    assert_int_equal(num(to, "failed"), 3);
    assert_string_equal(str(result(env, 1), "status"), "not_sent");
    assert_string_equal(str(result(env, 2), "status_msg"),
                        "Not sent: Twilio refused the credentials (HTTP 401) for an earlier "
                        "recipient, so no more were tried.");
    assert_int_equal(standin_count(H.up), 1);
    json_decref(env);
    http_reply_free(&r);
}

/* Twilio unreachable: INTERNAL_PACKAGE_ERROR, as a single send says it, every recipient not
 * sent. */
static void unreachable_twilio_is_the_usual_error(void **state)
{
    (void)state;
    struct http_reply r;
    json_t *env = call(NULL,
                       "{" CREDS ",\"body\":\"Hi\",\"recipients\":[\"+14155550001\","
                       "\"+14155550002\"]}",
                       &r);
    json_t *to = to_of(env);
    assert_string_equal(str(to, "status_code"), "INTERNAL_PACKAGE_ERROR");
    assert_string_equal(str(to, "status_msg"),
                        "Could not reach Twilio at http://127.0.0.1:1: connection refused");
    assert_int_equal(num(to, "failed"), 2);
    assert_string_equal(str(result(env, 1), "status"), "not_sent");
    json_decref(env);
    http_reply_free(&r);
}

/* Recipients not reached before BULK_DEADLINE_MS are reported not sent: the tail of the list,
 * and only they. */
static void the_deadline_leaves_the_rest_not_sent(void **state)
{
    (void)state;
    struct standin_answer slow = created;
    slow.delay_ms = 300;
    standin_answer(H.up, &slow);
    struct http_reply r;
    json_t *env = call(NULL, ARGS(EIGHT), &r);
    json_t *to = to_of(env);
    long long sent = num(to, "sent");
    assert_true(sent >= 1 && sent < 8);
    assert_int_equal(standin_count(H.up), (size_t)sent);
    assert_string_equal(str(to, "status_code"), "PARTIAL_FAILURE");
    for (size_t i = 0; i < 8; i++) {
        json_t *e = result(env, i);
        if ((long long)i < sent) {
            assert_string_equal(str(e, "status"), "queued");
            continue;
        }
        assert_string_equal(str(e, "status"), "not_sent");
        assert_string_equal(str(e, "status_code"), "DEADLINE_EXCEEDED");
        assert_string_equal(str(e, "status_msg"),
                            "Not sent: the call reached its deadline (BULK_DEADLINE_MS, 1500 ms) "
                            "before this recipient's turn. Repeat the call (with the same "
                            "Idempotency-Key) to send to the rest.");
    }
    json_decref(env);
    http_reply_free(&r);
}

#define REPEATED                                                                                   \
    "{" CREDS ",\"body\":\"Hi\",\"recipients\":[\"+14155550001\",\"+14155550002\","                \
    "\"+14155550003\",\"+14155550004\",\"+1 415 555 0001\"]}"

/* A repeat with the Idempotency-Key sends only to the recipient that certainly was not sent to
 * (a 429), not to the one that may have been (a 500), and answers with the same SIDs; once no
 * recipient is left to try, the answer is kept and replayed byte for byte. */
static void a_repeat_sends_only_what_was_not_sent(void **state)
{
    (void)state;
    const struct standin_answer limited = {
        429, "application/json", "{\"code\":20429,\"message\":\"Too Many Requests\"}", 0, "0", 0};
    struct standin_answer script[5] = {
        created, {500, "text/html", "<html>oops</html>", 0, NULL, 0}, limited, limited, created};
    standin_script(H.up, script, 5);
    struct http_reply r1, r2, r3;
    json_t *first = call("bulk-repeat-1", REPEATED, &r1);
    assert_string_equal(str(to_of(first), "status_code"), "PARTIAL_FAILURE");
    assert_string_equal(str(result(first, 1), "status"), "unknown");
    assert_string_equal(str(result(first, 2), "status"), "not_sent");
    assert_int_equal(num(result(first, 4), "duplicateOf"), 0);
    assert_int_equal(standin_count(H.up), 5);

    /* A dry run with the key spends nothing; other args under the key are refused. */
    struct http_reply d;
    json_decref(
        call("bulk-repeat-1",
             "{" CREDS ",\"body\":\"Hi\",\"dryRun\":true,\"recipients\":[\"+14155550009\"]}", &d));
    assert_non_null(strstr(buf_str(&d.body), "\"dryRun\":true"));
    http_reply_free(&d);
    json_decref(call("bulk-repeat-1",
                     "{" CREDS ",\"body\":\"Other\",\"recipients\":[\"+14155550001\"]}", &d));
    assert_non_null(strstr(buf_str(&d.body), "\"status_code\":\"IDEMPOTENCY_KEY_REUSED\""));
    http_reply_free(&d);
    assert_int_equal(standin_count(H.up), 5);

    json_t *second = call("bulk-repeat-1", REPEATED, &r2);
    assert_int_equal(standin_count(H.up), 6);
    assert_string_equal(sent_to(5), "+14155550003");
    assert_string_equal(r2.replayed, "");
    assert_string_equal(str(to_of(second), "status_code"), "PARTIAL_FAILURE");
    assert_int_equal(num(to_of(second), "sent"), 3); /* 4 messages, entry 4 merged into 0 */
    for (size_t i = 0; i < 5; i++) {
        if (i != 2)
            assert_true(json_equal(result(first, i), result(second, i)));
    }
    assert_string_equal(str(result(second, 2), "sid"), sid(5));
    assert_string_equal(str(result(second, 1), "status"), "unknown");

    /* Nothing is left to try: the answer was kept. */
    json_decref(call("bulk-repeat-1", REPEATED, &r3));
    assert_string_equal(r3.replayed, "true");
    assert_string_equal(buf_str(&r3.body), buf_str(&r2.body));
    assert_int_equal(standin_count(H.up), 6);
    json_decref(first);
    json_decref(second);
    http_reply_free(&r1);
    http_reply_free(&r2);
    http_reply_free(&r3);
}

/* A recipient already sent to under the key with other args is refused with its own words, and
 * the refusal is not kept as the key's answer: the first args still send the rest. */
static void a_recipient_claimed_with_other_args_is_refused(void **state)
{
    (void)state;
    const struct standin_answer limited = {
        429, "application/json", "{\"code\":20429,\"message\":\"Too Many Requests\"}", 0, "0", 0};
    struct standin_answer script[4] = {created, limited, limited, created};
    standin_script(H.up, script, 4);
    struct http_reply r1, r2, r3;
    json_t *first = call("bulk-other-1", ARGS("\"+14155550001\",\"+14155550002\""), &r1);
    assert_string_equal(str(result(first, 1), "status"), "not_sent");
    assert_int_equal(standin_count(H.up), 3);

    json_decref(call("bulk-other-1",
                     "{" CREDS ",\"body\":\"Other\",\"recipients\":[\"+14155550001\"]}", &r2));
    assert_string_equal(
        buf_str(&r2.body),
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
        "\"IDEMPOTENCY_KEY_REUSED\",\"status_msg\":\"This Idempotency-Key was already used for "
        "this recipient with different credentials or args; nothing was sent.\",\"total\":1,"
        "\"messages\":1,\"sent\":0,\"failed\":1,\"merged\":0,\"results\":[{\"to\":"
        "\"+14155550001\",\"sid\":null,\"status\":\"failed\",\"status_code\":"
        "\"IDEMPOTENCY_KEY_REUSED\",\"status_msg\":\"This Idempotency-Key was already used for "
        "this recipient with different credentials or args; nothing was sent.\"}]}}}");
    assert_string_equal(r2.replayed, "");
    assert_int_equal(standin_count(H.up), 3);

    json_t *third = call("bulk-other-1", ARGS("\"+14155550001\",\"+14155550002\""), &r3);
    assert_string_equal(str(to_of(third), "status"), "(none)");
    assert_true(json_equal(result(first, 0), result(third, 0)));
    assert_string_equal(str(result(third, 1), "sid"), sid(3));
    assert_int_equal(standin_count(H.up), 4);
    assert_string_equal(sent_to(3), "+14155550002");
    json_decref(first);
    json_decref(third);
    http_reply_free(&r1);
    http_reply_free(&r2);
    http_reply_free(&r3);
}

/* A recipient whose claim another call holds (still sending to it) is not sent now, in its own
 * words; once that call lets the claim go, a repeat sends to it and replays the others. */
static void a_recipient_in_flight_elsewhere_is_not_sent_now(void **state)
{
    (void)state;
    static const char args[] = ARGS("\"+14155550001\",\"+14155550002\"");
    const struct block_def *bulk = block_find(H.blocks, "sendBulkSms", 11);
    struct send_service *calls = &H.svc->calls;
    struct recipients plan;
    struct send_key held;
    unsigned char fp[IDEM_FP_LEN];
    char *stored = NULL;
    size_t len = 0;
    json_t *reasons = NULL, *parsed = json_loads(args, 0, NULL);
    assert_int_equal(recipients_check(bulk, parsed, 20, 1 << 20, &plan, &reasons), ARGS_OK);
    assert_int_equal(
        send_key_init(&held, &plan.items[0].prep, "bulk-held-1", "sendBulkSms\n+14155550001"), 0);
    assert_int_equal(send_fingerprint(bulk->each->block->name, &plan.items[0].prep, 0, fp), 0);
    assert_int_equal(send_claim(calls, &held, fp, 0, &stored, &len), IDEM_FRESH);

    struct http_reply r1, r2;
    json_t *first = call("bulk-held-1", args, &r1);
    char *text = json_dumps(result(first, 0), JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"to\":\"+14155550001\",\"sid\":null,\"status\":\"not_sent\","
                              "\"status_code\":\"IDEMPOTENCY_KEY_IN_FLIGHT\",\"status_msg\":\"A "
                              "request with this Idempotency-Key is still sending to this "
                              "recipient; nothing was sent. Repeat the call later to get its "
                              "answer.\"}");
    assert_string_equal(str(result(first, 1), "sid"), sid(0));
    assert_int_equal(standin_count(H.up), 1);

    send_settle(calls, &held, 0, NULL, 0);
    json_t *second = call("bulk-held-1", args, &r2);
    assert_string_equal(str(second, "callback"), "success");
    assert_string_equal(str(result(second, 0), "sid"), sid(1));
    assert_true(json_equal(result(first, 1), result(second, 1)));
    assert_int_equal(standin_count(H.up), 2);
    assert_string_equal(sent_to(1), "+14155550001");
    free(text);
    json_decref(first);
    json_decref(second);
    json_decref(parsed);
    send_key_free(&held);
    recipients_free(&plan);
    http_reply_free(&r1);
    http_reply_free(&r2);
}

/* A dry run answers each recipient's request with its SMS segments; nothing is sent. */
static void a_dry_run_sends_nothing(void **state)
{
    (void)state;
    struct http_reply r;
    json_t *env =
        call(NULL,
             "{" CREDS ",\"body\":\"Hi\",\"dryRun\":true,\"recipients\":[\"+14155550001\","
             "{\"to\":\"+14155550002\",\"body\":\"Hi \xf0\x9f\x98\x80\"},\"+14155550001\"]}",
             &r);
    json_t *to = to_of(env);
    assert_string_equal(str(env, "callback"), "success");
    assert_true(json_is_true(json_object_get(to, "dryRun")));
    assert_int_equal(num(to, "total"), 3);
    assert_int_equal(num(to, "messages"), 2);
    assert_int_equal(num(to, "merged"), 1);
    assert_int_equal(num(to, "segments"), 2);
    json_t *second = result(env, 1);
    assert_string_equal(str(second, "encoding"), "UCS-2");
    json_t *form = json_object_get(json_object_get(second, "request"), "form");
    assert_string_equal(str(form, "To"), "+14155550002");
    assert_string_equal(str(form, "Body"), "Hi \xf0\x9f\x98\x80");
    assert_string_equal(str(json_object_get(second, "request"), "password"), "********");
    assert_int_equal(num(result(env, 2), "duplicateOf"), 0);
    assert_null(json_object_get(result(env, 2), "request"));
    assert_int_equal(standin_count(H.up), 0);
    json_decref(env);
    http_reply_free(&r);
}

/* The loader keeps a bulk block and the block it calls in step. */
static void a_bulk_block_agrees_with_the_one_it_calls(void **state)
{
    (void)state;
    static const struct {
        const char *what, *err;
    } cases[] = {
        {"drop riskCheck", "sendBulkSms: lacks sendSms's arg \"riskCheck\""},
        {"call nothing", "sendBulkSms: each.block must name a block that calls Twilio"},
        {"override accountSid",
         "sendBulkSms: each.overrides: \"accountSid\" is not another arg of sendSms sent to "
         "Twilio"},
        {"give a param", "sendBulkSms: arg \"accountSid\" of a bulk block has no param"},
    };
    static const char *const name = "sendBulkSms";
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        json_t *def = harness_block_def(name);
        json_t *args = json_object_get(def, "args"), *a;
        size_t i;
        if (c == 0) {
            json_array_foreach(args, i, a) {
                if (strcmp(str(a, "name"), "riskCheck") == 0)
                    break;
            }
            json_array_remove(args, i);
        } else if (c == 1) {
            json_object_set_new(json_object_get(def, "each"), "block", json_string("sendBulkSms"));
        } else if (c == 2) {
            json_array_append_new(json_object_get(json_object_get(def, "each"), "overrides"),
                                  json_string("accountSid"));
        } else {
            json_object_set_new(json_array_get(args, 0), "param", json_string("AccountSid"));
        }
        char err[256] = "";
        assert_null(harness_blocks_with(&name, &def, 1, err, sizeof err));
        assert_string_equal(err, cases[c].err);
        json_decref(def);
    }
}

int main(void)
{
    const struct CMUnitTest serial[] = {
        cmocka_unit_test_setup(a_bad_list_sends_nothing, reset),
        cmocka_unit_test_setup(a_list_may_be_a_string, reset),
        cmocka_unit_test_setup(duplicates_are_sent_once, reset),
        cmocka_unit_test_setup(rate_limited_too_often_is_not_sent, reset),
        cmocka_unit_test_setup(partial_failures_are_reported_each, reset),
        cmocka_unit_test_setup(nothing_sent_is_the_usual_error, reset),
        cmocka_unit_test_setup(a_repeat_sends_only_what_was_not_sent, reset),
        cmocka_unit_test_setup(a_recipient_claimed_with_other_args_is_refused, reset),
        cmocka_unit_test_setup(a_recipient_in_flight_elsewhere_is_not_sent_now, reset),
        cmocka_unit_test_setup(a_dry_run_sends_nothing, reset),
    };
    const struct CMUnitTest parallel[] = {
        cmocka_unit_test_setup(sends_in_flight_are_bounded, reset),
        cmocka_unit_test_setup(a_429_paces_the_whole_batch, reset),
    };
    const struct CMUnitTest deadline[] = {
        cmocka_unit_test_setup(the_deadline_leaves_the_rest_not_sent, reset),
    };
    const struct CMUnitTest unreachable[] = {
        cmocka_unit_test(unreachable_twilio_is_the_usual_error),
    };
    const struct CMUnitTest loader[] = {
        cmocka_unit_test(a_bulk_block_agrees_with_the_one_it_calls),
    };
    int failed = cmocka_run_group_tests_name("serial", serial, start_serial, stop);
    failed += cmocka_run_group_tests_name("parallel", parallel, start_parallel, stop);
    failed += cmocka_run_group_tests_name("deadline", deadline, start_short_deadline, stop);
    failed += cmocka_run_group_tests_name("unreachable", unreachable, start_unreachable, stop);
    failed += cmocka_run_group_tests_name("loader", loader, NULL, NULL);
    return failed ? 1 : 0;
}

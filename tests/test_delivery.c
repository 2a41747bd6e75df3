/* webhookEvent delivers each Twilio delivery once: a webhook repeated with the same
 * I-Twilio-Idempotency-Token, or an Event Streams CloudEvent repeated with the same id, is
 * answered "duplicate": true with the first http_resp and no listeners; a batch delivers only
 * its unseen events; a forged delivery is not remembered; and two real processes (argv[1])
 * sharing a real redis-server through REDIS_URL agree on what was seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>
#include <curl/curl.h>

#include "harness.h"
#include "redisd.h"

#define OK(to) "{\"callback\":\"success\",\"contextWrites\":{\"to\":" to "}}"
#define TWIML_THANKS                                                                               \
    "<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?><Response><Message>Thanks</Message>"        \
    "</Response>"
#define SMS_BODY                                                                                   \
    "{\"MessageSid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"From\":\"+14155552671\","            \
    "\"To\":\"+15005550006\",\"Body\":\"Hi\"}"
#define LISTENER "{\"reply\":\"Thanks\"}"
#define WEBHOOK(token)                                                                             \
    "{\"args\":{\"body\":" SMS_BODY ",\"params\":[" LISTENER "],\"headers\":{"                     \
    "\"I-Twilio-Idempotency-Token\":\"" token "\"}}}"
#define DELIVERED                                                                                  \
    OK("{\"http_resp\":\"" TWIML_THANKS "\",\"client_msg\":" SMS_BODY ",\"params\":[" LISTENER "]" \
       "}")
#define DUPLICATE                                                                                  \
    OK("{\"http_resp\":\"" TWIML_THANKS "\",\"client_msg\":" SMS_BODY ",\"params\":[],"            \
       "\"duplicate\":true}")
#define EVENT(id)                                                                                  \
    "{\"specversion\":\"1.0\",\"type\":\"com.twilio.messaging.inbound-message.received\","         \
    "\"source\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMa.json\","    \
    "\"id\":\"" id "\",\"time\":\"2026-12-04T22:00:00.000Z\",\"data\":{\"to\":\"+15005550006\"}}"

static const char *binary;
static struct harness H;

static int setup(void **state)
{
    (void)state;
    return harness_start(&H, NULL, 0, 0);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

static void expect_at(const char *base, const char *json, const char *want)
{
    char url[160];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/webhookEvent", base);
    assert_int_equal(
        http_call_ex("POST", url, "application/json", NULL, NULL, json, strlen(json), &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_str(&r.body), want);
    http_reply_free(&r);
}

static void expect(const char *json, const char *want)
{
    expect_at(H.url, json, want);
}

/* {"args": {"body": text as a JSON string, ...more}} */
static char *raw_delivery(const char *text, const char *more)
{
    json_t *args = json_pack("{s:{s:s}}", "args", "body", text);
    json_t *extra = more ? json_loads(more, 0, NULL) : NULL;
    json_object_update(json_object_get(args, "args"), extra);
    char *out = json_dumps(args, JSON_COMPACT);
    json_decref(extra);
    json_decref(args);
    return out;
}

static void webhook_repeat_is_a_duplicate(void **state)
{
    (void)state;
    expect(WEBHOOK("idem-token-1"), DELIVERED);
    expect(WEBHOOK("idem-token-1"), DUPLICATE);
    expect(WEBHOOK("idem-token-2"), DELIVERED);
    /* without a token nothing tells two deliveries apart: each is delivered */
    const char *bare = "{\"args\":{\"body\":" SMS_BODY ",\"params\":[" LISTENER "]}}";
    expect(bare, DELIVERED);
    expect(bare, DELIVERED);
}

static void batch_delivers_only_unseen_events(void **state)
{
    (void)state;
    char *first = raw_delivery("[" EVENT("EVa1") "," EVENT("EVa2") "]", "{\"params\":[{}]}");
    char *second = raw_delivery("[" EVENT("EVa2") "," EVENT("EVa3") "," EVENT("EVa3") "]",
                                "{\"params\":[{}]}");
    char *third = raw_delivery(EVENT("EVa1"), "{\"params\":[{}]}");
    expect(first, OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[" EVENT("EVa1") "," EVENT(
                      "EVa2") "]},\"params\":[{}]}"));
    expect(second, OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[" EVENT(
                       "EVa3") "]},\"params\":[{}]}"));
    expect(third, OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[]},\"params\":[],"
                     "\"duplicate\":true}"));
    free(first);
    free(second);
    free(third);
}

static void bad_events_are_named(void **state)
{
    (void)state;
    expect("{\"args\":{\"body\":\"[{\\\"id\\\":\\\"x\\\"}]\"}}",
           "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"REQUIRED_FIELDS\","
           "\"status_msg\":\"Please, check and fill in required fields.\",\"fields\":[\"body\"],"
           "\"reasons\":{\"body\":\"must be the CloudEvents Event Streams delivered (objects "
           "with specversion, type and id)\"}}}}");
}

/* X-Twilio-Signature of an Event Streams delivery: the URL with bodySHA256, signed. */
static void sign(const char *token, const char *base_url, const char *body, char *url,
                 size_t url_size, char sig[64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[65];
    EVP_Digest(body, strlen(body), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(url, url_size, "%s?bodySHA256=%s", base_url, hex);
    HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)url, strlen(url), md, &n);
    EVP_EncodeBlock((unsigned char *)sig, md, (int)n);
}

static void forged_delivery_is_not_remembered(void **state)
{
    (void)state;
    const char *body = "[" EVENT("EVb1") "]";
    char url[256], sig[64], listener[512], more[1024];
    sign("es-token-3f1", "https://hooks.example.com/twilio/events", body, url, sizeof url, sig);
    snprintf(listener, sizeof listener, "{\"authToken\":\"es-token-3f1\",\"webhookUrl\":\"%s\"}",
             url);
    snprintf(more, sizeof more, "{\"params\":[%s],\"headers\":{\"X-Twilio-Signature\":\"%s\"}}",
             listener, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    char *forged = raw_delivery(body, more);
    char *got_forged;
    {
        char u[160];
        struct http_reply r;
        snprintf(u, sizeof u, "%s/api/twilio/webhookEvent", H.url);
        assert_int_equal(
            http_call_ex("POST", u, "application/json", NULL, NULL, forged, strlen(forged), &r), 0);
        got_forged = strdup(buf_str(&r.body));
        http_reply_free(&r);
    }
    assert_non_null(strstr(got_forged, "\"callback\":\"error\""));
    snprintf(more, sizeof more, "{\"params\":[%s],\"headers\":{\"X-Twilio-Signature\":\"%s\"}}",
             listener, sig);
    char *signed_ = raw_delivery(body, more);
    char want[2048];
    snprintf(want, sizeof want,
             OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[%s]},\"params\":[{\"webhookUrl\":"
                "\"%s\"}]}"),
             EVENT("EVb1"), url);
    expect(signed_, want);
    free(got_forged);
    free(forged);
    free(signed_);
}

#define PASSWORD "pw-dlv-81"

static void two_processes_share_what_was_seen(void **state)
{
    (void)state;
    struct redisd redis;
    struct child a, b;
    char url[128], base_a[64], base_b[64];
    memset(&redis, 0, sizeof redis);
    assert_int_equal(redisd_start(&redis, PASSWORD), 0);
    redisd_url(&redis, 0, url, sizeof url);
    const char *const env[] = {"REDIS_URL", url, "TWILIO_API_BASE", "http://127.0.0.1:1", NULL};
    child_start(&a, binary, "delivery", env, 10000);
    child_start(&b, binary, "delivery", env, 10000);
    snprintf(base_a, sizeof base_a, "http://127.0.0.1:%d", a.port);
    snprintf(base_b, sizeof base_b, "http://127.0.0.1:%d", b.port);
    expect_at(base_a, WEBHOOK("idem-token-9"), DELIVERED);
    expect_at(base_b, WEBHOOK("idem-token-9"), DUPLICATE);
    char *batch = raw_delivery("[" EVENT("EVc1") "," EVENT("EVc2") "]", NULL);
    char *again = raw_delivery("[" EVENT("EVc2") "," EVENT("EVc3") "]", NULL);
    expect_at(base_b, batch,
              OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[" EVENT("EVc1") "," EVENT(
                  "EVc2") "]},\"params\":[]}"));
    expect_at(
        base_a, again,
        OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[" EVENT("EVc3") "]},\"params\":[]}"));
    expect_at(base_a, batch,
              OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[]},\"params\":"
                 "[],\"duplicate\":true}"));
    free(batch);
    free(again);
    child_stop(&a);
    child_stop(&b);
    assert_false(child_log_has(&a, PASSWORD));
    unlink(a.log);
    unlink(b.log);
    redisd_stop(&redis);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_delivery path/to/twilio-block\n");
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(webhook_repeat_is_a_duplicate),
        cmocka_unit_test(batch_delivers_only_unseen_events),
        cmocka_unit_test(bad_events_are_named),
        cmocka_unit_test(forged_delivery_is_not_remembered),
        cmocka_unit_test(two_processes_share_what_was_seen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

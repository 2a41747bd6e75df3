/* webhookEvent delivers each Twilio delivery once per listener set: a webhook repeated with the
 * same I-Twilio-Idempotency-Token, or an Event Streams CloudEvent repeated with the same id, is
 * answered "duplicate": true with the same http_resp and no listeners; a batch delivers only
 * its unseen events; a forged delivery, or one no signature was checked for, never hides a
 * signed one; two sinks each fire; a flood of unsigned deliveries evicts no Idempotency-Key and
 * puts nothing in Redis; and two real processes (argv[1]) sharing a real redis-server through
 * REDIS_URL agree on what was seen and signed. */
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

#include "creds.h"
#include "harness.h"
#include "redisd.h"

#undef OK
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

/* {"args": {"body": text, "params": [the signed listener], "headers": {its signature}}} for
 * an Event Streams delivery to the sink at base_url; the listener as it is handed on in
 * listener_out. */
static char *signed_events(const char *token, const char *base_url, const char *text,
                           char *listener_out, size_t size)
{
    char url[256], sig[64], more[1024];
    sign(token, base_url, text, url, sizeof url, sig);
    snprintf(listener_out, size, "{\"webhookUrl\":\"%s\"}", url);
    snprintf(more, sizeof more,
             "{\"params\":[{\"authToken\":\"%s\",\"webhookUrl\":\"%s\"}],\"headers\":{"
             "\"X-Twilio-Signature\":\"%s\"}}",
             token, url, sig);
    return raw_delivery(text, more);
}

/* The same event reaching two sinks (two workflows) fires each once. */
static void two_sinks_both_fire(void **state)
{
    (void)state;
    const char *text = "[" EVENT("EVd1") "]";
    char l1[512], l2[512], want[2048];
    char *one =
        signed_events("es-token-3f1", "https://hooks.example.com/sink/1", text, l1, sizeof l1);
    char *two =
        signed_events("es-token-3f1", "https://hooks.example.com/sink/2", text, l2, sizeof l2);
    snprintf(want, sizeof want,
             OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[%s]},\"params\":[%s]}"),
             EVENT("EVd1"), l1);
    expect(one, want);
    snprintf(want, sizeof want,
             OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[%s]},\"params\":[%s]}"),
             EVENT("EVd1"), l2);
    expect(two, want);
    const char *dup = OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[]},\"params\":[],"
                         "\"duplicate\":true}");
    expect(one, dup);
    expect(two, dup);
    free(one);
    free(two);
}

/* X-Twilio-Signature of a webhook posted as form fields: HMAC-SHA1 of the URL and the sorted
 * fields' names and values. */
static void sign_sms(const char *token, const char *url, char sig[64])
{
    char data[1024];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    snprintf(data, sizeof data,
             "%sBodyHiFrom+14155552671MessageSidSMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaTo+15005550006",
             url);
    HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)data, strlen(data), md, &n);
    EVP_EncodeBlock((unsigned char *)sig, md, (int)n);
}

/* A forged body whose To matches no listener skips every signature check: its token must not
 * make the real, signed delivery a duplicate. */
static void unchecked_token_is_not_remembered(void **state)
{
    (void)state;
    const char *hook = "https://hooks.example.com/twilio/sms";
    const char *listener = "{\"to\":\"+15005550006\",\"authToken\":\"wh-token-77c\","
                           "\"webhookUrl\":\"https://hooks.example.com/twilio/sms\"}";
    char json[2048], sig[64];
    snprintf(json, sizeof json,
             "{\"args\":{\"body\":{\"MessageSid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
             "\"From\":\"+14155552671\",\"To\":\"+15005550999\",\"Body\":\"Hi\"},"
             "\"params\":[%s],\"headers\":{\"I-Twilio-Idempotency-Token\":\"tok-unchecked-1\"}}}",
             listener);
    expect(json,
           OK("{\"http_resp\":\"<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?>"
              "<Response/>\",\"client_msg\":{\"MessageSid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aa\",\"From\":\"+14155552671\",\"To\":\"+15005550999\",\"Body\":\"Hi\"},"
              "\"params\":[]}"));
    sign_sms("wh-token-77c", hook, sig);
    snprintf(json, sizeof json,
             "{\"args\":{\"body\":" SMS_BODY ",\"params\":[%s],\"headers\":{"
             "\"I-Twilio-Idempotency-Token\":\"tok-unchecked-1\",\"X-Twilio-Signature\":\"%s\"}}}",
             listener, sig);
    const char *fired = OK("{\"http_resp\":\"<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?>"
                           "<Response/>\",\"client_msg\":" SMS_BODY ",\"params\":[{\"to\":"
                           "\"+15005550006\",\"webhookUrl\":\"https://hooks.example.com/twilio/"
                           "sms\"}]}");
    expect(json, fired);
    expect(json, OK("{\"http_resp\":\"<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?>"
                    "<Response/>\",\"client_msg\":" SMS_BODY ",\"params\":[],"
                    "\"duplicate\":true}"));
}

/* n minimal CloudEvents with ids <prefix><from>..<prefix><from + n - 1>, as a webhookEvent
 * call's JSON with one unsigned listener. */
static char *unsigned_batch(const char *prefix, long from, long n)
{
    struct buf b;
    buf_init(&b, 1u << 24);
    buf_appendz(&b, "{\"args\":{\"params\":[{}],\"body\":[");
    for (long i = 0; i < n; i++)
        buf_appendf(&b, "%s{\"specversion\":\"1.0\",\"type\":\"t\",\"id\":\"%s%ld\"}", i ? "," : "",
                    prefix, from + i);
    buf_appendz(&b, "]}}");
    char *out = strdup(buf_str(&b));
    buf_free(&b);
    return out;
}

static void post_batch(const char *base, const char *json)
{
    char url[160];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/webhookEvent", base);
    assert_int_equal(
        http_call_ex("POST", url, "application/json", NULL, NULL, json, strlen(json), &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    assert_null(strstr(buf_str(&r.body), "\"duplicate\""));
    http_reply_free(&r);
}

/* Eight calls of 1,500 unsigned CloudEvents, then a caller's retry of sendSms with its
 * Idempotency-Key: answered from the key, Twilio asked once. */
static void flood_evicts_no_idempotency_key(void **state)
{
    (void)state;
    const char *sms = "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155550001\","
                      "\"body\":\"Hi\"}";
    char url[160];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", H.url);
    standin_clear(H.up);
    assert_int_equal(http_post_keyed(url, "flood-victim-1", sms, &r), 0);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    for (long k = 0; k < 8; k++) {
        char *batch = unsigned_batch("flood-", k * 1500, 1500);
        post_batch(H.url, batch);
        free(batch);
    }
    assert_int_equal(http_post_keyed(url, "flood-victim-1", sms, &r), 0);
    assert_string_equal(r.replayed, "true");
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 1);
}

static long long used_memory(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO memory");
    assert_non_null(r);
    const char *at = strstr(r->str, "used_memory:");
    assert_non_null(at);
    long long v = atoll(at + strlen("used_memory:"));
    freeReplyObject(r);
    return v;
}

#define PASSWORD "pw-dlv-81"

/* Starts a replica on a redis-server of its own, posts it 100 calls of 1,000 ids (batch_of(k)
 * makes call k), and answers by how many bytes Redis's used_memory grew; *listed: the delivery
 * ids listed in twilio-block:deliveries at the end. */
static long long flood_redis(const char *name, char *(*batch_of)(long k), long long *listed)
{
    struct redisd redis;
    struct child a;
    char url[128], base[64];
    memset(&redis, 0, sizeof redis);
    assert_int_equal(redisd_start(&redis, PASSWORD), 0);
    redisd_url(&redis, 0, url, sizeof url);
    redisContext *c = redisd_connect(&redis, 0);
    assert_non_null(c);
    const char *const env[] = {"REDIS_URL", url, "TWILIO_API_BASE", "http://127.0.0.1:1", NULL};
    child_start(&a, binary, name, env, 10000);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", a.port);
    long long before = used_memory(c);
    for (long k = 0; k < 100; k++) {
        char *batch = batch_of(k);
        post_batch(base, batch);
        free(batch);
    }
    long long grew = used_memory(c) - before;
    redisReply *n = redisCommand(c, "ZCARD twilio-block:deliveries");
    assert_non_null(n);
    *listed = n->integer;
    freeReplyObject(n);
    redisFree(c);
    child_stop(&a);
    unlink(a.log);
    redisd_stop(&redis);
    return grew;
}

static char *unsigned_call(long k)
{
    return unsigned_batch("u", k * 1000, 1000);
}

/* Call k of 1,000 CloudEvents signed with a token the caller chose. */
static char *self_signed_call(long k)
{
    char listener[512];
    struct buf text;
    buf_init(&text, 1u << 20);
    buf_appendz(&text, "[");
    for (long i = 0; i < 1000; i++)
        buf_appendf(&text, "%s{\"specversion\":\"1.0\",\"type\":\"t\",\"id\":\"sf-%ld\"}",
                    i ? "," : "", k * 1000 + i);
    buf_appendz(&text, "]");
    char *batch = signed_events("self-chosen-token", "https://hooks.example.com/flood",
                                buf_str(&text), listener, sizeof listener);
    buf_free(&text);
    return batch;
}

/* 100,000 unsigned ids from one client leave Redis (nearly) as it was: what no signature
 * vouched for is kept per process, never in Redis. */
static void unsigned_ids_stay_out_of_redis(void **state)
{
    (void)state;
    long long listed;
    long long grew = flood_redis("delivery-flood", unsigned_call, &listed);
    print_message("Redis used_memory after 100,000 unsigned ids: %+lld bytes\n", grew);
    assert_true(grew <= 8LL * 1024 * 1024);
    assert_int_equal(listed, 0);
}

/* 100,000 CloudEvent ids signed with a token the caller chose (so anyone can sign them) are
 * remembered in Redis, at most DELIVERY_MAX of them (10,000 by default, the oldest dropped):
 * Redis grows by a bounded amount, however many come. */
static void self_signed_ids_are_bounded_in_redis(void **state)
{
    (void)state;
    long long listed;
    long long grew = flood_redis("delivery-self-signed", self_signed_call, &listed);
    print_message("Redis used_memory after 100,000 self-signed ids: %+lld bytes, %lld listed\n",
                  grew, listed);
    assert_int_equal(listed, 10000);
    assert_true(grew <= 8LL * 1024 * 1024);
}

static void two_processes_share_what_was_seen(void **state)
{
    (void)state;
    struct replicas s;
    char base_a[64], base_b[64], l[512], want[2048];
    assert_int_equal(replicas_start(&s, binary, "delivery", PASSWORD, "http://127.0.0.1:1", NULL),
                     0);
    snprintf(base_a, sizeof base_a, "http://127.0.0.1:%d", s.a.port);
    snprintf(base_b, sizeof base_b, "http://127.0.0.1:%d", s.b.port);
    /* unsigned: remembered per process only */
    expect_at(base_a, WEBHOOK("idem-token-9"), DELIVERED);
    expect_at(base_a, WEBHOOK("idem-token-9"), DUPLICATE);
    expect_at(base_b, WEBHOOK("idem-token-9"), DELIVERED);
    /* signed: shared through Redis */
    const char *sink = "https://hooks.example.com/sink/9";
    char l2[512];
    char *batch =
        signed_events("es-token-9", sink, "[" EVENT("EVc1") "," EVENT("EVc2") "]", l, sizeof l);
    char *again =
        signed_events("es-token-9", sink, "[" EVENT("EVc2") "," EVENT("EVc3") "]", l2, sizeof l2);
    snprintf(want, sizeof want,
             OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[%s,%s]},\"params\":[%s]}"),
             EVENT("EVc1"), EVENT("EVc2"), l);
    expect_at(base_b, batch, want);
    snprintf(want, sizeof want,
             OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[%s]},\"params\":[%s]}"),
             EVENT("EVc3"), l2);
    expect_at(base_a, again, want);
    expect_at(base_a, batch,
              OK("{\"http_resp\":\"\",\"client_msg\":{\"events\":[]},\"params\":"
                 "[],\"duplicate\":true}"));
    free(batch);
    free(again);
    replicas_stop(&s);
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
        cmocka_unit_test(two_sinks_both_fire),
        cmocka_unit_test(unchecked_token_is_not_remembered),
        cmocka_unit_test(flood_evicts_no_idempotency_key),
        cmocka_unit_test(unsigned_ids_stay_out_of_redis),
        cmocka_unit_test(self_signed_ids_are_bounded_in_redis),
        cmocka_unit_test(two_processes_share_what_was_seen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

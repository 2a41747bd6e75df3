/* Scenario tests: the real server on a free port, the scriptable stand-in as Twilio, real HTTP.
 * Each asserts the exact envelope and exactly what reached the stand-in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "flows.h"
#include "form.h"
#include "harness.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS "\"accountSid\":\"" SID "\",\"accountToken\":\"scenario-token-7f3e\""
#define BASIC "Basic QUNhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTpzY2VuYXJpby10b2tlbi03ZjNl"
#define MESSAGES "/2010-04-01/Accounts/" SID "/Messages.json"
#define CALLS "/2010-04-01/Accounts/" SID "/Calls.json"
#define RQID ",\"twilio_request_id\":\"RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""
#define SMS_ARGS                                                                                   \
    "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+1 (415) 555-2671\",\"body\":\"Hello there\"}"

static struct harness H;
static struct harness T; /* pointed at the stand-in account A: the trigger flows */
static struct account *A;

/* The server with campaigns in this process (main.c starts them for the binary). */
static int setup(void **state)
{
    (void)state;
    static struct config cfg; /* the senders keep it */
    harness_config(&cfg);
    cfg.upstream_timeout_ms = 400;
    cfg.max_body_bytes = 16384;
    return flows_start(&H, &cfg, &T, &A, NULL);
}

static int teardown(void **state)
{
    (void)state;
    flows_stop(&H, &T, A);
    return 0;
}

static void post(const char *block, const char *json, struct http_reply *r)
{
    assert_int_equal(harness_post(&H, block, json, r), 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "application/json");
}

static void expect_one_request(const char *path, const char *form)
{
    struct standin_record rec;
    assert_int_equal(standin_count(H.up), 1);
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.method, "POST");
    assert_string_equal(rec.path, path);
    assert_string_equal(rec.authorization, BASIC);
    assert_string_equal(rec.body, form);
}

static void answer(int status, const char *content_type, const char *body, int delay_ms)
{
    struct standin_answer a = {status, content_type, body, delay_ms, NULL, 0};
    standin_answer(H.up, &a);
}

static void sms_flat_success(void **state)
{
    (void)state;
    struct http_reply r;
    post("sendSms", SMS_ARGS, &r);
    assert_string_equal(
        buf_str(&r.body),
        "{\"callback\":\"success\",\"contextWrites\":{\"to\":"
        "{\"account_sid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"body\":\"Hello\",\"num_"
        "segments\":\"1\","
        "\"sid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"status\":\"queued\",\"price\":null}}}");
    expect_one_request(MESSAGES, "To=%2B14155552671&From=%2B15005550006&Body=Hello%20there");
    http_reply_free(&r);
}

static void sms_wrapped_same_request(void **state)
{
    (void)state;
    struct http_reply r;
    post("sendSms", "{\"args\":" SMS_ARGS "}", &r);
    assert_non_null(strstr(buf_str(&r.body), "{\"callback\":\"success\""));
    expect_one_request(MESSAGES, "To=%2B14155552671&From=%2B15005550006&Body=Hello%20there");
    http_reply_free(&r);
}

static void mms_list_is_repeated_key(void **state)
{
    (void)state;
    struct http_reply r;
    post("sendMms",
         "{\"args\":{" CREDS ",\"messagingServiceSid\":\"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
         "\"to\":\"whatsapp:+1 415 555 2671\",\"mediaUrl\":\"https://x.test/a.png, "
         "https://x.test/b.png\","
         "\"unknownKey\":\"never sent\",\"body\":\"\",\"from\":null}}",
         &r);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    expect_one_request(MESSAGES,
                       "To=whatsapp%3A%2B14155552671&MessagingServiceSid="
                       "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&MediaUrl=https%3A%2F%2Fx.test%2Fa.png"
                       "&MediaUrl=https%3A%2F%2Fx.test%2Fb.png");
    http_reply_free(&r);
}

static void call_with_options(void **state)
{
    (void)state;
    struct http_reply r;
    answer(201, "application/json", "{\"sid\":\"CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", 0);
    post("makeCall",
         "{\"args\":{" CREDS ",\"to\":\"client:alice\",\"from\":\"+15005550006\","
         "\"twiml\":\"<Response><Say>Hi</Say></Response>\",\"method\":\"get\","
         "\"statusCallbackEvent\":[\"initiated\",\"Answered\"],\"timeout\":\"30\",\"record\":"
         "\"true\","
         "\"machineDetectionTimeout\":0}}",
         &r);
    assert_string_equal(buf_str(&r.body), "{\"callback\":\"success\",\"contextWrites\":{\"to\":"
                                          "{\"sid\":\"CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}");
    struct standin_record rec;
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.path, CALLS);
    assert_non_null(strstr(rec.body, "To=client%3Aalice&From=%2B15005550006&"));
    assert_non_null(
        strstr(rec.body, "Twiml=%3CResponse%3E%3CSay%3EHi%3C%2FSay%3E%3C%2FResponse%3E"));
    assert_non_null(strstr(rec.body, "Method=GET"));
    assert_non_null(strstr(rec.body, "StatusCallbackEvent=initiated&StatusCallbackEvent=answered"));
    assert_non_null(strstr(rec.body, "Timeout=30"));
    assert_non_null(strstr(rec.body, "Record=true"));
    assert_non_null(strstr(rec.body, "MachineDetectionTimeout=0"));
    http_reply_free(&r);
}

static void invalid_args_name_each_field(void **state)
{
    (void)state;
    struct http_reply r;
    post("sendSms",
         "{\"args\":{\"accountSid\":\"AC123/../x\",\"to\":\"call me\",\"validityPeriod\":\"0\","
         "\"mediaUrl\":[\"file:///etc/passwd\"],\"provideFeedback\":\"maybe\"}}",
         &r);
    assert_string_equal(
        buf_str(&r.body),
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"REQUIRED_FIELDS\","
        "\"status_msg\":\"Please, check and fill in required fields.\",\"fields\":[\"accountSid\","
        "\"accountToken\",\"to\",\"from\",\"messagingServiceSid\",\"mediaUrl\",\"provideFeedback\","
        "\"validityPeriod\"],\"reasons\":{\"accountSid\":\"must be a SID: AC followed by 32 "
        "hexadecimal digits\",\"accountToken\":\"is required (or give apiKeySid and "
        "apiKeySecret instead)\",\"to\":\"must be a phone number in E.164 format "
        "(+14155552671) or a whatsapp:, client: or sip: address\",\"from\":\"one of "
        "from, messagingServiceSid is required\",\"messagingServiceSid\":\"one of from, "
        "messagingServiceSid is required\",\"mediaUrl\":\"item 1 must be an absolute http:// or "
        "https:// URL\",\"provideFeedback\":\"must be true or false\",\"validityPeriod\":\"must "
        "be from 1 to 36000\"}}}}");
    assert_int_equal(standin_count(H.up), 0);
    http_reply_free(&r);
}

static void body_not_json(void **state)
{
    (void)state;
    struct http_reply r;
    post("sendSms", "{\"args\": {\"to\": }", &r);
    assert_string_equal(buf_str(&r.body),
                        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                        "\"JSON_VALIDATION\",\"status_msg\":\"The request body is not valid JSON: "
                        "unexpected token (line 1, column 17).\",\"line\":1,\"column\":17,"
                        "\"position\":17,\"reason\":\"unexpected token\"}}}");
    assert_int_equal(standin_count(H.up), 0);
    http_reply_free(&r);
}

static void expect_api_error(const char *body, const char *content_type, int status,
                             const char *expected)
{
    struct http_reply r;
    answer(status, content_type, body, 0);
    post("sendSms", SMS_ARGS, &r);
    assert_string_equal(buf_str(&r.body), expected);
    assert_int_equal(standin_count(H.up), 1);
    http_reply_free(&r);
}

static void twilio_400_21211(void **state)
{
    (void)state;
    expect_api_error(
        "{\"code\":21211,\"message\":\"The 'To' number +14155552671 is not a valid phone number.\","
        "\"more_info\":\"https://www.twilio.com/docs/errors/21211\",\"status\":400}",
        "application/json", 400,
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"API_ERROR\","
        "\"status_msg\":\"[HTTP 400] Unable to create record: The 'To' number +14155552671 is not "
        "a valid phone number.\",\"code\":21211,\"message\":\"The 'To' number +14155552671 is not "
        "a valid phone number.\",\"more_info\":\"https://www.twilio.com/docs/errors/21211\","
        "\"status\":400" RQID "}}}");
}

static void twilio_401_20003(void **state)
{
    (void)state;
    expect_api_error("{\"code\":20003,\"detail\":\"Your AccountSid or AuthToken was incorrect.\","
                     "\"message\":\"Authenticate\",\"more_info\":\"https://www.twilio.com/docs/"
                     "errors/20003\",\"status\":401}",
                     "application/json", 401,
                     "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                     "\"API_ERROR\",\"status_msg\":\"[HTTP 401] Unable to create record: "
                     "Authenticate\",\"code\":20003,\"message\":\"Authenticate\",\"more_info\":"
                     "\"https://www.twilio.com/docs/errors/20003\",\"status\":401" RQID "}}}");
}

static void twilio_404(void **state)
{
    (void)state;
    expect_api_error("{\"code\":20404,\"message\":\"The requested resource " MESSAGES
                     " was not found\",\"more_info\":\"https://www.twilio.com/docs/errors/20404\","
                     "\"status\":404}",
                     "application/json", 404,
                     "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                     "\"API_ERROR\",\"status_msg\":\"[HTTP 404] Unable to create record: The "
                     "requested resource " MESSAGES " was not found\",\"code\":20404,\"message\":"
                     "\"The requested resource " MESSAGES " was not found\",\"more_info\":"
                     "\"https://www.twilio.com/docs/errors/20404\",\"status\":404" RQID "}}}");
}

static void twilio_500_html(void **state)
{
    (void)state;
    expect_api_error("<html><body>Internal Server Error</body></html>", "text/html", 500,
                     "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                     "\"API_ERROR\",\"status_msg\":\"[HTTP 500] Unable to create record: Twilio "
                     "answered HTTP 500 with a non-JSON body (47 bytes) of type text/html (Twilio "
                     "failed after receiving the request; the message may have been "
                     "created)\",\"status\":500" RQID "}}}");
}

static void twilio_never_answers(void **state)
{
    (void)state;
    struct http_reply r;
    answer(201, "application/json", standin_message_201, 1500);
    post("sendSms", SMS_ARGS, &r);
    assert_string_equal(buf_str(&r.body),
                        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                        "\"INTERNAL_PACKAGE_ERROR\",\"status_msg\":\"Twilio did not answer within "
                        "400 ms (UPSTREAM_TIMEOUT_MS); the request was sent, so the message may "
                        "have been created\"}}}");
    assert_int_equal(standin_count(H.up), 1);
    http_reply_free(&r);
}

static void connection_refused(void **state)
{
    (void)state;
    struct harness other;
    struct http_reply r;
    /* Port 9 (discard) on loopback: nothing listens there on a test machine. */
    assert_int_equal(harness_start(&other, "http://127.0.0.1:9", 400, 0), 0);
    assert_int_equal(harness_post(&other, "sendSms", SMS_ARGS, &r), 0);
    assert_string_equal(
        buf_str(&r.body),
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
        "\"INTERNAL_PACKAGE_ERROR\",\"status_msg\":\"Could not reach Twilio at "
        "http://127.0.0.1:9: connection refused (3 attempts; nothing was sent)\"}}}");
    http_reply_free(&r);
    harness_stop(&other);
}

static void tls_handshake_failure(void **state)
{
    (void)state;
    struct harness other;
    struct http_reply r;
    char base[64];
    /* https:// to a plain-HTTP listener: the TLS handshake cannot succeed. */
    snprintf(base, sizeof base, "https://127.0.0.1:%d", standin_port(H.up));
    assert_int_equal(harness_start(&other, base, 2000, 0), 0);
    assert_int_equal(harness_post(&other, "sendSms", SMS_ARGS, &r), 0);
    char want[256];
    snprintf(want, sizeof want,
             "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
             "\"INTERNAL_PACKAGE_ERROR\",\"status_msg\":\"Could not reach Twilio at %s: TLS "
             "handshake failed (",
             base);
    assert_int_equal(strncmp(buf_str(&r.body), want, strlen(want)), 0);
    http_reply_free(&r);
    harness_stop(&other);
}

static void unknown_block_is_404(void **state)
{
    (void)state;
    struct http_reply r;
    assert_int_equal(harness_post(&H, "sendFax", SMS_ARGS, &r), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(buf_str(&r.body),
                        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                        "\"UNKNOWN_BLOCK\",\"status_msg\":\"No block with that name. Blocks: "
                        "makeCall, sendMms, sendSms, sendBulkSms, getMessage, listMessages, "
                        "redactMessage, cancelMessage, getCall, listCalls, updateCall, "
                        "deleteMessage, listMessageMedia, deleteCall, listRecordings, "
                        "getRecording, listRecordingTranscriptions, listIncomingPhoneNumbers, "
                        "startVerification, checkVerification, lookupPhoneNumber, "
                        "createConversation, addConversationParticipant, "
                        "sendConversationMessage, twilioRequest, validateWebhookSignature, "
                        "subscribeWebhook, unsubscribeWebhook, subscribeEvents, "
                        "unsubscribeEvents, listEventTypes, "
                        "pollMessages, pollCalls, pollRecordings, pollTranscriptions, "
                        "pollIncomingPhoneNumbers, createCampaign, addCampaignRecipients, "
                        "startCampaign, pauseCampaign, resumeCampaign, cancelCampaign, "
                        "getCampaign, listCampaignRecipients; events: webhookEvent.\"}}}");
    http_reply_free(&r);
}

static void wrong_method_is_405(void **state)
{
    (void)state;
    struct http_reply r;
    char url[256];
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"METHOD_NOT_ALLOWED\""));
    http_reply_free(&r);
    snprintf(url, sizeof url, "%s/api/twilio", H.url);
    assert_int_equal(http_call("DELETE", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    http_reply_free(&r);
}

static void health_and_metadata(void **state)
{
    (void)state;
    struct http_reply a, b, c;
    char url[256];
    snprintf(url, sizeof url, "%s/healthz", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &a), 0);
    assert_int_equal(a.status, 200);
    assert_string_equal(buf_str(&a.body), "{\"status\":\"ok\"}");
    http_reply_free(&a);
    snprintf(url, sizeof url, "%s/api/twilio", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &b), 0);
    snprintf(url, sizeof url, "%s/api/Twilio", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &c), 0);
    assert_int_equal(b.status, 200);
    assert_int_equal(c.status, 200);
    size_t len;
    const char *meta = block_metadata(H.blocks, &len);
    assert_int_equal(b.body.len, len);
    assert_memory_equal(b.body.data, meta, len);
    assert_string_equal(buf_str(&b.body), buf_str(&c.body));
    http_reply_free(&b);
    http_reply_free(&c);
    assert_int_equal(standin_count(H.up), 0);
}

static void body_over_cap_is_413(void **state)
{
    (void)state;
    struct http_reply r;
    char big[20000];
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"body\":\"", 9);
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    assert_int_equal(harness_post(&H, "sendSms", big, &r), 0);
    assert_int_equal(r.status, 413);
    assert_string_equal(buf_str(&r.body),
                        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                        "\"PAYLOAD_TOO_LARGE\",\"status_msg\":\"The request body is larger than "
                        "16384 bytes (MAX_BODY_BYTES).\"}}}");
    assert_int_equal(standin_count(H.up), 0);
    http_reply_free(&r);
}

/* Calls b with args and checks that each of them with a parameter or header reached Twilio
 * under its name. */
static void call_with_examples(const struct block_def *b, json_t *args)
{
    json_t *wrapped = json_pack("{s:O}", "args", args);
    char *text = json_dumps(wrapped, JSON_COMPACT);
    struct http_reply r;
    standin_clear(H.up);
    assert_int_equal(harness_post(&H, b->name, text, &r), 0);
    if (!strstr(buf_str(&r.body), "\"callback\":\"success\""))
        fail_msg("%s with %s: %s", b->name, text, buf_str(&r.body));
    struct standin_record rec;
    assert_int_equal(standin_request(H.up, 0, &rec), b->handler ? -1 : 0);
    for (size_t k = 0; !b->handler && k < b->n_args; k++) {
        const struct arg_def *a = &b->args[k];
        struct buf key;
        if (!json_object_get(args, a->name))
            continue;
        if (a->header && strcmp(rec.webhook_enabled, "true") != 0)
            fail_msg("%s: %s was not sent as %s", b->name, a->name, a->header);
        if (!a->param)
            continue;
        buf_init(&key, 256);
        form_escape(&key, a->param, strlen(a->param));
        buf_append(&key, "=", 1);
        /* a GET or DELETE sends its parameters in the query string */
        const char *sent = strcmp(rec.method, "POST") ? strchr(rec.path, '?') : rec.body;
        if (!sent || !strstr(sent, buf_str(&key)))
            fail_msg("%s: %s was not sent", b->name, a->param);
        buf_free(&key);
    }
    http_reply_free(&r);
    free(text);
    json_decref(wrapped);
}

/* Every arg the metadata serves, with its example value, is accepted and reaches Twilio under
 * its parameter name: all at once, then (for blocks that call Twilio) each arg that cannot go
 * with all the others (the later args of an exclusive group) with the minimal args, its
 * group's others left out. */
static void every_served_arg_is_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < block_count(H.blocks); i++) {
        const struct block_def *b = block_at(H.blocks, i);
        if (b->flow_kind) /* several requests on a state: every_flow_block_answers */
            continue;
        json_t *all = block_example_args(b, 0);
        call_with_examples(b, all);
        for (size_t k = 0; !b->handler && k < b->n_args; k++) {
            if (json_object_get(all, b->args[k].name) || b->args[k].role == ROLE_NEXT_PAGE)
                continue;
            json_t *args = block_alternative_args(b, k);
            call_with_examples(b, args);
            json_decref(args);
        }
        json_decref(all);
    }
}

/* A poll block's first call: one request of one item, the stand-in's empty page. */
static void poll_starts_now(const struct flows_poll *p)
{
    static char page[128]; /* the stand-in keeps pointing at it */
    struct standin_record rec;
    standin_clear(H.up);
    snprintf(page, sizeof page, "{\"%s\":[],\"next_page_uri\":null}", p->list);
    harness_answer(&H, 200, page);
    flows_poll(&H, p);
    assert_int_equal(standin_count(H.up), 1);
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.method, "GET");
    assert_string_equal(rec.path, p->path);
    assert_string_equal(rec.authorization, FLOWS_BASIC);
}

/* Every flow block (several requests on a state, or a campaign): the polls against the
 * stand-in, the triggers against the stand-in account, the campaigns in this process. */
static void every_flow_block_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof flows_polls / sizeof flows_polls[0]; i++)
        poll_starts_now(&flows_polls[i]);
    flows_triggers(&T, A);

    standin_clear(H.up);
    standin_answer(
        H.up, &(struct standin_answer){201, "application/json", standin_message_201, 0, NULL, 0});
    flows_campaigns(&H);
    /* one message to each recipient, its body filled, in no promised order */
    static const char *const sent[] = {
        "To=%2B14155552673&MessagingServiceSid=MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&Body=Hi%20Ben",
        "To=%2B14155552674&MessagingServiceSid=MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&Body=Hi%20Cy",
        "To=%2B14155552675&MessagingServiceSid=MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&Body=Hi%20Dev"};
    assert_int_equal(standin_count(H.up), 3);
    for (size_t k = 0; k < 3; k++) {
        struct standin_record rec;
        size_t i = 0;
        while (standin_request(H.up, i, &rec) == 0 && strcmp(rec.body, sent[k]) != 0)
            i++;
        if (i == 3)
            fail_msg("not sent: %s", sent[k]);
        assert_string_equal(rec.method, "POST");
        assert_string_equal(rec.path, FLOWS_MESSAGES);
        assert_string_equal(rec.authorization, FLOWS_BASIC);
    }
    flows_all_called(H.blocks);
}

int main(void)
{
    harness_fixture(&H);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(sms_flat_success, harness_fixture_reset),
        cmocka_unit_test_setup(sms_wrapped_same_request, harness_fixture_reset),
        cmocka_unit_test_setup(mms_list_is_repeated_key, harness_fixture_reset),
        cmocka_unit_test_setup(call_with_options, harness_fixture_reset),
        cmocka_unit_test_setup(invalid_args_name_each_field, harness_fixture_reset),
        cmocka_unit_test_setup(body_not_json, harness_fixture_reset),
        cmocka_unit_test_setup(twilio_400_21211, harness_fixture_reset),
        cmocka_unit_test_setup(twilio_401_20003, harness_fixture_reset),
        cmocka_unit_test_setup(twilio_404, harness_fixture_reset),
        cmocka_unit_test_setup(twilio_500_html, harness_fixture_reset),
        cmocka_unit_test_setup(twilio_never_answers, harness_fixture_reset),
        cmocka_unit_test_setup(connection_refused, harness_fixture_reset),
        cmocka_unit_test_setup(tls_handshake_failure, harness_fixture_reset),
        cmocka_unit_test_setup(unknown_block_is_404, harness_fixture_reset),
        cmocka_unit_test_setup(wrong_method_is_405, harness_fixture_reset),
        cmocka_unit_test_setup(health_and_metadata, harness_fixture_reset),
        cmocka_unit_test_setup(body_over_cap_is_413, harness_fixture_reset),
        cmocka_unit_test_setup(every_served_arg_is_accepted, harness_fixture_reset),
        cmocka_unit_test_setup(every_flow_block_answers, harness_fixture_reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

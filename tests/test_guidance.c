/* Answers that say what to fix: a near block name ("did you mean"), an arg name in another case,
 * keys beside "args", an empty body, a trailing comma, a port in use, and an error body that is
 * JSON but not Twilio's shape. The real server and the stand-in, real HTTP, exact answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "creds.h"
#include "envelope.h"
#include "harness.h"
#include "suggest.h"

#define SMS_ARGS "\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"Hi\""
#define SMS_FORM "To=%2B14155552671&From=%2B15005550006&Body=Hi"
#define ROUTES                                                                                     \
    "Blocks: makeCall, sendMms, sendSms, sendBulkSms, getMessage, listMessages, "                  \
    "redactMessage, cancelMessage, getCall, listCalls, updateCall, deleteMessage, "                \
    "listMessageMedia, deleteCall, listRecordings, getRecording, listRecordingTranscriptions, "    \
    "listIncomingPhoneNumbers, startVerification, checkVerification, lookupPhoneNumber, "          \
    "createConversation, addConversationParticipant, sendConversationMessage, twilioRequest, "     \
    "validateWebhookSignature, subscribeWebhook, unsubscribeWebhook, subscribeEvents, "            \
    "unsubscribeEvents, listEventTypes, pollMessages, pollCalls, pollRecordings, "                 \
    "pollTranscriptions, pollIncomingPhoneNumbers, createCampaign, addCampaignRecipients, "        \
    "startCampaign, pauseCampaign, resumeCampaign, cancelCampaign, getCampaign, "                  \
    "listCampaignRecipients; events: webhookEvent."
#define ERROR(code, msg)                                                                           \
    "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"" code                   \
    "\",\"status_msg\":\"" msg "\""

static struct harness H;

static void expect_status(const char *block, const char *body, long status, const char *want)
{
    struct http_reply r;
    assert_int_equal(harness_post(&H, block, body, &r), 0);
    assert_int_equal(r.status, status);
    assert_string_equal(buf_str(&r.body), want);
    http_reply_free(&r);
}

static void near_names_are_suggested(void **state)
{
    (void)state;
    static const char *const names[] = {"sendSms", "sendMms", "getMessage", "webhookEvent"};
    struct {
        const char *typed;
        long want;
    } cases[] = {{"sendSMS", 0},     {"sendsms", 0},   {"sendSm", 0},
                 {"sendSmss", 0},    {"sedSms", 0},    {"snedSms", 0},
                 {"sendMMS", 1},     {"getMesage", 2}, {"WEBHOOKEVENT", 3},
                 {"webhookEvnt", 3}, {"sendFax", -1},  {"x", -1},
                 {"getCall", -1},    {"", -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long got = suggest_nearest(cases[i].typed, strlen(cases[i].typed), names, 4);
        if (got != cases[i].want)
            fail_msg("%s: got %ld, want %ld", cases[i].typed, got, cases[i].want);
    }
}

static void unknown_block_says_did_you_mean_and_every_route(void **state)
{
    (void)state;
    expect_status(
        "sendSMS", "{}", 404,
        ERROR("UNKNOWN_BLOCK", "No block with that name. Did you mean sendSms? " ROUTES) "}}}");
    expect_status("webhookevent", "{}", 404,
                  ERROR("UNKNOWN_BLOCK",
                        "No block with that name. Did you mean webhookEvent? " ROUTES) "}}}");
    expect_status("sendFax", "{}", 404,
                  ERROR("UNKNOWN_BLOCK", "No block with that name. " ROUTES) "}}}");
    assert_int_equal(standin_count(H.up), 0);
}

/* Twilio's own casing (To, From, Body) names the arg to use; nothing is sent. */
static void arg_names_in_another_case_are_named(void **state)
{
    (void)state;
    harness_expect(
        &H, "sendSms",
        "{" CREDS ",\"To\":\"+14155552671\",\"From\":\"+15005550006\",\"Body\":\"Hi\"}",
        FIELDS_ERROR("\"to\",\"from\",\"body\"",
                     "\"to\":\"is required (the body has To; arg names are case-sensitive: use "
                     "to)\",\"from\":\"is missing (the body has From; arg names are "
                     "case-sensitive: use from)\",\"body\":\"is missing (the body has Body; arg "
                     "names are case-sensitive: use body)\""));
    /* credentials too, and an optional arg that would have been dropped */
    harness_expect(&H, "sendSms",
                   "{\"AccountSid\":\"" SID "\",\"accountToken\":\"" TOKEN "\"," SMS_ARGS
                   ",\"StatusCallback\":\"https://example.com/s\"}",
                   FIELDS_ERROR("\"accountSid\",\"statusCallback\"",
                                "\"accountSid\":\"is required (the body has AccountSid; arg names "
                                "are case-sensitive: use accountSid)\",\"statusCallback\":\"is "
                                "missing (the body has StatusCallback; arg names are "
                                "case-sensitive: use statusCallback)\""));
    assert_int_equal(standin_count(H.up), 0);
}

/* The right name wins over another spelling beside it, which is ignored like any unknown key. */
static void the_exact_name_wins(void **state)
{
    (void)state;
    struct http_reply r;
    assert_int_equal(
        harness_post(&H, "sendSms", "{" CREDS "," SMS_ARGS ",\"TO\":\"+15005550001\"}", &r), 0);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    harness_expect_sent(&H, "POST", ACCOUNT "/Messages.json", BASIC, SMS_FORM);
}

/* Keys beside "args" are read when "args" lacks them; "args" wins where both have one. */
static void keys_beside_args_are_read_and_args_wins(void **state)
{
    (void)state;
    struct http_reply r;
    assert_int_equal(harness_post(&H, "sendSms",
                                  "{" CREDS ",\"to\":\"+15005550001\",\"args\":{" SMS_ARGS "}}",
                                  &r),
                     0);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    http_reply_free(&r);
    harness_expect_sent(&H, "POST", ACCOUNT "/Messages.json", BASIC, SMS_FORM);
}

static void empty_body_says_so(void **state)
{
    (void)state;
    static const char want[] =
        ERROR("JSON_VALIDATION",
              "The request body is empty. Send the args as a JSON object: "
              "{\\\"args\\\": {...}}, or the args at the top level, with "
              "Content-Type: application/json.") ",\"reason\":\"the body is empty\"}}}";
    expect_status("sendSms", "", 200, want);
    expect_status("sendSms", " \r\n\t", 200, want);
}

/* jansson points at what follows the comma, often on the next line; the answer points at it. */
static void trailing_comma_is_pointed_at(void **state)
{
    (void)state;
    expect_status(
        "sendSms", "{\"args\": {\"to\": \"+14155552671\",\n  }\n}", 200,
        ERROR("JSON_VALIDATION",
              "The request body is not valid JSON: trailing comma "
              "before '}' (line 1, column 31); remove the comma.") ",\"line\":1,\"column\":31,"
                                                                   "\"position\":31,"
                                                                   "\"reason\":\"trailing comma "
                                                                   "before '}'\"}}}");
    expect_status(
        "sendMms", "{\n\"mediaUrl\": [\"https://a.example/1.png\",\n]}", 200,
        ERROR("JSON_VALIDATION",
              "The request body is not valid JSON: trailing comma "
              "before ']' (line 2, column 39); remove the comma.") ",\"line\":2,\"column\":39,"
                                                                   "\"position\":41,"
                                                                   "\"reason\":\"trailing comma "
                                                                   "before ']'\"}}}");
    /* other syntax errors keep jansson's reason and place */
    expect_status("sendSms", "{\"to\" 1}", 200,
                  ERROR("JSON_VALIDATION", "The request body is not valid JSON: ':' expected (line "
                                           "1, column 7).") ",\"line\":1,\"column\":7,\"position\":"
                                                            "7,\"reason\":\"':' expected\"}}}");
}

static void port_in_use_says_so(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    struct config cfg;
    harness_config(&cfg);
    cfg.port = ntohs(a.sin_port);
    char err[512], want[512];
    struct service *svc = service_start(&cfg, H.blocks, err, sizeof err);
    assert_non_null(svc);
    assert_null(server_start(svc, err, sizeof err));
    snprintf(want, sizeof want,
             "cannot listen on 127.0.0.1:%ld: the port is in use (another twilio-block? set PORT "
             "or --port)",
             cfg.port);
    assert_string_equal(err, want);
    close(fd);

    snprintf(cfg.bind, sizeof cfg.bind, "192.0.2.1"); /* TEST-NET-1: on no machine */
    cfg.port = 0;
    service_stop(svc);
    assert_non_null(svc = service_start(&cfg, H.blocks, err, sizeof err));
    assert_null(server_start(svc, err, sizeof err));
    service_stop(svc);
    assert_string_equal(err, "cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this "
                             "machine (set BIND or --bind)");
}

/* The sandbox's Prism answers a request that breaks Twilio's contract with its own shape. */
static void foreign_json_error_keeps_its_reason(void **state)
{
    (void)state;
    harness_answer(&H, 422,
                   "{\"type\":\"https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY\","
                   "\"title\":\"Invalid request\",\"status\":422,\"detail\":\"Your request is not "
                   "valid and no HTTP validation response was found in the spec, so Prism is "
                   "generating this error for you.\",\"validation\":[{\"location\":[\"query\","
                   "\"starttime\"],\"severity\":\"Error\",\"code\":\"format\",\"message\":"
                   "\"Request query parameter starttime must match format \\\"date-time\\\"\"}]}");
    struct http_reply r;
    assert_int_equal(harness_post(&H, "listCalls", "{" CREDS ",\"startTime\":\"2026-11-23\"}", &r),
                     0);
    assert_int_equal(r.status, 200);
    const char *want = ERROR("API_ERROR", "[HTTP 422] Unable to fetch page: Invalid request: "
                                          "Request query parameter starttime must match format "
                                          "\\\"date-time\\\"") ",\"status\":422";
    if (strncmp(buf_str(&r.body), want, strlen(want)) != 0)
        fail_msg("got %s", buf_str(&r.body));
    http_reply_free(&r);
}

static void foreign_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"detail\":\"Upstream said no\"}", "Upstream said no"},
        {"{\"error\":\"rate limited\"}", "rate limited"},
        {"{\"error\":{\"message\":\"bad gateway\"}}", "bad gateway"},
        {"{\"errors\":[\"a is wrong\",{\"message\":\"b is wrong\"}]}", "a is wrong; b is wrong"},
        {"{\"title\":\"Bad\",\"errors\":[{\"message\":\"x\"}]}", "Bad: x"},
        {"{\"code\":20003,\"message\":\"Authenticate\"}", "Authenticate"},
        {"{\"status\":502}", "Twilio answered HTTP 502 with a JSON body (14 bytes)"},
        {"<html>", "Twilio answered HTTP 502 with a non-JSON body (6 bytes) of type text/html"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *out = envelope_api_error(502, "create record", cases[i].body, strlen(cases[i].body),
                                       "text/html", NULL, NULL, &len);
        assert_non_null(out);
        json_t *doc = json_loads(out, 0, NULL);
        const char *msg = json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "contextWrites"), "to"), "status_msg"));
        char want[256];
        snprintf(want, sizeof want, "[HTTP 502] Unable to create record: %s", cases[i].msg);
        if (!msg || strcmp(msg, want) != 0)
            fail_msg("%s: got %s", cases[i].body, msg ? msg : out);
        json_decref(doc);
        free(out);
    }
}

int main(void)
{
    harness_fixture(&H);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(near_names_are_suggested),
        cmocka_unit_test_setup(unknown_block_says_did_you_mean_and_every_route,
                               harness_fixture_reset),
        cmocka_unit_test_setup(arg_names_in_another_case_are_named, harness_fixture_reset),
        cmocka_unit_test_setup(the_exact_name_wins, harness_fixture_reset),
        cmocka_unit_test_setup(keys_beside_args_are_read_and_args_wins, harness_fixture_reset),
        cmocka_unit_test_setup(empty_body_says_so, harness_fixture_reset),
        cmocka_unit_test_setup(trailing_comma_is_pointed_at, harness_fixture_reset),
        cmocka_unit_test_setup(port_in_use_says_so, harness_fixture_reset),
        cmocka_unit_test_setup(foreign_json_error_keeps_its_reason, harness_fixture_reset),
        cmocka_unit_test(foreign_shapes),
    };
    return cmocka_run_group_tests(tests, harness_fixture_setup, harness_fixture_teardown);
}

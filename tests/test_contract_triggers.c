/* Contract tests of the trigger flows: every request subscribeWebhook, unsubscribeWebhook,
 * subscribeEvents, unsubscribeEvents and listEventTypes send goes first to Prism serving
 * Twilio's own specs (PRISM_URL: 2010-04-01, Messaging v1, Events v1; a mock of their own, as
 * Messaging and Conversations both have /v1/Services/{Sid}) and then to the stand-in account,
 * which answers from its state unless Prism refused the request. Run through
 * contract/run.sh with CONTRACT_SPECS set (see tests/CMakeLists.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "creds.h"
#include "harness.h"

#define PN1 "PN11111111111111111111111111111111"
#define MG1 "MG11111111111111111111111111111111"
#define HOOK "https://hooks.example.com/twilio/trigger"

static struct harness H;
static struct account *A;
static const char *prism;

static int setup(void **state)
{
    (void)state;
    prism = harness_prism();
    return prism ? account_harness_start(&H, &A, prism) : -1;
}

static int teardown(void **state)
{
    (void)state;
    account_harness_stop(&H, A);
    return 0;
}

static void expect_success(const char *block, const char *json)
{
    struct http_reply r;
    assert_int_equal(harness_post(&H, block, json, &r), 0);
    assert_int_equal(r.status, 200);
    if (!strstr(buf_str(&r.body), "{\"callback\":\"success\""))
        fail_msg("%s against Twilio's spec: %s", block, buf_str(&r.body));
    http_reply_free(&r);
    assert_int_equal(account_refused(A), 0);
}

static void webhooks_meet_the_contract(void **state)
{
    (void)state;
    account_reset(A);
    account_add(A, "numbers",
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "sid", PN1, "phone_number",
                          "+15005550006", "sms_url", "", "voice_url", "", "sms_application_sid",
                          MG1, "status_callback", ""));
    account_add(A, "services",
                json_pack("{s:s, s:s, s:s, s:s, s:b}", "sid", MG1, "inbound_request_url", "",
                          "inbound_method", "POST", "status_callback", "",
                          "use_inbound_webhook_on_number", 1));
    static const char *const events[] = {"incomingMessage", "incomingCall", "callStatus"};
    char json[1024];
    for (size_t i = 0; i < 3; i++) {
        snprintf(json, sizeof json,
                 "{" CREDS ",\"phoneNumber\":\"+1 (500) 555-0006\",\"event\":\"%s\","
                 "\"webhookUrl\":\"" HOOK "\",\"method\":\"GET\"}",
                 events[i]);
        expect_success("subscribeWebhook", json);
        snprintf(json, sizeof json,
                 "{" KEY_CREDS ",\"phoneNumber\":\"" PN1
                 "\",\"event\":\"%s\",\"webhookUrl\":\"" HOOK "\"%s}",
                 events[i],
                 i ? "" : ",\"previous\":{\"url\":\"https://demo.twilio.com/welcome/sms/reply\"}");
        expect_success("unsubscribeWebhook", json);
    }
    static const char *const service_events[] = {"incomingMessage", "messageStatus"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(json, sizeof json,
                 "{" CREDS ",\"messagingServiceSid\":\"" MG1 "\",\"event\":\"%s\","
                 "\"webhookUrl\":\"" HOOK "\"}",
                 service_events[i]);
        expect_success("subscribeWebhook", json);
        expect_success("unsubscribeWebhook", json);
    }
    assert_int_equal(account_writes(A), 10);
}

static void event_streams_meet_the_contract(void **state)
{
    (void)state;
    char sid[35], url[96];
    account_reset(A);
    for (int i = 1; i <= 60; i++) {
        snprintf(sid, sizeof sid, "DG%032x", 0x100 + i);
        snprintf(url, sizeof url, "https://elsewhere.example.com/%d", i);
        account_add(A, "sinks",
                    json_pack("{s:s, s:s, s:s, s:{s:s}}", "sid", sid, "description", "x",
                              "sink_type", "webhook", "sink_configuration", "destination", url));
    }
    for (int i = 0; i < 70; i++) {
        snprintf(url, sizeof url, "com.twilio.test.event-%d", i);
        account_add(A, "types", json_pack("{s:s, s:s}", "type", url, "schema_id", "Test"));
    }
    const char *subscribe = "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"types\":[\"com.twilio."
                            "messaging.inbound-message.received\"],\"description\":\"Inbound\"}";
    expect_success("subscribeEvents", subscribe);
    expect_success("subscribeEvents",
                   "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"types\":\"com.twilio.messaging."
                   "message.delivered\"}");
    expect_success("listEventTypes", "{" KEY_CREDS "}");
    expect_success("unsubscribeEvents", "{" CREDS ",\"webhookUrl\":\"" HOOK "\"}");
    assert_int_equal(account_writes(A), 5); /* sink, subscription, a type, two deletes */
    assert_int_equal(account_size(A, "sinks"), 60);
}

/* The mock really checks: a sink without its type is refused. */
static void the_mock_refuses_a_broken_request(void **state)
{
    (void)state;
    char url[512];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/v1/Sinks", prism);
    static const char form[] = "Description=x&SinkConfiguration=%7B%7D";
    assert_int_equal(http_call_ex("POST", url, "application/x-www-form-urlencoded", SID ":" TOKEN,
                                  NULL, form, sizeof form - 1, &r),
                     0);
    assert_true(r.status >= 400 && r.status < 500);
    http_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(webhooks_meet_the_contract),
        cmocka_unit_test(event_streams_meet_the_contract),
        cmocka_unit_test(the_mock_refuses_a_broken_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* subscribeEvents, unsubscribeEvents and listEventTypes against a stand-in account that keeps
 * state and pages as Twilio does: the sink that matches is found on any page (no duplicate),
 * a repeat writes nothing, unsubscribing leaves nothing and is harmless the second time. */
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

#define HOOK "https://hooks.example.com/twilio/events"
#define INBOUND "com.twilio.messaging.inbound-message.received"
#define DELIVERED "com.twilio.messaging.message.delivered"

static struct harness H;
static struct account *A;

static void add_sink(int n, const char *destination)
{
    char sid[35];
    snprintf(sid, sizeof sid, "DG%032x", n);
    account_add(A, "sinks",
                json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:b}, s:s}", "sid", sid, "description",
                          "someone's", "sink_type", "webhook", "sink_configuration", "destination",
                          destination, "method", "POST", "batch_events", 0, "status", "active"));
}

static void add_subscription(int n, int sink, const char *type)
{
    char sid[35], sink_sid[35];
    snprintf(sid, sizeof sid, "DF%032x", n);
    snprintf(sink_sid, sizeof sink_sid, "DG%032x", sink);
    account_add(A, "subscriptions",
                json_pack("{s:s, s:s, s:s, s:[s]}", "sid", sid, "sink_sid", sink_sid, "description",
                          "x", "types", type));
}

/* Sixty other sinks, the trigger's sink 55th (page 2), with a subscription to INBOUND. */
static void sixty_sinks(void)
{
    char url[128];
    for (int i = 1; i <= 60; i++) {
        snprintf(url, sizeof url, "https://elsewhere.example.com/%d", i);
        add_sink(0x100 + i, i == 55 ? HOOK : url);
    }
    add_subscription(0x200, 0x100 + 55, INBOUND);
}

#define SINK55 "DG00000000000000000000000000000137"
#define SUB200 "DF00000000000000000000000000000200"
#define SUBSCRIBE                                                                                  \
    "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"types\":[\"" INBOUND "\",\"" DELIVERED "\"]}"

static void match_on_page_two_is_reused(void **state)
{
    (void)state;
    sixty_sinks();
    harness_expect(&H, "subscribeEvents", SUBSCRIBE,
                   OK("{\"sinkSid\":\"" SINK55 "\",\"subscriptionSid\":\"" SUB200
                      "\",\"types\":[\"" INBOUND "\",\"" DELIVERED "\"],\"added\":[\"" DELIVERED
                      "\"],\"created\":{\"sink\":"
                      "false,\"subscription\":false}}"));
    assert_int_equal(account_writes(A), 1);
    assert_int_equal(account_size(A, "sinks"), 60);
    char line[512];
    assert_int_equal(account_line(A, 0, line, sizeof line), 0);
    assert_string_equal(line, "GET /v1/Sinks");
    /* the next page on the configured base: next_page_url's path and query only */
    assert_int_equal(account_line(A, 1, line, sizeof line), 0);
    assert_string_equal(line, "GET /v1/Sinks?PageSize=50&Page=1&PageToken=PT1");
    assert_int_equal(account_line(A, 2, line, sizeof line), 0);
    assert_string_equal(line, "GET /v1/Subscriptions?SinkSid=" SINK55);
    assert_int_equal(account_line(A, 4, line, sizeof line), 0);
    assert_string_equal(line, "POST /v1/Subscriptions/" SUB200 "/SubscribedEvents");
    /* again: nothing written */
    harness_expect(&H, "subscribeEvents",
                   "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"types\":\"[\\\"" DELIVERED "\\\"]\"}",
                   OK("{\"sinkSid\":\"" SINK55 "\",\"subscriptionSid\":\"" SUB200
                      "\",\"types\":[\"" INBOUND "\",\"" DELIVERED
                      "\"],\"added\":[],\"created\":{\"sink\":"
                      "false,\"subscription\":false}}"));
    harness_expect(
        &H, "subscribeEvents",
        "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"types\":\"" DELIVERED ", " INBOUND "\"}",
        OK("{\"sinkSid\":\"" SINK55 "\",\"subscriptionSid\":\"" SUB200 "\",\"types\":[\"" INBOUND
           "\",\"" DELIVERED "\"],\"added\":[],\"created\":{\"sink\":"
           "false,\"subscription\":false}}"));
    assert_int_equal(account_writes(A), 1);
}

static void first_time_creates_sink_and_subscription(void **state)
{
    (void)state;
    add_sink(0x50, "https://elsewhere.example.com/1");
    harness_expect(&H, "subscribeEvents", SUBSCRIBE,
                   OK("{\"sinkSid\":\"DG00000000000000000000000000000001\",\"subscriptionSid\":"
                      "\"DF00000000000000000000000000000002\",\"types\":[\"" INBOUND
                      "\",\"" DELIVERED "\"],\"added\":[\"" INBOUND "\",\"" DELIVERED
                      "\"],\"created\":{\"sink\":true,"
                      "\"subscription\":true}}"));
    assert_int_equal(account_writes(A), 2);
    json_t *sinks = account_copy(A, "sinks");
    json_t *mine = json_array_get(sinks, 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(mine, "sink_configuration"), "destination")),
                        HOOK);
    assert_string_equal(json_string_value(json_object_get(mine, "sink_type")), "webhook");
    assert_string_equal(json_string_value(json_object_get(mine, "description")),
                        "Workflow trigger");
    json_decref(sinks);
    harness_expect(&H, "subscribeEvents", SUBSCRIBE,
                   OK("{\"sinkSid\":\"DG00000000000000000000000000000001\",\"subscriptionSid\":"
                      "\"DF00000000000000000000000000000002\",\"types\":[\"" INBOUND
                      "\",\"" DELIVERED
                      "\"],\"added\":[],\"created\":{\"sink\":false,\"subscription\":false}}"));
    assert_int_equal(account_writes(A), 2);
}

/* A failure after a write says so; the repeat finds the sink it made and makes no other. */
static void failure_after_a_write_then_repeat(void **state)
{
    (void)state;
    account_fail_next(A, "POST /v1/Subscriptions", 400);
    harness_expect(
        &H, "subscribeEvents", SUBSCRIBE,
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"API_ERROR\","
        "\"status_msg\":\"[HTTP 400] Unable to create record: Internal Server Error; the "
        "changes before it were written\",\"code\":20500,\"message\":\"Internal Server "
        "Error\",\"more_info\":\"https://www.twilio.com/docs/errors/20500\",\"status\":400}}}");
    assert_int_equal(account_size(A, "sinks"), 1);
    assert_int_equal(account_size(A, "subscriptions"), 0);
    harness_expect(&H, "subscribeEvents", SUBSCRIBE,
                   OK("{\"sinkSid\":\"DG00000000000000000000000000000001\",\"subscriptionSid\":"
                      "\"DF00000000000000000000000000000002\",\"types\":[\"" INBOUND
                      "\",\"" DELIVERED "\"],\"added\":[\"" INBOUND "\",\"" DELIVERED
                      "\"],\"created\":{\"sink\":false,"
                      "\"subscription\":true}}"));
    assert_int_equal(account_size(A, "sinks"), 1);
    assert_int_equal(account_size(A, "subscriptions"), 1);
}

static void unsubscribe_leaves_nothing(void **state)
{
    (void)state;
    sixty_sinks();
    add_sink(0x300, HOOK); /* a duplicate another tool made */
    add_subscription(0x301, 0x300, INBOUND);
    add_subscription(0x302, 0x300, DELIVERED);
    const char *args = "{" CREDS ",\"webhookUrl\":\"" HOOK "\"}";
    harness_expect(
        &H, "unsubscribeEvents", args,
        OK("{\"webhookUrl\":\"" HOOK "\",\"deleted\":{\"sinks\":[\"" SINK55
           "\",\"DG00000000000000000000000000000300\"],\"subscriptions\":[\"" SUB200
           "\",\"DF00000000000000000000000000000301\",\"DF00000000000000000000000000000302\"]}}"));
    assert_int_equal(account_writes(A), 5);
    assert_int_equal(account_size(A, "sinks"), 59);
    assert_int_equal(account_size(A, "subscriptions"), 0);
    harness_expect(
        &H, "unsubscribeEvents", args,
        OK("{\"webhookUrl\":\"" HOOK "\",\"deleted\":{\"sinks\":[],\"subscriptions\":[]}}"));
    assert_int_equal(account_writes(A), 5);
}

static void every_type_on_every_page(void **state)
{
    (void)state;
    char name[96];
    for (int i = 0; i < 120; i++) {
        snprintf(name, sizeof name, "com.twilio.test.event-%03d", i);
        account_add(A, "types",
                    json_pack("{s:s, s:s, s:s}", "type", name, "schema_id", "Test.Event",
                              "description", "A test event"));
    }
    char *got = harness_call(&H, "listEventTypes", "{" CREDS "}");
    json_t *root = json_loads(got, 0, NULL);
    json_t *to = json_object_get(json_object_get(root, "contextWrites"), "to");
    assert_int_equal(json_integer_value(json_object_get(to, "count")), 120);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(to, "types"), 119), "type")),
                        "com.twilio.test.event-119");
    assert_int_equal(account_requests(A), 3);
    json_decref(root);
    free(got);
}

static void bad_input_sends_nothing(void **state)
{
    (void)state;
    harness_expect(
        &H, "subscribeEvents", "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"types\":[\"Not A Type\"]}",
        FIELDS_ERROR("\"types\"",
                     "\"types\":\"each type must be an event type name: lower-case letters, "
                     "digits, dots and dashes (com.twilio.messaging.inbound-message.received)\""));
    harness_expect(&H, "subscribeEvents",
                   "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"types\":\" , \"}",
                   FIELDS_ERROR("\"types\"", "\"types\":\"is required\""));
    char *got = harness_call(&H, "subscribeEvents", "{" CREDS ",\"webhookUrl\":\"nope\"}");
    assert_non_null(strstr(got, "\"fields\":[\"webhookUrl\",\"types\"]"));
    free(got);
    assert_int_equal(account_requests(A), 0);
}

static void dry_run_shows_the_first_page(void **state)
{
    (void)state;
    char want[1024];
    snprintf(want, sizeof want,
             OK("{\"dryRun\":true,\"request\":{\"method\":\"GET\",\"url\":\"http://127.0.0.1:%d"
                "/v1/Sinks\",\"username\":\"" SID "\",\"password\":\"********\",\"query\":{}}}"),
             account_port(A));
    harness_expect(&H, "unsubscribeEvents",
                   "{" CREDS ",\"webhookUrl\":\"" HOOK "\",\"dryRun\":true}", want);
    assert_int_equal(account_requests(A), 0);
}

int main(void)
{
    account_fixture(&H, &A);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(match_on_page_two_is_reused, account_fixture_reset),
        cmocka_unit_test_setup(first_time_creates_sink_and_subscription, account_fixture_reset),
        cmocka_unit_test_setup(failure_after_a_write_then_repeat, account_fixture_reset),
        cmocka_unit_test_setup(unsubscribe_leaves_nothing, account_fixture_reset),
        cmocka_unit_test_setup(every_type_on_every_page, account_fixture_reset),
        cmocka_unit_test_setup(bad_input_sends_nothing, account_fixture_reset),
        cmocka_unit_test_setup(dry_run_shows_the_first_page, account_fixture_reset),
    };
    return cmocka_run_group_tests(tests, account_fixture_setup, account_fixture_teardown);
}

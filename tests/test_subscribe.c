/* subscribeWebhook and unsubscribeWebhook against a stand-in account that keeps state and
 * counts writes: a repeat writes nothing, another URL is never clobbered without replace, a
 * trigger turned off gives back only what is still its own, and numbers whose traffic Twilio
 * sends elsewhere (a Messaging Service, a TwiML App, a trunk) are refused with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "creds.h"
#include "harness.h"
#include "redisd.h"

#define PN1 "PN11111111111111111111111111111111"
#define PN2 "PN22222222222222222222222222222222"
#define MG1 "MG11111111111111111111111111111111"
#define AP1 "AP11111111111111111111111111111111"
#define TK1 "TK11111111111111111111111111111111"
#define HOOK "https://hooks.example.com/twilio/sms"
#define OTHER "https://crm.example.com/inbound"
#define DEMO "https://demo.twilio.com/welcome/sms/reply"

static const char *binary; /* argv[1]: the service, for two replicas sharing a Redis */
static struct harness H;
static struct account *A;

static int setup(void **state)
{
    (void)state;
    return account_harness_start(&H, &A, NULL);
}

static int teardown(void **state)
{
    (void)state;
    account_harness_stop(&H, A);
    return 0;
}

/* A new number: +15005550006 with the demo SMS URL, and +15005550007 with nothing. */
static int reset(void **state)
{
    (void)state;
    account_reset(A);
    account_add(A, "numbers",
                json_pack("{s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:n, s:s, s:n, s:n}", "sid", PN1,
                          "phone_number", "+15005550006", "sms_url", DEMO, "sms_method", "POST",
                          "sms_application_sid", "voice_url",
                          "https://demo.twilio.com/welcome/voice/", "voice_method", "POST",
                          "status_callback", "status_callback_method", "POST",
                          "voice_application_sid", "trunk_sid"));
    account_add(A, "numbers",
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "sid", PN2, "phone_number",
                          "+15005550007", "sms_url", "", "sms_method", "POST", "voice_url", "",
                          "voice_method", "POST"));
    return 0;
}

static void expect_field(const char *collection, const char *sid, const char *key, const char *want)
{
    char got[2048];
    assert_int_equal(account_get(A, collection, sid, key, got, sizeof got), 0);
    assert_string_equal(got, want);
}

#define SUB(target, more)                                                                          \
    "{" CREDS "," target ",\"event\":\"incomingMessage\",\"webhookUrl\":\"" HOOK "\"" more "}"
#define NUMBER_ANSWER(changed, prev)                                                               \
    OK("{\"phoneNumberSid\":\"" PN1 "\",\"phoneNumber\":\"+15005550006\",\"event\":"               \
       "\"incomingMessage\",\"webhookUrl\":\"" HOOK "\",\"method\":\"POST\",\"changed\":" changed  \
       ",\"previous\":{\"url\":\"" prev "\",\"method\":\"POST\"}}")

static void subscribe_then_again_writes_once(void **state)
{
    (void)state;
    harness_expect(&H, "subscribeWebhook", SUB("\"phoneNumber\":\"+1 (500) 555-0006\"", ""),
                   NUMBER_ANSWER("true", DEMO));
    assert_int_equal(account_writes(A), 1);
    expect_field("numbers", PN1, "sms_url", HOOK);
    harness_expect(&H, "subscribeWebhook", SUB("\"phoneNumber\":\"+1-500-555-0006\"", ""),
                   NUMBER_ANSWER("false", HOOK));
    assert_int_equal(account_writes(A), 1);
    char line[512];
    assert_int_equal(account_line(A, 0, line, sizeof line), 0);
    assert_string_equal(line,
                        "GET " ACCOUNT "/IncomingPhoneNumbers.json?PhoneNumber=%2B15005550006");
    /* found by its phone, then locked and read again; written; read back */
    assert_int_equal(account_line(A, 1, line, sizeof line), 0);
    assert_string_equal(line, "GET " ACCOUNT "/IncomingPhoneNumbers/" PN1 ".json");
    assert_int_equal(account_line(A, 2, line, sizeof line), 0);
    assert_string_equal(line, "POST " ACCOUNT "/IncomingPhoneNumbers/" PN1 ".json");
    assert_int_equal(account_line(A, 3, line, sizeof line), 0);
    assert_string_equal(line, "GET " ACCOUNT "/IncomingPhoneNumbers/" PN1 ".json");
}

struct racer {
    const char *block, *json; /* block: a block's name, or a replica's full URL */
    char *got;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct http_reply rep;
    int rc = strncmp(r->block, "http://", 7) == 0
                 ? http_call("POST", r->block, r->json, strlen(r->json), &rep)
                 : harness_post(&H, r->block, r->json, &rep);
    r->got = rc == 0 ? strdup(buf_str(&rep.body)) : NULL;
    if (r->got)
        http_reply_free(&rep);
    return NULL;
}

/* Runs the calls at once (the stand-in delays each read by 0.5 s, so their reads overlap). */
static void run_at_once(struct racer *r, size_t n)
{
    pthread_t t[4];
    account_delay_reads(A, 500);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (size_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    account_delay_reads(A, 0);
    for (size_t i = 0; i < n; i++)
        assert_non_null(r[i].got);
}

/* Two workflows subscribe one number at once: one wins and holds the webhook, the other is told
 * WEBHOOK_TAKEN naming the winner's URL; nobody is told success while dead. */
static void concurrent_subscribes_one_wins(void **state)
{
    (void)state;
    struct racer r[2] = {
        {"subscribeWebhook",
         "{" CREDS ",\"phoneNumber\":\"" PN1 "\",\"event\":\"incomingMessage\","
         "\"webhookUrl\":\"" HOOK "\"}",
         NULL},
        {"subscribeWebhook",
         "{" CREDS ",\"phoneNumber\":\"" PN1 "\",\"event\":\"incomingMessage\","
         "\"webhookUrl\":\"" OTHER "\"}",
         NULL},
    };
    run_at_once(r, 2);
    int won0 = strstr(r[0].got, "\"changed\":true") != NULL;
    int won1 = strstr(r[1].got, "\"changed\":true") != NULL;
    if (won0 + won1 != 1)
        fail_msg("one must win:\n%s\n%s", r[0].got, r[1].got);
    const struct racer *loser = won0 ? &r[1] : &r[0];
    assert_non_null(strstr(loser->got, "\"status_code\":\"WEBHOOK_TAKEN\""));
    assert_non_null(strstr(loser->got, won0 ? "\"current\":{\"url\":\"" HOOK
                                            : "\"current\":{\"url\":\"" OTHER));
    expect_field("numbers", PN1, "sms_url", won0 ? HOOK : OTHER);
    assert_int_equal(account_writes(A), 1);
    free(r[0].got);
    free(r[1].got);
}

/* A workflow's unsubscribe overlapping another's subscribe with replace: true never writes its
 * previous over the winner, who was told success. */
static void unsubscribe_never_restores_over_a_winner(void **state)
{
    (void)state;
    harness_expect(&H, "subscribeWebhook", SUB("\"phoneNumber\":\"+15005550006\"", ""),
                   NUMBER_ANSWER("true", DEMO));
    struct racer r[2] = {
        {"unsubscribeWebhook",
         "{" CREDS ",\"phoneNumber\":\"" PN1 "\",\"event\":\"incomingMessage\","
         "\"webhookUrl\":\"" HOOK "\",\"previous\":{\"url\":\"" DEMO "\",\"method\":\"POST\"}}",
         NULL},
        {"subscribeWebhook",
         "{" CREDS ",\"phoneNumber\":\"" PN1 "\",\"event\":\"incomingMessage\","
         "\"webhookUrl\":\"" OTHER "\",\"replace\":true}",
         NULL},
    };
    run_at_once(r, 2);
    if (!strstr(r[1].got, "\"callback\":\"success\"") || !strstr(r[1].got, "\"changed\":true"))
        fail_msg("the subscribe: %s", r[1].got);
    assert_non_null(strstr(r[0].got, "\"callback\":\"success\""));
    expect_field("numbers", PN1, "sms_url", OTHER);
    free(r[0].got);
    free(r[1].got);
}

/* Two replicas (real processes) sharing a real redis-server: their subscribes of one number at
 * once are serialized by the Redis lock, so again one wins and the other is WEBHOOK_TAKEN. */
static void replicas_serialize_through_redis(void **state)
{
    (void)state;
    struct replicas s;
    char api[64], base_a[160], base_b[160];
    snprintf(api, sizeof api, "http://127.0.0.1:%d", account_port(A));
    assert_int_equal(replicas_start(&s, binary, "subscribe", NULL, api, NULL), 0);
    child_url(&s.a, "subscribeWebhook", base_a, sizeof base_a);
    child_url(&s.b, "subscribeWebhook", base_b, sizeof base_b);
    struct racer r[2] = {
        {base_a,
         "{" CREDS ",\"phoneNumber\":\"" PN1 "\",\"event\":\"incomingMessage\","
         "\"webhookUrl\":\"" HOOK "\"}",
         NULL},
        {base_b,
         "{" CREDS ",\"phoneNumber\":\"" PN1 "\",\"event\":\"incomingMessage\","
         "\"webhookUrl\":\"" OTHER "\"}",
         NULL},
    };
    run_at_once(r, 2);
    int won0 = strstr(r[0].got, "\"changed\":true") != NULL;
    int won1 = strstr(r[1].got, "\"changed\":true") != NULL;
    if (won0 + won1 != 1)
        fail_msg("one must win:\n%s\n%s", r[0].got, r[1].got);
    assert_non_null(strstr((won0 ? &r[1] : &r[0])->got, "\"status_code\":\"WEBHOOK_TAKEN\""));
    expect_field("numbers", PN1, "sms_url", won0 ? HOOK : OTHER);
    free(r[0].got);
    free(r[1].got);
    replicas_stop(&s);
}

static void another_url_is_refused_unless_replace(void **state)
{
    (void)state;
    account_set(A, "numbers", PN1, "sms_url", json_string(OTHER));
    harness_expect(
        &H, "subscribeWebhook", SUB("\"phoneNumber\":\"" PN1 "\"", ""),
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"WEBHOOK_TAKEN\","
        "\"status_msg\":\"The incomingMessage webhook of +15005550006 is " OTHER " (POST), "
        "not this trigger's: nothing was written. Give replace: true to take it over "
        "(unsubscribeWebhook with the previous this call then answers gives it back)\","
        "\"current\":{\"url\":\"" OTHER "\",\"method\":\"POST\"}}}}");
    assert_int_equal(account_writes(A), 0);
    expect_field("numbers", PN1, "sms_url", OTHER);
    harness_expect(&H, "subscribeWebhook",
                   SUB("\"phoneNumber\":\"" PN1 "\"", ",\"replace\":\"true\""),
                   NUMBER_ANSWER("true", OTHER));
    assert_int_equal(account_writes(A), 1);
    expect_field("numbers", PN1, "sms_url", HOOK);
    /* turned off: the other URL comes back, once */
    harness_expect(&H, "unsubscribeWebhook",
                   SUB("\"phoneNumber\":\"" PN1 "\"",
                       ",\"previous\":{\"url\":\"" OTHER "\",\"method\":\"POST\"}"),
                   OK("{\"phoneNumberSid\":\"" PN1 "\",\"phoneNumber\":\"+15005550006\",\"event\":"
                      "\"incomingMessage\",\"webhookUrl\":\"" HOOK
                      "\",\"changed\":true,\"now\":{\"url\":\"" OTHER "\",\"method\":\"POST\"}}"));
    assert_int_equal(account_writes(A), 2);
    expect_field("numbers", PN1, "sms_url", OTHER);
    harness_expect(&H, "unsubscribeWebhook",
                   SUB("\"phoneNumber\":\"" PN1 "\"",
                       ",\"previous\":{\"url\":\"" OTHER "\",\"method\":\"POST\"}"),
                   OK("{\"phoneNumberSid\":\"" PN1 "\",\"phoneNumber\":\"+15005550006\",\"event\":"
                      "\"incomingMessage\",\"webhookUrl\":\"" HOOK
                      "\",\"changed\":false,\"now\":{\"url\":\"" OTHER "\",\"method\":\"POST\"}}"));
    assert_int_equal(account_writes(A), 2);
}

static void unsubscribe_after_someone_else_changed_writes_nothing(void **state)
{
    (void)state;
    harness_expect(&H, "subscribeWebhook", SUB("\"phoneNumber\":\"+15005550006\"", ""),
                   NUMBER_ANSWER("true", DEMO));
    account_set(A, "numbers", PN1, "sms_url", json_string("https://new.example.com/x"));
    account_set(A, "numbers", PN1, "sms_method", json_string("GET"));
    harness_expect(
        &H, "unsubscribeWebhook",
        SUB("\"phoneNumber\":\"+15005550006\"", ",\"previous\":\"{\\\"url\\\":\\\"" DEMO "\\\"}\""),
        OK("{\"phoneNumberSid\":\"" PN1 "\",\"phoneNumber\":\"+15005550006\",\"event\":"
           "\"incomingMessage\",\"webhookUrl\":\"" HOOK "\",\"changed\":false,\"now\":{\"url\":"
           "\"https://new.example.com/x\",\"method\":\"GET\"}}"));
    assert_int_equal(account_writes(A), 1);
    expect_field("numbers", PN1, "sms_url", "https://new.example.com/x");
}

static void unsubscribe_without_previous_clears(void **state)
{
    (void)state;
    harness_expect(
        &H, "subscribeWebhook",
        "{" CREDS ",\"phoneNumber\":\"+15005550007\",\"event\":\"incomingCall\",\"webhookUrl\":"
        "\"" HOOK "\",\"method\":\"GET\"}",
        OK("{\"phoneNumberSid\":\"" PN2 "\",\"phoneNumber\":\"+15005550007\",\"event\":"
           "\"incomingCall\",\"webhookUrl\":\"" HOOK "\",\"method\":\"GET\",\"changed\":true,"
           "\"previous\":{\"url\":\"\",\"method\":\"POST\"}}"));
    expect_field("numbers", PN2, "voice_url", HOOK);
    expect_field("numbers", PN2, "voice_method", "GET");
    harness_expect(
        &H, "unsubscribeWebhook",
        "{" CREDS ",\"phoneNumber\":\"+15005550007\",\"event\":\"incomingCall\",\"webhookUrl\":"
        "\"" HOOK "\"}",
        OK("{\"phoneNumberSid\":\"" PN2 "\",\"phoneNumber\":\"+15005550007\",\"event\":"
           "\"incomingCall\",\"webhookUrl\":\"" HOOK "\",\"changed\":true,\"now\":{\"url\":\"\","
           "\"method\":\"POST\"}}"));
    expect_field("numbers", PN2, "voice_url", "");
    assert_int_equal(account_writes(A), 2);
}

static void number_in_messaging_service(void **state)
{
    (void)state;
    account_set(A, "numbers", PN1, "sms_application_sid", json_string(MG1));
    account_add(A, "services",
                json_pack("{s:s, s:s, s:s, s:n, s:b}", "sid", MG1, "inbound_request_url", "",
                          "inbound_method", "POST", "status_callback",
                          "use_inbound_webhook_on_number", 0));
    harness_expect(
        &H, "subscribeWebhook", SUB("\"phoneNumber\":\"+15005550006\"", ""),
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
        "\"WEBHOOK_BYPASSED\",\"status_msg\":\"+15005550006 is in Messaging Service " MG1
        ", which sends its incoming messages to the service's own webhook (its "
        "UseInboundWebhookOnNumber is off), so the number's SMS URL would never be called: "
        "subscribe the Messaging Service instead (messagingServiceSid " MG1 "), or turn "
        "UseInboundWebhookOnNumber on in it; nothing was written\",\"ownerSid\":\"" MG1 "\"}}}");
    assert_int_equal(account_writes(A), 0);
    /* calls are not the service's */
    harness_expect(
        &H, "subscribeWebhook",
        "{" CREDS ",\"phoneNumber\":\"+15005550006\",\"event\":\"callStatus\",\"webhookUrl\":"
        "\"" HOOK "\"}",
        OK("{\"phoneNumberSid\":\"" PN1 "\",\"phoneNumber\":\"+15005550006\",\"event\":"
           "\"callStatus\",\"webhookUrl\":\"" HOOK "\",\"method\":\"POST\",\"changed\":true,"
           "\"previous\":{\"url\":\"\",\"method\":\"POST\"}}"));
    expect_field("numbers", PN1, "status_callback", HOOK);
    account_set(A, "services", MG1, "use_inbound_webhook_on_number", json_true());
    harness_expect(&H, "subscribeWebhook", SUB("\"phoneNumber\":\"+15005550006\"", ""),
                   NUMBER_ANSWER("true", DEMO));
    expect_field("numbers", PN1, "sms_url", HOOK);
    assert_int_equal(account_writes(A), 2);
}

static void messaging_service_itself(void **state)
{
    (void)state;
    account_add(A, "services",
                json_pack("{s:s, s:s, s:s, s:n, s:b}", "sid", MG1, "inbound_request_url", "",
                          "inbound_method", "POST", "status_callback",
                          "use_inbound_webhook_on_number", 0));
    harness_expect(
        &H, "subscribeWebhook", SUB("\"messagingServiceSid\":\"" MG1 "\"", ""),
        OK("{\"messagingServiceSid\":\"" MG1 "\",\"event\":\"incomingMessage\",\"webhookUrl\":"
           "\"" HOOK "\",\"method\":\"POST\",\"changed\":true,\"previous\":{\"url\":\"\","
           "\"method\":\"POST\"}}"));
    expect_field("services", MG1, "inbound_request_url", HOOK);
    harness_expect(
        &H, "subscribeWebhook",
        "{" CREDS ",\"messagingServiceSid\":\"" MG1 "\",\"event\":\"messageStatus\","
        "\"webhookUrl\":\"" HOOK "\"}",
        OK("{\"messagingServiceSid\":\"" MG1 "\",\"event\":\"messageStatus\",\"webhookUrl\":"
           "\"" HOOK "\",\"method\":\"POST\",\"changed\":true,\"previous\":{\"url\":\"\","
           "\"method\":\"POST\"}}"));
    expect_field("services", MG1, "status_callback", HOOK);
    assert_int_equal(account_writes(A), 2);
    char line[512];
    assert_int_equal(account_line(A, 1, line, sizeof line), 0);
    assert_string_equal(line, "POST /v1/Services/" MG1);
}

static void twiml_app_and_trunk_are_refused(void **state)
{
    (void)state;
    account_set(A, "numbers", PN1, "sms_application_sid", json_string(AP1));
    account_set(A, "numbers", PN1, "trunk_sid", json_string(TK1));
    harness_expect(
        &H, "subscribeWebhook", SUB("\"phoneNumber\":\"" PN1 "\"", ",\"replace\":true"),
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
        "\"WEBHOOK_BYPASSED\",\"status_msg\":\"+15005550006 sends its messages to TwiML App " AP1
        " (its SmsApplicationSid), so the number's own URL would never be called: set the "
        "webhook on that app, or clear the number's SmsApplicationSid in Twilio and subscribe "
        "again; nothing was written\",\"ownerSid\":\"" AP1 "\"}}}");
    harness_expect(
        &H, "subscribeWebhook",
        "{" CREDS ",\"phoneNumber\":\"" PN1 "\",\"event\":\"incomingCall\",\"webhookUrl\":\"" HOOK
        "\"}",
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
        "\"WEBHOOK_BYPASSED\",\"status_msg\":\"+15005550006 sends its calls to " TK1 " (a SIP "
        "trunk), so the number's own URL would never be called: take the number out of it in "
        "Twilio and subscribe again; nothing was written\",\"ownerSid\":\"" TK1 "\"}}}");
    assert_int_equal(account_writes(A), 0);
}

static void bad_input_names_each_arg_and_sends_nothing(void **state)
{
    (void)state;
    harness_expect(
        &H, "subscribeWebhook",
        "{" CREDS ",\"phoneNumber\":\"500 555 0006\",\"event\":\"messageStatus\",\"webhookUrl\":"
        "\"" HOOK "\"}",
        FIELDS_ERROR("\"phoneNumber\",\"event\"",
                     "\"phoneNumber\":\"must be a phone number of the account in E.164 (+ and "
                     "the country code; spaces, brackets, dots and dashes allowed) or its SID "
                     "(PN...)\",\"event\":\"for a phone number must be incomingMessage, "
                     "incomingCall or callStatus\""));
    harness_expect(
        &H, "subscribeWebhook",
        "{" CREDS ",\"messagingServiceSid\":\"" MG1 "\",\"event\":\"messageStatus\","
        "\"webhookUrl\":\"" HOOK "\",\"method\":\"GET\"}",
        FIELDS_ERROR("\"method\"",
                     "\"method\":\"a Messaging Service's status callback is always POST\""));
    char *got =
        harness_call(&H, "subscribeWebhook",
                     "{" CREDS ",\"event\":\"incomingMessage\",\"webhookUrl\":\"ftp://x\"}");
    assert_non_null(strstr(got, "\"status_code\":\"REQUIRED_FIELDS\""));
    assert_non_null(strstr(got, "\"webhookUrl\""));
    assert_non_null(strstr(got, "\"phoneNumber\""));
    free(got);
    harness_expect(
        &H, "unsubscribeWebhook", SUB("\"phoneNumber\":\"" PN1 "\"", ",\"previous\":[1]"),
        FIELDS_ERROR("\"previous\"",
                     "\"previous\":\"must be the previous object subscribeWebhook answered: "
                     "{\\\"url\\\": \\\"\\\" or an http(s) URL, \\\"method\\\": GET or POST}\""));
    assert_int_equal(account_requests(A), 0);
    /* a number of another account: named, nothing written */
    harness_expect(
        &H, "subscribeWebhook", SUB("\"phoneNumber\":\"+1 415 555 0100\"", ""),
        FIELDS_ERROR("\"phoneNumber\"",
                     "\"phoneNumber\":\"+14155550100 is not a phone number of this account\""));
    assert_int_equal(account_writes(A), 0);
}

static void unknown_sid_is_twilios_error(void **state)
{
    (void)state;
    harness_expect(
        &H, "subscribeWebhook", SUB("\"phoneNumber\":\"PN99999999999999999999999999999999\"", ""),
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"API_ERROR\","
        "\"status_msg\":\"[HTTP 404] Unable to fetch record: The requested resource was not "
        "found; nothing was written\",\"code\":20404,\"message\":\"The requested resource was "
        "not found\",\"more_info\":\"https://www.twilio.com/docs/errors/20404\",\"status\":404}}}");
    assert_int_equal(account_writes(A), 0);
}

static void dry_run_shows_the_read(void **state)
{
    (void)state;
    char want[1024];
    snprintf(want, sizeof want,
             OK("{\"dryRun\":true,\"request\":{\"method\":\"GET\",\"url\":\"http://127.0.0.1:%d"
                "/v1/Services/" MG1 "\",\"username\":\"" SID "\",\"password\":\"********\","
                "\"query\":{}}}"),
             account_port(A));
    harness_expect(&H, "subscribeWebhook",
                   SUB("\"messagingServiceSid\":\"" MG1 "\"", ",\"dryRun\":true"), want);
    assert_int_equal(account_requests(A), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_subscribe path/to/twilio-block\n");
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(subscribe_then_again_writes_once, reset),
        cmocka_unit_test_setup(another_url_is_refused_unless_replace, reset),
        cmocka_unit_test_setup(unsubscribe_after_someone_else_changed_writes_nothing, reset),
        cmocka_unit_test_setup(unsubscribe_without_previous_clears, reset),
        cmocka_unit_test_setup(number_in_messaging_service, reset),
        cmocka_unit_test_setup(messaging_service_itself, reset),
        cmocka_unit_test_setup(twiml_app_and_trunk_are_refused, reset),
        cmocka_unit_test_setup(bad_input_names_each_arg_and_sends_nothing, reset),
        cmocka_unit_test_setup(unknown_sid_is_twilios_error, reset),
        cmocka_unit_test_setup(dry_run_shows_the_read, reset),
        cmocka_unit_test_setup(concurrent_subscribes_one_wins, reset),
        cmocka_unit_test_setup(unsubscribe_never_restores_over_a_winner, reset),
        cmocka_unit_test_setup(replicas_serialize_through_redis, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

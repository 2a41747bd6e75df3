/* Issue 12 scenarios: the blocks of other Twilio products (Verify, Lookup, Conversations), the
 * deletes and reads of 2010-04-01 (messages, calls, media, recordings, numbers) and
 * twilioRequest with its safety rules; each product's host, edge and region; dry runs, API keys
 * and Idempotency-Keys on them. The real server, the scriptable stand-in as Twilio, exact
 * results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "creds.h"
#include "harness.h"

#define REC "REdddddddddddddddddddddddddddddddd"
#define SERVICE "VAeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define VERIFICATION "VEffffffffffffffffffffffffffffffff"
#define CONV "CH11111111111111111111111111111111"

static struct harness H;

static const char verification[] = "{\"sid\":\"" VERIFICATION "\",\"status\":\"pending\"}";

static void verify_starts_and_checks(void **state)
{
    (void)state;
    harness_answer(&H, 201, verification);
    harness_expect(
        &H, "startVerification",
        "{" CREDS ",\"serviceSid\":\"" SERVICE "\",\"to\":\"+1 (415) 555-2671\","
        "\"channel\":\"SMS\",\"customCode\":\"8401\",\"rateLimits\":{\"ip\":\"127.0.0.1\"}}",
        OK("{\"sid\":\"" VERIFICATION "\",\"status\":\"pending\"}"));
    harness_expect_sent(&H, "POST", "/v2/Services/" SERVICE "/Verifications", BASIC,
                        "To=%2B14155552671&Channel=sms&CustomCode=8401&RateLimits=%7B%22ip%22%3A%"
                        "22127.0.0.1%22%7D");
    standin_clear(H.up);
    /* email: to is the address */
    harness_answer(&H, 201, verification);
    harness_expect(&H, "startVerification",
                   "{\"args\":{" KEY_CREDS ",\"serviceSid\":\"" SERVICE
                   "\",\"to\":\"ann@example.com\","
                   "\"channel\":\"email\"}}",
                   OK("{\"sid\":\"" VERIFICATION "\",\"status\":\"pending\"}"));
    harness_expect_sent(&H, "POST", "/v2/Services/" SERVICE "/Verifications", KEY_BASIC,
                        "To=ann%40example.com&Channel=email");
    standin_clear(H.up);
    /* a code that does not match is Twilio's answer, not an error */
    harness_answer(&H, 200,
                   "{\"sid\":\"" VERIFICATION "\",\"status\":\"pending\",\"valid\":false}");
    harness_expect(&H, "checkVerification",
                   "{" CREDS ",\"serviceSid\":\"" SERVICE
                   "\",\"code\":\" 123456 \",\"verificationSid\":\"" VERIFICATION "\"}",
                   OK("{\"sid\":\"" VERIFICATION "\",\"status\":\"pending\",\"valid\":false}"));
    harness_expect_sent(&H, "POST", "/v2/Services/" SERVICE "/VerificationCheck", BASIC,
                        "Code=123456&VerificationSid=" VERIFICATION);
}

static void verify_names_what_is_wrong(void **state)
{
    (void)state;
    harness_expect(
        &H, "startVerification",
        "{" CREDS ",\"serviceSid\":\"" SID "\",\"to\":\"ann@example\",\"channel\":\"fax\"}",
        FIELDS_ERROR("\"serviceSid\",\"to\",\"channel\"",
                     "\"serviceSid\":\"must be a SID: VA followed by 32 hexadecimal digits\","
                     "\"to\":\"must be a phone number in E.164 format (+14155552671) or an "
                     "email address\","
                     "\"channel\":\"must be one of: sms, call, email, whatsapp, sna, auto\""));
    /* exactly one of to and verificationSid */
    harness_expect(&H, "checkVerification",
                   "{" CREDS ",\"serviceSid\":\"" SERVICE "\",\"code\":\"1234\"}",
                   FIELDS_ERROR("\"to\",\"verificationSid\"",
                                "\"to\":\"one of to, verificationSid is required\","
                                "\"verificationSid\":\"one of to, verificationSid is required\""));
    harness_expect(
        &H, "checkVerification",
        "{" CREDS ",\"serviceSid\":\"" SERVICE "\",\"code\":\"1234\",\"to\":\"+14155552671\","
        "\"verificationSid\":\"" VERIFICATION "\"}",
        FIELDS_ERROR("\"verificationSid\"", "\"verificationSid\":\"cannot be given with to\""));
    assert_int_equal(standin_count(H.up), 0);
}

/* Lookup: the number in the path, +-escaped; Fields one comma-separated value. */
static void lookup_sends_fields_as_one_value(void **state)
{
    (void)state;
    harness_answer(&H, 200, "{\"phone_number\":\"+14155552671\",\"valid\":true}");
    harness_expect(&H, "lookupPhoneNumber",
                   "{" CREDS ",\"phoneNumber\":\"+1 (415) 555-2671\",\"fields\":[\"validation\","
                   "\"Line_Type_Intelligence\"],\"firstName\":\"John\"}",
                   OK("{\"phone_number\":\"+14155552671\",\"valid\":true}"));
    /* the stand-in (civetweb) decodes the path; dry runs show the %2B that is sent */
    harness_expect_sent(&H, "GET",
                        "/v2/PhoneNumbers/+14155552671?Fields=validation%2Cline_type_intelligence&"
                        "FirstName=John",
                        BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, "{\"phone_number\":\"+14155552671\",\"valid\":true}");
    harness_expect(&H, "lookupPhoneNumber",
                   "{" CREDS ",\"phoneNumber\":\"(415) 555-2671\",\"countryCode\":\"US\","
                   "\"fields\":\"caller_name, sim_swap\"}",
                   OK("{\"phone_number\":\"+14155552671\",\"valid\":true}"));
    harness_expect_sent(&H, "GET",
                        "/v2/PhoneNumbers/4155552671?CountryCode=US&Fields=caller_name%2Csim_swap",
                        BASIC, "");
    standin_clear(H.up);
    harness_expect(
        &H, "lookupPhoneNumber",
        "{" CREDS ",\"phoneNumber\":\"call me\",\"fields\":\"validation,carrier\"}",
        FIELDS_ERROR("\"phoneNumber\",\"fields\"",
                     "\"phoneNumber\":\"must be a phone number in E.164 format (+14155552671)\","
                     "\"fields\":\"item 2 must be one of: validation, caller_name, "
                     "line_type_intelligence, sim_swap, call_forwarding, line_status, "
                     "identity_match, reassigned_number, sms_pumping_risk, "
                     "phone_number_quality_score, pre_fill\""));
    assert_int_equal(standin_count(H.up), 0);
}

/* Twilio answers a delete 204 with no body; the envelope says what was deleted. */
static void deletes_say_what_was_deleted(void **state)
{
    (void)state;
    harness_answer(&H, 204, "");
    harness_expect(&H, "deleteMessage", "{" CREDS ",\"messageSid\":\"" MSG "\"}",
                   OK("{\"deleted\":true,\"messageSid\":\"" MSG "\",\"path\":\"" ACCOUNT
                      "/Messages/" MSG ".json\"}"));
    harness_expect_sent(&H, "DELETE", ACCOUNT "/Messages/" MSG ".json", BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 204, "");
    harness_expect(&H, "deleteCall", "{\"args\":{" KEY_CREDS ",\"callSid\":\"" CALL "\"}}",
                   OK("{\"deleted\":true,\"callSid\":\"" CALL "\",\"path\":\"" ACCOUNT
                      "/Calls/" CALL ".json\"}"));
    harness_expect_sent(&H, "DELETE", ACCOUNT "/Calls/" CALL ".json", KEY_BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 404,
                   "{\"code\":20404,\"message\":\"The requested resource was not found\","
                   "\"more_info\":\"https://www.twilio.com/docs/errors/20404\",\"status\":404}");
    harness_expect(
        &H, "deleteCall", "{" CREDS ",\"callSid\":\"" CALL "\"}",
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"API_ERROR\","
        "\"status_msg\":\"[HTTP 404] Unable to delete record: The requested resource was not "
        "found\",\"code\":20404,\"message\":\"The requested resource was not found\","
        "\"more_info\":\"https://www.twilio.com/docs/errors/20404\",\"status\":404,"
        "\"twilio_request_id\":\"RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}");
}

/* Each media item gets the URL of its content, on the base the request went to. */
static void media_items_get_their_content_url(void **state)
{
    (void)state;
    char want[1024];
    harness_answer(
        &H, 200,
        "{\"media_list\":[{\"sid\":\"ME1\",\"content_type\":\"image/jpeg\",\"uri\":\"" ACCOUNT
        "/Messages/" MSG "/Media/ME1.json\"},{\"sid\":\"ME2\",\"uri\":null}],"
        "\"page_size\":50,\"next_page_uri\":null}");
    snprintf(
        want, sizeof want,
        OK("{\"media_list\":[{\"sid\":\"ME1\",\"content_type\":\"image/jpeg\",\"uri\":\"" ACCOUNT
           "/Messages/" MSG "/Media/ME1.json\",\"url\":\"http://127.0.0.1:%d" ACCOUNT
           "/Messages/" MSG "/Media/ME1\"},{\"sid\":\"ME2\",\"uri\":null}],"
           "\"page_size\":50,\"next_page_uri\":null}"),
        standin_port(H.up));
    harness_expect(&H, "listMessageMedia",
                   "{" CREDS ",\"messageSid\":\"" MSG
                   "\",\"dateCreatedAfter\":\"2026-11-01\",\"pageSize\":5}",
                   want);
    harness_expect_sent(&H, "GET",
                        ACCOUNT "/Messages/" MSG "/Media.json?DateCreated%3E=2026-11-01&PageSize=5",
                        BASIC, "");
}

static void recordings_and_numbers_are_listed(void **state)
{
    (void)state;
    static const char page[] = "{\"recordings\":[],\"page_size\":20}";
    harness_answer(&H, 200, page);
    harness_expect(&H, "listRecordings",
                   "{" CREDS ",\"callSid\":\"" CALL
                   "\",\"dateCreatedBefore\":\"2026-11-30T23:59:59Z\","
                   "\"includeSoftDeleted\":\"yes\"}",
                   OK("{\"recordings\":[],\"page_size\":20}"));
    harness_expect_sent(&H, "GET",
                        ACCOUNT "/Recordings.json?CallSid=" CALL
                                "&DateCreated%3C=2026-11-30T23%3A59%3A59Z&"
                                "IncludeSoftDeleted=true",
                        BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, "{\"sid\":\"" REC "\"}");
    harness_expect(&H, "getRecording", "{" CREDS ",\"recordingSid\":\"" REC "\"}",
                   OK("{\"sid\":\"" REC "\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Recordings/" REC ".json", BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, page);
    harness_expect(&H, "listRecordingTranscriptions",
                   "{" CREDS ",\"recordingSid\":\"" REC "\",\"nextPageUri\":\"" ACCOUNT
                   "/Recordings/" REC "/Transcriptions.json?PageSize=20&Page=1&PageToken=PAx\"}",
                   OK("{\"recordings\":[],\"page_size\":20}"));
    harness_expect_sent(&H, "GET",
                        ACCOUNT "/Recordings/" REC
                                "/Transcriptions.json?PageSize=20&Page=1&PageToken=PAx",
                        BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, page);
    harness_expect(&H, "listIncomingPhoneNumbers",
                   "{" CREDS ",\"phoneNumber\":\"+1415*\",\"friendlyName\":\"Support line\","
                   "\"origin\":\"Hosted\"}",
                   OK("{\"recordings\":[],\"page_size\":20}"));
    harness_expect_sent(
        &H, "GET",
        ACCOUNT "/IncomingPhoneNumbers.json?PhoneNumber=%2B1415%2A&FriendlyName=Support%20line&"
                "Origin=hosted",
        BASIC, "");
    standin_clear(H.up);
    harness_expect(
        &H, "listIncomingPhoneNumbers", "{" CREDS ",\"phoneNumber\":\"+1 415\"}",
        FIELDS_ERROR("\"phoneNumber\"",
                     "\"phoneNumber\":\"may only contain the characters +0123456789*\""));
    assert_int_equal(standin_count(H.up), 0);
}

static void conversations_and_their_webhook_header(void **state)
{
    (void)state;
    struct standin_record rec;
    harness_answer(&H, 201, "{\"sid\":\"" CONV "\"}");
    harness_expect(&H, "createConversation",
                   "{" CREDS ",\"friendlyName\":\"Order 1234\",\"attributes\":{\"order\":1234},"
                   "\"timersInactive\":\"PT1H\",\"webhookEnabled\":false}",
                   OK("{\"sid\":\"" CONV "\"}"));
    harness_expect_sent(
        &H, "POST", "/v1/Conversations", BASIC,
        "FriendlyName=Order%201234&Attributes=%7B%22order%22%3A1234%7D&Timers.Inactive=PT1H");
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.webhook_enabled, "false");
    standin_clear(H.up);
    harness_answer(&H, 201, "{\"sid\":\"MB1\"}");
    harness_expect(&H, "addConversationParticipant",
                   "{" CREDS ",\"conversationSid\":\"" CONV
                   "\",\"messagingBindingAddress\":\"whatsapp:+1 415 "
                   "555 2671\",\"messagingBindingProxyAddress\":\"whatsapp:+15005550006\"}",
                   OK("{\"sid\":\"MB1\"}"));
    harness_expect_sent(&H, "POST", "/v1/Conversations/" CONV "/Participants", BASIC,
                        "MessagingBinding.Address=whatsapp%3A%2B14155552671&"
                        "MessagingBinding.ProxyAddress=whatsapp%3A%2B15005550006");
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.webhook_enabled, ""); /* not given: not sent */
    standin_clear(H.up);
    harness_answer(&H, 201, "{\"sid\":\"IM1\"}");
    harness_expect(&H, "sendConversationMessage",
                   "{" CREDS ",\"conversationSid\":\"" CONV
                   "\",\"contentSid\":\"HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                   "\"contentVariables\":\"{\\\"1\\\":\\\"Alice\\\"}\",\"author\":\"alice\"}",
                   OK("{\"sid\":\"IM1\"}"));
    harness_expect_sent(&H, "POST", "/v1/Conversations/" CONV "/Messages", BASIC,
                        "ContentSid=HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ContentVariables=%7B%221%22%"
                        "3A%22Alice%22%7D&"
                        "Author=alice");
    standin_clear(H.up);
    harness_expect(&H, "addConversationParticipant",
                   "{" CREDS ",\"conversationSid\":\"" CONV "\",\"identity\":\"alice\","
                   "\"messagingBindingAddress\":\"+14155552671\"}",
                   FIELDS_ERROR("\"messagingBindingAddress\"",
                                "\"messagingBindingAddress\":\"cannot be given with identity\""));
    harness_expect(
        &H, "addConversationParticipant",
        "{" CREDS ",\"conversationSid\":\"" CONV "\",\"messagingBindingAddress\":\"+14155552671\"}",
        FIELDS_ERROR("\"messagingBindingAddress\"",
                     "\"messagingBindingAddress\":\"needs messagingBindingProxyAddress as "
                     "well\""));
    harness_expect(
        &H, "sendConversationMessage", "{" CREDS ",\"conversationSid\":\"" CONV "\"}",
        FIELDS_ERROR("\"body\",\"mediaSid\",\"contentSid\"",
                     "\"body\":\"one of body, mediaSid, contentSid is required\","
                     "\"mediaSid\":\"one of body, mediaSid, contentSid is required\","
                     "\"contentSid\":\"one of body, mediaSid, contentSid is required\""));
    assert_int_equal(standin_count(H.up), 0);
}

/* twilioRequest: POST params are the form, GET and DELETE params the query string; a list
 * repeats its parameter. */
static void any_endpoint_is_called(void **state)
{
    (void)state;
    harness_answer(&H, 201, "{\"sid\":\"VA1\"}");
    harness_expect(&H, "twilioRequest",
                   "{" CREDS
                   ",\"product\":\"Verify\",\"method\":\"post\",\"path\":\" /v2/Services \","
                   "\"params\":{\"FriendlyName\":\"My app\",\"CodeLength\":6,\"Psd2Enabled\":false,"
                   "\"Skipped\":null}}",
                   OK("{\"sid\":\"VA1\"}"));
    harness_expect_sent(&H, "POST", "/v2/Services", BASIC,
                        "FriendlyName=My%20app&CodeLength=6&Psd2Enabled=false");
    standin_clear(H.up);
    harness_answer(&H, 200, "{\"calls\":[],\"page_size\":50}");
    harness_expect(&H, "twilioRequest",
                   "{\"args\":{" KEY_CREDS
                   ",\"product\":\"api\",\"method\":\"GET\",\"path\":\"" ACCOUNT
                   "/Calls.json\",\"params\":\"{\\\"Status\\\":[\\\"busy\\\",\\\"failed\\\"]}\"}}",
                   OK("{\"calls\":[],\"page_size\":50}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Calls.json?Status=busy&Status=failed", KEY_BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 204, "");
    harness_expect(
        &H, "twilioRequest",
        "{" CREDS
        ",\"product\":\"conversations\",\"method\":\"DELETE\",\"path\":\"/v1/Conversations/" CONV
        "\"}",
        OK("{\"deleted\":true,\"path\":\"/v1/Conversations/" CONV "\"}"));
    harness_expect_sent(&H, "DELETE", "/v1/Conversations/" CONV, BASIC, "");
}

/* Nothing the caller gives can send the credentials anywhere but a Twilio host, or to another
 * place on it than the path says: each refusal names its arg and nothing is sent. */
static void any_endpoint_refuses_before_sending(void **state)
{
    (void)state;
    static const struct {
        const char *args, *fields, *reasons;
    } refused[] = {
        {"\"product\":\"evil.com\",\"method\":\"GET\",\"path\":\"/x\"", "\"product\"", NULL},
        {"\"product\":\"api.evil.com\",\"method\":\"GET\",\"path\":\"/x\"", "\"product\"", NULL},
        {"\"product\":\"api\",\"method\":\"PUT\",\"path\":\"/x.json\"", "\"method\"",
         "\"method\":\"must be one of: GET, POST, DELETE\""},
#define PATH_ERROR(why) "\"path\":\"" why "\""
#define HOST                                                                                       \
    PATH_ERROR("must be a path on the product's host, starting with / (no scheme, host or //)")
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"https://evil.com/v2/Services\"",
         "\"path\"", HOST},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"//evil.com/v2/Services\"",
         "\"path\"", HOST},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"@evil.com/v2\"", "\"path\"", HOST},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2//Services\"", "\"path\"", HOST},
#define DOTS PATH_ERROR("must not contain . or .. segments")
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/../v1/Services\"", "\"path\"",
         DOTS},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/%2e%2E/x\"", "\"path\"", DOTS},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/.\"", "\"path\"", DOTS},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/.%2e\"", "\"path\"", DOTS},
#define QUERY PATH_ERROR("must not carry a query or fragment: give the parameters in params")
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/Services?PageSize=1\"",
         "\"path\"", QUERY},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/Services#x\"", "\"path\"",
         QUERY},
#define CHARS                                                                                      \
    PATH_ERROR("must be printable ASCII, without spaces, control characters or backslashes")
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/Ser vices\"", "\"path\"", CHARS},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/\\\\evil\"", "\"path\"", CHARS},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/\\r\\nHost: evil.com\"",
         "\"path\"", CHARS},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/caf\\u00e9\"", "\"path\"",
         CHARS},
        {"\"product\":\"verify\",\"method\":\"GET\",\"path\":\"/v2/a%2Fb\"", "\"path\"",
         PATH_ERROR("must not contain an escaped / or \\\\ (%2F, %5C)")},
        {"\"product\":\"api\",\"method\":\"GET\",\"path\":\"" ACCOUNT "/Calls\"", "\"path\"",
         PATH_ERROR("must end in .json on the api product (Twilio answers XML otherwise)")},
        {"\"product\":\"verify\",\"method\":\"POST\",\"path\":\"/v2/Services\",\"params\":[1]",
         "\"params\"",
         "\"params\":\"must be an object of Twilio parameters, such as {\\\"PageSize\\\": 20}\""},
        {"\"product\":\"verify\",\"method\":\"POST\",\"path\":\"/v2/Services\","
         "\"params\":{\"A\":{\"b\":1}}",
         "\"params\"",
         "\"params\":\"A must be a string, a number, true or false, or a list of them\""},
        {"\"product\":\"verify\",\"method\":\"POST\",\"path\":\"/v2/Services\","
         "\"params\":{\"\":\"x\"}",
         "\"params\"", "\"params\":\"parameter names must not be empty\""},
        {"\"method\":\"GET\"", "\"product\",\"path\"",
         "\"product\":\"is required\",\"path\":\"is required\""},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char body[1024];
        struct http_reply r;
        snprintf(body, sizeof body, "{" CREDS ",%s}", refused[i].args);
        assert_int_equal(harness_post(&H, "twilioRequest", body, &r), 0);
        const char *text = buf_str(&r.body);
        char fields[256];
        snprintf(fields, sizeof fields, "\"fields\":[%s]", refused[i].fields);
        if (!strstr(text, "\"status_code\":\"REQUIRED_FIELDS\"") || !strstr(text, fields) ||
            (refused[i].reasons && !strstr(text, refused[i].reasons)))
            fail_msg("%s: %s", refused[i].args, text);
        http_reply_free(&r);
    }
    assert_int_equal(standin_count(H.up), 0);
}

/* POSTs a dry run to h and expects want_url as its URL. */
static void dry_run_url(struct harness *h, const char *block, const char *args,
                        const char *want_url)
{
    struct http_reply r;
    char body[1024], want[512];
    snprintf(body, sizeof body, "{" CREDS ",\"dryRun\":true,%s}", args);
    snprintf(want, sizeof want, "\"url\":\"%s\"", want_url);
    assert_int_equal(harness_post(h, block, body, &r), 0);
    if (!strstr(buf_str(&r.body), want))
        fail_msg("%s %s: expected %s in %s", block, args, want, buf_str(&r.body));
    http_reply_free(&r);
}

#define START "\"serviceSid\":\"" SERVICE "\",\"to\":\"+14155552671\",\"channel\":\"sms\""
#define LOOKUP "\"phoneNumber\":\"+14155552671\""

/* Each block's product is its host, with edge and region as Twilio's libraries apply them;
 * TWILIO_API_BASE, when the operator sets it, takes every product's requests. */
static void each_product_has_its_host(void **state)
{
    (void)state;
    struct harness other;
    struct config cfg;
    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "https://api.twilio.com");
    cfg.api_base_set = 0;
    assert_int_equal(harness_start_with(&other, &cfg), 0);
    dry_run_url(&other, "startVerification", START,
                "https://verify.twilio.com/v2/Services/" SERVICE "/Verifications");
    dry_run_url(&other, "startVerification", START ",\"edge\":\"Sydney\",\"region\":\"au1\"",
                "https://verify.sydney.au1.twilio.com/v2/Services/" SERVICE "/Verifications");
    dry_run_url(&other, "lookupPhoneNumber", LOOKUP ",\"region\":\"ie1\"",
                "https://lookups.ie1.twilio.com/v2/PhoneNumbers/%2B14155552671");
    dry_run_url(&other, "createConversation", "\"edge\":\"dublin\"",
                "https://conversations.dublin.us1.twilio.com/v1/Conversations");
    dry_run_url(&other, "deleteMessage", "\"messageSid\":\"" MSG "\"",
                "https://api.twilio.com" ACCOUNT "/Messages/" MSG ".json");
    dry_run_url(&other, "twilioRequest",
                "\"product\":\"studio\",\"method\":\"GET\",\"path\":\"/v2/Flows\"",
                "https://studio.twilio.com/v2/Flows");
    dry_run_url(&other, "twilioRequest",
                "\"product\":\"flex-api\",\"method\":\"GET\",\"path\":\"/v1/Channels\","
                "\"edge\":\"tokyo\",\"region\":\"jp1\"",
                "https://flex-api.tokyo.jp1.twilio.com/v1/Channels");
    harness_stop(&other);

    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "https://api.twilio.com");
    cfg.api_base_set = 0;
    snprintf(cfg.region, sizeof cfg.region, "au1");
    assert_int_equal(harness_start_with(&other, &cfg), 0);
    dry_run_url(&other, "lookupPhoneNumber", LOOKUP,
                "https://lookups.au1.twilio.com/v2/PhoneNumbers/%2B14155552671");
    harness_stop(&other);

    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/Services/" SERVICE "/Verifications",
             standin_port(H.up));
    dry_run_url(&H, "startVerification", START ",\"edge\":\"sydney\",\"region\":\"au1\"", url);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/Flows", standin_port(H.up));
    dry_run_url(&H, "twilioRequest",
                "\"product\":\"studio\",\"method\":\"GET\",\"path\":\"/v2/Flows\"", url);
    assert_int_equal(standin_count(H.up), 0);
}

/* A dry run of a GET shows its query and masks secret args; the header args are shown. */
static void dry_runs_show_query_and_headers(void **state)
{
    (void)state;
    char want[1024];
    snprintf(want, sizeof want,
             OK("{\"dryRun\":true,\"request\":{\"method\":\"GET\",\"url\":\"http://127.0.0.1:%d"
                "/v2/PhoneNumbers/%%2B14155552671\",\"username\":\"" SID "\",\"password\":"
                "\"********\",\"query\":{\"Fields\":\"identity_match\",\"LastName\":\"Doe\","
                "\"NationalId\":\"********\"}}}"),
             standin_port(H.up));
    harness_expect(&H, "lookupPhoneNumber",
                   "{" CREDS ",\"dryRun\":true," LOOKUP
                   ",\"fields\":\"identity_match\",\"lastName\":\"Doe\","
                   "\"nationalId\":\"YZ3456883\"}",
                   want);
    snprintf(want, sizeof want,
             OK("{\"dryRun\":true,\"request\":{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d"
                "/v1/Conversations/" CONV "/Messages\",\"username\":\"" SID "\",\"password\":"
                "\"********\",\"form\":{\"Body\":\"Hi\"},\"headers\":{"
                "\"X-Twilio-Webhook-Enabled\":\"true\"}},\"encoding\":\"GSM-7\",\"segments\":1,"
                "\"characters\":2,\"ucs2Characters\":[]}"),
             standin_port(H.up));
    harness_expect(&H, "sendConversationMessage",
                   "{" CREDS ",\"dryRun\":true,\"conversationSid\":\"" CONV "\",\"body\":\"Hi\","
                   "\"webhookEnabled\":\"yes\"}",
                   want);
    assert_int_equal(standin_count(H.up), 0);
}

static void post_with_key(const char *block, const char *json, const char *key,
                          struct http_reply *r)
{
    char url[256], header[300];
    snprintf(url, sizeof url, "%s/api/twilio/%s", H.url, block);
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    const char *extra[] = {header, NULL};
    assert_int_equal(
        http_call_ex("POST", url, "application/json", NULL, extra, json, strlen(json), r), 0);
    assert_int_equal(r->status, 200);
}

/* A creating block sends once per Idempotency-Key; for twilioRequest, the same path and params
 * with another method or product are another request. */
static void creating_blocks_send_once_per_key(void **state)
{
    (void)state;
    struct http_reply a, b;
    const char *start = "{" CREDS "," START "}";
    harness_answer(&H, 201, verification);
    post_with_key("startVerification", start, "otp-1", &a);
    post_with_key("startVerification", start, "otp-1", &b);
    assert_string_equal(buf_str(&a.body), buf_str(&b.body));
    assert_string_equal(b.replayed, "true");
    assert_int_equal(standin_count(H.up), 1);
    http_reply_free(&a);
    http_reply_free(&b);
    const char *post = "{" CREDS ",\"product\":\"api\",\"method\":\"POST\",\"path\":\"" ACCOUNT
                       "/Calls/" CALL ".json\",\"params\":{\"Status\":\"completed\"}}";
    const char *del = "{" CREDS ",\"product\":\"api\",\"method\":\"DELETE\",\"path\":\"" ACCOUNT
                      "/Calls/" CALL ".json\",\"params\":{\"Status\":\"completed\"}}";
    post_with_key("twilioRequest", post, "call-1", &a);
    post_with_key("twilioRequest", del, "call-1", &b);
    assert_non_null(strstr(buf_str(&b.body), "\"IDEMPOTENCY_KEY_REUSED\""));
    assert_int_equal(standin_count(H.up), 2);
    http_reply_free(&a);
    http_reply_free(&b);
}

int main(void)
{
    harness_fixture(&H);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(verify_starts_and_checks, harness_fixture_reset),
        cmocka_unit_test_setup(verify_names_what_is_wrong, harness_fixture_reset),
        cmocka_unit_test_setup(lookup_sends_fields_as_one_value, harness_fixture_reset),
        cmocka_unit_test_setup(deletes_say_what_was_deleted, harness_fixture_reset),
        cmocka_unit_test_setup(media_items_get_their_content_url, harness_fixture_reset),
        cmocka_unit_test_setup(recordings_and_numbers_are_listed, harness_fixture_reset),
        cmocka_unit_test_setup(conversations_and_their_webhook_header, harness_fixture_reset),
        cmocka_unit_test_setup(any_endpoint_is_called, harness_fixture_reset),
        cmocka_unit_test_setup(any_endpoint_refuses_before_sending, harness_fixture_reset),
        cmocka_unit_test_setup(each_product_has_its_host, harness_fixture_reset),
        cmocka_unit_test_setup(dry_runs_show_query_and_headers, harness_fixture_reset),
        cmocka_unit_test_setup(creating_blocks_send_once_per_key, harness_fixture_reset),
    };
    return cmocka_run_group_tests(tests, harness_fixture_setup, harness_fixture_teardown);
}

/* Issue 5 scenarios: the blocks that read and change what was sent (getMessage,
 * listMessages, redactMessage, cancelMessage, getCall, listCalls, updateCall),
 * API-key credentials, edge and region, and dry runs. The real server, the
 * scriptable stand-in as Twilio, exact results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "creds.h"
#include "harness.h"

static struct harness H;
static const char page[] = "{\"messages\":[],\"next_page_uri\":null,\"page\":0,\"page_size\":20,"
                           "\"uri\":\"" ACCOUNT "/Messages.json?PageSize=20&Page=0\"}";
static const char fetched[] = "{\"sid\":\"" MSG "\",\"status\":\"delivered\"}";

static void get_message_and_call(void **state)
{
    (void)state;
    harness_answer(&H, 200, fetched);
    harness_expect(&H, "getMessage", "{" CREDS ",\"messageSid\":\"" MSG "\"}",
                   OK("{\"sid\":\"" MSG "\",\"status\":\"delivered\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Messages/" MSG ".json", BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, fetched);
    harness_expect(&H, "getMessage",
                   "{\"args\":{" CREDS ",\"messageSid\":\" MMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb \"}}",
                   OK("{\"sid\":\"" MSG "\",\"status\":\"delivered\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Messages/MMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.json",
                        BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, "{\"sid\":\"" CALL "\"}");
    harness_expect(&H, "getCall", "{" CREDS ",\"callSid\":\"" CALL "\"}",
                   OK("{\"sid\":\"" CALL "\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Calls/" CALL ".json", BASIC, "");
}

static void a_wrong_sid_names_its_field(void **state)
{
    (void)state;
    harness_expect(
        &H, "getMessage", "{" CREDS ",\"messageSid\":\"" CALL "\"}",
        FIELDS_ERROR(
            "\"messageSid\"",
            "\"messageSid\":\"must be a SID: SM or MM followed by 32 hexadecimal digits\""));
    harness_expect(&H, "getCall", "{" CREDS "}",
                   FIELDS_ERROR("\"callSid\"", "\"callSid\":\"is required\""));
    assert_int_equal(standin_count(H.up), 0);
}

static void a_fetch_error_says_fetch(void **state)
{
    (void)state;
    harness_answer(&H, 404,
                   "{\"code\":20404,\"message\":\"The requested resource was not found\","
                   "\"more_info\":\"https://www.twilio.com/docs/errors/"
                   "20404\",\"status\":404}");
    harness_expect(&H, "getMessage", "{" CREDS ",\"messageSid\":\"" MSG "\"}",
                   "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                   "\"API_ERROR\","
                   "\"status_msg\":\"[HTTP 404] Unable to fetch record: The requested "
                   "resource was not "
                   "found\",\"code\":20404,\"message\":\"The requested resource was not "
                   "found\","
                   "\"more_info\":\"https://www.twilio.com/docs/errors/"
                   "20404\",\"status\":404,"
                   "\"twilio_request_id\":\"RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}");
}

static void list_filters_go_in_the_query(void **state)
{
    (void)state;
    harness_answer(&H, 200, page);
    harness_expect(&H, "listMessages",
                   "{" CREDS
                   ",\"to\":\"+1 500-555-0006\",\"dateSentAfter\":\"2026-11-01T00:00:00Z\","
                   "\"dateSentBefore\":\"2026-11-30\",\"pageSize\":\"20\"}",
                   OK("{\"messages\":[],\"next_page_uri\":null,\"page\":0,\"page_size\":20,"
                      "\"uri\":\"" ACCOUNT "/Messages.json?PageSize=20&Page=0\"}"));
    harness_expect_sent(&H, "GET",
                        ACCOUNT
                        "/Messages.json?To=%2B15005550006&DateSent%3E=2026-11-01T00%3A00%3A00Z&"
                        "DateSent%3C=2026-11-30&PageSize=20",
                        BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, "{\"calls\":[],\"page_size\":50,\"uri\":\"/x\"}");
    harness_expect(&H, "listCalls",
                   "{" CREDS ",\"status\":\"In-Progress\",\"startTime\":\"2026-11-23\"}",
                   OK("{\"calls\":[],\"page_size\":50,\"uri\":\"/x\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Calls.json?Status=in-progress&StartTime=2026-11-23",
                        BASIC, "");
}

static void a_bad_date_or_page_size_is_named(void **state)
{
    (void)state;
    harness_expect(
        &H, "listMessages", "{" CREDS ",\"dateSent\":\"yesterday\",\"pageSize\":0}",
        FIELDS_ERROR("\"dateSent\",\"pageSize\"",
                     "\"dateSent\":\"must be a date (2026-11-23) or a date and time "
                     "(2026-11-23T09:30:00Z)\",\"pageSize\":\"must be from 1 to 1000\""));
    assert_int_equal(standin_count(H.up), 0);
}

/* next_page_uri is sent as it came, on the configured host, and only for this
 * account's list. */
static void a_next_page_is_followed(void **state)
{
    (void)state;
    harness_answer(&H, 200, page);
    harness_expect(&H, "listMessages",
                   "{" CREDS ",\"to\":\"+15005550006\",\"nextPageUri\":\"" ACCOUNT
                   "/Messages.json?To=%2B15005550006&PageSize=20&Page=1&PageToken=PAbc\"}",
                   OK("{\"messages\":[],\"next_page_uri\":null,\"page\":0,\"page_size\":20,"
                      "\"uri\":\"" ACCOUNT "/Messages.json?PageSize=20&Page=0\"}"));
    harness_expect_sent(
        &H, "GET", ACCOUNT "/Messages.json?To=%2B15005550006&PageSize=20&Page=1&PageToken=PAbc",
        BASIC, "");
    standin_clear(H.up);
    harness_answer(&H, 200, page);
    harness_expect(&H, "listMessages",
                   "{" CREDS ",\"nextPageUri\":\"https://api.twilio.com" ACCOUNT
                   "/Messages.json?Page=2&PageToken=PAbd\"}",
                   OK("{\"messages\":[],\"next_page_uri\":null,\"page\":0,\"page_size\":20,"
                      "\"uri\":\"" ACCOUNT "/Messages.json?PageSize=20&Page=0\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Messages.json?Page=2&PageToken=PAbd", BASIC, "");
    standin_clear(H.up);
    harness_expect(
        &H, "listMessages",
        "{" CREDS ",\"nextPageUri\":\"/2010-04-01/Accounts/"
        "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/"
        "Messages.json?Page=1\"}",
        FIELDS_ERROR(
            "\"nextPageUri\"",
            "\"nextPageUri\":\"must be the next_page_uri of a page of this list (it starts "
            "with " ACCOUNT "/Messages.json?)\""));
    harness_expect(
        &H, "listCalls", "{" CREDS ",\"nextPageUri\":\"" ACCOUNT "/Messages.json?Page=1\"}",
        FIELDS_ERROR(
            "\"nextPageUri\"",
            "\"nextPageUri\":\"must be the next_page_uri of a page of this list (it starts "
            "with " ACCOUNT "/Calls.json?)\""));
    assert_int_equal(standin_count(H.up), 0);
}

/* redactMessage and cancelMessage send their fixed parameters, and only those.
 */
static void redact_and_cancel_send_fixed_params(void **state)
{
    (void)state;
    harness_answer(&H, 200, fetched);
    harness_expect(&H, "redactMessage",
                   "{" CREDS ",\"messageSid\":\"" MSG "\",\"body\":\"ignored\"}",
                   OK("{\"sid\":\"" MSG "\",\"status\":\"delivered\"}"));
    harness_expect_sent(&H, "POST", ACCOUNT "/Messages/" MSG ".json", BASIC, "Body=");
    standin_clear(H.up);
    harness_answer(&H, 200, fetched);
    harness_expect(&H, "cancelMessage", "{" CREDS ",\"messageSid\":\"" MSG "\"}",
                   OK("{\"sid\":\"" MSG "\",\"status\":\"delivered\"}"));
    harness_expect_sent(&H, "POST", ACCOUNT "/Messages/" MSG ".json", BASIC, "Status=canceled");
}

static void update_call_cancels_completes_or_redirects(void **state)
{
    (void)state;
    harness_expect(&H, "updateCall", "{" CREDS ",\"callSid\":\"" CALL "\"}",
                   FIELDS_ERROR("\"status\",\"url\",\"twiml\"",
                                "\"status\":\"one of status, url, twiml is required\","
                                "\"url\":\"one of status, url, twiml is required\","
                                "\"twiml\":\"one of status, url, twiml is required\""));
    assert_int_equal(standin_count(H.up), 0);
    harness_answer(&H, 200, "{\"sid\":\"" CALL "\",\"status\":\"completed\"}");
    harness_expect(&H, "updateCall",
                   "{" CREDS ",\"callSid\":\"" CALL "\",\"status\":\"COMPLETED\"}",
                   OK("{\"sid\":\"" CALL "\",\"status\":\"completed\"}"));
    harness_expect_sent(&H, "POST", ACCOUNT "/Calls/" CALL ".json", BASIC, "Status=completed");
    standin_clear(H.up);
    harness_answer(&H, 200, "{\"sid\":\"" CALL "\"}");
    harness_expect(&H, "updateCall",
                   "{" CREDS ",\"callSid\":\"" CALL "\",\"url\":\"https://example.com/next.xml\","
                   "\"method\":\"get\"}",
                   OK("{\"sid\":\"" CALL "\"}"));
    harness_expect_sent(&H, "POST", ACCOUNT "/Calls/" CALL ".json", BASIC,
                        "Url=https%3A%2F%2Fexample.com%2Fnext.xml&Method=GET");
}

static void an_api_key_authenticates_on_the_account(void **state)
{
    (void)state;
    harness_answer(&H, 200, fetched);
    harness_expect(&H, "getMessage", "{" KEY_CREDS ",\"messageSid\":\"" MSG "\"}",
                   OK("{\"sid\":\"" MSG "\",\"status\":\"delivered\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Messages/" MSG ".json", KEY_BASIC, "");
    standin_clear(H.up);
    /* with both, the Auth Token is used */
    harness_answer(&H, 200, fetched);
    harness_expect(&H, "getMessage",
                   "{" KEY_CREDS ",\"accountToken\":\"" TOKEN "\",\"messageSid\":\"" MSG "\"}",
                   OK("{\"sid\":\"" MSG "\",\"status\":\"delivered\"}"));
    harness_expect_sent(&H, "GET", ACCOUNT "/Messages/" MSG ".json", BASIC, "");
    standin_clear(H.up);
    harness_expect(
        &H, "getMessage",
        "{\"accountSid\":\"" SID "\",\"apiKeySid\":\"" KEY "\",\"messageSid\":\"" MSG "\"}",
        FIELDS_ERROR("\"apiKeySecret\"", "\"apiKeySecret\":\"is required with apiKeySid\""));
    harness_expect(
        &H, "getMessage",
        "{\"accountSid\":\"" SID "\",\"apiKeySid\":\"" SID "\",\"apiKeySecret\":\"s\","
        "\"messageSid\":\"" MSG "\"}",
        FIELDS_ERROR("\"apiKeySid\"",
                     "\"apiKeySid\":\"must be a SID: SK followed by 32 hexadecimal digits\""));
    assert_int_equal(standin_count(H.up), 0);
}

/* A dry run validates everything, sends nothing, masks secrets and counts
 * segments. */
static void a_dry_run_shows_the_request(void **state)
{
    (void)state;
    char want[2048];
    snprintf(want, sizeof want,
             OK("{\"dryRun\":true,\"request\":{\"method\":\"POST\",\"url\":"
                "\"http://127.0.0.1:%d" ACCOUNT "/Messages.json\",\"username\":\"" SID
                "\",\"password\":\"********\",\"form\":{"
                "\"To\":\"+15005550006\",\"From\":\"+15005550006\",\"Body\":"
                "\"Price: 5€ [ok]\"}},"
                "\"encoding\":\"GSM-7\",\"segments\":1,\"characters\":14,"
                "\"ucs2Characters\":[]}"),
             standin_port(H.up));
    harness_expect(&H, "sendSms",
                   "{\"args\":{" CREDS ",\"to\":\"+15005550006\",\"from\":\"+15005550006\","
                   "\"body\":\"Price: 5€ [ok]\",\"dryRun\":\"yes\"}}",
                   want);
    snprintf(want, sizeof want,
             OK("{\"dryRun\":true,\"request\":{\"method\":\"POST\",\"url\":"
                "\"http://127.0.0.1:%d" ACCOUNT "/Messages.json\",\"username\":\"" KEY
                "\",\"password\":\"********\",\"form\":{"
                "\"To\":\"+15005550006\",\"From\":\"+15005550006\",\"Body\":\"Hi "
                "😀, ça va? `😀\"}},"
                "\"encoding\":\"UCS-2\",\"segments\":1,\"characters\":15,"
                "\"ucs2Characters\":[\"😀\","
                "\"ç\",\"`\"]}"),
             standin_port(H.up));
    harness_expect(&H, "sendSms",
                   "{" KEY_CREDS ",\"to\":\"+15005550006\",\"from\":\"+15005550006\","
                   "\"body\":\"Hi 😀, ça va? `😀\",\"dryRun\":true}",
                   want);
    assert_int_equal(standin_count(H.up), 0);
}

/* makeCall's SIP password is masked like the credentials; a dry run spends no
 * Idempotency-Key and still refuses what is wrong. */
static void a_dry_run_masks_secrets_and_sends_nothing(void **state)
{
    (void)state;
    struct http_reply r;
    const char *args = CREDS ",\"to\":\"sip:alice@example.com\",\"from\":\"+15005550006\","
                             "\"url\":\"https://example.com/a.xml\",\"sipAuthUsername\":\"alice\","
                             "\"sipAuthPassword\":\"sip-pass-3e1\",\"idempotencyKey\":\"k-dry\"";
    char body[1024];
    snprintf(body, sizeof body, "{%s,\"dryRun\":1}", args);
    assert_int_equal(harness_post(&H, "makeCall", body, &r), 0);
    assert_non_null(strstr(buf_str(&r.body), "\"SipAuthUsername\":\"alice\","
                                             "\"SipAuthPassword\":\"********\""));
    assert_null(strstr(buf_str(&r.body), "sip-pass-3e1"));
    assert_null(strstr(buf_str(&r.body), TOKEN));
    assert_null(strstr(buf_str(&r.body), "\"segments\""));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 0);
    snprintf(body, sizeof body, "{%s}", args);
    assert_int_equal(harness_post(&H, "makeCall", body, &r), 0);
    assert_non_null(strstr(buf_str(&r.body), "\"callback\":\"success\""));
    assert_null(strstr(buf_str(&r.body), "dryRun"));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 1);
    standin_clear(H.up);
    harness_expect(
        &H, "sendSms", "{" CREDS ",\"to\":\"+15005550006\",\"dryRun\":true}",
        FIELDS_ERROR("\"from\",\"messagingServiceSid\",\"body\",\"mediaUrl\",\"contentSid\"",
                     "\"from\":\"one of from, messagingServiceSid is required\","
                     "\"messagingServiceSid\":\"one of from, messagingServiceSid is required\","
                     "\"body\":\"one of body, mediaUrl, contentSid is required\","
                     "\"mediaUrl\":\"one of body, mediaUrl, contentSid is required\","
                     "\"contentSid\":\"one of body, mediaUrl, contentSid is required\""));
    assert_int_equal(standin_count(H.up), 0);
}

static void dry_run_url(struct harness *h, const char *args, const char *want_base)
{
    struct http_reply r;
    char body[1024], want[512];
    snprintf(body, sizeof body,
             "{" CREDS ",\"to\":\"+15005550006\",\"from\":\"+15005550006\",\"body\":\"x\","
             "\"dryRun\":true%s}",
             args);
    snprintf(want, sizeof want, "\"url\":\"%s" ACCOUNT "/Messages.json\"", want_base);
    assert_int_equal(harness_post(h, "sendSms", body, &r), 0);
    if (!strstr(buf_str(&r.body), want))
        fail_msg("%s: expected %s in %s", args, want, buf_str(&r.body));
    http_reply_free(&r);
}

/* Edge and region pick Twilio's host as its libraries do, from the args or the
 * service's TWILIO_EDGE/TWILIO_REGION, unless the operator set TWILIO_API_BASE.
 */
static void edge_and_region_choose_the_host(void **state)
{
    (void)state;
    struct harness other;
    struct config cfg;
    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "https://api.twilio.com");
    cfg.api_base_set = 0;
    assert_int_equal(harness_start_with(&other, &cfg), 0);
    dry_run_url(&other, "", "https://api.twilio.com");
    dry_run_url(&other, ",\"edge\":\"Sydney\",\"region\":\"au1\"",
                "https://api.sydney.au1.twilio.com");
    dry_run_url(&other, ",\"edge\":\"dublin\"", "https://api.dublin.us1.twilio.com");
    dry_run_url(&other, ",\"region\":\"ie1\"", "https://api.ie1.twilio.com");
    harness_stop(&other);

    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "https://api.twilio.com");
    cfg.api_base_set = 0;
    snprintf(cfg.edge, sizeof cfg.edge, "tokyo");
    snprintf(cfg.region, sizeof cfg.region, "jp1");
    assert_int_equal(harness_start_with(&other, &cfg), 0);
    dry_run_url(&other, "", "https://api.tokyo.jp1.twilio.com");
    dry_run_url(&other, ",\"edge\":\"sydney\"", "https://api.sydney.jp1.twilio.com");
    harness_stop(&other);

    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port(H.up));
    dry_run_url(&H, ",\"edge\":\"sydney\",\"region\":\"au1\"", base); /* operator's base wins */
    harness_expect(
        &H, "sendSms",
        "{" CREDS ",\"to\":\"+15005550006\",\"from\":\"+15005550006\",\"body\":\"x\","
        "\"edge\":\"evil.com/x\"}",
        FIELDS_ERROR("\"edge\"",
                     "\"edge\":\"may only contain the characters "
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-\""));
    assert_int_equal(standin_count(H.up), 0);
}

int main(void)
{
    harness_fixture(&H);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(get_message_and_call, harness_fixture_reset),
        cmocka_unit_test_setup(a_wrong_sid_names_its_field, harness_fixture_reset),
        cmocka_unit_test_setup(a_fetch_error_says_fetch, harness_fixture_reset),
        cmocka_unit_test_setup(list_filters_go_in_the_query, harness_fixture_reset),
        cmocka_unit_test_setup(a_bad_date_or_page_size_is_named, harness_fixture_reset),
        cmocka_unit_test_setup(a_next_page_is_followed, harness_fixture_reset),
        cmocka_unit_test_setup(redact_and_cancel_send_fixed_params, harness_fixture_reset),
        cmocka_unit_test_setup(update_call_cancels_completes_or_redirects, harness_fixture_reset),
        cmocka_unit_test_setup(an_api_key_authenticates_on_the_account, harness_fixture_reset),
        cmocka_unit_test_setup(a_dry_run_shows_the_request, harness_fixture_reset),
        cmocka_unit_test_setup(a_dry_run_masks_secrets_and_sends_nothing, harness_fixture_reset),
        cmocka_unit_test_setup(edge_and_region_choose_the_host, harness_fixture_reset),
    };
    return cmocka_run_group_tests(tests, harness_fixture_setup, harness_fixture_teardown);
}

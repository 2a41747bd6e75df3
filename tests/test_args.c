/* args: coercion and validation against the real embedded block definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "block.h"
#include "embedded.h"

#define CREDS "\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"accountToken\":\"tok\""

static struct block_set *blocks;

static int setup(void **state)
{
    (void)state;
    char err[256];
    blocks = block_set_load(&embedded_metadata, &embedded_common_args, embedded_blocks,
                            embedded_blocks_count, err, sizeof err);
    if (!blocks)
        fprintf(stderr, "%s\n", err);
    return blocks ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    block_set_free(blocks);
    return 0;
}

static const struct block_def *block(const char *name)
{
    const struct block_def *b = block_find(blocks, name, strlen(name));
    assert_non_null(b);
    return b;
}

/* Prepares json for block and checks the form, or (form NULL) the reasons text. */
static void expect(const char *name, const char *json, enum args_status want, const char *form,
                   const char *reasons)
{
    json_error_t jerr;
    json_t *args = json_loads(json, 0, &jerr);
    if (!args)
        fail_msg("bad test JSON: %s", jerr.text);
    struct prepared p;
    json_t *why = NULL;
    enum args_status rc = args_prepare(block(name), args, 1u << 20, &p, &why);
    if (rc != want) {
        char *text = why ? json_dumps(why, JSON_COMPACT) : NULL;
        fail_msg("%s: status %d, want %d (%s)", json, rc, want, text ? text : "");
    }
    if (rc == ARGS_OK) {
        assert_string_equal(buf_str(&p.form), form);
        args_prepared_free(&p);
    } else {
        char *text = json_dumps(why, JSON_COMPACT);
        assert_string_equal(text, reasons);
        free(text);
    }
    json_decref(why);
    json_decref(args);
}

static void phone_numbers_are_normalised(void **state)
{
    (void)state;
    expect("sendSms",
           "{" CREDS ",\"to\":\" +1 (415) 555-2671 \",\"from\":\"+1.500.555.0006\",\"body\":\"x\"}",
           ARGS_OK, "To=%2B14155552671&From=%2B15005550006&Body=x", NULL);
    /* a JSON number lost its +: read back as +digits; a short code sender stays as it is */
    expect("sendSms", "{" CREDS ",\"to\":14155552671,\"from\":12345,\"body\":\"x\"}", ARGS_OK,
           "To=%2B14155552671&From=12345&Body=x", NULL);
    expect("sendSms", "{" CREDS ",\"to\":1234,\"from\":\"+15005550006\",\"body\":\"x\"}",
           ARGS_INVALID, NULL,
           "{\"to\":\"is a JSON number that is no phone number: give the number as a string, "
           "with its + (\\\"+14155552671\\\")\"}");
    expect("sendSms", "{" CREDS ",\"to\":1.4155552671e10,\"from\":\"+15005550006\",\"body\":\"x\"}",
           ARGS_INVALID, NULL,
           "{\"to\":\"is a JSON number that is no phone number: give the number as a string, "
           "with its + (\\\"+14155552671\\\")\"}");
}

/* Nothing ambiguous is sent: a near miss of an arg, a known other name and a dry run asked of a
 * block without one are refused; any other unknown key is ignored. */
static void near_misses_are_refused(void **state)
{
    (void)state;
    expect("sendSms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"x\","
           "\"statusCalback\":\"https://example.com/s\"}",
           ARGS_INVALID, NULL,
           "{\"statusCalback\":\"is not an arg of sendSms: did you mean statusCallback?\"}");
    expect("sendSms",
           "{\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"authToken\":\"tok\","
           "\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"x\"}",
           ARGS_INVALID, NULL,
           "{\"authToken\":\"is not an arg of sendSms: did you mean accountToken?\"}");
    expect("sendBulkSms",
           "{" CREDS ",\"from\":\"+15005550006\",\"body\":\"x\",\"to\":[\"+14155552671\"]}",
           ARGS_INVALID, NULL,
           "{\"to\":\"is not an arg of sendBulkSms: did you mean recipients?\"}");
    expect("pollMessages", "{" CREDS ",\"dryRun\":true}", ARGS_INVALID, NULL,
           "{\"dryRun\":\"is not an arg of pollMessages: it has no dry run, and this call would be "
           "made for real (nothing was sent)\"}");
    expect("pollMessages", "{" CREDS ",\"dryRun\":false,\"x-gateway-id\":\"7\",\"user\":\"ana\"}",
           ARGS_OK, "", NULL);
    /* the right arg given too: the other key is someone else's, and ignored */
    expect("sendSms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"x\","
           "\"bodi\":\"y\"}",
           ARGS_OK, "To=%2B14155552671&From=%2B15005550006&Body=x", NULL);
}

static void channel_addresses_and_senders(void **state)
{
    (void)state;
    expect("sendSms",
           "{" CREDS
           ",\"to\":\"WhatsApp:+44 20 7946 0000\",\"from\":\"My Shop 24\",\"body\":\"x\"}",
           ARGS_OK, "To=whatsapp%3A%2B442079460000&From=My%20Shop%2024&Body=x", NULL);
    expect("makeCall",
           "{" CREDS ",\"to\":\"sip:alice@example.com\",\"from\":\"client:bob\",\"url\":\"https://"
           "a.test/v.xml\"}",
           ARGS_OK,
           "To=sip%3Aalice%40example.com&From=client%3Abob&Url=https%3A%2F%2Fa.test%2Fv.xml", NULL);
    expect("makeCall",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"My Shop\",\"url\":\"https://a.test/\"}",
           ARGS_INVALID, NULL,
           "{\"from\":\"must be a phone number in E.164 format (+14155552671) or a whatsapp:, "
           "client: or sip: address\"}");
    expect("sendSms",
           "{" CREDS ",\"to\":\"+1 415 CALL ME\",\"from\":\"Too long sender\",\"body\":\"x\"}",
           ARGS_INVALID, NULL,
           "{\"to\":\"must be a phone number in E.164 format (+14155552671) or a whatsapp:, "
           "client: or sip: address\",\"from\":\"must be a phone number in E.164 format "
           "(+14155552671), a whatsapp:, client: or sip: address, a short code or an alphanumeric "
           "sender ID (up to 11 letters, digits and spaces)\"}");
}

static void empty_and_null_are_absent_zero_and_false_are_values(void **state)
{
    (void)state;
    expect("sendSms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"\",\"messagingServiceSid\":null,"
           "\"body\":\"x\"}",
           ARGS_INVALID, NULL,
           "{\"from\":\"one of from, messagingServiceSid is required\",\"messagingServiceSid\":"
           "\"one of from, messagingServiceSid is required\"}");
    expect("makeCall",
           "{" CREDS
           ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"url\":\"https://a.test/\","
           "\"record\":false,\"machineDetectionTimeout\":0}",
           ARGS_OK,
           "To=%2B14155552671&From=%2B15005550006&Url=https%3A%2F%2Fa.test%2F&Record=false&"
           "MachineDetectionTimeout=0",
           NULL);
}

static void loose_types_are_coerced(void **state)
{
    (void)state;
    expect(
        "makeCall",
        "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"url\":\"https://a.test/\","
        "\"timeout\":\" 30 \",\"record\":\"TRUE\",\"statusCallbackEvent\":\"ringing , completed\","
        "\"method\":\"post\",\"unknown\":{\"deep\":1}}",
        ARGS_OK,
        "To=%2B14155552671&From=%2B15005550006&Url=https%3A%2F%2Fa.test%2F&Method=POST&"
        "StatusCallbackEvent=ringing&StatusCallbackEvent=completed&Timeout=30&Record=true",
        NULL);
    expect("sendSms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"x\","
           "\"validityPeriod\":60.0,\"maxPrice\":\"0.75\",\"smartEncoded\":1}",
           ARGS_OK,
           "To=%2B14155552671&From=%2B15005550006&Body=x&MaxPrice=0.75&ValidityPeriod=60&"
           "SmartEncoded=true",
           NULL);
}

static void wrong_types_and_ranges_say_why(void **state)
{
    (void)state;
    expect("makeCall",
           "{" CREDS ",\"to\":{\"n\":1},\"from\":\"+15005550006\",\"url\":\"https://a.test/\","
           "\"timeout\":601,\"record\":\"perhaps\",\"method\":\"PUT\",\"sendDigits\":\"12x\","
           "\"statusCallbackEvent\":[\"ringing\",\"dialled\"]}",
           ARGS_INVALID, NULL,
           "{\"to\":\"must be a string, not an object\",\"method\":\"must be one of: GET, POST\","
           "\"statusCallbackEvent\":\"item 2 must be one of: initiated, ringing, answered, "
           "completed\",\"sendDigits\":\"may only contain the characters 0123456789ABCDabcd#*wW\","
           "\"timeout\":\"must be from 1 to 600\",\"record\":\"must be true or false\"}");
}

static void one_of_groups(void **state)
{
    (void)state;
    expect("makeCall", "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\"}",
           ARGS_INVALID, NULL,
           "{\"url\":\"one of url, twiml, applicationSid is required\",\"twiml\":\"one of url, "
           "twiml, applicationSid is required\",\"applicationSid\":\"one of url, twiml, "
           "applicationSid is required\"}");
    expect(
        "sendSms",
        "{" CREDS
        ",\"to\":\"+14155552671\",\"messagingServiceSid\":\"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
        "\"contentSid\":\"HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"contentVariables\":{\"1\":\"Joe\"}"
        "}",
        ARGS_OK,
        "To=%2B14155552671&MessagingServiceSid=MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ContentSid="
        "HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ContentVariables=%7B%221%22%3A%22Joe%22%7D",
        NULL);
}

static void lists_count_and_check_items(void **state)
{
    (void)state;
    expect("sendMms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"mediaUrl\":[]}",
           ARGS_INVALID, NULL, "{\"mediaUrl\":\"is required\"}");
    expect("sendMms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"mediaUrl\":"
           "\"https://a/1,https://a/2,https://a/3,https://a/4,https://a/5,https://a/6,https://a/7,"
           "https://a/8,https://a/9,https://a/10,https://a/11\"}",
           ARGS_INVALID, NULL, "{\"mediaUrl\":\"must have at most 10 items (got 11)\"}");
    expect("sendMms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"mediaUrl\":"
           "[\"javascript:alert(1)\"]}",
           ARGS_INVALID, NULL,
           "{\"mediaUrl\":\"item 1 must be an absolute http:// or https:// URL\"}");
}

static void lengths_count_characters_not_bytes(void **state)
{
    (void)state;
    char json[8192];
    char body[1601 * 2 + 1];
    for (size_t i = 0; i < 1600; i++)
        memcpy(body + 2 * i, "\xc3\xa9", 2); /* 1600 x U+00E9: 3200 bytes */
    body[3200] = '\0';
    snprintf(json, sizeof json,
             "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"%s\"}", body);
    json_t *args = json_loads(json, 0, NULL);
    struct prepared p;
    json_t *why = NULL;
    assert_int_equal(args_prepare(block("sendSms"), args, 1u << 20, &p, &why), ARGS_OK);
    args_prepared_free(&p);
    json_decref(args);
    snprintf(json, sizeof json,
             "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"%sx\"}",
             body);
    args = json_loads(json, 0, NULL);
    assert_int_equal(args_prepare(block("sendSms"), args, 1u << 20, &p, &why), ARGS_INVALID);
    assert_string_equal(json_string_value(json_object_get(why, "body")),
                        "must be at most 1600 characters (got 1601)");
    json_decref(why);
    json_decref(args);
}

static void json_args_must_parse(void **state)
{
    (void)state;
    expect("sendSms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\","
           "\"contentSid\":\"HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"contentVariables\":\"{1: 2}\"}",
           ARGS_BAD_JSON, NULL,
           "{\"contentVariables\":\"is not valid JSON: string or '}' expected (line 1, "
           "column 2)\"}");
    expect("sendSms",
           "{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"x\","
           "\"contentVariables\":\"{}\"}",
           ARGS_INVALID, NULL, "{\"contentVariables\":\"needs contentSid as well\"}");
}

static void credentials_fill_path_and_auth(void **state)
{
    (void)state;
    json_t *args = json_loads("{\"accountSid\":\" ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
                              "\"accountToken\":\"t0k\",\"to\":\"+14155552671\","
                              "\"from\":\"+15005550006\",\"body\":\"x\"}",
                              0, NULL);
    struct prepared p;
    json_t *why = NULL;
    assert_int_equal(args_prepare(block("sendSms"), args, 1u << 20, &p, &why), ARGS_OK);
    assert_string_equal(buf_str(&p.path),
                        "/2010-04-01/Accounts/ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/Messages.json");
    assert_string_equal(buf_str(&p.username), "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_string_equal(buf_str(&p.password), "t0k");
    args_prepared_free(&p);
    json_decref(args);
}

static void hostile_account_sids_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/a", "AC../../../../aaaaaaaaaaaaaaaaaaaaaa",
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#",
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%2F", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        "acaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s}", "accountSid", bad[i], "accountToken",
                                 "t", "to", "+14155552671", "from", "+15005550006", "body", "x");
        struct prepared p;
        json_t *why = NULL;
        assert_int_equal(args_prepare(block("sendSms"), args, 1u << 20, &p, &why), ARGS_INVALID);
        assert_string_equal(json_string_value(json_object_get(why, "accountSid")),
                            "must be a SID: AC followed by 32 hexadecimal digits");
        json_decref(why);
        json_decref(args);
    }
}

static void form_cap_fails_cleanly(void **state)
{
    (void)state;
    json_t *args = json_loads("{" CREDS ",\"to\":\"+14155552671\",\"from\":\"+15005550006\","
                              "\"body\":\"0123456789\"}",
                              0, NULL);
    struct prepared p;
    json_t *why = NULL;
    assert_int_equal(args_prepare(block("sendSms"), args, 16, &p, &why), ARGS_NOMEM);
    assert_null(why);
    json_decref(args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(phone_numbers_are_normalised),
        cmocka_unit_test(near_misses_are_refused),
        cmocka_unit_test(channel_addresses_and_senders),
        cmocka_unit_test(empty_and_null_are_absent_zero_and_false_are_values),
        cmocka_unit_test(loose_types_are_coerced),
        cmocka_unit_test(wrong_types_and_ranges_say_why),
        cmocka_unit_test(one_of_groups),
        cmocka_unit_test(lists_count_and_check_items),
        cmocka_unit_test(lengths_count_characters_not_bytes),
        cmocka_unit_test(json_args_must_parse),
        cmocka_unit_test(credentials_fill_path_and_auth),
        cmocka_unit_test(hostile_account_sids_are_refused),
        cmocka_unit_test(form_cap_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* X-Twilio-Signature, the validateWebhookSignature block and the webhookEvent relay. Expected
 * signatures are computed here from the signed text written out by hand, never by the code
 * under test; the scenarios go through the real server and assert the exact envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "webhook.h"

#define VEC_TOKEN "12345"
#define VEC_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define VEC_SIG "RSOYDt4T1cUTdK1PDd93/VVr8B8="
#define VEC_PARAMS                                                                                 \
    "{\"CallSid\":\"CA1234567890ABCDE\",\"Caller\":\"+14158675309\",\"Digits\":\"1234\","          \
    "\"From\":\"+14158675309\",\"To\":\"+18005551212\"}"
/* The vector's fields sorted by name, each name followed by its value. */
#define VEC_SIGNED_FIELDS                                                                          \
    "CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"

#define HOOK_TOKEN "hook-token-5e1f9a7c"
#define HOOK_URL "https://hooks.example.com/twilio/sms"
#define ACC "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MSG "SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define MEDIA "https://api.twilio.com/2010-04-01/Accounts/" ACC "/Messages/" MSG "/Media/ME"
#define XML_HEAD "<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?>"
#define OK_HEAD "{\"callback\":\"success\",\"contextWrites\":{\"to\":"
#define FIELDS_HEAD                                                                                \
    "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"REQUIRED_FIELDS\","      \
    "\"status_msg\":\"Please, check and fill in required fields.\","

/* base64(HMAC-SHA1(token, text)), as Twilio computes X-Twilio-Signature. */
static void hmac_b64(const char *token, const char *text, char out[29])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_non_null(HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)text,
                         strlen(text), mac, &n));
    assert_int_equal(n, 20);
    assert_int_equal(EVP_EncodeBlock((unsigned char *)out, mac, (int)n), 28);
}

static void digest_sha256_hex(const char *data, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(data, strlen(data), md, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", err.text, text);
    return v;
}

static enum sig_result check_params(const char *token, const char *url, const char *params,
                                    const char *signature)
{
    json_t *p = params ? load(params) : NULL;
    enum sig_result rc = webhook_signature_check(token, url, p, NULL, 0, signature);
    json_decref(p);
    return rc;
}

static enum sig_result check_raw(const char *token, const char *url, const char *raw,
                                 const char *signature)
{
    return webhook_signature_check(token, url, NULL, raw, strlen(raw), signature);
}

/* ---- webhook_signature_check ---- */

static void vector_is_valid(void **state)
{
    (void)state;
    char sig[29];
    hmac_b64(VEC_TOKEN, VEC_URL VEC_SIGNED_FIELDS, sig);
    assert_string_equal(sig, VEC_SIG); /* the hand-built signed text is Twilio's */
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, VEC_SIG), SIG_VALID);
}

static void one_change_is_invalid(void **state)
{
    (void)state;
    /* the signature */
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, "SSOYDt4T1cUTdK1PDd93/VVr8B8="),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=="),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, "rSOYDt4T1cUTdK1PDd93/VVr8B8="),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, ""), SIG_INVALID);
    /* a param value, a param name, a missing and an extra param */
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"CallSid\":\"CA1234567890ABCDE\",\"Caller\":\"+14158675309\","
                                  "\"Digits\":\"1235\",\"From\":\"+14158675309\","
                                  "\"To\":\"+18005551212\"}",
                                  VEC_SIG),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"CallSid\":\"CA1234567890ABCDE\",\"Caller\":\"+14158675309\","
                                  "\"digits\":\"1234\",\"From\":\"+14158675309\","
                                  "\"To\":\"+18005551212\"}",
                                  VEC_SIG),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"CallSid\":\"CA1234567890ABCDE\",\"Caller\":\"+14158675309\","
                                  "\"From\":\"+14158675309\",\"To\":\"+18005551212\"}",
                                  VEC_SIG),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"CallSid\":\"CA1234567890ABCDE\",\"Caller\":\"+14158675309\","
                                  "\"Digits\":\"1234\",\"From\":\"+14158675309\","
                                  "\"To\":\"+18005551212\",\"Body\":\"\"}",
                                  VEC_SIG),
                     SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, NULL, VEC_SIG), SIG_INVALID);
    /* the token */
    assert_int_equal(check_params("12346", VEC_URL, VEC_PARAMS, VEC_SIG), SIG_INVALID);
    assert_int_equal(check_params("1234", VEC_URL, VEC_PARAMS, VEC_SIG), SIG_INVALID);
    /* the URL */
    assert_int_equal(
        check_params(VEC_TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=3", VEC_PARAMS, VEC_SIG),
        SIG_INVALID);
    assert_int_equal(
        check_params(VEC_TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", VEC_PARAMS, VEC_SIG),
        SIG_INVALID);
    assert_int_equal(
        check_params(VEC_TOKEN, "https://mycompany.com/myapp.php", VEC_PARAMS, VEC_SIG),
        SIG_INVALID);
}

/* Twilio has signed the URL with its port and without; either form of it validates. */
static void url_with_or_without_port(void **state)
{
    (void)state;
    char sig[29];
    assert_int_equal(check_params(VEC_TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                                  VEC_PARAMS, VEC_SIG),
                     SIG_VALID);
    hmac_b64(VEC_TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2" VEC_SIGNED_FIELDS, sig);
    assert_string_not_equal(sig, VEC_SIG);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, sig), SIG_VALID);
    assert_int_equal(
        check_params(VEC_TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", VEC_PARAMS, sig),
        SIG_VALID);
    /* http's port is 80 */
    hmac_b64(VEC_TOKEN, "http://mycompany.com:80/hook" VEC_SIGNED_FIELDS, sig);
    assert_int_equal(check_params(VEC_TOKEN, "http://mycompany.com/hook", VEC_PARAMS, sig),
                     SIG_VALID);
    hmac_b64(VEC_TOKEN, "http://mycompany.com/hook" VEC_SIGNED_FIELDS, sig);
    assert_int_equal(check_params(VEC_TOKEN, "http://mycompany.com:80/hook", VEC_PARAMS, sig),
                     SIG_VALID);
    /* a URL without a port is not signed with some other port */
    hmac_b64(VEC_TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2" VEC_SIGNED_FIELDS, sig);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, sig), SIG_INVALID);
    assert_int_equal(check_params(VEC_TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                                  VEC_PARAMS, sig),
                     SIG_VALID);
}

/* A relay may have turned "1234" into 1234: the form text signed is the same. */
static void numbers_as_form_text(void **state)
{
    (void)state;
    char sig[29];
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"CallSid\":\"CA1234567890ABCDE\",\"Caller\":\"+14158675309\","
                                  "\"Digits\":1234,\"From\":\"+14158675309\","
                                  "\"To\":\"+18005551212\"}",
                                  VEC_SIG),
                     SIG_VALID);
    hmac_b64(VEC_TOKEN, VEC_URL "NumMedia0Price-0.0075Redactedtrue", sig);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"Price\":-0.0075,\"Redacted\":true,\"NumMedia\":0}", sig),
                     SIG_VALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"Price\":\"-0.0075\",\"Redacted\":\"true\","
                                  "\"NumMedia\":\"0\"}",
                                  sig),
                     SIG_VALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"Price\":-0.0076,\"Redacted\":true,\"NumMedia\":0}", sig),
                     SIG_INVALID);
}

/* A repeated field (a JSON list) is signed once per distinct value, the values sorted. */
static void repeated_fields_sorted_by_value(void **state)
{
    (void)state;
    char sig[29], unsorted[29];
    hmac_b64(VEC_TOKEN,
             VEC_URL "BodyhiMediaUrlhttps://a.test/1MediaUrlhttps://b.test/2"
                     "MediaUrlhttps://b.test/3To+15005550006",
             sig);
    hmac_b64(VEC_TOKEN,
             VEC_URL "BodyhiMediaUrlhttps://b.test/3MediaUrlhttps://a.test/1"
                     "MediaUrlhttps://b.test/2To+15005550006",
             unsorted);
    static const char params[] = "{\"To\":\"+15005550006\",\"MediaUrl\":[\"https://b.test/3\","
                                 "\"https://a.test/1\",\"https://b.test/2\"],\"Body\":\"hi\"}";
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, params, sig), SIG_VALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, params, unsorted), SIG_INVALID);
    /* a value repeated under one name is signed once, as Twilio's libraries do (a set) */
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL,
                                  "{\"To\":\"+15005550006\",\"MediaUrl\":[\"https://b.test/3\","
                                  "\"https://a.test/1\",\"https://b.test/2\",\"https://a.test/1\"],"
                                  "\"Body\":\"hi\"}",
                                  sig),
                     SIG_VALID);
}

/* A GET webhook: only the URL is signed. */
static void no_params_signs_the_url(void **state)
{
    (void)state;
    char sig[29];
    hmac_b64(VEC_TOKEN, VEC_URL, sig);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, NULL, sig), SIG_VALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, "{}", sig), SIG_VALID);
    assert_int_equal(check_params(VEC_TOKEN, VEC_URL, VEC_PARAMS, sig), SIG_INVALID);
}

#define JSON_BODY "{\"EventType\":\"com.twilio.messaging.message.delivered\",\"n\":1}"

/* A JSON body: the URL carries the body's SHA-256 and only the URL is signed. */
static void json_body_hash(void **state)
{
    (void)state;
    char hex[65], url[256], sig[29];
    digest_sha256_hex(JSON_BODY, hex);
    snprintf(url, sizeof url, "https://mycompany.com/events?bodySHA256=%s", hex);
    hmac_b64(VEC_TOKEN, url, sig);
    assert_int_equal(check_raw(VEC_TOKEN, url, JSON_BODY, sig), SIG_VALID);
    /* the body changed by one byte */
    assert_int_equal(check_raw(VEC_TOKEN, url,
                               "{\"EventType\":\"com.twilio.messaging.message.delivered\",\"n\":2}",
                               sig),
                     SIG_BAD_BODY_HASH);
    /* the body holds, the signature does not */
    assert_int_equal(check_raw("12346", url, JSON_BODY, sig), SIG_INVALID);
    /* the hash among other query parameters, with the port */
    snprintf(url, sizeof url, "https://mycompany.com:443/events?a=1&bodySHA256=%s&b=2", hex);
    hmac_b64(VEC_TOKEN, url, sig);
    snprintf(url, sizeof url, "https://mycompany.com/events?a=1&bodySHA256=%s&b=2", hex);
    assert_int_equal(check_raw(VEC_TOKEN, url, JSON_BODY, sig), SIG_VALID);
    /* a raw body and a URL that does not carry its hash */
    hmac_b64(VEC_TOKEN, VEC_URL, sig);
    assert_int_equal(check_raw(VEC_TOKEN, VEC_URL, JSON_BODY, sig), SIG_NO_BODY_HASH);
}

/* ---- the real server ---- */

static struct harness H;

/* POSTs json to the block or event and asserts the exact answer; nothing reaches Twilio and
 * no auth token is echoed. The reply is freed before asserting, so a failure leaks nothing. */
static void expect_answer(const char *name, const char *json, const char *want)
{
    struct http_reply r;
    assert_int_equal(harness_post(&H, name, json, &r), 0);
    long status = r.status;
    int json_type = strcmp(r.content_type, "application/json") == 0;
    int same = strcmp(buf_str(&r.body), want) == 0;
    int echoed = strstr(buf_str(&r.body), HOOK_TOKEN) != NULL;
    if (!same)
        print_error("got:  %s\nwant: %s\n", buf_str(&r.body), want);
    http_reply_free(&r);
    assert_int_equal(status, 200);
    assert_true(json_type);
    assert_true(same);
    assert_false(echoed);
    assert_int_equal(standin_count(H.up), 0);
}

/* Like expect_answer with the request built by printf. */
static void expect_answerf(const char *name, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void expect_answerf(const char *name, const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n > 0);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    expect_answer(name, text, want);
    free(text);
}

#define VALID OK_HEAD "{\"valid\":true}}}"
#define NOT_VALID                                                                                  \
    OK_HEAD "{\"valid\":false,\"reason\":\"the signature does not match this url, these "          \
            "params and this authToken\"}}}"
#define VEC_ARGS                                                                                   \
    "\"authToken\":\"" VEC_TOKEN "\",\"url\":\"" VEC_URL "\",\"signature\":\"" VEC_SIG             \
    "\",\"params\":" VEC_PARAMS

static void validate_vector_wrapped_and_flat(void **state)
{
    (void)state;
    expect_answer("validateWebhookSignature", "{\"args\":{" VEC_ARGS "}}", VALID);
    expect_answer("validateWebhookSignature", "{" VEC_ARGS "}", VALID);
}

static void validate_wrong_signature(void **state)
{
    (void)state;
    expect_answer("validateWebhookSignature",
                  "{\"args\":{\"authToken\":\"" VEC_TOKEN "\",\"url\":\"" VEC_URL
                  "\",\"signature\":\"RSOYDt4T1cUTdK1PDd93/VVr8B9=\",\"params\":" VEC_PARAMS "}}",
                  NOT_VALID);
    expect_answer("validateWebhookSignature",
                  "{\"authToken\":\"54321\",\"url\":\"" VEC_URL "\",\"signature\":\"" VEC_SIG
                  "\",\"params\":" VEC_PARAMS "}",
                  NOT_VALID);
}

static void validate_params_as_json_text(void **state)
{
    (void)state;
    expect_answer("validateWebhookSignature",
                  "{\"args\":{\"authToken\":\"" VEC_TOKEN "\",\"url\":\"" VEC_URL
                  "\",\"signature\":\"" VEC_SIG "\",\"params\":\"{\\\"CallSid\\\":"
                  "\\\"CA1234567890ABCDE\\\",\\\"Caller\\\":\\\"+14158675309\\\",\\\"Digits\\\":"
                  "1234,\\\"From\\\":\\\"+14158675309\\\",\\\"To\\\":\\\"+18005551212\\\"}\"}}",
                  VALID);
}

static void validate_raw_body(void **state)
{
    (void)state;
    char hex[65], url[256], sig[29];
    digest_sha256_hex(JSON_BODY, hex);
    snprintf(url, sizeof url, "https://mycompany.com/events?bodySHA256=%s", hex);
    hmac_b64(VEC_TOKEN, url, sig);
    json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "authToken", VEC_TOKEN, "url", url,
                             "signature", sig, "rawBody", JSON_BODY);
    char *text = json_dumps(args, JSON_COMPACT);
    assert_non_null(text);
    expect_answer("validateWebhookSignature", text, VALID);
    free(text);
    json_object_set_new(args, "rawBody", json_string(JSON_BODY " "));
    text = json_dumps(args, JSON_COMPACT);
    assert_non_null(text);
    expect_answer("validateWebhookSignature", text,
                  OK_HEAD "{\"valid\":false,\"reason\":\"the SHA-256 of rawBody is not the "
                          "bodySHA256 in the url\"}}}");
    free(text);
    json_decref(args);
}

static void validate_params_and_raw_body(void **state)
{
    (void)state;
    expect_answer("validateWebhookSignature", "{\"args\":{" VEC_ARGS ",\"rawBody\":\"{}\"}}",
                  FIELDS_HEAD "\"fields\":[\"rawBody\"],\"reasons\":{\"rawBody\":\"cannot be "
                              "given with params\"}}}}");
}

static void validate_missing_auth_token(void **state)
{
    (void)state;
    expect_answer("validateWebhookSignature",
                  "{\"args\":{\"url\":\"" VEC_URL "\",\"signature\":\"" VEC_SIG
                  "\",\"params\":" VEC_PARAMS "}}",
                  FIELDS_HEAD "\"fields\":[\"authToken\"],\"reasons\":{\"authToken\":\"is "
                              "required\"}}}}");
    expect_answer("validateWebhookSignature",
                  "{\"authToken\":\"\",\"url\":\"" VEC_URL "\",\"signature\":\"" VEC_SIG "\"}",
                  FIELDS_HEAD "\"fields\":[\"authToken\"],\"reasons\":{\"authToken\":\"is "
                              "required\"}}}}");
}

static void validate_raw_body_without_hash(void **state)
{
    (void)state;
    expect_answer("validateWebhookSignature",
                  "{\"args\":{\"authToken\":\"" VEC_TOKEN "\",\"url\":\"" VEC_URL
                  "\",\"signature\":\"" VEC_SIG "\",\"rawBody\":\"{\\\"a\\\":1}\"}}",
                  FIELDS_HEAD "\"fields\":[\"rawBody\"],\"reasons\":{\"rawBody\":\"is signed by "
                              "Twilio only with a bodySHA256 query parameter in url; for a form "
                              "post give params instead\"}}}}");
}

/* A field the signature cannot cover must not pass for signed: the vector's own signature,
 * with a forged object, null or list beside the signed fields. */
static void unsignable_fields_refused(void **state)
{
    (void)state;
    static const char *const extra[] = {
        "\"Forwarded\":{\"From\":\"+19999999999\"}",
        "\"MediaUrl0\":{\"x\":1}",
        "\"Note\":null",
        "\"Tags\":[]",
        "\"Tags\":[[\"a\"]]",
        "\"Tags\":[{}]",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        char params[512];
        snprintf(params, sizeof params, "%.*s,%s}", (int)strlen(VEC_PARAMS) - 1, VEC_PARAMS,
                 extra[i]);
        assert_int_equal(check_params(VEC_TOKEN, VEC_URL, params, VEC_SIG), SIG_UNSIGNED);
    }
}

/* With bodySHA256 the URL alone is signed: without the body text its hash was never checked. */
static void body_hash_url_needs_the_text(void **state)
{
    (void)state;
    char hex[65], url[256], sig[29];
    digest_sha256_hex(JSON_BODY, hex);
    snprintf(url, sizeof url, "https://mycompany.com/events?bodySHA256=%s", hex);
    hmac_b64(VEC_TOKEN, url, sig);
    assert_int_equal(check_params(VEC_TOKEN, url, "{\"EventType\":\"forged\"}", sig), SIG_UNSIGNED);
    assert_int_equal(check_params(VEC_TOKEN, url, NULL, sig), SIG_UNSIGNED);
    assert_int_equal(check_raw(VEC_TOKEN, url, JSON_BODY, sig), SIG_VALID);
}

static void validate_unsignable_params(void **state)
{
    (void)state;
    expect_answer("validateWebhookSignature",
                  "{\"authToken\":\"" VEC_TOKEN "\",\"url\":\"" VEC_URL
                  "\",\"signature\":\"" VEC_SIG
                  "\",\"params\":{\"CallSid\":\"CA1234567890ABCDE\",\"Caller\":\"+14158675309\","
                  "\"Digits\":\"1234\",\"From\":\"+14158675309\",\"To\":\"+18005551212\","
                  "\"Forwarded\":{\"From\":\"+19999999999\"}}}",
                  OK_HEAD "{\"valid\":false,\"reason\":\"params holds a value Twilio never signs "
                          "(null, an object or a list of them, or an empty list): only text, "
                          "numbers and booleans can be covered\"}}}");
    char hex[65], url[256], sig[29], text[1024];
    digest_sha256_hex(JSON_BODY, hex);
    snprintf(url, sizeof url, "https://mycompany.com/events?bodySHA256=%s", hex);
    hmac_b64(VEC_TOKEN, url, sig);
    snprintf(text, sizeof text,
             "{\"authToken\":\"" VEC_TOKEN "\",\"url\":\"%s\",\"signature\":\"%s\","
             "\"params\":{\"EventType\":\"forged\"}}",
             url, sig);
    expect_answer("validateWebhookSignature", text,
                  OK_HEAD "{\"valid\":false,\"reason\":\"the url carries bodySHA256, so Twilio "
                          "signed the body's text: give it as rawBody to have its hash "
                          "checked\"}}}");
}

/* ---- webhookEvent ---- */

/* An inbound MMS as Twilio posts it, every field a string. */
#define MMS_BODY                                                                                   \
    "{\"MessageSid\":\"" MSG "\",\"AccountSid\":\"" ACC "\",\"From\":\"+14155552671\","            \
    "\"To\":\"+15005550006\",\"Body\":\"Two pictures\",\"NumMedia\":\"2\","                        \
    "\"NumSegments\":\"1\",\"MediaUrl0\":\"" MEDIA "0\",\"MediaContentType0\":\"image/jpeg\","     \
    "\"MediaUrl1\":\"" MEDIA "1\",\"MediaContentType1\":\"image/png\"}"
#define MMS_SIGNED HOOK_URL MMS_FIELDS
#define MMS_FIELDS                                                                                 \
    "AccountSid" ACC "BodyTwo picturesFrom+14155552671MediaContentType0image/jpeg"                 \
    "MediaContentType1image/pngMediaUrl0" MEDIA "0MediaUrl1" MEDIA "1MessageSid" MSG               \
    "NumMedia2NumSegments1To+15005550006"
#define MMS_CLIENT_MSG                                                                             \
    "{\"MessageSid\":\"" MSG "\",\"AccountSid\":\"" ACC "\",\"From\":\"+14155552671\","            \
    "\"To\":\"+15005550006\",\"Body\":\"Two pictures\",\"NumMedia\":2,\"NumSegments\":1,"          \
    "\"Media\":[{\"Url\":\"" MEDIA "0\",\"ContentType\":\"image/jpeg\"},{\"Url\":\"" MEDIA         \
    "1\",\"ContentType\":\"image/png\"}]}"
#define SIGNED_LISTENER                                                                            \
    "{\"to\":\"+1 500-555-0006\",\"authToken\":\"" HOOK_TOKEN "\",\"webhookUrl\":\"" HOOK_URL      \
    "\",\"reply\":\"Thanks & bye\"}"
#define SIGNED_LISTENER_OUT                                                                        \
    "{\"to\":\"+1 500-555-0006\",\"webhookUrl\":\"" HOOK_URL "\",\"reply\":\"Thanks & bye\"}"
#define OTHER_NUMBER_LISTENER "{\"to\":\"+15005550009\",\"reply\":\"not me\"}"
#define FROM_LISTENER "{\"from\":\"+14155552671\"}"
#define EMPTY_TWIML XML_HEAD "<Response/>"

static void event_mms_delivered(void **state)
{
    (void)state;
    char sig[29];
    hmac_b64(HOOK_TOKEN, MMS_SIGNED, sig);
    expect_answerf("webhookEvent",
                   OK_HEAD "{\"http_resp\":\"" XML_HEAD "<Response><Message>Thanks &amp; bye"
                           "</Message></Response>\",\"client_msg\":" MMS_CLIENT_MSG
                           ",\"params\":[" SIGNED_LISTENER_OUT "," FROM_LISTENER "]}}}",
                   "{\"args\":{\"body\":" MMS_BODY ",\"params\":[" SIGNED_LISTENER
                   "," OTHER_NUMBER_LISTENER "," FROM_LISTENER "],\"headers\":"
                   "{\"x-twilio-signature\":\"%s\",\"content-type\":"
                   "\"application/x-www-form-urlencoded\"}}}",
                   sig);
}

/* A relay that turned the counts into numbers: the signed form text is the same. */
static void event_counts_as_numbers(void **state)
{
    (void)state;
    char sig[29];
    hmac_b64(HOOK_TOKEN, MMS_SIGNED, sig);
    expect_answerf("webhookEvent",
                   OK_HEAD "{\"http_resp\":\"" XML_HEAD "<Response><Message>Thanks &amp; bye"
                           "</Message></Response>\",\"client_msg\":" MMS_CLIENT_MSG
                           ",\"params\":[" SIGNED_LISTENER_OUT "]}}}",
                   "{\"args\":{\"body\":{\"MessageSid\":\"" MSG "\",\"AccountSid\":\"" ACC "\","
                   "\"From\":\"+14155552671\",\"To\":\"+15005550006\",\"Body\":\"Two pictures\","
                   "\"NumMedia\":2,\"NumSegments\":1,\"MediaUrl0\":\"" MEDIA "0\","
                   "\"MediaContentType0\":\"image/jpeg\",\"MediaUrl1\":\"" MEDIA "1\","
                   "\"MediaContentType1\":\"image/png\"},\"params\":[" SIGNED_LISTENER "],"
                   "\"headers\":{\"x-twilio-signature\":\"%s\"}}}",
                   sig);
}

static void event_wrong_signature(void **state)
{
    (void)state;
    char sig[29];
    hmac_b64("hook-token-5e1f9a7d", MMS_SIGNED, sig);
    expect_answerf("webhookEvent",
                   "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                   "\"INVALID_SIGNATURE\",\"status_msg\":\"X-Twilio-Signature does not match "
                   "listener 1 (params[1]): the event was not signed by Twilio with its authToken "
                   "for its webhookUrl; it was not delivered.\",\"listener\":1}}}",
                   "{\"args\":{\"body\":" MMS_BODY ",\"params\":[" OTHER_NUMBER_LISTENER
                   "," SIGNED_LISTENER "," FROM_LISTENER "],\"headers\":"
                   "{\"X-Twilio-Signature\":\"%s\"}}}",
                   sig);
    /* signed for another URL */
    hmac_b64(HOOK_TOKEN, HOOK_URL "?x=1" MMS_FIELDS, sig);
    expect_answerf("webhookEvent",
                   "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                   "\"INVALID_SIGNATURE\",\"status_msg\":\"X-Twilio-Signature does not match "
                   "listener 0 (params[0]): the event was not signed by Twilio with its authToken "
                   "for its webhookUrl; it was not delivered.\",\"listener\":0}}}",
                   "{\"body\":" MMS_BODY ",\"params\":[" SIGNED_LISTENER "],\"headers\":"
                   "{\"X-TWILIO-SIGNATURE\":\"%s\"}}",
                   sig);
}

static void event_missing_signature(void **state)
{
    (void)state;
    static const char want[] =
        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
        "\"INVALID_SIGNATURE\",\"status_msg\":\"The X-Twilio-Signature header is missing, and "
        "listener 0 (params[0]) asks for it to be verified; the event was not delivered.\","
        "\"listener\":0}}}";
    expect_answer("webhookEvent",
                  "{\"args\":{\"body\":" MMS_BODY ",\"params\":[" SIGNED_LISTENER "," FROM_LISTENER
                  "],\"headers\":{\"content-type\":\"application/x-www-form-urlencoded\"}}}",
                  want);
    expect_answer("webhookEvent",
                  "{\"args\":{\"body\":" MMS_BODY ",\"params\":[" SIGNED_LISTENER "]}}", want);
}

#define UNSIGNED_MSG(i)                                                                            \
    "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"                          \
    "\"INVALID_SIGNATURE\",\"status_msg\":\"The body holds what X-Twilio-Signature cannot "        \
    "cover for listener " #i " (params[" #i "]): a field that is null, an object or a list of "    \
    "them, or, with bodySHA256 in its webhookUrl, a body not given as the text Twilio sent; "      \
    "it was not delivered.\",\"listener\":" #i "}}}"

/* A genuinely signed MMS with forged fields the signature leaves out: not delivered. */
static void event_forged_fields_refused(void **state)
{
    (void)state;
    char sig[29];
    hmac_b64(HOOK_TOKEN, MMS_SIGNED, sig);
    static const char *const forged[] = {"\"Forwarded\":{\"From\":\"+19999999999\"}",
                                         "\"MediaUrl2\":{\"x\":1}", "\"Extra\":null"};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        expect_answerf("webhookEvent", UNSIGNED_MSG(0),
                       "{\"args\":{\"body\":%.*s,%s},\"params\":[" SIGNED_LISTENER "],"
                       "\"headers\":{\"x-twilio-signature\":\"%s\"}}}",
                       (int)strlen(MMS_BODY) - 1, MMS_BODY, forged[i], sig);
    }
}

/* A listener whose webhookUrl carries bodySHA256: the URL-only signature does not vouch for a
 * body given as an object, whose text nobody hashed. */
static void event_body_hash_needs_text(void **state)
{
    (void)state;
    char hex[65], url[256], sig[29];
    digest_sha256_hex(JSON_BODY, hex);
    snprintf(url, sizeof url, HOOK_URL "?bodySHA256=%s", hex);
    hmac_b64(HOOK_TOKEN, url, sig);
    expect_answerf("webhookEvent", UNSIGNED_MSG(0),
                   "{\"args\":{\"body\":{\"EventType\":\"forged\",\"To\":\"+15005550006\"},"
                   "\"params\":[{\"authToken\":\"" HOOK_TOKEN "\",\"webhookUrl\":\"%s\"}],"
                   "\"headers\":{\"x-twilio-signature\":\"%s\"}}}",
                   url, sig);
}

/* Nesting deep enough to overflow a worker's stack in jansson's recursive parser: an answer,
 * and the process lives on. */
static void event_deep_body_answered(void **state)
{
    (void)state;
    char body[2048], *p = body;
    p += sprintf(p, "{\"args\":{\"body\":\"{\\\"a\\\":");
    for (int i = 0; i < 300; i++)
        *p++ = '[';
    for (int i = 0; i < 300; i++)
        *p++ = ']';
    sprintf(p, "}\",\"params\":[],\"headers\":{}}}");
    expect_answer("webhookEvent", body,
                  FIELDS_HEAD "\"fields\":[\"body\"],\"reasons\":{\"body\":\"must be an object "
                              "of the fields Twilio posted, or their form text\"}}}}");
    expect_answer("webhookEvent", "{\"body\":{\"To\":\"+1\"}}",
                  OK_HEAD "{\"http_resp\":\"" EMPTY_TWIML "\",\"client_msg\":{\"To\":\"+1\"},"
                          "\"params\":[]}}}");
}

/* A listener that does not match the event is not delivered to, so its token is not used. */
static void event_unmatched_listener_not_verified(void **state)
{
    (void)state;
    expect_answer("webhookEvent",
                  "{\"args\":{\"body\":" MMS_BODY ",\"params\":[{\"to\":\"+15005550009\","
                  "\"authToken\":\"" HOOK_TOKEN "\",\"webhookUrl\":\"" HOOK_URL "\"}," FROM_LISTENER
                  "],\"headers\":{\"x-twilio-signature\":\"forged\"}}}",
                  OK_HEAD "{\"http_resp\":\"" EMPTY_TWIML "\",\"client_msg\":" MMS_CLIENT_MSG
                          ",\"params\":[" FROM_LISTENER "]}}}");
}

/* The body as the form text Twilio posted; the header value as a list. */
static void event_form_text_body(void **state)
{
    (void)state;
    char sig[29];
    hmac_b64(HOOK_TOKEN, HOOK_URL "BodyHi thereFrom+14155552671To+15005550006", sig);
    expect_answerf("webhookEvent",
                   OK_HEAD "{\"http_resp\":\"" EMPTY_TWIML "\",\"client_msg\":{\"From\":"
                           "\"+14155552671\",\"To\":\"+15005550006\",\"Body\":\"Hi there\"},"
                           "\"params\":[{\"to\":\"+15005550006\",\"webhookUrl\":\"" HOOK_URL
                           "\"}]}}}",
                   "{\"args\":{\"body\":\"From=%%2B14155552671&To=%%2B15005550006&Body=Hi+there\","
                   "\"params\":[{\"to\":\"+15005550006\",\"authToken\":\"" HOOK_TOKEN
                   "\",\"webhookUrl\":\"" HOOK_URL "\"}],\"headers\":"
                   "{\"X-Twilio-Signature\":[\"%s\"]}}}",
                   sig);
}

/* A JSON body posted as text, its hash in the listener's webhookUrl. */
static void event_json_body_with_hash(void **state)
{
    (void)state;
    static const char body[] =
        "{\"From\":\"+14155552671\",\"To\":\"+15005550006\",\"Body\":\"Hi\"}";
    char hex[65], url[256], sig[29];
    digest_sha256_hex(body, hex);
    snprintf(url, sizeof url, HOOK_URL "?bodySHA256=%s", hex);
    hmac_b64(HOOK_TOKEN, url, sig);
    json_t *req =
        json_pack("{s:{s:s, s:[{s:s, s:s}], s:{s:s}}}", "args", "body", body, "params", "authToken",
                  HOOK_TOKEN, "webhookUrl", url, "headers", "X-Twilio-Signature", sig);
    char *text = json_dumps(req, JSON_COMPACT);
    assert_non_null(text);
    char want[1024];
    snprintf(want, sizeof want,
             OK_HEAD "{\"http_resp\":\"" EMPTY_TWIML "\",\"client_msg\":%s,\"params\":"
                     "[{\"webhookUrl\":\"%s\"}]}}}",
             body, url);
    expect_answer("webhookEvent", text, want);
    free(text);
    json_decref(req);
}

static void event_no_listeners(void **state)
{
    (void)state;
    static const char want[] = OK_HEAD "{\"http_resp\":\"" EMPTY_TWIML
                                       "\",\"client_msg\":" MMS_CLIENT_MSG ",\"params\":[]}}}";
    expect_answer("webhookEvent", "{\"args\":{\"body\":" MMS_BODY ",\"params\":[]}}", want);
    expect_answer("webhookEvent", "{\"args\":{\"body\":" MMS_BODY "}}", want);
}

static void event_call_says_reply(void **state)
{
    (void)state;
#define CALL_BODY                                                                                  \
    "{\"CallSid\":\"CAcccccccccccccccccccccccccccccccc\",\"AccountSid\":\"" ACC "\","              \
    "\"From\":\"+14155552671\",\"To\":\"+15005550006\",\"CallStatus\":\"ringing\","                \
    "\"Direction\":\"inbound\"}"
    expect_answer("webhookEvent",
                  "{\"args\":{\"body\":" CALL_BODY ",\"params\":[{\"to\":\"+15005550006\","
                  "\"reply\":\"Hello <caller> & 'welcome'\"},{\"reply\":\"second\"}]}}",
                  OK_HEAD "{\"http_resp\":\"" XML_HEAD "<Response><Say>Hello &lt;caller&gt; "
                          "&amp; &apos;welcome&apos;</Say></Response>\",\"client_msg\":" CALL_BODY
                          ",\"params\":[{\"to\":\"+15005550006\",\"reply\":\"Hello <caller> & "
                          "'welcome'\"},{\"reply\":\"second\"}]}}}");
#undef CALL_BODY
}

/* The arg checks take a blank to, from or authToken as not given (they trim addresses and
 * credentials); so must the relay: no filter, and no signature asked for. */
static void event_blank_filters_match_all(void **state)
{
    (void)state;
    expect_answer("webhookEvent",
                  "{\"args\":{\"body\":" MMS_BODY ",\"params\":[{\"to\":\"   \","
                  "\"reply\":\"ok\"},{\"from\":\" \"}]}}",
                  OK_HEAD "{\"http_resp\":\"" XML_HEAD "<Response><Message>ok</Message>"
                          "</Response>\",\"client_msg\":" MMS_CLIENT_MSG ",\"params\":[{\"to\":"
                          "\"   \",\"reply\":\"ok\"},{\"from\":\" \"}]}}}");
}

static void event_blank_token_asks_no_signature(void **state)
{
    (void)state;
    expect_answer("webhookEvent",
                  "{\"args\":{\"body\":" MMS_BODY ",\"params\":[{\"authToken\":\"  \","
                  "\"reply\":\"ok\"}]}}",
                  OK_HEAD "{\"http_resp\":\"" XML_HEAD "<Response><Message>ok</Message>"
                          "</Response>\",\"client_msg\":" MMS_CLIENT_MSG ",\"params\":[{\"reply\":"
                          "\"ok\"}]}}}");
}

static void event_token_without_url(void **state)
{
    (void)state;
    expect_answer("webhookEvent",
                  "{\"args\":{\"body\":" MMS_BODY ",\"params\":[{\"authToken\":\"" HOOK_TOKEN
                  "\"}],\"headers\":{\"x-twilio-signature\":\"" VEC_SIG "\"}}}",
                  FIELDS_HEAD "\"fields\":[\"params[0].authToken\"],\"reasons\":"
                              "{\"params[0].authToken\":\"needs webhookUrl as well\"}}}}");
}

static void event_missing_body(void **state)
{
    (void)state;
    static const char want[] =
        FIELDS_HEAD "\"fields\":[\"body\"],\"reasons\":{\"body\":\"is required: the fields "
                    "Twilio posted\"}}}}";
    expect_answer("webhookEvent", "{\"args\":{\"params\":[" FROM_LISTENER "]}}", want);
    expect_answer("webhookEvent", "{\"args\":{\"body\":\"\",\"params\":[]}}", want);
}

static void event_params_not_a_list(void **state)
{
    (void)state;
    expect_answer("webhookEvent", "{\"args\":{\"body\":" MMS_BODY ",\"params\":" FROM_LISTENER "}}",
                  FIELDS_HEAD "\"fields\":[\"params\"],\"reasons\":{\"params\":\"must be a list "
                              "of the listeners' args\"}}}}");
}

int main(void)
{
    harness_fixture(&H);
    const struct CMUnitTest units[] = {
        cmocka_unit_test(vector_is_valid),
        cmocka_unit_test(one_change_is_invalid),
        cmocka_unit_test(url_with_or_without_port),
        cmocka_unit_test(numbers_as_form_text),
        cmocka_unit_test(repeated_fields_sorted_by_value),
        cmocka_unit_test(no_params_signs_the_url),
        cmocka_unit_test(json_body_hash),
        cmocka_unit_test(unsignable_fields_refused),
        cmocka_unit_test(body_hash_url_needs_the_text),
    };
    const struct CMUnitTest scenarios[] = {
        cmocka_unit_test_setup(validate_vector_wrapped_and_flat, harness_fixture_reset),
        cmocka_unit_test_setup(validate_wrong_signature, harness_fixture_reset),
        cmocka_unit_test_setup(validate_params_as_json_text, harness_fixture_reset),
        cmocka_unit_test_setup(validate_raw_body, harness_fixture_reset),
        cmocka_unit_test_setup(validate_params_and_raw_body, harness_fixture_reset),
        cmocka_unit_test_setup(validate_missing_auth_token, harness_fixture_reset),
        cmocka_unit_test_setup(validate_raw_body_without_hash, harness_fixture_reset),
        cmocka_unit_test_setup(validate_unsignable_params, harness_fixture_reset),
        cmocka_unit_test_setup(event_forged_fields_refused, harness_fixture_reset),
        cmocka_unit_test_setup(event_body_hash_needs_text, harness_fixture_reset),
        cmocka_unit_test_setup(event_deep_body_answered, harness_fixture_reset),
        cmocka_unit_test_setup(event_mms_delivered, harness_fixture_reset),
        cmocka_unit_test_setup(event_counts_as_numbers, harness_fixture_reset),
        cmocka_unit_test_setup(event_wrong_signature, harness_fixture_reset),
        cmocka_unit_test_setup(event_missing_signature, harness_fixture_reset),
        cmocka_unit_test_setup(event_unmatched_listener_not_verified, harness_fixture_reset),
        cmocka_unit_test_setup(event_form_text_body, harness_fixture_reset),
        cmocka_unit_test_setup(event_json_body_with_hash, harness_fixture_reset),
        cmocka_unit_test_setup(event_no_listeners, harness_fixture_reset),
        cmocka_unit_test_setup(event_call_says_reply, harness_fixture_reset),
        cmocka_unit_test_setup(event_blank_filters_match_all, harness_fixture_reset),
        cmocka_unit_test_setup(event_blank_token_asks_no_signature, harness_fixture_reset),
        cmocka_unit_test_setup(event_token_without_url, harness_fixture_reset),
        cmocka_unit_test_setup(event_missing_body, harness_fixture_reset),
        cmocka_unit_test_setup(event_params_not_a_list, harness_fixture_reset),
    };
    int failed = cmocka_run_group_tests_name("signature", units, NULL, NULL);
    return failed | cmocka_run_group_tests_name("scenarios", scenarios, harness_fixture_setup,
                                                harness_fixture_teardown);
}

/* send: the one send path. Idempotency-Keys scoped to the credentials (a wrong token never
 * blocks the right one), and bulk sending each recipient's request as a single call would:
 * header args kept, a form only where the method takes one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SMS_WITH(token)                                                                            \
    "{\"accountSid\":\"" SID "\",\"accountToken\":\"" token "\",\"from\":\"+15005550006\","        \
    "\"to\":\"+14155550001\",\"body\":\"Hi\"}"

static struct harness H;

static const char *status_code(const struct http_reply *r, char *out, size_t size)
{
    json_t *v = json_loadb(r->body.data, r->body.len, 0, NULL);
    const char *code = json_string_value(
        json_object_get(json_object_get(json_object_get(v, "contextWrites"), "to"), "status_code"));
    const char *cb = json_string_value(json_object_get(v, "callback"));
    snprintf(out, size, "%s", code ? code : cb ? cb : "(none)");
    json_decref(v);
    return out;
}

static void post_keyed(const char *json, const char *key, const char *want, const char *replayed)
{
    char url[256], code[64];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", H.url);
    assert_int_equal(http_post_keyed(url, key, json, &r), 0);
    assert_int_equal(r.status, 200);
    if (strcmp(status_code(&r, code, sizeof code), want) != 0)
        fail_msg("want %s, got %s", want, buf_str(&r.body));
    assert_string_equal(r.replayed, replayed);
    http_reply_free(&r);
}

/* Twilio refuses a wrong token (401): nothing was done, so the answer is not kept, and the key
 * is the right token's to use. */
static void a_wrong_token_does_not_block_the_key(void **state)
{
    (void)state;
    struct standin_answer script[] = {
        {401, "application/json", "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}", 0,
         NULL, 0},
        {201, "application/json", standin_message_201, 0, NULL, 0},
    };
    standin_script(H.up, script, 2);
    post_keyed(SMS_WITH("wrong-token"), "order-42", "API_ERROR", "");
    post_keyed(SMS_WITH("right-token"), "order-42", "success", "");
    assert_int_equal(standin_count(H.up), 2);
    post_keyed(SMS_WITH("right-token"), "order-42", "success", "true");
    assert_int_equal(standin_count(H.up), 2);
    /* and the wrong token's repeat sends again: its 401 was not kept */
    post_keyed(SMS_WITH("wrong-token"), "order-42", "success", "");
    assert_int_equal(standin_count(H.up), 3);
}

/* An answer that is kept (a 400) is kept for those credentials only: another token of the
 * same account has a key of its own. */
static void keys_are_scoped_to_the_token(void **state)
{
    (void)state;
    struct standin_answer script[] = {
        {400, "application/json", "{\"code\":21211,\"message\":\"Invalid 'To'\",\"status\":400}", 0,
         NULL, 0},
        {201, "application/json", standin_message_201, 0, NULL, 0},
    };
    standin_script(H.up, script, 2);
    post_keyed(SMS_WITH("token-a"), "order-43", "API_ERROR", "");
    post_keyed(SMS_WITH("token-a"), "order-43", "API_ERROR", "true");
    assert_int_equal(standin_count(H.up), 1);
    post_keyed(SMS_WITH("token-b"), "order-43", "success", "");
    assert_int_equal(standin_count(H.up), 2);
}

/* The embedded blocks with sendSms (and sendBulkSms, which must agree with it) changed by
 * edit; returns a set the caller frees. */
static struct block_set *blocks_with(void (*edit)(json_t *sms, json_t *bulk))
{
    static const char *const names[2] = {"sendSms", "sendBulkSms"};
    json_t *defs[2] = {harness_block_def(names[0]), harness_block_def(names[1])};
    char err[512] = "";
    edit(defs[0], defs[1]);
    struct block_set *set = harness_blocks_with(names, defs, 2, err, sizeof err);
    if (!set)
        fail_msg("%s", err);
    json_decref(defs[0]);
    json_decref(defs[1]);
    return set;
}

static void add_header_arg(json_t *sms, json_t *bulk)
{
    json_array_append_new(json_object_get(sms, "args"),
                          json_pack("{s:s, s:s, s:b, s:s, s:s}", "name", "webhooks", "type",
                                    "Boolean", "required", 0, "info", "Webhooks.", "header",
                                    "X-Twilio-Webhook-Enabled"));
    json_array_append_new(json_object_get(bulk, "args"),
                          json_pack("{s:s, s:s, s:b, s:s}", "name", "webhooks", "type", "Boolean",
                                    "required", 0, "info", "Webhooks."));
}

static void make_it_a_delete(json_t *sms, json_t *bulk)
{
    (void)bulk;
    json_object_set_new(sms, "method", json_string("DELETE"));
    json_object_set_new(sms, "action", json_string("delete record"));
}

/* A service and its server on a block set of the test's own, sending to the fixture's
 * stand-in; stop both with server_stop and service_stop. */
static struct server *start_on(const struct block_set *set, struct service **svc)
{
    struct config cfg;
    char err[512];
    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:%d", standin_port(H.up));
    *svc = service_start(&cfg, set, err, sizeof err);
    struct server *srv = *svc ? server_start(*svc, err, sizeof err) : NULL;
    if (!srv)
        fail_msg("%s", err);
    return srv;
}

static void bulk_post(struct server *srv, const char *json)
{
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/sendBulkSms", server_port(srv));
    assert_int_equal(http_post_keyed(url, NULL, json, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
}

/* bulk used to drop header args: each recipient's request now carries them. */
static void bulk_keeps_header_args(void **state)
{
    (void)state;
    struct block_set *set = blocks_with(add_header_arg);
    struct service *svc;
    struct server *srv = start_on(set, &svc);
    struct standin_record rec;
    bulk_post(srv, "{\"accountSid\":\"" SID "\",\"accountToken\":\"t\",\"from\":\"+15005550006\","
                   "\"body\":\"Hi\",\"webhooks\":false,\"recipients\":[\"+14155550001\"]}");
    assert_int_equal(standin_count(H.up), 1);
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.webhook_enabled, "false");
    server_stop(srv);
    service_stop(svc);
    block_set_free(set);
}

/* bulk used to send a form with every method but GET: a DELETE's params go in its query, as a
 * single call's do. */
static void bulk_sends_a_form_only_with_post(void **state)
{
    (void)state;
    struct block_set *set = blocks_with(make_it_a_delete);
    struct service *svc;
    struct server *srv = start_on(set, &svc);
    struct standin_record rec;
    standin_answer(H.up, &(struct standin_answer){204, "application/json", "", 0, NULL, 0});
    bulk_post(srv, "{\"accountSid\":\"" SID "\",\"accountToken\":\"t\",\"from\":\"+15005550006\","
                   "\"body\":\"Hi\",\"recipients\":[\"+14155550001\"]}");
    assert_int_equal(standin_count(H.up), 1);
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.method, "DELETE");
    assert_string_equal(rec.body, "");
    if (!strstr(rec.path, "?To=%2B14155550001"))
        fail_msg("the params are not in the query: %s", rec.path);
    server_stop(srv);
    service_stop(svc);
    block_set_free(set);
}

/* An answer nested far deeper than any of Twilio's, 2,000 levels, text jansson's recursive
 * parser would overflow a worker's stack on: read by jsonparse, it is an envelope, never a
 * crash. */
static void a_too_deep_answer_is_an_error(void **state)
{
    (void)state;
    char *deep = deep_json(2000, NULL), url[256], code[64];
    struct http_reply r;
    assert_non_null(deep);
    standin_answer(H.up, &(struct standin_answer){200, "application/json", deep, 0, NULL, 0});
    snprintf(url, sizeof url, "%s/api/twilio/listMessageMedia", H.url);
    assert_int_equal(http_post_keyed(url, NULL,
                                     "{\"accountSid\":\"" SID "\",\"accountToken\":\"t\","
                                     "\"messageSid\":\"MMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}",
                                     &r),
                     0);
    assert_string_equal(status_code(&r, code, sizeof code), "INTERNAL_PACKAGE_ERROR");
    assert_non_null(strstr(buf_str(&r.body), "too deep"));
    http_reply_free(&r);
    standin_answer(H.up, &(struct standin_answer){201, "application/json", deep, 0, NULL, 0});
    snprintf(url, sizeof url, "%s/api/twilio/sendBulkSms", H.url);
    assert_int_equal(http_post_keyed(url, NULL,
                                     "{\"accountSid\":\"" SID "\",\"accountToken\":\"t\","
                                     "\"from\":\"+15005550006\",\"body\":\"Hi\","
                                     "\"recipients\":[\"+14155550001\"]}",
                                     &r),
                     0);
    assert_string_equal(status_code(&r, code, sizeof code), "INTERNAL_PACKAGE_ERROR");
    assert_non_null(strstr(buf_str(&r.body), "\"status\":\"unknown\""));
    assert_non_null(strstr(buf_str(&r.body), "the message may have been created"));
    http_reply_free(&r);
    assert_int_equal(standin_count(H.up), 2);
    free(deep);
}

int main(void)
{
    harness_fixture(&H);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_wrong_token_does_not_block_the_key, harness_fixture_reset),
        cmocka_unit_test_setup(keys_are_scoped_to_the_token, harness_fixture_reset),
        cmocka_unit_test_setup(bulk_keeps_header_args, harness_fixture_reset),
        cmocka_unit_test_setup(bulk_sends_a_form_only_with_post, harness_fixture_reset),
        cmocka_unit_test_setup(a_too_deep_answer_is_an_error, harness_fixture_reset),
    };
    return cmocka_run_group_tests(tests, harness_fixture_setup, harness_fixture_teardown);
}

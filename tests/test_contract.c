/* Contract tests: the service pointed at Prism serving Twilio's official OpenAPI specs of every
 * product a block calls (PRISM_URL: 2010-04-01, Verify, Lookup and Conversations, merged).
 * Prism answers 422 to any request that breaks Twilio's contract and 401 without basic auth,
 * so every block call below succeeding means every request we send is one Twilio documents.
 * Run through contract/run.sh, which starts Prism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "harness.h"

static struct harness H;
static struct harness T; /* pointed at the stand-in account A, which has Prism check each request */
static struct account *A;
static const char *prism;

/* The service pointed at Prism, with campaigns in this process (main.c starts them for the
 * binary): their messages go to Prism too. */
static int setup(void **state)
{
    (void)state;
    static struct config cfg; /* the senders keep it */
    if (!(prism = harness_prism()))
        return -1;
    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "%s", prism);
    cfg.upstream_timeout_ms = 15000;
    return flows_start(&H, &cfg, &T, &A, prism);
}

static int teardown(void **state)
{
    (void)state;
    flows_stop(&H, &T, A);
    return 0;
}

/* Posts args (borrowed) to block b and expects Twilio's resource back: one with a SID, a page of
 * a list, a looked-up number, or what a delete removed. */
static void expect_resource(const struct block_def *b, json_t *args, const char *what)
{
    json_t *wrapped = json_pack("{s:O}", "args", args);
    char *text = json_dumps(wrapped, JSON_COMPACT);
    struct http_reply r;
    assert_int_equal(harness_post(&H, b->name, text, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *env = json_loadb(r.body.data, r.body.len, 0, NULL);
    const char *cb = json_string_value(json_object_get(env, "callback"));
    if (!cb || strcmp(cb, "success") != 0)
        fail_msg("%s (%s) against Twilio's spec: %s", b->name, what, buf_str(&r.body));
    json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
    if (b->each) /* a bulk block: one resource per entry */
        to = json_array_get(json_object_get(to, "results"), 0);
    const char *sid = json_string_value(json_object_get(to, "sid"));
    if (json_is_true(json_object_get(to, "deleted"))) {
        assert_non_null(json_string_value(json_object_get(to, "path")));
    } else if (sid) {
        /* Twilio's resource, whatever its kind: a SID is two letters and 32 hex digits */
        assert_int_equal(strlen(sid), 34);
        assert_true(strspn(sid + 2, "0123456789abcdefABCDEF") == 32);
    } else if (json_is_string(json_object_get(to, "cursor"))) { /* a polling trigger */
        assert_true(json_is_array(json_object_get(to, "items")));
    } else if (json_object_get(to, "meta")) { /* a page of a v1/v2 product's list */
        assert_true(json_is_integer(json_object_get(json_object_get(to, "meta"), "page_size")));
    } else if (json_object_get(to, "page_size")) { /* a page of a 2010-04-01 list */
        assert_non_null(json_string_value(json_object_get(to, "uri")));
    } else { /* Lookup: the number, no SID */
        if (!json_string_value(json_object_get(to, "phone_number")))
            fail_msg("%s (%s): not a Twilio resource: %s", b->name, what, buf_str(&r.body));
    }
    json_decref(env);
    http_reply_free(&r);
    free(text);
    json_decref(wrapped);
}

/* Calls every block that calls Twilio with its examples (minimal: only what is needed; with
 * api_key: an API key instead of the Auth Token). */
static void call_every_block(int minimal, int api_key)
{
    for (size_t i = 0; i < block_count(H.blocks); i++) {
        const struct block_def *b = block_at(H.blocks, i);
        if (b->handler || b->flow_kind)
            continue; /* answered by the service itself; flows: flow_blocks_meet_the_contract */
        json_t *args = block_example_args(b, minimal);
        if (api_key) {
            json_object_del(args, "accountToken");
            json_object_set_new(args, "apiKeySid",
                                json_string("SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
            json_object_set_new(args, "apiKeySecret", json_string("contract-key-secret"));
        }
        expect_resource(b, args, minimal ? "minimal args" : "all args");
        json_decref(args);
    }
}

static void minimal_args_meet_the_contract(void **state)
{
    (void)state;
    call_every_block(1, 0);
}

static void api_key_credentials_meet_the_contract(void **state)
{
    (void)state;
    call_every_block(1, 1);
}

/* A list continued with the next_page_uri Twilio gave: sent as it is, filters included. */
static void a_next_page_meets_the_contract(void **state)
{
    (void)state;
    size_t lists = 0;
    for (size_t i = 0; i < block_count(H.blocks); i++) {
        const struct block_def *b = block_at(H.blocks, i);
        long k = -1;
        for (size_t a = 0; a < b->n_args; a++)
            if (b->args[a].role == ROLE_NEXT_PAGE)
                k = (long)a;
        if (k < 0)
            continue;
        lists++;
        json_t *args = block_example_args(b, 1);
        json_t *page =
            json_object_get(json_array_get(json_object_get(b->root, "args"), (size_t)k), "example");
        json_object_set(args, b->args[k].name, page);
        char *text = json_dumps(args, JSON_COMPACT);
        struct http_reply r;
        assert_int_equal(harness_post(&H, b->name, text, &r), 0);
        if (!strstr(buf_str(&r.body), "\"callback\":\"success\"") ||
            !strstr(buf_str(&r.body), "\"page_size\""))
            fail_msg("%s next page: %s", b->name, buf_str(&r.body));
        http_reply_free(&r);
        free(text);
        json_decref(args);
    }
    assert_true(lists >= 6);
}

/* The args that cannot go with all the others (the later args of an exclusive group), each with
 * the minimal args and what it requires, its group's others left out. */
static void each_alternative_meets_the_contract(void **state)
{
    (void)state;
    size_t tried = 0;
    for (size_t i = 0; i < block_count(H.blocks); i++) {
        const struct block_def *b = block_at(H.blocks, i);
        json_t *all = block_example_args(b, 0);
        for (size_t k = 0; !b->handler && !b->flow_kind && k < b->n_args; k++) {
            if (json_object_get(all, b->args[k].name) || b->args[k].role == ROLE_NEXT_PAGE)
                continue;
            json_t *args = block_alternative_args(b, k);
            expect_resource(b, args, b->args[k].name);
            json_decref(args);
            tried++;
        }
        json_decref(all);
    }
    assert_true(tried >= 3); /* verificationSid, an SMS participant's two addresses */
}

/* twilioRequest reaches any product: a POST to Verify, a GET to Lookup with a query, a DELETE
 * on 2010-04-01, each checked by that product's spec. */
static void any_endpoint_meets_the_contract(void **state)
{
    (void)state;
    const struct block_def *b = block_find(H.blocks, "twilioRequest", 13);
    assert_non_null(b);
    static const char *const requests[] = {
        "{\"product\":\"verify\",\"method\":\"POST\","
        "\"path\":\"/v2/Services/VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Verifications\","
        "\"params\":{\"To\":\"+15005550006\",\"Channel\":\"sms\"}}",
        "{\"product\":\"lookups\",\"method\":\"GET\",\"path\":\"/v2/PhoneNumbers/+14155552671\","
        "\"params\":{\"Fields\":\"validation,caller_name\"}}",
        "{\"product\":\"api\",\"method\":\"DELETE\",\"path\":\"/2010-04-01/Accounts/"
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json\"}",
        "{\"product\":\"conversations\",\"method\":\"GET\",\"path\":\"/v1/Conversations\","
        "\"params\":{\"PageSize\":5}}",
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        json_t *args = json_loads(requests[i], 0, NULL);
        assert_non_null(args);
        json_object_set_new(args, "accountSid", json_string("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        json_object_set_new(args, "accountToken", json_string("contract-token"));
        expect_resource(b, args, requests[i]);
        json_decref(args);
    }
}

static void all_args_at_once_meet_the_contract(void **state)
{
    (void)state;
    call_every_block(0, 0);
}

/* The mock really checks: a request that breaks the contract is refused, through the service
 * (surfacing as API_ERROR) and directly. */
static void the_mock_rejects_a_broken_request(void **state)
{
    (void)state;
    struct http_reply r;
    char url[512];
    snprintf(url, sizeof url,
             "%s/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json", prism);
    const char *form = "application/x-www-form-urlencoded";
    assert_int_equal(http_call_ex("POST", url, form, NULL, NULL,
                                  "To=%2B14155552671&From=%2B15005550006&Body=x", 44, &r),
                     0);
    assert_int_equal(r.status, 401); /* no basic auth */
    http_reply_free(&r);
    assert_int_equal(http_call_ex("POST", url, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                                  "From=%2B15005550006&Body=x", 26, &r),
                     0);
    assert_int_equal(r.status, 422); /* To missing */
    assert_non_null(strstr(buf_str(&r.body), "'To'"));
    http_reply_free(&r);
    assert_int_equal(
        http_call_ex("POST", url, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                     "To=%2B14155552671&From=%2B15005550006&Body=x&ValidityPeriod=soon", 64, &r),
        0);
    assert_int_equal(r.status, 422); /* not an integer */
    http_reply_free(&r);
    /* lists and updates are checked too: query parameters and the update enums */
    char list[600];
    snprintf(list, sizeof list, "%s?PageSize=0", url);
    assert_int_equal(
        http_call_ex("GET", list, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL, NULL, 0, &r),
        0);
    assert_int_equal(r.status, 422); /* PageSize is 1 to 1000 */
    http_reply_free(&r);
    snprintf(url, sizeof url,
             "%s/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/"
             "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json",
             prism);
    assert_int_equal(http_call_ex("POST", url, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                                  "Status=bogus", 12, &r),
                     0);
    assert_int_equal(r.status, 422); /* canceled or completed */
    http_reply_free(&r);
    /* the other products' specs too: a verification needs a Channel */
    snprintf(url, sizeof url, "%s/v2/Services/VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Verifications",
             prism);
    assert_int_equal(http_call_ex("POST", url, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                                  "To=%2B15005550006", 17, &r),
                     0);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(buf_str(&r.body), "'Channel'"));
    http_reply_free(&r);
    /* ...and reached through twilioRequest, the refusal is Twilio's error for the caller */
    assert_int_equal(harness_post(&H, "twilioRequest",
                                  "{\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                                  "\"accountToken\":\"t\",\"product\":\"conversations\","
                                  "\"method\":\"POST\",\"path\":\"/v1/Conversations\","
                                  "\"params\":{\"State\":\"bogus\"}}",
                                  &r),
                     0);
    assert_non_null(strstr(buf_str(&r.body), "\"status_code\":\"API_ERROR\""));
    assert_non_null(strstr(buf_str(&r.body), "\"status\":422"));
    http_reply_free(&r);
}

/* Every flow block once, each answer exact: the polls' first pages from Prism; the triggers
 * against the stand-in account, which has Prism check each request first (2010-04-01 and
 * Events v1; a Messaging Service's webhook needs Messaging v1, whose /v1/Services clashes
 * with Conversations': contract_triggers); the campaigns' messages sent to Prism, each
 * counted as sent only when Prism took it. */
static void flow_blocks_meet_the_contract(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof flows_polls / sizeof flows_polls[0]; i++)
        flows_poll(&H, &flows_polls[i]);
    flows_triggers(&T, A);
    assert_int_equal(account_refused(A), 0);
    flows_campaigns(&H);
    flows_all_called(H.blocks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_args_meet_the_contract),
        cmocka_unit_test(all_args_at_once_meet_the_contract),
        cmocka_unit_test(api_key_credentials_meet_the_contract),
        cmocka_unit_test(a_next_page_meets_the_contract),
        cmocka_unit_test(each_alternative_meets_the_contract),
        cmocka_unit_test(any_endpoint_meets_the_contract),
        cmocka_unit_test(the_mock_rejects_a_broken_request),
        cmocka_unit_test(flow_blocks_meet_the_contract),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

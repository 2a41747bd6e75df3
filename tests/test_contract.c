/* Contract tests: the service pointed at Prism serving Twilio's official OpenAPI spec
 * (PRISM_URL). Prism answers 422 to any request that breaks Twilio's contract and 401 without
 * basic auth, so every block call below succeeding means every request we send is one Twilio
 * documents. Run through contract/run.sh, which starts Prism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct harness H;
static const char *prism;

static int setup(void **state)
{
    (void)state;
    prism = getenv("PRISM_URL");
    if (!prism || !*prism) {
        fprintf(stderr, "PRISM_URL is not set: run tests/contract/run.sh (needs npm ci in tests/)\n");
        return -1;
    }
    return harness_start(&H, prism, 15000, 0);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

/* Calls every block that calls Twilio with its examples (minimal: only what is needed; with
 * api_key: an API key instead of the Auth Token) and expects Twilio's resource back: one with a
 * SID, or a page of a list. */
static void call_every_block(int minimal, int api_key)
{
    for (size_t i = 0; i < block_count(H.blocks); i++) {
        const struct block_def *b = block_at(H.blocks, i);
        if (b->handler)
            continue; /* answered by the service itself */
        json_t *args = block_example_args(b, minimal);
        if (api_key) {
            json_object_del(args, "accountToken");
            json_object_set_new(args, "apiKeySid",
                                json_string("SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
            json_object_set_new(args, "apiKeySecret", json_string("contract-key-secret"));
        }
        json_t *wrapped = json_pack("{s:o}", "args", args);
        char *text = json_dumps(wrapped, JSON_COMPACT);
        struct http_reply r;
        assert_int_equal(harness_post(&H, b->name, text, &r), 0);
        assert_int_equal(r.status, 200);
        json_t *env = json_loadb(r.body.data, r.body.len, 0, NULL);
        const char *cb = json_string_value(json_object_get(env, "callback"));
        if (!cb || strcmp(cb, "success") != 0)
            fail_msg("%s (%s args) against Twilio's spec: %s", b->name,
                     minimal ? "minimal" : "all", buf_str(&r.body));
        json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
        if (b->each) /* a bulk block: one resource per entry */
            to = json_array_get(json_object_get(to, "results"), 0);
        const char *sid = json_string_value(json_object_get(to, "sid"));
        if (!b->each && strcmp(b->method, "GET") == 0 && !sid) {
            /* a page: Twilio's list envelope */
            assert_non_null(json_string_value(json_object_get(to, "uri")));
            assert_true(json_is_integer(json_object_get(to, "page_size")));
        } else {
            /* Twilio's resource, whatever its kind: a SID is two letters and 32 hex digits */
            assert_non_null(sid);
            assert_int_equal(strlen(sid), 34);
            assert_true(strspn(sid + 2, "0123456789abcdefABCDEF") == 32);
        }
        json_decref(env);
        http_reply_free(&r);
        free(text);
        json_decref(wrapped);
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
    static const char *const lists[] = {"listMessages", "listCalls"};
    for (size_t i = 0; i < 2; i++) {
        const struct block_def *b = block_find(H.blocks, lists[i], strlen(lists[i]));
        assert_non_null(b);
        json_t *args = block_example_args(b, 1);
        json_t *page = json_object_get(json_array_get(json_object_get(b->root, "args"),
                                                      (size_t)block_arg_index(b, "nextPageUri")),
                                       "example");
        json_object_set(args, "nextPageUri", page);
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
    assert_int_equal(http_call_ex("POST", url, form, NULL, NULL, "To=%2B14155552671&From=%2B15005550006&Body=x",
                                  44, &r), 0);
    assert_int_equal(r.status, 401); /* no basic auth */
    http_reply_free(&r);
    assert_int_equal(http_call_ex("POST", url, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                                  "From=%2B15005550006&Body=x", 26, &r), 0);
    assert_int_equal(r.status, 422); /* To missing */
    assert_non_null(strstr(buf_str(&r.body), "'To'"));
    http_reply_free(&r);
    assert_int_equal(http_call_ex("POST", url, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                                  "To=%2B14155552671&From=%2B15005550006&Body=x&ValidityPeriod=soon",
                                  64, &r), 0);
    assert_int_equal(r.status, 422); /* not an integer */
    http_reply_free(&r);
    /* lists and updates are checked too: query parameters and the update enums */
    char list[600];
    snprintf(list, sizeof list, "%s?PageSize=0", url);
    assert_int_equal(http_call_ex("GET", list, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                                  NULL, 0, &r), 0);
    assert_int_equal(r.status, 422); /* PageSize is 1 to 1000 */
    http_reply_free(&r);
    snprintf(url, sizeof url,
             "%s/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/"
             "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json", prism);
    assert_int_equal(http_call_ex("POST", url, form, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x", NULL,
                                  "Status=bogus", 12, &r), 0);
    assert_int_equal(r.status, 422); /* canceled or completed */
    http_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_args_meet_the_contract),
        cmocka_unit_test(all_args_at_once_meet_the_contract),
        cmocka_unit_test(api_key_credentials_meet_the_contract),
        cmocka_unit_test(a_next_page_meets_the_contract),
        cmocka_unit_test(the_mock_rejects_a_broken_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

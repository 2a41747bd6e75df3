/* POST /mcp against the real server and the stand-in: revision negotiation, the
 * MCP-Protocol-Version check, notifications, JSON-RPC errors, GET, Origin, PROXY_SECRET,
 * credentials from the Authorization header only, tool errors that name each wrong argument,
 * the nearest tool name, idempotencyKey, ?tools= and ?toolsets=, and the size of tools/list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ACCOUNT "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TOKEN "tok-SECRET-5a4b3c2d"
#define KEY "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define KEY_SECRET "key-SECRET-9f8e7d"
#define USERPWD ACCOUNT ":" TOKEN
#define ALLOWED "https://app.example.com, agents.example.org"
#define SMS_ARGS "{\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"Hi\"}"

static struct harness H;

static int setup(void **state)
{
    (void)state;
    struct config cfg;
    harness_config(&cfg);
    cfg.upstream_timeout_ms = 2000;
    snprintf(cfg.mcp_allowed_origins, sizeof cfg.mcp_allowed_origins, "%s", ALLOWED);
    return harness_start_with(&H, &cfg);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    standin_clear(H.up);
    struct standin_answer a = {.status = 201, .body = standin_message_201};
    standin_answer(H.up, &a);
    return 0;
}

/* POSTs body to /mcp<query> with basic auth userpwd (or none) and extra headers. */
static void post(const char *query, const char *userpwd, const char *const *extra, const char *body,
                 struct http_reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/mcp%s", H.url, query ? query : "");
    assert_int_equal(
        http_call_ex("POST", url, "application/json", userpwd, extra, body, strlen(body), r), 0);
}

/* The reply's body as JSON (the test fails when it is not). */
static json_t *parsed(const struct http_reply *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %.*s", e.text, (int)r->body.len, r->body.data ? r->body.data : "");
    return j;
}

/* POSTs and expects HTTP status with a JSON body; returns it. */
static json_t *rpc(const char *query, const char *userpwd, const char *const *extra,
                   const char *body, long status)
{
    struct http_reply r;
    post(query, userpwd, extra, body, &r);
    if (r.status != status)
        fail_msg("HTTP %ld, not %ld: %.*s", r.status, status, (int)r.body.len,
                 r.body.data ? r.body.data : "");
    assert_string_equal(r.content_type, "application/json");
    json_t *j = parsed(&r);
    http_reply_free(&r);
    assert_string_equal(json_string_value(json_object_get(j, "jsonrpc")), "2.0");
    return j;
}

static void expect_error(json_t *j, long long id, int code, const char *message)
{
    json_t *err = json_object_get(j, "error");
    if (id < 0)
        assert_true(json_is_null(json_object_get(j, "id")));
    else
        assert_int_equal(json_integer_value(json_object_get(j, "id")), id);
    assert_null(json_object_get(j, "result"));
    assert_int_equal(json_integer_value(json_object_get(err, "code")), code);
    if (message)
        assert_string_equal(json_string_value(json_object_get(err, "message")), message);
    json_decref(j);
}

/* As expect_error, for a message that starts with prefix. */
static void expect_error_prefix(json_t *j, long long id, int code, const char *prefix)
{
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_non_null(m);
    if (strncmp(m, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", m, prefix);
    expect_error(j, id, code, NULL);
}

static json_t *call(const char *userpwd, const char *const *extra, const char *tool,
                    const char *arguments)
{
    char body[4096];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
             "\"arguments\":%s}}",
             tool, arguments);
    json_t *j = rpc(NULL, userpwd, extra, body, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    json_t *result = json_incref(json_object_get(j, "result"));
    json_decref(j);
    assert_non_null(result);
    return result;
}

static json_t *list(const char *query, long status);

static const char *text_of(json_t *result)
{
    json_t *item = json_array_get(json_object_get(result, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(item, "type")), "text");
    return json_string_value(json_object_get(item, "text"));
}

static void initialize_negotiates(void **state)
{
    (void)state;
    static const struct {
        const char *asked, *answered;
    } cases[] = {{"2025-11-25", "2025-11-25"},
                 {"2025-06-18", "2025-06-18"},
                 {"2025-03-26", "2025-03-26"},
                 {"2024-11-05", "2025-11-25"},
                 {"2099-01-01", "2025-11-25"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
                 "\"version\":\"1\"}}}",
                 cases[i].asked);
        /* no credentials, and a header left from another revision does not matter here */
        static const char *const stale[] = {"MCP-Protocol-Version: 1999-01-01", NULL};
        json_t *j = rpc(NULL, NULL, stale, body, 200);
        json_t *res = json_object_get(j, "result");
        assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")),
                            cases[i].answered);
        assert_true(json_is_object(json_object_get(json_object_get(res, "capabilities"), "tools")));
        assert_null(json_object_get(json_object_get(res, "capabilities"), "resources"));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")),
            "twilio-block");
        json_decref(j);
    }
}

static void protocol_version_header(void **state)
{
    (void)state;
    static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}";
    static const char *const known[] = {"MCP-Protocol-Version: 2025-06-18", NULL};
    static const char *const unknown[] = {"MCP-Protocol-Version: 2024-01-01", NULL};
    json_t *j = rpc(NULL, NULL, known, ping, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 2);
    assert_true(json_is_object(json_object_get(j, "result")));
    assert_int_equal(json_object_size(json_object_get(j, "result")), 0);
    json_decref(j);
    j = rpc(NULL, NULL, NULL, ping, 200); /* none: 2025-03-26 is assumed */
    assert_non_null(json_object_get(j, "result"));
    json_decref(j);
    expect_error(rpc(NULL, NULL, unknown, ping, 400), 2, -32600,
                 "Bad Request: unsupported MCP-Protocol-Version; this server speaks 2025-11-25, "
                 "2025-06-18 and 2025-03-26.");
}

static void notifications_get_202(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", /* a response from the client */
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct http_reply r;
        post(NULL, NULL, NULL, bodies[i], &r);
        assert_int_equal(r.status, 202);
        assert_int_equal(r.body.len, 0);
        http_reply_free(&r);
    }
}

static void jsonrpc_errors(void **state)
{
    (void)state;
    expect_error(rpc(NULL, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", 400), -1,
                 -32700, NULL);
    expect_error(rpc(NULL, NULL, NULL, "not json", 400), -1, -32700, NULL);
    expect_error(
        rpc(NULL, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\"}", 200),
        3, -32601, "Method not found: resources/list (this server offers tools only)");
    expect_error(rpc(NULL, NULL, NULL,
                     "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\","
                     "\"id\":2,\"method\":\"ping\"}]",
                     400),
                 -1, -32600,
                 "Invalid Request: JSON-RPC batches are not supported (MCP removed them in "
                 "2025-06-18); send one message per POST.");
    expect_error(rpc(NULL, NULL, NULL, "{\"jsonrpc\":\"1.0\",\"id\":4,\"method\":\"ping\"}", 400),
                 4, -32600, NULL);
    expect_error(rpc(NULL, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", 400),
                 -1, -32600, NULL);
    expect_error(rpc(NULL, NULL, NULL,
                     "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/"
                     "call\",\"params\":{\"arguments\":{}}}",
                     200),
                 6, -32602, "tools/call needs params.name, a string.");
}

static void get_is_405(void **state)
{
    (void)state;
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/mcp", H.url);
    static const char *const sse[] = {"Accept: text/event-stream", NULL};
    assert_int_equal(http_call_ex("GET", url, NULL, NULL, sse, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    json_t *j = parsed(&r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "error"), "code")),
                     -32000);
    json_decref(j);
    http_reply_free(&r);
}

static void origin_checked(void **state)
{
    (void)state;
    static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    static const char *const refused[] = {"http://evil.example.com",
                                          "https://app.example.com:8443",
                                          "http://localhost.evil.example.com",
                                          "null",
                                          "http://[::1]x.evil.com",
                                          "http://localhost:@evil.com",
                                          "http://localhost:",
                                          "http://127.0.0.1:80x"};
    static const char *const allowed[] = {"http://localhost:6274", "http://127.0.0.1",
                                          "http://[::1]:3000", "https://app.example.com",
                                          "https://agents.example.org:444"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char h[128], h2[] = "Host: evil.example.com";
        snprintf(h, sizeof h, "Origin: %s", refused[i]);
        const char *extra[] = {h, h2, NULL};
        expect_error(rpc(NULL, NULL, extra, ping, 403), -1, -32000, NULL);
    }
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "Origin: %s", allowed[i]);
        const char *extra[] = {h, NULL};
        json_t *j = rpc(NULL, NULL, extra, ping, 200);
        assert_non_null(json_object_get(j, "result"));
        json_decref(j);
    }
    /* a refused origin's tool call never reaches Twilio */
    static const char *const evil[] = {"Origin: http://evil.example.com", NULL};
    char body[512];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"sendSms\",\"arguments\":%s}}",
             SMS_ARGS);
    expect_error(rpc(NULL, USERPWD, evil, body, 403), -1, -32000, NULL);
    assert_int_equal(standin_count(H.up), 0);
}

static void credentials_from_the_header(void **state)
{
    (void)state;
    struct standin_record rec;
    json_t *res = call(USERPWD, NULL, "sendSms", SMS_ARGS);
    assert_true(json_is_false(json_object_get(res, "isError")));
    json_t *want = json_loads(standin_message_201, 0, NULL);
    assert_true(json_equal(json_object_get(res, "structuredContent"), want));
    json_t *text = json_loads(text_of(res), 0, NULL);
    assert_true(json_equal(text, want));
    json_decref(text);
    json_decref(want);
    json_decref(res);
    assert_int_equal(standin_count(H.up), 1);
    assert_int_equal(standin_request(H.up, 0, &rec), 0);
    assert_string_equal(rec.method, "POST");
    assert_string_equal(rec.path, "/2010-04-01/Accounts/" ACCOUNT "/Messages.json");
    assert_string_equal(
        rec.authorization,
        "Basic QUNhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTp0b2stU0VDUkVULTVhNGIzYzJk");
    assert_string_equal(rec.body, "To=%2B14155552671&From=%2B15005550006&Body=Hi");

    /* an API key, the account in X-Twilio-Account-Sid */
    static const char *const account[] = {"X-Twilio-Account-Sid: " ACCOUNT, NULL};
    res = call(KEY ":" KEY_SECRET, account, "getMessage",
               "{\"messageSid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
    assert_true(json_is_false(json_object_get(res, "isError")));
    json_decref(res);
    assert_int_equal(standin_request(H.up, 1, &rec), 0);
    assert_string_equal(rec.method, "GET");
    assert_string_equal(rec.path, "/2010-04-01/Accounts/" ACCOUNT
                                  "/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json");
    assert_string_equal(
        rec.authorization,
        "Basic U0tiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYjprZXktU0VDUkVULTlmOGU3ZA==");
    assert_int_equal(standin_count(H.up), 2);
}

/* Each refusal is a tool error naming the field, and nothing is sent. */
static void credentials_refused(void **state)
{
    (void)state;
    static const struct {
        const char *userpwd;
        const char *args;
        const char *line; /* a line the text must hold */
    } cases[] = {
        {NULL, SMS_ARGS, "\n- Authorization: Missing: no Authorization header. Send your Twilio"},
        {KEY ":" KEY_SECRET, SMS_ARGS,
         "\n- Authorization: An API key (SK...) needs the account's SID (AC...) in the "
         "X-Twilio-Account-Sid header."},
        {USERPWD,
         "{\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"Hi\",\"accountToken\":"
         "\"x\"}",
         "\n- accountToken (Authorization header): Credentials are not arguments, and this one "
         "was not used."},
        {"ACnot-a-sid:" TOKEN, SMS_ARGS, "\n- accountSid (Authorization header): "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *res = call(cases[i].userpwd, NULL, "sendSms", cases[i].args);
        assert_true(json_is_true(json_object_get(res, "isError")));
        const char *text = text_of(res);
        if (!strstr(text, cases[i].line))
            fail_msg("case %zu: no \"%s\" in: %s", i, cases[i].line, text);
        assert_null(strstr(text, TOKEN));
        assert_null(strstr(text, KEY_SECRET));
        assert_int_equal(strncmp(text, "REQUIRED_FIELDS: ", 17), 0);
        json_decref(res);
    }
    assert_int_equal(standin_count(H.up), 0);
}

static void tool_errors_name_each_arg(void **state)
{
    (void)state;
    json_t *res = call(USERPWD, NULL, "sendSms",
                       "{\"to\":\"not a number\",\"body\":\"Hi\",\"validityPeriod\":0,"
                       "\"mediaUrls\":[\"https://example.com/a.png\"]}");
    assert_true(json_is_true(json_object_get(res, "isError")));
    const char *text = text_of(res);
    static const char *const lines[] = {
        "REQUIRED_FIELDS: Please, check and fill in required fields.\n",
        "\n- mediaUrls: Not an argument of sendSms. Did you mean mediaUrl?",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!strstr(text, lines[i]))
            fail_msg("no \"%s\" in: %s", lines[i], text);
    json_decref(res);
    /* the unknown argument stops the call before the block checks the rest */
    res = call(USERPWD, NULL, "sendSms",
               "{\"to\":\"not a number\",\"body\":\"Hi\",\"validityPeriod\":0}");
    text = text_of(res);
    json_t *sc = json_object_get(res, "structuredContent");
    json_t *reasons = json_object_get(sc, "reasons");
    assert_string_equal(json_string_value(json_object_get(sc, "status_code")), "REQUIRED_FIELDS");
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(reasons, key, v) {
        char line[1024];
        snprintf(line, sizeof line, "\n- %s: %s", key, json_string_value(v));
        if (!strstr(text, line))
            fail_msg("no \"%s\" in: %s", line, text);
        n++;
    }
    assert_non_null(json_object_get(reasons, "to"));
    assert_non_null(json_object_get(reasons, "from"));
    assert_non_null(json_object_get(reasons, "validityPeriod"));
    assert_true(n >= 3);
    json_decref(res);
    assert_int_equal(standin_count(H.up), 0);

    /* Twilio's own refusal is a tool error too, with its code */
    struct standin_answer a = {
        .status = 400,
        .body = "{\"code\":21211,\"message\":\"The 'To' number is not a valid phone number.\","
                "\"more_info\":\"https://www.twilio.com/docs/errors/21211\",\"status\":400}"};
    standin_answer(H.up, &a);
    res = call(USERPWD, NULL, "sendSms", SMS_ARGS);
    assert_true(json_is_true(json_object_get(res, "isError")));
    text = text_of(res);
    if (!strstr(text, "API_ERROR: [HTTP 400] Unable to create record: The 'To' number is not a "
                      "valid phone number.") ||
        !strstr(text, "\"code\":21211"))
        fail_msg("API error text: %s", text);
    json_decref(res);
}

/* A polling trigger's answer has one shape, its outputSchema; its errors carry no
 * structuredContent, which a client would check against that schema. */
static void poll_errors_have_no_structured_content(void **state)
{
    (void)state;
    json_t *res = call(USERPWD, NULL, "pollMessages", "{\"limit\":0}");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_null(json_object_get(res, "structuredContent"));
    assert_non_null(strstr(text_of(res), "\n- limit: "));
    json_decref(res);
    json_t *j = list("?tools=pollMessages", 200);
    json_t *schema = json_object_get(
        json_array_get(json_object_get(json_object_get(j, "result"), "tools"), 0), "outputSchema");
    assert_string_equal(json_string_value(json_array_get(json_object_get(schema, "required"), 0)),
                        "items");
    json_decref(j);
    assert_int_equal(standin_count(H.up), 0);
}

static void unknown_tool_names_the_nearest(void **state)
{
    (void)state;
    json_t *j = rpc(NULL, USERPWD, NULL,
                    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"sendSMS\",\"arguments\":{}}}",
                    200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "error"), "data"), "didYouMean")),
                        "sendSms");
    expect_error(j, 9, -32602, "Unknown tool: sendSMS. Did you mean sendSms?");
    expect_error(rpc(NULL, USERPWD, NULL,
                     "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"webhookEvent\"}}",
                     200),
                 9, -32602, "Unknown tool: webhookEvent.");
    /* a name quoted up to a UTF-8 character boundary: the 64th byte is the first of an é */
    char body[1024], want[256], name[160] = "a";
    for (int k = 0; k < 70; k++)
        strcat(name, "\xc3\xa9");
    snprintf(
        body, sizeof body,
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"}}",
        name);
    snprintf(want, sizeof want, "Unknown tool: %.63s.", name);
    expect_error_prefix(rpc(NULL, USERPWD, NULL, body, 200), 9, -32602, want);
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"%s\"}", name);
    snprintf(want, sizeof want, "Method not found: %.119s (this server offers tools only)", name);
    expect_error(rpc(NULL, USERPWD, NULL, body, 200), 9, -32601, want);
    /* served elsewhere, not at this URL */
    expect_error(rpc("?tools=getMessage", USERPWD, NULL,
                     "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"sendSms\",\"arguments\":" SMS_ARGS "}}",
                     200),
                 9, -32602, "Tool sendSms is not served at this URL (see ?tools= and ?toolsets=).");
    assert_int_equal(standin_count(H.up), 0);
}

/* "arguments": null is no arguments: the block says what is missing. */
static void null_arguments(void **state)
{
    (void)state;
    json_t *res = call(USERPWD, NULL, "getMessage", "null");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_non_null(strstr(text_of(res), "\n- messageSid: "));
    json_decref(res);
    assert_int_equal(standin_count(H.up), 0);
}

static void idempotency_key_sends_once(void **state)
{
    (void)state;
    static const char args[] = "{\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":"
                               "\"Hi\",\"idempotencyKey\":\"agent-retry-1\"}";
    json_t *first = call(USERPWD, NULL, "sendSms", args);
    json_t *second = call(USERPWD, NULL, "sendSms", args);
    assert_true(json_is_false(json_object_get(first, "isError")));
    assert_true(json_equal(first, second));
    assert_int_equal(standin_count(H.up), 1);
    json_decref(first);
    json_decref(second);
    /* the same key with other args is refused, not sent */
    json_t *other = call(USERPWD, NULL, "sendSms",
                         "{\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":"
                         "\"Bye\",\"idempotencyKey\":\"agent-retry-1\"}");
    assert_true(json_is_true(json_object_get(other, "isError")));
    assert_non_null(strstr(text_of(other), "IDEMPOTENCY_KEY_REUSED"));
    json_decref(other);
    assert_int_equal(standin_count(H.up), 1);
}

static void dry_run_masks(void **state)
{
    (void)state;
    json_t *res = call(USERPWD, NULL, "sendSms",
                       "{\"to\":\"+14155552671\",\"from\":\"+15005550006\",\"body\":\"Hi\","
                       "\"dryRun\":true}");
    json_t *req = json_object_get(json_object_get(res, "structuredContent"), "request");
    assert_string_equal(json_string_value(json_object_get(req, "password")), "********");
    assert_null(strstr(text_of(res), TOKEN));
    json_decref(res);
    assert_int_equal(standin_count(H.up), 0);
}

static json_t *list(const char *query, long status)
{
    return rpc(query, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}",
               status);
}

static void tools_list_size_and_selection(void **state)
{
    (void)state;
    struct http_reply r;
    post(NULL, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}", &r);
    assert_int_equal(r.status, 200);
    if (r.body.len > 100000)
        fail_msg("the default tools/list is %zu bytes, over the 100,000 budget", r.body.len);
    json_t *j = parsed(&r);
    http_reply_free(&r);
    json_t *tools = json_object_get(json_object_get(j, "result"), "tools");
    /* every block but the relay-only ones, and no credentials in any schema */
    size_t want = 0;
    for (size_t i = 0; i < block_count(H.blocks); i++)
        want += !block_at(H.blocks, i)->handler;
    assert_int_equal(json_array_size(tools), want);
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *props = json_object_get(json_object_get(t, "inputSchema"), "properties");
        assert_null(json_object_get(props, "accountSid"));
        assert_null(json_object_get(props, "accountToken"));
        assert_null(json_object_get(props, "apiKeySecret"));
        assert_non_null(json_object_get(json_object_get(t, "annotations"), "readOnlyHint"));
    }
    json_decref(j);

    j = list("?tools=sendSms,getMessage", 200);
    tools = json_object_get(json_object_get(j, "result"), "tools");
    assert_int_equal(json_array_size(tools), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "sendSms");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 1), "name")),
                        "getMessage");
    json_decref(j);

    j = list("?toolsets=verify", 200);
    tools = json_object_get(json_object_get(j, "result"), "tools");
    assert_int_equal(json_array_size(tools), 2);
    json_decref(j);
    j = list("?toolsets=verify&tools=sendSms", 200);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "result"), "tools")), 3);
    json_decref(j);

    expect_error(list("?tools=sendSMS", 400), 3, -32602,
                 "?tools= names no tool \"sendSMS\". Did you mean sendSms?");
    /* bytes that are not UTF-8 (or are control bytes) are quoted as '?' */
    expect_error_prefix(list("?tools=%FF", 400), 3, -32602, "?tools= names no tool \"?\".");
    expect_error_prefix(list("?tools=a%C3", 400), 3, -32602, "?tools= names no tool \"a?\".");
    expect_error_prefix(list("?tools=%C3%A9%01", 400), 3, -32602,
                        "?tools= names no tool \"\xc3\xa9?\".");
    expect_error_prefix(list("?toolsets=%FF", 400), 3, -32602,
                        "?toolsets= names no toolset \"?\". Toolsets: messaging");
    expect_error(list("?toolsets=sms", 400), 3, -32602,
                 "?toolsets= names no toolset \"sms\". Toolsets: messaging, voice, numbers, "
                 "verify, lookup, conversations, triggers, advanced, other.");
}

static void annotations_by_verb(void **state)
{
    (void)state;
    static const struct {
        const char *tool;
        int read_only, destructive, idempotent;
    } cases[] = {
        {"getMessage", 1, 0, 1},       {"listCalls", 1, 0, 1},
        {"pollMessages", 1, 0, 1},     {"lookupPhoneNumber", 1, 0, 1},
        {"listEventTypes", 1, 0, 1},   {"sendSms", 0, 0, 0},
        {"makeCall", 0, 0, 0},         {"deleteMessage", 0, 1, 1},
        {"redactMessage", 0, 1, 1},    {"cancelMessage", 0, 1, 1},
        {"updateCall", 0, 1, 0},       {"unsubscribeWebhook", 0, 1, 1},
        {"subscribeWebhook", 0, 1, 1}, {"twilioRequest", 0, 1, 0},
    };
    json_t *j = list(NULL, 200);
    json_t *tools = json_object_get(json_object_get(j, "result"), "tools");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t i;
        json_t *t, *found = NULL;
        json_array_foreach(tools, i, t) {
            if (strcmp(json_string_value(json_object_get(t, "name")), cases[c].tool) == 0)
                found = t;
        }
        if (!found)
            fail_msg("no tool %s", cases[c].tool);
        json_t *a = json_object_get(found, "annotations");
        if (json_is_true(json_object_get(a, "readOnlyHint")) != cases[c].read_only ||
            json_is_true(json_object_get(a, "destructiveHint")) != cases[c].destructive ||
            json_is_true(json_object_get(a, "idempotentHint")) != cases[c].idempotent ||
            !json_is_true(json_object_get(a, "openWorldHint")))
            fail_msg("%s: annotations %s", cases[c].tool, json_dumps(a, JSON_COMPACT));
    }
    json_decref(j);
}

static void proxy_secret_guards_mcp(void **state)
{
    (void)state;
    struct harness h;
    struct config cfg;
    harness_config(&cfg);
    snprintf(cfg.proxy_secret, sizeof cfg.proxy_secret, "proxy-SECRET-1");
    assert_int_equal(harness_start_with(&h, &cfg), 0);
    char url[256];
    struct http_reply r;
    static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    snprintf(url, sizeof url, "%s/mcp", h.url);
    assert_int_equal(
        http_call_ex("POST", url, "application/json", NULL, NULL, ping, strlen(ping), &r), 0);
    assert_int_equal(r.status, 401);
    http_reply_free(&r);
    static const char *const secret[] = {"X-RapidAPI-Proxy-Secret: proxy-SECRET-1", NULL};
    assert_int_equal(
        http_call_ex("POST", url, "application/json", NULL, secret, ping, strlen(ping), &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    harness_stop(&h);
}

/* A tool call is logged and counted as its block's call. */
static void metrics_count_the_block(void **state)
{
    (void)state;
    json_t *res = call(USERPWD, NULL, "sendSms", SMS_ARGS);
    json_decref(res);
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/metrics", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    if (!strstr(buf_str(&r.body), "block=\"sendSms\""))
        fail_msg("no sendSms series in /metrics");
    http_reply_free(&r);
}

/* GET /api/twilio tells a caller where the tools are. */
static void metadata_names_the_endpoint(void **state)
{
    (void)state;
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    json_t *meta = parsed(&r);
    http_reply_free(&r);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(meta, "mcp"), "endpoint")), "/mcp");
    json_decref(meta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(initialize_negotiates, reset),
        cmocka_unit_test_setup(protocol_version_header, reset),
        cmocka_unit_test_setup(notifications_get_202, reset),
        cmocka_unit_test_setup(jsonrpc_errors, reset),
        cmocka_unit_test_setup(get_is_405, reset),
        cmocka_unit_test_setup(origin_checked, reset),
        cmocka_unit_test_setup(credentials_from_the_header, reset),
        cmocka_unit_test_setup(credentials_refused, reset),
        cmocka_unit_test_setup(tool_errors_name_each_arg, reset),
        cmocka_unit_test_setup(poll_errors_have_no_structured_content, reset),
        cmocka_unit_test_setup(unknown_tool_names_the_nearest, reset),
        cmocka_unit_test_setup(null_arguments, reset),
        cmocka_unit_test_setup(idempotency_key_sends_once, reset),
        cmocka_unit_test_setup(dry_run_masks, reset),
        cmocka_unit_test_setup(tools_list_size_and_selection, reset),
        cmocka_unit_test_setup(annotations_by_verb, reset),
        cmocka_unit_test_setup(proxy_secret_guards_mcp, reset),
        cmocka_unit_test_setup(metrics_count_the_block, reset),
        cmocka_unit_test_setup(metadata_names_the_endpoint, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

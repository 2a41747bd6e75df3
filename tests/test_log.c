/* LOG_FORMAT=json and X-Request-Id: every reply carries the request's id (the caller's when
 * sane, generated otherwise), every log line is one JSON object with the request's fields,
 * hostile text is escaped, the text format keeps its line plus the id, and no secret is
 * written. The server's stderr is captured and parsed with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "log.h"

#define TOKEN "tok-SECRET-0c9b8a7f"
#define CREDS "\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"accountToken\":\"" TOKEN "\""
#define SMS "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"Hi\"}"

static struct harness H;
static struct log_capture logged;

static int setup(void **state)
{
    (void)state;
    if (log_capture_start(&logged, "logging") < 0)
        return -1;
    struct config cfg;
    harness_config(&cfg);
    cfg.log_level = LOG_DEBUG;
    cfg.log_format = LOG_JSON;
    /* More workers than the test makes connections: a closed connection's worker may notice
     * late on a busy machine, and "every worker is taken" would be one line more. */
    cfg.threads = 64;
    return harness_start_with(&H, &cfg);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    log_set_format(LOG_TEXT);
    log_capture_end(&logged);
    return 0;
}

/* Sends one request with extra header lines; returns the reply's X-Request-Id in id. */
static void call(const char *method, const char *path, const char *content_type, const char *body,
                 const char *const *extra, long status, char *id, size_t size)
{
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s%s", H.url, path);
    assert_int_equal(
        http_call_ex(method, url, content_type, NULL, extra, body, body ? strlen(body) : 0, &r), 0);
    assert_int_equal(r.status, status);
    if (strstr(buf_str(&r.body), TOKEN))
        fail_msg("a secret was echoed");
    snprintf(id, size, "%s", r.request_id);
    http_reply_free(&r);
}

static int generated(const char *id)
{
    if (strlen(id) != 32)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* The log's complete lines once they hold text. The server logs a request after answering it,
 * so a line may lag its reply, and a read racing the server's write() can see the first part of
 * a line that crosses a page boundary (the file grows page by page): what follows the last
 * newline is cut off and waited for. Waits up to 60 s, for a busy machine; a pass never waits
 * longer than the line takes to arrive. */
static void read_log_with(const char *text, struct buf *all)
{
    for (int i = 0; i < 3000; i++) {
        fflush(stderr);
        assert_int_equal(read_file(logged.path, all), 0);
        char *last = strrchr(all->data ? all->data : "", '\n');
        size_t complete = last ? (size_t)(last + 1 - all->data) : 0;
        if (complete) {
            all->len = complete;
            all->data[complete] = '\0';
            if (strstr(buf_str(all), text))
                return;
        }
        buf_free(all);
        clock_sleep_ms(20);
    }
    fail_msg("the log never showed %s", text);
}

/* The JSON log line whose request_id is id (the caller decrefs it), or a failure. */
static json_t *log_line_for(const char *id)
{
    struct buf all;
    json_t *found = NULL;
    json_t *quoted = json_string(id);
    char *needle = json_dumps(quoted, JSON_ENCODE_ANY);
    assert_non_null(needle);
    read_log_with(needle, &all);
    free(needle);
    json_decref(quoted);
    for (const char *line = buf_str(&all); *line && !found;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        json_t *obj = line[0] == '{' ? json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
        const char *rid = json_string_value(json_object_get(obj, "request_id"));
        if (rid && strcmp(rid, id) == 0)
            found = obj;
        else
            json_decref(obj);
        line += end ? n + 1 : n;
    }
    buf_free(&all);
    if (!found)
        fail_msg("no JSON log line with request_id %s", id);
    return found;
}

static void rfc3339_millis(const char *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    assert_non_null(t);
    assert_int_equal(strlen(t), strlen(shape));
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? t[i] < '0' || t[i] > '9' : t[i] != shape[i])
            fail_msg("not RFC 3339 UTC with milliseconds: %s", t);
}

static void sane_ids_are_kept_and_others_replaced(void **state)
{
    (void)state;
    char id[256], first[256], header[300], long_ok[129], too_long[130];
    memset(long_ok, 'x', 128);
    long_ok[128] = '\0';
    memset(too_long, 'y', 129);
    too_long[129] = '\0';
    const char *kept[] = {"req-123", "abc\"\\def{}", long_ok};
    for (size_t i = 0; i < 3; i++) {
        snprintf(header, sizeof header, "X-Request-Id: %s", kept[i]);
        const char *const extra[] = {header, NULL};
        call("GET", "/healthz", "application/json", NULL, extra, 200, id, sizeof id);
        assert_string_equal(id, kept[i]);
        json_decref(log_line_for(id));
    }
    /* (civetweb itself refuses control characters in a header with 400) */
    const char *replaced[] = {"X-Request-Id: a b", "X-Request-Id;", "X-Request-Id: caf\xc3\xa9",
                              NULL};
    snprintf(header, sizeof header, "X-Request-Id: %s", too_long);
    replaced[3] = header;
    first[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        const char *const extra[] = {replaced[i], NULL};
        call("GET", "/healthz", "application/json", NULL, extra, 200, id, sizeof id);
        if (!generated(id))
            fail_msg("%s: got %s, want 32 hex digits", replaced[i], id);
        assert_string_not_equal(id, first);
        snprintf(first, sizeof first, "%s", id);
        json_decref(log_line_for(id));
    }
    call("GET", "/healthz", "application/json", NULL, NULL, 200, id, sizeof id);
    assert_true(generated(id));
    assert_string_not_equal(id, first);
    json_decref(log_line_for(id));
}

/* Every kind of answer the service makes carries the id. */
static void every_reply_carries_the_id(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *content_type, *body;
        long status;
    } cases[] = {
        {"POST", "/api/twilio/sendSms", "application/json", SMS, 200},
        {"POST", "/api/twilio/sendSms", "application/json", "{" CREDS "}", 200},
        {"POST", "/api/twilio/sendSms", "application/json", "not json", 200},
        {"POST", "/api/twilio/sendSms", "text/plain", SMS, 415},
        {"GET", "/api/twilio/sendSms", "application/json", NULL, 405},
        {"POST", "/api/twilio/nope", "application/json", "{}", 404},
        {"GET", "/api/twilio", "application/json", NULL, 200},
        {"HEAD", "/api/twilio", "application/json", NULL, 200},
        {"GET", "/healthz", "application/json", NULL, 200},
        {"PUT", "/healthz", "application/json", "{}", 405},
        {"GET", "/metrics", "application/json", NULL, 200},
        {"GET", "/nope", "application/json", NULL, 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[32], header[64], id[256];
        snprintf(want, sizeof want, "every-%zu", i);
        snprintf(header, sizeof header, "X-Request-Id: %s", want);
        const char *const extra[] = {header, NULL};
        call(cases[i].method, cases[i].path, cases[i].content_type, cases[i].body, extra,
             cases[i].status, id, sizeof id);
        if (strcmp(id, want) != 0)
            fail_msg("%s %s: X-Request-Id %s", cases[i].method, cases[i].path, id);
        json_decref(log_line_for(want)); /* and it is logged */
    }
}

static void json_line_has_every_field(void **state)
{
    (void)state;
    char id[256];
    const char *const extra[] = {"X-Request-Id: json-line-1", NULL};
    call("POST", "/api/twilio/sendSms", "application/json", SMS, extra, 200, id, sizeof id);
    json_t *line = log_line_for("json-line-1");
    static const char *const keys[] = {"time",
                                       "level",
                                       "msg",
                                       "request_id",
                                       "method",
                                       "path",
                                       "status",
                                       "block",
                                       "outcome",
                                       "upstream_status",
                                       "attempts",
                                       "duration_ms",
                                       "twilio_request_id"};
    assert_int_equal(json_object_size(line), sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(line, keys[i]))
            fail_msg("no %s", keys[i]);
    rfc3339_millis(json_string_value(json_object_get(line, "time")));
    assert_string_equal(json_string_value(json_object_get(line, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(line, "msg")), "request");
    assert_string_equal(json_string_value(json_object_get(line, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(line, "path")), "/api/twilio/sendSms");
    assert_int_equal(json_integer_value(json_object_get(line, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(line, "block")), "sendSms");
    assert_string_equal(json_string_value(json_object_get(line, "outcome")), "success");
    assert_int_equal(json_integer_value(json_object_get(line, "upstream_status")), 201);
    assert_int_equal(json_integer_value(json_object_get(line, "attempts")), 1);
    assert_true(json_is_integer(json_object_get(line, "duration_ms")));
    assert_true(json_integer_value(json_object_get(line, "duration_ms")) >= 0);
    assert_string_equal(json_string_value(json_object_get(line, "twilio_request_id")),
                        "RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    json_decref(line);

    const char *const other[] = {"X-Request-Id: json-line-2", NULL};
    call("GET", "/nope", "application/json", NULL, other, 404, id, sizeof id);
    line = log_line_for("json-line-2");
    assert_int_equal(json_object_size(line), sizeof keys / sizeof keys[0] - 1);
    assert_true(json_is_null(json_object_get(line, "upstream_status")));
    assert_int_equal(json_integer_value(json_object_get(line, "attempts")), 0);
    assert_string_equal(json_string_value(json_object_get(line, "block")), "-");
    assert_string_equal(json_string_value(json_object_get(line, "outcome")), "not_found");
    assert_int_equal(json_integer_value(json_object_get(line, "status")), 404);
    json_decref(line);
}

/* Quotes, backslashes and control characters from the caller stay inside their strings. */
static void hostile_text_is_escaped(void **state)
{
    (void)state;
    const char *const parts[] = {"GET /x%22y%5Cz%0Aw%7B HTTP/1.1\r\nHost: a\r\n"
                                 "X-Request-Id: q\"\\},\"level\":\"error\r\n"
                                 "Connection: close\r\n\r\n"};
    struct buf out;
    assert_int_equal(raw_request(server_port(H.srv), parts, 1, 0, &out), 0);
    assert_non_null(strstr(buf_str(&out), "HTTP/1.1 404"));
    assert_non_null(strstr(buf_str(&out), "X-Request-Id: q\"\\},\"level\":\"error\r\n"));
    buf_free(&out);
    json_t *line = log_line_for("q\"\\},\"level\":\"error");
    /* civetweb turns a decoded backslash in the path into '/' */
    assert_string_equal(json_string_value(json_object_get(line, "path")), "/x\"y/z?w{");
    assert_string_equal(json_string_value(json_object_get(line, "level")), "info");
    json_decref(line);

    log_msg(LOG_WARN, "odd \"text\" \\ \x01 and \xff\xfe bytes");
    struct buf all;
    read_log_with("odd \\\"text", &all);
    const char *at = strstr(buf_str(&all), "odd \\\"text\\\"");
    assert_non_null(at);
    while (at > buf_str(&all) && at[-1] != '\n')
        at--;
    json_t *obj = json_loadb(at, strcspn(at, "\n"), JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(obj);
    assert_int_equal(json_object_size(obj), 3);
    rfc3339_millis(json_string_value(json_object_get(obj, "time")));
    assert_string_equal(json_string_value(json_object_get(obj, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(obj, "msg")),
                        "odd \"text\" \\ \x01 and ?? bytes");
    json_decref(obj);
    buf_free(&all);
}

/* Runs after the JSON tests: every line the server wrote is a JSON object with time, level and
 * msg, and none holds the token. */
static void every_line_is_json_without_secrets(void **state)
{
    (void)state;
    struct buf all;
    size_t lines = 0;
    read_log_with("\"request_id\":\"q\\\"", &all); /* the last request's line */
    if (strstr(buf_str(&all), TOKEN))
        fail_msg("a secret reached the log");
    for (const char *line = buf_str(&all); *line;) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        if (line[0] == '{') {
            json_t *obj = json_loadb(line, (size_t)(end - line), JSON_REJECT_DUPLICATES, NULL);
            if (!json_is_string(json_object_get(obj, "time")) ||
                !json_is_string(json_object_get(obj, "level")) ||
                !json_is_string(json_object_get(obj, "msg")))
                fail_msg("not a log object: %.*s", (int)(end - line), line);
            json_decref(obj);
            lines++;
        } else if (line[0] == '2' && line[4] == '-') {
            fail_msg("a text line in JSON mode: %.*s", (int)(end - line), line);
        }
        line = end + 1;
    }
    assert_int_equal(lines, 8 + 12 + 2 + 1 + 1); /* one per request above, and the warning */
    buf_free(&all);
}

static void text_format_keeps_its_line_plus_the_id(void **state)
{
    (void)state;
    char id[256];
    log_set_format(LOG_TEXT);
    const char *const extra[] = {"X-Request-Id: text-1", NULL};
    call("POST", "/api/twilio/sendSms", "application/json", SMS, extra, 200, id, sizeof id);
    struct buf all;
    read_log_with("request_id=text-1", &all);
    log_set_format(LOG_JSON);
    const char *at = strstr(buf_str(&all), " info POST /api/twilio/sendSms status=200 "
                                           "block=sendSms outcome=success upstream_status=201 "
                                           "attempts=1 ms=");
    assert_non_null(at);
    const char *end = strchr(at, '\n');
    const char *tail = " request_id=text-1 twilio_request_id=RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    assert_non_null(end);
    assert_true((size_t)(end + 1 - at) > strlen(tail));
    assert_memory_equal(end + 1 - strlen(tail), tail, strlen(tail));
    buf_free(&all);
}

/* Last: while draining, the 503 carries the id too. */
static void draining_reply_carries_the_id(void **state)
{
    (void)state;
    char id[256];
    assert_int_equal(server_drain(H.srv, 0), 0);
    const char *const extra[] = {"X-Request-Id: drain-1", NULL};
    call("GET", "/healthz", "application/json", NULL, extra, 503, id, sizeof id);
    assert_string_equal(id, "drain-1");
    json_t *line = log_line_for("drain-1");
    assert_string_equal(json_string_value(json_object_get(line, "outcome")), "draining");
    json_decref(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sane_ids_are_kept_and_others_replaced),
        cmocka_unit_test(every_reply_carries_the_id),
        cmocka_unit_test(json_line_has_every_field),
        cmocka_unit_test(hostile_text_is_escaped),
        cmocka_unit_test(every_line_is_json_without_secrets),
        cmocka_unit_test(text_format_keeps_its_line_plus_the_id),
        cmocka_unit_test(draining_reply_carries_the_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

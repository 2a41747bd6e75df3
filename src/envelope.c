#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonparse.h"
#include "status.h"

static const char success_head[] = "{\"callback\":\"success\",\"contextWrites\":{\"to\":";
static const char success_tail[] = "}}";

char *envelope_success_raw(const char *resource, size_t n, size_t *len)
{
    size_t total = sizeof success_head - 1 + n + sizeof success_tail - 1;
    char *out = malloc(total + 1);
    if (!out)
        return NULL;
    memcpy(out, success_head, sizeof success_head - 1);
    memcpy(out + sizeof success_head - 1, resource, n);
    memcpy(out + sizeof success_head - 1 + n, success_tail, sizeof success_tail);
    *len = total;
    return out;
}

static char *dump(json_t *root, size_t *len)
{
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (s)
        *len = strlen(s);
    return s;
}

char *envelope_success(json_t *to, size_t *len)
{
    return to ? dump(json_pack("{s:s, s:{s:O}}", "callback", "success", "contextWrites", "to", to),
                     len)
              : NULL;
}

/* The error envelope around to, which it steals; NULL gives NULL. */
static char *error_around(json_t *to, size_t *len)
{
    return to ? dump(json_pack("{s:s, s:{s:o}}", "callback", "error", "contextWrites", "to", to),
                     len)
              : NULL;
}

char *envelope_error(const char *code, const char *msg, json_t *extra, size_t *len)
{
    json_t *to = json_pack("{s:s, s:s}", "status_code", code, "status_msg", msg);
    if (to && extra && json_object_update(to, extra) < 0) {
        json_decref(to);
        return NULL;
    }
    return error_around(to, len);
}

char *envelope_fields(json_t *reasons, int json_args, size_t *len)
{
    json_t *fields = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(reasons, key, v) {
        if (json_array_append_new(fields, json_string(key)) < 0) {
            json_decref(fields);
            return NULL;
        }
    }
    json_t *extra = json_pack("{s:o, s:O}", "fields", fields, "reasons", reasons);
    if (!extra)
        return NULL;
    char *out = json_args
                    ? envelope_error(STATUS_JSON_VALIDATION,
                                     "Please, check the JSON in these fields.", extra, len)
                    : envelope_error(STATUS_REQUIRED_FIELDS,
                                     "Please, check and fill in required fields.", extra, len);
    json_decref(extra);
    return out;
}

void envelope_json_reason(const json_error_t *err, char *out, size_t size)
{
    const char *near = strstr(err->text, " near ");
    int n = near ? (int)(near - err->text) : (int)strlen(err->text);
    snprintf(out, size, "%.*s", n, err->text);
}

char *envelope_bad_body(const json_error_t *err, size_t *len)
{
    char msg[JSON_ERROR_TEXT_LENGTH + 96], reason[JSON_ERROR_TEXT_LENGTH];
    envelope_json_reason(err, reason, sizeof reason);
    snprintf(msg, sizeof msg, "The request body is not valid JSON: %s (line %d, column %d).",
             reason, err->line, err->column);
    json_t *extra = json_pack("{s:i, s:i, s:i, s:s}", "line", err->line, "column", err->column,
                              "position", err->position, "reason", reason);
    if (!extra)
        return NULL;
    char *out = envelope_error(STATUS_JSON_VALIDATION, msg, extra, len);
    json_decref(extra);
    return out;
}

/* A member of obj that is a non-empty string, or NULL. */
static const char *text_member(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v ? v : NULL;
}

/* The reason in an error body that is JSON but not Twilio's {"code", "message"}: a proxy's, a
 * gateway's or the sandbox's (Prism: {"title": "Invalid request", "validation": [{"message":
 * ...}]}). Appends it to msg and returns 1, or returns 0 when the body names none. */
static int foreign_reason(const json_t *doc, struct buf *msg)
{
    static const char *const lists[] = {"validation", "errors"};
    static const char *const singles[] = {"detail", "error_description", "error", "title", "msg"};
    const char *head = text_member(doc, "title");
    if (!head)
        head = text_member(doc, "error");
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        const json_t *items = json_object_get(doc, lists[l]);
        size_t shown = 0;
        for (size_t i = 0; i < json_array_size(items) && shown < 3; i++) {
            const json_t *item = json_array_get(items, i);
            const char *m =
                json_is_string(item) ? json_string_value(item) : text_member(item, "message");
            if (!m || !*m)
                continue;
            if (shown == 0 && head)
                buf_appendf(msg, "%.200s: ", head);
            buf_appendf(msg, "%s%.300s", shown ? "; " : "", m);
            shown++;
        }
        if (shown)
            return 1;
    }
    for (size_t k = 0; k < sizeof singles / sizeof singles[0]; k++) {
        const char *m = text_member(doc, singles[k]);
        if (m) {
            buf_appendf(msg, "%.400s", m);
            return 1;
        }
    }
    const char *nested = text_member(json_object_get(doc, "error"), "message");
    if (nested)
        buf_appendf(msg, "%.400s", nested);
    return nested != NULL;
}

/* Where jansson's error follows a comma with only white space between (`{"a": 1,\n}`), the
 * comma's offset; -1 otherwise. jansson reports the '}' or ']' after it, often a line later. */
static long trailing_comma_at(const char *text, size_t n, const json_error_t *err)
{
    if (err->position <= 0 || (size_t)err->position > n)
        return -1;
    long at = err->position - 1;
    if (text[at] != '}' && text[at] != ']')
        return -1;
    while (--at >= 0 && strchr(" \t\r\n", text[at]))
        ;
    return at >= 0 && text[at] == ',' ? at : -1;
}

char *envelope_bad_body_in(const char *text, size_t n, const json_error_t *err, size_t *len)
{
    size_t blank = 0;
    while (blank < n && text[blank] && strchr(" \t\r\n", text[blank]))
        blank++;
    if (blank == n) {
        json_t *extra = json_pack("{s:s}", "reason", "the body is empty");
        char *out = extra ? envelope_error(STATUS_JSON_VALIDATION,
                                           "The request body is empty. Send the args as a JSON "
                                           "object: {\"args\": {...}}, or the args at the top "
                                           "level, with Content-Type: application/json.",
                                           extra, len)
                          : NULL;
        json_decref(extra);
        return out;
    }
    long comma = trailing_comma_at(text, n, err);
    if (comma < 0)
        return envelope_bad_body(err, len);
    int line = 1;
    long line_start = 0;
    for (long i = 0; i < comma; i++) {
        if (text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    char reason[64], msg[256];
    char closer = text[err->position - 1];
    snprintf(reason, sizeof reason, "trailing comma before '%c'", closer);
    snprintf(msg, sizeof msg,
             "The request body is not valid JSON: %s (line %d, column %ld); remove the comma.",
             reason, line, comma - line_start + 1);
    json_t *extra = json_pack("{s:i, s:I, s:I, s:s}", "line", line, "column",
                              (json_int_t)(comma - line_start + 1), "position",
                              (json_int_t)(comma + 1), "reason", reason);
    char *out = extra ? envelope_error(STATUS_JSON_VALIDATION, msg, extra, len) : NULL;
    json_decref(extra);
    return out;
}

json_t *envelope_api_error_to(long http_status, const char *action, const char *body, size_t n,
                              const char *content_type, const char *request_id, const char *note)
{
    struct buf msg;
    struct jsonparse_error perr;
    json_t *twilio = jsonparse_answer(body, n, &perr);
    json_t *to = NULL;
    buf_init(&msg, n + 4096); /* Twilio's whole message always fits */
    const char *message = json_string_value(json_object_get(twilio, "message"));
    int rc = buf_appendf(&msg, "[HTTP %ld] Unable to %s: ", http_status, action);
    if (message && *message) {
        rc |= buf_appendz(&msg, message);
    } else if (json_is_object(twilio) && foreign_reason(twilio, &msg)) {
        /* the body's own reason says more than its size */
    } else {
        rc |= buf_appendf(&msg, "Twilio answered HTTP %ld with %s body (%zu bytes)", http_status,
                          twilio ? "a JSON"
                          : perr.fault == JSONPARSE_TOO_DEEP || perr.fault == JSONPARSE_TOO_MANY
                              ? "an unreadably deep or large JSON"
                              : "a non-JSON",
                          n);
        if (content_type && *content_type && !twilio)
            rc |= buf_appendf(&msg, " of type %.100s", content_type);
    }
    if (note)
        rc |= buf_appendz(&msg, note);
    if (rc < 0 || !(to = json_pack("{s:s, s:s}", "status_code", STATUS_API_ERROR, "status_msg",
                                   buf_str(&msg))))
        goto done;
    json_t *code = json_object_get(twilio, "code");
    json_t *more = json_object_get(twilio, "more_info");
    if ((code && json_object_set(to, "code", code) < 0) ||
        (message && json_object_set_new(to, "message", json_string(message)) < 0) ||
        (more && json_object_set(to, "more_info", more) < 0) ||
        json_object_set_new(to, "status", json_integer(http_status)) < 0 ||
        (request_id && *request_id &&
         json_object_set_new(to, "twilio_request_id", json_string(request_id)) < 0)) {
        json_decref(to);
        to = NULL;
    }
done:
    buf_free(&msg);
    json_decref(twilio);
    return to;
}

char *envelope_api_error(long http_status, const char *action, const char *body, size_t n,
                         const char *content_type, const char *request_id, const char *note,
                         size_t *len)
{
    return error_around(
        envelope_api_error_to(http_status, action, body, n, content_type, request_id, note), len);
}

#include "apidoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "buf.h"
#include "embedded.h"
#include "envelope.h"
#include "jsonparse.h"
#include "status.h"

/* 15 significant digits print an example such as 0.05 as written (17 would give
 * 0.050000000000000003) and still round-trip any decimal of up to 15 digits. */
#define DUMP_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))
#define TEXT_MAX (1u << 20)

/* What the engine accepts for a number or a boolean given as a string (args.c trims it
 * first; a Boolean's words are case-insensitive). */
#define INTEGER_PATTERN "^\\s*[-+]?[0-9]+\\s*$"
#define DECIMAL_PATTERN "^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$"
#define BOOLEAN_PATTERN                                                                            \
    "^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[01])\\s*$"

#define POSTMAN_SCHEMA "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

/* The answers other than 200 that a block's operation documents, with an example message. */
static const struct {
    const char *name, *code, *msg;
} http_errors[] = {
    {"BadRequest", STATUS_BAD_REQUEST,
     "A request may not carry both Content-Length and Transfer-Encoding."},
    {"Unauthorized", STATUS_UNAUTHORIZED, "Missing or wrong X-RapidAPI-Proxy-Secret header."},
    {"RequestTimeout", STATUS_REQUEST_TIMEOUT,
     "The request body did not arrive within 10000 ms (BODY_TIMEOUT_MS)."},
    {"PayloadTooLarge", STATUS_PAYLOAD_TOO_LARGE,
     "The request body is larger than 262144 bytes (MAX_BODY_BYTES)."},
    {"UnsupportedMediaType", STATUS_UNSUPPORTED_MEDIA_TYPE,
     "Send the args as JSON with Content-Type: application/json."},
    {"ShuttingDown", STATUS_SHUTTING_DOWN,
     "The service is shutting down; nothing was sent. Retry the request."},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Building a document is a long run of insertions; instead of a check after each, a failed one
 * is noted here and the document is refused at the end. */
struct doc {
    int oom;
    json_t *answers; /* borrowed: each block's success answer recorded in the sandbox, or NULL */
};

/* Adds value to obj and returns it (borrowed), or NULL after noting the failure. Like
 * json_object_set_new, it consumes value even when it fails (also when obj is NULL). */
static json_t *put(struct doc *d, json_t *obj, const char *key, json_t *value)
{
    json_t *v = value;
    if (json_object_set_new(obj, key, value) < 0) {
        d->oom = 1;
        return NULL;
    }
    return v;
}

static json_t *push(struct doc *d, json_t *arr, json_t *value)
{
    json_t *v = value;
    if (json_array_append_new(arr, value) < 0) {
        d->oom = 1;
        return NULL;
    }
    return v;
}

static json_t *text_of(struct doc *d, struct buf *b)
{
    json_t *s = b->len ? json_stringn(b->data, b->len) : json_string("");
    buf_free(b);
    if (!s)
        d->oom = 1;
    return s;
}

static const char *field(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *arg_defs(const struct block_def *b)
{
    return json_object_get(b->root, "args");
}

static int is_type(json_t *def, const char *type)
{
    const char *t = field(def, "type");
    return t && strcmp(t, type) == 0;
}

static json_t *ref(const char *kind, const char *name)
{
    return json_pack("{s:o}", "$ref", json_sprintf("#/components/%s/%s", kind, name));
}

/* The schema of a block's args, components/schemas/<block>Args. */
static json_t *args_ref(const struct block_def *b)
{
    return json_pack("{s:o}", "$ref", json_sprintf("#/components/schemas/%sArgs", b->name));
}

static void put_int_from(struct doc *d, json_t *schema, const char *key, json_t *check,
                         const char *check_key)
{
    json_t *v = json_object_get(check, check_key);
    if (json_is_integer(v))
        put(d, schema, key, json_integer(json_integer_value(v)));
}

/* check.sid as a pattern: one two-letter prefix, or a list of them. */
static void put_sid_pattern(struct doc *d, json_t *schema, json_t *check)
{
    json_t *sid = json_object_get(check, "sid");
    json_t *list = json_is_string(sid) ? json_pack("[O]", sid) : json_incref(sid);
    struct buf p;
    size_t i;
    json_t *prefix;
    int ok = json_is_array(list) && json_array_size(list) > 0;
    buf_init(&p, TEXT_MAX);
    ok = ok && buf_appendz(&p, "^\\s*(") == 0;
    json_array_foreach(list, i, prefix) {
        const char *s = json_string_value(prefix);
        ok = ok && s && strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
             s[1] <= 'Z' && buf_appendf(&p, "%s%s", i ? "|" : "", s) == 0;
    }
    ok = ok && buf_appendz(&p, ")[0-9a-fA-F]{32}\\s*$") == 0;
    if (ok)
        put(d, schema, "pattern", text_of(d, &p));
    buf_free(&p);
    json_decref(list);
}

/* A string value, or an item of a List: its options, or the checks a schema can say. */
static json_t *string_schema(struct doc *d, json_t *check, json_t *options)
{
    json_t *s = json_pack("{s:s}", "type", "string");
    if (options) {
        put(d, s, "enum", json_deep_copy(options));
        return s;
    }
    put_int_from(d, s, "maxLength", check, "maxLength");
    if (json_is_true(json_object_get(check, "url")))
        put(d, s, "format", json_string("uri"));
    put_sid_pattern(d, s, check);
    return s;
}

/* An arg's value as the engine coerces it (docs/blocks.md, "Types and coercion"). */
static json_t *arg_schema(struct doc *d, json_t *def)
{
    json_t *check = json_object_get(def, "check");
    json_t *s;
    if (is_type(def, "credentials") || json_is_true(json_object_get(def, "secret"))) {
        s = string_schema(d, check, NULL);
        put(d, s, "format", json_string("password")); /* tools mask it */
    } else if (is_type(def, "String") || is_type(def, "DatePicker")) {
        s = string_schema(d, check, NULL);
        /* A number is taken as its text, except for args sent outside the form. */
        if (json_object_get(def, "param"))
            s = json_pack("{s:[o,{s:s}]}", "anyOf", s, "type", "number");
    } else if (is_type(def, "Select")) {
        s = string_schema(d, NULL, json_object_get(def, "options"));
    } else if (is_type(def, "Number")) {
        int decimal = json_is_true(json_object_get(check, "decimal"));
        json_t *n = json_pack("{s:s}", "type", decimal ? "number" : "integer");
        put_int_from(d, n, "minimum", check, "min");
        put_int_from(d, n, "maximum", check, "max");
        s = json_pack("{s:[o,{s:s,s:s}]}", "anyOf", n, "type", "string", "pattern",
                      decimal ? DECIMAL_PATTERN : INTEGER_PATTERN);
    } else if (is_type(def, "Boolean")) {
        s = json_pack("{s:[{s:s},{s:s,s:[i,i]},{s:s,s:s}]}", "anyOf", "type", "boolean", "type",
                      "integer", "enum", 0, 1, "type", "string", "pattern", BOOLEAN_PATTERN);
    } else if (is_type(def, "List")) {
        json_t *structure = json_object_get(def, "structure");
        json_t *item = string_schema(d, check, json_object_get(structure, "options"));
        if (field(structure, "info"))
            put(d, item, "description", json_deep_copy(json_object_get(structure, "info")));
        json_t *list = json_pack("{s:s,s:o}", "type", "array", "items", item);
        put_int_from(d, list, "minItems", check, "minItems");
        put_int_from(d, list, "maxItems", check, "maxItems");
        s = json_pack("{s:[o,{s:s,s:s}]}", "anyOf", list, "type", "string", "description",
                      "the items in one string, separated by commas");
    } else if (is_type(def, "JSON")) {
        s = json_pack("{s:[{s:s},{s:s},{s:s,s:s}]}", "anyOf", "type", "object", "type", "array",
                      "type", "string", "description", "a string holding valid JSON");
    } else {
        s = json_object(); /* a type this generator does not know: any value */
    }
    if (field(def, "info"))
        put(d, s, "description", json_deep_copy(json_object_get(def, "info")));
    if (json_object_get(def, "example"))
        put(d, s, "example", json_deep_copy(json_object_get(def, "example")));
    if (!s)
        d->oom = 1;
    return s;
}

static json_t *args_schema(struct doc *d, const struct block_def *b)
{
    json_t *s = json_pack("{s:s,s:s}", "type", "object", "description",
                          "A missing key, null and \"\" all mean not given; unknown keys are "
                          "ignored, except one a typo from an arg (refused: did you mean). Loose "
                          "types are accepted as shown: numbers and booleans as "
                          "strings, lists as comma-separated strings; Select values are "
                          "case-insensitive.");
    json_t *required = json_array(), *props = json_object(), *rules = json_array();
    size_t i, g;
    json_t *def, *group;
    json_array_foreach(arg_defs(b), i, def) {
        const char *name = field(def, "name");
        if (!name)
            continue;
        put(d, props, name, arg_schema(d, def));
        if (json_is_true(json_object_get(def, "required")))
            push(d, required, json_string(name));
    }
    /* oneOf groups: at least one arg of each. */
    json_array_foreach(json_object_get(b->root, "oneOf"), g, group) {
        json_t *any = push(d, rules, json_pack("{s:[]}", "anyOf"));
        size_t k;
        json_t *name;
        json_array_foreach(group, k, name) {
            push(d, json_object_get(any, "anyOf"), json_pack("{s:[O]}", "required", name));
        }
    }
    /* credentials: one of the basic-auth pairs, whole */
    json_t *pairs = json_object_get(b->root, "auth");
    if (json_array_size(pairs)) {
        json_t *any = push(d, rules, json_pack("{s:[]}", "anyOf"));
        json_array_foreach(pairs, g, group) {
            push(d, json_object_get(any, "anyOf"), json_pack("{s:O}", "required", group));
        }
    }
    /* exclusive groups: no two of their args together */
    json_array_foreach(json_object_get(b->root, "exclusive"), g, group) {
        size_t k, m;
        json_t *x, *y;
        json_array_foreach(group, k, x) {
            json_array_foreach(group, m, y) {
                if (m > k)
                    push(d, rules, json_pack("{s:{s:[O,O]}}", "not", "required", x, y));
            }
        }
    }
    if (json_array_size(required))
        put(d, s, "required", json_incref(required));
    put(d, s, "properties", json_incref(props));
    if (json_array_size(rules))
        put(d, s, "allOf", json_incref(rules));
    json_decref(required);
    json_decref(props);
    json_decref(rules);
    return s;
}

/* The operation's description: the body shapes, then the rules between args. */
static json_t *block_text(struct doc *d, const struct block_def *b)
{
    struct buf t;
    size_t i, g, k;
    json_t *def, *group, *name;
    int ok, rules = 0;
    buf_init(&t, TEXT_MAX);
    ok = buf_appendz(&t, "Send the args wrapped (`{\"args\": {...}}`, as marketplace gateways "
                         "do) or flat (the args at the top level).") == 0;
    json_array_foreach(json_object_get(b->root, "oneOf"), g, group) {
        ok = ok && buf_appendz(&t, rules++ ? "\n" : "\n\nRules between args:\n") == 0 &&
             buf_appendz(&t, "- at least one of ") == 0;
        json_array_foreach(group, k, name) {
            ok = ok && buf_appendf(&t, "%s`%s`", k ? ", " : "", json_string_value(name)) == 0;
        }
    }
    json_array_foreach(arg_defs(b), i, def) {
        json_t *needs = json_object_get(def, "requires");
        if (!json_array_size(needs))
            continue;
        ok = ok && buf_appendz(&t, rules++ ? "\n" : "\n\nRules between args:\n") == 0 &&
             buf_appendf(&t, "- `%s` needs ", field(def, "name")) == 0;
        json_array_foreach(needs, k, name) {
            ok = ok && buf_appendf(&t, "%s`%s`", k ? ", " : "", json_string_value(name)) == 0;
        }
    }
    if (!ok) {
        d->oom = 1;
        buf_free(&t);
        return NULL;
    }
    return text_of(d, &t);
}

/* An envelope the engine itself builds (consumed), parsed back for an example. */
static json_t *parsed(struct doc *d, char *text)
{
    json_t *v = text ? jsonparse_answer(text, strlen(text), NULL) : NULL;
    free(text);
    if (!v)
        d->oom = 1;
    return v;
}

/* What an empty call answers: the block's own REQUIRED_FIELDS envelope, or NULL when an empty
 * call is valid. */
static json_t *empty_call_example(struct doc *d, const struct block_def *b)
{
    json_t *none = json_object(), *reasons = NULL, *out = NULL;
    struct prepared p;
    size_t len = 0;
    enum args_status rc = none ? args_prepare(b, none, TEXT_MAX, &p, &reasons) : ARGS_NOMEM;
    if (rc == ARGS_OK)
        args_prepared_free(&p);
    else if (reasons)
        out = parsed(d, envelope_fields(reasons, rc == ARGS_BAD_JSON, &len));
    else
        d->oom = 1;
    json_decref(reasons);
    json_decref(none);
    return out;
}

static json_t *example(const char *summary, json_t *value)
{
    return json_pack("{s:s,s:o}", "summary", summary, "value", value);
}

static json_t *block_responses(struct doc *d, const struct block_def *b)
{
    static const char twilio_error[] = "{\"code\":20003,\"message\":\"Authenticate\",\"more_info\":"
                                       "\"https://www.twilio.com/docs/errors/20003\",\"status\":"
                                       "401}";
    const char *action = field(b->root, "action");
    size_t len = 0;
    json_t *examples = json_object();
    json_t *answer = d->answers ? json_object_get(d->answers, b->name) : NULL;
    if (answer) /* first: a mock (Prism) answers with the first example */
        put(d, examples, "success",
            example(
                "Success: the first call's answer in the sandbox (Twilio's example resource "
                "from its OpenAPI spec)",
                json_pack("{s:s,s:{s:O}}", "callback", "success", "contextWrites", "to", answer)));
    json_t *empty = empty_call_example(d, b);
    if (empty)
        put(d, examples, "requiredFields",
            example("Sent without args: every required arg is listed", empty));
    if (action) { /* a block that calls Twilio */
        put(d, examples, "apiError",
            example(
                "Twilio refused the credentials",
                parsed(d, envelope_api_error(401, action, twilio_error, sizeof twilio_error - 1,
                                             "application/json",
                                             "RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, &len))));
        put(d, examples, "unreachable", ref("examples", "Unreachable"));
    }
    json_t *ok = json_pack(
        "{s:s,s:{s:{s:s,s:{s:s,s:[s]}}},s:{s:{s:{s:[o,o]}}}}", "description",
        "The envelope, whatever the outcome: `callback` is `success` with Twilio's resource in "
        "`contextWrites.to`, or `error` with `status_code` and `status_msg` there.",
        "headers", "Idempotent-Replayed", "description",
        "`true` when this is the stored answer to an earlier request with the same "
        "Idempotency-Key (nothing was sent again).",
        "schema", "type", "string", "enum", "true", "content", "application/json", "schema",
        "oneOf", ref("schemas", "SuccessEnvelope"), ref("schemas", "ErrorEnvelope"));
    json_t *media = json_object_get(json_object_get(ok, "content"), "application/json");
    if (json_object_size(examples))
        put(d, media, "examples", json_incref(examples));
    json_decref(examples);
    json_t *out = json_object();
    put(d, out, "200", ok);
    for (size_t i = 0; i < N_ELEMS(http_errors); i++) {
        char status[8];
        snprintf(status, sizeof status, "%d", status_find(http_errors[i].code)->http);
        put(d, out, status, ref("responses", http_errors[i].name));
    }
    return out;
}

static json_t *block_operation(struct doc *d, const struct block_def *b)
{
    json_t *args = block_example_args(b, 1);
    json_t *op =
        json_pack("{s:s,s:[s],s:O*,s:o}", "operationId", b->name, "tags", "blocks", "summary",
                  json_object_get(b->root, "description"), "description", block_text(d, b));
    put(d, op, "security", json_pack("[{},{s:[]}]", "proxySecret"));
    /* the header only where a repeat can send twice: the blocks with an idempotencyKey arg */
    if (block_role_index(b, ROLE_IDEMPOTENCY_KEY) >= 0)
        put(d, op, "parameters", json_pack("[o]", ref("parameters", "IdempotencyKey")));
    json_t *media = json_pack(
        "{s:{s:[{s:s,s:[s],s:{s:o}},o]},s:{s:o,s:o}}", "schema", "anyOf", "type", "object",
        "required", "args", "properties", "args", args_ref(b), args_ref(b), "examples", "wrapped",
        example("Wrapped, as marketplace gateways send it", json_pack("{s:O}", "args", args)),
        "flat", example("Flat, the args at the top level", json_incref(args)));
    put(d, op, "requestBody",
        json_pack("{s:b,s:{s:o}}", "required", 1, "content", "application/json", media));
    put(d, op, "responses", block_responses(d, b));
    json_decref(args);
    if (!op)
        d->oom = 1;
    return json_pack("{s:o}", "post", op);
}

/* What the marketplace's relay posts for an event: an incoming SMS (as Twilio posts its form
 * fields) for one listener with the examples of its to and reply; unsigned, so it answers in
 * the sandbox (docs/triggers.md shows a signed one). */
static json_t *relay_example(const struct block_def *ev)
{
    json_t *defs = json_object_get(ev->root, "args"), *def, *listener = json_object();
    size_t i;
    json_array_foreach(defs, i, def) {
        const char *name = field(def, "name");
        if (name && (strcmp(name, "to") == 0 || strcmp(name, "reply") == 0) &&
            json_object_get(def, "example"))
            json_object_set(listener, name, json_object_get(def, "example"));
    }
    const char *to = json_string_value(json_object_get(listener, "to"));
    return json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s},s:[o],s:{}}", "body", "MessageSid",
                     "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "AccountSid",
                     "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "From", "+14155552671", "To",
                     to ? to : "+15005550006", "Body", "Is my order ready?", "NumMedia", "0",
                     "params", listener, "headers");
}

/* An event (webhookEvent): the relay's body, {"args": {"body", "params", "headers"}}, each
 * listener of params with the event's args; the answer's http_resp, client_msg and params. */
static json_t *event_operation(struct doc *d, const struct block_def *ev)
{
    struct buf t;
    size_t i;
    json_t *step;
    buf_init(&t, TEXT_MAX);
    int ok = buf_appendz(&t, "The marketplace's webhook relay posts what Twilio posted to the "
                             "trigger's URL: `body` (the form text, or its fields as an object), "
                             "`params` (one listener per active trigger, each with the args "
                             "below) and `headers` (Twilio's: `X-Twilio-Signature`, "
                             "`I-Twilio-Idempotency-Token`). The answer's `http_resp` is the TwiML "
                             "to answer Twilio with (HTTP 200, `Content-Type: text/xml`), "
                             "`client_msg` the payload each workflow in `params` starts with. See "
                             "docs/triggers.md and docs/webhooks.md.\n\nSteps:") == 0;
    json_array_foreach(json_object_get(ev->root, "steps"), i, step) {
        ok = ok && buf_appendf(&t, "\n%zu. %s", i + 1, json_string_value(step)) == 0;
    }
    if (!ok)
        d->oom = 1;
    json_t *op =
        json_pack("{s:s,s:[s],s:O*,s:o}", "operationId", ev->name, "tags", "blocks", "summary",
                  json_object_get(ev->root, "description"), "description", text_of(d, &t));
    put(d, op, "security", json_pack("[{},{s:[]}]", "proxySecret"));
    json_t *media = json_pack(
        "{s:{s:s,s:[s],s:{s:{s:s,s:[s],s:{s:{s:[{s:s},{s:s}]},s:{s:s,s:o},s:{s:s,s:{s:s}}}}}},"
        "s:{s:o}}",
        "schema", "type", "object", "required", "args", "properties", "args", "type", "object",
        "required", "body", "properties", "body", "oneOf", "type", "string", "type", "object",
        "params", "type", "array", "items", args_schema(d, ev), "headers", "type", "object",
        "additionalProperties", "type", "string", "examples", "incomingSms",
        example("An incoming SMS for one listener that replies",
                json_pack("{s:o}", "args", relay_example(ev))));
    put(d, op, "requestBody",
        json_pack("{s:b,s:{s:o}}", "required", 1, "content", "application/json", media));
    put(d, op, "responses", block_responses(d, ev));
    if (!op)
        d->oom = 1;
    return json_pack("{s:o}", "post", op);
}

/* A GET route of the service itself: 200 with schema, or 503 while shutting down. */
static json_t *service_get(const char *id, const char *summary, const char *ok_text, json_t *schema)
{
    return json_pack("{s:{s:s,s:[s],s:s,s:{s:{s:s,s:{s:{s:o}}},s:o}}}", "get", "operationId", id,
                     "tags", "service", "summary", summary, "responses", "200", "description",
                     ok_text, "content", "application/json", "schema", schema, "503",
                     ref("responses", "ShuttingDown"));
}

/* POST /mcp (docs/mcp.md): one JSON-RPC 2.0 message in, its answer out. */
static json_t *mcp_operation(void)
{
    json_t *query = json_pack(
        "[{s:s,s:s,s:s,s:{s:s}},{s:s,s:s,s:s,s:{s:s}}]", "name", "tools", "in", "query",
        "description", "Serve only these tools, comma-separated (sendSms,getMessage).", "schema",
        "type", "string", "name", "toolsets", "in", "query", "description",
        "Serve only these toolsets, comma-separated (messaging, voice, numbers, verify, lookup, "
        "conversations, triggers, advanced).",
        "schema", "type", "string");
    json_t *message = json_pack(
        "{s:s,s:[s,s],s:{s:{s:[s]},s:{s:[{s:s},{s:s}]},s:{s:s,s:s},s:{s:s}}}", "type", "object",
        "required", "jsonrpc", "method", "properties", "jsonrpc", "enum", "2.0", "id", "oneOf",
        "type", "string", "type", "integer", "method", "type", "string", "description",
        "initialize, ping, tools/list, tools/call, or a notification", "params", "type", "object");
    json_t *example = json_pack("{s:s,s:i,s:s}", "jsonrpc", "2.0", "id", 1, "method", "tools/list");
    json_t *rpc = json_pack("{s:{s:{s:s}}}", "application/json", "schema", "type", "object");
    json_t *responses = json_pack(
        "{s:{s:s,s:o},s:{s:s},s:{s:s,s:O},s:o,s:{s:s,s:O},s:o}", "200", "description",
        "A JSON-RPC response: a result, or an error (-32601 unknown method, -32602 unknown tool "
        "or bad params). A tool's failure is a result with isError: true.",
        "content", rpc, "202", "description", "A notification or a response was accepted; no body.",
        "400", "description",
        "Malformed JSON (-32700), a batch or an invalid message (-32600), an unknown "
        "MCP-Protocol-Version, or ?tools= / ?toolsets= naming none.",
        "content", rpc, "401", ref("responses", "Unauthorized"), "403", "description",
        "The request's Origin is not allowed (MCP_ALLOWED_ORIGINS).", "content", rpc, "503",
        ref("responses", "ShuttingDown"));
    return json_pack(
        "{s:{s:s,s:[s],s:s,s:s,s:o,s:{s:b,s:{s:{s:o,s:o}}},s:o}}", "post", "operationId", "mcp",
        "tags", "mcp", "summary",
        "The blocks as Model Context Protocol tools (Streamable HTTP, JSON answers, no session)",
        "description",
        "One JSON-RPC 2.0 message per POST: initialize, ping, tools/list and tools/call (each "
        "block a tool). Credentials travel in the Authorization header (Basic "
        "base64(AccountSid:AuthToken), or Basic base64(ApiKeySid:ApiKeySecret) with "
        "X-Twilio-Account-Sid), never as tool arguments. After initialize, send "
        "MCP-Protocol-Version. GET is answered 405: the server opens no stream. See docs/mcp.md.",
        "parameters", query, "requestBody", "required", 1, "content", "application/json", "schema",
        message, "example", example, "responses", responses);
}

static json_t *paths(struct doc *d, const struct block_set *set)
{
    json_t *out = json_object();
    put(d, out, "/api/twilio",
        service_get("metadata", "The package metadata: every block and its args",
                    "metadata.json's package fields with every block's served definition.",
                    ref("schemas", "Metadata")));
    put(d, out, "/api/twilio/openapi.json",
        service_get("openapi", "This OpenAPI document", "The document you are reading.",
                    json_pack("{s:s}", "type", "object")));
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        struct buf path;
        buf_init(&path, TEXT_MAX);
        if (buf_appendf(&path, "/api/twilio/%s", b->name) < 0)
            d->oom = 1;
        put(d, out, buf_str(&path), block_operation(d, b));
        buf_free(&path);
    }
    for (size_t i = 0; i < block_event_count(set); i++) {
        const struct block_def *ev = block_event_at(set, i);
        struct buf path;
        buf_init(&path, TEXT_MAX);
        if (buf_appendf(&path, "/api/twilio/%s", ev->name) < 0)
            d->oom = 1;
        put(d, out, buf_str(&path), event_operation(d, ev));
        buf_free(&path);
    }
    put(d, out, "/mcp", mcp_operation());
    put(d, out, "/healthz",
        service_get("health", "Health check", "The service is up.", ref("schemas", "Health")));
    return out;
}

static json_t *error_schema(struct doc *d)
{
    json_t *codes = json_array();
    struct buf t;
    int ok = 1;
    buf_init(&t, TEXT_MAX);
    for (size_t i = 0; i < status_count(); i++) {
        const struct status_code *sc = status_at(i);
        push(d, codes, json_string(sc->code));
        ok = ok && buf_appendf(&t, "%s- `%s` (HTTP %d): %s", i ? "\n" : "", sc->code, sc->http,
                               sc->when) == 0;
    }
    if (!ok)
        d->oom = 1;
    json_t *out = json_pack(
        "{s:s,s:[s,s],s:{s:{s:s,s:o,s:o},s:{s:s},s:{s:s,s:s,s:{s:s}},s:{s:s,s:s,s:{s:s}},"
        "s:{s:s,s:s},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s},s:{s:s},s:{s:s},"
        "s:{s:s}}}",
        "type", "object", "required", "status_code", "status_msg", "properties", "status_code",
        "type", "string", "enum", codes, "description", text_of(d, &t), "status_msg", "type",
        "string", "fields", "type", "array", "description",
        "REQUIRED_FIELDS, JSON_VALIDATION: every arg to fix, in the block's order", "items", "type",
        "string", "reasons", "type", "object", "description",
        "REQUIRED_FIELDS, JSON_VALIDATION: why, for each arg in fields", "additionalProperties",
        "type", "string", "code", "type", "integer", "description",
        "API_ERROR: Twilio's error code", "message", "type", "string", "more_info", "type",
        "string", "status", "type", "integer", "description", "API_ERROR: Twilio's HTTP status",
        "twilio_request_id", "type", "string", "description",
        "API_ERROR: Twilio's request id, when it sent one", "line", "type", "integer", "column",
        "type", "integer", "position", "type", "integer", "reason", "type", "string");
    static const char *const counts[][2] = {
        {"total", "sendBulkSms: the list's entries"},
        {"messages", "sendBulkSms: the distinct messages the entries make (duplicates merged)"},
        {"sent", "sendBulkSms: the messages Twilio created (one request each)"},
        {"failed", "sendBulkSms: the messages not created (messages - sent)"},
        {"merged", "sendBulkSms: the entries merged into an earlier one with the same address"},
    };
    json_t *props = json_object_get(out, "properties");
    for (size_t i = 0; i < N_ELEMS(counts); i++)
        put(d, props, counts[i][0],
            json_pack("{s:s,s:s}", "type", "integer", "description", counts[i][1]));
    put(d, props, "results",
        json_pack("{s:s,s:s,s:{s:s}}", "type", "array", "description",
                  "sendBulkSms: one per list entry, in list order: to, sid, status (Twilio's, or "
                  "failed, unknown or not_sent) and, when not sent, its own error",
                  "items", "type", "object"));
    return out;
}

static json_t *envelope_schema(const char *callback, json_t *to)
{
    return json_pack("{s:s,s:[s,s],s:{s:{s:s,s:[s]},s:{s:s,s:[s],s:{s:o}}}}", "type", "object",
                     "required", "callback", "contextWrites", "properties", "callback", "type",
                     "string", "enum", callback, "contextWrites", "type", "object", "required",
                     "to", "properties", "to", to);
}

static json_t *schemas(struct doc *d, const struct block_set *set)
{
    json_t *out = json_object();
    put(d, out, "SuccessEnvelope",
        envelope_schema("success",
                        json_pack("{s:s,s:s}", "type", "object", "description",
                                  "Twilio's resource, byte for byte as Twilio sent "
                                  "it; for sendBulkSms total, messages, sent, failed, merged "
                                  "and results")));
    put(d, out, "ErrorEnvelope", envelope_schema("error", ref("schemas", "Error")));
    put(d, out, "Error", error_schema(d));
    put(d, out, "Metadata",
        json_pack("{s:s,s:[s,s],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:{s:s}},"
                  "s:{s:s},s:{s:s,s:o}}}",
                  "type", "object", "required", "package", "blocks", "properties", "package",
                  "type", "string", "tagline", "type", "string", "description", "type", "string",
                  "image", "type", "string", "repo", "type", "string", "keywords", "type", "array",
                  "items", "type", "string", "accounts", "type", "object", "blocks", "type",
                  "array", "items", ref("schemas", "MetadataBlock")));
    put(d, out, "MetadataBlock",
        json_pack("{s:s,s:[s,s,s,s],s:{s:{s:s},s:{s:s},s:{s:s,s:o},s:{s:s,s:{s:s,s:{s:{s:s},"
                  "s:{s:s}}}}}}",
                  "type", "object", "required", "name", "description", "args", "callbacks",
                  "properties", "name", "type", "string", "description", "type", "string", "args",
                  "type", "array", "items", ref("schemas", "MetadataArg"), "callbacks", "type",
                  "array", "items", "type", "object", "properties", "name", "type", "string",
                  "info", "type", "string"));
    put(d, out, "MetadataArg",
        json_pack("{s:s,s:[s,s,s,s],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:{s:s}},"
                  "s:{s:s}}}",
                  "type", "object", "required", "name", "type", "info", "required", "properties",
                  "name", "type", "string", "type", "type", "string", "info", "type", "string",
                  "required", "type", "boolean", "options", "type", "array", "items", "type",
                  "string", "structure", "type", "object"));
    put(d, out, "Health",
        json_pack("{s:s,s:[s],s:{s:{s:s,s:[s]}}}", "type", "object", "required", "status",
                  "properties", "status", "type", "string", "enum", "ok"));
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        struct buf key;
        buf_init(&key, TEXT_MAX);
        if (buf_appendf(&key, "%sArgs", b->name) < 0)
            d->oom = 1;
        put(d, out, buf_str(&key), args_schema(d, b));
        buf_free(&key);
    }
    return out;
}

static json_t *responses(struct doc *d)
{
    json_t *out = json_object();
    for (size_t i = 0; i < N_ELEMS(http_errors); i++) {
        const struct status_code *sc = status_find(http_errors[i].code);
        size_t len = 0;
        struct buf t;
        buf_init(&t, TEXT_MAX);
        if (buf_appendf(&t, "%s: %s", sc->code, sc->when) < 0)
            d->oom = 1;
        json_t *r =
            put(d, out, http_errors[i].name,
                json_pack("{s:o,s:{s:{s:o,s:o}}}", "description", text_of(d, &t), "content",
                          "application/json", "schema", ref("schemas", "ErrorEnvelope"), "example",
                          parsed(d, envelope_error(http_errors[i].code, http_errors[i].msg, NULL,
                                                   &len))));
        if (sc->http == 503)
            put(d, r, "headers",
                json_pack("{s:{s:s,s:{s:s}}}", "Retry-After", "description",
                          "Seconds to wait before retrying", "schema", "type", "integer"));
    }
    return out;
}

static json_t *components(struct doc *d, const struct block_set *set)
{
    size_t len = 0;
    json_t *out = json_object();
    put(d, out, "schemas", schemas(d, set));
    put(d, out, "responses", responses(d));
    put(d, out, "parameters",
        json_pack("{s:{s:s,s:s,s:b,s:s,s:{s:s,s:i}}}", "IdempotencyKey", "name", "Idempotency-Key",
                  "in", "header", "required", 0, "description",
                  "A key of yours (at most 255 printable ASCII characters) that makes repeats "
                  "safe: a repeat with the same key, credentials and args gets the first answer "
                  "again without calling Twilio. Wins over the idempotencyKey arg.",
                  "schema", "type", "string", "maxLength", 255));
    put(d, out, "examples",
        json_pack("{s:{s:s,s:o}}", "Unreachable", "summary",
                  "Twilio could not be reached; nothing was sent", "value",
                  parsed(d, envelope_error(STATUS_INTERNAL,
                                           "Could not reach Twilio at https://api.twilio.com: "
                                           "connection refused (3 attempts; nothing was sent)",
                                           NULL, &len))));
    put(d, out, "securitySchemes",
        json_pack("{s:{s:s,s:s,s:s,s:s}}", "proxySecret", "type", "apiKey", "in", "header", "name",
                  "X-RapidAPI-Proxy-Secret", "description",
                  "Needed only when the service runs with PROXY_SECRET set; the metadata, this "
                  "document and /healthz stay open."));
    return out;
}

static json_t *info(struct doc *d, const struct block_set *set)
{
    size_t len;
    const char *text = block_metadata(set, &len);
    json_t *meta = jsonparse_answer(text, len, NULL);
    struct buf t;
    buf_init(&t, TEXT_MAX);
    if (!meta ||
        (field(meta, "description") && buf_appendf(&t, "%s\n\n", field(meta, "description")) < 0) ||
        buf_appendz(&t, "Every block is `POST /api/twilio/<block>` with its args as JSON. The "
                        "answer is HTTP 200 with the marketplace envelope whatever the outcome, "
                        "so a workflow branches on `callback`: `success` (Twilio's resource in "
                        "`contextWrites.to`) or `error` (`status_code` and `status_msg` in "
                        "`contextWrites.to`). Generated from the block definitions by "
                        "`twilio-block --openapi`.") < 0)
        d->oom = 1;
    json_t *out = json_pack("{s:s,s:s,s:o}", "title", "twilio-block", "version",
                            TWILIO_BLOCK_VERSION, "description", text_of(d, &t));
    json_decref(meta);
    return out;
}

/* Serialises root (consumed) with a final newline. */
static char *finish(struct doc *d, json_t *root, size_t *len, char *err, size_t errlen)
{
    char *text = !d->oom && root ? json_dumps(root, DUMP_FLAGS) : NULL;
    char *out = NULL;
    json_decref(root);
    if (text) {
        size_t n = strlen(text);
        out = realloc(text, n + 2);
        if (out) {
            out[n] = '\n';
            out[n + 1] = '\0';
            *len = n + 1;
        } else {
            free(text);
        }
    }
    if (!out)
        snprintf(err, errlen, "out of memory while composing the document");
    return out;
}

char *apidoc_openapi(const struct block_set *set, size_t *len, char *err, size_t errlen)
{
    struct doc d = {0};
    d.answers = jsonparse_answer(embedded_answers.text, embedded_answers.len, NULL);
    json_t *root = json_object();
    put(&d, root, "openapi", json_string("3.0.3"));
    put(&d, root, "info", info(&d, set));
    put(&d, root, "servers",
        json_pack("[{s:s,s:s},{s:s,s:s}]", "url", "/", "description",
                  "the service that serves this document at /api/twilio/openapi.json", "url",
                  "http://localhost:8080", "description", "twilio-block on its default port"));
    put(&d, root, "tags",
        json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name", "blocks", "description",
                  "One operation per block, generated from its definition", "name", "service",
                  "description", "The metadata, this document and the health check", "name", "mcp",
                  "description", "The blocks as tools for AI agents (docs/mcp.md)"));
    put(&d, root, "paths", paths(&d, set));
    put(&d, root, "components", components(&d, set));
    char *out = finish(&d, root, len, err, errlen);
    json_decref(d.answers);
    return out;
}

/* The request's documentation pane: the block's description and every arg. */
static json_t *request_text(struct doc *d, const struct block_def *b)
{
    struct buf t;
    size_t i;
    json_t *def;
    const char *description = field(b->root, "description");
    int ok;
    buf_init(&t, TEXT_MAX);
    ok = buf_appendf(&t,
                     "%s\n\n`POST /api/twilio/%s`. The body below holds the args a first call "
                     "needs, with their examples; the credentials come from the collection "
                     "variables. All args:\n",
                     description ? description : b->name, b->name) == 0;
    json_array_foreach(arg_defs(b), i, def) {
        const char *type = field(def, "type"), *text = field(def, "info");
        ok = ok && buf_appendf(&t, "\n- `%s` (%s%s)%s%s", field(def, "name"), type ? type : "?",
                               json_is_true(json_object_get(def, "required")) ? ", required" : "",
                               text ? ": " : "", text ? text : "") == 0;
    }
    if (!ok) {
        d->oom = 1;
        buf_free(&t);
        return NULL;
    }
    return text_of(d, &t);
}

/* The assertions on the envelope that every request runs. */
static json_t *envelope_tests(void)
{
    return json_pack(
        "[{s:s,s:{s:s,s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]}}]", "listen", "test", "script",
        "type", "text/javascript", "exec", "pm.test('HTTP 200', function () {",
        "    pm.response.to.have.status(200);", "});", "pm.test('the body is JSON', function () {",
        "    pm.response.to.be.json;", "});", "pm.test('callback is success', function () {",
        "    const body = pm.response.json();",
        "    pm.expect(body.callback, JSON.stringify(body.contextWrites)).to.eql('success');",
        "});", "pm.test('contextWrites.to is an object', function () {",
        "    const to = (pm.response.json().contextWrites || {}).to;",
        "    pm.expect(to).to.be.an('object');",
        "    if (typeof to.campaignId === 'string') pm.collectionVariables.set('campaignId', "
        "to.campaignId);",
        "});", "pm.test('a signature check holds (valid is true)', function () {",
        "    const to = (pm.response.json().contextWrites || {}).to || {};",
        "    if (pm.request.url.toString().endsWith('/validateWebhookSignature'))",
        "        pm.expect(to.valid, to.reason).to.eql(true);", "});");
}

static json_t *postman_item(struct doc *d, const struct block_def *b)
{
    json_t *args = block_example_args(b, 1);
    size_t i;
    json_t *def;
    char *raw = NULL;
    /* Credentials come from the collection variables of the same name; a campaignId from the
     * createCampaign run before (its test keeps it). */
    json_array_foreach(arg_defs(b), i, def) {
        const char *name = field(def, "name");
        if (name && (is_type(def, "credentials") || strcmp(name, "campaignId") == 0) &&
            json_object_get(args, name))
            put(d, args, name, json_sprintf("{{%s}}", name));
    }
    json_t *body = json_pack("{s:O}", "args", args);
    if (body)
        raw = json_dumps(body, DUMP_FLAGS);
    json_t *item = json_pack(
        "{s:s,s:o,s:{s:s,s:[{s:s,s:s}],s:{s:s,s:s?,s:{s:{s:s}}},s:{s:o,s:[s],s:[s,s,s]},s:o},"
        "s:[]}",
        "name", b->name, "event", envelope_tests(), "request", "method", "POST", "header", "key",
        "Content-Type", "value", "application/json", "body", "mode", "raw", "raw", raw, "options",
        "raw", "language", "json", "url", "raw", json_sprintf("{{baseUrl}}/api/twilio/%s", b->name),
        "host", "{{baseUrl}}", "path", "api", "twilio", b->name, "description", request_text(d, b),
        "response");
    if (!raw || !item)
        d->oom = 1;
    free(raw);
    json_decref(body);
    json_decref(args);
    return item;
}

/* An event's request: the relay's example body, and the same tests as a block's. */
static json_t *postman_event_item(struct doc *d, const struct block_def *ev)
{
    json_t *body = json_pack("{s:o}", "args", relay_example(ev));
    char *raw = body ? json_dumps(body, DUMP_FLAGS) : NULL;
    json_t *item = json_pack(
        "{s:s,s:o,s:{s:s,s:[{s:s,s:s}],s:{s:s,s:s?,s:{s:{s:s}}},s:{s:o,s:[s],s:[s,s,s]},s:s},"
        "s:[]}",
        "name", ev->name, "event", envelope_tests(), "request", "method", "POST", "header", "key",
        "Content-Type", "value", "application/json", "body", "mode", "raw", "raw", raw, "options",
        "raw", "language", "json", "url", "raw",
        json_sprintf("{{baseUrl}}/api/twilio/%s", ev->name), "host", "{{baseUrl}}", "path", "api",
        "twilio", ev->name, "description",
        "The marketplace's webhook relay: what Twilio posted (body), the listeners (params) and "
        "Twilio's headers. The answer's http_resp is the TwiML to answer Twilio with "
        "(Content-Type: text/xml). See docs/triggers.md.",
        "response");
    if (!raw || !item)
        d->oom = 1;
    free(raw);
    json_decref(body);
    return item;
}

/* baseUrl, then every credentials arg of the blocks, in order of first use, valued with its
 * example. */
static json_t *postman_variables(struct doc *d, const struct block_set *set)
{
    json_t *vars = json_pack("[{s:s,s:s,s:s}]", "key", "baseUrl", "value", "http://localhost:8080",
                             "type", "string");
    json_t *seen = json_object();
    for (size_t i = 0; i < block_count(set); i++) {
        size_t k;
        json_t *def;
        json_array_foreach(arg_defs(block_at(set, i)), k, def) {
            const char *name = field(def, "name");
            if (!name || !is_type(def, "credentials") || json_object_get(seen, name))
                continue;
            put(d, seen, name, json_true());
            const char *value = field(def, "example");
            push(d, vars,
                 json_pack("{s:s,s:s,s:s}", "key", name, "value", value ? value : "", "type",
                           "string"));
        }
    }
    push(d, vars,
         json_pack("{s:s,s:s,s:s}", "key", "campaignId", "value",
                   "CPaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "type", "string"));
    json_decref(seen);
    return vars;
}

char *apidoc_postman(const struct block_set *set, size_t *len, char *err, size_t errlen)
{
    struct doc d = {0};
    json_t *items = json_array(), *vars = postman_variables(&d, set);
    struct buf t;
    size_t i;
    json_t *var;
    int ok;
    for (i = 0; i < block_count(set); i++)
        push(&d, items, postman_item(&d, block_at(set, i)));
    for (i = 0; i < block_event_count(set); i++)
        push(&d, items, postman_event_item(&d, block_event_at(set, i)));
    buf_init(&t, TEXT_MAX);
    ok = buf_appendz(&t, "One request per block of twilio-block, generated from the block "
                         "definitions by `twilio-block --postman`. Set the collection "
                         "variables:") == 0;
    json_array_foreach(vars, i, var) {
        ok = ok && buf_appendf(&t, "\n- `%s`: %s", field(var, "key"),
                               !i ? "where the service runs"
                               : strcmp(field(var, "key"), "campaignId") == 0
                                   ? "set by createCampaign's tests"
                                   : "your Twilio credential of that name") == 0;
    }
    ok = ok && buf_appendz(&t, "\n\nEach request's tests check the envelope: HTTP 200, JSON, "
                               "`callback` is `success`, `contextWrites.to` is an "
                               "object, and a signature check answers `valid: true`.") == 0;
    if (!ok)
        d.oom = 1;
    json_t *root =
        json_pack("{s:{s:s,s:o,s:s},s:o,s:o}", "info", "name", "twilio-block", "description",
                  text_of(&d, &t), "schema", POSTMAN_SCHEMA, "item", items, "variable", vars);
    return finish(&d, root, len, err, errlen);
}

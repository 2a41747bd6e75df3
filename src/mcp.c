#define _DEFAULT_SOURCE /* explicit_bzero */
#include "mcp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "envelope.h"
#include "jsonparse.h"
#include "pipeline.h"
#include "value.h"

/* The revisions this server speaks, newest first: initialize answers the client's when it is
 * one of them, and the newest otherwise. */
static const char *const versions[] = {MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26"};
#define N_VERSIONS (sizeof versions / sizeof versions[0])

#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603
#define RPC_SERVER_ERROR -32000 /* transport-level refusals, as the SDK words them */

/* An answer built from what the server already holds (the tool list, a block's envelope, both
 * bounded where they were made): not capped a second time. */
#define MCP_ANSWER_CAP ((size_t)-1)
/* A refusal's text: a sentence, a name the client sent (cut to 127 bytes) and the toolsets. */
#define MCP_MSG_CAP 4096

/* The credentials a tool call needs, told wherever they are missing or wrong. */
#define HOW_TO_AUTH                                                                                \
    "Send your Twilio credentials in the Authorization header of each request to /mcp: "           \
    "Basic base64(AccountSid:AuthToken), or Basic base64(ApiKeySid:ApiKeySecret) with the "        \
    "account in X-Twilio-Account-Sid. They are never tool arguments."

static const char *const allow_post[] = {"Allow", "POST", NULL};

static const char *const credential_names[] = {"accountSid", "accountToken", "apiKeySid",
                                               "apiKeySecret"};

static int host_is_local(const char *host, size_t n)
{
    return (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (n == 9 && memcmp(host, "127.0.0.1", 9) == 0) ||
           (n == 5 && memcmp(host, "[::1]", 5) == 0);
}

/* The host of an origin (scheme://host[:port]), without the port. Anything after the host but
 * a port is refused, so "http://localhost:@evil.com" is no local origin. */
static int origin_host(const char *origin, const char **host, size_t *n)
{
    const char *p = strstr(origin, "://");
    if (!p)
        return -1;
    p += 3;
    if (p[0] == '[') {
        const char *end = strchr(p, ']');
        if (!end)
            return -1;
        *n = (size_t)(end - p) + 1;
    } else {
        *n = strcspn(p, ":/?#@");
    }
    const char *rest = p + *n;
    if (*rest == ':' && rest[1] && strspn(rest + 1, "0123456789") == strlen(rest + 1))
        rest += strlen(rest);
    *host = p;
    return *n && !*rest ? 0 : -1;
}

int mcp_origin_allowed(const char *origin, const char *allowed)
{
    const char *host = NULL;
    size_t n = 0;
    if (!origin)
        return 1;
    int parsed = origin_host(origin, &host, &n) == 0;
    if (parsed && host_is_local(host, n))
        return 1;
    for (const char *p = allowed ? allowed : ""; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, ",");
        size_t t = len;
        while (t && p[t - 1] == ' ')
            t--;
        if (t == 1 && p[0] == '*')
            return 1;
        if (t && memchr(p, ':', t)) { /* a whole origin: scheme, host and port as sent */
            if (strlen(origin) == t && strncasecmp(origin, p, t) == 0)
                return 1;
        } else if (t && parsed && t == n && strncasecmp(host, p, n) == 0) {
            return 1;
        }
        p += len;
    }
    return 0;
}

/* The length of the valid UTF-8 character at p (n bytes left), or 0. As strict as jansson: no
 * overlong forms, surrogates or code points past U+10FFFF. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80   ? 1
                 : p[0] < 0xC2 ? 0
                 : p[0] < 0xE0 ? 2
                 : p[0] < 0xF0 ? 3
                 : p[0] < 0xF5 ? 4
                               : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return len;
}

/* A name as sent, quoted in an error message: at most size - 1 bytes, cut at a character
 * boundary, with control bytes and bytes that are not UTF-8 as '?' (a message must be valid
 * JSON text). */
static void printable(char *out, size_t size, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char *c = (const unsigned char *)s + i;
        size_t len = utf8_char(c, n - i);
        int bad = !len || *c < 0x20 || *c == 0x7f;
        size_t w = bad ? 1 : len;
        if (k + w >= size)
            break;
        if (bad)
            out[k] = '?';
        else
            memcpy(out + k, c, len);
        k += w;
        i += len ? len : 1;
    }
    out[k] = '\0';
}

static char *dump_any(json_t *v)
{
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static void set_body(struct mcp_reply *out, int status, char *body)
{
    out->status = body ? status : 500;
    out->body = body;
    out->len = body ? strlen(body) : 0;
}

/* A JSON-RPC error: id borrowed (NULL: null), data stolen (or NULL). */
static void rpc_error(struct mcp_reply *out, int status, json_t *id, int code, const char *msg,
                      json_t *data)
{
    json_t *err = json_pack("{s:i,s:s}", "code", code, "message", msg);
    if (err && data)
        json_object_set_new(err, "data", data);
    else
        json_decref(data);
    json_t *doc = err ? json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                                  "error", err)
                      : NULL;
    set_body(out, status, doc ? dump_any(doc) : NULL);
    json_decref(doc);
    if (!out->what || strcmp(out->what, "mcp") == 0)
        out->what = "mcp_error";
}

/* A JSON-RPC result: result stolen. */
static void rpc_result(struct mcp_reply *out, json_t *id, json_t *result)
{
    json_t *doc =
        result ? json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result) : NULL;
    set_body(out, 200, doc ? dump_any(doc) : NULL);
    json_decref(doc);
}

/* The tools this URL serves: ?tools=a,b and ?toolsets=x,y (together: either), all without
 * them. Returns 0, or -1 with the unknown name in why. */
static int hexval(int c)
{
    unsigned char u = (unsigned char)c;
    return isdigit(u) ? u - '0' : isxdigit(u) ? (tolower(u) - 'a' + 10) : -1;
}

static int select_tools(const struct mcptools *t, const char *query, unsigned char *sel,
                        struct buf *why)
{
    size_t n = mcptools_count(t);
    int any = 0;
    memset(sel, 0, n);
    for (const char *p = query ? query : ""; *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        int tools = eq && eq - p == 5 && memcmp(p, "tools", 5) == 0;
        int sets = eq && eq - p == 8 && memcmp(p, "toolsets", 8) == 0;
        if (tools || sets) {
            char name[128];
            size_t k = 0;
            for (const char *v = eq + 1;; v++) {
                int end = v == p + len;
                int c = end ? ',' : *v;
                if (!end && c == '%' && v + 2 < p + len && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    c = hexval(v[1]) * 16 + hexval(v[2]);
                    v += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (c != ',' && c != ' ') {
                    if (k + 1 < sizeof name)
                        name[k++] = (char)c;
                } else if (k) {
                    any = 1;
                    if (tools) {
                        long i = mcptools_find(t, name, k);
                        if (i < 0) {
                            long near = mcptools_nearest(t, name, k);
                            char shown[sizeof name];
                            printable(shown, sizeof shown, name, k);
                            buf_appendf(why, "?tools= names no tool \"%s\".", shown);
                            if (near >= 0)
                                buf_appendf(why, " Did you mean %s?",
                                            mcptools_block(t, (size_t)near)->name);
                            return -1;
                        }
                        sel[i] = 1;
                    } else {
                        long s = mcptools_toolset_find(name, k);
                        if (s < 0) {
                            char shown[sizeof name];
                            printable(shown, sizeof shown, name, k);
                            buf_appendf(why,
                                        "?toolsets= names no toolset \"%s\". Toolsets:", shown);
                            for (size_t j = 0; j < mcptools_toolset_count(); j++)
                                buf_appendf(why, "%s %s", j ? "," : "", mcptools_toolset_name(j));
                            buf_appendz(why, ".");
                            return -1;
                        }
                        for (size_t i = 0; i < n; i++)
                            if (strcmp(mcptools_toolset(t, i), mcptools_toolset_name((size_t)s)) ==
                                0)
                                sel[i] = 1;
                    }
                    k = 0;
                }
                if (end)
                    break;
            }
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (!any)
        memset(sel, 1, n);
    return 0;
}

static void initialize(struct mcp_reply *out, json_t *id, json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    const char *chosen = versions[0];
    for (size_t i = 0; asked && i < N_VERSIONS; i++)
        if (strcmp(asked, versions[i]) == 0)
            chosen = versions[i];
    out->what = "mcp";
    rpc_result(out, id,
               json_pack("{s:s,s:{s:{s:b}},s:{s:s,s:s,s:s},s:s}", "protocolVersion", chosen,
                         "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
                         "twilio-block", "title", "Twilio", "version", TWILIO_BLOCK_VERSION,
                         "instructions",
                         "Each tool is one Twilio API call with checked arguments. A failed call "
                         "is a result with isError whose text names each wrong argument and why: "
                         "fix them and call again. Tools that send take an optional "
                         "idempotencyKey: repeat a call with the same key and it is sent once. "
                         "dryRun: true shows the request without sending it."));
}

/* The reply's body: the buffer itself, handed over. */
static void take_body(struct mcp_reply *out, struct buf *b, int bad)
{
    if (bad) {
        buf_free(b);
        set_body(out, 500, NULL);
        return;
    }
    out->status = 200;
    out->body = b->data;
    out->len = b->len;
}

static void list_tools(struct mcp_reply *out, const struct mcptools *t, const unsigned char *sel,
                       json_t *id)
{
    struct buf b;
    char *idtext = dump_any(id);
    int bad = !idtext, first = 1;
    buf_init(&b, MCP_ANSWER_CAP);
    bad = bad || buf_appendf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"tools\":[", idtext);
    for (size_t i = 0; i < mcptools_count(t) && !bad; i++) {
        if (!sel[i])
            continue;
        size_t len;
        const char *json = mcptools_json(t, i, &len);
        bad = (!first && buf_append(&b, ",", 1)) || buf_append(&b, json, len);
        first = 0;
    }
    bad = bad || buf_appendz(&b, "]}}");
    free(idtext);
    out->what = "mcp";
    if (bad) {
        buf_free(&b);
        set_body(out, 500, NULL);
        return;
    }
    take_body(out, &b, 0);
}

/* Appends the n bytes at p as a JSON string. They are JSON text already (Twilio's answer, or
 * one of ours), so valid UTF-8: only quotes, backslashes and control characters are escaped. A
 * tool call answers its resource twice, and this is the whole cost of the second time. */
static int append_json_string(struct buf *b, const char *p, size_t n)
{
    char *w = buf_prepare(b, 6 * n + 2); /* the longest escape: \u00XX */
    if (!w)
        return -1;
    char *start = w;
    *w++ = '"';
    for (size_t i = 0; i < n;) {
        size_t run = i;
        while (run < n && (unsigned char)p[run] >= 0x20 && p[run] != '"' && p[run] != '\\')
            run++;
        memcpy(w, p + i, run - i);
        w += run - i;
        if (run == n)
            break;
        unsigned char c = (unsigned char)p[run];
        *w++ = '\\';
        if (c == '"' || c == '\\')
            *w++ = (char)c;
        else if (c == '\n')
            *w++ = 'n';
        else
            w += snprintf(w, 6, "u%04x", c);
        i = run + 1;
    }
    *w++ = '"';
    buf_commit(b, (size_t)(w - start));
    return 0;
}

/* The result of a tool call: structured (JSON object text, or NULL) as structuredContent and,
 * as text, either text or the same JSON. */
static void tool_result(struct mcp_reply *out, json_t *id, const char *structured, size_t slen,
                        const char *text, size_t tlen, int is_error)
{
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    static const char content[] = ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":";
    static const char sc[] = "}],\"structuredContent\":";
    struct buf b;
    char *idtext = json_is_integer(id) ? NULL : dump_any(id);
    buf_init(&b, MCP_ANSWER_CAP);
    int bad = (!json_is_integer(id) && !idtext) ||
              buf_prepare(&b, 6 * (text ? tlen : slen) + slen + 256) == NULL ||
              buf_append(&b, head, sizeof head - 1) ||
              (idtext ? buf_appendz(&b, idtext)
                      : buf_appendf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(id))) ||
              buf_append(&b, content, sizeof content - 1) ||
              append_json_string(&b, text ? text : structured, text ? tlen : slen);
    if (structured)
        bad = bad || buf_append(&b, sc, sizeof sc - 1) || buf_append(&b, structured, slen);
    else
        bad = bad || buf_append(&b, "}]", 2);
    bad = bad || buf_appendz(&b, is_error ? ",\"isError\":true}}" : ",\"isError\":false}}");
    free(idtext);
    take_body(out, &b, bad);
}

static int is_credential_name(const struct mcptools *t, size_t tool, const char *name)
{
    for (size_t i = 0; i < sizeof credential_names / sizeof credential_names[0]; i++)
        if (strcmp(name, credential_names[i]) == 0)
            return 1;
    return mcptools_is_credential(t, tool, name);
}

/* An error envelope's "to" as a model reads it: the code and message, each field's reason, then
 * the whole object as JSON for anything else it holds (Twilio's code, more_info, ...). */
static void tool_error(struct mcp_reply *out, json_t *id, const struct mcptools *t, size_t tool,
                       json_t *to)
{
    struct buf text;
    const char *key;
    json_t *v;
    char *json = dump_any(to);
    buf_init(&text, MCP_ANSWER_CAP);
    const char *code = json_string_value(json_object_get(to, "status_code"));
    const char *msg = json_string_value(json_object_get(to, "status_msg"));
    int bad = !json || buf_appendf(&text, "%s: %s", code ? code : "ERROR", msg ? msg : "");
    json_object_foreach(json_object_get(to, "reasons"), key, v) {
        bad = bad || buf_appendf(&text, "\n- %s%s: %s", key,
                                 is_credential_name(t, tool, key) ? " (Authorization header)" : "",
                                 json_string_value(v) ? json_string_value(v) : "invalid");
    }
    bad = bad || buf_appendf(&text, "\n%s", json);
    /* A tool with an outputSchema: clients check any structuredContent against it. */
    int structured = !mcptools_has_output(t, tool);
    if (bad)
        set_body(out, 500, NULL);
    else
        tool_result(out, id, structured ? json : NULL, structured ? strlen(json) : 0, text.data,
                    text.len, 1);
    buf_free(&text);
    free(json);
}

/* A tool error of our own (no block call), with one reason per field. reasons is borrowed. */
static void tool_refuse(struct mcp_reply *out, json_t *id, const struct mcptools *t, size_t tool,
                        json_t *reasons)
{
    size_t len;
    char *env = envelope_fields(reasons, 0, &len);
    json_t *doc = env ? jsonparse_answer(env, len, NULL) : NULL;
    free(env);
    json_t *to = json_object_get(json_object_get(doc, "contextWrites"), "to");
    if (to)
        tool_error(out, id, t, tool, to);
    else
        set_body(out, 500, NULL);
    json_decref(doc);
}

/* Puts the Authorization header's credentials into args. Returns 0, or -1 with what is wrong in
 * *why (a static text, never the values). */
static int put_credentials(const struct mcp_request *rq, json_t *args, const char **why)
{
    const char *h = rq->authorization;
    if (!h || !*h) {
        *why = "Missing: no Authorization header. " HOW_TO_AUTH;
        return -1;
    }
    h += strspn(h, " ");
    if (strncasecmp(h, "Basic ", 6) != 0) {
        *why = "The Authorization header is not Basic. " HOW_TO_AUTH;
        return -1;
    }
    h += 6;
    h += strspn(h, " ");
    size_t n = strcspn(h, " ");
    unsigned char *plain = malloc(n + 1);
    long got = plain ? value_b64_decode(h, n, plain, n + 1) : -1;
    size_t k = got < 0 ? 0 : (size_t)got;
    char *colon = k ? memchr(plain, ':', k) : NULL;
    int rc = -1;
    *why = "The Authorization header is not Basic base64(user:password). " HOW_TO_AUTH;
    if (colon) {
        size_t user = (size_t)((unsigned char *)colon - plain);
        int key = user >= 2 && memcmp(plain, "SK", 2) == 0;
        const char *pass = colon + 1;
        size_t pass_len = k - user - 1;
        const char *bad = "A credential is not valid UTF-8 text, or memory ran out. " HOW_TO_AUTH;
        if (key && !(rq->account_sid && *rq->account_sid)) {
            bad = "An API key (SK...) needs the account's SID (AC...) in the "
                  "X-Twilio-Account-Sid header. " HOW_TO_AUTH;
        } else if (key) {
            rc = json_object_set_new(args, "accountSid", json_string(rq->account_sid)) |
                 json_object_set_new(args, "apiKeySid", json_stringn((char *)plain, user)) |
                 json_object_set_new(args, "apiKeySecret", json_stringn(pass, pass_len));
        } else {
            rc = json_object_set_new(args, "accountSid", json_stringn((char *)plain, user)) |
                 json_object_set_new(args, "accountToken", json_stringn(pass, pass_len));
        }
        if (rc)
            *why = bad;
    }
    if (plain) {
        explicit_bzero(plain, n + 1); /* wipes this buffer's copy (args keeps its own) */
        free(plain);
    }
    return rc ? -1 : 0;
}

/* The success envelope's "to", byte for byte (envelope_success_raw's frame), or NULL. */
static const char *success_to(const char *body, size_t len, size_t *n)
{
    static const char head[] = "{\"callback\":\"success\",\"contextWrites\":{\"to\":";
    size_t h = sizeof head - 1;
    if (len < h + 2 || memcmp(body, head, h) != 0 || memcmp(body + len - 2, "}}", 2) != 0)
        return NULL;
    *n = len - h - 2;
    return body + h;
}

static void call_answer(struct mcp_reply *out, json_t *id, const struct mcptools *t, size_t tool,
                        const struct call_answer *a)
{
    size_t n;
    const char *to = a->body ? success_to(a->body, a->len, &n) : NULL;
    if (to) {
        size_t lead = strspn(to, " \t\r\n");
        if (lead < n && to[lead] == '{') {
            tool_result(out, id, to, n, NULL, 0, 0);
            return;
        }
    }
    json_t *doc = a->body ? jsonparse_answer(a->body, a->len, NULL) : NULL;
    const char *callback = json_string_value(json_object_get(doc, "callback"));
    json_t *value = json_object_get(json_object_get(doc, "contextWrites"), "to");
    if (!value) {
        set_body(out, 500, NULL);
    } else if (callback && strcmp(callback, "success") == 0) {
        /* structuredContent is an object: anything else is wrapped */
        json_t *wrapped = json_pack("{s:O}", "result", value);
        char *json = wrapped ? dump_any(wrapped) : NULL;
        if (json)
            tool_result(out, id, json, strlen(json), NULL, 0, 0);
        else
            set_body(out, 500, NULL);
        free(json);
        json_decref(wrapped);
    } else {
        tool_error(out, id, t, tool, value);
    }
    json_decref(doc);
}

static void call_tool(const struct mcp_service *m, const struct mcp_request *rq, CURL **curl,
                      const unsigned char *sel, json_t *id, json_t *params, struct mcp_reply *out)
{
    const struct mcptools *t = m->tools;
    json_t *jname = json_object_get(params, "name");
    json_t *arguments = json_object_get(params, "arguments");
    const char *name = json_string_value(jname);
    if (!name) {
        rpc_error(out, 200, id, RPC_INVALID_PARAMS, "tools/call needs params.name, a string.",
                  NULL);
        return;
    }
    if (json_is_null(arguments))
        arguments = NULL; /* as if left out */
    if (arguments && !json_is_object(arguments)) {
        rpc_error(out, 200, id, RPC_INVALID_PARAMS, "params.arguments must be an object.", NULL);
        return;
    }
    long i = mcptools_find(t, name, json_string_length(jname));
    if (i < 0 || !sel[i]) {
        struct buf msg;
        buf_init(&msg, MCP_MSG_CAP);
        long near = mcptools_nearest(t, name, json_string_length(jname));
        if (near >= 0 && !sel[near])
            near = -1;
        if (i >= 0)
            buf_appendf(&msg, "Tool %s is not served at this URL (see ?tools= and ?toolsets=).",
                        mcptools_block(t, (size_t)i)->name);
        else {
            char shown[65];
            printable(shown, sizeof shown, name, json_string_length(jname));
            buf_appendf(&msg, "Unknown tool: %s.", shown);
        }
        if (near >= 0 && near != i)
            buf_appendf(&msg, " Did you mean %s?", mcptools_block(t, (size_t)near)->name);
        json_t *data = near >= 0 && near != i
                           ? json_pack("{s:s}", "didYouMean", mcptools_block(t, (size_t)near)->name)
                           : NULL;
        rpc_error(out, 200, id, RPC_INVALID_PARAMS, msg.data ? buf_str(&msg) : "Unknown tool.",
                  data);
        buf_free(&msg);
        return;
    }
    const struct block_def *b = mcptools_block(t, (size_t)i);
    out->block = b->name;
    out->what = "invalid_args";
    json_t *reasons = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(arguments, key, v) {
        if (is_credential_name(t, (size_t)i, key)) {
            json_object_set_new(reasons, key,
                                json_string("Credentials are not arguments, and this one was not "
                                            "used. " HOW_TO_AUTH));
        } else if (mcptools_arg(t, (size_t)i, key, strlen(key)) < 0) {
            const char *near = mcptools_nearest_arg(t, (size_t)i, key, strlen(key));
            json_object_set_new(
                reasons, key,
                near ? json_sprintf("Not an argument of %s. Did you mean %s?", b->name, near)
                     : json_sprintf("Not an argument of %s.", b->name));
        }
    }
    json_t *args = json_object_size(reasons) == 0 ? json_copy(arguments ? arguments : NULL) : NULL;
    if (!args && json_object_size(reasons) == 0)
        args = json_object();
    const char *why = NULL;
    if (args && put_credentials(rq, args, &why) < 0) {
        json_object_set_new(reasons, "Authorization", json_string(why));
        json_decref(args);
        args = NULL;
    }
    if (!args) {
        tool_refuse(out, id, t, (size_t)i, reasons);
        json_decref(reasons);
        return;
    }
    json_decref(reasons);
    pipeline_run(m->svc, b, args, curl, NULL, &out->call);
    json_decref(args);
    out->what = out->call.what;
    call_answer(out, id, t, (size_t)i, &out->call);
    free(out->call.body);
    out->call.body = NULL;
}

static int version_known(const char *v)
{
    for (size_t i = 0; i < N_VERSIONS; i++)
        if (strcmp(v, versions[i]) == 0)
            return 1;
    return 0;
}

static int accepts_json(const char *accept)
{
    return !accept || !*accept || strstr(accept, "application/json") || strstr(accept, "*/*") ||
           strstr(accept, "application/*");
}

void mcp_forbidden(struct mcp_reply *out)
{
    memset(out, 0, sizeof *out);
    out->what = "forbidden_origin";
    rpc_error(out, 403, NULL, RPC_SERVER_ERROR,
              "Forbidden: this Origin may not call /mcp (a web page's request; see "
              "MCP_ALLOWED_ORIGINS).",
              NULL);
}

/* The body as one JSON value, or NULL with the parse error answered. */
static json_t *parse_message(const struct mcp_request *rq, struct mcp_reply *out)
{
    struct jsonparse_error jerr;
    json_t *msg =
        jsonparse_loadb(rq->body, rq->len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!msg) {
        char why[240], text[300];
        if (jerr.fault == JSONPARSE_SYNTAX)
            envelope_json_reason(&jerr.json, why, sizeof why);
        else
            jsonparse_fault_text(&jerr, why, sizeof why);
        snprintf(text, sizeof text, "Parse error: %s", why);
        rpc_error(out, 400, NULL, RPC_PARSE_ERROR, text, NULL);
    }
    return msg;
}

/* A well-formed request with an id: the tools the URL's query selects, then its method. */
static void answer_request(const struct mcp_service *m, const struct mcp_request *rq, CURL **curl,
                           json_t *msg, struct mcp_reply *out)
{
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    const char *name = json_string_value(method);
    unsigned char *sel = calloc(mcptools_count(m->tools) + 1, 1);
    struct buf why;
    buf_init(&why, MCP_MSG_CAP);
    json_t *params = json_object_get(msg, "params");
    if (!sel) {
        set_body(out, 500, NULL);
    } else if (params && !json_is_object(params)) {
        rpc_error(out, 200, id, RPC_INVALID_PARAMS, "params must be an object.", NULL);
    } else if (select_tools(m->tools, rq->query, sel, &why) < 0) {
        rpc_error(out, 400, id, RPC_INVALID_PARAMS, why.data ? buf_str(&why) : "bad query", NULL);
    } else if (strcmp(name, "initialize") == 0) {
        initialize(out, id, params);
    } else if (strcmp(name, "ping") == 0) {
        rpc_result(out, id, json_object());
    } else if (strcmp(name, "tools/list") == 0) {
        list_tools(out, m->tools, sel, id);
    } else if (strcmp(name, "tools/call") == 0) {
        call_tool(m, rq, curl, sel, id, params, out);
    } else {
        char text[200], shown[121];
        printable(shown, sizeof shown, name, json_string_length(method));
        snprintf(text, sizeof text, "Method not found: %s (this server offers tools only)", shown);
        rpc_error(out, 200, id, RPC_METHOD_NOT_FOUND, text, NULL);
    }
    buf_free(&why);
    free(sel);
}

void mcp_serve(const struct mcp_service *m, const struct mcp_request *rq, CURL **curl,
               struct mcp_reply *out)
{
    memset(out, 0, sizeof *out);
    out->what = "mcp";
    if (strcmp(rq->method, "POST") != 0) {
        out->headers = allow_post;
        out->what = "method_not_allowed";
        rpc_error(out, 405, NULL, RPC_SERVER_ERROR,
                  "Method not allowed: /mcp takes POST. This server keeps no session and opens "
                  "no stream of its own.",
                  NULL);
        return;
    }
    if (!accepts_json(rq->accept)) {
        rpc_error(out, 406, NULL, RPC_SERVER_ERROR,
                  "Not Acceptable: this server answers application/json; list it in Accept.", NULL);
        return;
    }
    json_t *msg = parse_message(rq, out);
    if (!msg)
        return;
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    const char *name = json_string_value(method);
    if (json_is_array(msg)) {
        rpc_error(out, 400, NULL, RPC_INVALID_REQUEST,
                  "Invalid Request: JSON-RPC batches are not supported (MCP removed them in "
                  "2025-06-18); send one message per POST.",
                  NULL);
        goto done;
    }
    const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!json_is_object(msg) || !jsonrpc || strcmp(jsonrpc, "2.0") != 0 ||
        (id && !json_is_string(id) && !json_is_integer(id)) || (method && !name)) {
        rpc_error(out, 400, json_is_string(id) || json_is_integer(id) ? id : NULL,
                  RPC_INVALID_REQUEST,
                  "Invalid Request: send a JSON-RPC 2.0 object with \"jsonrpc\": \"2.0\", a "
                  "\"method\" and, for a request, an \"id\" (a string or an integer).",
                  NULL);
        goto done;
    }
    if (!name) {
        /* A response to a request of ours (we send none) or a stray: acknowledged. */
        if (id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
            out->status = 202;
            goto done;
        }
        rpc_error(out, 400, id, RPC_INVALID_REQUEST, "Invalid Request: no \"method\".", NULL);
        goto done;
    }
    if (strcmp(name, "initialize") != 0 && rq->protocol_version &&
        !version_known(rq->protocol_version)) {
        rpc_error(out, 400, id, RPC_INVALID_REQUEST,
                  "Bad Request: unsupported MCP-Protocol-Version; this server speaks "
                  "2025-11-25, 2025-06-18 and 2025-03-26.",
                  NULL);
        goto done;
    }
    if (!id) { /* a notification: nothing to answer */
        out->status = 202;
        goto done;
    }
    answer_request(m, rq, curl, msg, out);
done:
    json_decref(msg);
}

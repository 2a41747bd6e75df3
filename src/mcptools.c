#include "mcptools.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonparse.h"
#include "suggest.h"

/* The schemas are strict (one JSON type per argument, no combinators at the top level, where
 * several agent clients refuse them): the engine's loose coercions stay a courtesy for
 * workflow tools, and rules between arguments are told in the description and checked by the
 * block. */

static const char *const toolsets[] = {"messaging",     "voice",    "numbers",  "verify", "lookup",
                                       "conversations", "triggers", "advanced", "other"};
#define N_TOOLSETS (sizeof toolsets / sizeof toolsets[0])

/* ^(SM|MM)[0-9a-fA-F]{32}$: an arg allows a few two-letter SID prefixes. */
#define MCPTOOLS_PATTERN_CAP 1024
/* A tool's description: the block's own, then its rules between arguments told in prose. */
#define MCPTOOLS_DESCRIPTION_CAP (1u << 16)

struct tool {
    const struct block_def *b;
    char *json;
    size_t len;
    size_t toolset;
    int output; /* it has an outputSchema */
};

struct mcptools {
    struct tool *tools;
    size_t n;
};

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int name_has(const char *name, const char *part)
{
    return strstr(name, part) != NULL;
}

/* The toolset of a block, by what it acts on: its product, then the resource its name says. */
static size_t toolset_of(const struct block_def *b)
{
    const char *n = b->name, *product = b->product ? b->product : "";
    const char *set = "other";
    if (has_prefix(n, "poll") || has_prefix(n, "subscribe") || has_prefix(n, "unsubscribe") ||
        strcmp(product, "events") == 0)
        set = "triggers";
    else if (strcmp(product, "verify") == 0)
        set = "verify";
    else if (strcmp(product, "lookups") == 0)
        set = "lookup";
    else if (strcmp(product, "conversations") == 0)
        set = "conversations";
    else if (name_has(n, "Call") || name_has(n, "Recording") || name_has(n, "Transcription"))
        set = "voice";
    else if (name_has(n, "PhoneNumber"))
        set = "numbers";
    else if (name_has(n, "Message") || name_has(n, "Sms") || name_has(n, "Mms") ||
             name_has(n, "Campaign") || b->each)
        set = "messaging";
    else if (block_role_index(b, ROLE_PATH) >= 0)
        set = "advanced";
    size_t k = 0;
    while (k + 1 < N_TOOLSETS && strcmp(toolsets[k], set) != 0)
        k++;
    return k;
}

enum effect { READS, CREATES, CHANGES, ANY };

/* What a call does, by the verb its name starts with (docs/mcp.md, "Annotations"). */
static enum effect effect_of(const struct block_def *b)
{
    static const char *const reads[] = {"get", "list", "poll", "lookup", NULL};
    static const char *const changes[] = {"delete", "redact",      "cancel",
                                          "update", "unsubscribe", NULL};
    static const char *const creates[] = {"send",  "make", "create",    "start",
                                          "check", "add",  "subscribe", NULL};
    for (size_t i = 0; reads[i]; i++)
        if (has_prefix(b->name, reads[i]))
            return READS;
    for (size_t i = 0; changes[i]; i++)
        if (has_prefix(b->name, changes[i]))
            return CHANGES;
    for (size_t i = 0; creates[i]; i++)
        if (has_prefix(b->name, creates[i]))
            return CREATES;
    return ANY; /* twilioRequest and anything unnamed: assume the worst */
}

static json_t *annotations(const struct block_def *b)
{
    enum effect e = effect_of(b);
    /* a block that can be told to replace what is there (subscribeWebhook's replace) may
     * overwrite another's webhook: destructive, whatever its verb */
    int destructive = e == CHANGES || e == ANY || block_arg_index(b, "replace") >= 0;
    /* A repeat changes nothing once a resource is read, deleted, redacted, canceled or (un)
     * subscribed; an update may redirect a call again, a send sends again. */
    int idempotent = e == READS || has_prefix(b->name, "delete") || has_prefix(b->name, "redact") ||
                     has_prefix(b->name, "cancel") || has_prefix(b->name, "subscribe") ||
                     has_prefix(b->name, "unsubscribe");
    return json_pack("{s:b,s:b,s:b,s:b}", "readOnlyHint", e == READS, "destructiveHint",
                     destructive, "idempotentHint", idempotent, "openWorldHint", 1);
}

static int set(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value);
}

/* ^(SM|MM)[0-9a-fA-F]{32}$ from the arg's allowed SID prefixes. */
static json_t *sid_pattern(json_t *prefixes)
{
    struct buf p;
    size_t i;
    json_t *v;
    int bad = 0;
    buf_init(&p, MCPTOOLS_PATTERN_CAP);
    bad |= buf_appendz(&p, "^(");
    if (json_is_string(prefixes))
        bad |= buf_appendz(&p, json_string_value(prefixes));
    json_array_foreach(prefixes, i, v) {
        bad |= buf_appendf(&p, "%s%s", i ? "|" : "", json_string_value(v));
    }
    bad |= buf_appendz(&p, ")[0-9a-fA-F]{32}$");
    json_t *s = bad ? NULL : json_stringn(p.data, p.len);
    buf_free(&p);
    return s;
}

static json_t *string_schema(const struct arg_def *a, json_t *options)
{
    json_t *s = json_pack("{s:s}", "type", "string");
    int bad = !s;
    if (options)
        bad |= set(s, "enum", json_deep_copy(options));
    if (a->max_length >= 0)
        bad |= set(s, "maxLength", json_integer(a->max_length));
    if (a->url)
        bad |= set(s, "format", json_string("uri"));
    if (a->sid_prefixes)
        bad |= set(s, "pattern", sid_pattern(a->sid_prefixes));
    if (bad) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* The args most tools share say in a line what their definitions say in a paragraph: four
 * of them in every tool would take a quarter of the list's budget (docs/mcp.md). */
/* Whether an arg of the block is one of the tool's: not the credentials (the Authorization
 * header gives them), nor the edge, a latency choice no agent has reason to make that would
 * cost every tool's schema its room in the list's budget (TWILIO_EDGE applies). */
static int is_tool_arg(const struct arg_def *a)
{
    return a->type != ARG_CREDENTIALS && a->role != ROLE_EDGE;
}

static const char *role_text(enum arg_role role)
{
    switch (role) {
    case ROLE_REGION:
        return "Twilio region (e.g. au1); default: the service's.";
    case ROLE_DRY_RUN:
        return "true: check the arguments and return the request (secrets masked) unsent.";
    case ROLE_IDEMPOTENCY_KEY:
        return "A key of yours (at most 255 characters): a repeat with the same key and "
               "arguments within 24 hours gets the first answer, unsent.";
    default:
        return NULL;
    }
}

/* One argument's schema: the type an agent should send, the checks a schema can say. */
static json_t *arg_schema(const struct arg_def *a, json_t *def)
{
    json_t *s = NULL;
    int bad = 0;
    switch (a->type) {
    case ARG_STRING:
    case ARG_DATE:
    case ARG_CREDENTIALS:
        s = string_schema(a, NULL);
        break;
    case ARG_SELECT:
        s = string_schema(a, a->options);
        break;
    case ARG_NUMBER:
        s = json_pack("{s:s}", "type", a->decimal ? "number" : "integer");
        if (s && a->has_min)
            bad |= set(s, "minimum", json_integer(a->min));
        if (s && a->has_max)
            bad |= set(s, "maximum", json_integer(a->max));
        break;
    case ARG_BOOLEAN:
        s = json_pack("{s:s}", "type", "boolean");
        break;
    case ARG_LIST: {
        struct arg_def item = *a;
        item.max_length = -1; /* a List's checks are of its items, but for maxLength */
        json_t *items = string_schema(&item, a->options);
        if (a->max_length >= 0 && items)
            bad |= set(items, "maxLength", json_integer(a->max_length));
        s = json_pack("{s:s,s:o}", "type", "array", "items", items);
        if (s && a->min_items >= 0)
            bad |= set(s, "minItems", json_integer(a->min_items));
        if (s && a->max_items >= 0)
            bad |= set(s, "maxItems", json_integer(a->max_items));
        break;
    }
    case ARG_JSON: {
        /* A JSON arg takes an object or an array (or either as text): its example says which. */
        json_t *ex = json_object_get(def, "example");
        s = json_is_array(ex)    ? json_pack("{s:s}", "type", "array")
            : json_is_object(ex) ? json_pack("{s:s}", "type", "object")
                                 : json_object();
        break;
    }
    }
    const char *info = role_text(a->role);
    if (!info)
        info = json_string_value(json_object_get(def, "info"));
    if (s && info)
        bad |= set(s, "description", json_string(info));
    if (bad) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* "Give at least one of from, messagingServiceSid." for each oneOf group, and the same for
 * the exclusive groups. */
static int describe_rules(struct buf *t, const struct block_def *b)
{
    int bad = 0;
    for (size_t g = 0; g < b->n_one_of; g++) {
        bad |= buf_appendz(t, " Give at least one of:");
        for (size_t k = 0; k < b->one_of[g].n; k++)
            bad |= buf_appendf(t, "%s %s", k ? "," : "", b->args[b->one_of[g].idx[k]].name);
        bad |= buf_appendz(t, ".");
    }
    for (size_t g = 0; g < b->n_exclusive; g++) {
        bad |= buf_appendz(t, " Give at most one of:");
        for (size_t k = 0; k < b->exclusive[g].n; k++)
            bad |= buf_appendf(t, "%s %s", k ? "," : "", b->args[b->exclusive[g].idx[k]].name);
        bad |= buf_appendz(t, ".");
    }
    return bad;
}

static json_t *input_schema(const struct block_def *b)
{
    json_t *props = json_object(), *required = json_array();
    json_t *defs = json_object_get(b->root, "args");
    int bad = !props || !required;
    size_t i;
    json_t *def;
    json_array_foreach(defs, i, def) {
        const char *an = json_string_value(json_object_get(def, "name"));
        long k = an ? block_arg_index(b, an) : -1;
        const struct arg_def *a = k >= 0 ? &b->args[k] : NULL;
        if (bad || !a || !is_tool_arg(a))
            continue;
        bad |= set(props, a->name, arg_schema(a, def));
        if (a->required)
            bad |= json_array_append_new(required, json_string(a->name));
    }
    json_t *s = bad ? NULL : json_pack("{s:s,s:O}", "type", "object", "properties", props);
    if (s && json_array_size(required))
        bad |= set(s, "required", json_incref(required));
    if (s)
        bad |= set(s, "additionalProperties", json_false());
    json_decref(props);
    json_decref(required);
    if (bad) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* A polling trigger answers one shape whatever its args (it has no dry run), which the
 * metadata's pollingTriggers entry names: {"items": [...], "cursor": "...", "more": bool}.
 * The other blocks answer Twilio's resource, or the request when dryRun is set: no schema. */
static json_t *output_schema(const struct block_def *b, json_t *meta)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(meta, "pollingTriggers"), i, t) {
        const char *block = json_string_value(json_object_get(t, "block"));
        const char *items = json_string_value(json_object_get(t, "items"));
        const char *cursor = json_string_value(json_object_get(t, "cursor"));
        const char *more = json_string_value(json_object_get(t, "more"));
        if (!block || strcmp(block, b->name) != 0 || !items || !cursor || !more)
            continue;
        return json_pack("{s:s,s:{s:{s:s,s:{s:s}},s:{s:s},s:{s:s}},s:[s,s,s]}", "type", "object",
                         "properties", items, "type", "array", "items", "type", "object", cursor,
                         "type", "string", more, "type", "boolean", "required", items, cursor,
                         more);
    }
    return NULL;
}

static char *tool_json(const struct block_def *b, json_t *meta, int *output, size_t *len)
{
    struct buf text;
    buf_init(&text, MCPTOOLS_DESCRIPTION_CAP);
    const char *desc = json_string_value(json_object_get(b->root, "description"));
    int bad = buf_appendz(&text, desc ? desc : b->name) || describe_rules(&text, b);
    json_t *tool =
        bad ? NULL
            : json_pack("{s:s,s:s%,s:o,s:o}", "name", b->name, "description", text.data, text.len,
                        "inputSchema", input_schema(b), "annotations", annotations(b));
    buf_free(&text);
    json_t *out_schema = tool ? output_schema(b, meta) : NULL;
    *output = out_schema != NULL;
    if (out_schema && json_object_set_new(tool, "outputSchema", out_schema) < 0) {
        json_decref(tool);
        tool = NULL;
    }
    char *out = tool ? json_dumps(tool, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(tool);
    if (out)
        *len = strlen(out);
    return out;
}

/* Whether a block is a tool: it calls Twilio (the relay-only blocks stay out) and its name is
 * one MCP allows. */
static int is_tool(const struct block_def *b)
{
    size_t n = strlen(b->name);
    return !b->handler && !b->event && n >= 1 && n <= 64 &&
           strspn(b->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
               n;
}

struct mcptools *mcptools_build(const struct block_set *set, char *err, size_t errlen)
{
    struct mcptools *t = calloc(1, sizeof *t);
    size_t n = block_count(set);
    if (!t || !(t->tools = calloc(n ? n : 1, sizeof *t->tools))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t mlen;
    const char *mtext = block_metadata(set, &mlen);
    json_t *meta = jsonparse_loadb_capped(mtext, mlen, 0, SIZE_MAX, NULL);
    for (size_t i = 0; i < n; i++) {
        const struct block_def *b = block_at(set, i);
        if (!is_tool(b))
            continue;
        struct tool *tl = &t->tools[t->n];
        tl->b = b;
        tl->toolset = toolset_of(b);
        tl->json = tool_json(b, meta, &tl->output, &tl->len);
        if (!tl->json) {
            snprintf(err, errlen, "%s: cannot describe it as an MCP tool (out of memory)", b->name);
            json_decref(meta);
            mcptools_free(t);
            return NULL;
        }
        t->n++;
    }
    json_decref(meta);
    return t;
}

void mcptools_free(struct mcptools *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->tools[i].json);
    free(t->tools);
    free(t);
}

size_t mcptools_count(const struct mcptools *t)
{
    return t->n;
}

const struct block_def *mcptools_block(const struct mcptools *t, size_t i)
{
    return t->tools[i].b;
}

const char *mcptools_json(const struct mcptools *t, size_t i, size_t *len)
{
    *len = t->tools[i].len;
    return t->tools[i].json;
}

int mcptools_has_output(const struct mcptools *t, size_t i)
{
    return t->tools[i].output;
}

const char *mcptools_toolset(const struct mcptools *t, size_t i)
{
    return toolsets[t->tools[i].toolset];
}

long mcptools_find(const struct mcptools *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n; i++) {
        const char *n = t->tools[i].b->name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (long)i;
    }
    return -1;
}

long mcptools_nearest(const struct mcptools *t, const char *name, size_t len)
{
    const char *names[256];
    size_t n = 0;
    for (size_t i = 0; i < t->n && n < sizeof names / sizeof names[0]; i++)
        names[n++] = t->tools[i].b->name;
    return suggest_nearest(name, len, names, n);
}

size_t mcptools_toolset_count(void)
{
    return N_TOOLSETS;
}

const char *mcptools_toolset_name(size_t k)
{
    return toolsets[k];
}

long mcptools_toolset_find(const char *name, size_t len)
{
    for (size_t k = 0; k < N_TOOLSETS; k++)
        if (strlen(toolsets[k]) == len && memcmp(toolsets[k], name, len) == 0)
            return (long)k;
    return -1;
}

int mcptools_is_credential(const struct mcptools *t, size_t i, const char *name)
{
    long k = block_arg_index(t->tools[i].b, name);
    return k >= 0 && t->tools[i].b->args[k].type == ARG_CREDENTIALS;
}

long mcptools_arg(const struct mcptools *t, size_t i, const char *name, size_t len)
{
    const struct block_def *b = t->tools[i].b;
    for (size_t k = 0; k < b->n_args; k++) {
        if (strlen(b->args[k].name) == len && memcmp(b->args[k].name, name, len) == 0)
            return is_tool_arg(&b->args[k]) ? (long)k : -1;
    }
    return -1;
}

const char *mcptools_nearest_arg(const struct mcptools *t, size_t i, const char *name, size_t len)
{
    const struct block_def *b = t->tools[i].b;
    const char *names[128];
    size_t n = 0;
    for (size_t k = 0; k < b->n_args && n < sizeof names / sizeof names[0]; k++)
        if (is_tool_arg(&b->args[k]))
            names[n++] = b->args[k].name;
    long near = suggest_nearest(name, len, names, n);
    return near >= 0 ? names[near] : NULL;
}

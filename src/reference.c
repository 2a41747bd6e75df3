#include "reference.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonparse.h"

#define TEXT_MAX (4u << 20)

/* Writing the document is a long run of appends; a failed one is noted and the document refused
 * at the end. */
struct md {
    struct buf out;
    int bad;
};

#define PUT(m, ...) ((m)->bad |= buf_appendf(&(m)->out, __VA_ARGS__) < 0)

static const char *field(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Text for a table cell: a | would end the cell (also inside a code span), a line break the
 * row, and outside code a < could open an HTML tag (<Response/>). */
static void text_in(struct md *m, const char *text, int code)
{
    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == '|')
            PUT(m, "\\|");
        else if (*p == '\n' || *p == '\r')
            PUT(m, " ");
        else if (*p == '<' && !code)
            PUT(m, "&lt;");
        else
            PUT(m, "%c", *p);
    }
}

static void cell(struct md *m, const char *text)
{
    text_in(m, text, 0);
}

/* A JSON value as a code span in a cell. */
static void code_cell(struct md *m, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!text) {
        m->bad = 1;
        return;
    }
    PUT(m, "`");
    text_in(m, text, 1);
    PUT(m, "`");
    free(text);
}

/* `a`, `b` or `c`, from a list of strings. */
static void names(struct md *m, json_t *list, const char *last)
{
    size_t i, n = json_array_size(list);
    json_t *v;
    json_array_foreach(list, i, v) {
        PUT(m, "%s`", i == 0 ? "" : i + 1 == n ? last : ", ");
        text_in(m, json_string_value(v), 1);
        PUT(m, "`");
    }
}

static int is_placeholder(const struct block_def *b, const char *name)
{
    char want[160];
    snprintf(want, sizeof want, "{%s}", name);
    return b->path && strstr(b->path, want) != NULL;
}

/* Where an arg goes in the Twilio request. */
static void sent_as(struct md *m, const struct block_def *b, const struct arg_def *a)
{
    static const char *const roles[] = {
        [ROLE_DRY_RUN] = "(dry run)",
        [ROLE_NEXT_PAGE] = "path and query",
        [ROLE_EDGE] = "host",
        [ROLE_REGION] = "host",
        [ROLE_PRODUCT] = "host",
        [ROLE_METHOD] = "method",
        [ROLE_PATH] = "path",
        [ROLE_PARAMS] = "each member a parameter",
        [ROLE_IDEMPOTENCY_KEY] = "(Idempotency-Key)",
    };
    if (a->param) {
        PUT(m, "`%s`", a->param);
        if (a->join)
            PUT(m, " (items joined by `%s`)", a->join);
    } else if (a->header) {
        PUT(m, "header `%s`", a->header);
    } else if (a->type == ARG_CREDENTIALS) {
        PUT(m, "%s",
            b->handler || b->event       ? ""
            : is_placeholder(b, a->name) ? "path, basic auth"
                                         : "basic auth");
    } else if (is_placeholder(b, a->name)) {
        PUT(m, "path");
    } else if (a->role && a->role != ROLE_MESSAGE_BODY && roles[a->role]) {
        PUT(m, "%s", roles[a->role]);
    }
}

static void arg_row(struct md *m, const struct block_def *b, size_t k)
{
    const struct arg_def *a = &b->args[k];
    json_t *def = json_array_get(json_object_get(b->root, "args"), k);
    json_t *structure = json_object_get(def, "structure");
    PUT(m, "| `%s` | %s", a->name, field(def, "type"));
    if (structure)
        PUT(m, " of %s", field(structure, "type"));
    PUT(m, " | %s | ", a->required ? "yes" : "");
    sent_as(m, b, a);
    PUT(m, " | ");
    cell(m, field(def, "info"));
    if (a->options) {
        PUT(m, " %s: ", structure ? "Each one of" : "One of");
        names(m, a->options, ", ");
        PUT(m, ".");
    }
    if (a->secret && a->type != ARG_CREDENTIALS)
        PUT(m, " Masked in dry runs.");
    PUT(m, " | ");
    if (json_object_get(def, "example"))
        code_cell(m, json_object_get(def, "example"));
    PUT(m, " |\n");
}

/* The Twilio request a block makes, as one line; where its parameters go when where is set. */
static void twilio_call(struct md *m, const struct block_def *b, int where)
{
    if (b->handler) {
        PUT(m, "none: the service answers it itself");
    } else if (!b->method) {
        PUT(m, "the args' `method` on `https://{product}.twilio.com` at their `path`");
    } else {
        PUT(m, "`%s https://%s.twilio.com%s`", b->method, b->product, b->path);
        if (where && strcmp(b->method, "POST") != 0)
            PUT(m, ", parameters in the query string");
    }
}

static void rules(struct md *m, const struct block_def *b)
{
    json_t *root = b->root;
    size_t i;
    json_t *group;
    int any = 0;
#define RULE() PUT(m, "%s- ", any++ ? "" : "\n**Rules between args**\n\n")
    if (b->n_auth) {
        RULE();
        PUT(m, "Credentials: ");
        json_array_foreach(json_object_get(root, "auth"), i, group) {
            PUT(m, "%s", i ? ", or " : "");
            names(m, group, " with ");
        }
        PUT(m, "; the first pair given whole is used.\n");
    }
    json_array_foreach(json_object_get(root, "oneOf"), i, group) {
        RULE();
        PUT(m, "At least one of ");
        names(m, group, " or ");
        PUT(m, ".\n");
    }
    json_array_foreach(json_object_get(root, "exclusive"), i, group) {
        RULE();
        PUT(m, "At most one of ");
        names(m, group, " or ");
        PUT(m, ".\n");
    }
    json_t *def;
    json_array_foreach(json_object_get(root, "args"), i, def) {
        json_t *needs = json_object_get(def, "requires");
        if (!json_array_size(needs))
            continue;
        RULE();
        PUT(m, "`%s` needs ", field(def, "name"));
        names(m, needs, " and ");
        PUT(m, ".\n");
    }
#undef RULE
}

static void section(struct md *m, const struct block_def *b)
{
    PUT(m, "\n## %s\n\n", b->name);
    if (b->event)
        PUT(m,
            "An event: the marketplace's webhook relay calls `POST /api/twilio/%s`; the args "
            "below are each listener's.\n\n",
            b->name);
    cell(m, field(b->root, "description"));
    PUT(m, "\n\n- Twilio call: ");
    twilio_call(m, b, 1);
    if (b->action)
        PUT(m, " (errors say \"Unable to %s\")", b->action);
    PUT(m, "\n");
    if (block_role_index(b, ROLE_DRY_RUN) >= 0)
        PUT(m, "- Dry run: `dryRun` shows the request instead of sending it\n");
    if (block_role_index(b, ROLE_IDEMPOTENCY_KEY) >= 0)
        PUT(m, "- Idempotency-Key: a repeat with the same key and args gets the first answer "
               "again, without calling Twilio\n");
    if (block_role_index(b, ROLE_NEXT_PAGE) >= 0)
        PUT(m, "- Paging: give a page's `next_page_uri` as `nextPageUri` for the next one\n");
    if (b->content_list)
        PUT(m, "- Each item of `%s` in the answer gets `%s`, the URL of its content\n",
            b->content_list, b->content_key);
    rules(m, b);
    PUT(m, "\n| arg | type | required | sent as | what | example |\n"
           "|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < b->n_args; k++)
        arg_row(m, b, k);
    if (b->event)
        return;
    json_t *args = block_example_args(b, 1);
    json_t *body = args ? json_pack("{s:O}", "args", args) : NULL;
    char *text = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        PUT(m, "\nA first call (`POST /api/twilio/%s`):\n\n```json\n%s\n```\n", b->name, text);
    else
        m->bad = 1;
    free(text);
    json_decref(body);
    json_decref(args);
}

char *reference_markdown(const struct block_set *set, size_t *len, char *err, size_t errlen)
{
    struct md m = {.bad = 0};
    size_t n = block_count(set), metadata_len;
    buf_init(&m.out, TEXT_MAX);
    PUT(&m, "# Block reference\n\n"
            "Generated from the block definitions ([blocks/](../blocks)) by "
            "`twilio-block --reference`: do not edit it by hand. After changing a block, run "
            "`cmake --build build --target apidocs` and commit the result; the test "
            "`apidoc_committed` fails while this file is out of date.\n\n"
            "Every block is `POST /api/twilio/<block>` with its args as JSON, wrapped "
            "(`{\"args\": {...}}`) or flat, and answers HTTP 200 with the envelope "
            "([envelope.md](envelope.md)). The hosts below are Twilio's; `edge` and `region` "
            "make them `https://{product}.{edge}.{region}.twilio.com`, and `TWILIO_API_BASE` "
            "replaces every one of them. How loose values are read (lists, booleans, numbers, "
            "phone numbers) is in [calling.md](calling.md#how-args-are-read).\n\n"
            "| block | what it does | Twilio call |\n|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const struct block_def *b = block_at(set, i);
        PUT(&m, "| [`%s`](#", b->name);
        for (const char *p = b->name; *p; p++) /* GitHub's anchors: the heading in lower case */
            PUT(&m, "%c", (char)tolower((unsigned char)*p));
        PUT(&m, ") | ");
        cell(&m, field(b->root, "description"));
        PUT(&m, " | ");
        twilio_call(&m, b, 0);
        PUT(&m, " |\n");
    }
    for (size_t i = 0; i < n; i++)
        section(&m, block_at(set, i));
    const char *metadata = block_metadata(set, &metadata_len);
    json_t *meta = jsonparse_answer(metadata, metadata_len, NULL);
    size_t i;
    json_t *event;
    json_array_foreach(json_object_get(meta, "events"), i, event) {
        const char *name = field(event, "name");
        const struct block_def *e = name ? block_find_event(set, name, strlen(name)) : NULL;
        if (e)
            section(&m, e);
        else
            m.bad = 1;
    }
    json_decref(meta);
    char *out = NULL;
    if (!m.bad && m.out.data) {
        out = m.out.data;
        *len = m.out.len;
        m.out.data = NULL;
    } else {
        snprintf(err, errlen, "out of memory while composing the reference");
    }
    buf_free(&m.out);
    return out;
}

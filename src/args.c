#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "form.h"
#include "jsonlimit.h"

#define REASON_MAX 256

struct text {
    const char *p;
    size_t n;
};

struct ctx {
    const struct block_def *b;
    struct prepared *out;
    json_t *reasons;
    struct text *scalar; /* the value of each arg sent outside the form (path, auth) */
    unsigned char *present;
    int bad_json;   /* JSON-typed args that failed to parse */
    int other_bad;  /* every other failure */
    int nomem;
};

static void fail(struct ctx *c, const struct arg_def *a, int is_json, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct ctx *c, const struct arg_def *a, int is_json, const char *fmt, ...)
{
    char reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (json_object_get(c->reasons, a->name))
        return; /* the first reason for a field is the one to fix first */
    if (json_object_set_new(c->reasons, a->name, json_string(reason)) < 0)
        c->nomem = 1;
    if (is_json)
        c->bad_json++;
    else
        c->other_bad++;
}

static struct text trim(struct text t)
{
    while (t.n && isspace((unsigned char)t.p[0])) {
        t.p++;
        t.n--;
    }
    while (t.n && isspace((unsigned char)t.p[t.n - 1]))
        t.n--;
    return t;
}

static int is_absent(json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* A scalar as text: strings as they are, numbers and booleans as JSON writes them. */
static int scalar_text(json_t *v, char *tmp, size_t tmplen, struct text *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->p = json_string_value(v);
        out->n = json_string_length(v);
        return 0;
    case JSON_INTEGER:
        out->n = (size_t)snprintf(tmp, tmplen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        out->p = tmp;
        return 0;
    case JSON_REAL:
        out->n = (size_t)snprintf(tmp, tmplen, "%.17g", json_real_value(v));
        out->p = tmp;
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        out->p = json_is_true(v) ? "true" : "false";
        out->n = strlen(out->p);
        return 0;
    default:
        return -1;
    }
}

static size_t utf8_chars(struct text t)
{
    size_t n = 0;
    for (size_t i = 0; i < t.n; i++)
        n += ((unsigned char)t.p[i] & 0xC0) != 0x80;
    return n;
}

static int is_hex(char ch)
{
    return isxdigit((unsigned char)ch) != 0;
}

/* Phone numbers: separators people type are dropped; what is left must be an optional '+'
 * and 3 to 15 digits (E.164 allows 15; short codes are shorter). */
static int normalize_phone(struct text t, struct buf *norm)
{
    size_t digits = 0;
    buf_reset(norm);
    for (size_t i = 0; i < t.n; i++) {
        char ch = t.p[i];
        if (ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')' || ch == '\t')
            continue;
        if (ch == '+' && norm->len == 0) {
            if (buf_append(norm, "+", 1) < 0)
                return -1;
            continue;
        }
        if (ch < '0' || ch > '9')
            return -1;
        if (buf_append(norm, &ch, 1) < 0)
            return -1;
        digits++;
    }
    return digits >= 3 && digits <= 15 ? 0 : -1;
}

static int alphanumeric_sender(struct text t)
{
    int letters = 0;
    if (t.n == 0 || t.n > 11)
        return 0;
    for (size_t i = 0; i < t.n; i++) {
        unsigned char ch = (unsigned char)t.p[i];
        if (isalpha(ch))
            letters++;
        else if (!isdigit(ch) && ch != ' ')
            return 0;
    }
    return letters > 0;
}

/* Addresses: a phone number, a channel address (whatsapp:+1..., client:name, sip:...,
 * messenger:..., any other scheme: Twilio adds channels) and, for senders, short codes and
 * alphanumeric sender IDs. Only what is certainly wrong is refused. */
static int check_address(enum addr_kind kind, struct text t, struct buf *norm)
{
    const char *colon = memchr(t.p, ':', t.n);
    if (colon) {
        size_t scheme = (size_t)(colon - t.p);
        struct text rest = {colon + 1, t.n - scheme - 1};
        if (scheme == 0 || rest.n == 0)
            return -1;
        for (size_t i = 0; i < scheme; i++)
            if (!isalpha((unsigned char)t.p[i]))
                return -1;
        if (scheme == 8 && strncasecmp(t.p, "whatsapp", 8) == 0) {
            struct buf phone;
            buf_init(&phone, 64);
            int rc = normalize_phone(rest, &phone);
            buf_reset(norm);
            if (rc == 0)
                rc = buf_appendz(norm, "whatsapp:") < 0 || buf_appendz(norm, buf_str(&phone)) < 0
                         ? -1
                         : 0;
            buf_free(&phone);
            return rc;
        }
        for (size_t i = 0; i < rest.n; i++)
            if (isspace((unsigned char)rest.p[i]) || iscntrl((unsigned char)rest.p[i]))
                return -1;
        buf_reset(norm);
        return buf_append(norm, t.p, t.n);
    }
    if (normalize_phone(t, norm) == 0)
        return 0;
    if (kind == ADDR_FROM && alphanumeric_sender(t)) {
        buf_reset(norm);
        return buf_append(norm, t.p, t.n);
    }
    return -1;
}

static int check_sid(const char *prefix, struct text t)
{
    if (t.n != 34 || t.p[0] != prefix[0] || t.p[1] != prefix[1])
        return -1;
    for (size_t i = 2; i < 34; i++)
        if (!is_hex(t.p[i]))
            return -1;
    return 0;
}

static int check_url(struct text t)
{
    size_t skip;
    if (t.n > 8 && strncasecmp(t.p, "https://", 8) == 0)
        skip = 8;
    else if (t.n > 7 && strncasecmp(t.p, "http://", 7) == 0)
        skip = 7;
    else
        return -1;
    if (t.p[skip] == '/' || t.p[skip] == '?' || t.p[skip] == '#')
        return -1;
    for (size_t i = 0; i < t.n; i++)
        if (isspace((unsigned char)t.p[i]) || iscntrl((unsigned char)t.p[i]))
            return -1;
    return 0;
}

static int emit(struct ctx *c, const struct arg_def *a, struct text t)
{
    if (a->param && form_add(&c->out->form, a->param, t.p, t.n) < 0) {
        c->nomem = 1;
        return -1;
    }
    return 0;
}

/* Checks one string value (an arg, or an item of a List); writes the text to send in *send,
 * which may point into norm. Returns 0, or -1 after recording the reason. */
static int check_string(struct ctx *c, const struct arg_def *a, struct text t, struct buf *norm,
                        const char *item, struct text *send)
{
    *send = t;
    if (a->address) {
        if (check_address(a->address, t, norm) < 0) {
            fail(c, a, 0, "%smust be a phone number in E.164 format (+14155552671)%s", item,
                 a->address == ADDR_FROM
                     ? ", a whatsapp:, client: or sip: address, a short code or an alphanumeric "
                       "sender ID (up to 11 letters, digits and spaces)"
                     : " or a whatsapp:, client: or sip: address");
            return -1;
        }
        send->p = buf_str(norm);
        send->n = norm->len;
    }
    if (a->sid_prefix && check_sid(a->sid_prefix, t) < 0) {
        fail(c, a, 0, "%smust be a SID: %s followed by 32 hexadecimal digits", item, a->sid_prefix);
        return -1;
    }
    if (a->url && check_url(t) < 0) {
        fail(c, a, 0, "%smust be an absolute http:// or https:// URL", item);
        return -1;
    }
    if (a->charset) {
        for (size_t i = 0; i < t.n; i++) {
            if (!strchr(a->charset, t.p[i]) || t.p[i] == '\0') {
                fail(c, a, 0, "%smay only contain the characters %s", item, a->charset);
                return -1;
            }
        }
    }
    if (a->max_length >= 0) {
        size_t chars = utf8_chars(t);
        if (chars > (size_t)a->max_length) {
            fail(c, a, 0, "%smust be at most %ld characters (got %zu)", item, a->max_length,
                 chars);
            return -1;
        }
    }
    if (a->options) {
        size_t i;
        json_t *opt;
        json_array_foreach(a->options, i, opt) {
            const char *o = json_string_value(opt);
            if (strlen(o) == t.n && strncasecmp(o, t.p, t.n) == 0) {
                send->p = o;
                send->n = t.n;
                return 0;
            }
        }
        char list[REASON_MAX / 2] = "";
        size_t used = 0;
        json_array_foreach(a->options, i, opt) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                             json_string_value(opt));
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        fail(c, a, 0, "%smust be one of: %s", item, list);
        return -1;
    }
    return 0;
}

/* Text args that carry identifiers are trimmed; free text (a message body) is sent as typed. */
static int trims(const struct arg_def *a)
{
    return a->type == ARG_CREDENTIALS || a->type == ARG_SELECT || a->type == ARG_DATE ||
           a->type == ARG_LIST || a->address || a->sid_prefix || a->url || a->charset;
}

static void take_string(struct ctx *c, size_t i, json_t *v)
{
    const struct arg_def *a = &c->b->args[i];
    char tmp[64];
    struct text t, send;
    struct buf norm;
    if (scalar_text(v, tmp, sizeof tmp, &t) < 0) {
        fail(c, a, 0, "must be a string, not %s", json_is_object(v) ? "an object" : "a list");
        return;
    }
    if (t.p == tmp && !a->param) {
        fail(c, a, 0, "must be a string");
        return;
    }
    if (trims(a))
        t = trim(t);
    if (t.n == 0)
        return; /* whitespace only: absent */
    if (a->type == ARG_CREDENTIALS) { /* a pasted trailing newline was trimmed above */
        for (size_t k = 0; k < t.n; k++) {
            if ((unsigned char)t.p[k] < 0x20 || t.p[k] == 0x7f) {
                fail(c, a, 0, "must not contain control characters (line breaks, tabs)");
                return;
            }
        }
    }

    c->present[i] = 1;
    buf_init(&norm, 1024);
    if (check_string(c, a, t, &norm, "", &send) == 0) {
        if (!a->param)
            c->scalar[i] = t;
        emit(c, a, send);
    }
    buf_free(&norm);
}

static void take_number(struct ctx *c, size_t i, json_t *v)
{
    const struct arg_def *a = &c->b->args[i];
    char tmp[64];
    struct text t;
    long long iv = 0;
    double dv = 0;
    int integral = 1;
    if (json_is_integer(v)) {
        iv = json_integer_value(v);
    } else if (json_is_real(v)) {
        dv = json_real_value(v);
        integral = dv == floor(dv) && fabs(dv) < 9e15;
        if (integral)
            iv = (long long)dv; /* only in range: a cast of 1e300 is undefined */
    } else if (json_is_string(v)) {
        t = trim((struct text){json_string_value(v), json_string_length(v)});
        if (t.n == 0 || t.n >= sizeof tmp)
            goto bad;
        memcpy(tmp, t.p, t.n);
        tmp[t.n] = '\0';
        char *end;
        errno = 0;
        iv = strtoll(tmp, &end, 10);
        if (errno || *end) {
            if (!a->decimal)
                goto bad;
            errno = 0;
            dv = strtod(tmp, &end);
            if (errno || *end || !isfinite(dv) || !isdigit((unsigned char)tmp[t.n - 1]))
                goto bad;
            integral = 0;
        }
    } else {
        goto bad;
    }
    if (!integral && !a->decimal) {
        fail(c, a, 0, "must be a whole number");
        return;
    }
    c->present[i] = 1;
    double cmp = integral ? (double)iv : dv;
    if ((a->has_min && cmp < (double)a->min) || (a->has_max && cmp > (double)a->max)) {
        if (a->has_min && a->has_max)
            fail(c, a, 0, "must be from %lld to %lld", a->min, a->max);
        else if (a->has_min)
            fail(c, a, 0, "must be at least %lld", a->min);
        else
            fail(c, a, 0, "must be at most %lld", a->max);
        return;
    }
    if (integral)
        t.n = (size_t)snprintf(tmp, sizeof tmp, "%lld", iv);
    else
        t.n = (size_t)snprintf(tmp, sizeof tmp, "%.15g", dv);
    t.p = tmp;
    emit(c, a, t);
    return;
bad:
    fail(c, a, 0, a->decimal ? "must be a number" : "must be a whole number");
}

static void take_boolean(struct ctx *c, size_t i, json_t *v)
{
    const struct arg_def *a = &c->b->args[i];
    int value = -1;
    if (json_is_boolean(v)) {
        value = json_is_true(v);
    } else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        value = (int)json_integer_value(v);
    } else if (json_is_string(v)) {
        struct text t = trim((struct text){json_string_value(v), json_string_length(v)});
        static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {"false", "0", "no"};
        for (size_t k = 0; k < 3; k++) {
            if (t.n == strlen(yes[k]) && strncasecmp(t.p, yes[k], t.n) == 0)
                value = 1;
            if (t.n == strlen(no[k]) && strncasecmp(t.p, no[k], t.n) == 0)
                value = 0;
        }
    }
    if (value < 0) {
        fail(c, a, 0, "must be true or false");
        return;
    }
    c->present[i] = 1;
    emit(c, a, value ? (struct text){"true", 4} : (struct text){"false", 5});
}

static void take_list_item(struct ctx *c, size_t i, struct text t, size_t *count, size_t pos)
{
    const struct arg_def *a = &c->b->args[i];
    char item[32];
    struct text send;
    struct buf norm;
    t = trim(t);
    if (t.n == 0)
        return;
    (*count)++;
    snprintf(item, sizeof item, "item %zu ", pos + 1);
    buf_init(&norm, 1024);
    if (check_string(c, a, t, &norm, item, &send) == 0)
        emit(c, a, send);
    buf_free(&norm);
}

static void take_list(struct ctx *c, size_t i, json_t *v)
{
    const struct arg_def *a = &c->b->args[i];
    size_t count = 0;
    if (json_is_array(v)) {
        size_t k;
        json_t *item;
        json_array_foreach(v, k, item) {
            char tmp[64];
            struct text t;
            if (is_absent(item))
                continue;
            if (scalar_text(item, tmp, sizeof tmp, &t) < 0) {
                fail(c, a, 0, "item %zu must be a string", k + 1);
                return;
            }
            take_list_item(c, i, t, &count, k);
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), start = 0, pos = 0;
        for (size_t k = 0; k <= n; k++) {
            if (k == n || s[k] == ',') {
                take_list_item(c, i, (struct text){s + start, k - start}, &count, pos++);
                start = k + 1;
            }
        }
    } else {
        fail(c, a, 0, "must be a list or a comma-separated string");
        return;
    }
    if (json_object_get(c->reasons, a->name))
        return;
    if (count == 0)
        return; /* no items: absent, so required and oneOf rules speak */
    c->present[i] = 1;
    if (a->min_items >= 0 && count < (size_t)a->min_items)
        fail(c, a, 0, "must have at least %ld items (got %zu)", a->min_items, count);
    else if (a->max_items >= 0 && count > (size_t)a->max_items)
        fail(c, a, 0, "must have at most %ld items (got %zu)", a->max_items, count);
}

static void take_json(struct ctx *c, size_t i, json_t *v)
{
    const struct arg_def *a = &c->b->args[i];
    c->present[i] = 1;
    if (json_is_object(v) || json_is_array(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
            c->nomem = 1;
            return;
        }
        struct text t = {text, strlen(text)};
        if (a->max_length >= 0 && utf8_chars(t) > (size_t)a->max_length)
            fail(c, a, 0, "must be at most %ld characters of JSON", a->max_length);
        else
            emit(c, a, t);
        free(text);
        return;
    }
    if (!json_is_string(v)) {
        fail(c, a, 0, "must be a JSON object or a string holding JSON");
        return;
    }
    size_t deep_at;
    if (json_depth_check(json_string_value(v), json_string_length(v), JSON_MAX_DEPTH, &deep_at) <
        0) {
        fail(c, a, 1, "is not valid JSON here: it nests deeper than %d levels", JSON_MAX_DEPTH);
        return;
    }
    json_error_t err;
    json_t *parsed = json_loadb(json_string_value(v), json_string_length(v),
                                JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!parsed) {
        char reason[JSON_ERROR_TEXT_LENGTH];
        envelope_json_reason(&err, reason, sizeof reason);
        fail(c, a, 1, "is not valid JSON: %s (line %d, column %d)", reason, err.line, err.column);
        return;
    }
    json_decref(parsed);
    emit(c, a, (struct text){json_string_value(v), json_string_length(v)});
}

static void take(struct ctx *c, size_t i, json_t *v)
{
    switch (c->b->args[i].type) {
    case ARG_NUMBER:
        take_number(c, i, v);
        break;
    case ARG_BOOLEAN:
        take_boolean(c, i, v);
        break;
    case ARG_LIST:
        take_list(c, i, v);
        break;
    case ARG_JSON:
        take_json(c, i, v);
        break;
    default:
        take_string(c, i, v);
        break;
    }
}

static void check_rules(struct ctx *c)
{
    const struct block_def *b = c->b;
    for (size_t i = 0; i < b->n_args; i++) {
        if (b->args[i].required && !c->present[i])
            fail(c, &b->args[i], 0, "is required");
    }
    for (size_t g = 0; g < b->n_one_of; g++) {
        const struct arg_group *grp = &b->one_of[g];
        int any = 0;
        for (size_t k = 0; k < grp->n; k++)
            any |= c->present[grp->idx[k]];
        if (any)
            continue;
        char names[REASON_MAX / 2] = "";
        size_t used = 0;
        for (size_t k = 0; k < grp->n; k++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                             b->args[grp->idx[k]].name);
            if (w < 0 || (size_t)w >= sizeof names - used)
                break;
            used += (size_t)w;
        }
        for (size_t k = 0; k < grp->n; k++)
            fail(c, &b->args[grp->idx[k]], 0, "one of %s is required", names);
    }
    for (size_t i = 0; i < b->n_args; i++) {
        for (size_t k = 0; c->present[i] && k < b->args[i].n_requires; k++) {
            const struct arg_def *need = &b->args[b->args[i].requires[k]];
            if (!c->present[b->args[i].requires[k]])
                fail(c, &b->args[i], 0, "needs %s as well", need->name);
        }
    }
}

static int fill_path(struct ctx *c)
{
    const char *p = c->b->path;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open)
            return buf_appendz(&c->out->path, p);
        const char *close = strchr(open, '}');
        if (buf_append(&c->out->path, p, (size_t)(open - p)) < 0)
            return -1;
        long k = -1;
        for (size_t i = 0; i < c->b->n_args && k < 0; i++) {
            const char *name = c->b->args[i].name;
            if (strlen(name) == (size_t)(close - open - 1) &&
                memcmp(name, open + 1, (size_t)(close - open - 1)) == 0)
                k = (long)i;
        }
        if (k < 0)
            return -1;
        struct text v = c->scalar[k];
        if (form_escape(&c->out->path, v.p, v.n) < 0)
            return -1;
        p = close + 1;
    }
    return 0;
}

enum body_shape args_parse_body(const char *text, size_t n, json_t **root, json_t **args,
                                json_error_t *err, size_t *deep_at)
{
    *root = NULL;
    *args = NULL;
    if (json_depth_check(text, n, JSON_MAX_DEPTH, deep_at) < 0)
        return BODY_TOO_DEEP;
    json_t *doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, err);
    if (!doc)
        return BODY_NOT_JSON;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return BODY_NOT_OBJECT;
    }
    json_t *wrapped = json_object_get(doc, "args");
    if (wrapped && !json_is_object(wrapped) && !json_is_null(wrapped)) {
        json_decref(doc);
        return BODY_ARGS_NOT_OBJECT;
    }
    *root = doc;
    *args = json_is_object(wrapped) ? wrapped : doc;
    return BODY_PARSED;
}

enum args_status args_prepare(const struct block_def *b, json_t *args, size_t form_cap,
                              struct prepared *out, json_t **reasons)
{
    struct ctx c = {.b = b, .out = out};
    enum args_status rc = ARGS_NOMEM;
    *reasons = NULL;
    buf_init(&out->path, 4096);
    buf_init(&out->form, form_cap);
    buf_init(&out->username, 4096);
    buf_init(&out->password, 4096);
    c.reasons = json_object();
    c.scalar = calloc(b->n_args, sizeof *c.scalar);
    c.present = calloc(b->n_args, 1);
    if (!c.reasons || !c.scalar || !c.present)
        goto done;
    for (size_t i = 0; i < b->n_args && !c.nomem; i++) {
        json_t *v = json_object_get(args, b->args[i].name);
        if (is_absent(v))
            continue;
        take(&c, i, v);
        /* A value that was given but is wrong has its own reason; "is required" or a one-of
         * rule on top of it would only mislead. */
        if (json_object_get(c.reasons, b->args[i].name))
            c.present[i] = 1;
    }
    if (c.nomem)
        goto done;
    check_rules(&c);
    if (c.nomem)
        goto done;
    if (c.bad_json || c.other_bad) {
        /* Reasons were found value checks first, rules second; callers read them in the
         * order the block declares its args. */
        json_t *ordered = json_object();
        for (size_t i = 0; ordered && i < b->n_args; i++) {
            json_t *r = json_object_get(c.reasons, b->args[i].name);
            if (r && json_object_set(ordered, b->args[i].name, r) < 0) {
                json_decref(ordered);
                ordered = NULL;
            }
        }
        if (!ordered)
            goto done;
        rc = c.other_bad ? ARGS_INVALID : ARGS_BAD_JSON;
        *reasons = ordered;
        goto done;
    }
    struct text user = c.scalar[b->auth_user], pass = c.scalar[b->auth_pass];
    if (fill_path(&c) < 0 || buf_append(&out->username, user.p, user.n) < 0 ||
        buf_append(&out->password, pass.p, pass.n) < 0)
        goto done;
    rc = ARGS_OK;
done:
    if (rc != ARGS_OK)
        prepared_free(out);
    json_decref(c.reasons);
    free(c.scalar);
    free(c.present);
    return rc;
}

void prepared_free(struct prepared *p)
{
    buf_free(&p->path);
    buf_free(&p->form);
    buf_free(&p->username);
    buf_free(&p->password);
}

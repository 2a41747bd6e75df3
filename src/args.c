#include "args.h"

#include <stdarg.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "form.h"
#include "jsonparse.h"
#include "suggest.h"

/* Buffer caps: a phone number's digits, one normalised value, and a request's path,
 * credentials and headers each. */
#define ARGS_PHONE_CAP 64
#define ARGS_VALUE_CAP 1024
#define ARGS_PART_CAP 4096

#define REASON_MAX 512

struct ctx {
    const struct block_def *b;
    struct prepared *out;
    json_t *reasons;
    unsigned char *present;
    const struct auth_pair *auth; /* the credentials chosen */
    int bad_json;                 /* JSON-typed args that failed to parse */
    int other_bad;                /* every other failure */
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

/* A reason for a key of the body that is no arg of the block: named as the caller wrote it. */
static void fail_key(struct ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_key(struct ctx *c, const char *key, const char *fmt, ...)
{
    char reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (json_object_get(c->reasons, key))
        return;
    if (json_object_set_new(c->reasons, key, json_string(reason)) < 0)
        c->nomem = 1;
    c->other_bad++;
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
/* An email address as Verify takes it: one @, something before it, and a domain with a dot
 * inside; no spaces or control characters. Twilio checks the rest. */
static int is_email(struct text t)
{
    const char *at = memchr(t.p, '@', t.n);
    if (!at || at == t.p || t.n > 254 || memchr(at + 1, '@', t.n - (size_t)(at - t.p) - 1))
        return 0;
    struct text domain = {at + 1, t.n - (size_t)(at - t.p) - 1};
    const char *dot = domain.n ? memchr(domain.p + 1, '.', domain.n - 1) : NULL;
    if (!dot || domain.p[domain.n - 1] == '.')
        return 0;
    for (size_t i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] <= 0x20 || t.p[i] == 0x7f)
            return 0;
    return 1;
}

static int check_address(enum addr_kind kind, struct text t, struct buf *norm)
{
    if (kind == ADDR_PHONE_OR_EMAIL && is_email(t)) {
        buf_reset(norm);
        return buf_append(norm, t.p, t.n);
    }
    if (kind == ADDR_PHONE || kind == ADDR_PHONE_OR_EMAIL)
        return value_phone(t, norm);
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
            buf_init(&phone, ARGS_PHONE_CAP);
            int rc = value_phone(rest, &phone);
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
    if (value_phone(t, norm) == 0)
        return 0;
    if (kind == ADDR_FROM && alphanumeric_sender(t)) {
        buf_reset(norm);
        return buf_append(norm, t.p, t.n);
    }
    return -1;
}

static int check_sid(json_t *prefixes, struct text t)
{
    size_t k;
    json_t *p;
    json_array_foreach(prefixes, k, p) {
        if (value_sid(t, json_string_value(p)))
            return 0;
    }
    return -1;
}

/* "SM", or "SM or MM", for error texts. */
static void prefixes_text(json_t *prefixes, char *out, size_t size)
{
    size_t k, used = 0, n = json_array_size(prefixes);
    json_t *p;
    out[0] = '\0';
    json_array_foreach(prefixes, k, p) {
        int w = snprintf(out + used, size - used, "%s%s",
                         k == 0       ? ""
                         : k + 1 == n ? " or "
                                      : ", ",
                         json_string_value(p));
        if (w < 0 || (size_t)w >= size - used)
            return;
        used += (size_t)w;
    }
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
    struct buf *h = &c->out->headers;
    if ((a->param && form_add(&c->out->form, a->param, t.p, t.n) < 0) ||
        (a->header && (buf_appendf(h, "%s: ", a->header) < 0 || buf_append(h, t.p, t.n) < 0 ||
                       buf_append(h, "\n", 1) < 0))) {
        c->nomem = 1;
        return -1;
    }
    return 0;
}

/* A scalar arg keeps the value its checks settled on (a phone number without separators, a
 * Select as spelled in its options, a number as sent), copied when it lives in a scratch
 * buffer: the request is built from it, and a flow reads it as it was checked. */
static void keep_scalar(struct ctx *c, size_t i, struct text send, const struct buf *scratch)
{
    if (scratch->data && send.p >= scratch->data && send.p < scratch->data + scratch->len) {
        json_t *copy = json_stringn(send.p, send.n);
        if (!copy || json_array_append_new(c->out->kept, copy) < 0) {
            c->nomem = 1;
            return;
        }
        send.p = json_string_value(copy);
    }
    c->out->values[i] = send;
}

/* Checks one string value (an arg, or an item of a List); writes the text to send in *send,
 * which may point into norm. Returns 0, or -1 after recording the reason. */
static int check_string(struct ctx *c, const struct arg_def *a, struct text t, struct buf *norm,
                        const char *item, struct text *send)
{
    *send = t;
    if (a->address) {
        static const char *const others[] = {
            [ADDR_TO] = " or a whatsapp:, client: or sip: address",
            [ADDR_FROM] = ", a whatsapp:, client: or sip: address, a short code or an alphanumeric "
                          "sender ID (up to 11 letters, digits and spaces)",
            [ADDR_PHONE] = "",
            [ADDR_PHONE_OR_EMAIL] = " or an email address",
        };
        if (check_address(a->address, t, norm) < 0) {
            fail(c, a, 0, "%smust be a phone number in E.164 format (+14155552671)%s", item,
                 others[a->address]);
            return -1;
        }
        send->p = buf_str(norm);
        send->n = norm->len;
    }
    if (a->sid_prefixes && check_sid(a->sid_prefixes, t) < 0) {
        char prefixes[64];
        prefixes_text(a->sid_prefixes, prefixes, sizeof prefixes);
        fail(c, a, 0, "%smust be a SID: %s followed by 32 hexadecimal digits", item, prefixes);
        return -1;
    }
    if (a->date && value_date(t, NULL) < 0) {
        fail(c, a, 0, "%smust be a date (2026-11-23) or a date and time (2026-11-23T09:30:00Z)",
             item);
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
            fail(c, a, 0, "%smust be at most %ld characters (got %zu)", item, a->max_length, chars);
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
        char list[REASON_MAX - 64] = "";
        size_t used = 0;
        json_array_foreach(a->options, i, opt) {
            /* room is kept for ", ..." when the options do not all fit */
            int w = snprintf(list + used, sizeof list - 5 - used, "%s%s", i ? ", " : "",
                             json_string_value(opt));
            if (w < 0 || (size_t)w >= sizeof list - 5 - used) {
                snprintf(list + used, sizeof list - used, ", ...");
                break;
            }
            used += (size_t)w;
        }
        fail(c, a, 0, "%smust be one of: %s", item, list);
        return -1;
    }
    return 0;
}

/* A path the caller chose (twilioRequest) goes after the product's base as it is, so it may
 * only name a resource on that host: no scheme or host, no query, no . or .. segments (also
 * escaped), nothing unprintable. Returns 0, or -1 after recording the reason. */
static int check_request_path(struct ctx *c, const struct arg_def *a, struct text t)
{
    for (size_t i = 0; i < t.n; i++) {
        unsigned char ch = (unsigned char)t.p[i];
        if (t.p[0] != '/' || (ch == '/' && i + 1 < t.n && t.p[i + 1] == '/')) {
            fail(c, a, 0,
                 "must be a path on the product's host, starting with / (no scheme, "
                 "host or //)");
            return -1;
        }
        if (ch <= 0x20 || ch >= 0x7f || ch == '\\') {
            fail(c, a, 0,
                 "must be printable ASCII, without spaces, control characters or "
                 "backslashes");
            return -1;
        }
        if (ch == '?' || ch == '#') {
            fail(c, a, 0, "must not carry a query or fragment: give the parameters in params");
            return -1;
        }
        if (ch == '%' && i + 2 < t.n &&
            (strncasecmp(t.p + i, "%2f", 3) == 0 || strncasecmp(t.p + i, "%5c", 3) == 0)) {
            fail(c, a, 0, "must not contain an escaped / or \\ (%%2F, %%5C)");
            return -1;
        }
    }
    /* each segment, with %2E read as the dot it stands for */
    for (size_t start = 1; start <= t.n;) {
        size_t end = start, dots = 0, other = 0;
        while (end < t.n && t.p[end] != '/') {
            if (t.p[end] == '.')
                dots++, end++;
            else if (end + 2 < t.n && strncasecmp(t.p + end, "%2e", 3) == 0)
                dots++, end += 3;
            else
                other++, end++;
        }
        if (!other && (dots == 1 || dots == 2)) {
            fail(c, a, 0, "must not contain . or .. segments");
            return -1;
        }
        start = end + 1;
    }
    return 0;
}

/* A phone number given as a JSON number (low-code tools turn "+14155552671" into digits): a
 * whole number of 7 to 15 digits is read as +digits, since the '+' is what such a tool drops; a
 * sender of 3 to 6 digits is a short code and read as it is. Anything else is refused with the
 * hint, as is a fraction or exponent. Returns 1 after a refusal, else 0 with *t the text. */
static int phone_number(struct ctx *c, const struct arg_def *a, json_t *v, char *tmp,
                        struct text *t)
{
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
    int digits = n > 0 ? snprintf(tmp, 32, "%" JSON_INTEGER_FORMAT, n) : 0;
    if (digits >= 7 && digits <= 15) {
        t->n = (size_t)snprintf(tmp, 32, "+%" JSON_INTEGER_FORMAT, n);
        t->p = tmp;
        return 0;
    }
    if (a->address == ADDR_FROM && digits >= 3 && digits <= 6) {
        t->n = (size_t)digits;
        t->p = tmp;
        return 0;
    }
    fail(c, a, 0,
         "is a JSON number that is no phone number: give the number as a string, with its + "
         "(\"+14155552671\")");
    return 1;
}

/* Text args that carry identifiers are trimmed; free text (a message body) is sent as typed. */
static int trims(const struct arg_def *a)
{
    return a->type == ARG_CREDENTIALS || a->type == ARG_SELECT || a->type == ARG_DATE ||
           a->type == ARG_LIST || a->address || a->sid_prefixes || a->url || a->charset ||
           a->date || (a->role && a->role != ROLE_MESSAGE_BODY);
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
    if (a->address && (json_is_integer(v) || json_is_real(v)) && phone_number(c, a, v, tmp, &t))
        return;
    if (t.p == tmp && !a->param) {
        fail(c, a, 0, "must be a string");
        return;
    }
    if (trims(a))
        t = value_trim(t);
    if (t.n == 0)
        return;                       /* whitespace only: absent */
    if (a->type == ARG_CREDENTIALS) { /* a pasted trailing newline was trimmed above */
        for (size_t k = 0; k < t.n; k++) {
            if ((unsigned char)t.p[k] < 0x20 || t.p[k] == 0x7f) {
                fail(c, a, 0, "must not contain control characters (line breaks, tabs)");
                return;
            }
        }
    }

    c->present[i] = 1;
    buf_init(&norm, ARGS_VALUE_CAP);
    if (check_string(c, a, t, &norm, "", &send) == 0 &&
        (a->role != ROLE_PATH || check_request_path(c, a, send) == 0)) {
        keep_scalar(c, i, send, &norm);
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
        t = value_trim((struct text){json_string_value(v), json_string_length(v)});
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
    const struct buf scratch = {.data = tmp, .len = t.n};
    keep_scalar(c, i, t, &scratch);
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
        struct text t = value_trim((struct text){json_string_value(v), json_string_length(v)});
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
    if (a->role == ROLE_DRY_RUN)
        c->out->dry_run = value;
    c->out->values[i] = value ? (struct text){"true", 4} : (struct text){"false", 5};
    emit(c, a, c->out->values[i]);
}

/* Checks one item and sends it, or appends it to joined for a List sent as one parameter. */
static void take_list_item(struct ctx *c, size_t i, struct text t, size_t *count, size_t pos,
                           struct buf *joined)
{
    const struct arg_def *a = &c->b->args[i];
    char item[32];
    struct text send;
    struct buf norm;
    t = value_trim(t);
    if (t.n == 0)
        return;
    (*count)++;
    snprintf(item, sizeof item, "item %zu ", pos + 1);
    buf_init(&norm, ARGS_VALUE_CAP);
    if (check_string(c, a, t, &norm, item, &send) == 0) {
        if (!a->join)
            emit(c, a, send);
        else if ((joined->len && buf_appendz(joined, a->join) < 0) ||
                 buf_append(joined, send.p, send.n) < 0)
            c->nomem = 1;
    }
    buf_free(&norm);
}

/* A List's items, from a JSON array or a comma-separated string, split no further than one item
 * past its maxItems: *more says items were left unread. */
static void take_list_items(struct ctx *c, size_t i, json_t *v, size_t *count, struct buf *joined,
                            int *more)
{
    const struct arg_def *a = &c->b->args[i];
    const long max = a->max_items;
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
            take_list_item(c, i, t, count, k, joined);
            if (max >= 0 && *count > (size_t)max) {
                *more = k + 1 < json_array_size(v);
                break;
            }
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), start = 0, pos = 0;
        for (size_t k = 0; k <= n; k++) {
            if (k == n || s[k] == ',') {
                take_list_item(c, i, (struct text){s + start, k - start}, count, pos++, joined);
                start = k + 1;
                if (max >= 0 && *count > (size_t)max) {
                    *more = k < n;
                    break;
                }
            }
        }
    } else {
        fail(c, a, 0, "must be a list or a comma-separated string");
    }
}

static void take_list(struct ctx *c, size_t i, json_t *v)
{
    const struct arg_def *a = &c->b->args[i];
    size_t count = 0;
    int more = 0;
    struct buf joined;
    buf_init(&joined, c->out->form.max);
    take_list_items(c, i, v, &count, &joined, &more);
    if (!json_object_get(c->reasons, a->name) && a->join && joined.len)
        emit(c, a, (struct text){joined.data, joined.len});
    buf_free(&joined);
    if (json_object_get(c->reasons, a->name))
        return;
    if (count == 0)
        return; /* no items: absent, so required and oneOf rules speak */
    c->present[i] = 1;
    if (a->min_items >= 0 && count < (size_t)a->min_items)
        fail(c, a, 0, "must have at least %ld items (got %zu)", a->min_items, count);
    else if (a->max_items >= 0 && count > (size_t)a->max_items && more)
        fail(c, a, 0, "must have at most %ld items (got more)", a->max_items);
    else if (a->max_items >= 0 && count > (size_t)a->max_items)
        fail(c, a, 0, "must have at most %ld items (got %zu)", a->max_items, count);
}

/* One Twilio parameter of a params arg: a scalar is sent as its text, a list as the parameter
 * repeated, null and "" not at all. Returns 0, or -1 after recording the reason. */
static int take_param(struct ctx *c, const struct arg_def *a, const char *key, json_t *v)
{
    char tmp[64];
    struct text t;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t k = 0; k < n; k++) {
        json_t *item = json_is_array(v) ? json_array_get(v, k) : v;
        if (is_absent(item))
            continue;
        if (scalar_text(item, tmp, sizeof tmp, &t) < 0) {
            fail(c, a, 0, "%s must be a string, a number, true or false, or a list of them", key);
            return -1;
        }
        if (form_add(&c->out->form, key, t.p, t.n) < 0) {
            c->nomem = 1;
            return -1;
        }
    }
    return 0;
}

/* A params arg: an object whose members are Twilio parameters, sent in its order. */
static void take_params(struct ctx *c, const struct arg_def *a, json_t *obj)
{
    const char *key;
    json_t *v;
    if (!json_is_object(obj)) {
        fail(c, a, 0, "must be an object of Twilio parameters, such as {\"PageSize\": 20}");
        return;
    }
    json_object_foreach(obj, key, v) {
        for (const char *p = key; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                fail(c, a, 0, "parameter names must not contain control characters");
                return;
            }
        }
        if (!*key) {
            fail(c, a, 0, "parameter names must not be empty");
            return;
        }
        if (take_param(c, a, key, v) < 0)
            return;
    }
}

/* A JSON arg: an object or a list (sent compact), or a string holding valid JSON (sent as
 * given); a params arg spreads its members instead. */
static void take_json(struct ctx *c, size_t i, json_t *v)
{
    const struct arg_def *a = &c->b->args[i];
    c->present[i] = 1;
    if (json_is_object(v) || json_is_array(v)) {
        if (a->role == ROLE_PARAMS) {
            take_params(c, a, v);
            return;
        }
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
    struct jsonparse_error err;
    json_t *parsed = jsonparse_loadb(json_string_value(v), json_string_length(v),
                                     JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!parsed && err.fault != JSONPARSE_SYNTAX) {
        char why[200];
        fail(c, a, 1, "is not valid JSON here: it %s", jsonparse_fault_text(&err, why, sizeof why));
        return;
    }
    if (!parsed) {
        char reason[JSON_ERROR_TEXT_LENGTH];
        envelope_json_reason(&err.json, reason, sizeof reason);
        fail(c, a, 1, "is not valid JSON: %s (line %d, column %d)", reason, err.json.line,
             err.json.column);
        return;
    }
    if (a->role == ROLE_PARAMS)
        take_params(c, a, parsed);
    else
        emit(c, a, (struct text){json_string_value(v), json_string_length(v)});
    json_decref(parsed);
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

/* The first credential pair given whole is used. A pair begun but not finished is named;
 * with none begun, the first pair's missing args are, with the alternatives. */
static void check_auth(struct ctx *c)
{
    const struct block_def *b = c->b;
    const unsigned char *has = c->present;
    int begun = 0;
    for (size_t p = 0; p < b->n_auth; p++) {
        struct auth_pair ap = b->auth[p];
        if (has[ap.user] && has[ap.pass]) {
            c->auth = &b->auth[p];
            return;
        }
    }
    for (size_t p = 0; p < b->n_auth; p++) {
        struct auth_pair ap = b->auth[p];
        const struct arg_def *u = &b->args[ap.user], *w = &b->args[ap.pass];
        /* an arg every pair needs (accountSid) does not mark a pair as begun */
        if (has[ap.user] && !u->required) {
            fail(c, w, 0, "is required with %s", u->name);
            begun = 1;
        } else if (has[ap.pass]) {
            fail(c, u, 0, "is required with %s", w->name);
            begun = 1;
        }
    }
    if (begun || b->n_auth == 0)
        return;
    char others[REASON_MAX / 2] = "";
    size_t used = 0;
    for (size_t p = 1; p < b->n_auth; p++) {
        int n = snprintf(others + used, sizeof others - used, "%s%s and %s", p > 1 ? ", or " : "",
                         b->args[b->auth[p].user].name, b->args[b->auth[p].pass].name);
        if (n < 0 || (size_t)n >= sizeof others - used)
            break;
        used += (size_t)n;
    }
    struct auth_pair first = b->auth[0];
    size_t missing[2] = {first.user, first.pass};
    for (size_t k = 0; k < 2; k++) {
        if (has[missing[k]])
            continue;
        if (used)
            fail(c, &b->args[missing[k]], 0, "is required (or give %s instead)", others);
        else
            fail(c, &b->args[missing[k]], 0, "is required");
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
    for (size_t g = 0; g < b->n_exclusive; g++) {
        const struct arg_group *grp = &b->exclusive[g];
        long first = -1;
        for (size_t k = 0; k < grp->n; k++) {
            if (!c->present[grp->idx[k]])
                continue;
            if (first < 0)
                first = (long)grp->idx[k];
            else
                fail(c, &b->args[grp->idx[k]], 0, "cannot be given with %s", b->args[first].name);
        }
    }
    check_auth(c);
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
        struct text v = c->out->values[k];
        if (form_escape(&c->out->path, v.p, v.n) < 0)
            return -1;
        if (c->b->args[k].type != ARG_CREDENTIALS &&
            json_object_set_new(c->out->ids, c->b->args[k].name, json_stringn(v.p, v.n)) < 0)
            return -1;
        p = close + 1;
    }
    return 0;
}

/* A list's next_page_uri is sent as it came: it carries the filters and the page token. It
 * must continue this block's list for this account; only its path is used, never its host. */
static int take_next_page(struct ctx *c)
{
    long k = block_role_index(c->b, ROLE_NEXT_PAGE);
    if (k < 0 || !c->present[k])
        return 0;
    const struct arg_def *a = &c->b->args[k];
    struct text t = c->out->values[k];
    struct buf *path = &c->out->path;
    const char *scheme = t.n > 8 ? strstr(t.p, "://") : NULL;
    if (scheme && (size_t)(scheme - t.p) <= 5) {
        const char *slash = strchr(scheme + 3, '/');
        size_t skip = slash ? (size_t)(slash - t.p) : t.n;
        t.p += skip;
        t.n -= skip;
    }
    int ok = t.n >= path->len && memcmp(t.p, buf_str(path), path->len) == 0 &&
             (t.n == path->len || t.p[path->len] == '?');
    for (size_t i = 0; ok && i < t.n; i++)
        ok = (unsigned char)t.p[i] > 0x20 && (unsigned char)t.p[i] < 0x7f && t.p[i] != '#';
    if (!ok) {
        fail(c, a, 0, "must be the next_page_uri of a page of this list (it starts with %s?)",
             buf_str(path));
        return 0;
    }
    buf_reset(path);
    buf_reset(&c->out->form); /* the filters are in the URI */
    return buf_append(path, t.p, t.n);
}

static int take_fixed(struct ctx *c)
{
    const char *key;
    json_t *v;
    json_object_foreach(c->b->fixed, key, v) {
        if (form_add(&c->out->form, key, json_string_value(v), json_string_length(v)) < 0)
            return -1;
    }
    return 0;
}

static void take_host_part(struct ctx *c, enum arg_role role, char *out, size_t size)
{
    long k = block_role_index(c->b, role);
    if (k < 0 || !c->present[k])
        return;
    struct text t = c->out->values[k];
    if (t.n >= size) {
        fail(c, &c->b->args[k], 0, "must be at most %zu characters", size - 1);
        return;
    }
    for (size_t i = 0; i < t.n; i++)
        out[i] = (char)tolower((unsigned char)t.p[i]);
    out[t.n] = '\0';
}

/* The product, method and path the caller chose: the Select args hold their option's own
 * text, which lives as long as the block. Returns -1 when memory ran out. */
static int take_chosen_request(struct ctx *c)
{
    long product = block_role_index(c->b, ROLE_PRODUCT);
    long method = block_role_index(c->b, ROLE_METHOD), path = block_role_index(c->b, ROLE_PATH);
    if (product < 0 || method < 0 || path < 0)
        return 0;
    struct text p = c->out->values[path];
    c->out->product = c->out->values[product].p;
    c->out->method = c->out->values[method].p;
    if (buf_append(&c->out->path, p.p, p.n) < 0)
        return -1;
    /* without .json, api.twilio.com answers XML */
    if (strcmp(c->out->product, "api") == 0 && (p.n < 5 || memcmp(p.p + p.n - 5, ".json", 5)))
        fail(c, &c->b->args[path], 0,
             "must end in .json on the api product (Twilio answers XML "
             "otherwise)");
    return 0;
}

/* What is built once every value is known to be right: path, fixed parameters, a next page,
 * edge and region, credentials. Returns -1 when memory ran out. */
static int finish(struct ctx *c)
{
    const struct block_def *b = c->b;
    if (b->path && fill_path(c) < 0)
        return -1;
    if (b->fixed && take_fixed(c) < 0)
        return -1;
    if (b->path && take_next_page(c) < 0)
        return -1;
    if (!b->path && take_chosen_request(c) < 0)
        return -1;
    take_host_part(c, ROLE_EDGE, c->out->edge, sizeof c->out->edge);
    take_host_part(c, ROLE_REGION, c->out->region, sizeof c->out->region);
    if (c->auth) {
        struct text user = c->out->values[c->auth->user], pass = c->out->values[c->auth->pass];
        if (buf_append(&c->out->username, user.p, user.n) < 0 ||
            buf_append(&c->out->password, pass.p, pass.n) < 0)
            return -1;
    }
    return 0;
}

/* Arg names are case-sensitive, and a key that is no arg is ignored: Twilio's own casing (To,
 * From, Body) would be dropped without a word. An arg left out whose name the body has in
 * another case fails with a reason that names both spellings (and counts as given, so no
 * one-of rule adds a misleading reason to its group). */
static void note_miscased(struct ctx *c, json_t *args)
{
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        if (is_absent(v))
            continue;
        for (size_t i = 0; i < c->b->n_args; i++) {
            const struct arg_def *a = &c->b->args[i];
            if (strcasecmp(key, a->name) != 0 || strcmp(key, a->name) == 0 ||
                !is_absent(json_object_get(args, a->name)))
                continue;
            fail(c, a, 0, "%s (the body has %.64s; arg names are case-sensitive: use %s)",
                 a->required ? "is required" : "is missing", key, a->name);
            c->present[i] = 1;
        }
    }
}

/* Names callers reach for that are no arg: the service's own (validateWebhookSignature and the
 * docs say authToken), Twilio's, and sendSms's to in a bulk block. A hint only where the block
 * has the right one. */
static const struct {
    const char *given, *arg;
} other_names[] = {
    {"authToken", "accountToken"}, {"auth_token", "accountToken"}, {"apiKey", "apiKeySid"},
    {"apiSecret", "apiKeySecret"}, {"to", "recipients"},
};

/* Whether a dryRun key asks for a dry run: anything but false, 0, "false", "no", "0". */
static int asks_dry_run(json_t *v)
{
    if (is_absent(v) || json_is_false(v) || (json_is_integer(v) && json_integer_value(v) == 0))
        return 0;
    if (json_is_string(v)) {
        static const char *const no[] = {"false", "no", "0"};
        struct text t = value_trim((struct text){json_string_value(v), json_string_length(v)});
        for (size_t k = 0; k < 3; k++)
            if (t.n == strlen(no[k]) && strncasecmp(t.p, no[k], t.n) == 0)
                return 0;
    }
    return 1;
}

/* Keys that are no arg of the block. Nothing ambiguous is sent: a dry run asked of a block that
 * has none, a key one typo from an arg not given, and a known other name are refused; any other
 * key is ignored, as gateways and platforms add their own (a case change is note_miscased's). */
static void note_unknown(struct ctx *c, json_t *args)
{
    const struct block_def *b = c->b;
    const char *names[256];
    size_t n = b->n_args < 256 ? b->n_args : 256;
    for (size_t i = 0; i < n; i++)
        names[i] = b->args[i].name;
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        if (block_arg_index(b, key) >= 0 || is_absent(v))
            continue;
        int miscased = 0;
        for (size_t i = 0; i < b->n_args; i++)
            miscased |= strcasecmp(key, b->args[i].name) == 0;
        if (miscased)
            continue;
        if (suggest_nearest(key, strlen(key), (const char *const[]){"dryRun"}, 1) == 0 &&
            block_role_index(b, ROLE_DRY_RUN) < 0) {
            if (asks_dry_run(v))
                fail_key(c, key,
                         "is not an arg of %s: it has no dry run, and this call would be made "
                         "for real (nothing was sent)",
                         b->name);
            continue;
        }
        long other = -1;
        for (size_t k = 0; k < sizeof other_names / sizeof other_names[0] && other < 0; k++)
            if (strcmp(key, other_names[k].given) == 0)
                other = block_arg_index(b, other_names[k].arg);
        if (other >= 0) {
            fail_key(c, key, "is not an arg of %s: did you mean %s?", b->name, b->args[other].name);
            c->present[other] |= !json_object_get(args, b->args[other].name);
            continue;
        }
        long near = suggest_nearest(key, strlen(key), names, n);
        if (near < 0 || !is_absent(json_object_get(args, names[near])))
            continue;
        fail_key(c, key, "is not an arg of %s: did you mean %s?", b->name, names[near]);
        c->present[near] = 1; /* the reason above is the one to fix, not "is required" */
    }
}

enum args_status args_prepare(const struct block_def *b, json_t *args, size_t form_cap,
                              struct prepared *out, json_t **reasons)
{
    struct ctx c = {.b = b, .out = out};
    enum args_status rc = ARGS_NOMEM;
    *reasons = NULL;
    out->product = b->product;
    out->method = b->method;
    out->dry_run = 0;
    out->edge[0] = out->region[0] = '\0';
    buf_init(&out->path, ARGS_PART_CAP);
    buf_init(&out->form, form_cap);
    buf_init(&out->username, ARGS_PART_CAP);
    buf_init(&out->password, ARGS_PART_CAP);
    buf_init(&out->headers, ARGS_PART_CAP);
    out->ids = json_object();
    out->b = b;
    out->kept = json_array();
    c.reasons = json_object();
    out->values = calloc(b->n_args ? b->n_args : 1, sizeof *out->values);
    c.present = calloc(b->n_args, 1);
    if (!out->ids || !out->kept || !c.reasons || !out->values || !c.present)
        goto done;
    note_miscased(&c, args);
    note_unknown(&c, args);
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
    if (!c.bad_json && !c.other_bad && finish(&c) < 0)
        c.nomem = 1;
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
        const char *key;
        json_t *r;
        json_object_foreach(c.reasons, key, r) { /* keys that are no arg come last */
            if (ordered && block_arg_index(b, key) < 0 && json_object_set(ordered, key, r) < 0) {
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
    rc = ARGS_OK;
done:
    if (rc != ARGS_OK)
        args_prepared_free(out);
    json_decref(c.reasons);
    free(c.present);
    return rc;
}

void args_prepared_free(struct prepared *p)
{
    buf_free(&p->path);
    buf_free(&p->form);
    buf_free(&p->username);
    buf_free(&p->password);
    buf_free(&p->headers);
    json_decref(p->ids);
    p->ids = NULL;
    free(p->values);
    p->values = NULL;
    json_decref(p->kept);
    p->kept = NULL;
}

struct text args_value(const struct prepared *p, const char *name)
{
    for (size_t i = 0; p->values && i < p->b->n_args; i++)
        if (strcmp(p->b->args[i].name, name) == 0)
            return p->values[i].p ? p->values[i] : (struct text){"", 0};
    return (struct text){"", 0};
}

int args_long(const struct prepared *p, const char *name, long long *out)
{
    struct text t = args_value(p, name);
    char tmp[32];
    if (t.n == 0 || t.n >= sizeof tmp)
        return 0;
    memcpy(tmp, t.p, t.n);
    tmp[t.n] = '\0';
    *out = strtoll(tmp, NULL, 10); /* checked whole and in range by take_number */
    return 1;
}

int args_time(const struct prepared *p, const char *name, long long *epoch)
{
    struct text t = args_value(p, name);
    return t.n && value_date(t, epoch) == 0;
}

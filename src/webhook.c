#include "webhook.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "block.h"
#include "buf.h"
#include "delivery.h"
#include "digest.h"
#include "envelope.h"
#include "form.h"
#include "jsonparse.h"
#include "send.h"
#include "status.h"

/* Buffer caps: one arg's text (a token, URL or signature), a TwiML reply, and
 * an address. */
#define WEBHOOK_TEXT_CAP 65536
#define WEBHOOK_TWIML_CAP (1u << 20)
#define WEBHOOK_ADDRESS_CAP 4096

#define MAX_SIGNED_BYTES (4u << 20)
#define LISTENER_FORM_CAP 65536
/* Listeners one delivery may name: each signed one costs a pass over the whole body (3,000 of
 * them on a 241 KB body once cost 3.7 s of CPU), so their number is capped before any work. */
#define WEBHOOK_MAX_LISTENERS 100

struct field {
    const char *name;
    const char *value; /* borrowed from the params; NULL when the value is written in num */
    size_t value_len;
    char num[32];
};

struct fields {
    struct field *v;
    size_t n, cap;
};

static const char *field_value(const struct field *f)
{
    return f->value ? f->value : f->num;
}

static int constant_time_equal(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && CRYPTO_memcmp(a, b, an) == 0;
}

/* Shortest text that reads back as the same double, as JavaScript and Python print it. */
static void real_text(double d, char *out, size_t size)
{
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(out, size, "%.*g", precision, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* A value as the form text Twilio sent: relays may have turned "2" into 2. Returns -2 for a
 * value that is no form text (null, an object, a list): the signature cannot cover it. */
static int add_field(struct fields *f, const char *name, json_t *v)
{
    struct field fd = {.name = name};
    switch (json_typeof(v)) {
    case JSON_STRING:
        fd.value = json_string_value(v);
        fd.value_len = json_string_length(v);
        break;
    case JSON_INTEGER:
        snprintf(fd.num, sizeof fd.num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        real_text(json_real_value(v), fd.num, sizeof fd.num);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        snprintf(fd.num, sizeof fd.num, "%s", json_is_true(v) ? "true" : "false");
        break;
    default:
        return -2;
    }
    if (!fd.value)
        fd.value_len = strlen(fd.num);
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct field *grown = realloc(f->v, cap * sizeof *grown);
        if (!grown)
            return -1;
        f->v = grown;
        f->cap = cap;
    }
    f->v[f->n++] = fd;
    return 0;
}

static int by_name_then_value(const void *pa, const void *pb)
{
    const struct field *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    size_t n = a->value_len < b->value_len ? a->value_len : b->value_len;
    c = memcmp(field_value(a), field_value(b), n);
    return c ? c : (a->value_len > b->value_len) - (a->value_len < b->value_len);
}

/* Twilio signs each field name followed by its value, sorted by name (and repeated names by
 * value), after the URL. Returns -1 when memory ran out, -2 for a field it cannot sign: an
 * empty list would be delivered as a field that no signed byte stands for. */
static int collect(json_t *params, struct fields *f)
{
    const char *name;
    json_t *v;
    json_object_foreach(params, name, v) {
        int rc = 0;
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            if (json_array_size(v) == 0)
                return -2;
            json_array_foreach(v, i, item) {
                if (json_is_array(item) || (rc = add_field(f, name, item)) < 0)
                    return json_is_array(item) ? -2 : rc;
            }
        } else if ((rc = add_field(f, name, v)) < 0) {
            return rc;
        }
    }
    if (f->n)
        qsort(f->v, f->n, sizeof *f->v, by_name_then_value);
    return 0;
}

static int sign(const char *token, const char *url, size_t url_len, const struct fields *f,
                char *out /* 29 bytes */)
{
    struct buf data;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int rc = -1;
    buf_init(&data, MAX_SIGNED_BYTES);
    if (buf_append(&data, url, url_len) < 0)
        goto done;
    for (size_t i = 0; i < f->n; i++) {
        if (i && by_name_then_value(&f->v[i - 1], &f->v[i]) == 0)
            continue; /* Twilio's libraries sign a repeated name and value once */
        if (buf_appendz(&data, f->v[i].name) < 0 ||
            buf_append(&data, field_value(&f->v[i]), f->v[i].value_len) < 0)
            goto done;
    }
    if (!HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)buf_str(&data),
              data.len, mac, &mac_len))
        goto done;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    rc = 0;
done:
    buf_free(&data);
    return rc;
}

/* The URL with its port and without it: Twilio has signed both forms over the years. An
 * explicit port is dropped; a missing one is added (443 for https, 80 for http). */
static int url_forms(const char *url, struct buf *with_port, struct buf *without_port)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return buf_appendz(with_port, url) | buf_appendz(without_port, url);
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#");
    const char *host = auth;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            host = p + 1;
    const char *colon = NULL;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close && close + 1 < end && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
    }
    if (colon) {
        return buf_appendz(with_port, url) | buf_append(without_port, url, (size_t)(colon - url)) |
               buf_appendz(without_port, end);
    }
    size_t scheme = (size_t)(sep - url);
    const char *port = scheme == 5 && strncasecmp(url, "https", 5) == 0  ? ":443"
                       : scheme == 4 && strncasecmp(url, "http", 4) == 0 ? ":80"
                                                                         : "";
    return buf_append(with_port, url, (size_t)(end - url)) | buf_appendz(with_port, port) |
           buf_appendz(with_port, end) | buf_appendz(without_port, url);
}

/* The value of the bodySHA256 query parameter, or NULL. */
static const char *body_hash_param(const char *url, size_t *n)
{
    const char *q = strchr(url, '?');
    if (!q)
        return NULL;
    const char *p = q + 1, *stop = p + strcspn(p, "#");
    while (p < stop) {
        size_t len = strcspn(p, "&#");
        if (len >= 11 && strncmp(p, "bodySHA256=", 11) == 0) {
            *n = len - 11;
            return p + 11;
        }
        p += len + 1;
    }
    return NULL;
}

enum sig_result webhook_signature_check(const char *token, const char *url, json_t *params,
                                        const char *raw, size_t raw_len, const char *signature)
{
    struct fields f = {0};
    struct buf with_port, without_port;
    enum sig_result rc = SIG_NOMEM;
    int body_ok = 1;
    buf_init(&with_port, MAX_SIGNED_BYTES);
    buf_init(&without_port, MAX_SIGNED_BYTES);
    size_t hn = 0;
    const char *hash = body_hash_param(url, &hn);
    if (raw) {
        char hex[DIGEST_SHA256_HEX_LEN + 1];
        if (!hash) {
            rc = SIG_NO_BODY_HASH;
            goto done;
        }
        if (digest_sha256_hex(raw, raw_len, hex) < 0)
            goto done;
        body_ok = constant_time_equal(hex, DIGEST_SHA256_HEX_LEN, hash, hn);
    } else if (hash) {
        /* the signature covers the URL and, through the hash, the body text: without that
         * text nothing ties whatever body came with it to Twilio */
        rc = SIG_UNSIGNED;
        goto done;
    } else if (params) {
        int c = collect(params, &f);
        if (c < 0) {
            rc = c == -2 ? SIG_UNSIGNED : SIG_NOMEM;
            goto done;
        }
    }
    if (url_forms(url, &with_port, &without_port) != 0)
        goto done;
    char a[29] = "", b[29] = "";
    if (sign(token, buf_str(&with_port), with_port.len, &f, a) < 0 ||
        sign(token, buf_str(&without_port), without_port.len, &f, b) < 0)
        goto done;
    size_t sn = strlen(signature);
    /* both compared, whatever the first gives, so the time says nothing */
    int match = constant_time_equal(a, strlen(a), signature, sn) |
                constant_time_equal(b, strlen(b), signature, sn);
    rc = !body_ok ? SIG_BAD_BODY_HASH : match ? SIG_VALID : SIG_INVALID;
done:
    free(f.v);
    buf_free(&with_port);
    buf_free(&without_port);
    return rc;
}

/* A checked string arg, white space around it dropped as the arg checks drop it. */
static const char *trimmed(json_t *v, struct buf *out)
{
    struct text t = value_trim((struct text){json_string_value(v), json_string_length(v)});
    buf_reset(out);
    return t.p && buf_append(out, t.p, t.n) == 0 ? buf_str(out) : NULL;
}

static char *field_error(const char *field, const char *reason, size_t *len)
{
    json_t *reasons = json_pack("{s:s}", field, reason);
    char *out = reasons ? envelope_fields(reasons, 0, len) : NULL;
    json_decref(reasons);
    return out;
}

/* As the arg checks read it: null, "" and white space only are not given. */
static int given(json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return 1;
    for (const char *s = json_string_value(v); *s; s++)
        if (!isspace((unsigned char)*s))
            return 1;
    return 0;
}

/* validateWebhookSignature's envelope (length in *len), its outcome in *what; NULL when
 * memory ran out. */
static char *validate(json_t *args, const char **what, size_t *len)
{
    struct buf token, url, sig;
    char *out = NULL;
    json_t *params = NULL, *result = NULL;
    json_t *raw = json_object_get(args, "rawBody"), *p = json_object_get(args, "params");
    buf_init(&token, WEBHOOK_TEXT_CAP);
    buf_init(&url, WEBHOOK_TEXT_CAP);
    buf_init(&sig, WEBHOOK_TEXT_CAP);
    *what = "invalid_args";
    if (given(p)) /* checked already: an object, or a string holding JSON */
        params = json_is_string(p) ? jsonparse_loadb(json_string_value(p), json_string_length(p),
                                                     JSON_DECODE_ANY, NULL)
                                   : json_incref(p);
    if (given(p) && !json_is_object(params)) {
        out = field_error("params", "must be an object of the form fields Twilio posted", len);
        goto done;
    }
    if (!trimmed(json_object_get(args, "authToken"), &token) ||
        !trimmed(json_object_get(args, "url"), &url) ||
        !trimmed(json_object_get(args, "signature"), &sig)) {
        *what = "internal_error";
        goto done;
    }
    enum sig_result rc = webhook_signature_check(
        buf_str(&token), buf_str(&url), params, given(raw) ? json_string_value(raw) : NULL,
        given(raw) ? json_string_length(raw) : 0, buf_str(&sig));
    switch (rc) {
    case SIG_VALID:
        result = json_pack("{s:b}", "valid", 1);
        break;
    case SIG_INVALID:
        result = json_pack("{s:b, s:s}", "valid", 0, "reason",
                           "the signature does not match this url, these params and this "
                           "authToken");
        break;
    case SIG_BAD_BODY_HASH:
        result = json_pack("{s:b, s:s}", "valid", 0, "reason",
                           "the SHA-256 of rawBody is not the bodySHA256 in the url");
        break;
    case SIG_UNSIGNED:
        result = json_pack(
            "{s:b, s:s}", "valid", 0, "reason",
            given(raw) || !body_hash_param(buf_str(&url), &(size_t){0})
                ? "params holds a value Twilio never signs (null, an object or a list of them, "
                  "or an empty list): only text, numbers and booleans can be covered"
                : "the url carries bodySHA256, so Twilio signed the body's text: give it as "
                  "rawBody to have its hash checked");
        break;
    case SIG_NO_BODY_HASH:
        out = field_error("rawBody",
                          "is signed by Twilio only with a bodySHA256 query parameter in url; "
                          "for a form post give params instead",
                          len);
        goto done;
    case SIG_NOMEM:
        *what = "internal_error";
        goto done;
    }
    *what = rc == SIG_VALID ? "signature_valid" : "signature_invalid";
    out = envelope_success(result, len);
done:
    json_decref(params);
    json_decref(result);
    buf_free(&token);
    buf_free(&url);
    buf_free(&sig);
    return out;
}

/* Twilio's webhook fields that are counts or durations; any other field stays a string (a
 * short code "12345" is not a number). */
static const char *const number_fields[] = {
    "NumMedia",         "NumSegments",    "CallDuration", "Duration",  "RecordingDuration",
    "DialCallDuration", "SequenceNumber", "ErrorCode",    "QueueTime", NULL,
};

static int integer_text(const char *s, json_int_t *out)
{
    char *end;
    size_t n = strlen(s);
    if (n == 0 || n > 18 || (!isdigit((unsigned char)s[0]) && s[0] != '-'))
        return -1;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return -1;
    *out = (json_int_t)v;
    return 0;
}

/* The payload for listeners: counts as numbers, MediaUrlN/MediaContentTypeN as one Media list. */
static json_t *client_message(json_t *body)
{
    json_t *msg = json_deep_copy(body), *media = json_array();
    char url_key[32], type_key[32];
    if (!msg || !media)
        goto fail;
    for (const char *const *k = number_fields; *k; k++) {
        json_int_t v;
        const char *s = json_string_value(json_object_get(msg, *k));
        if (s && integer_text(s, &v) == 0 && json_object_set_new(msg, *k, json_integer(v)) < 0)
            goto fail;
    }
    for (unsigned i = 0;; i++) {
        snprintf(url_key, sizeof url_key, "MediaUrl%u", i);
        snprintf(type_key, sizeof type_key, "MediaContentType%u", i);
        json_t *url = json_object_get(msg, url_key);
        if (!url)
            break;
        json_t *type = json_object_get(msg, type_key);
        if (json_array_append_new(media, json_pack("{s:O, s:O}", "Url", url, "ContentType",
                                                   type ? type : json_null())) < 0)
            goto fail;
        json_object_del(msg, url_key);
        json_object_del(msg, type_key);
    }
    if ((json_array_size(media) || json_object_get(msg, "NumMedia")) &&
        json_object_set(msg, "Media", media) < 0)
        goto fail;
    json_decref(media);
    return msg;
fail:
    json_decref(media);
    json_decref(msg);
    return NULL;
}

/* Addresses compare without the separators people type, and case-blind (WhatsApp:+1...). */
static int same_address(const char *a, const char *b)
{
    static const char skip[] = " -.()\t";
    if (!a || !b)
        return 0;
    for (;;) {
        while (*a && strchr(skip, *a))
            a++;
        while (*b && strchr(skip, *b))
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
        a++;
        b++;
    }
}

static const char *header(json_t *headers, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach(headers, key, v) {
        if (strcasecmp(key, name) == 0)
            return json_is_array(v) ? json_string_value(json_array_get(v, 0))
                                    : json_string_value(v);
    }
    return NULL;
}

static int xml_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&apos;"
                                     : NULL;
        if (e ? buf_appendz(out, e) < 0 : buf_append(out, s, 1) < 0)
            return -1;
    }
    return 0;
}

/* The TwiML answered to Twilio: empty, or the first matching listener's reply, said on a
 * call and texted back on a message. */
static json_t *twiml_reply(json_t *body, const char *reply)
{
    static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    struct buf x;
    json_t *out = NULL;
    buf_init(&x, WEBHOOK_TWIML_CAP);
    int call = json_object_get(body, "CallSid") && !json_object_get(body, "MessageSid") &&
               !json_object_get(body, "SmsSid");
    const char *verb = call ? "Say" : "Message";
    if (buf_appendz(&x, head) < 0)
        goto done;
    if (!reply || !*reply) {
        if (buf_appendz(&x, "<Response/>") < 0)
            goto done;
    } else if (buf_appendf(&x, "<Response><%s>", verb) < 0 || xml_escape(&x, reply) < 0 ||
               buf_appendf(&x, "</%s></Response>", verb) < 0) {
        goto done;
    }
    out = json_stringn(buf_str(&x), x.len);
done:
    buf_free(&x);
    return out;
}

/* The vendor payload: Twilio's fields as an object, or the text of its POST (form fields, or
 * a JSON body). */
static json_t *event_body(json_t *v)
{
    if (json_is_object(v) || json_is_array(v)) /* an array: Event Streams' CloudEvents */
        return json_incref(v);
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    if (n && (*s == '{' || *s == '['))
        return jsonparse_loadb(s, n, 0, NULL);
    return form_parse(s, n);
}

/* Each listener's args, checked like a block's; reasons are named params[i].arg. */
static int check_listeners(const struct block_def *event, json_t *listeners, json_t *reasons)
{
    size_t i;
    json_t *l;
    json_array_foreach(listeners, i, l) {
        char name[160];
        if (!json_is_object(l)) {
            snprintf(name, sizeof name, "params[%zu]", i);
            if (json_object_set_new(reasons, name,
                                    json_string("must be an object of the "
                                                "listener's args")) < 0)
                return -1;
            continue;
        }
        struct prepared prep;
        json_t *why = NULL;
        enum args_status rc = args_prepare(event, l, LISTENER_FORM_CAP, &prep, &why);
        if (rc == ARGS_OK) {
            args_prepared_free(&prep);
            continue;
        }
        if (rc == ARGS_NOMEM)
            return -1;
        const char *arg;
        json_t *r;
        json_object_foreach(why, arg, r) {
            snprintf(name, sizeof name, "params[%zu].%s", i, arg);
            if (json_object_set(reasons, name, r) < 0) {
                json_decref(why);
                return -1;
            }
        }
        json_decref(why);
    }
    return 0;
}

static int listener_matches(json_t *l, json_t *body)
{
    json_t *to = json_object_get(l, "to"), *from = json_object_get(l, "from");
    struct buf a;
    int ok = 1;
    buf_init(&a, WEBHOOK_ADDRESS_CAP);
    if (given(to))
        ok = same_address(trimmed(to, &a), json_string_value(json_object_get(body, "To")));
    if (ok && given(from))
        ok = same_address(trimmed(from, &a), json_string_value(json_object_get(body, "From")));
    buf_free(&a);
    return ok;
}

/* Verifies the signature for a listener that gave authToken and webhookUrl: what the check
 * found (SIG_VALID when it holds). */
static enum sig_result listener_trusts(json_t *l, json_t *body, json_t *raw, const char *signature)
{
    struct buf token, url;
    enum sig_result rc = SIG_NOMEM;
    buf_init(&token, WEBHOOK_TEXT_CAP);
    buf_init(&url, WEBHOOK_TEXT_CAP);
    if (!trimmed(json_object_get(l, "authToken"), &token) ||
        !trimmed(json_object_get(l, "webhookUrl"), &url))
        goto done;
    size_t hn;
    /* With bodySHA256 the body is trusted only as the text whose hash was checked; an object
     * given instead leaves raw NULL, which the check refuses. */
    int hashed = body_hash_param(buf_str(&url), &hn) != NULL;
    int text = hashed && json_is_string(raw);
    rc = webhook_signature_check(buf_str(&token), buf_str(&url), hashed ? NULL : body,
                                 text ? json_string_value(raw) : NULL,
                                 text ? json_string_length(raw) : 0, signature);
done:
    buf_free(&token);
    buf_free(&url);
    return rc;
}

static char *bad_signature(size_t i, int missing, enum sig_result why, size_t *len)
{
    char msg[400];
    json_t *extra = json_pack("{s:I}", "listener", (json_int_t)i);
    if (missing)
        snprintf(msg, sizeof msg,
                 "The X-Twilio-Signature header is missing, and listener %zu (params[%zu]) asks "
                 "for it to be verified; the event was not delivered.",
                 i, i);
    else if (why == SIG_UNSIGNED)
        snprintf(msg, sizeof msg,
                 "The body holds what X-Twilio-Signature cannot cover for listener %zu "
                 "(params[%zu]): a field that is null, an object or a list of them, or, with "
                 "bodySHA256 in its webhookUrl, a body not given as the text Twilio sent; it "
                 "was not delivered.",
                 i, i);
    else
        snprintf(msg, sizeof msg,
                 "X-Twilio-Signature does not match listener %zu (params[%zu]): the event was "
                 "not signed by Twilio with its authToken for its webhookUrl; it was not "
                 "delivered.",
                 i, i);
    char *out = extra ? envelope_error(STATUS_INVALID_SIGNATURE, msg, extra, len) : NULL;
    json_decref(extra);
    return out;
}

/* Adds a matched listener to the delivery's scope, as it identifies the listener: its URL
 * without the bodySHA256 that changes with every delivery. */
static int scope_add(struct delivery_scope *scope, json_t *l)
{
    static const char *const names[] = {"to", "from", "webhookUrl", "authToken"};
    struct buf v[4];
    char *s[4];
    int rc;
    for (int k = 0; k < 4; k++) {
        buf_init(&v[k], WEBHOOK_TEXT_CAP);
        json_t *x = json_object_get(l, names[k]);
        s[k] = given(x) ? (char *)trimmed(x, &v[k]) : NULL;
    }
    size_t hn;
    char *hash = s[2] ? (char *)body_hash_param(s[2], &hn) : NULL;
    if (hash)
        memmove(hash, hash + hn, strlen(hash + hn) + 1);
    rc = delivery_scope_add(scope, s[0], s[1], s[2], s[3]);
    for (int k = 0; k < 4; k++)
        buf_free(&v[k]);
    return rc;
}

/* The answer to a delivery: the reply to Twilio, the message for the listeners (a webhook's
 * fields, or the unseen CloudEvents) and the listeners that match; for a repeat, the same reply
 * (made again from the same listeners), no listeners and "duplicate": true. A new object, or
 * NULL when memory ran out. */
static json_t *delivered(json_t *body, json_t *events, const struct delivery_batch *dv,
                         const char *reply, json_t *matched)
{
    json_t *resp =
        events ? json_string("") : twiml_reply(body, reply); /* Event Streams reads none */
    json_t *msg = events ? json_pack("{s:O}", "events", dv->fresh) : client_message(body);
    json_t *to = json_pack("{s:o, s:o, s:o}", "http_resp", resp, "client_msg", msg, "params",
                           dv->duplicate ? json_array() : json_incref(matched));
    if (to && dv->duplicate && json_object_set_new(to, "duplicate", json_true()) < 0) {
        json_decref(to);
        to = NULL;
    }
    return to;
}

/* webhookEvent's envelope (length in *len), its outcome in *what; NULL when memory ran out.
 * Deliveries are remembered in svc's idempotency store. */
static char *relay(const struct send_service *svc, const struct block_def *event, json_t *args,
                   const char **what, size_t *len)
{
    char *out = NULL;
    json_t *raw = json_object_get(args, "body");
    json_t *listeners = json_object_get(args, "params"),
           *headers = json_object_get(args, "headers");
    json_t *body = given(raw) ? event_body(raw) : NULL;
    json_t *events = json_is_object(body) ? delivery_cloudevents(body) : NULL;
    json_t *reasons = json_object(), *matched = json_array(), *to = NULL;
    struct delivery_batch dv = {0};
    struct delivery_scope scope;
    const char *reply = NULL;
    struct buf reply_text;
    buf_init(&reply_text, WEBHOOK_TEXT_CAP);
    delivery_scope_init(&scope);
    *what = "invalid_args";
    if (!reasons || !matched)
        goto nomem;
    if (!given(raw))
        json_object_set_new(reasons, "body", json_string("is required: the fields Twilio posted"));
    else if (json_is_array(body) && !(events = delivery_cloudevents(body)))
        json_object_set_new(reasons, "body",
                            json_string("must be the CloudEvents Event Streams delivered "
                                        "(objects with specversion, type and id)"));
    else if (!json_is_object(body) && !events)
        json_object_set_new(reasons, "body",
                            json_string("must be an object of the fields "
                                        "Twilio posted, or their form text"));
    if (given(listeners) && !json_is_array(listeners))
        json_object_set_new(reasons, "params",
                            json_string("must be a list of the listeners' "
                                        "args"));
    else if (json_array_size(listeners) > WEBHOOK_MAX_LISTENERS)
        json_object_set_new(reasons, "params",
                            json_string("must list at most 100 listeners: deliver to more in "
                                        "several calls of up to 100"));
    else if (json_is_array(listeners) && check_listeners(event, listeners, reasons) < 0)
        goto nomem;
    if (given(headers) && !json_is_object(headers))
        json_object_set_new(reasons, "headers",
                            json_string("must be an object of the HTTP "
                                        "headers Twilio sent"));
    if (json_object_size(reasons)) {
        out = envelope_fields(reasons, 0, len);
        goto done;
    }
    const char *signature = header(headers, "X-Twilio-Signature");
    size_t i;
    json_t *l;
    json_array_foreach(json_is_array(listeners) ? listeners : NULL, i, l) {
        if (!listener_matches(l, body))
            continue;
        int signed_ = given(json_object_get(l, "authToken"));
        if (signed_) {
            enum sig_result ok = signature ? listener_trusts(l, body, raw, signature) : SIG_INVALID;
            if (ok == SIG_NOMEM)
                goto nomem;
            if (ok != SIG_VALID) {
                *what = "bad_signature";
                out = bad_signature(i, !signature, ok, len);
                goto done;
            }
            scope.verified = 1;
        }
        if (scope_add(&scope, l) < 0)
            goto nomem;
        json_t *copy = json_deep_copy(l);
        if (!copy)
            goto nomem;
        json_object_del(copy, "authToken"); /* never handed on */
        if (json_array_append_new(matched, copy) < 0)
            goto nomem;
        if (!reply && given(json_object_get(l, "reply")))
            reply = trimmed(json_object_get(l, "reply"), &reply_text);
    }
    /* remembered once per listener set; in the verified store only when a listener's
     * signature held for it */
    if (delivery_begin(&dv, svc, &scope,
                       events ? NULL : header(headers, "I-Twilio-Idempotency-Token"), events) < 0 ||
        !(to = delivered(body, events, &dv, reply, matched)))
        goto nomem;
    *what = dv.duplicate ? "event_duplicate" : "event_delivered";
    out = envelope_success(to, len);
    delivery_end(&dv, out != NULL);
    goto done;
nomem:
    *what = "internal_error";
    out = NULL;
    delivery_end(&dv, 0);
done:
    delivery_scope_free(&scope);
    json_decref(events);
    buf_free(&reply_text);
    json_decref(to);
    json_decref(matched);
    json_decref(reasons);
    json_decref(body);
    return out;
}

void webhook_validate_block(struct call *c)
{
    const char *what = "internal_error";
    size_t len = 0;
    char *body = validate(c->args, &what, &len);
    call_answer_take(c, what, body, len);
}

void webhook_event(struct call *c)
{
    const char *what = "internal_error";
    size_t len = 0;
    char *body = relay(c->svc, c->b, c->args, &what, &len);
    call_answer_take(c, what, body, len);
}

#include "dryrun.h"

#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "form.h"
#include "sms.h"

#define MASK "********"

/* Whether a parameter or header name says it holds a secret (AuthToken, ApiKeySecret,
 * Password, X-Api-Key, ...), for requests whose caller names the parameters (twilioRequest).
 * A list's PageToken is no secret, and masking it would hide the paging it shows. */
static int looks_secret(const char *name, size_t n)
{
    static const char *const words[] = {"password", "token", "secret", "key", "credential", NULL};
    if (n == 9 && strncasecmp(name, "PageToken", 9) == 0)
        return 0;
    for (const char *const *w = words; *w; w++) {
        size_t wn = strlen(*w);
        for (size_t i = 0; i + wn <= n; i++)
            if (strncasecmp(name + i, *w, wn) == 0)
                return 1;
    }
    return 0;
}

static int mask_value(json_t *form, const char *key, json_t *v)
{
    if (!json_is_array(v))
        return json_object_set_new(form, key, json_string(MASK));
    for (size_t k = 0; k < json_array_size(v); k++)
        if (json_array_set_new(v, k, json_string(MASK)) < 0)
            return -1;
    return 0;
}

static int mask_secrets(const struct block_def *b, json_t *form)
{
    const char *key;
    json_t *v;
    json_object_foreach(form, key, v) {
        if (looks_secret(key, strlen(key)) && mask_value(form, key, v) < 0)
            return -1;
    }
    for (size_t i = 0; i < b->n_args; i++) {
        const struct arg_def *a = &b->args[i];
        json_t *value = a->param && a->secret ? json_object_get(form, a->param) : NULL;
        if (value && mask_value(form, a->param, value) < 0)
            return -1;
    }
    return 0;
}

/* Adds encoding, segments, characters and ucs2Characters for the message body, if any. */
static int describe_body(const struct block_def *b, json_t *form, json_t *to)
{
    const char *param = NULL;
    for (size_t i = 0; i < b->n_args && !param; i++)
        if (b->args[i].role == ROLE_MESSAGE_BODY)
            param = b->args[i].param;
    json_t *body = param ? json_object_get(form, param) : NULL;
    if (!json_is_string(body))
        return 0;
    struct sms_info info;
    if (sms_analyse(json_string_value(body), json_string_length(body), &info) < 0)
        return -1;
    int rc = json_object_set_new(to, "encoding", json_string(info.ucs2 ? "UCS-2" : "GSM-7")) |
             json_object_set_new(to, "segments", json_integer((json_int_t)info.segments)) |
             json_object_set_new(to, "characters", json_integer((json_int_t)info.characters)) |
             json_object_set_new(to, "ucs2Characters", info.forced);
    return rc < 0 ? -1 : 0;
}

/* The header args' headers, as "headers": {"Name": "value"}, when there are any. */
static int show_headers(const struct prepared *p, json_t *to)
{
    json_t *headers = json_object();
    const char *h = p->headers.len ? buf_str(&p->headers) : "";
    while (headers && *h) {
        const char *end = strchr(h, '\n'), *colon = strchr(h, ':');
        const int secret = colon && looks_secret(h, (size_t)(colon - h));
        if (!end || !colon || colon > end ||
            json_object_setn_new(headers, h, (size_t)(colon - h),
                                 secret ? json_string(MASK)
                                        : json_stringn(colon + 2, (size_t)(end - colon - 2))) < 0) {
            json_decref(headers);
            return -1;
        }
        h = end + 1;
    }
    if (!headers)
        return -1;
    if (json_object_size(headers) == 0) {
        json_decref(headers);
        return 0;
    }
    return json_object_set_new(json_object_get(to, "request"), "headers", headers);
}

json_t *dryrun_request(const struct block_def *b, const struct prepared *p, const char *url)
{
    json_t *to = NULL;
    json_t *form = form_parse(p->form.data ? p->form.data : "", p->form.len);
    if (!form || mask_secrets(b, form) < 0)
        goto done;
    /* a GET or DELETE sends its parameters in the query string */
    const char *where = strcmp(p->method, "POST") == 0 ? "form" : "query";
    to = json_pack("{s:b, s:{s:s, s:s, s:s%, s:s, s:O}}", "dryRun", 1, "request", "method",
                   p->method, "url", url, "username", buf_str(&p->username), p->username.len,
                   "password", MASK, where, form);
    if (to && (describe_body(b, form, to) < 0 || show_headers(p, to) < 0)) {
        json_decref(to);
        to = NULL;
    }
done:
    json_decref(form);
    return to;
}

char *dryrun_answer(const struct block_def *b, const struct prepared *p, const char *url,
                    size_t *len)
{
    json_t *to = dryrun_request(b, p, url);
    char *out = to ? envelope_success(to, len) : NULL;
    json_decref(to);
    return out;
}

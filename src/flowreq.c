#include "flowreq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dryrun.h"
#include "form.h"
#include "jsonparse.h"
#include "status.h"
#include "twilio.h"

/* A list longer than this many pages is not one a trigger reads (Twilio's pages hold 50). */
#define FLOWREQ_MAX_PAGES 200

static int build(struct prepared *sub, const struct call *c, const char *product,
                 const char *method, const char *path, const char *const *params)
{
    if (send_sub_init(sub, c->prep, product, method, path) < 0)
        return -1;
    for (size_t i = 0; params && params[i]; i += 2) {
        if (form_add(&sub->form, params[i], params[i + 1], strlen(params[i + 1])) < 0) {
            args_prepared_free(sub);
            return -1;
        }
    }
    return 0;
}

/* What the failure message adds about the requests before it. */
static const char *written(const struct call *c)
{
    return c->writes ? "; the changes before it were written" : "; nothing was written";
}

/* flowreq_send, adding the bytes of the answer to *bytes unless NULL. */
static int send_counted(struct call *c, const char *product, const char *method, const char *path,
                        const char *const *params, const char *action, json_t **answer,
                        size_t *bytes)
{
    struct prepared sub;
    struct twilio_response rs;
    const int read = strcmp(method, "GET") == 0, del = strcmp(method, "DELETE") == 0;
    char msg[768];
    int rc = -1;
    *answer = NULL;
    if (build(&sub, c, product, method, path, params) < 0) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return -1;
    }
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    const long t0 = clock_ms();
    const int answered = send_perform(c->svc, &sub, c->slot, &rs, NULL) == 0;
    call_count(c, &rs, t0);
    if (bytes)
        *bytes += rs.body.len;
    if (!answered) {
        snprintf(msg, sizeof msg, "%s%s", rs.error,
                 rs.outcome == TWILIO_MAYBE_SENT && !read
                     ? "; this change may have been written: repeat the call to find out"
                     : written(c));
        call_error(c,
                   rs.outcome == TWILIO_MAYBE_SENT ? "upstream_ambiguous" : "upstream_unreachable",
                   STATUS_INTERNAL, msg, NULL);
        goto done;
    }
    if (del && rs.status == 404) { /* already gone: what a delete wanted */
        *answer = json_object();
    } else if (rs.status >= 200 && rs.status < 300) {
        struct jsonparse_error jerr;
        *answer = rs.status == 204 || rs.body.len == 0
                      ? json_object()
                      : jsonparse_answer(rs.body.data, rs.body.len, &jerr);
        if (!json_is_object(*answer)) {
            json_decref(*answer);
            *answer = NULL;
            snprintf(msg, sizeof msg,
                     "Twilio answered HTTP %ld but its body is not a JSON "
                     "object%s",
                     rs.status, read ? written(c) : "; the change was probably written");
            call_error(c, "upstream_bad_body", STATUS_INTERNAL, msg, NULL);
            goto done;
        }
    } else {
        call_api_error(c, action, &rs, written(c));
        goto done;
    }
    if (!read)
        c->writes++;
    rc = 0;
done:
    twilio_response_free(&rs);
    args_prepared_free(&sub);
    return rc;
}

int flowreq_send(struct call *c, const char *product, const char *method, const char *path,
                 const char *const *params, const char *action, json_t **answer)
{
    return send_counted(c, product, method, path, params, action, answer, NULL);
}

/* The path and query of an absolute next_page_url ("https://host/v1/X?Page=1..."), in out. */
static int next_path(const char *url, char *out, size_t size)
{
    const char *p = url ? strstr(url, "://") : NULL;
    p = p ? strchr(p + 3, '/') : NULL;
    if (!p || strlen(p) >= size || strchr(p, '#'))
        return -1;
    snprintf(out, size, "%s", p);
    return 0;
}

int flowreq_list(struct call *c, const char *product, const char *path, const char *const *params,
                 const char *key, json_t **items)
{
    char next[4096], msg[512];
    size_t bytes = 0;
    json_t *all = json_array();
    snprintf(next, sizeof next, "%s", path);
    *items = NULL;
    if (!all) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return -1;
    }
    for (int page = 0;; page++) {
        json_t *answer;
        if (send_counted(c, product, "GET", next, page ? NULL : params, "fetch page", &answer,
                         &bytes) < 0) {
            json_decref(all);
            return -1;
        }
        if (bytes > SEND_LIST_MAX_BYTES) { /* what the pages hold together is bounded too */
            json_decref(answer);
            json_decref(all);
            snprintf(msg, sizeof msg,
                     "Twilio's list pages passed " SEND_LIST_MAX_TEXT
                     " together, the list budget of one call (page %d)%s",
                     page + 1, written(c));
            call_error(c, "upstream_bad_body", STATUS_LIST_TOO_LARGE, msg, NULL);
            return -1;
        }
        json_t *list = json_object_get(answer, key);
        const char *url =
            json_string_value(json_object_get(json_object_get(answer, "meta"), "next_page_url"));
        int bad = !json_is_array(list) || json_array_extend(all, list) < 0;
        int more = !bad && url && *url;
        if (more && (page + 1 >= FLOWREQ_MAX_PAGES || next_path(url, next, sizeof next) < 0))
            bad = 1;
        json_decref(answer);
        if (bad) {
            json_decref(all);
            call_error(c, "upstream_bad_body", STATUS_INTERNAL,
                       page + 1 >= FLOWREQ_MAX_PAGES
                           ? "Twilio's list has more pages than a trigger reads"
                           : "Twilio's list answer is not the list it should be",
                       NULL);
            return -1;
        }
        if (!more)
            break;
    }
    *items = all;
    return 0;
}

void flowreq_dry_run(struct call *c, const char *product, const char *method, const char *path,
                     const char *const *params)
{
    struct prepared sub;
    struct buf base, url;
    size_t len = 0;
    buf_init(&base, SEND_BASE_CAP);
    buf_init(&url, SEND_URL_CAP);
    if (build(&sub, c, product, method, path, params) == 0) {
        char *body = send_url(c->svc->cfg, &sub, 0, &base, &url) == 0
                         ? dryrun_answer(c->b, &sub, buf_str(&url), &len)
                         : NULL;
        call_answer_take(c, "dry_run", body, len);
        args_prepared_free(&sub);
    }
    buf_free(&base);
    buf_free(&url);
}

const char *flowreq_arg(const struct prepared *p, const char *name, char *out, size_t size)
{
    struct text t = value_trim(args_value(p, name));
    if (t.n == 0 || t.n >= size)
        return NULL;
    memcpy(out, t.p, t.n);
    out[t.n] = '\0';
    return out;
}

int flowreq_arg_true(const struct prepared *p, const char *name)
{
    struct text t = args_value(p, name);
    return t.n == 4 && memcmp(t.p, "true", 4) == 0;
}

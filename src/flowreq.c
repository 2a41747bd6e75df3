#include "flowreq.h"

#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dryrun.h"
#include "form.h"
#include "jsonparse.h"
#include "status.h"
#include "twilio.h"

/* The longest path and query a v1 list's next_page_url may give. */
#define FLOWREQ_NEXT_MAX 4096
/* A failure's message. */
#define FLOWREQ_MSG_CAP 768

/* sub, method path on product: form (already encoded, or NULL), PageSize when page_size is
 * not 0, then params. */
static int build(struct prepared *sub, const struct call *c, const char *product,
                 const char *method, const char *path, const struct buf *form, long page_size,
                 const char *const *params)
{
    char size[24];
    snprintf(size, sizeof size, "%ld", page_size);
    if (send_sub_init(sub, c->prep, product, method, path) < 0)
        return -1;
    if ((form && form->len && buf_append(&sub->form, form->data, form->len) < 0) ||
        (page_size && form_add(&sub->form, "PageSize", size, strlen(size)) < 0)) {
        args_prepared_free(sub);
        return -1;
    }
    for (size_t i = 0; params && params[i]; i += 2) {
        if (form_add(&sub->form, params[i], params[i + 1], strlen(params[i + 1])) < 0) {
            args_prepared_free(sub);
            return -1;
        }
    }
    return 0;
}

/* Sends sub on the call's slot, its cost added to the call's figures. Returns whether Twilio
 * answered (rs holds the answer, or why not). */
static int perform(struct call *c, const struct prepared *sub, struct twilio_response *rs)
{
    const long t0 = clock_ms();
    const int answered = send_perform(c->svc, sub, c->slot, rs, NULL) == 0;
    call_count(c, rs, t0);
    return answered;
}

/* What the failure message adds about the requests before it. */
static const char *written(const struct call *c)
{
    return c->writes ? "; the changes before it were written" : "; nothing was written";
}

/* Answers a request that did not reach Twilio, or may have (rs->error says why). */
static void unsent(struct call *c, const struct twilio_response *rs, int read)
{
    char msg[FLOWREQ_MSG_CAP];
    snprintf(msg, sizeof msg, "%s%s", rs->error,
             rs->outcome == TWILIO_MAYBE_SENT && !read
                 ? "; this change may have been written: repeat the call to find out"
                 : written(c));
    call_error(c, rs->outcome == TWILIO_MAYBE_SENT ? "upstream_ambiguous" : "upstream_unreachable",
               STATUS_INTERNAL, msg, NULL);
}

int flowreq_send(struct call *c, const char *product, const char *method, const char *path,
                 const char *const *params, const char *action, json_t **answer)
{
    struct prepared sub;
    struct twilio_response rs;
    const int read = strcmp(method, "GET") == 0, del = strcmp(method, "DELETE") == 0;
    char msg[FLOWREQ_MSG_CAP];
    int rc = -1;
    *answer = NULL;
    if (build(&sub, c, product, method, path, NULL, 0, params) < 0) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return -1;
    }
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    if (!perform(c, &sub, &rs)) {
        unsent(c, &rs, read);
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

/* What an HTTP 200 page is, from rs: FLOWREQ_NOT_JSON, FLOWREQ_NOT_A_PAGE, or -1 with *page
 * the page (an empty body is an empty object). */
static int parse_page(const struct flowreq_walk *w, const struct twilio_response *rs, json_t **page)
{
    *page = rs->body.len ? jsonparse_loadb_capped(rs->body.data, rs->body.len,
                                                  JSON_REJECT_DUPLICATES, SIZE_MAX, NULL)
                         : json_object();
    if (json_is_object(*page) && json_is_array(json_object_get(*page, w->key)))
        return -1;
    const int fault = json_is_object(*page) ? FLOWREQ_NOT_A_PAGE : FLOWREQ_NOT_JSON;
    json_decref(*page);
    *page = NULL;
    return fault;
}

/* Reads one page of the walk: GET path on w->product, its query as build's. */
static int fetch(struct flowreq_walk *w, const char *path, const struct buf *form, long page_size,
                 const char *const *params, json_t **page)
{
    struct prepared sub;
    struct twilio_response rs;
    int fault;
    *page = NULL;
    if (w->pages == w->max_pages) {
        w->fail(w, FLOWREQ_ENDLESS, NULL);
        return -1;
    }
    w->pages++;
    if (w->drain && w->c->svc->draining && atomic_load(w->c->svc->draining)) {
        w->fail(w, FLOWREQ_DRAINING, NULL);
        return -1;
    }
    if (build(&sub, w->c, w->product, "GET", path, form, page_size, params) < 0) {
        call_error(w->c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return -1;
    }
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    if (!perform(w->c, &sub, &rs))
        fault = FLOWREQ_UNSENT;
    else if (rs.status != 200)
        fault = FLOWREQ_API_ERROR;
    else if ((w->c->list_bytes += rs.body.len) > SEND_LIST_MAX_BYTES) /* every page of the call */
        fault = FLOWREQ_TOO_LARGE;
    else
        fault = parse_page(w, &rs, page);
    if (fault >= 0)
        w->fail(w, (enum flowreq_fault)fault, &rs);
    twilio_response_free(&rs);
    args_prepared_free(&sub);
    return fault >= 0 ? -1 : 0;
}

int flowreq_first(struct flowreq_walk *w, const char *path, const struct buf *form, long page_size,
                  const char *const *params, json_t **page)
{
    return fetch(w, path, form, page_size, params, page);
}

/* The link page names to its next page, or NULL. */
static const char *link_of(const struct flowreq_walk *w, const json_t *page)
{
    const json_t *at = w->style == FLOWREQ_V1 ? json_object_get(page, "meta") : page;
    const char *link = json_string_value(
        json_object_get(at, w->style == FLOWREQ_V1 ? "next_page_url" : "next_page_uri"));
    return link && *link ? link : NULL;
}

/* The path and query to follow of link, or NULL when it is not one: a next_page_uri must be a
 * path already; of a next_page_url only the path and query count, so the next page is
 * requested on the call's own base whatever host it names. */
static const char *link_path(const struct flowreq_walk *w, const char *link)
{
    if (w->style == FLOWREQ_2010)
        return link[0] == '/' && !strstr(link, "://") ? link : NULL;
    const char *p = strstr(link, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p && strlen(p) < FLOWREQ_NEXT_MAX && !strchr(p, '#') ? p : NULL;
}

int flowreq_link(const struct flowreq_walk *w, const json_t *page)
{
    const char *link = link_of(w, page);
    if (!link)
        return 0;
    if (!link_path(w, link)) {
        w->fail(w, FLOWREQ_BAD_NEXT, NULL);
        return -1;
    }
    return 1;
}

int flowreq_next(struct flowreq_walk *w, const json_t *page, json_t **next)
{
    const char *link = link_of(w, page), *path = link ? link_path(w, link) : NULL;
    *next = NULL;
    if (!path) {
        w->fail(w, FLOWREQ_BAD_NEXT, NULL);
        return -1;
    }
    return fetch(w, path, NULL, 0, NULL, next);
}

/* How flowreq_list words a failure: what the requests before it wrote. */
static void list_failed(const struct flowreq_walk *w, enum flowreq_fault f,
                        const struct twilio_response *rs)
{
    char msg[FLOWREQ_MSG_CAP];
    const char *why = "Twilio's list answer is not the list it should be";
    switch (f) {
    case FLOWREQ_DRAINING: /* only when w->drain is set, which a list's is not */
        snprintf(msg, sizeof msg, "The service is shutting down%s", written(w->c));
        call_error(w->c, "draining", STATUS_INTERNAL, msg, NULL);
        return;
    case FLOWREQ_UNSENT:
        unsent(w->c, rs, 1);
        return;
    case FLOWREQ_API_ERROR:
        call_api_error(w->c, "fetch page", rs, written(w->c));
        return;
    case FLOWREQ_TOO_LARGE:
        snprintf(msg, sizeof msg,
                 "Twilio's list pages passed " SEND_LIST_MAX_TEXT
                 " together, the list budget of one call (page %d)%s",
                 w->pages, written(w->c));
        call_error(w->c, "upstream_bad_body", STATUS_LIST_TOO_LARGE, msg, NULL);
        return;
    case FLOWREQ_NOT_JSON:
        snprintf(msg, sizeof msg, "Twilio answered HTTP %ld but its body is not a JSON object%s",
                 rs->status, written(w->c));
        why = msg;
        break;
    case FLOWREQ_ENDLESS:
        why = "Twilio's list has more pages than a trigger reads";
        break;
    case FLOWREQ_NOT_A_PAGE:
    case FLOWREQ_BAD_NEXT:
        break;
    }
    call_error(w->c, "upstream_bad_body", STATUS_INTERNAL, why, NULL);
}

int flowreq_list(struct call *c, const char *product, const char *path, const char *const *params,
                 const char *key, json_t **items)
{
    struct flowreq_walk w = {.c = c,
                             .product = product,
                             .key = key,
                             .style = FLOWREQ_V1,
                             .max_pages = FLOWREQ_MAX_PAGES,
                             .fail = list_failed};
    json_t *all = json_array(), *page = NULL;
    int more = -1;
    *items = NULL;
    if (!all) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return -1;
    }
    if (flowreq_first(&w, path, NULL, 0, params, &page) == 0) {
        for (;;) {
            if (json_array_extend(all, json_object_get(page, key)) < 0) {
                list_failed(&w, FLOWREQ_NOT_A_PAGE, NULL);
                more = -1;
                break;
            }
            if ((more = flowreq_link(&w, page)) <= 0)
                break;
            json_t *prev = page;
            more = flowreq_next(&w, prev, &page);
            json_decref(prev);
            if (more < 0)
                break;
        }
    }
    json_decref(page);
    if (more < 0) {
        json_decref(all);
        return -1;
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
    if (build(&sub, c, product, method, path, NULL, 0, params) == 0) {
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

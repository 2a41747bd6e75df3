#include "polling.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowreq.h"
#include "polling_cursor.h"
#include "status.h"

/* Buffer caps: a cursor's scope (block and path), a failure's message. */
#define POLL_SCOPE_CAP 4096
#define POLL_MSG_CAP 2048

/* Resources one poll holds at most: the pages of one crowded second included. */
#define POLL_MAX_HELD 50000
/* Date-window halvings one poll makes at most when the backlog passes its pages. */
#define POLL_MAX_PROBES 62
/* Pages one poll reads at most, whatever Twilio's next_page_uri says. */
#define POLL_MAX_PAGES 400

/* Now, in seconds, as the service's clock says. */
static long long now_s(const struct call *c)
{
    return c->svc->cfg->now_s ? c->svc->cfg->now_s() : (long long)time(NULL);
}

/* What a poll block declares in its flow object. */
struct poll_spec {
    const char *list;   /* the array of a list page: "messages" */
    const char *date;   /* an item's date field: "date_sent" */
    const char *filter; /* the inclusive date filter ("DateSent" as DateSent>/DateSent<), or NULL */
    long page_size;     /* the most items asked for in one page */
};

struct item {
    long long date;
    const char *sid; /* borrowed from obj */
    json_t *obj;
};

struct items {
    struct item *v;
    size_t n, cap;
};

/* The requests of one poll: every list it reads is one walk's, under one page and byte budget. */
struct walk {
    struct call *c;
    const struct poll_spec *spec;
    struct flowreq_walk pages;
};

static int spec_read(json_t *flow, struct poll_spec *s)
{
    json_t *size = json_object_get(flow, "pageSize");
    s->list = json_string_value(json_object_get(flow, "list"));
    s->date = json_string_value(json_object_get(flow, "date"));
    s->filter = json_string_value(json_object_get(flow, "filter"));
    s->page_size = json_is_integer(size) ? (long)json_integer_value(size) : 0;
    return s->list && s->date && s->page_size >= 1 && s->page_size <= 1000 ? 0 : -1;
}

int polling_check(const struct block_def *b, char *err, size_t errlen)
{
    static const char *const keys[] = {"kind", "list", "date", "filter", "pageSize"};
    struct poll_spec spec;
    const char *key;
    json_t *v;
    json_object_foreach(b->flow, key, v) {
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(keys[k], key) != 0)
            k++;
        if (k == sizeof keys / sizeof keys[0]) {
            snprintf(err, errlen,
                     "%s: a poll's flow has no key %s (kind, list, date, filter, "
                     "pageSize)",
                     b->name, key);
            return -1;
        }
    }
    if (spec_read(b->flow, &spec) < 0 || (json_object_get(b->flow, "filter") && !spec.filter)) {
        snprintf(err, errlen,
                 "%s: a poll's flow needs list and date (text), pageSize (1 to 1000) and, when "
                 "given, filter (text)",
                 b->name);
        return -1;
    }
    return 0;
}

/* The cursor's key, and its scope in scope: the block and its account (the list's path names
 * it). Returns 0, or -1. */
static int cursor_bind(const struct call *c, struct polling_cursor_key *k, struct buf *scope)
{
    return polling_cursor_key(c->svc->cfg->cursor_secret, k) < 0 ||
                   buf_appendz(scope, c->b->name) < 0 || buf_append(scope, "\n", 1) < 0 ||
                   buf_append(scope, buf_str(&c->prep->path), c->prep->path.len) < 0
               ? -1
               : 0;
}

static int cursor_encode(const struct call *c, const struct poll_position *pos,
                         char out[POLLING_CURSOR_TEXT_MAX])
{
    struct polling_cursor_key k;
    struct buf scope;
    buf_init(&scope, POLL_SCOPE_CAP);
    int rc =
        cursor_bind(c, &k, &scope) < 0 || polling_cursor_encode(&k, buf_str(&scope), pos, out) < 0
            ? -1
            : 0;
    buf_free(&scope);
    return rc;
}

static int cursor_decode(const struct call *c, const char *text, long long now,
                         struct poll_position *pos)
{
    struct polling_cursor_key k;
    struct buf scope;
    buf_init(&scope, POLL_SCOPE_CAP);
    int rc = cursor_bind(c, &k, &scope) < 0 ||
                     polling_cursor_decode(&k, buf_str(&scope), text, now, pos) < 0
                 ? -1
                 : 0;
    buf_free(&scope);
    return rc;
}

static void items_free(struct items *it)
{
    for (size_t i = 0; i < it->n; i++)
        json_decref(it->v[i].obj);
    free(it->v);
    memset(it, 0, sizeof *it);
}

static void items_reset(struct items *it)
{
    for (size_t i = 0; i < it->n; i++)
        json_decref(it->v[i].obj);
    it->n = 0;
}

static int item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return strcmp(x->sid, y->sid);
}

static void fail(struct call *c, const char *what, const char *msg)
{
    call_error(c, what, STATUS_INTERNAL, msg, NULL);
}

/* A failure's words: nothing was delivered, so the cursor stays where it was. */
#define AGAIN "; nothing was delivered, so poll again with the same cursor"

/* How a poll words a failure of its walk over Twilio's pages (a flowreq_walk's fail). */
static void walk_failed(const struct flowreq_walk *fw, enum flowreq_fault f,
                        const struct twilio_response *rs)
{
    struct buf msg;
    buf_init(&msg, POLL_MSG_CAP);
    switch (f) {
    case FLOWREQ_DRAINING:
        fail(fw->c, "draining", "The service is shutting down" AGAIN);
        break;
    case FLOWREQ_UNSENT:
        buf_appendf(&msg, "%s" AGAIN, rs->error);
        fail(fw->c, "upstream_unreachable", buf_str(&msg));
        break;
    case FLOWREQ_API_ERROR:
        call_api_error(fw->c, fw->c->b->action, rs, NULL);
        break;
    case FLOWREQ_TOO_LARGE:
        call_error(fw->c, "upstream_bad_body", STATUS_LIST_TOO_LARGE,
                   "Twilio's pages passed " SEND_LIST_MAX_TEXT " together, the list budget of "
                   "one poll; nothing was delivered and the cursor stays where it was (poll "
                   "with a later since, or filters, to read less at once)",
                   NULL);
        break;
    case FLOWREQ_NOT_JSON:
    case FLOWREQ_NOT_A_PAGE:
        buf_appendf(&msg, "Twilio answered HTTP 200 but its body is not a page of %s", fw->key);
        if (rs->request_id[0])
            buf_appendf(&msg, " (Twilio request id %s)", rs->request_id);
        fail(fw->c, "upstream_bad_body", buf_str(&msg));
        break;
    case FLOWREQ_BAD_NEXT:
        fail(fw->c, "upstream_bad_body",
             "Twilio's next_page_uri is not a path; nothing was delivered");
        break;
    case FLOWREQ_ENDLESS: /* Twilio answered every page: not INTERNAL_PACKAGE_ERROR */
        buf_appendf(&msg,
                    "Twilio answered %d pages and each named a next page (next_page_uri); a "
                    "poll reads at most %d, so nothing was delivered and the cursor stays where "
                    "it was",
                    POLL_MAX_PAGES, POLL_MAX_PAGES);
        call_error(fw->c, "upstream_bad_body", STATUS_LIST_DID_NOT_END, buf_str(&msg), NULL);
        break;
    }
    buf_free(&msg);
}

/* Adds a page's items (those with a SID and a date) to it; *oldest becomes the oldest date
 * among them not older than lo, and *below is set when one is older (the list, newest first,
 * holds nothing newer after it). Returns -1 when memory ran out or too many are held (the
 * answer is set). */
static int take_page(struct walk *w, json_t *page, long long lo, struct items *it,
                     long long *oldest, int *below)
{
    size_t i;
    json_t *obj;
    json_array_foreach(json_object_get(page, w->spec->list), i, obj) {
        const char *sid = json_string_value(json_object_get(obj, "sid"));
        const char *date = json_string_value(json_object_get(obj, w->spec->date));
        long long t;
        if (!sid || !*sid || strlen(sid) > POLLING_CURSOR_SID_MAX || !date ||
            value_twilio_date(date, &t) < 0)
            continue;
        if (t < lo) {
            *below = 1;
            continue;
        }
        if (it->n == POLL_MAX_HELD) {
            fail(w->c, "internal_error",
                 "More resources share these dates than one poll can hold; nothing was "
                 "delivered");
            return -1;
        }
        if (it->n == it->cap) {
            size_t cap = it->cap ? it->cap * 2 : 64;
            struct item *v = realloc(it->v, cap * sizeof *v);
            if (!v) {
                fail(w->c, "internal_error", "out of memory");
                return -1;
            }
            it->v = v;
            it->cap = cap;
        }
        it->v[it->n++] = (struct item){t, sid, json_incref(obj)};
        if (t < *oldest)
            *oldest = t;
    }
    return 0;
}

/* Reads the list newest first from its first page (with the date filter, of [lo, hi]) until
 * its end or a page holding an item older than lo: at most max_pages pages (0: up to what is
 * left of the poll's budget). *complete tells whether it got there, *oldest is the oldest date
 * read. Returns 0, or -1 with the answer set. */
static int read_list(struct walk *w, long page_size, long long lo, long long hi, int max_pages,
                     struct items *it, int *complete, long long *oldest)
{
    char from[32], to[32], after[64], before[64];
    const char *params[] = {after, from, before, to, NULL};
    json_t *page = NULL;
    int rc = -1, pages = 1, below = 0;
    *complete = 0;
    *oldest = hi;
    if (w->spec->filter) {
        value_date_format(lo, from);
        value_date_format(hi, to);
        snprintf(after, sizeof after, "%s>", w->spec->filter);
        snprintf(before, sizeof before, "%s<", w->spec->filter);
    } else {
        params[0] = NULL;
    }
    if (flowreq_first(&w->pages, buf_str(&w->c->prep->path), &w->c->prep->form, page_size, params,
                      &page) < 0)
        return -1;
    for (;; pages++) {
        if (take_page(w, page, lo, it, oldest, &below) < 0)
            goto done;
        const int more = below || json_array_size(json_object_get(page, w->spec->list)) == 0
                             ? 0
                             : flowreq_link(&w->pages, page);
        if (more < 0)
            goto done;
        if (!more) {
            *complete = 1;
            break;
        }
        if (max_pages && pages >= max_pages)
            break;
        json_t *prev = page;
        const int got = flowreq_next(&w->pages, prev, &page);
        json_decref(prev);
        if (got < 0)
            goto done;
    }
    rc = 0;
done:
    json_decref(page);
    return rc;
}

/* Answers {"items": [...], "cursor": "...", "more": bool}. */
static void answer(struct walk *w, const struct items *it, size_t n,
                   const struct poll_position *pos, int more)
{
    char text[POLLING_CURSOR_TEXT_MAX];
    json_t *items = json_array();
    json_t *to = json_object();
    int ok = items && to && cursor_encode(w->c, pos, text) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_array_append(items, it->v[i].obj) == 0;
    ok = ok && json_object_set(to, "items", items) == 0 &&
         json_object_set_new(to, "cursor", json_string(text)) == 0 &&
         json_object_set_new(to, "more", json_boolean(more)) == 0;
    if (ok)
        call_success(w->c, to);
    else
        call_answer_take(w->c, "success", NULL, 0);
    json_decref(items);
    json_decref(to);
}

/* The resources after pos dated up to settled, oldest first: those of a window [pos->lo, hi]
 * read whole, hi narrowed while the window needs more pages than limit does. */
static void poll_window(struct walk *w, long limit, struct poll_position *pos, long long settled)
{
    struct items it = {0};
    long page_size = limit + 1 < w->spec->page_size ? limit + 1 : w->spec->page_size;
    int max_pages = (int)((limit + page_size) / page_size) + 1;
    long long hi = settled, oldest;
    int complete = 0;
    if (!w->spec->filter) { /* no date filter: down from the newest to the cursor */
        if (read_list(w, page_size, pos->lo, hi, 0, &it, &complete, &oldest) < 0)
            goto done;
    } else {
        for (int probe = 0;; probe++) {
            int cap = hi == pos->lo || probe == POLL_MAX_PROBES ? 0 : max_pages;
            if (read_list(w, page_size, pos->lo, hi, cap, &it, &complete, &oldest) < 0)
                goto done;
            if (complete)
                break;
            /* The oldest resources are below what these pages reached (it.n of them dated in
             * [oldest, hi]): aim at one and a half limit's worth at that density, and at most
             * half the window, so the halvings end. */
            long long mid = pos->lo + (hi - pos->lo) / 2;
            long long aim =
                it.n ? pos->lo + (hi - oldest + 1) * 3 * (limit + 1) / (2 * (long long)it.n) : mid;
            hi = oldest == pos->lo ? pos->lo : aim < mid ? aim : mid; /* a crowded second */
            items_reset(&it);
        }
    }
    size_t keep = 0;
    for (size_t i = 0; i < it.n; i++) {
        struct item *x = &it.v[i];
        if (x->date < pos->lo || x->date > hi ||
            (x->date == pos->lo && strcmp(x->sid, pos->after) <= 0)) {
            json_decref(x->obj);
            continue;
        }
        it.v[keep++] = *x;
    }
    it.n = keep;
    if (it.n > 1)
        qsort(it.v, it.n, sizeof *it.v, item_cmp);
    keep = 0;
    for (size_t i = 0; i < it.n; i++) { /* a resource on two pages counts once */
        if (keep && strcmp(it.v[keep - 1].sid, it.v[i].sid) == 0) {
            json_decref(it.v[i].obj);
            continue;
        }
        it.v[keep++] = it.v[i];
    }
    it.n = keep;
    if (it.n > (size_t)limit) {
        const struct item *last = &it.v[limit - 1];
        pos->lo = last->date;
        snprintf(pos->after, sizeof pos->after, "%s", last->sid);
        answer(w, &it, (size_t)limit, pos, 1);
    } else {
        const int narrowed = hi < settled;
        pos->lo = hi + 1;
        pos->after[0] = '\0';
        answer(w, &it, it.n, pos, narrowed);
    }
done:
    items_free(&it);
}

void polling_run(struct call *c)
{
    /* A poll only reads: a repeat is harmless, and answers what is new then (no key). */
    const struct block_def *b = c->b;
    const struct prepared *prep = c->prep;
    struct poll_spec spec;
    struct walk w = {c,
                     &spec,
                     {.c = c,
                      .product = prep->product,
                      .style = FLOWREQ_2010,
                      .max_pages = POLL_MAX_PAGES,
                      .drain = 1,
                      .fail = walk_failed}};
    struct poll_position pos = {0};
    if (spec_read(b->flow, &spec) < 0) {
        fail(c, "internal_error", "The block's flow does not define a poll");
        return;
    }
    w.pages.key = spec.list;
    /* The args as their checks read them: since and limit trimmed and parsed once there. */
    const struct text cursor = args_value(prep, "cursor");
    long long since_s = 0, limit = 100;
    const int since = args_time(prep, "since", &since_s);
    const long long now = now_s(c);
    char text[POLLING_CURSOR_TEXT_MAX + 1];
    args_long(prep, "limit", &limit);
    snprintf(text, sizeof text, "%.*s", (int)(cursor.n < sizeof text ? cursor.n : 0), cursor.p);
    if (cursor.n && (!text[0] || cursor_decode(c, text, now, &pos) < 0)) {
        json_t *reasons = json_pack("{s:s}", "cursor",
                                    "is not a cursor this block answered for this account; pass "
                                    "the previous answer's cursor as it is");
        call_fields(c, reasons, 0);
        json_decref(reasons);
        return;
    }
    if (!cursor.n && since)
        pos.lo = since_s;
    if (!cursor.n && !since) {
        /* Starts now; one page of one item checks the credentials and filters. */
        struct items it = {0};
        int complete;
        long long oldest;
        pos.lo = now;
        const struct poll_spec start = {spec.list, spec.date, NULL, 1};
        w.spec = &start;
        if (read_list(&w, 1, now, now, 1, &it, &complete, &oldest) == 0)
            answer(&w, &it, 0, &pos, 0);
        items_free(&it);
        return;
    }
    if (pos.lo > now - POLLING_SETTLE_S) { /* nothing after the cursor is settled yet */
        struct items none = {0};
        answer(&w, &none, 0, &pos, 0);
        return;
    }
    poll_window(&w, (long)limit, &pos, now - POLLING_SETTLE_S);
}

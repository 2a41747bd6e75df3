/* flowreq: one Twilio request of a flow call (struct call, call.h), sent through send.h, its
 * JSON answer parsed with jsonparse, the pages of a list walked (the 2010-04-01 API's and the
 * v1 APIs'), and any failure turned into the call's error envelope. What the requests cost
 * adds up in the call's figures, and c->writes counts the requests that changed something at
 * Twilio, so a failure can say whether anything was written before it. */
#ifndef FLOWREQ_H
#define FLOWREQ_H

#include <curl/curl.h>
#include <jansson.h>

#include "args.h"
#include "call.h"

/* A list longer than this many pages is not one a trigger reads (Twilio's pages hold 50). */
#define FLOWREQ_MAX_PAGES 200

/* Sends method path on product with params (NULL-terminated name, value pairs, or NULL): a
 * form for a POST, the query otherwise. Returns 0 with *answer a new reference to Twilio's
 * JSON answer (an empty object for a 204 or an empty body; a DELETE of something already gone
 * counts as done), or -1 with the error envelope in the call's answer (action names the request, as
 * "fetch record", "update record"). */
int flowreq_send(struct call *c, const char *product, const char *method, const char *path,
                 const char *const *params, const char *action, json_t **answer);

/* How a list names its next page: the 2010-04-01 API's next_page_uri (a path on the API's
 * base, the query holding Page, PageSize and PageToken), or a v1 API's meta.next_page_url
 * (absolute: only its path and query are followed, on the call's own base). */
enum flowreq_style { FLOWREQ_2010, FLOWREQ_V1 };

/* Why a walk over a list's pages stopped short, for its caller to word. */
enum flowreq_fault {
    FLOWREQ_DRAINING,   /* the service is shutting down: no request was made */
    FLOWREQ_UNSENT,     /* Twilio could not be reached (rs->error says why) */
    FLOWREQ_API_ERROR,  /* Twilio answered something other than HTTP 200 (rs) */
    FLOWREQ_TOO_LARGE,  /* the pages passed SEND_LIST_MAX_BYTES together */
    FLOWREQ_NOT_JSON,   /* an HTTP 200 whose body is not a JSON object */
    FLOWREQ_NOT_A_PAGE, /* a JSON object without the list's array */
    FLOWREQ_BAD_NEXT,   /* the next page it names is not one to follow */
    FLOWREQ_ENDLESS,    /* a page past max_pages would be read */
};

/* A walk over the pages of a Twilio list, one GET at a time: each page an HTTP 200 within the
 * list budget, parsed as a JSON object holding the list's array (a duplicate member refused).
 * The caller sets the members up to fail; pages count over every list the walk reads, and the
 * bytes over every list the call reads (c->list_bytes), so one budget spans a call that walks
 * several lists. */
struct flowreq_walk {
    struct call *c;
    const char *product;
    const char *key; /* the member holding a page's array: "messages" */
    enum flowreq_style style;
    int max_pages; /* pages the walk reads at most */
    int drain;     /* stop before each request once the service drains */
    /* Answers the call for fault f (rs: the request's response, NULL for DRAINING and
     * ENDLESS); the walk's own wording is the caller's. */
    void (*fail)(const struct flowreq_walk *w, enum flowreq_fault f,
                 const struct twilio_response *rs);
    int pages; /* read so far */
};

/* Reads a list's first page, GET path with the query form (already encoded, or NULL), then
 * PageSize (the most items a page holds; 0: Twilio's default) and params (as flowreq_send's).
 * Returns 0 with *page a new reference, or -1 with the call answered (w->fail, or "out of
 * memory"). */
int flowreq_first(struct flowreq_walk *w, const char *path, const struct buf *form, long page_size,
                  const char *const *params, json_t **page);

/* Whether page names a page after it: 1, 0 when it names none (the list ends there), or -1
 * when what it names is not a page of this list on this base (the call answered). */
int flowreq_link(const struct flowreq_walk *w, const json_t *page);

/* Reads the page that page names (flowreq_link said 1). Returns as flowreq_first. */
int flowreq_next(struct flowreq_walk *w, const json_t *page, json_t **next);

/* GETs path on product (a v1 list: {"<key>": [...], "meta": {"next_page_url"}}) and every page
 * after it (at most FLOWREQ_MAX_PAGES), with the flows' own wording of its failures. Returns 0
 * with *items a new array of every page's items, or -1 with the error envelope in the call's
 * answer. */
int flowreq_list(struct call *c, const char *product, const char *path, const char *const *params,
                 const char *key, json_t **items);

/* A request of the call, as a dry run answers it: the envelope in the call's answer ("what" dry_run). */
void flowreq_dry_run(struct call *c, const char *product, const char *method, const char *path,
                     const char *const *params);

/* The arg called name as its checks read it (args_value), trimmed and copied into out, or NULL
 * when it is absent, empty (which counts as absent) or longer than size - 1 (the block's
 * checks cap it first). */
const char *flowreq_arg(const struct prepared *p, const char *name, char *out, size_t size);

/* Whether the Boolean arg called name was given as true (in any spelling its check takes). */
int flowreq_arg_true(const struct prepared *p, const char *name);

#endif

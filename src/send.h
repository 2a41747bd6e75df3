/* send: call Twilio once. The one layer every flow sends through: the URL of a request (its
 * product's base, edge and region), the request itself (a form only where the method takes
 * one), the transfer, and what Twilio answered. Above it: dispatch (pipeline.c) and the flows
 * (bulk, subscribe, poll); below it: twilio.c and upstream.c. Nothing here calls back up. */
#ifndef SEND_H
#define SEND_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "args.h"
#include "buf.h"
#include "config.h"
#include "idem.h"
#include "twilio.h"
#include "upstream.h"

/* What every call shares, set up once at start; read-only afterwards. */
struct send_service {
    const struct config *cfg;
    struct idem_store *idem;
    struct upstream *upstream;  /* runs the transfers; NULL: each on its calling thread */
    const atomic_int *draining; /* once set, a flow starts no more sends; or NULL */
};

/* The answer to one block call, whatever flow made it. */
struct send_answer {
    int status;                 /* HTTP status: 200, or 503 when the idempotency store is down */
    char *body;                 /* the envelope (malloc'd), or NULL when memory ran out */
    size_t len;
    const char *const *headers; /* static extra reply headers (name, value, ..., NULL), or NULL */
    const char *what;           /* the outcome, for the log line and the metrics */
    long upstream_status;       /* Twilio's HTTP status, 0 when none came */
    int attempts;
    int retries; /* of the attempts, repeats of a request already tried */
    long upstream_ms;
    int replayed;
    char twilio_request_id[96];
};

/* Twilio's answers are small; a cap keeps a misbehaving upstream from exhausting memory. */
#define SEND_MAX_UPSTREAM_BYTES (4u << 20)

/* Appends the request's base (its product's host, edge and region applied, or
 * TWILIO_API_BASE) to base, and its full URL to url: the path and, unless query is 0, the
 * parameters of a request whose method takes no form (GET, DELETE) as its query string.
 * Returns 0, or -1 when memory ran out. */
int send_url(const struct config *cfg, const struct prepared *p, int query, struct buf *base,
             struct buf *url);

/* Whether a request with this method carries its parameters as a form body (POST). */
int send_has_form(const char *method);

/* Performs p once on the handle in *slot (made there when NULL, for the caller to free; slot
 * NULL: a handle for this request alone), with the retry policy of twilio.h, and fills rs
 * (which the caller initialised with twilio_response_init and frees). base, unless NULL,
 * receives the base the request went to. Returns 0 when Twilio answered (rs->status), -1
 * otherwise (rs->outcome and rs->error say why; "out of memory" included). */
int send_perform(const struct send_service *svc, const struct prepared *p, CURL **slot,
                 struct twilio_response *rs, struct buf *base);

/* Makes sub a request of its own on behalf of call: call's credentials, edge and region, with
 * product, method and path (already escaped; may carry a query) and no parameters; add them
 * with form_add(&sub->form, ...). Returns 0, or -1 when memory ran out (sub is then freed).
 * Free it with prepared_free. */
int send_sub_init(struct prepared *sub, const struct prepared *call, const char *product,
                  const char *method, const char *path);

#endif

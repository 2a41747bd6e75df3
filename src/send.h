/* send: call Twilio once. The one layer every flow sends through: the URL of a request (its
 * product's base, edge and region), the request itself (a form only where the method takes
 * one), the transfer, what Twilio answered, and the Idempotency-Key's parts (scoped key,
 * fingerprint, claim, settle) that call_keyed (call.h) puts together. Above it: the call
 * contract (call.h) and the flows; below it: twilio.c and upstream.c. Nothing here calls back
 * up. */
#ifndef SEND_H
#define SEND_H

#include <stddef.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>

#include "args.h"
#include "block.h"
#include "buf.h"
#include "config.h"
#include "idem.h"
#include "twilio.h"
#include "upstream.h"

/* What every call shares, set up once at start; read-only afterwards. */
struct send_service {
    const struct config *cfg;
    struct idem_store *idem;
    /* webhookEvent's deliveries (delivery.h), never in idem's room: those a signature vouched
     * for (a bounded set in Redis with REDIS_URL, else an LRU of their own), and the rest (per
     * process, never in Redis). NULL until send_service_open_deliveries. */
    struct idem_store *deliveries;
    struct idem_store *unsigned_deliveries;
    struct upstream *upstream;  /* runs the transfers; NULL: each on its calling thread */
    const atomic_int *draining; /* once set, a flow starts no more sends; or NULL */
};

/* Sets up svc from cfg (borrowed: it must outlive svc): the idempotency store (in process, or
 * Redis with REDIS_URL) and, unless loops is 0, the upstream transfers (upstream.h). Returns 0,
 * or -1 with the reason in err and svc empty. Stop it with send_service_stop. */
int send_service_start(struct send_service *svc, const struct config *cfg, size_t loops,
                       const atomic_int *draining, char *err, size_t errlen);

/* Opens the stores of webhookEvent's deliveries in a started svc: only a service that takes
 * deliveries needs them. Returns 0, or -1 with the reason in err (send_service_stop frees what
 * was opened). */
int send_service_open_deliveries(struct send_service *svc, char *err, size_t errlen);

/* Finishes the transfers in flight and frees what send_service_start made; an empty svc is
 * ignored. */
void send_service_stop(struct send_service *svc);

/* Twilio's answers are small; a cap keeps a misbehaving upstream from exhausting memory. */
#define SEND_MAX_UPSTREAM_BYTES (4u << 20)
/* The list budget: the bytes of every page one call reads, together (each page is capped
 * above, their sum here), so one call's memory stays bounded whatever the pages hold. */
#define SEND_LIST_MAX_BYTES (8u << 20)
#define SEND_LIST_MAX_TEXT "8 MB"

/* Caps for send_url's two buffers: a request's base ("https://api.twilio.com") and its full
 * URL (the query of a GET included). */
#define SEND_BASE_CAP 1024
#define SEND_URL_CAP (1u << 20)

/* Appends the request's base (its product's host, edge and region applied, or
 * TWILIO_API_BASE) to base, and its full URL to url: the path and, unless query is 0, the
 * parameters of a request whose method takes no form (GET, DELETE) as its query string.
 * Returns 0, or -1 when memory ran out. */
int send_url(const struct config *cfg, const struct prepared *p, int query, struct buf *base,
             struct buf *url);

/* Whether a request with this method carries its parameters as a form body (POST). */
int send_has_form(const char *method);

/* How one request is sent: time, 429s and words. Zero-initialised: UPSTREAM_TIMEOUT_MS, 429s
 * retried per twilio.h, "it may have been acted on". */
struct send_options {
    long timeout_ms;   /* at most this long in all, when less than UPSTREAM_TIMEOUT_MS */
    int pace_429;      /* a 429 is answered at once: the caller paces (bulk) */
    const char *maybe; /* what the request may have done when no usable answer came */
};

/* Performs p once on the handle in *slot (made there when NULL, for the caller to free; slot
 * NULL: a handle for this request alone), with the retry policy of twilio.h, and fills rs
 * (which the caller initialised with twilio_response_init and frees). A POST is never sent
 * twice (twilio.c, on_prereq). base, unless NULL, receives the base the request went to.
 * Returns 0 when Twilio answered (rs->status), -1 otherwise (rs->outcome and rs->error say
 * why; "out of memory" included). */
int send_perform_ex(const struct send_service *svc, const struct prepared *p, CURL **slot,
                    const struct send_options *opt, struct twilio_response *rs, struct buf *base);

/* send_perform_ex with default options. */
int send_perform(const struct send_service *svc, const struct prepared *p, CURL **slot,
                 struct twilio_response *rs, struct buf *base);

/* What a request of block b may have done when it may have reached Twilio but no usable
 * answer came: the definition's "maybeSent" words ("the message may have been created"), or
 * words from its method ("it may have been created"). Borrowed from b. */
const char *send_maybe_words(const struct block_def *b, const char *method);

/* What one request came to. */
enum send_outcome {
    SEND_DONE,     /* Twilio answered 2xx */
    SEND_REFUSED,  /* Twilio answered an error: nothing was done (4xx, or 5xx to a GET) */
    SEND_LIMITED,  /* Twilio answered 429: nothing was done; may be tried again */
    SEND_MAYBE,    /* it may have reached Twilio and acted: no usable answer, or a 5xx */
    SEND_NOT_SENT, /* nothing can have reached Twilio */
};

/* Classifies the end of send_perform_ex (answered: it returned 0). */
enum send_outcome send_classify(const struct prepared *p, const struct twilio_response *rs,
                                int answered);

/* Whether a repeat under the same Idempotency-Key must get this outcome's answer rather than
 * send again: not when nothing was sent, nor for a 429, nor when Twilio refused the
 * credentials (401, 403: nothing was done, and a wrong token must not block the right one). */
int send_keeps(enum send_outcome o, long status);

/* An Idempotency-Key scoped to the credentials it came with. */
struct send_key {
    struct buf scoped; /* "<account>\n<digest of the secret>\n<key>[\n<extra>]" */
    unsigned long ticket;
    int held; /* claimed: settle it with send_settle */
};

/* Scopes key to p's credentials (the account and a SHA-256 of the token or API key secret,
 * never the secret itself) and extra, unless NULL (a block name, a recipient). Returns 0, or
 * -1 when memory ran out. Free k with send_key_free. */
int send_key_init(struct send_key *k, const struct prepared *p, const char *key, const char *extra);
void send_key_free(struct send_key *k);

/* What a keyed request is, for its claim: block name, credentials, path, form, headers when
 * it has any, and product and method when chosen is set (the caller chose them). */
int send_fingerprint(const char *name, const struct prepared *p, int chosen,
                     unsigned char fp[IDEM_FP_LEN]);

/* Claims k for fp, waiting at most wait_ms for an earlier claim in flight. IDEM_FRESH: k is
 * held; IDEM_REPLAY: *stored is the kept answer (the caller frees it). */
enum idem_claim send_claim(const struct send_service *svc, struct send_key *k,
                           const unsigned char fp[IDEM_FP_LEN], long wait_ms, char **stored,
                           size_t *len);

/* Settles a held claim: keeps text (what a repeat gets) when keep is set, else lets the key
 * go so a repeat may send. */
void send_settle(const struct send_service *svc, struct send_key *k, int keep, const char *text,
                 size_t len);

/* Makes sub a request of its own on behalf of call: call's credentials, edge and region, with
 * product, method and path (already escaped; may carry a query) and no parameters; add them
 * with form_add(&sub->form, ...). Returns 0, or -1 when memory ran out (sub is then freed).
 * Free it with args_prepared_free. */
int send_sub_init(struct prepared *sub, const struct prepared *call, const char *product,
                  const char *method, const char *path);

#endif

/* bulk: blocks that call another block once per entry of a list ("each" in blocks/<name>.json;
 * sendBulkSms sends sendSms to each recipient), after the whole list is checked (recipients.h).
 * A batch runs on its worker and a few threads of its own: at most BULK_CONCURRENCY sends in
 * flight, halved by a Twilio 429 whose Retry-After pauses every send, and none started after
 * BULK_DEADLINE_MS. With an Idempotency-Key each recipient is claimed in the idempotency store
 * on its own, so a repeat never sends again to a recipient that was or may have been sent to;
 * the whole answer is kept once no recipient is left to try. */
#ifndef BULK_H
#define BULK_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "block.h"
#include "config.h"
#include "idem.h"
#include "upstream.h"

/* What a batch borrows from the service. */
struct bulk_service {
    const struct config *cfg;
    struct idem_store *idem;
    struct upstream *upstream;  /* runs the transfers, or NULL */
    CURL *curl;                 /* the calling worker's handle, or NULL */
    const atomic_int *draining; /* once set, no send starts; or NULL */
};

struct bulk_answer {
    char *body; /* the envelope (malloc'd), or NULL when memory ran out */
    size_t len;
    int status;           /* HTTP status: 200, or 503 when the idempotency store is unreachable */
    const char *what;     /* the outcome, for the log and metrics (a string literal) */
    int replayed;         /* the stored answer of an earlier call with this Idempotency-Key */
    int attempts;         /* requests sent to Twilio */
    int retries;          /* of them, repeats of a request already tried */
    long upstream_status; /* Twilio's last HTTP status, 0 when none came */
    long upstream_ms;     /* time spent sending */
};

/* Runs one call of bulk block b with the caller's args (borrowed) and Idempotency-Key (or NULL),
 * and fills out; the caller frees out->body. */
void bulk_run(const struct bulk_service *svc, const struct block_def *b, json_t *args,
              const char *key, struct bulk_answer *out);

#endif

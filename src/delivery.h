/* delivery: each Twilio delivery to webhookEvent once. Twilio delivers at least once; a
 * webhook names its delivery with I-Twilio-Idempotency-Token and an Event Streams CloudEvent
 * with its id. Each is claimed in the idempotency store (idem.h: in memory, or in Redis across
 * replicas; kept IDEMPOTENCY_TTL_S, bounded like every key there) with the http_resp the first
 * delivery got, so a repeat is answered the same and fires nothing. Also: what an Event Streams
 * delivery is (an array of CloudEvents, or one). */
#ifndef DELIVERY_H
#define DELIVERY_H

#include <stddef.h>
#include <jansson.h>

#include "idem.h"

/* The events of an Event Streams delivery: body (parsed) as a new array of CloudEvents (objects
 * with specversion, type and id) when it is one or an array of them, else NULL. */
json_t *delivery_cloudevents(json_t *body);

struct delivery_claim;

/* One delivery, claimed: a webhook's token or each of events' ids. */
struct delivery_batch {
    struct idem_store *store; /* where the claims are (NULL: none, every delivery is new) */
    json_t *fresh;            /* the events not seen before (a new array), or NULL for a webhook */
    int duplicate;            /* every part was seen before: deliver nothing */
    char *first;              /* a duplicate's first http_resp as JSON text (malloc'd), or NULL */
    size_t first_len;
    struct delivery_claim *claims;
    size_t n_claims;
};

/* Claims token (a webhook's; NULL or "" when it has none: never a duplicate) or, when events is
 * not NULL, each event's id, in store (the service's idempotency store; NULL: none). Returns 0,
 * or -1 when memory ran out (d is then empty). */
int delivery_begin(struct delivery_batch *d, struct idem_store *store, const char *token,
                   json_t *events);

/* Settles the claims with the http_resp (JSON text) the delivery got, or gives them up when
 * resp is NULL (the delivery could not be answered: a repeat may try again); frees d. */
void delivery_end(struct delivery_batch *d, const char *resp, size_t len);

#endif

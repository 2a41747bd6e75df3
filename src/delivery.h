/* delivery: each Twilio delivery to webhookEvent once per listener. Twilio delivers at least
 * once; a webhook names its delivery with I-Twilio-Idempotency-Token and an Event Streams
 * CloudEvent with its id. Each is claimed under the digest of the listeners it reached and its
 * id, in stores of its own that never share room with Idempotency-Keys: a delivery a listener's
 * signature vouched for in the verified store (Redis with REDIS_URL, else an LRU of
 * DELIVERY_MAX), any other in a per-process LRU of DELIVERY_UNSIGNED_MAX that never reaches
 * Redis. A repeat fires nothing; its answer is computed again, so nothing but a digest is kept.
 * Also: what an Event Streams delivery is (an array of CloudEvents, or one). */
#ifndef DELIVERY_H
#define DELIVERY_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"
#include "idem.h"
#include "send.h"

/* The events of an Event Streams delivery: body (parsed) as a new array of CloudEvents (objects
 * with specversion, type and id) when it is one or an array of them, else NULL. */
json_t *delivery_cloudevents(json_t *body);

/* The listeners a delivery reached, as they identify it: a delivery is one per listener set. */
struct delivery_scope {
    struct buf text; /* each listener's to, from, webhookUrl and authToken, length-prefixed */
    int verified;    /* a listener's signature check passed for this delivery */
};

void delivery_scope_init(struct delivery_scope *s);
/* Adds a listener that matched (its values as the checks trimmed them; NULL: not given).
 * Returns 0, or -1 when memory ran out. */
int delivery_scope_add(struct delivery_scope *s, const char *to, const char *from,
                       const char *webhook_url, const char *auth_token);
void delivery_scope_free(struct delivery_scope *s);

struct delivery_claim;

/* One delivery, claimed: a webhook's token or each of events' ids. */
struct delivery_batch {
    struct idem_store *store; /* where the claims are (NULL: none, every delivery is new) */
    json_t *fresh;            /* the events not seen before (a new array), or NULL for a webhook */
    int duplicate;            /* every part was seen before: deliver nothing */
    struct delivery_claim *claims;
    size_t n_claims;
};

/* Claims token (a webhook's; NULL or "" when it has none: never a duplicate) or, when events is
 * not NULL, each event's id, for the listeners of scope, in svc's delivery store that fits
 * scope->verified. Returns 0, or -1 when memory ran out (d is then empty). */
int delivery_begin(struct delivery_batch *d, const struct send_service *svc,
                   const struct delivery_scope *scope, const char *token, json_t *events);

/* Settles the claims once the delivery was answered (ok), or gives them up (the delivery could
 * not be answered: a repeat may try again); frees d. */
void delivery_end(struct delivery_batch *d, int ok);

#endif

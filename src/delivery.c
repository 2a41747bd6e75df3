#include "delivery.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A delivery repeated while its first is being answered waits this long for that answer. */
#define DELIVERY_WAIT_MS 1000

struct delivery_claim {
    char *key;
    unsigned long ticket;
};

static int is_cloudevent(json_t *e)
{
    return json_is_object(e) && json_is_string(json_object_get(e, "specversion")) &&
           json_is_string(json_object_get(e, "type")) && json_is_string(json_object_get(e, "id"));
}

json_t *delivery_cloudevents(json_t *body)
{
    if (is_cloudevent(body))
        return json_pack("[O]", body);
    if (!json_is_array(body) || json_array_size(body) == 0)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(body, i, e) {
        if (!is_cloudevent(e))
            return NULL;
    }
    return json_incref(body);
}

/* Claims one id. Returns 1 when it is new (the claim is held in c), 0 when it was seen (its
 * first answer, if any, in d->first), -1 when memory ran out. A store that cannot tell (none,
 * Redis unreachable) counts it new without a claim: a delivery is never lost for it. */
static int claim(struct idem_store *store, const char *id, struct delivery_claim *c,
                 struct delivery_batch *d)
{
    static const unsigned char fp[IDEM_FP_LEN] = {0}; /* every delivery of an id is the same */
    struct buf key;
    char *first = NULL;
    size_t n = 0;
    c->key = NULL;
    if (!store)
        return 1;
    buf_init(&key, 1024);
    /* never an Idempotency-Key's: those begin with an account or key SID */
    if (buf_appendz(&key, "twilio-delivery\n") < 0 || buf_appendz(&key, id) < 0) {
        buf_free(&key);
        return 1; /* an id too long to remember is delivered */
    }
    enum idem_claim r =
        idem_claim(store, buf_str(&key), fp, DELIVERY_WAIT_MS, &first, &n, &c->ticket);
    int rc = 1;
    if (r == IDEM_FRESH) {
        c->key = strdup(buf_str(&key));
        if (!c->key) {
            idem_abandon(store, buf_str(&key), c->ticket);
            rc = -1;
        }
    } else if (r == IDEM_REPLAY || r == IDEM_PENDING) {
        rc = 0;
        if (first && !d->first) {
            d->first = first;
            d->first_len = n;
            first = NULL;
        }
    } else if (r == IDEM_NOMEM) {
        rc = -1;
    }
    free(first);
    buf_free(&key);
    return rc;
}

int delivery_begin(struct delivery_batch *d, struct idem_store *store, const char *token,
                   json_t *events)
{
    memset(d, 0, sizeof *d);
    d->store = store;
    size_t n = events ? json_array_size(events) : 1;
    d->claims = calloc(n ? n : 1, sizeof *d->claims);
    d->fresh = events ? json_array() : NULL;
    if (!d->claims || (events && !d->fresh))
        goto nomem;
    if (!events) {
        int r = token && *token ? claim(store, token, &d->claims[0], d) : 1;
        if (r < 0)
            goto nomem;
        d->n_claims = 1;
        d->duplicate = r == 0;
        return 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        int r = 0;
        d->n_claims = i + 1;
        for (size_t k = 0; k < i; k++) /* twice in one batch: delivered once */
            if (strcmp(json_string_value(json_object_get(json_array_get(events, k), "id")), id) ==
                0)
                goto next;
        r = claim(store, id, &d->claims[i], d);
        if (r < 0 || (r == 1 && json_array_append(d->fresh, e) < 0))
            goto nomem;
    next:;
    }
    d->duplicate = json_array_size(d->fresh) == 0;
    return 0;
nomem:
    delivery_end(d, NULL, 0);
    return -1;
}

void delivery_end(struct delivery_batch *d, const char *resp, size_t len)
{
    struct idem_store *store = d->store;
    for (size_t i = 0; i < d->n_claims; i++) {
        struct delivery_claim *c = &d->claims[i];
        if (!c->key)
            continue;
        if (store && resp)
            idem_finish(store, c->key, c->ticket, resp, len);
        else if (store)
            idem_abandon(store, c->key, c->ticket);
        free(c->key);
    }
    free(d->claims);
    free(d->first);
    json_decref(d->fresh);
    memset(d, 0, sizeof *d);
}

#include "delivery.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

/* A delivery scope's text: the listeners' args it is keyed by. */
#define DELIVERY_SCOPE_CAP ((size_t)1 << 24)

/* A delivery repeated while its first is being answered waits this long for that answer. */
#define DELIVERY_WAIT_MS 1000
/* never an Idempotency-Key's: those begin with an account or key SID */
#define KEY_HEAD "twilio-delivery\n"
#define KEY_LEN (sizeof KEY_HEAD - 1 + DIGEST_SHA256_HEX_LEN)

struct delivery_claim {
    char key[KEY_LEN + 1];
    int held; /* claimed: settle or give it up */
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

void delivery_scope_init(struct delivery_scope *s)
{
    buf_init(&s->text, DELIVERY_SCOPE_CAP);
    s->verified = 0;
}

static int field(struct buf *b, const char *v)
{
    if (!v)
        return buf_appendz(b, "-;");
    return buf_appendf(b, "%zu:", strlen(v)) < 0 || buf_appendz(b, v) < 0 ||
                   buf_append(b, ";", 1) < 0
               ? -1
               : 0;
}

int delivery_scope_add(struct delivery_scope *s, const char *to, const char *from,
                       const char *webhook_url, const char *auth_token)
{
    return field(&s->text, to) < 0 || field(&s->text, from) < 0 ||
                   field(&s->text, webhook_url) < 0 || field(&s->text, auth_token) < 0 ||
                   buf_append(&s->text, "\n", 1) < 0
               ? -1
               : 0;
}

void delivery_scope_free(struct delivery_scope *s)
{
    buf_free(&s->text);
}

/* The store key of id for scope: its head and the SHA-256 of the listeners and the id, so a
 * key costs the same whatever the caller wrote, and holds no token. */
static int key_of(const struct delivery_scope *scope, const char *id, char out[KEY_LEN + 1])
{
    struct buf t;
    buf_init(&t, scope->text.len + strlen(id) + 16);
    int rc = buf_append(&t, scope->text.len ? scope->text.data : "", scope->text.len) < 0 ||
                     buf_appendf(&t, "%zu:", strlen(id)) < 0 || buf_appendz(&t, id) < 0
                 ? -1
                 : 0;
    memcpy(out, KEY_HEAD, sizeof KEY_HEAD - 1);
    if (rc == 0)
        rc = digest_sha256_hex(t.data, t.len, out + sizeof KEY_HEAD - 1);
    /* the text held the listeners' tokens */
    if (t.data)
        memset(t.data, 0, t.len);
    buf_free(&t);
    return rc;
}

/* Claims one key. Returns 1 when it is new (the claim is held in c), 0 when it was seen, -1
 * when memory ran out. A store that cannot tell (none, Redis unreachable) counts it new without
 * a claim: a delivery is never lost for it. */
static int claim(struct idem_store *store, struct delivery_claim *c)
{
    static const unsigned char fp[IDEM_FP_LEN] = {0}; /* every delivery of an id is the same */
    char *first = NULL;
    size_t n = 0;
    c->held = 0;
    if (!store)
        return 1;
    enum idem_claim r = idem_claim(store, c->key, fp, DELIVERY_WAIT_MS, &first, &n, &c->ticket);
    free(first);
    if (r == IDEM_FRESH)
        c->held = 1;
    if (r == IDEM_NOMEM)
        return -1;
    return r == IDEM_REPLAY || r == IDEM_PENDING ? 0 : 1;
}

static uint64_t key_hash(const char *k)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i++) /* the digest's first hex digits are already uniform */
        h = h << 4 | (uint64_t)(k[sizeof KEY_HEAD - 1 + i] & 0x0f);
    return h;
}

/* Marks the claims whose key an earlier event of the batch has (seen[i] = 1): twice in one
 * batch is delivered once. Linear: an open-addressing table of the keys. */
static int repeats_in_batch(const struct delivery_claim *c, size_t n, unsigned char *seen)
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    size_t *slot = malloc(size * sizeof *slot);
    if (!slot)
        return -1;
    for (size_t i = 0; i < size; i++)
        slot[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t at = (size_t)key_hash(c[i].key) & (size - 1);
        while (slot[at] != SIZE_MAX && strcmp(c[slot[at]].key, c[i].key) != 0)
            at = (at + 1) & (size - 1);
        seen[i] = slot[at] != SIZE_MAX;
        slot[at] = i;
    }
    free(slot);
    return 0;
}

int delivery_begin(struct delivery_batch *d, const struct send_service *svc,
                   const struct delivery_scope *scope, const char *token, json_t *events)
{
    memset(d, 0, sizeof *d);
    d->store = scope->verified ? svc->deliveries : svc->unsigned_deliveries;
    size_t n = events ? json_array_size(events) : 1;
    unsigned char *seen = calloc(n ? n : 1, 1);
    d->claims = calloc(n ? n : 1, sizeof *d->claims);
    d->fresh = events ? json_array() : NULL;
    if (!seen || !d->claims || (events && !d->fresh))
        goto nomem;
    if (!events) {
        int r = 1;
        if (token && *token) {
            if (key_of(scope, token, d->claims[0].key) < 0)
                goto nomem;
            r = claim(d->store, &d->claims[0]);
        }
        if (r < 0)
            goto nomem;
        d->n_claims = 1;
        d->duplicate = r == 0;
        free(seen);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (key_of(scope, json_string_value(json_object_get(json_array_get(events, i), "id")),
                   d->claims[i].key) < 0)
            goto nomem;
    if (repeats_in_batch(d->claims, n, seen) < 0)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        d->n_claims = i + 1;
        if (seen[i])
            continue;
        int r = claim(d->store, &d->claims[i]);
        if (r < 0 || (r == 1 && json_array_append(d->fresh, json_array_get(events, i)) < 0))
            goto nomem;
    }
    d->duplicate = json_array_size(d->fresh) == 0;
    free(seen);
    return 0;
nomem:
    free(seen);
    delivery_end(d, 0);
    return -1;
}

void delivery_end(struct delivery_batch *d, int ok)
{
    for (size_t i = 0; i < d->n_claims; i++) {
        struct delivery_claim *c = &d->claims[i];
        if (!c->held)
            continue;
        /* nothing but the mark is kept: a repeat's answer is computed again */
        if (ok)
            idem_finish(d->store, c->key, c->ticket, "", 0);
        else
            idem_abandon(d->store, c->key, c->ticket);
    }
    free(d->claims);
    json_decref(d->fresh);
    memset(d, 0, sizeof *d);
}

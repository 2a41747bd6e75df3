/* idem: the Idempotency-Key store. A key (scoped to the credentials by send.c) remembers the
 * fingerprint of the request that first used it and, once known, the answer it got, for a TTL,
 * in an LRU of bounded size. A repeat that arrives while the first is in flight waits for it.
 * Keys are per process unless the store is made with idem_new_redis: then every call goes to
 * Redis (idem_redis.h) and replicas pointed at the same Redis share the keys. */
#ifndef IDEM_H
#define IDEM_H

#include <stddef.h>

#define IDEM_FP_LEN 32

struct idem_store;

enum idem_claim {
    IDEM_FRESH,    /* the caller owns the key now: idem_finish or idem_abandon it */
    IDEM_REPLAY,   /* *body is a copy of the first answer (the caller frees it) */
    IDEM_CONFLICT, /* the key was used with other credentials or args */
    IDEM_PENDING,  /* the first request is still in flight after wait_ms */
    IDEM_NOMEM,
    IDEM_UNAVAILABLE, /* Redis could not be reached or refused the command: nothing claimed */
    /* Redis only: the claim's owner stopped (its replica died) without settling it: its
     * request may have reached Twilio, so the key is never claimed again until it expires */
    IDEM_LAPSED,
};

/* Whether key may be an Idempotency-Key: at most 255 printable ASCII characters, so that a
 * line break can never join two keys into one. */
int idem_key_valid(const char *key);

/* Returns a store for at most max keys kept ttl_s seconds, or NULL. */
struct idem_store *idem_new(size_t max, long ttl_s);
void idem_free(struct idem_store *s);

/* Returns a store kept in the Redis at url (REDIS_URL) with answers kept ttl_s seconds, or NULL
 * with the reason in err (a bad URL, out of memory; an unreachable Redis is not an error: its
 * calls answer IDEM_UNAVAILABLE until it is back). hold_ms is the longest an IDEM_FRESH caller
 * works before it settles its claim; a claim left unsettled (its replica died) lapses a margin
 * after that. timeout_ms bounds each connect and each command. */
struct idem_store *idem_new_redis(const char *url, long ttl_s, long hold_ms, long timeout_ms,
                                  char *err, size_t errlen);

/* As idem_new_redis, for a store that keeps at most max keys in Redis however many callers
 * bring: each claim lists its key in the sorted set index, and the oldest keys past max are
 * deleted by the same claim. For keys anyone can mint (webhook deliveries), which must never
 * fill a Redis that Idempotency-Keys need. */
struct idem_store *idem_new_redis_bounded(const char *url, long ttl_s, long hold_ms,
                                          long timeout_ms, size_t max, const char *index, char *err,
                                          size_t errlen);

/* On IDEM_FRESH, *ticket identifies the claim for idem_finish or idem_abandon. */
enum idem_claim idem_claim(struct idem_store *s, const char *key, const unsigned char *fp,
                           long wait_ms, char **body, size_t *len, unsigned long *ticket);

/* Stores the answer for the claim and wakes its waiters. */
void idem_finish(struct idem_store *s, const char *key, unsigned long ticket, const char *body,
                 size_t len);

/* Forgets the claim (nothing was sent, so a repeat may try again). */
void idem_abandon(struct idem_store *s, const char *key, unsigned long ticket);

/* Keys held by the in-process store (0 for Redis). */
size_t idem_count(struct idem_store *s);

#endif

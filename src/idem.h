/* idem: the in-process Idempotency-Key store. A key (scoped to an account) remembers the
 * fingerprint of the request that first used it and, once known, the answer it got, for a TTL,
 * in an LRU of bounded size. A repeat that arrives while the first is in flight waits for it.
 * Keys are per process: replicas do not share them. */
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
};

/* Returns a store for at most max keys kept ttl_s seconds, or NULL. */
struct idem_store *idem_new(size_t max, long ttl_s);
void idem_free(struct idem_store *s);

/* On IDEM_FRESH, *ticket identifies the claim for idem_finish or idem_abandon. */
enum idem_claim idem_claim(struct idem_store *s, const char *key, const unsigned char *fp,
                           long wait_ms, char **body, size_t *len, unsigned long *ticket);

/* Stores the answer for the claim and wakes its waiters. */
void idem_finish(struct idem_store *s, const char *key, unsigned long ticket, const char *body,
                 size_t len);

/* Forgets the claim (nothing was sent, so a repeat may try again). */
void idem_abandon(struct idem_store *s, const char *key, unsigned long ticket);

size_t idem_count(struct idem_store *s);

#endif

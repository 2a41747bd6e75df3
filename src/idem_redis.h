/* idem_redis: the Idempotency-Key store kept in Redis, shared by every replica pointed at the
 * same Redis; idem.c forwards to it when the store was made with idem_new_redis, and the
 * contract is idem.h's. Each key is one string under twilio-block:idem:<sha256 of the key>:
 * "p:<owner>-<ticket>:<fp>" while claimed (SET NX, living its lapse time and then the TTL: a
 * claim past its lapse is IDEM_LAPSED, never claimed again), "d:<fp>:<answer>" once answered
 * (for the TTL). Only the claim's owner may settle it (a Lua compare-and-set). Connections come
 * from a small mutex-protected pool, as hiredis contexts are not thread-safe. An answer is
 * stored without waiting for Redis's reply, which the connection's next user reads. */
#ifndef IDEM_REDIS_H
#define IDEM_REDIS_H

#include <stddef.h>

#include "idem.h"

struct idem_redis;

/* See idem_new_redis and idem_new_redis_bounded (max 0: no bound, index unused). Tries one
 * connection and logs whether Redis answered. */
struct idem_redis *idem_redis_connect(const char *url, long ttl_s, long hold_ms, long timeout_ms,
                                      size_t max, const char *index, char *err, size_t errlen);
void idem_redis_free(struct idem_redis *r);

enum idem_claim idem_redis_claim(struct idem_redis *r, const char *key, const unsigned char *fp,
                                 long wait_ms, char **body, size_t *len, unsigned long *ticket);
/* Writes the answer for the claim and returns without its reply: the next command on that
 * connection (or idem_redis_free) reads it and logs a warning when it was not stored; a
 * connection that breaks first has it sent again on a new one. */
void idem_redis_finish(struct idem_redis *r, const char *key, unsigned long ticket,
                       const char *body, size_t len);
void idem_redis_abandon(struct idem_redis *r, const char *key, unsigned long ticket);

#endif

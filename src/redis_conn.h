/* redis_conn: one connection to the Redis a REDIS_URL names, ready for commands: connected
 * and bounded by a timeout, AUTH and SELECT done. Pools and what runs on them are the callers'
 * (idem_redis, campaign_redis, subscribe_lock). */
#ifndef REDIS_CONN_H
#define REDIS_CONN_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "redis_url.h"

/* Returns the connection (the caller frees it with redisFree), or NULL with the reason in why;
 * the reason never quotes the password, nor more than the first word of a refusal. */
redisContext *redis_conn_open(const struct redis_url *u, struct timeval timeout, char *why,
                              size_t whylen);

#endif

/* campaign_redis: the Redis that campaigns live in (REDIS_URL): a small pool of hiredis
 * connections (a context is not thread-safe) and Lua scripts run by their SHA-1, loaded again
 * when Redis forgot them (a restart). Part of campaign; the keys and scripts are
 * campaign_store.c's. */
#ifndef CAMPAIGN_REDIS_H
#define CAMPAIGN_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

struct campaign_redis;

/* A pool for the Redis at url, each connect and command bounded by timeout_ms. Returns it, or
 * NULL with the reason in err (a bad URL; an unreachable Redis is not an error). */
struct campaign_redis *campaign_redis_new(const char *url, long timeout_ms, char *err,
                                          size_t errlen);
void campaign_redis_free(struct campaign_redis *r);

/* Runs one command (argv, lens as redisCommandArgv; lens NULL: C strings). Returns the reply
 * (the caller frees it with freeReplyObject), or NULL when Redis could not be reached, gave no
 * answer in time or answered an error (why then says which, without the command's args).
 * A read may be tried again on a new connection; a script never is (it may have run). */
redisReply *campaign_redis_run(struct campaign_redis *r, int argc, const char **argv,
                               const size_t *lens, char *why, size_t whylen);

/* Runs script (Lua text; sent by its SHA-1, and whole when Redis does not have it) with nkeys
 * keys first in argv. Same answer as campaign_redis_run. */
redisReply *campaign_redis_script(struct campaign_redis *r, const char *script, int nkeys, int argc,
                                  const char **argv, const size_t *lens, char *why, size_t whylen);

#endif

/* campaign_local: campaigns without REDIS_URL, in this process's memory: the few Redis commands
 * campaigns speak (hashes, sets, strings with a TTL, a stream with one consumer group) and
 * the campaign scripts by name, answered as Redis answers them, under one lock. One replica
 * only, and lost when the process stops. Part of campaign. */
#ifndef CAMPAIGN_LOCAL_H
#define CAMPAIGN_LOCAL_H

#include <hiredis/hiredis.h>

struct campaign_local;

struct campaign_local *campaign_local_new(void);
void campaign_local_free(struct campaign_local *l);

/* Runs one command as Redis would; the reply is freed with freeReplyObject. NULL when memory
 * ran out or the command is not one campaigns use. */
redisReply *campaign_local_run(struct campaign_local *l, int argc, const char **argv);

/* Runs the campaign script name (create, add, control, claim, settle, requeue, bucket) with
 * nkeys keys first in argv, as its Lua text in campaign_store.c does in Redis. */
redisReply *campaign_local_script(struct campaign_local *l, const char *name, int nkeys, int argc,
                                  const char **argv);

#endif

/* campaign_store: where campaigns live, Redis (campaign_redis.h, REDIS_URL) or this process's
 * memory (campaign_local.h): a campaign's keys, all under the hash tag {campaignId}, the scripts
 * that change them (their Lua text here, the same steps in campaign_local.c), one command or
 * script run against whichever store this service opened, and readers for the replies. Part of
 * campaign. */
#ifndef CAMPAIGN_STORE_H
#define CAMPAIGN_STORE_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "config.h"

/* The set of running campaigns' ids, which every sender reads. */
#define CAMPAIGN_RUNNING_KEY "twilio-block:campaigns:running"

/* The scripts: each runs with a campaign's five keys, then ttl and now, then its own args. */
enum campaign_script {
    CAMPAIGN_SCRIPT_CREATE,  /* the settings of a new draft */
    CAMPAIGN_SCRIPT_ADD,     /* recipients: to, variables ('' for none), ... */
    CAMPAIGN_SCRIPT_CONTROL, /* action, lastError: a status change */
    CAMPAIGN_SCRIPT_CLAIM,   /* to, entry id, send|hold|skip: pending -> sending, once */
    CAMPAIGN_SCRIPT_SETTLE,  /* to, entry id, state, counter: a send's end */
    CAMPAIGN_SCRIPT_REQUEUE, /* to, entry id, tries: back to pending */
    CAMPAIGN_SCRIPT_N
};

/* A campaign's keys: settings (m), recipients (r), variables (v), stream (q), bucket (b). */
struct campaign_keys {
    char m[96], r[96], v[96], q[96], b[96];
    const char *all[5];
};

/* Opens the store cfg names: Redis at REDIS_URL, else this process's memory. Returns 0, or -1
 * with the reason in err. */
int campaign_store_open(const struct config *cfg, char *err, size_t errlen);
void campaign_store_close(void);
/* 1 when campaigns live in this process's memory (no REDIS_URL). */
int campaign_store_in_memory(void);

/* The wall clock in ms, as the scripts keep times (createdAt, startedAt, endedAt). */
long campaign_store_now_ms(void);
/* CP and 32 lowercase hex digits, as createCampaign makes them: nothing else reaches a key. */
int campaign_store_id_valid(const char *id);
void campaign_store_keys_of(const char *id, struct campaign_keys *k);

/* Runs script s on k's campaign with argc args (lens NULL: C strings). Returns the reply (freed
 * with freeReplyObject), or NULL with why. */
redisReply *campaign_store_script(enum campaign_script s, const struct campaign_keys *k, int argc,
                                  const char **argv, const size_t *lens, char *why, size_t whylen);
/* The pacing bucket, take = {key, rate a second, capacity, segments wanted, ms a send may be
 * booked ahead}: answers -ms (ms >= 0) when a send was booked (send in ms), else ms > 0:
 * nothing booked, ask again in ms (Redis's clock, so every replica counts alike). */
redisReply *campaign_store_bucket(const char **take, char *why, size_t whylen);
/* Runs one command. Returns the reply, or NULL with why. */
redisReply *campaign_store_cmd(char *why, size_t whylen, int argc, const char **argv);

/* A string or status reply's text, or NULL; an integer reply's (or a string's) value, or 0. */
const char *campaign_store_reply_str(const redisReply *rep);
long long campaign_store_reply_int(const redisReply *rep);
/* A hash's field from an HGETALL reply, or NULL; as a number, or 0. */
const char *campaign_store_field(const redisReply *all, const char *name);
long long campaign_store_field_int(const redisReply *all, const char *name);
/* A campaign's counts from its settings, as getCampaign and the statusCallback tell them
 * (pending holds the recipients being sent too). New reference, or NULL. */
json_t *campaign_store_counts(const redisReply *meta);

#endif

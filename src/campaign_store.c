#include "campaign_store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "campaign_local.h"
#include "campaign_redis.h"

#define KEPT_S (7 * 86400) /* an ended or idle draft campaign is kept this long */

/* Every script gets KEYS m r v q b (settings, recipients, variables, stream, bucket) and ARGV
 * ttl, now first. A recipient's state is one letter and what it carries: p pending, s sending,
 * S<sid> sent, F<code>|<message> failed, k skipped, m maybeSent, c cancelled. */
static const char lua_head[] =
    "local m, r, v, q, b = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]\n"
    "local function num(f) return tonumber(redis.call('HGET', m, f) or '0') or 0 end\n"
    "local function ended()\n"
    "  if num('pending') ~= 0 or num('sending') ~= 0 then return 0 end\n"
    "  local st = redis.call('HGET', m, 'status')\n"
    "  if st ~= 'running' and st ~= 'cancelled' then return 0 end\n"
    "  if redis.call('HSETNX', m, 'ended', '1') == 0 then return 0 end\n"
    "  if st == 'running' then redis.call('HSET', m, 'status', 'completed') end\n"
    "  redis.call('HSET', m, 'endedAt', ARGV[2])\n"
    "  redis.call('HDEL', m, 'cred')\n"
    "  redis.call('DEL', q, b)\n"
    "  redis.call('EXPIRE', m, ARGV[1]) redis.call('EXPIRE', r, ARGV[1])\n"
    "  redis.call('EXPIRE', v, ARGV[1])\n"
    "  return 1\n"
    "end\n"
    "local function drop(id)\n"
    "  if id ~= '' then redis.call('XACK', q, 'senders', id) redis.call('XDEL', q, id) end\n"
    "end\n";

static const char lua_create[] =
    "if redis.call('EXISTS', m) == 1 then return 0 end\n"
    "redis.call('HSET', m, unpack(ARGV, 3))\n"
    "redis.call('XGROUP', 'CREATE', q, 'senders', '0', 'MKSTREAM')\n"
    "redis.call('EXPIRE', m, ARGV[1]) redis.call('EXPIRE', q, ARGV[1])\n"
    "return 1\n";

/* ARGV[3..]: to, variables ('' for none), ... */
static const char lua_add[] =
    "local st = redis.call('HGET', m, 'status')\n"
    "if st ~= 'draft' and st ~= 'running' and st ~= 'paused' then return {-1, st or ''} end\n"
    "local added = 0\n"
    "for i = 3, #ARGV, 2 do\n"
    "  if redis.call('HSETNX', r, ARGV[i], 'p') == 1 then\n"
    "    added = added + 1\n"
    "    if ARGV[i + 1] ~= '' then redis.call('HSET', v, ARGV[i], ARGV[i + 1]) end\n"
    "    redis.call('XADD', q, '*', 't', ARGV[i])\n"
    "  end\n"
    "end\n"
    "redis.call('HINCRBY', m, 'pending', added)\n"
    "local total = redis.call('HINCRBY', m, 'total', added)\n"
    "if st == 'draft' then\n"
    "  redis.call('EXPIRE', r, ARGV[1]) redis.call('EXPIRE', v, ARGV[1])\n"
    "  redis.call('EXPIRE', q, ARGV[1]) redis.call('EXPIRE', m, ARGV[1])\n"
    "end\n"
    "return {added, total}\n";

/* ARGV[3]: start, pause, resume or cancel; ARGV[4]: lastError ('' for none). Answers the
 * status, whether it changed, whether the campaign ended now. */
static const char lua_control[] =
    "local st = redis.call('HGET', m, 'status')\n"
    "if not st then return {'', 0, 0} end\n"
    "local a = ARGV[3]\n"
    "local to = nil\n"
    "if a == 'start' and st == 'draft' then to = 'running'\n"
    "elseif a == 'pause' and st == 'running' then to = 'paused'\n"
    "elseif a == 'resume' and st == 'paused' then to = 'running'\n"
    "elseif a == 'cancel' and (st == 'draft' or st == 'running' or st == 'paused') then\n"
    "  to = 'cancelled' end\n"
    "if not to then return {st, 0, 0} end\n"
    "redis.call('HSET', m, 'status', to)\n"
    "if ARGV[4] ~= '' then redis.call('HSET', m, 'lastError', ARGV[4]) end\n"
    "if a == 'start' then\n"
    "  redis.call('HSET', m, 'startedAt', ARGV[2])\n"
    "  redis.call('PERSIST', m) redis.call('PERSIST', r) redis.call('PERSIST', v)\n"
    "  redis.call('PERSIST', q)\n"
    "end\n"
    "if a == 'resume' then redis.call('HDEL', m, 'lastError') end\n"
    "if a == 'cancel' then\n"
    "  redis.call('HINCRBY', m, 'cancelled', num('pending'))\n"
    "  redis.call('HSET', m, 'pending', 0)\n"
    "end\n"
    "return {to, 1, ended()}\n";

/* ARGV[3] to, ARGV[4] entry id, ARGV[5] send, skip or hold (the account is held after a 429:
 * put back, as in a paused campaign). Only a pending recipient of a running
 * campaign goes on (to sending, tagged with the entry that claimed it); one still sending was its
 * stopped sender's: maybeSent, with that sender's tag kept so its outcome, if it comes, settles. */
static const char lua_claim[] =
    "local st = redis.call('HGET', m, 'status')\n"
    "local s = redis.call('HGET', r, ARGV[3])\n"
    "if not s then drop(ARGV[4]) return {'gone', 0} end\n"
    "local c = string.sub(s, 1, 1)\n"
    "if c == 's' then\n"
    "  redis.call('HSET', r, ARGV[3], 'm' .. string.sub(s, 2))\n"
    "  redis.call('HINCRBY', m, 'sending', -1) redis.call('HINCRBY', m, 'maybeSent', 1)\n"
    "  drop(ARGV[4])\n"
    "  return {'maybe', ended()}\n"
    "end\n"
    "if c ~= 'p' then drop(ARGV[4]) return {'done', 0} end\n"
    "if st == 'paused' or st == 'draft' or (st == 'running' and ARGV[5] == 'hold') then\n"
    "  redis.call('XADD', q, '*', 't', ARGV[3]) drop(ARGV[4]) return {'held', 0}\n"
    "end\n"
    "if st ~= 'running' then drop(ARGV[4]) return {'stopped', 0} end\n"
    "if ARGV[5] == 'skip' then\n"
    "  redis.call('HSET', r, ARGV[3], 'k')\n"
    "  redis.call('HINCRBY', m, 'pending', -1) redis.call('HINCRBY', m, 'skipped', 1)\n"
    "  drop(ARGV[4])\n"
    "  return {'skipped', ended()}\n"
    "end\n"
    "redis.call('HSET', r, ARGV[3], 's' .. ARGV[4])\n"
    "redis.call('HINCRBY', m, 'pending', -1) redis.call('HINCRBY', m, 'sending', 1)\n"
    "return {'go', 0}\n";

/* ARGV[3] to, ARGV[4] entry id, ARGV[5] the new state, ARGV[6] its counter. A recipient
 * marked maybeSent meanwhile (its entry taken over) gets the outcome that is now known. Only
 * the claim of this very entry is settled: a repeat whose first run's reply was lost, after the
 * recipient was claimed again through a newer entry, changes nothing. */
static const char lua_settle[] =
    "local s = redis.call('HGET', r, ARGV[3])\n"
    "if s == 's' .. ARGV[4] then redis.call('HINCRBY', m, 'sending', -1)\n"
    "elseif s == 'm' .. ARGV[4] then redis.call('HINCRBY', m, 'maybeSent', -1)\n"
    "else drop(ARGV[4]) return -1 end\n"
    "redis.call('HSET', r, ARGV[3], ARGV[5])\n"
    "redis.call('HINCRBY', m, ARGV[6], 1)\n"
    "drop(ARGV[4])\n"
    "return ended()\n";

/* ARGV[3] to, ARGV[4] entry id, ARGV[5] sends tried that reached nothing: nothing was sent,
 * so the recipient is pending again (or cancelled, in a cancelled campaign). Only the claim of
 * this very entry goes back: a repeat of a requeue whose reply was lost must not put back a
 * recipient that another sender has claimed since through the new entry (it would be sent
 * twice). An ended campaign refuses: its stream is gone and its counts are final. */
static const char lua_requeue[] =
    "local st = redis.call('HGET', m, 'status')\n"
    "if not st or st == 'completed' or redis.call('HEXISTS', m, 'ended') == 1 then\n"
    "  drop(ARGV[4]) return -1\n"
    "end\n"
    "local s = redis.call('HGET', r, ARGV[3])\n"
    "if s == 's' .. ARGV[4] then redis.call('HINCRBY', m, 'sending', -1)\n"
    "elseif s == 'm' .. ARGV[4] then redis.call('HINCRBY', m, 'maybeSent', -1)\n"
    "else drop(ARGV[4]) return -1 end\n"
    "drop(ARGV[4])\n"
    "if redis.call('HGET', m, 'status') == 'cancelled' then\n"
    "  redis.call('HSET', r, ARGV[3], 'c') redis.call('HINCRBY', m, 'cancelled', 1)\n"
    "  return ended()\n"
    "end\n"
    "redis.call('HSET', r, ARGV[3], 'p') redis.call('HINCRBY', m, 'pending', 1)\n"
    "redis.call('XADD', q, '*', 't', ARGV[3], 'n', ARGV[5])\n"
    "return 0\n";

/* The token bucket (KEYS[1]), in segments: ARGV rate a second, capacity, segments wanted, and
 * how far ahead a send may be booked (ms). A booking takes its tokens at once, into debt if
 * need be, so each sender asks once per send and not once per free token. Answers -ms (ms >=
 * 0) when booked: send in ms; else ms > 0: nothing booked, ask again in ms. Redis's clock, so
 * every replica counts alike. */
static const char lua_bucket[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local h = redis.call('HMGET', KEYS[1], 'tk', 'ts')\n"
    "local rate, cap, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local ahead = tonumber(ARGV[4])\n"
    "local tk = tonumber(h[1]) or cap\n"
    "local ts = tonumber(h[2]) or now\n"
    "if now > ts then tk = math.min(cap, tk + (now - ts) * rate / 1000) end\n"
    "local wait = 0\n"
    "if tk < need then wait = math.ceil((need - tk) * 1000 / rate) end\n"
    "if wait > ahead then return wait - ahead end\n"
    "redis.call('HSET', KEYS[1], 'tk', tostring(tk - need), 'ts', tostring(math.max(now, ts)))\n"
    "redis.call('PEXPIRE', KEYS[1], 60000)\n"
    "return -wait\n";

/* Each script's Lua text and its name in campaign_local, by enum campaign_script. */
static const struct {
    const char *body, *name;
} scripts[CAMPAIGN_SCRIPT_N] = {
    [CAMPAIGN_SCRIPT_CREATE] = {lua_create, "create"},
    [CAMPAIGN_SCRIPT_ADD] = {lua_add, "add"},
    [CAMPAIGN_SCRIPT_CONTROL] = {lua_control, "control"},
    [CAMPAIGN_SCRIPT_CLAIM] = {lua_claim, "claim"},
    [CAMPAIGN_SCRIPT_SETTLE] = {lua_settle, "settle"},
    [CAMPAIGN_SCRIPT_REQUEUE] = {lua_requeue, "requeue"},
};

static struct {
    struct campaign_redis *redis;
    struct campaign_local *local; /* without REDIS_URL: campaigns in this process */
} store;

int campaign_store_open(const struct config *cfg, char *err, size_t errlen)
{
    if (!cfg->redis_url[0]) {
        if (!(store.local = campaign_local_new())) {
            snprintf(err, errlen, "campaigns: out of memory");
            return -1;
        }
        return 0;
    }
    store.redis = campaign_redis_new(cfg->redis_url, cfg->redis_timeout_ms, err, errlen);
    return store.redis ? 0 : -1;
}

void campaign_store_close(void)
{
    campaign_redis_free(store.redis);
    store.redis = NULL;
    campaign_local_free(store.local);
    store.local = NULL;
}

int campaign_store_in_memory(void)
{
    return store.local != NULL;
}

long campaign_store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int campaign_store_id_valid(const char *id)
{
    if (strncmp(id, "CP", 2) != 0 || strlen(id) != 34)
        return 0;
    for (const char *p = id + 2; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

void campaign_store_keys_of(const char *id, struct campaign_keys *k)
{
    snprintf(k->m, sizeof k->m, "twilio-block:campaign:{%s}:m", id);
    snprintf(k->r, sizeof k->r, "twilio-block:campaign:{%s}:r", id);
    snprintf(k->v, sizeof k->v, "twilio-block:campaign:{%s}:v", id);
    snprintf(k->q, sizeof k->q, "twilio-block:campaign:{%s}:q", id);
    snprintf(k->b, sizeof k->b, "twilio-block:campaign:{%s}:b", id);
    k->all[0] = k->m;
    k->all[1] = k->r;
    k->all[2] = k->v;
    k->all[3] = k->q;
    k->all[4] = k->b;
}

/* A script run in process, by its name. */
static redisReply *local_script(const char *name, int nkeys, int argc, const char **argv, char *why,
                                size_t whylen)
{
    redisReply *rep = campaign_local_script(store.local, name, nkeys, argc, argv);
    if (!rep)
        snprintf(why, whylen, "out of memory");
    return rep;
}

redisReply *campaign_store_script(enum campaign_script s, const struct campaign_keys *k, int argc,
                                  const char **argv, const size_t *lens, char *why, size_t whylen)
{
    static char *texts[CAMPAIGN_SCRIPT_N];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    const char *body = scripts[s].body;
    pthread_mutex_lock(&lock);
    if (!texts[s]) {
        size_t n = strlen(lua_head) + strlen(body) + 1;
        if ((texts[s] = malloc(n)))
            snprintf(texts[s], n, "%s%s", lua_head, body);
    }
    char *text = texts[s];
    pthread_mutex_unlock(&lock);
    if (!text) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    int n = 7 + argc;
    const char **av = malloc((size_t)n * sizeof *av);
    size_t *lv = malloc((size_t)n * sizeof *lv);
    char ttl[24], now[24];
    redisReply *rep = NULL;
    if (av && lv) {
        snprintf(ttl, sizeof ttl, "%d", KEPT_S);
        snprintf(now, sizeof now, "%ld", campaign_store_now_ms());
        for (int i = 0; i < 5; i++)
            av[i] = k->all[i];
        av[5] = ttl;
        av[6] = now;
        for (int i = 0; i < 7; i++)
            lv[i] = strlen(av[i]);
        for (int i = 0; i < argc; i++) {
            av[7 + i] = argv[i];
            lv[7 + i] = lens ? lens[i] : strlen(argv[i]);
        }
        rep = store.local ? local_script(scripts[s].name, 5, n, av, why, whylen)
                          : campaign_redis_script(store.redis, text, 5, n, av, lv, why, whylen);
    } else {
        snprintf(why, whylen, "out of memory");
    }
    free(av);
    free(lv);
    return rep;
}

redisReply *campaign_store_bucket(const char **take, char *why, size_t whylen)
{
    return store.local
               ? local_script("bucket", 1, 5, take, why, whylen)
               : campaign_redis_script(store.redis, lua_bucket, 1, 5, take, NULL, why, whylen);
}

redisReply *campaign_store_cmd(char *why, size_t whylen, int argc, const char **argv)
{
    if (!store.local)
        return campaign_redis_run(store.redis, argc, argv, NULL, why, whylen);
    redisReply *rep = campaign_local_run(store.local, argc, argv);
    if (!rep)
        snprintf(why, whylen, "out of memory");
    return rep;
}

const char *campaign_store_reply_str(const redisReply *rep)
{
    return rep && (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) ? rep->str
                                                                                       : NULL;
}

long long campaign_store_reply_int(const redisReply *rep)
{
    if (!rep)
        return 0;
    if (rep->type == REDIS_REPLY_INTEGER)
        return rep->integer;
    if (rep->type == REDIS_REPLY_STRING)
        return strtoll(rep->str, NULL, 10);
    return 0;
}

const char *campaign_store_field(const redisReply *all, const char *name)
{
    for (size_t i = 0; all && all->type == REDIS_REPLY_ARRAY && i + 1 < all->elements; i += 2)
        if (strcmp(all->element[i]->str, name) == 0)
            return all->element[i + 1]->str;
    return NULL;
}

long long campaign_store_field_int(const redisReply *all, const char *name)
{
    const char *v = campaign_store_field(all, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

json_t *campaign_store_counts(const redisReply *meta)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "pending",
                     (json_int_t)(campaign_store_field_int(meta, "pending") +
                                  campaign_store_field_int(meta, "sending")),
                     "sent", (json_int_t)campaign_store_field_int(meta, "sent"), "failed",
                     (json_int_t)campaign_store_field_int(meta, "failed"), "skipped",
                     (json_int_t)campaign_store_field_int(meta, "skipped"), "maybeSent",
                     (json_int_t)campaign_store_field_int(meta, "maybeSent"), "cancelled",
                     (json_int_t)campaign_store_field_int(meta, "cancelled"));
}

#include "campaign.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aead.h"
#include "campaign_local.h"
#include "campaign_redis.h"
#include "clock.h"
#include "digest.h"
#include "form.h"
#include "jsonparse.h"
#include "log.h"
#include "sms.h"
#include "status.h"

#define MAX_CHUNK 10000
#define KEPT_S (7 * 86400) /* an ended or idle draft campaign is kept this long */
#define KEY_TTL_S 86400    /* an Idempotency-Key's answer */
#define RUNNING "twilio-block:campaigns:running"
#define CACHE_N 8 /* campaigns a sender keeps settings of */
#define NOT_SENT_MAX 5

/* The credentials as one text to hash or seal: SIDs of 34 characters and tokens or secrets of
 * 32, with room to spare. */
#define CAMPAIGN_CRED_CAP 2048
/* A recipient's message with its {{placeholders}} filled: Twilio takes 1,600 characters, the
 * cap only stops a runaway variable. */
#define CAMPAIGN_TEXT_CAP (1u << 16)
/* A send's request: /2010-04-01/Accounts/<AccountSid>/Messages.json, the SID and the token or
 * secret it authenticates with, no headers of its own, and its form (the filled text, encoded,
 * and the media URLs). */
#define CAMPAIGN_PATH_CAP 1024
#define CAMPAIGN_PART_CAP 1024
#define CAMPAIGN_HEADERS_CAP 16
#define CAMPAIGN_FORM_CAP (1u << 20)
/* A recipient's state: S<sid>, or F<code>|<Twilio's message cut to 300 bytes>. */
#define CAMPAIGN_STATE_CAP 4096

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

/* The token bucket (KEYS[1]), in segments: ARGV rate a second, capacity, segments wanted.
 * Answers 0 when taken, else the milliseconds until they will be there. Redis's clock, so
 * every replica counts alike. */
static const char lua_bucket[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local h = redis.call('HMGET', KEYS[1], 'tk', 'ts')\n"
    "local rate, cap, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local tk = tonumber(h[1]) or cap\n"
    "local ts = tonumber(h[2]) or now\n"
    "if now > ts then tk = math.min(cap, tk + (now - ts) * rate / 1000) end\n"
    "local wait = 0\n"
    "if tk >= need then tk = tk - need else wait = math.ceil((need - tk) * 1000 / rate) end\n"
    "redis.call('HSET', KEYS[1], 'tk', tostring(tk), 'ts', tostring(math.max(now, ts)))\n"
    "redis.call('PEXPIRE', KEYS[1], 60000)\n"
    "return wait\n";

enum { ST_SENT, ST_FAILED, ST_SKIPPED, ST_MAYBE, ST_CANCELLED, ST_LIMITED, ST_N };
static const char *const metric_names[ST_N] = {"sent",      "failed",    "skipped",
                                               "maybeSent", "cancelled", "rate_limited"};

static struct {
    const struct config *cfg;
    struct campaign_redis *redis;
    struct campaign_local *local; /* without REDIS_URL: campaigns in this process */
    struct send_service svc;      /* the senders' own: transfers on their threads */
    int svc_started;
    unsigned char key[AEAD_KEY_LEN];
    char missing[200]; /* why campaigns cannot run here, or "" */
    char node[24];     /* this process's consumer name prefix */
    pthread_t *threads;
    size_t n_threads;
    atomic_int stop;
    atomic_long counts[ST_N];
    atomic_long ended_completed, ended_cancelled;
    atomic_long backoff_ms;
} rt = {.missing = "Campaigns are not started in this service (campaign_start)."};

/* ---- small helpers ---- */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso_time(const char *ms, char *out, size_t size)
{
    time_t t = (time_t)(strtoll(ms, NULL, 10) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct keys {
    char m[96], r[96], v[96], q[96], b[96];
    const char *all[5];
};

/* CP and 32 lowercase hex digits, as createCampaign makes them: nothing else reaches a key. */
static int id_valid(const char *id)
{
    if (strncmp(id, "CP", 2) != 0 || strlen(id) != 34)
        return 0;
    for (const char *p = id + 2; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static void keys_of(const char *id, struct keys *k)
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

/* A script run in process: by the name of its Lua text. */
static redisReply *local_script(const char *body, int nkeys, int argc, const char **argv, char *why,
                                size_t whylen)
{
    static const struct {
        const char *body, *name;
    } names[] = {{lua_create, "create"}, {lua_add, "add"},       {lua_control, "control"},
                 {lua_claim, "claim"},   {lua_settle, "settle"}, {lua_requeue, "requeue"},
                 {lua_bucket, "bucket"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].body == body) {
            redisReply *rep = campaign_local_script(rt.local, names[i].name, nkeys, argc, argv);
            if (!rep)
                snprintf(why, whylen, "out of memory");
            return rep;
        }
    }
    snprintf(why, whylen, "no such script");
    return NULL;
}

/* Runs script with the campaign's five keys, ttl and now, then extra args. */
static redisReply *script(const char *body, const struct keys *k, int argc, const char **argv,
                          const size_t *lens, char *why, size_t whylen)
{
    static char *texts[8];
    static const char *bodies[8];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    char *text = NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < 8 && !text; i++) {
        if (bodies[i] == body) {
            text = texts[i];
        } else if (!bodies[i]) {
            size_t n = strlen(lua_head) + strlen(body) + 1;
            if ((texts[i] = malloc(n))) {
                snprintf(texts[i], n, "%s%s", lua_head, body);
                bodies[i] = body;
                text = texts[i];
            }
            break;
        }
    }
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
        snprintf(now, sizeof now, "%ld", now_ms());
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
        rep = rt.local ? local_script(body, 5, n, av, why, whylen)
                       : campaign_redis_script(rt.redis, text, 5, n, av, lv, why, whylen);
    } else {
        snprintf(why, whylen, "out of memory");
    }
    free(av);
    free(lv);
    return rep;
}

static redisReply *cmd(char *why, size_t whylen, int argc, const char **argv)
{
    if (!rt.local)
        return campaign_redis_run(rt.redis, argc, argv, NULL, why, whylen);
    redisReply *rep = campaign_local_run(rt.local, argc, argv);
    if (!rep)
        snprintf(why, whylen, "out of memory");
    return rep;
}

static const char *reply_str(const redisReply *rep)
{
    return rep && (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) ? rep->str
                                                                                       : NULL;
}

static long long reply_int(const redisReply *rep)
{
    if (!rep)
        return 0;
    if (rep->type == REDIS_REPLY_INTEGER)
        return rep->integer;
    if (rep->type == REDIS_REPLY_STRING)
        return strtoll(rep->str, NULL, 10);
    return 0;
}

/* A hash's field from an HGETALL reply, or NULL. */
static const char *field(const redisReply *all, const char *name)
{
    for (size_t i = 0; all && all->type == REDIS_REPLY_ARRAY && i + 1 < all->elements; i += 2)
        if (strcmp(all->element[i]->str, name) == 0)
            return all->element[i + 1]->str;
    return NULL;
}

static long long field_int(const redisReply *all, const char *name)
{
    const char *v = field(all, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* Who may see a campaign: the account and the credentials that made it, hashed. */
static int owner_of(const struct prepared *prep, const char *account, char out[65])
{
    struct buf b;
    buf_init(&b, CAMPAIGN_CRED_CAP);
    int rc = buf_appendf(&b, "%s\n%s\n", account, buf_str(&prep->username)) < 0 ||
                     buf_append(&b, prep->password.data ? prep->password.data : "",
                                prep->password.len) < 0
                 ? -1
                 : digest_sha256_hex(b.data, b.len, out);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
    return rc;
}

static void answer(struct call *out, const char *what, json_t *to)
{
    (void)what;
    if (to)
        call_success(out, to);
    json_decref(to);
}

static void answer_error(struct call *out, const char *what, const char *code, const char *msg)
{
    call_error(out, what, code, msg, NULL);
}

static const char *const retry_headers[] = {"Retry-After", "2", NULL};

static void answer_down(struct call *out, const char *why)
{
    log_msg(LOG_WARN, "campaigns: Redis: %s", why);
    out->out->status = 503;
    out->out->headers = retry_headers;
    answer_error(out, "store_unavailable", STATUS_CAMPAIGN_STORE_UNAVAILABLE,
                 "The campaign store (Redis) cannot be reached; nothing was changed. Try again "
                 "shortly.");
}

static void answer_not_found(struct call *out)
{
    answer_error(out, "not_found", STATUS_CAMPAIGN_NOT_FOUND,
                 "No campaign with this campaignId for these credentials (a campaign is seen "
                 "only with the account and the token or API key that created it).");
}

static void answer_fields(struct call *out, json_t *reasons)
{
    call_fields(out, reasons, 0);
    json_decref(reasons);
}

/* ---- recipients ---- */

/* "+E164" in any common writing, or whatsapp:+E164, into norm (at most size). */
static int normalize_to(const char *s, char *norm, size_t size)
{
    size_t n = 0, digits = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (strncasecmp(s, "whatsapp:", 9) == 0) {
        memcpy(norm, "whatsapp:", 9);
        n = 9;
        s += 9;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s != '+')
        return -1;
    norm[n++] = '+';
    for (s++; *s; s++) {
        if (strchr(" -.()\t", *s))
            continue;
        if (!isdigit((unsigned char)*s) || n + 2 > size)
            return -1;
        norm[n++] = *s;
        digits++;
    }
    norm[n] = '\0';
    return digits >= 8 && digits <= 15 ? 0 : -1;
}

/* The names of body's {{name}} placeholders. */
static json_t *placeholders(const char *body)
{
    json_t *names = json_array();
    for (const char *p = body ? strstr(body, "{{") : NULL; names && p; p = strstr(p, "{{")) {
        const char *end = strstr(p + 2, "}}");
        if (!end)
            break;
        char name[128];
        size_t n = (size_t)(end - p - 2);
        const char *s = p + 2;
        while (n && isspace((unsigned char)*s))
            s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        if (n && n < sizeof name) {
            memcpy(name, s, n);
            name[n] = '\0';
            json_array_append_new(names, json_string(name));
        }
        p = end + 2;
    }
    return names;
}

/* body with each {{name}} replaced by vars[name] (a string or number). */
static int fill(const char *body, json_t *vars, struct buf *out)
{
    const char *p = body;
    buf_reset(out);
    for (;;) {
        const char *open = strstr(p, "{{"), *end = open ? strstr(open + 2, "}}") : NULL;
        if (!end)
            return buf_appendz(out, p);
        if (buf_append(out, p, (size_t)(open - p)) < 0)
            return -1;
        char name[128];
        const char *s = open + 2;
        size_t n = (size_t)(end - s);
        while (n && isspace((unsigned char)*s))
            s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        json_t *val = NULL;
        if (n < sizeof name) {
            memcpy(name, s, n);
            name[n] = '\0';
            val = json_object_get(vars, name);
        }
        if (json_is_string(val) && buf_appendz(out, json_string_value(val)) < 0)
            return -1;
        if (json_is_integer(val) &&
            buf_appendf(out, "%lld", (long long)json_integer_value(val)) < 0)
            return -1;
        if (json_is_real(val) && buf_appendf(out, "%g", json_real_value(val)) < 0)
            return -1;
        p = end + 2;
    }
}

/* The list arg as given: an array, or a string holding one. New reference, or NULL. */
static json_t *list_arg(json_t *v)
{
    if (json_is_array(v))
        return json_incref(v);
    if (json_is_string(v))
        return jsonparse_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, NULL);
    return NULL;
}

static int invalid(json_t *list, size_t i, json_t *entry, const char *why)
{
    json_t *to = json_is_object(entry) ? json_object_get(entry, "to") : entry;
    return json_array_append_new(list, json_pack("{s:I, s:O?, s:s}", "index", (json_int_t)i, "to",
                                                 json_is_string(to) ? to : NULL, "reason", why));
}

/* Entry i of a chunk: its number normalized into norm and its variables into *vars (borrowed)
 * when it is valid; otherwise its reason is added to bad and -1 returned. */
static int check_recipient(json_t *e, size_t i, json_t *names, int template, char *norm,
                           size_t size, json_t **vars, json_t *bad)
{
    const char *to_text =
        json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "to"));
    char reason[200];
    const char *why = NULL;
    if (!json_is_object(e) && !json_is_string(e))
        why = "must be \"+E164\" or an object {\"to\", \"variables\"}";
    else if (!to_text || normalize_to(to_text, norm, size) < 0)
        why = "to must be a phone number in E.164: + and 8 to 15 digits";
    else if (json_is_object(e)) {
        *vars = json_object_get(e, template ? "contentVariables" : "variables");
        if (!*vars && template)
            *vars = json_object_get(e, "variables");
        if (*vars && !json_is_object(*vars))
            why = template ? "contentVariables must be an object"
                           : "variables must be an object of strings or numbers";
    }
    size_t j;
    json_t *name;
    json_array_foreach(names, j, name) {
        json_t *val = json_object_get(*vars, json_string_value(name));
        if (!why && !json_is_string(val) && !json_is_number(val)) {
            snprintf(reason, sizeof reason, "variables.%.64s is missing (the body uses {{%.64s}})",
                     json_string_value(name), json_string_value(name));
            why = reason;
        }
    }
    if (why) {
        invalid(bad, i, e, why);
        return -1;
    }
    return 0;
}

/* Adds a chunk of recipients to campaign id (its settings in meta) and answers
 * {added, duplicates, invalid, total} into *to; or fills out with a failure. */
static int add_chunk(const char *id, const redisReply *meta, json_t *entries, json_t **to,
                     struct call *out)
{
    char why[256];
    struct keys k;
    const char *body = field(meta, "body");
    int template = field(meta, "contentSid") != NULL;
    json_t *names = placeholders(template ? NULL : body), *bad = json_array(),
           *seen = json_object();
    size_t n = json_array_size(entries), valid = 0, argc = 0;
    const char **argv = calloc(2 * n + 1, sizeof *argv);
    char **owned = calloc(2 * n + 1, sizeof *owned);
    int rc = -1;
    keys_of(id, &k);
    if (!names || !bad || !seen || !argv || !owned)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(entries, i), *vars = NULL;
        char norm[48];
        if (check_recipient(e, i, names, template, norm, sizeof norm, &vars, bad) < 0)
            continue;
        valid++;
        if (json_object_get(seen, norm))
            continue;
        json_object_set_new(seen, norm, json_true());
        owned[argc] = strdup(norm);
        argv[argc] = owned[argc];
        argc++;
        owned[argc] = vars && json_object_size(vars) ? json_dumps(vars, JSON_COMPACT) : strdup("");
        argv[argc] = owned[argc];
        argc++;
        if (!owned[argc - 1] || !owned[argc - 2])
            goto nomem;
    }
    long long added = 0, total = 0;
    if (argc) {
        redisReply *rep = script(lua_add, &k, (int)argc, argv, NULL, why, sizeof why);
        if (!rep) {
            answer_down(out, why);
            goto done;
        }
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            reply_int(rep->element[0]) < 0) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "The campaign is %s: recipients can be added to a draft, running or paused "
                     "campaign only; nothing was added.",
                     reply_str(rep->element[1]) ? reply_str(rep->element[1]) : "gone");
            freeReplyObject(rep);
            answer_error(out, "campaign_state", STATUS_CAMPAIGN_STATE, msg);
            goto done;
        }
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
            added = reply_int(rep->element[0]);
            total = reply_int(rep->element[1]);
        }
        freeReplyObject(rep);
    } else {
        total = field_int(meta, "total");
    }
    *to =
        json_pack("{s:I, s:I, s:O, s:I}", "added", (json_int_t)added, "duplicates",
                  (json_int_t)(valid - (size_t)added), "invalid", bad, "total", (json_int_t)total);
    rc = *to ? 0 : -1;
    if (rc < 0)
        goto nomem;
    goto done;
nomem:
    answer_error(out, "internal_error", STATUS_INTERNAL, "out of memory");
done:
    for (size_t i = 0; owned && i < argc; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    json_decref(names);
    json_decref(bad);
    json_decref(seen);
    return rc;
}

/* ---- statusCallback ---- */

static int private_host(const char *host)
{
    unsigned char a[16];
    size_t n = strlen(host);
    if (strcasecmp(host, "localhost") == 0 ||
        (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0))
        return 1;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
               (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
               (a[0] == 100 && (a[1] & 0xc0) == 64);
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char loop[16] = {[15] = 1}, any[16] = {0};
        return memcmp(a, loop, 16) == 0 || memcmp(a, any, 16) == 0 || (a[0] & 0xfe) == 0xfc ||
               (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
               (memcmp(a, any, 10) == 0 && a[10] == 0xff && a[11] == 0xff);
    }
    return 0;
}

/* A numeric shorthand the resolver takes too (2130706433, 127.1, 0x7f.1) for a private
 * address. */
static int private_numeric(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_flags = AI_NUMERICHOST}, *ai = NULL;
    char dotted[INET_ADDRSTRLEN];
    if (getaddrinfo(host, NULL, &hints, &ai) != 0)
        return 0;
    int rc =
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, dotted, sizeof dotted) &&
        private_host(dotted);
    freeaddrinfo(ai);
    return rc;
}

/* Why url may not be a statusCallback, or NULL. */
static const char *callback_refused(const char *url)
{
    int https = strncasecmp(url, "https://", 8) == 0, http = strncasecmp(url, "http://", 7) == 0;
    if (!https && !(http && rt.cfg->allow_private_callbacks))
        return rt.cfg->allow_private_callbacks ? "must be an http or https URL"
                                               : "must be an https URL (http only with "
                                                 "ALLOW_PRIVATE_CALLBACKS=1)";
    const char *h = url + (https ? 8 : 7);
    char host[256];
    size_t n;
    if (*h == '[') {
        n = strcspn(h + 1, "]");
        h++;
    } else {
        const char *at = NULL;
        for (const char *p = h; *p && !strchr("/?#", *p); p++)
            if (*p == '@')
                at = p;
        if (at)
            h = at + 1;
        n = strcspn(h, ":/?#");
    }
    if (n == 0 || n >= sizeof host)
        return "must name a host";
    memcpy(host, h, n);
    host[n] = '\0';
    if (!rt.cfg->allow_private_callbacks && (private_host(host) || private_numeric(host)))
        return "must not be a loopback or private address (allowed only with "
               "ALLOW_PRIVATE_CALLBACKS=1)";
    return NULL;
}

/* The address curl connected to, checked as the URL's host was: a name that resolves to a
 * private address is refused here. */
static int callback_prereq(void *u, char *primary_ip, char *local_ip, int primary_port,
                           int local_port)
{
    (void)u;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    return private_host(primary_ip) ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

/* The campaign ended (this replica's script ended it, once): logged, counted, taken off the
 * running set, and its statusCallback POSTed. */
static void ended(const char *id)
{
    char why[256];
    struct keys k;
    keys_of(id, &k);
    const char *srem[] = {"SREM", RUNNING, id};
    freeReplyObject(cmd(why, sizeof why, 3, srem));
    const char *get[] = {"HGETALL", k.m};
    redisReply *meta = cmd(why, sizeof why, 2, get);
    const char *status = field(meta, "status");
    if (!status) {
        freeReplyObject(meta);
        return;
    }
    atomic_fetch_add(strcmp(status, "completed") == 0 ? &rt.ended_completed : &rt.ended_cancelled,
                     1);
    json_t *doc = json_pack(
        "{s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "campaignId", id, "status", status,
        "total", (json_int_t)field_int(meta, "total"), "counts", "pending",
        (json_int_t)field_int(meta, "pending") + field_int(meta, "sending"), "sent",
        (json_int_t)field_int(meta, "sent"), "failed", (json_int_t)field_int(meta, "failed"),
        "skipped", (json_int_t)field_int(meta, "skipped"), "maybeSent",
        (json_int_t)field_int(meta, "maybeSent"), "cancelled",
        (json_int_t)field_int(meta, "cancelled"));
    log_msg(LOG_INFO,
            "campaign %s: %s (total %lld, sent %lld, failed %lld, skipped %lld, maybeSent %lld, "
            "cancelled %lld)",
            id, status, field_int(meta, "total"), field_int(meta, "sent"),
            field_int(meta, "failed"), field_int(meta, "skipped"), field_int(meta, "maybeSent"),
            field_int(meta, "cancelled"));
    const char *url = field(meta, "cb");
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    CURL *h = url && text ? curl_easy_init() : NULL;
    if (h) {
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        if (rt.cfg->ca_file[0])
            curl_easy_setopt(h, CURLOPT_CAINFO, rt.cfg->ca_file);
        if (!rt.cfg->allow_private_callbacks)
            curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, callback_prereq);
        CURLcode rc = curl_easy_perform(h);
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK || code >= 300)
            log_msg(LOG_WARN, "campaign %s: statusCallback not taken (%s, HTTP %ld)", id,
                    rc != CURLE_OK ? curl_easy_strerror(rc) : "answered", code);
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
    }
    free(text);
    json_decref(doc);
    freeReplyObject(meta);
}

/* ---- the blocks ---- */

struct camp_call {
    json_t *args;
    const struct prepared *prep;
    char account[40];
    char owner[65];
    const char *id; /* campaignId, when the block takes one */
    struct keys k;
};

/* Reads the campaign's settings when the caller owns it. Returns the HGETALL reply, or NULL
 * with out filled. */
static redisReply *owned(struct camp_call *c, struct call *out)
{
    char why[256];
    const char *get[] = {"HGETALL", c->k.m};
    redisReply *meta = cmd(why, sizeof why, 2, get);
    if (!meta) {
        answer_down(out, why);
        return NULL;
    }
    const char *owner = field(meta, "owner");
    if (!owner || CRYPTO_memcmp(owner, c->owner, 64) != 0) {
        freeReplyObject(meta);
        answer_not_found(out);
        return NULL;
    }
    return meta;
}

/* An Idempotency-Key's Redis name: per owner, block and campaign. */
static void key_name(const struct camp_call *c, const char *block, const char *key, char *out,
                     size_t size)
{
    char hex[65], text[600];
    snprintf(text, sizeof text, "%s\n%s\n%s\n%s", c->owner, block, c->id ? c->id : "", key);
    digest_sha256_hex(text, strlen(text), hex);
    if (c->id)
        snprintf(out, size, "twilio-block:campaign:{%s}:key:%s", c->id, hex);
    else
        snprintf(out, size, "twilio-block:campaign-key:%s", hex);
}

/* With a key: 1 when out holds the kept answer (or a refusal), 0 when the call goes on (the
 * key then held: keep_answer settles it). */
static int key_claim(const char *name, struct call *out)
{
    char why[256];
    const char *set[] = {"SET", name, "", "NX", "EX", "600"};
    for (int tries = 0; tries < 2; tries++) {
        redisReply *rep = cmd(why, sizeof why, 6, set);
        if (!rep) {
            answer_down(out, why);
            return 1;
        }
        int got = rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (got)
            return 0;
        const char *get[] = {"GET", name};
        rep = cmd(why, sizeof why, 2, get);
        const char *kept = reply_str(rep);
        if (kept && *kept) {
            char *body = strdup(kept);
            call_replayed(out, body, body ? strlen(body) : 0);
            freeReplyObject(rep);
            return 1;
        }
        freeReplyObject(rep);
        if (kept) {
            answer_error(out, "key_in_flight", STATUS_KEY_IN_FLIGHT,
                         "A call with this Idempotency-Key is still running; repeat it shortly "
                         "to get its answer.");
            return 1;
        }
    }
    return 0;
}

static void key_settle(const char *name, const struct call *out, int keep)
{
    char why[256];
    if (keep && out->out->body) {
        char ttl[24];
        snprintf(ttl, sizeof ttl, "%d", KEY_TTL_S);
        const char *set[] = {"SET", name, out->out->body, "EX", ttl};
        freeReplyObject(cmd(why, sizeof why, 5, set));
    } else {
        const char *del[] = {"DEL", name};
        freeReplyObject(cmd(why, sizeof why, 2, del));
    }
}

static void put(const char **argv, int *argc, const char *name, const char *value)
{
    if (value) {
        argv[(*argc)++] = name;
        argv[(*argc)++] = value;
    }
}

/* createCampaign's own checks (statusCallback, recipients); *list gets the recipients given,
 * if any. Returns 0, or -1 with out filled. */
static int create_check(struct camp_call *c, const char *cb, json_t **list, struct call *out)
{
    json_t *reasons = json_object();
    const char *refused = cb ? callback_refused(cb) : NULL;
    json_t *first = json_object_get(c->args, "recipients");
    *list = NULL;
    if (refused)
        json_object_set_new(reasons, "statusCallback", json_string(refused));
    if (first && !(*list = list_arg(first)))
        json_object_set_new(reasons, "recipients",
                            json_string("must be a list of \"+E164\" or {\"to\", \"variables\"}"));
    else if (*list && json_array_size(*list) > MAX_CHUNK)
        json_object_set_new(reasons, "recipients",
                            json_string("must hold at most 10,000 recipients a call; add more "
                                        "with addCampaignRecipients"));
    if (json_object_size(reasons)) {
        json_decref(*list);
        *list = NULL;
        answer_fields(out, reasons);
        return -1;
    }
    json_decref(reasons);
    return 0;
}

/* The credentials, sealed under the campaign's id: the account's SID is not a secret, the rest
 * is. Returns the sealed text, or NULL. */
static char *seal_credentials(const struct prepared *prep, const char *id)
{
    struct buf plain;
    buf_init(&plain, CAMPAIGN_CRED_CAP);
    char *sealed = NULL;
    if (buf_appendf(&plain, "%s\n", buf_str(&prep->username)) == 0 &&
        buf_append(&plain, prep->password.data ? prep->password.data : "", prep->password.len) == 0)
        sealed = aead_seal(rt.key, id, plain.data, plain.len);
    if (plain.data)
        OPENSSL_cleanse(plain.data, plain.len);
    buf_free(&plain);
    return sealed;
}

/* mediaUrl (one URL or a list) as the settings keep it: a JSON array, or NULL for none. */
static char *media_text(json_t *args)
{
    json_t *media = json_object_get(args, "mediaUrl");
    char *text = NULL;
    if (json_is_string(media))
        media = json_pack("[O]", media);
    else
        json_incref(media);
    if (json_array_size(media))
        text = json_dumps(media, JSON_COMPACT);
    json_decref(media);
    return text;
}

/* Writes the new draft's settings. Returns the script's reply, or NULL with why. */
static redisReply *create_store(struct camp_call *c, const char *sealed, const char *media,
                                const char *mps, const char *now, char *why, size_t size)
{
    const char *argv[40];
    int argc = 0;
#define PUT(name, value) put(argv, &argc, name, value)
    PUT("owner", c->owner);
    PUT("account", c->account);
    PUT("status", "draft");
    PUT("cred", sealed);
    PUT("from", json_string_value(json_object_get(c->args, "from")));
    PUT("mss", json_string_value(json_object_get(c->args, "messagingServiceSid")));
    PUT("body", json_string_value(json_object_get(c->args, "body")));
    PUT("contentSid", json_string_value(json_object_get(c->args, "contentSid")));
    PUT("media", media);
    PUT("cb", json_string_value(json_object_get(c->args, "statusCallback")));
    PUT("mps", mps);
    PUT("edge", c->prep->edge[0] ? c->prep->edge : NULL);
    PUT("region", c->prep->region[0] ? c->prep->region : NULL);
    PUT("createdAt", now);
    PUT("total", "0");
    PUT("pending", "0");
    PUT("sending", "0");
#undef PUT
    return script(lua_create, &c->k, argc, argv, NULL, why, size);
}

/* Adds the recipients createCampaign was given to the new draft id, and their counts to to.
 * Returns 0, or -1 with out filled. */
static int create_first_chunk(struct camp_call *c, const char *id, json_t *list, json_t *to,
                              struct call *out)
{
    char why[256];
    const char *get[] = {"HGETALL", c->k.m};
    redisReply *meta = cmd(why, sizeof why, 2, get);
    json_t *chunk = NULL;
    if (meta && add_chunk(id, meta, list, &chunk, out) == 0) {
        json_object_set(to, "total", json_object_get(chunk, "total"));
        json_object_set(to, "added", json_object_get(chunk, "added"));
        json_object_set(to, "duplicates", json_object_get(chunk, "duplicates"));
        json_object_set(to, "invalid", json_object_get(chunk, "invalid"));
    } else if (!meta) {
        answer_down(out, why);
    }
    json_decref(chunk);
    freeReplyObject(meta);
    return out->out->body ? -1 : 0;
}

static void create(struct camp_call *c, struct call *out)
{
    char why[256], id[35], mps[24], now[24];
    unsigned char rnd[16];
    const char *cb = json_string_value(json_object_get(c->args, "statusCallback"));
    json_t *mps_arg = json_object_get(c->args, "mps");
    double rate = json_is_number(mps_arg)   ? json_number_value(mps_arg)
                  : json_is_string(mps_arg) ? strtod(json_string_value(mps_arg), NULL)
                                            : 1;
    json_t *list = NULL;
    if (create_check(c, cb, &list, out) < 0)
        return;
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        json_decref(list);
        answer_error(out, "internal_error", STATUS_INTERNAL, "no random bytes");
        return;
    }
    id[0] = 'C';
    id[1] = 'P';
    digest_hex(rnd, sizeof rnd, id + 2);
    keys_of(id, &c->k);
    snprintf(mps, sizeof mps, "%g", rate);
    snprintf(now, sizeof now, "%ld", now_ms());
    char *sealed = seal_credentials(c->prep, id);
    char *media = media_text(c->args);
    int was_sealed = sealed != NULL;
    redisReply *rep = sealed ? create_store(c, sealed, media, mps, now, why, sizeof why) : NULL;
    free(media);
    free(sealed);
    if (!rep) {
        json_decref(list);
        if (!was_sealed)
            answer_error(out, "internal_error", STATUS_INTERNAL,
                         "the credentials could not be sealed");
        else
            answer_down(out, why);
        return;
    }
    freeReplyObject(rep);
    log_msg(LOG_INFO, "campaign %s: created (draft, mps %s)", id, mps);
    json_t *to = json_pack("{s:s, s:s, s:I, s:f}", "campaignId", id, "status", "draft", "total",
                           (json_int_t)0, "mps", rate);
    if (list && json_array_size(list) && create_first_chunk(c, id, list, to, out) < 0) {
        json_decref(to);
        json_decref(list);
        return;
    }
    json_decref(list);
    if (rate == (double)(long long)rate)
        json_object_set_new(to, "mps", json_integer((json_int_t)rate));
    answer(out, "success", to);
}

static void add(struct camp_call *c, struct call *out)
{
    json_t *list = list_arg(json_object_get(c->args, "recipients")), *to = NULL;
    if (!list || json_array_size(list) > MAX_CHUNK) {
        json_decref(list);
        answer_fields(out, json_pack("{s:s}", "recipients",
                                     list ? "must hold at most 10,000 recipients a call"
                                          : "must be a list of \"+E164\" or {\"to\", "
                                            "\"variables\"}"));
        return;
    }
    redisReply *meta = owned(c, out);
    if (meta && add_chunk(c->id, meta, list, &to, out) == 0)
        answer(out, "success", to);
    freeReplyObject(meta);
    json_decref(list);
}

static void control(struct camp_call *c, const char *action, struct call *out)
{
    char why[256];
    redisReply *meta = owned(c, out);
    if (!meta)
        return;
    const char *was = field(meta, "status");
    char before[16];
    snprintf(before, sizeof before, "%s", was ? was : "");
    freeReplyObject(meta);
    const char *argv[] = {action, ""};
    redisReply *rep = script(lua_control, &c->k, 2, argv, NULL, why, sizeof why);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
        freeReplyObject(rep);
        answer_down(out, rep ? "an unexpected answer" : why);
        return;
    }
    char status[16];
    snprintf(status, sizeof status, "%s", reply_str(rep->element[0]) ? rep->element[0]->str : "");
    long long changed = reply_int(rep->element[1]), end = reply_int(rep->element[2]);
    freeReplyObject(rep);
    static const struct {
        const char *action, *target;
    } targets[] = {
        {"start", "running"}, {"pause", "paused"}, {"resume", "running"}, {"cancel", "cancelled"}};
    const char *target = "";
    for (size_t i = 0; i < 4; i++)
        if (strcmp(targets[i].action, action) == 0)
            target = targets[i].target;
    if (!status[0]) {
        answer_not_found(out);
        return;
    }
    if (!changed && strcmp(status, target) != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "The campaign is %s: it cannot be %s.", status,
                 strcmp(action, "start") == 0    ? "started (only a draft can)"
                 : strcmp(action, "pause") == 0  ? "paused (only a running campaign can)"
                 : strcmp(action, "resume") == 0 ? "resumed (only a paused campaign can)"
                                                 : "cancelled (it has ended)");
        answer_error(out, "campaign_state", STATUS_CAMPAIGN_STATE, msg);
        return;
    }
    if (changed)
        log_msg(LOG_INFO, "campaign %s: %s -> %s", c->id, before, status);
    /* Every answer that says running makes sure the senders see it: a start or resume whose
     * SADD was lost is repaired by asking again. */
    if (!end && strcmp(status, "running") == 0) {
        const char *sadd[] = {"SADD", RUNNING, c->id};
        redisReply *added = cmd(why, sizeof why, 3, sadd);
        int ok = added && added->type == REDIS_REPLY_INTEGER;
        if (added && !ok)
            snprintf(why, sizeof why, "SADD: %s", reply_str(added) ? added->str : "unexpected");
        freeReplyObject(added);
        if (!ok) {
            answer_down(out, why);
            return;
        }
    }
    if (end)
        ended(c->id);
    if (end && strcmp(status, "running") == 0)
        snprintf(status, sizeof status, "completed");
    answer(out, "success", json_pack("{s:s, s:s}", "campaignId", c->id, "status", status));
}

static void get(struct camp_call *c, struct call *out)
{
    redisReply *meta = owned(c, out);
    if (!meta)
        return;
    char at[40];
    long long pending = field_int(meta, "pending") + field_int(meta, "sending");
    double mps = strtod(field(meta, "mps") ? field(meta, "mps") : "1", NULL);
    const char *status = field(meta, "status");
    json_t *to = json_pack(
        "{s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "campaignId", c->id, "status",
        status ? status : "", "total", (json_int_t)field_int(meta, "total"), "counts", "pending",
        (json_int_t)pending, "sent", (json_int_t)field_int(meta, "sent"), "failed",
        (json_int_t)field_int(meta, "failed"), "skipped", (json_int_t)field_int(meta, "skipped"),
        "maybeSent", (json_int_t)field_int(meta, "maybeSent"), "cancelled",
        (json_int_t)field_int(meta, "cancelled"));
    if (to && mps == (double)(long long)mps)
        json_object_set_new(to, "mps", json_integer((json_int_t)mps));
    else if (to)
        json_object_set_new(to, "mps", json_real(mps));
    static const char *const times[] = {"createdAt", "startedAt", "endedAt"};
    for (size_t i = 0; to && i < 3; i++) {
        const char *t = field(meta, times[i]);
        if (t)
            iso_time(t, at, sizeof at);
        json_object_set_new(to, times[i], t ? json_string(at) : json_null());
    }
    int running = status && (strcmp(status, "running") == 0 || strcmp(status, "paused") == 0 ||
                             strcmp(status, "draft") == 0);
    json_object_set_new(to, "etaSeconds",
                        running ? json_integer((json_int_t)((double)pending / mps + 0.999))
                                : json_integer(0));
    if (field(meta, "lastError"))
        json_object_set_new(to, "lastError", json_string(field(meta, "lastError")));
    json_object_set_new(to, "store", json_string(rt.local ? "memory" : "redis"));
    if (rt.local)
        json_object_set_new(to, "storeNote",
                            json_string("Kept in this process's memory (no REDIS_URL): one "
                                        "replica only, lost when the service restarts."));
    freeReplyObject(meta);
    answer(out, "success", to);
}

static const char *state_name(char c, int cancelled)
{
    switch (c) {
    case 'p':
        return cancelled ? "cancelled" : "pending";
    case 's':
        return "sending";
    case 'S':
        return "sent";
    case 'F':
        return "failed";
    case 'k':
        return "skipped";
    case 'm':
        return "maybeSent";
    default:
        return "cancelled";
    }
}

static void list(struct camp_call *c, struct call *out)
{
    char why[256], count[24];
    redisReply *meta = owned(c, out);
    if (!meta)
        return;
    const char *status = field(meta, "status");
    int cancelled = status && strcmp(status, "cancelled") == 0;
    const char *want = json_string_value(json_object_get(c->args, "status"));
    const char *cursor = json_string_value(json_object_get(c->args, "cursor"));
    json_t *lim = json_object_get(c->args, "limit");
    long limit = json_is_number(lim)   ? (long)json_number_value(lim)
                 : json_is_string(lim) ? strtol(json_string_value(lim), NULL, 10)
                                       : 100;
    snprintf(count, sizeof count, "%ld", limit > 0 ? limit : 100);
    const char *scan[] = {"HSCAN", c->k.r, cursor && *cursor ? cursor : "0", "COUNT", count};
    redisReply *rep = cmd(why, sizeof why, 5, scan);
    freeReplyObject(meta);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        freeReplyObject(rep);
        answer_down(out, rep ? "an unexpected answer" : why);
        return;
    }
    json_t *items = json_array();
    const redisReply *kv = rep->element[1];
    for (size_t i = 0; kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements; i += 2) {
        const char *v = kv->element[i + 1]->str;
        const char *name = state_name(v[0], cancelled);
        if (want && strcmp(want, name) != 0)
            continue;
        json_t *item = json_pack("{s:s, s:s, s:n, s:n, s:n}", "to", kv->element[i]->str, "status",
                                 name, "messageSid", "errorCode", "errorMessage");
        if (v[0] == 'S')
            json_object_set_new(item, "messageSid", json_string(v + 1));
        if (v[0] == 'F') {
            const char *bar = strchr(v + 1, '|');
            char code[32];
            size_t n = bar ? (size_t)(bar - v - 1) : 0;
            snprintf(code, sizeof code, "%.*s", (int)(n < sizeof code ? n : sizeof code - 1),
                     v + 1);
            char *end = NULL;
            long long num = strtoll(code, &end, 10);
            json_object_set_new(item, "errorCode",
                                *code && end && !*end ? json_integer(num) : json_string(code));
            json_object_set_new(item, "errorMessage", json_string(bar ? bar + 1 : ""));
        }
        json_array_append_new(items, item);
    }
    const char *next = reply_str(rep->element[0]);
    int more = next && strcmp(next, "0") != 0;
    json_t *to =
        json_pack("{s:o, s:s?, s:b}", "items", items, "cursor", more ? next : NULL, "more", more);
    freeReplyObject(rep);
    answer(out, "success", to);
}

void campaign_run(struct call *out)
{
    const struct block_def *b = out->b;
    const char *key = out->key;
    struct camp_call c = {.args = out->args, .prep = out->prep};
    char name[700];
    if (rt.missing[0]) {
        answer_error(out, "campaigns_unavailable", STATUS_CAMPAIGNS_UNAVAILABLE, rt.missing);
        return;
    }
    const char *account = json_string_value(json_object_get(out->args, "accountSid"));
    snprintf(c.account, sizeof c.account, "%s", account ? account : "");
    if (owner_of(out->prep, c.account, c.owner) < 0) {
        answer_error(out, "internal_error", STATUS_INTERNAL, "out of memory");
        return;
    }
    c.id = json_string_value(json_object_get(out->args, "campaignId"));
    if (c.id && !id_valid(c.id)) {
        answer_not_found(out);
        return;
    }
    if (c.id)
        keys_of(c.id, &c.k);
    int keyed = key && (strcmp(b->name, "createCampaign") == 0 ||
                        strcmp(b->name, "addCampaignRecipients") == 0);
    if (keyed) {
        if (!idem_key_valid(key)) {
            answer_fields(out, json_pack("{s:s}", "idempotencyKey",
                                         "must be at most 255 printable ASCII characters"));
            return;
        }
        key_name(&c, b->name, key, name, sizeof name);
        if (key_claim(name, out))
            return;
    }
    if (strcmp(b->name, "createCampaign") == 0)
        create(&c, out);
    else if (strcmp(b->name, "addCampaignRecipients") == 0)
        add(&c, out);
    else if (strcmp(b->name, "startCampaign") == 0)
        control(&c, "start", out);
    else if (strcmp(b->name, "pauseCampaign") == 0)
        control(&c, "pause", out);
    else if (strcmp(b->name, "resumeCampaign") == 0)
        control(&c, "resume", out);
    else if (strcmp(b->name, "cancelCampaign") == 0)
        control(&c, "cancel", out);
    else if (strcmp(b->name, "getCampaign") == 0)
        get(&c, out);
    else if (strcmp(b->name, "listCampaignRecipients") == 0)
        list(&c, out);
    else
        answer_error(out, "internal_error", STATUS_INTERNAL, "no such campaign block");
    if (keyed)
        key_settle(name, out,
                   out->out->status == 200 && out->out->what &&
                       strcmp(out->out->what, "success") == 0);
}

/* ---- the senders ---- */

/* A campaign's settings as one sender keeps them. */
struct camp {
    char id[40];
    char account[40];
    char *user, *pass;
    char *from, *mss, *body, *content_sid;
    json_t *media;
    double mps;
    char edge[32], region[32];
    char optout[256];
    long reclaim_at; /* when this sender next looks for recipients of stopped senders */
};

static void camp_clear(struct camp *c)
{
    if (c->pass)
        OPENSSL_cleanse(c->pass, strlen(c->pass));
    free(c->user);
    free(c->pass);
    free(c->from);
    free(c->mss);
    free(c->body);
    free(c->content_sid);
    json_decref(c->media);
    memset(c, 0, sizeof *c);
}

static char *dup_field(const redisReply *meta, const char *name)
{
    const char *v = field(meta, name);
    return v ? strdup(v) : NULL;
}

/* Loads id's settings into c. Returns 0, or -1 (gone, ended, or Redis down). */
static int camp_load(struct camp *c, const char *id)
{
    char why[256];
    struct keys k;
    keys_of(id, &k);
    const char *get[] = {"HGETALL", k.m};
    redisReply *meta = cmd(why, sizeof why, 2, get);
    const char *sealed = field(meta, "cred");
    size_t n = 0;
    char *plain = sealed ? aead_open(rt.key, id, sealed, &n) : NULL;
    char *nl = plain ? memchr(plain, '\n', n) : NULL;
    if (!nl) {
        if (sealed && !plain)
            log_msg(LOG_WARN,
                    "campaign %s: its credentials cannot be opened with this CAMPAIGN_SECRET", id);
        free(plain);
        freeReplyObject(meta);
        return -1;
    }
    camp_clear(c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->account, sizeof c->account, "%s", field(meta, "account"));
    *nl = '\0';
    c->user = strdup(plain);
    c->pass = strdup(nl + 1);
    OPENSSL_cleanse(plain, n);
    free(plain);
    c->from = dup_field(meta, "from");
    c->mss = dup_field(meta, "mss");
    c->body = dup_field(meta, "body");
    c->content_sid = dup_field(meta, "contentSid");
    const char *media = field(meta, "media");
    c->media = media ? jsonparse_loadb(media, strlen(media), 0, NULL) : NULL;
    c->mps = strtod(field(meta, "mps") ? field(meta, "mps") : "1", NULL);
    if (c->mps < 1)
        c->mps = 1;
    snprintf(c->edge, sizeof c->edge, "%s", field(meta, "edge") ? field(meta, "edge") : "");
    snprintf(c->region, sizeof c->region, "%s", field(meta, "region") ? field(meta, "region") : "");
    snprintf(c->optout, sizeof c->optout, "twilio-block:optout:%s:%s", field(meta, "account"),
             c->mss    ? c->mss
             : c->from ? c->from
                       : "");
    freeReplyObject(meta);
    return c->user && c->pass ? 0 : -1;
}

struct sender {
    size_t index;
    char consumer[48];
    CURL *curl;
    struct camp cache[CACHE_N];
    size_t next_slot;
    redisReply *running;
    long running_at;
};

static struct camp *camp_find(struct sender *s, const char *id)
{
    for (size_t i = 0; i < CACHE_N; i++)
        if (strcmp(s->cache[i].id, id) == 0)
            return &s->cache[i];
    struct camp *c = &s->cache[s->next_slot++ % CACHE_N];
    if (camp_load(c, id) < 0) {
        camp_clear(c);
        return NULL;
    }
    return c;
}

/* Sleeps ms in slices, so a stopping service is noticed. */
static void nap(long ms)
{
    while (ms > 0 && !atomic_load(&rt.stop)) {
        clock_sleep_ms(ms < 100 ? ms : 100);
        ms -= 100;
    }
}

/* The one entry of a stream reply: id and to (and n, the sends tried). */
struct entry {
    char id[48];
    char to[48];
    long tried;
};

static int entry_of(const redisReply *e, struct entry *out)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !reply_str(e->element[0]) ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    snprintf(out->id, sizeof out->id, "%s", e->element[0]->str);
    out->to[0] = '\0';
    out->tried = 0;
    const redisReply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        if (strcmp(f->element[i]->str, "t") == 0)
            snprintf(out->to, sizeof out->to, "%s", f->element[i + 1]->str);
        else if (strcmp(f->element[i]->str, "n") == 0)
            out->tried = strtol(f->element[i + 1]->str, NULL, 10);
    }
    return out->to[0] ? 0 : -1;
}

/* Runs a settling script until Redis answers (it compares before it writes, so a repeat is
 * harmless); gives up when the service stops: the recipient then stays sending, and becomes
 * maybeSent when another sender takes its entry over. */
static long long settle_script(const char *body, const struct keys *k, int argc, const char **argv)
{
    char why[256];
    for (int tries = 0;; tries++) {
        redisReply *rep = script(body, k, argc, argv, NULL, why, sizeof why);
        if (rep) {
            long long v = reply_int(rep);
            freeReplyObject(rep);
            return v;
        }
        if (atomic_load(&rt.stop) || tries > 600)
            return 0;
        nap(100);
    }
}

static void count(int st)
{
    atomic_fetch_add(&rt.counts[st], 1);
}

/* Twilio's error code and message from an error answer, as a failed state "F<code>|<msg>". */
static void failed_state(const struct twilio_response *rs, struct buf *state, long *code)
{
    json_t *res = jsonparse_answer(rs->body.data ? rs->body.data : "", rs->body.len, NULL);
    json_t *jc = json_object_get(res, "code");
    const char *msg = json_string_value(json_object_get(res, "message"));
    *code = json_is_integer(jc) ? (long)json_integer_value(jc) : 0;
    buf_reset(state);
    if (*code)
        buf_appendf(state, "F%ld|", *code);
    else
        buf_appendf(state, "FHTTP_%ld|", rs->status);
    if (msg)
        buf_appendf(state, "%.300s", msg);
    else
        buf_appendf(state, "Twilio answered HTTP %ld", rs->status);
    json_decref(res);
}

/* The request that sends text to one recipient of c; message_request_free releases it. */
static void message_request(struct prepared *p, const struct camp *c, const char *to,
                            const char *text)
{
    memset(p, 0, sizeof *p);
    p->product = "api";
    p->method = "POST";
    buf_init(&p->path, CAMPAIGN_PATH_CAP);
    buf_init(&p->form, CAMPAIGN_FORM_CAP);
    buf_init(&p->headers, CAMPAIGN_HEADERS_CAP);
    buf_init(&p->username, CAMPAIGN_PART_CAP);
    buf_init(&p->password, CAMPAIGN_PART_CAP);
    snprintf(p->edge, sizeof p->edge, "%s", c->edge);
    snprintf(p->region, sizeof p->region, "%s", c->region);
    buf_appendf(&p->path, "/2010-04-01/Accounts/%s/Messages.json", c->account);
    buf_appendz(&p->username, c->user);
    buf_appendz(&p->password, c->pass);
    form_add(&p->form, "To", to, strlen(to));
    if (c->from)
        form_add(&p->form, "From", c->from, strlen(c->from));
    if (c->mss)
        form_add(&p->form, "MessagingServiceSid", c->mss, strlen(c->mss));
    if (c->content_sid) {
        form_add(&p->form, "ContentSid", c->content_sid, strlen(c->content_sid));
        if (text && *text)
            form_add(&p->form, "ContentVariables", text, strlen(text));
    } else if (text) {
        form_add(&p->form, "Body", text, strlen(text));
    }
    size_t i;
    json_t *u;
    json_array_foreach(c->media, i, u)
        form_add(&p->form, "MediaUrl", json_string_value(u), json_string_length(u));
}

static void message_request_free(struct prepared *p)
{
    OPENSSL_cleanse(p->password.data ? p->password.data : (char *)p, p->password.len);
    buf_free(&p->path);
    buf_free(&p->form);
    buf_free(&p->headers);
    buf_free(&p->username);
    buf_free(&p->password);
}

/* A send Twilio processed nothing of (429, not sent, or the credentials refused): the account
 * holds after a 429, the campaign pauses on refused credentials, and the recipient goes back
 * to the queue (failed after NOT_SENT_MAX tries that were not sent). Returns the settling
 * script's answer. */
static long long settle_unsent(const struct camp *c, const struct keys *k, const struct entry *e,
                               enum send_outcome o, const struct twilio_response *rs,
                               struct buf *state)
{
    long hold = 0;
    char why[256], ms[24], tried[24];
    const char *argv[4] = {e->to, e->id, NULL, NULL};
    if (o == SEND_LIMITED) {
        long b = atomic_load(&rt.backoff_ms);
        b = b ? (b * 2 > 30000 ? 30000 : b * 2) : 1000;
        atomic_store(&rt.backoff_ms, b);
        hold = rs->retry_after_ms > 0 ? rs->retry_after_ms : b;
        count(ST_LIMITED);
    }
    if (o == SEND_REFUSED) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Twilio refused the credentials (HTTP %ld); the campaign is paused", rs->status);
        const char *cargv[] = {"pause", msg};
        redisReply *rep = script(lua_control, k, 2, cargv, NULL, why, sizeof why);
        freeReplyObject(rep);
        log_msg(LOG_WARN, "campaign %s: running -> paused (%s)", c->id, msg);
    }
    if (hold > 0) {
        char name[128];
        snprintf(name, sizeof name, "twilio-block:campaign-hold:%s", c->account);
        snprintf(ms, sizeof ms, "%ld", hold);
        const char *set[] = {"SET", name, "1", "PX", ms};
        freeReplyObject(cmd(why, sizeof why, 5, set));
        log_msg(LOG_INFO, "campaign %s: Twilio answered 429; the account's sending holds %ld ms",
                c->id, hold);
    }
    if (o == SEND_NOT_SENT && e->tried + 1 >= NOT_SENT_MAX) {
        buf_appendf(state, "FNOT_SENT|%.300s", rs->error);
        argv[2] = buf_str(state);
        argv[3] = "failed";
        count(ST_FAILED);
        return settle_script(lua_settle, k, 4, argv);
    }
    snprintf(tried, sizeof tried, "%ld", o == SEND_NOT_SENT ? e->tried + 1 : e->tried);
    argv[2] = tried;
    long long end = settle_script(lua_requeue, k, 3, argv);
    if (o == SEND_NOT_SENT)
        nap(500);
    return end;
}

/* Sends to one claimed recipient and settles it. */
static void send_to(struct sender *s, struct camp *c, const struct keys *k, const struct entry *e,
                    const char *text)
{
    struct prepared p;
    struct twilio_response rs;
    struct buf state;
    message_request(&p, c, e->to, text);
    buf_init(&state, CAMPAIGN_STATE_CAP);
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    const struct send_options opt = {.pace_429 = 1, .maybe = "the message may have been created"};
    int answered = send_perform_ex(&rt.svc, &p, &s->curl, &opt, &rs, NULL) == 0;
    enum send_outcome o = send_classify(&p, &rs, answered);
    const char *argv[4] = {e->to, e->id, NULL, NULL};
    long long end = 0;
    if (o == SEND_DONE) {
        json_t *res = jsonparse_answer(rs.body.data, rs.body.len, NULL);
        const char *sid = json_string_value(json_object_get(res, "sid"));
        buf_appendf(&state, sid ? "S%.40s" : "m", sid);
        json_decref(res);
        argv[2] = buf_str(&state);
        argv[3] = sid ? "sent" : "maybeSent";
        count(sid ? ST_SENT : ST_MAYBE);
        end = settle_script(lua_settle, k, 4, argv);
        atomic_store(&rt.backoff_ms, 0);
    } else if (o == SEND_MAYBE) {
        argv[2] = "m";
        argv[3] = "maybeSent";
        count(ST_MAYBE);
        log_msg(LOG_WARN, "campaign %s: a send's outcome is unknown (%s): maybeSent", c->id,
                rs.error[0] ? rs.error : "Twilio failed after receiving it");
        end = settle_script(lua_settle, k, 4, argv);
    } else if (o == SEND_LIMITED || o == SEND_NOT_SENT ||
               (o == SEND_REFUSED && (rs.status == 401 || rs.status == 403))) {
        end = settle_unsent(c, k, e, o, &rs, &state);
    } else {
        long code = 0;
        char why[256];
        failed_state(&rs, &state, &code);
        if (code == 21610) { /* the recipient replied STOP to this sender */
            const char *sadd[] = {"SADD", c->optout, e->to};
            freeReplyObject(cmd(why, sizeof why, 3, sadd));
        }
        argv[2] = buf_str(&state);
        argv[3] = "failed";
        count(ST_FAILED);
        end = settle_script(lua_settle, k, 4, argv);
    }
    if (end == 1)
        ended(c->id);
    twilio_response_free(&rs);
    buf_free(&state);
    message_request_free(&p);
}

/* Whether the account's sending holds after a 429 (or Redis cannot say). */
static int account_held(const struct camp *c)
{
    char why[256], hold[128];
    snprintf(hold, sizeof hold, "twilio-block:campaign-hold:%s", c->account);
    const char *pttl[] = {"PTTL", hold};
    redisReply *rep = cmd(why, sizeof why, 2, pttl);
    long long held = rep ? reply_int(rep) : 1;
    freeReplyObject(rep);
    return held > 0;
}

/* Handles one entry read from c's stream. */
static void handle(struct sender *s, struct camp *c, const struct keys *k, const struct entry *e)
{
    char why[256];
    struct buf text;
    buf_init(&text, CAMPAIGN_TEXT_CAP);
    /* the message first: the recipient is claimed only when its request is ready to go */
    const char *hget[] = {"HGET", k->v, e->to};
    redisReply *vars_rep = cmd(why, sizeof why, 3, hget);
    const char *vars_text = reply_str(vars_rep);
    json_t *vars = vars_text ? jsonparse_loadb(vars_text, strlen(vars_text), 0, NULL) : NULL;
    if (c->content_sid) {
        if (vars_text)
            buf_appendz(&text, vars_text);
    } else if (c->body) {
        fill(c->body, vars, &text);
    }
    freeReplyObject(vars_rep);
    json_decref(vars);
    long segments = 1;
    struct sms_info info;
    if (!c->content_sid && text.len && sms_analyse(text.data, text.len, &info) == 0) {
        segments = info.segments ? (long)info.segments : 1;
        json_decref(info.forced);
    }
    /* paced: the whole campaign's bucket, in segments */
    char rate[32], cap[32], need[24];
    long capacity = (long)(c->mps / 20);
    if (capacity < segments)
        capacity = segments;
    snprintf(rate, sizeof rate, "%g", c->mps);
    snprintf(cap, sizeof cap, "%ld", capacity);
    snprintf(need, sizeof need, "%ld", segments);
    const char *take[] = {k->b, rate, cap, need};
    long touched = clock_ms();
    for (;;) {
        redisReply *rep = rt.local ? local_script(lua_bucket, 1, 4, take, why, sizeof why)
                                   : campaign_redis_script(rt.redis, lua_bucket, 1, 4, take, NULL,
                                                           why, sizeof why);
        long long wait = rep ? reply_int(rep) : 200;
        freeReplyObject(rep);
        if (wait <= 0 || atomic_load(&rt.stop))
            break;
        nap(wait < 200 ? wait : 200);
        if (clock_ms() - touched >= rt.cfg->campaign_reclaim_ms / 3) {
            /* Still this sender's: its entry's idle time starts again, so no other sender takes
             * it over (and marks it maybeSent) while this one waits its turn at a slow pace. */
            const char *xc[] = {"XCLAIM", k->q, "senders", s->consumer, "0", e->id, "JUSTID"};
            freeReplyObject(cmd(why, sizeof why, 7, xc));
            touched = clock_ms();
        }
    }
    const char *ism[] = {"SISMEMBER", c->optout, e->to};
    redisReply *opt = cmd(why, sizeof why, 3, ism);
    int skip = opt && reply_int(opt) == 1;
    freeReplyObject(opt);
    /* A 429 may have come while this sender waited at the bucket: nothing goes out then. */
    const char *argv[] = {e->to, e->id, skip ? "skip" : account_held(c) ? "hold" : "send"};
    redisReply *rep =
        atomic_load(&rt.stop) ? NULL : script(lua_claim, k, 3, argv, NULL, why, sizeof why);
    const char *what = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
                           ? reply_str(rep->element[0])
                           : NULL;
    long long end = what ? reply_int(rep->element[1]) : 0;
    if (what && strcmp(what, "go") == 0)
        send_to(s, c, k, e, text.len || !c->body ? buf_str(&text) : c->body);
    else if (what && strcmp(what, "skipped") == 0)
        count(ST_SKIPPED);
    else if (what && strcmp(what, "maybe") == 0) {
        count(ST_MAYBE);
        log_msg(LOG_WARN,
                "campaign %s: a recipient was being sent by a sender that stopped: maybeSent",
                c->id);
    }
    freeReplyObject(rep);
    if (end == 1)
        ended(c->id);
    buf_free(&text);
}

/* One look at campaign id: a recipient of a stopped sender, else a new one. Returns 1 when
 * it handled one. */
static int work_on(struct sender *s, const char *id)
{
    char why[256];
    struct keys k;
    keys_of(id, &k);
    const char *st[] = {"HGET", k.m, "status"};
    redisReply *rep = cmd(why, sizeof why, 3, st);
    const char *status = reply_str(rep);
    int running = status && strcmp(status, "running") == 0;
    int gone = rep && rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    if (gone) {
        const char *srem[] = {"SREM", RUNNING, id};
        freeReplyObject(cmd(why, sizeof why, 3, srem));
    }
    if (!running)
        return 0;
    struct camp *c = camp_find(s, id);
    if (!c)
        return 0;
    if (account_held(c))
        return 0;
    struct entry e;
    int got = 0;
    long now = clock_ms();
    if (now >= c->reclaim_at) {
        char idle[24];
        snprintf(idle, sizeof idle, "%ld", rt.cfg->campaign_reclaim_ms);
        const char *ac[] = {"XAUTOCLAIM", k.q, "senders", s->consumer, idle, "0-0", "COUNT", "1"};
        rep = cmd(why, sizeof why, 8, ac);
        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
            rep->element[1]->type == REDIS_REPLY_ARRAY && rep->element[1]->elements)
            got = entry_of(rep->element[1]->element[0], &e) == 0;
        else
            c->reclaim_at = now + 1000;
        freeReplyObject(rep);
        if (got) /* its sender stopped, or held it past CAMPAIGN_RECLAIM_MS without a word */
            log_msg(LOG_INFO, "campaign %s: took over a recipient idle for %ld ms", c->id,
                    rt.cfg->campaign_reclaim_ms);
    }
    if (!got) {
        const char *rd[] = {"XREADGROUP", "GROUP",   "senders", s->consumer, "COUNT",
                            "1",          "STREAMS", k.q,       ">"};
        rep = cmd(why, sizeof why, 9, rd);
        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
            const redisReply *stream = rep->element[0];
            if (stream->type == REDIS_REPLY_ARRAY && stream->elements == 2 &&
                stream->element[1]->type == REDIS_REPLY_ARRAY && stream->element[1]->elements)
                got = entry_of(stream->element[1]->element[0], &e) == 0;
        }
        freeReplyObject(rep);
    }
    if (got)
        handle(s, c, &k, &e);
    return got;
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char why[256];
    s->curl = curl_easy_init();
    while (!atomic_load(&rt.stop)) {
        long now = clock_ms();
        if (!s->running || now - s->running_at >= 1000) {
            freeReplyObject(s->running);
            const char *sm[] = {"SMEMBERS", RUNNING};
            s->running = cmd(why, sizeof why, 2, sm);
            s->running_at = now;
        }
        int did = 0;
        size_t n = s->running && s->running->type == REDIS_REPLY_ARRAY ? s->running->elements : 0;
        for (size_t i = 0; i < n && !atomic_load(&rt.stop); i++)
            did += work_on(s, s->running->element[(i + s->index) % n]->str);
        if (!did)
            nap(n ? 50 : 200);
    }
    freeReplyObject(s->running);
    for (size_t i = 0; i < CACHE_N; i++)
        camp_clear(&s->cache[i]);
    if (s->curl)
        curl_easy_cleanup(s->curl);
    free(s);
    return NULL;
}

int campaign_start(const struct config *cfg, char *err, size_t errlen)
{
    unsigned char rnd[8];
    rt.cfg = cfg;
    if (!cfg->redis_url[0]) {
        /* in process, under a key of this process: nothing outlives it */
        if (!(rt.local = campaign_local_new()) || aead_key_random(rt.key) < 0) {
            snprintf(err, errlen, "campaigns: out of memory");
            return -1;
        }
    } else if (!cfg->campaign_secret[0]) {
        snprintf(rt.missing, sizeof rt.missing,
                 "Campaigns need CAMPAIGN_SECRET (a passphrase, the same on every replica) beside "
                 "REDIS_URL: it seals the credentials a campaign keeps. Set it and restart.");
        log_msg(LOG_WARN, "campaigns: off (REDIS_URL is set, CAMPAIGN_SECRET is not)");
        return 0;
    }
    if ((!rt.local && aead_key_from(cfg->campaign_secret, rt.key) < 0) ||
        RAND_bytes(rnd, sizeof rnd) != 1) {
        snprintf(err, errlen, "campaigns: no key");
        return -1;
    }
    digest_hex(rnd, sizeof rnd, rt.node);
    if (!rt.local &&
        !(rt.redis = campaign_redis_new(cfg->redis_url, cfg->redis_timeout_ms, err, errlen)))
        return -1;
    if (send_service_start(&rt.svc, cfg, 0, NULL, err, errlen) < 0) {
        campaign_redis_free(rt.redis);
        rt.redis = NULL;
        return -1;
    }
    rt.svc_started = 1;
    rt.missing[0] = '\0';
    rt.threads = calloc((size_t)cfg->campaign_concurrency, sizeof *rt.threads);
    for (long i = 0; rt.threads && i < cfg->campaign_concurrency; i++) {
        struct sender *s = calloc(1, sizeof *s);
        if (!s)
            break;
        s->index = (size_t)i;
        snprintf(s->consumer, sizeof s->consumer, "%s-%ld", rt.node, i);
        if (pthread_create(&rt.threads[rt.n_threads], NULL, sender_main, s) != 0) {
            free(s);
            break;
        }
        rt.n_threads++;
    }
    log_msg(LOG_INFO, "campaigns: on, %zu senders in this replica, kept %s", rt.n_threads,
            rt.local ? "in this process (no REDIS_URL: one replica, lost on restart)" : "in Redis");
    return 0;
}

void campaign_stop(void)
{
    atomic_store(&rt.stop, 1);
    for (size_t i = 0; i < rt.n_threads; i++)
        pthread_join(rt.threads[i], NULL);
    free(rt.threads);
    rt.threads = NULL;
    rt.n_threads = 0;
    if (rt.svc_started)
        send_service_stop(&rt.svc);
    rt.svc_started = 0;
    campaign_redis_free(rt.redis);
    rt.redis = NULL;
    campaign_local_free(rt.local);
    rt.local = NULL;
    OPENSSL_cleanse(rt.key, sizeof rt.key);
}

int campaign_metrics(struct buf *out)
{
    int rc = buf_appendz(out, "# HELP twilio_block_campaign_recipients_total Campaign recipients "
                              "settled by this replica, by status (rate_limited: a 429, sent "
                              "again later).\n"
                              "# TYPE twilio_block_campaign_recipients_total counter\n");
    for (int i = 0; rc == 0 && i < ST_N; i++)
        rc = buf_appendf(out, "twilio_block_campaign_recipients_total{status=\"%s\"} %ld\n",
                         metric_names[i], atomic_load(&rt.counts[i]));
    if (rc == 0)
        rc = buf_appendf(out,
                         "# HELP twilio_block_campaigns_ended_total Campaigns this replica saw "
                         "end, by status.\n"
                         "# TYPE twilio_block_campaigns_ended_total counter\n"
                         "twilio_block_campaigns_ended_total{status=\"completed\"} %ld\n"
                         "twilio_block_campaigns_ended_total{status=\"cancelled\"} %ld\n",
                         atomic_load(&rt.ended_completed), atomic_load(&rt.ended_cancelled));
    return rc;
}

#include "campaign_sender.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_callback.h"
#include "campaign_store.h"
#include "clock.h"
#include "digest.h"
#include "form.h"
#include "jsonparse.h"
#include "log.h"
#include "send.h"
#include "sms.h"

#define CACHE_N 8         /* campaigns a sender keeps settings of */
#define NOT_SENT_MAX 5    /* tries Twilio never got before a recipient fails (FNOT_SENT) */
#define IDLE_WAIT_MS 5000 /* longest an idle sender waits for the scout */
/* How far ahead a sender may book its send at the bucket: far enough for every sender's turn
 * at 1,000 mps, near enough that a pause or a 429 finds it before it sends. */
#define BOOK_AHEAD_TEXT "1000"

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

enum { ST_SENT, ST_FAILED, ST_SKIPPED, ST_MAYBE, ST_CANCELLED, ST_LIMITED, ST_N };
static const char *const metric_names[ST_N] = {"sent",      "failed",    "skipped",
                                               "maybeSent", "cancelled", "rate_limited"};

static struct {
    const struct config *cfg;
    struct send_service svc; /* the senders' own: transfers on their threads */
    int svc_started;
    unsigned char key[AEAD_KEY_LEN]; /* opens the credentials a campaign keeps */
    char node[24];                   /* this process's consumer name prefix */
    pthread_t *threads;
    size_t n_threads;
    atomic_int stop;
    atomic_long counts[ST_N];
    atomic_long backoff_ms;
    /* An idle replica looks for running campaigns with one sender (the scout, index 0); the
     * others wait on idle until it sees one (gen moves) and on nap_cond between turns, so
     * that an idle service neither wakes its senders nor asks Redis for each of them. */
    pthread_mutex_t lock;
    pthread_cond_t idle, nap_cond;
    unsigned long gen; /* moves each time the scout sees a running campaign */
} rt = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The n bytes between {{ and }} at s, trimmed, into name. Returns the name's length, or -1
 * when it does not fit in size. */
static long placeholder_name(const char *s, size_t n, char *name, size_t size)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= size)
        return -1;
    memcpy(name, s, n);
    name[n] = '\0';
    return (long)n;
}

json_t *campaign_sender_placeholders(const char *body)
{
    json_t *names = json_array();
    for (const char *p = body ? strstr(body, "{{") : NULL; names && p; p = strstr(p, "{{")) {
        const char *end = strstr(p + 2, "}}");
        if (!end)
            break;
        char name[128];
        if (placeholder_name(p + 2, (size_t)(end - p - 2), name, sizeof name) > 0)
            json_array_append_new(names, json_string(name));
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
        json_t *val = placeholder_name(open + 2, (size_t)(end - open - 2), name, sizeof name) >= 0
                          ? json_object_get(vars, name)
                          : NULL;
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
    const char *v = campaign_store_field(meta, name);
    return v ? strdup(v) : NULL;
}

/* Loads id's settings into c. Returns 0, or -1 (gone, ended, or Redis down). */
static int camp_load(struct camp *c, const char *id)
{
    char why[256];
    struct campaign_keys k;
    campaign_store_keys_of(id, &k);
    const char *get[] = {"HGETALL", k.m};
    redisReply *meta = campaign_store_cmd(why, sizeof why, 2, get);
    const char *sealed = campaign_store_field(meta, "cred");
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
    snprintf(c->account, sizeof c->account, "%s", campaign_store_field(meta, "account"));
    *nl = '\0';
    c->user = strdup(plain);
    c->pass = strdup(nl + 1);
    OPENSSL_cleanse(plain, n);
    free(plain);
    c->from = dup_field(meta, "from");
    c->mss = dup_field(meta, "mss");
    c->body = dup_field(meta, "body");
    c->content_sid = dup_field(meta, "contentSid");
    const char *media = campaign_store_field(meta, "media");
    c->media = media ? jsonparse_loadb(media, strlen(media), 0, NULL) : NULL;
    c->mps =
        strtod(campaign_store_field(meta, "mps") ? campaign_store_field(meta, "mps") : "1", NULL);
    if (c->mps < 1)
        c->mps = 1;
    snprintf(c->edge, sizeof c->edge, "%s",
             campaign_store_field(meta, "edge") ? campaign_store_field(meta, "edge") : "");
    snprintf(c->region, sizeof c->region, "%s",
             campaign_store_field(meta, "region") ? campaign_store_field(meta, "region") : "");
    snprintf(c->optout, sizeof c->optout, "twilio-block:optout:%s:%s",
             campaign_store_field(meta, "account"),
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

/* Sleeps ms, or until the service stops. */
static void nap(long ms)
{
    struct timespec until = clock_after(ms);
    pthread_mutex_lock(&rt.lock);
    while (!atomic_load(&rt.stop) &&
           pthread_cond_timedwait(&rt.nap_cond, &rt.lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&rt.lock);
}

/* The scout saw running campaigns: the waiting senders go and look. */
static void announce(void)
{
    pthread_mutex_lock(&rt.lock);
    rt.gen++;
    pthread_cond_broadcast(&rt.idle);
    pthread_mutex_unlock(&rt.lock);
}

static unsigned long gen_now(void)
{
    pthread_mutex_lock(&rt.lock);
    unsigned long g = rt.gen;
    pthread_mutex_unlock(&rt.lock);
    return g;
}

/* A sender that found nothing running waits until the scout has seen a campaign since seen,
 * or the service stops; at most IDLE_WAIT_MS, so a lost wake costs no more than that. */
static void idle_wait(unsigned long seen)
{
    struct timespec until = clock_after(IDLE_WAIT_MS);
    pthread_mutex_lock(&rt.lock);
    while (!atomic_load(&rt.stop) && rt.gen == seen &&
           pthread_cond_timedwait(&rt.idle, &rt.lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&rt.lock);
}

/* The one entry of a stream reply: id and to (and n, the sends tried). */
struct entry {
    char id[48];
    char to[48];
    long tried;
};

static int entry_of(const redisReply *e, struct entry *out)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        !campaign_store_reply_str(e->element[0]) || e->element[1]->type != REDIS_REPLY_ARRAY)
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
static long long settle_script(enum campaign_script body, const struct campaign_keys *k, int argc,
                               const char **argv)
{
    char why[256];
    for (int tries = 0;; tries++) {
        redisReply *rep = campaign_store_script(body, k, argc, argv, NULL, why, sizeof why);
        if (rep) {
            long long v = campaign_store_reply_int(rep);
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
static long long settle_unsent(const struct camp *c, const struct campaign_keys *k,
                               const struct entry *e, enum send_outcome o,
                               const struct twilio_response *rs, struct buf *state)
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
        redisReply *rep =
            campaign_store_script(CAMPAIGN_SCRIPT_CONTROL, k, 2, cargv, NULL, why, sizeof why);
        freeReplyObject(rep);
        log_msg(LOG_WARN, "campaign %s: running -> paused (%s)", c->id, msg);
    }
    if (hold > 0) {
        char name[128];
        snprintf(name, sizeof name, "twilio-block:campaign-hold:%s", c->account);
        snprintf(ms, sizeof ms, "%ld", hold);
        const char *set[] = {"SET", name, "1", "PX", ms};
        freeReplyObject(campaign_store_cmd(why, sizeof why, 5, set));
        log_msg(LOG_INFO,
                "campaign %s: Twilio took nothing (%s); the account's sending holds %ld ms", c->id,
                rs->status == 429 ? "429" : "21611, the sender's queue is full", hold);
    }
    if (o == SEND_NOT_SENT && e->tried + 1 >= NOT_SENT_MAX) {
        buf_appendf(state, "FNOT_SENT|%.300s", rs->error);
        argv[2] = buf_str(state);
        argv[3] = "failed";
        count(ST_FAILED);
        return settle_script(CAMPAIGN_SCRIPT_SETTLE, k, 4, argv);
    }
    snprintf(tried, sizeof tried, "%ld", o == SEND_NOT_SENT ? e->tried + 1 : e->tried);
    argv[2] = tried;
    long long end = settle_script(CAMPAIGN_SCRIPT_REQUEUE, k, 3, argv);
    if (o == SEND_NOT_SENT)
        nap(500);
    return end;
}

/* Sends to one claimed recipient and settles it. */
static void send_to(struct sender *s, struct camp *c, const struct campaign_keys *k,
                    const struct entry *e, const char *text)
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
        end = settle_script(CAMPAIGN_SCRIPT_SETTLE, k, 4, argv);
        atomic_store(&rt.backoff_ms, 0);
    } else if (o == SEND_MAYBE) {
        argv[2] = "m";
        argv[3] = "maybeSent";
        count(ST_MAYBE);
        log_msg(LOG_WARN, "campaign %s: a send's outcome is unknown (%s): maybeSent", c->id,
                rs.error[0] ? rs.error : "Twilio failed after receiving it");
        end = settle_script(CAMPAIGN_SCRIPT_SETTLE, k, 4, argv);
    } else if (o == SEND_LIMITED || o == SEND_NOT_SENT ||
               (o == SEND_REFUSED && (rs.status == 401 || rs.status == 403))) {
        end = settle_unsent(c, k, e, o, &rs, &state);
    } else {
        long code = 0;
        char why[256];
        failed_state(&rs, &state, &code);
        if (code == 21611) { /* the sender's queue at Twilio is full (10 hours of it): nothing
                              * was queued, so hold as for a 429 and send it again */
            buf_reset(&state);
            end = settle_unsent(c, k, e, SEND_LIMITED, &rs, &state);
            goto settled;
        }
        if (code == 21610) { /* the recipient replied STOP to this sender */
            const char *sadd[] = {"SADD", c->optout, e->to};
            freeReplyObject(campaign_store_cmd(why, sizeof why, 3, sadd));
        }
        argv[2] = buf_str(&state);
        argv[3] = "failed";
        count(ST_FAILED);
        end = settle_script(CAMPAIGN_SCRIPT_SETTLE, k, 4, argv);
    }
settled:
    if (end == 1)
        campaign_callback_ended(rt.cfg, c->id);
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
    redisReply *rep = campaign_store_cmd(why, sizeof why, 2, pttl);
    long long held = rep ? campaign_store_reply_int(rep) : 1;
    freeReplyObject(rep);
    return held > 0;
}

/* Handles one entry read from c's stream. */
static void handle(struct sender *s, struct camp *c, const struct campaign_keys *k,
                   const struct entry *e)
{
    char why[256];
    struct buf text;
    buf_init(&text, CAMPAIGN_TEXT_CAP);
    /* the message first: the recipient is claimed only when its request is ready to go */
    const char *hget[] = {"HGET", k->v, e->to};
    redisReply *vars_rep = campaign_store_cmd(why, sizeof why, 3, hget);
    const char *vars_text = campaign_store_reply_str(vars_rep);
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
    const char *take[] = {k->b, rate, cap, need, BOOK_AHEAD_TEXT};
    long touched = clock_ms(), send_at = -1, left = 0;
    while (!atomic_load(&rt.stop)) {
        if (send_at < 0) {
            redisReply *rep = campaign_store_bucket(take, why, sizeof why);
            long long ms = rep ? campaign_store_reply_int(rep) : 200;
            freeReplyObject(rep);
            if (ms <= 0)
                send_at = clock_ms() - (long)ms;
            left = ms > 0 ? (long)ms : 0;
        }
        if (send_at >= 0 && (left = send_at - clock_ms()) <= 0)
            break;
        nap(left < 200 ? left : 200);
        if (clock_ms() - touched >= rt.cfg->campaign_reclaim_ms / 3) {
            /* Still this sender's: its entry's idle time starts again, so no other sender takes
             * it over (and marks it maybeSent) while this one waits its turn at a slow pace. */
            const char *xc[] = {"XCLAIM", k->q, "senders", s->consumer, "0", e->id, "JUSTID"};
            freeReplyObject(campaign_store_cmd(why, sizeof why, 7, xc));
            touched = clock_ms();
        }
    }
    const char *ism[] = {"SISMEMBER", c->optout, e->to};
    redisReply *opt = campaign_store_cmd(why, sizeof why, 3, ism);
    int skip = opt && campaign_store_reply_int(opt) == 1;
    freeReplyObject(opt);
    /* A 429 may have come while this sender waited at the bucket: nothing goes out then. */
    const char *argv[] = {e->to, e->id, skip ? "skip" : account_held(c) ? "hold" : "send"};
    redisReply *rep = atomic_load(&rt.stop) ? NULL
                                            : campaign_store_script(CAMPAIGN_SCRIPT_CLAIM, k, 3,
                                                                    argv, NULL, why, sizeof why);
    const char *what = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
                           ? campaign_store_reply_str(rep->element[0])
                           : NULL;
    long long end = what ? campaign_store_reply_int(rep->element[1]) : 0;
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
        campaign_callback_ended(rt.cfg, c->id);
    buf_free(&text);
}

/* One look at campaign id: a recipient of a stopped sender, else a new one. Returns 1 when
 * it handled one. */
static int work_on(struct sender *s, const char *id)
{
    char why[256];
    struct campaign_keys k;
    campaign_store_keys_of(id, &k);
    const char *st[] = {"HGET", k.m, "status"};
    redisReply *rep = campaign_store_cmd(why, sizeof why, 3, st);
    const char *status = campaign_store_reply_str(rep);
    int running = status && strcmp(status, "running") == 0;
    int gone = rep && rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    if (gone) {
        const char *srem[] = {"SREM", CAMPAIGN_RUNNING_KEY, id};
        freeReplyObject(campaign_store_cmd(why, sizeof why, 3, srem));
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
        rep = campaign_store_cmd(why, sizeof why, 8, ac);
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
        rep = campaign_store_cmd(why, sizeof why, 9, rd);
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
    unsigned long seen = 0;
    while (!atomic_load(&rt.stop)) {
        long now = clock_ms();
        if (!s->running || now - s->running_at >= 1000) {
            freeReplyObject(s->running);
            seen = gen_now();
            const char *sm[] = {"SMEMBERS", CAMPAIGN_RUNNING_KEY};
            s->running = campaign_store_cmd(why, sizeof why, 2, sm);
            s->running_at = now;
            if (s->index == 0 && s->running && s->running->type == REDIS_REPLY_ARRAY &&
                s->running->elements)
                announce();
        }
        int did = 0;
        size_t n = s->running && s->running->type == REDIS_REPLY_ARRAY ? s->running->elements : 0;
        for (size_t i = 0; i < n && !atomic_load(&rt.stop); i++)
            did += work_on(s, s->running->element[(i + s->index) % n]->str);
        if (did)
            continue;
        if (n || s->index == 0) {
            nap(n ? 50 : 200);
        } else {
            idle_wait(seen);
            freeReplyObject(s->running); /* woken: look again at once */
            s->running = NULL;
        }
    }
    freeReplyObject(s->running);
    for (size_t i = 0; i < CACHE_N; i++)
        camp_clear(&s->cache[i]);
    if (s->curl)
        curl_easy_cleanup(s->curl);
    free(s);
    return NULL;
}

int campaign_sender_start(const struct config *cfg, const unsigned char key[AEAD_KEY_LEN],
                          char *err, size_t errlen)
{
    unsigned char rnd[8];
    rt.cfg = cfg;
    memcpy(rt.key, key, sizeof rt.key);
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        snprintf(err, errlen, "campaigns: no key");
        return -1;
    }
    digest_hex(rnd, sizeof rnd, rt.node);
    if (send_service_start(&rt.svc, cfg, 0, NULL, err, errlen) < 0)
        return -1;
    rt.svc_started = 1;
    if (clock_cond_init(&rt.idle) != 0 || clock_cond_init(&rt.nap_cond) != 0) {
        snprintf(err, errlen, "campaigns: no condition variable");
        campaign_sender_stop();
        return -1;
    }
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
    if (!rt.n_threads) { /* a replica with campaigns on must have someone to send them */
        snprintf(err, errlen, "campaigns: no sender thread could start");
        campaign_sender_stop();
        return -1;
    }
    return 0;
}

void campaign_sender_wake(void)
{
    announce();
}

size_t campaign_sender_count(void)
{
    return rt.n_threads;
}

void campaign_sender_stop(void)
{
    pthread_mutex_lock(&rt.lock);
    atomic_store(&rt.stop, 1);
    pthread_cond_broadcast(&rt.idle);
    pthread_cond_broadcast(&rt.nap_cond);
    pthread_mutex_unlock(&rt.lock);
    for (size_t i = 0; i < rt.n_threads; i++)
        pthread_join(rt.threads[i], NULL);
    free(rt.threads);
    rt.threads = NULL;
    rt.n_threads = 0;
    if (rt.svc_started)
        send_service_stop(&rt.svc);
    rt.svc_started = 0;
    OPENSSL_cleanse(rt.key, sizeof rt.key);
}

int campaign_sender_metrics(struct buf *out)
{
    int rc = buf_appendz(out, "# HELP twilio_block_campaign_recipients_total Campaign recipients "
                              "settled by this replica, by status (rate_limited: a 429, sent "
                              "again later).\n"
                              "# TYPE twilio_block_campaign_recipients_total counter\n");
    for (int i = 0; rc == 0 && i < ST_N; i++)
        rc = buf_appendf(out, "twilio_block_campaign_recipients_total{status=\"%s\"} %ld\n",
                         metric_names[i], atomic_load(&rt.counts[i]));
    return rc;
}

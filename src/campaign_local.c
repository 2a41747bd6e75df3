#include "campaign_local.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"

/* Every key is {"t": h (hash), s (set), k (string), x (stream), "v": its value, "exp": when it
 * expires (clock_ms), for strings}. A stream's value: {"seq", "queue": [[id, to, n], ...],
 * "head": the next never delivered, "pel": {id: [to, n, consumer, delivered at]}}. */
struct campaign_local {
    pthread_mutex_t lock;
    json_t *db;
};

struct campaign_local *campaign_local_new(void)
{
    struct campaign_local *l = calloc(1, sizeof *l);
    if (!l || !(l->db = json_object())) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void campaign_local_free(struct campaign_local *l)
{
    if (!l)
        return;
    json_decref(l->db);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* ---- replies, allocated as hiredis allocates them (freeReplyObject frees them) ---- */

static redisReply *rep_new(int type)
{
    redisReply *r = calloc(1, sizeof *r);
    if (r)
        r->type = type;
    return r;
}

static redisReply *rep_str(const char *s)
{
    redisReply *r = rep_new(REDIS_REPLY_STRING);
    if (r && !(r->str = strdup(s))) {
        free(r);
        return NULL;
    }
    if (r)
        r->len = strlen(s);
    return r;
}

static redisReply *rep_status(const char *s)
{
    redisReply *r = rep_str(s);
    if (r)
        r->type = REDIS_REPLY_STATUS;
    return r;
}

static redisReply *rep_int(long long v)
{
    redisReply *r = rep_new(REDIS_REPLY_INTEGER);
    if (r)
        r->integer = v;
    return r;
}

static redisReply *rep_arr(size_t n)
{
    redisReply *r = rep_new(REDIS_REPLY_ARRAY);
    if (r && n && !(r->element = calloc(n, sizeof *r->element))) {
        free(r);
        return NULL;
    }
    if (r)
        r->elements = n;
    return r;
}

/* Puts e at i of array a; a NULL e (out of memory) fails the whole reply later. */
static void rep_put(redisReply *a, size_t i, redisReply *e)
{
    if (a && i < a->elements)
        a->element[i] = e ? e : rep_new(REDIS_REPLY_NIL);
}

/* ---- the store ---- */

static json_t *lookup(struct campaign_local *l, const char *key, const char *type, int create)
{
    json_t *k = json_object_get(l->db, key);
    json_t *exp = json_object_get(k, "exp");
    if (k && json_is_integer(exp) && json_integer_value(exp) <= clock_ms()) {
        json_object_del(l->db, key);
        k = NULL;
    }
    if (k && strcmp(json_string_value(json_object_get(k, "t")), type) != 0)
        return NULL;
    if (!k && create) {
        json_t *v = type[0] == 'k'   ? json_string("")
                    : type[0] == 'x' ? json_pack("{s:I, s:[], s:I, s:{}}", "seq", (json_int_t)0,
                                                 "queue", "head", (json_int_t)0, "pel")
                                     : json_object();
        k = json_pack("{s:s, s:o}", "t", type, "v", v);
        if (!k || json_object_set_new(l->db, key, k) < 0)
            return NULL;
    }
    return json_object_get(k, "v");
}

static const char *hget(json_t *h, const char *f)
{
    return json_string_value(json_object_get(h, f));
}

static void hset(json_t *h, const char *f, const char *v)
{
    json_object_set_new(h, f, json_string(v));
}

static long long hnum(json_t *h, const char *f)
{
    const char *v = hget(h, f);
    return v ? strtoll(v, NULL, 10) : 0;
}

static long long hincr(json_t *h, const char *f, long long by)
{
    char n[32];
    long long v = hnum(h, f) + by;
    snprintf(n, sizeof n, "%lld", v);
    hset(h, f, n);
    return v;
}

static void xadd(json_t *x, const char *to, const char *n)
{
    char id[48];
    json_int_t seq = json_integer_value(json_object_get(x, "seq")) + 1;
    json_object_set_new(x, "seq", json_integer(seq));
    snprintf(id, sizeof id, "%ld-%lld", clock_ms(), (long long)seq);
    json_array_append_new(json_object_get(x, "queue"), json_pack("[s, s, s]", id, to, n));
}

/* XACK and XDEL of a delivered entry. */
static void drop(json_t *x, const char *id)
{
    if (x && *id)
        json_object_del(json_object_get(x, "pel"), id);
}

/* An entry as XREADGROUP answers it: [id, [t, to, n, n]]. */
static redisReply *rep_entry(const char *id, const char *to, const char *n)
{
    redisReply *e = rep_arr(2), *f = rep_arr(4);
    rep_put(e, 0, rep_str(id));
    rep_put(f, 0, rep_str("t"));
    rep_put(f, 1, rep_str(to));
    rep_put(f, 2, rep_str("n"));
    rep_put(f, 3, rep_str(n));
    rep_put(e, 1, f);
    return e;
}

static redisReply *cmd_hgetall(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    json_t *h = lookup(l, argv[1], "h", 0);
    redisReply *a = rep_arr(2 * json_object_size(h));
    const char *f;
    json_t *v;
    size_t i = 0;
    json_object_foreach(h, f, v) {
        rep_put(a, i++, rep_str(f));
        rep_put(a, i++, rep_str(json_string_value(v)));
    }
    return a;
}

static redisReply *cmd_hget(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    const char *v = hget(lookup(l, argv[1], "h", 0), argv[2]);
    return v ? rep_str(v) : rep_new(REDIS_REPLY_NIL);
}

/* SADD, SREM and SISMEMBER: told apart by their second letter. */
static redisReply *cmd_set_member(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    const char *c = argv[0];
    json_t *s = lookup(l, argv[1], "s", c[1] == 'A');
    int had = json_object_get(s, argv[2]) != NULL;
    if (c[1] == 'A' && s)
        json_object_set_new(s, argv[2], json_true());
    if (c[1] == 'R')
        json_object_del(s, argv[2]);
    return rep_int(c[1] == 'A' ? !had : had);
}

static redisReply *cmd_smembers(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    json_t *s = lookup(l, argv[1], "s", 0);
    redisReply *a = rep_arr(json_object_size(s));
    const char *f;
    json_t *v;
    size_t i = 0;
    json_object_foreach(s, f, v)
        rep_put(a, i++, rep_str(f));
    return a;
}

static redisReply *cmd_set(struct campaign_local *l, int argc, const char **argv)
{
    int nx = 0;
    long long ttl = 0;
    for (int i = 3; i < argc; i++) {
        if (strcasecmp(argv[i], "NX") == 0)
            nx = 1;
        else if (strcasecmp(argv[i], "EX") == 0 && i + 1 < argc)
            ttl = strtoll(argv[++i], NULL, 10) * 1000;
        else if (strcasecmp(argv[i], "PX") == 0 && i + 1 < argc)
            ttl = strtoll(argv[++i], NULL, 10);
    }
    if (nx && lookup(l, argv[1], "k", 0))
        return rep_new(REDIS_REPLY_NIL);
    json_t *k = json_pack("{s:s, s:s}", "t", "k", "v", argv[2]);
    if (k && ttl > 0)
        json_object_set_new(k, "exp", json_integer(clock_ms() + ttl));
    json_object_set_new(l->db, argv[1], k);
    return rep_status("OK");
}

static redisReply *cmd_get(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    const char *v = json_string_value(lookup(l, argv[1], "k", 0));
    return v ? rep_str(v) : rep_new(REDIS_REPLY_NIL);
}

static redisReply *cmd_del(struct campaign_local *l, int argc, const char **argv)
{
    long long n = 0;
    for (int i = 1; i < argc; i++)
        n += json_object_del(l->db, argv[i]) == 0;
    return rep_int(n);
}

static redisReply *cmd_pttl(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    json_t *k = json_object_get(l->db, argv[1]);
    if (!k || !lookup(l, argv[1], json_string_value(json_object_get(k, "t")), 0))
        return rep_int(-2);
    json_t *exp = json_object_get(k, "exp");
    return rep_int(exp ? json_integer_value(exp) - clock_ms() : -1);
}

static redisReply *cmd_hscan(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    json_t *h = lookup(l, argv[1], "h", 0);
    size_t from = (size_t)strtoull(argv[2], NULL, 10), count = strtoul(argv[4], NULL, 10);
    size_t size = json_object_size(h), n = from < size ? size - from : 0;
    if (n > count)
        n = count;
    redisReply *a = rep_arr(2), *kv = rep_arr(2 * n);
    char next[32];
    snprintf(next, sizeof next, "%zu", from + n < size ? from + n : 0);
    rep_put(a, 0, rep_str(next));
    const char *f;
    json_t *v;
    size_t i = 0, at = 0;
    json_object_foreach(h, f, v) {
        if (i++ < from || at >= 2 * n)
            continue;
        rep_put(kv, at++, rep_str(f));
        rep_put(kv, at++, rep_str(json_string_value(v)));
    }
    rep_put(a, 1, kv);
    return a;
}

/* The JUSTID form: the entry's idle time reset. */
static redisReply *cmd_xclaim(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    json_t *p = json_object_get(json_object_get(lookup(l, argv[1], "x", 0), "pel"), argv[5]);
    redisReply *a = rep_arr(p ? 1 : 0);
    if (p) {
        json_array_set_new(p, 2, json_string(argv[3]));
        json_array_set_new(p, 3, json_integer(clock_ms()));
        rep_put(a, 0, rep_str(argv[5]));
    }
    return a;
}

static redisReply *cmd_xautoclaim(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    json_t *x = lookup(l, argv[1], "x", 0);
    long idle = strtol(argv[4], NULL, 10), now = clock_ms();
    redisReply *a = rep_arr(3), *got = NULL;
    const char *id;
    json_t *p;
    json_object_foreach(json_object_get(x, "pel"), id, p) {
        if (now - json_integer_value(json_array_get(p, 3)) < idle)
            continue;
        json_array_set_new(p, 2, json_string(argv[3]));
        json_array_set_new(p, 3, json_integer(now));
        got = rep_arr(1);
        rep_put(got, 0,
                rep_entry(id, json_string_value(json_array_get(p, 0)),
                          json_string_value(json_array_get(p, 1))));
        break;
    }
    rep_put(a, 0, rep_str("0-0"));
    rep_put(a, 1, got ? got : rep_arr(0));
    rep_put(a, 2, rep_arr(0));
    return a;
}

static redisReply *cmd_xreadgroup(struct campaign_local *l, int argc, const char **argv)
{
    (void)argc;
    json_t *x = lookup(l, argv[7], "x", 0), *queue = json_object_get(x, "queue");
    json_int_t head = json_integer_value(json_object_get(x, "head"));
    if (!x || (size_t)head >= json_array_size(queue))
        return rep_new(REDIS_REPLY_NIL);
    json_t *e = json_array_get(queue, (size_t)head);
    const char *id = json_string_value(json_array_get(e, 0));
    json_object_set_new(json_object_get(x, "pel"), id,
                        json_pack("[O, O, s, I]", json_array_get(e, 1), json_array_get(e, 2),
                                  argv[3], (json_int_t)clock_ms()));
    redisReply *a = rep_arr(1), *s = rep_arr(2), *list = rep_arr(1);
    rep_put(list, 0,
            rep_entry(id, json_string_value(json_array_get(e, 1)),
                      json_string_value(json_array_get(e, 2))));
    rep_put(s, 0, rep_str(argv[7]));
    rep_put(s, 1, list);
    rep_put(a, 0, s);
    head++;
    if (head > 1024 && (size_t)head * 2 > json_array_size(queue)) { /* keep it small */
        json_t *rest = json_array();
        for (size_t i = (size_t)head; i < json_array_size(queue); i++)
            json_array_append(rest, json_array_get(queue, i));
        json_object_set_new(x, "queue", rest);
        head = 0;
    }
    json_object_set_new(x, "head", json_integer(head));
    return a;
}

/* The commands campaigns send, as redis's table has them: a negative arity is a minimum. */
static const struct {
    const char *name;
    int arity;
    redisReply *(*run)(struct campaign_local *l, int argc, const char **argv);
} commands[] = {
    {"HGETALL", 2, cmd_hgetall},
    {"HGET", 3, cmd_hget},
    {"SADD", 3, cmd_set_member},
    {"SREM", 3, cmd_set_member},
    {"SISMEMBER", 3, cmd_set_member},
    {"SMEMBERS", 2, cmd_smembers},
    {"SET", -3, cmd_set},
    {"GET", 2, cmd_get},
    {"DEL", -1, cmd_del},
    {"PTTL", 2, cmd_pttl},
    {"HSCAN", 5, cmd_hscan},
    {"XCLAIM", -6, cmd_xclaim},
    {"XAUTOCLAIM", -6, cmd_xautoclaim},
    {"XREADGROUP", 9, cmd_xreadgroup},
};

static redisReply *run_locked(struct campaign_local *l, int argc, const char **argv)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        int arity = commands[i].arity;
        if (strcmp(argv[0], commands[i].name) == 0 && (arity < 0 ? argc >= -arity : argc == arity))
            return commands[i].run(l, argc, argv);
    }
    return NULL;
}

redisReply *campaign_local_run(struct campaign_local *l, int argc, const char **argv)
{
    pthread_mutex_lock(&l->lock);
    redisReply *r = run_locked(l, argc, argv);
    pthread_mutex_unlock(&l->lock);
    return r;
}

/* ---- the scripts (campaign_store.c's Lua, in C) ---- */

struct ctx {
    struct campaign_local *l;
    json_t *m, *r, *v, *q;
    const char *keys[5];
    const char *now;
};

static int ended(struct ctx *c)
{
    if (hnum(c->m, "pending") != 0 || hnum(c->m, "sending") != 0)
        return 0;
    const char *st = hget(c->m, "status");
    if (!st || (strcmp(st, "running") != 0 && strcmp(st, "cancelled") != 0) || hget(c->m, "ended"))
        return 0;
    hset(c->m, "ended", "1");
    if (strcmp(st, "running") == 0)
        hset(c->m, "status", "completed");
    hset(c->m, "endedAt", c->now);
    json_object_del(c->m, "cred");
    json_object_del(c->l->db, c->keys[3]);
    json_object_del(c->l->db, c->keys[4]);
    c->q = NULL;
    return 1;
}

static redisReply *pair(redisReply *a, redisReply *b)
{
    redisReply *r = rep_arr(2);
    rep_put(r, 0, a);
    rep_put(r, 1, b);
    return r;
}

/* The pacing bucket, as campaign_store.c's lua_bucket: books need tokens (into debt if need
 * be) and answers -ms to send in, or answers ms > 0 to ask again in, booking nothing. */
static redisReply *script_bucket(struct campaign_local *l, const char **argv)
{
    json_t *b = lookup(l, argv[0], "h", 1);
    double rate = strtod(argv[1], NULL), cap = strtod(argv[2], NULL), need = strtod(argv[3], NULL),
           ahead = strtod(argv[4], NULL), now = (double)clock_ms();
    const char *tks = hget(b, "tk"), *tss = hget(b, "ts");
    double tk = tks ? strtod(tks, NULL) : cap, ts = tss ? strtod(tss, NULL) : now;
    if (now > ts)
        tk = fmin(cap, tk + (now - ts) * rate / 1000);
    long long wait = tk < need ? (long long)ceil((need - tk) * 1000 / rate) : 0;
    if (wait > ahead)
        return rep_int(wait - (long long)ahead);
    char t[64];
    snprintf(t, sizeof t, "%.6f", tk - need);
    hset(b, "tk", t);
    snprintf(t, sizeof t, "%.0f", fmax(now, ts));
    hset(b, "ts", t);
    return rep_int(-wait);
}

static redisReply *script_create(struct ctx *c, const char **a, int n)
{
    if (lookup(c->l, c->keys[0], "h", 0))
        return rep_int(0);
    c->m = lookup(c->l, c->keys[0], "h", 1);
    lookup(c->l, c->keys[3], "x", 1);
    for (int i = 0; c->m && i + 1 < n; i += 2)
        hset(c->m, a[i], a[i + 1]);
    return rep_int(1);
}

static redisReply *script_add(struct ctx *c, const char *st, const char **a, int n)
{
    if (!st ||
        (strcmp(st, "draft") != 0 && strcmp(st, "running") != 0 && strcmp(st, "paused") != 0))
        return pair(rep_int(-1), rep_str(st ? st : ""));
    long long added = 0;
    for (int i = 0; i + 1 < n; i += 2) {
        if (json_object_get(c->r, a[i]))
            continue;
        hset(c->r, a[i], "p");
        added++;
        if (*a[i + 1])
            hset(c->v, a[i], a[i + 1]);
        if (c->q)
            xadd(c->q, a[i], "0");
    }
    hincr(c->m, "pending", added);
    return pair(rep_int(added), rep_int(hincr(c->m, "total", added)));
}

/* The status an action moves st to, or NULL when it does not apply. */
static const char *control_to(const char *action, const char *st)
{
    if (strcmp(action, "start") == 0 && strcmp(st, "draft") == 0)
        return "running";
    if (strcmp(action, "pause") == 0 && strcmp(st, "running") == 0)
        return "paused";
    if (strcmp(action, "resume") == 0 && strcmp(st, "paused") == 0)
        return "running";
    if (strcmp(action, "cancel") == 0 &&
        (strcmp(st, "draft") == 0 || strcmp(st, "running") == 0 || strcmp(st, "paused") == 0))
        return "cancelled";
    return NULL;
}

static redisReply *script_control(struct ctx *c, const char *st, const char **a)
{
    redisReply *r = rep_arr(3);
    const char *to = st ? control_to(a[0], st) : NULL;
    if (!to) {
        rep_put(r, 0, rep_str(st ? st : ""));
        rep_put(r, 1, rep_int(0));
        rep_put(r, 2, rep_int(0));
        return r;
    }
    hset(c->m, "status", to);
    if (*a[1])
        hset(c->m, "lastError", a[1]);
    if (strcmp(a[0], "start") == 0)
        hset(c->m, "startedAt", c->now);
    if (strcmp(a[0], "resume") == 0)
        json_object_del(c->m, "lastError");
    if (strcmp(a[0], "cancel") == 0) {
        hincr(c->m, "cancelled", hnum(c->m, "pending"));
        hset(c->m, "pending", "0");
    }
    rep_put(r, 0, rep_str(to));
    rep_put(r, 1, rep_int(1));
    rep_put(r, 2, rep_int(ended(c)));
    return r;
}

static redisReply *script_claim(struct ctx *c, const char *st, const char **a)
{
    const char *s = hget(c->r, a[0]);
    if (!s) {
        drop(c->q, a[1]);
        return pair(rep_str("gone"), rep_int(0));
    }
    if (s[0] == 's') {
        hset(c->r, a[0], "m");
        hincr(c->m, "sending", -1);
        hincr(c->m, "maybeSent", 1);
        drop(c->q, a[1]);
        return pair(rep_str("maybe"), rep_int(ended(c)));
    }
    if (s[0] != 'p') {
        drop(c->q, a[1]);
        return pair(rep_str("done"), rep_int(0));
    }
    if (st && (strcmp(st, "paused") == 0 || strcmp(st, "draft") == 0 ||
               (strcmp(st, "running") == 0 && strcmp(a[2], "hold") == 0))) {
        if (c->q)
            xadd(c->q, a[0], "0");
        drop(c->q, a[1]);
        return pair(rep_str("held"), rep_int(0));
    }
    if (!st || strcmp(st, "running") != 0) {
        drop(c->q, a[1]);
        return pair(rep_str("stopped"), rep_int(0));
    }
    if (strcmp(a[2], "skip") == 0) {
        hset(c->r, a[0], "k");
        hincr(c->m, "pending", -1);
        hincr(c->m, "skipped", 1);
        drop(c->q, a[1]);
        return pair(rep_str("skipped"), rep_int(ended(c)));
    }
    hset(c->r, a[0], "s");
    hincr(c->m, "pending", -1);
    hincr(c->m, "sending", 1);
    return pair(rep_str("go"), rep_int(0));
}

/* settle (name "settle") and requeue (any other): a sending recipient's end, or its return to
 * the queue. */
static redisReply *script_settle(struct ctx *c, const char *name, const char *st, const char **a)
{
    if (name[0] == 'r' && (!st || strcmp(st, "completed") == 0 || hget(c->m, "ended"))) {
        drop(c->q, a[1]);
        return rep_int(-1);
    }
    const char *s = hget(c->r, a[0]);
    char was = s ? s[0] : 0;
    if (was == 's')
        hincr(c->m, "sending", -1);
    else if (was == 'm')
        hincr(c->m, "maybeSent", -1);
    drop(c->q, a[1]);
    if (was != 's' && was != 'm')
        return rep_int(-1);
    if (name[0] == 's') {
        hset(c->r, a[0], a[2]);
        hincr(c->m, a[3], 1);
        return rep_int(ended(c));
    }
    if (st && strcmp(st, "cancelled") == 0) {
        hset(c->r, a[0], "c");
        hincr(c->m, "cancelled", 1);
        return rep_int(ended(c));
    }
    hset(c->r, a[0], "p");
    hincr(c->m, "pending", 1);
    if (c->q)
        xadd(c->q, a[0], a[2]);
    return rep_int(0);
}

static redisReply *script_locked(struct campaign_local *l, const char *name, int nkeys, int argc,
                                 const char **argv)
{
    if (strcmp(name, "bucket") == 0 && nkeys == 1 && argc == 5)
        return script_bucket(l, argv);
    if (nkeys != 5 || argc < 7)
        return NULL;
    struct ctx c = {.l = l, .now = argv[6]};
    for (int i = 0; i < 5; i++)
        c.keys[i] = argv[i];
    const char **a = argv + 7; /* ARGV[3] onwards */
    int n = argc - 7;
    if (strcmp(name, "create") == 0)
        return script_create(&c, a, n);
    c.m = lookup(l, argv[0], "h", 0);
    c.r = lookup(l, argv[1], "h", 1);
    c.v = lookup(l, argv[2], "h", 1);
    c.q = lookup(l, argv[3], "x", 0);
    const char *st = hget(c.m, "status");
    if (strcmp(name, "add") == 0)
        return script_add(&c, st, a, n);
    if (strcmp(name, "control") == 0 && n == 2)
        return script_control(&c, st, a);
    if (strcmp(name, "claim") == 0 && n == 3)
        return script_claim(&c, st, a);
    if ((strcmp(name, "settle") == 0 && n == 4) || (strcmp(name, "requeue") == 0 && n == 3))
        return script_settle(&c, name, st, a);
    return NULL;
}

redisReply *campaign_local_script(struct campaign_local *l, const char *name, int nkeys, int argc,
                                  const char **argv)
{
    pthread_mutex_lock(&l->lock);
    redisReply *r = script_locked(l, name, nkeys, argc, argv);
    pthread_mutex_unlock(&l->lock);
    return r;
}

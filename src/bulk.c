#include "bulk.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "dryrun.h"
#include "envelope.h"
#include "jsonparse.h"
#include "recipients.h"
#include "send.h"
#include "status.h"
#include "twilio.h"

/* Buffer caps: a recipient's result message, and its key's scope (block name, recipient). */
#define BULK_MSG_CAP 2048
#define BULK_SCOPE_CAP 4096

/* A 429 without Retry-After pauses the batch this long, doubling while 429s follow, up to the
 * 10 s twilio.c caps Retry-After at. */
#define PAUSE_BASE_MS 500
#define PAUSE_MAX_MS 10000

enum state { QUEUED, SENT, FAILED, UNKNOWN, NOT_SENT };

/* One distinct recipient while the batch runs. */
struct target {
    json_t *result; /* {"sid", "status", ...} once settled */
    enum state state;
    int limited;  /* Twilio's 429s for it so far */
    int conflict; /* its Idempotency-Key claim is another call's */
};

/* What one send came to. */
struct sent {
    json_t *result;
    enum state state; /* QUEUED: Twilio answered 429 */
    int attempts;
    long status;
    long retry_after_ms;
    long ms;
    int refused;  /* Twilio refused the credentials: no other send can succeed */
    int conflict; /* the recipient's claim is another call's (IDEMPOTENCY_KEY_REUSED) */
    int keep;     /* a repeat under the key must get this result, not send again */
};

struct batch {
    const struct send_service *svc;
    CURL *curl; /* the calling worker's handle, or NULL */
    const struct block_def *bulk, *called;
    const struct recipients *plan;
    const char *key; /* the Idempotency-Key, or NULL */
    struct target *targets;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a send ended, or the batch stopped */
    size_t next;         /* the next item never tried */
    size_t *again;       /* items to try again after a 429: a ring of n_items */
    size_t again_head, again_tail;
    int in_flight, limit, streak, pauses;
    long resume_at; /* a 429 paused the batch until then */
    long deadline;
    long slowest; /* the longest send so far, ms */
    long refused; /* the HTTP status that stopped the batch, or 0 */
    int attempts;
    int retries; /* requests that repeated one already sent: 429s and nothing-sent failures */
    long last_status;
};

static json_t *failure(const char *status, const char *code, const char *msg)
{
    return json_pack("{s:n, s:s, s:s, s:s}", "sid", "status", status, "status_code", code,
                     "status_msg", msg);
}

/* A Twilio error answer as a result: its API_ERROR fields, with Twilio's HTTP status as
 * http_status (status is the message's). */
static json_t *api_failure(const char *status, const struct block_def *called,
                           const struct twilio_response *rs, const char *note)
{
    json_t *err = envelope_api_error_to(rs->status, called->action, buf_str(&rs->body),
                                        rs->body.len, rs->content_type, rs->request_id, note);
    json_t *out = err ? json_pack("{s:n, s:s}", "sid", "status", status) : NULL;
    const char *key;
    json_t *v;
    json_object_foreach(err, key, v) {
        if (out && json_object_set(out, strcmp(key, "status") ? key : "http_status", v) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(err);
    return out;
}

/* Words one send's end as a recipient's result, by send.h's classification. */
static void classify(const struct block_def *called, const struct prepared *p,
                     const struct twilio_response *rs, int answered, int limited, struct sent *s)
{
    struct buf msg;
    const char *maybe = send_maybe_words(called, p->method);
    enum send_outcome o = send_classify(p, rs, answered);
    buf_init(&msg, BULK_MSG_CAP);
    s->keep = send_keeps(o, rs->status);
    call_note(&msg, o, rs, answered, limited, maybe);
    if (!answered) {
        s->state = o == SEND_MAYBE ? UNKNOWN : NOT_SENT;
        s->result =
            failure(o == SEND_MAYBE ? "unknown" : "not_sent", STATUS_INTERNAL, buf_str(&msg));
    } else if (o == SEND_DONE) {
        json_t *res = jsonparse_answer(rs->body.data, rs->body.len, NULL);
        json_t *sid = json_object_get(res, "sid"), *status = json_object_get(res, "status");
        if (json_is_string(sid)) {
            s->state = SENT;
            s->result = json_pack("{s:O, s:O?}", "sid", sid, "status",
                                  json_is_string(status) ? status : NULL);
        } else {
            buf_appendf(&msg, "Twilio answered HTTP %ld without a readable SID; %s", rs->status,
                        maybe);
            if (rs->request_id[0])
                buf_appendf(&msg, " (Twilio request id %s)", rs->request_id);
            s->state = UNKNOWN;
            s->result = failure("unknown", STATUS_INTERNAL, buf_str(&msg));
        }
        json_decref(res);
    } else if (o == SEND_LIMITED) {
        s->state = QUEUED;
        s->result = api_failure("not_sent", called, rs, buf_str(&msg));
    } else if (o == SEND_MAYBE) {
        s->state = UNKNOWN;
        s->result = api_failure("unknown", called, rs, buf_str(&msg));
    } else {
        s->state = FAILED;
        s->refused = rs->status == 401 || rs->status == 403;
        s->result = api_failure("failed", called, rs, NULL);
    }
    buf_free(&msg);
}

static int digest(EVP_MD_CTX *md, const void *p, size_t n)
{
    return EVP_DigestUpdate(md, &n, sizeof n) && EVP_DigestUpdate(md, p, n);
}

/* What the whole call's Idempotency-Key claims: every request (headers included) and which
 * entry names which. A recipient's own claim is send_fingerprint of its request. */
static int call_fingerprint(const char *name, const struct recipients *plan, unsigned char *fp)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const struct prepared *creds = &plan->items[0].prep;
    unsigned int n = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) && digest(md, name, strlen(name)) &&
             digest(md, buf_str(&creds->username), creds->username.len) &&
             digest(md, buf_str(&creds->password), creds->password.len);
    for (size_t i = 0; ok && i < plan->n_items; i++) {
        const struct prepared *p = &plan->items[i].prep;
        ok = digest(md, buf_str(&p->path), p->path.len) &&
             digest(md, buf_str(&p->form), p->form.len) &&
             digest(md, buf_str(&p->headers), p->headers.len);
    }
    ok = ok && digest(md, plan->item_of, plan->n_entries * sizeof *plan->item_of);
    ok = ok && EVP_DigestFinal_ex(md, fp, &n) && n == IDEM_FP_LEN;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static json_t *out_of_memory(void)
{
    return failure("not_sent", STATUS_INTERNAL, "out of memory; nothing was sent");
}

/* One recipient's send, as call_keyed performs it. */
struct one {
    struct batch *bt;
    size_t i;
    int limited; /* the number this attempt will be among its 429s */
    long budget_ms;
    CURL **h;
    struct sent *s;
};

/* Sends to the recipient, at most budget_ms, and words its end. */
static void attempt(struct one *o)
{
    const struct recipient *it = &o->bt->plan->items[o->i];
    struct sent *s = o->s;
    struct twilio_response rs;
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    const struct send_options opt = {.timeout_ms = o->budget_ms,
                                     .pace_429 = 1,
                                     .maybe = send_maybe_words(o->bt->called, it->prep.method)};
    const long t0 = clock_ms();
    int answered = send_perform_ex(o->bt->svc, &it->prep, o->h, &opt, &rs, NULL) == 0;
    s->ms = clock_ms() - t0;
    s->attempts = rs.attempts;
    s->status = rs.status;
    s->retry_after_ms = rs.retry_after_ms;
    classify(o->bt->called, &it->prep, &rs, answered, o->limited, s);
    twilio_response_free(&rs);
}

/* call_keyed's perform: the recipient's result is the answer a repeat gets, when kept. */
static int perform_one(struct call *c, void *arg)
{
    struct one *o = arg;
    attempt(o);
    char *text = o->s->keep && o->s->result
                     ? json_dumps(o->s->result, JSON_COMPACT | JSON_PRESERVE_ORDER)
                     : NULL;
    call_answer_take(c, "recipient", text, text ? strlen(text) : 0);
    return o->s->keep;
}

/* A recipient's answer that call_keyed gave instead of sending now: the result an earlier call
 * kept (claim IDEM_REPLAY), or why the claim was refused. */
static void from_answer(const struct call_answer *out, enum idem_claim claim, const char *maybe,
                        struct sent *s)
{
    json_t *r = out->body ? jsonparse_answer(out->body, out->len, NULL) : NULL;
    s->conflict = claim == IDEM_CONFLICT; /* its answer is another call's */
    if (!json_is_object(r)) {
        char msg[320];
        json_decref(r);
        snprintf(msg, sizeof msg, "This recipient's earlier answer could not be read; %s", maybe);
        s->state = claim == IDEM_REPLAY ? UNKNOWN : NOT_SENT;
        s->result =
            claim == IDEM_REPLAY ? failure("unknown", STATUS_INTERNAL, msg) : out_of_memory();
        return;
    }
    const char *status = json_string_value(json_object_get(r, "status"));
    s->result = r;
    if (json_is_string(json_object_get(r, "sid")))
        s->state = SENT;
    else if (status && strcmp(status, "failed") == 0)
        s->state = FAILED;
    else if (status && strcmp(status, "not_sent") == 0) /* refused: a kept answer never is */
        s->state = NOT_SENT;
    else
        s->state = UNKNOWN;
}

/* Sends to one recipient, at most budget_ms, once per Idempotency-Key (call_keyed, the
 * recipient's key: the call's, the bulk block's name and the recipient); limited is the number
 * this attempt will be among its 429s. Fills s; never holds the batch's lock. */
static void send_one(struct batch *bt, CURL *h, size_t i, int limited, long budget_ms,
                     struct sent *s)
{
    const struct recipient *it = &bt->plan->items[i];
    const long upstream_ms = bt->svc->cfg->upstream_timeout_ms;
    const char *maybe = send_maybe_words(bt->called, it->prep.method);
    struct one o = {.bt = bt, .i = i, .limited = limited, .budget_ms = budget_ms, .h = &h, .s = s};
    memset(s, 0, sizeof *s);
    s->retry_after_ms = -1;
    if (!bt->key) {
        attempt(&o);
        return;
    }
    struct call_answer out = {.status = 200, .what = "internal_error"};
    struct call rc = {.svc = bt->svc,
                      .b = bt->called,
                      .prep = &it->prep,
                      .slot = &h,
                      .key = bt->key,
                      .out = &out};
    struct buf scope;
    buf_init(&scope, BULK_SCOPE_CAP);
    enum idem_claim claim = IDEM_NOMEM;
    if (buf_appendf(&scope, "%s\n%s", bt->bulk->name, it->to) == 0) {
        const struct call_keyed k = {.creds = &it->prep,
                                     .scope = buf_str(&scope),
                                     .name = bt->called->name,
                                     .wait_ms = upstream_ms + 1000 < budget_ms ? upstream_ms + 1000
                                                                               : budget_ms,
                                     .maybe = maybe,
                                     .recipient = 1,
                                     .perform = perform_one,
                                     .arg = &o};
        claim = call_keyed(&rc, &k);
    }
    if (claim != IDEM_FRESH)
        from_answer(&out, claim, maybe, s);
    free(out.body);
    buf_free(&scope);
}

static int queued(const struct batch *bt)
{
    return bt->next < bt->plan->n_items || bt->again_head != bt->again_tail;
}

static size_t dequeue(struct batch *bt)
{
    if (bt->again_head != bt->again_tail)
        return bt->again[bt->again_head++ % bt->plan->n_items];
    return bt->next++;
}

/* Counts one send's end into the batch's pace: a 429 pauses every send (Retry-After, or a
 * doubling pause) and halves the sends in flight, once per pause; a run of successes as long as
 * the limit raises it by one, back up to BULK_CONCURRENCY. The 429'd recipient goes back in
 * the queue until it has had as many 429s as a single send may (RETRY_MAX + 1). */
static void record_sent(struct batch *bt, size_t i, struct sent *s, long now)
{
    const struct config *cfg = bt->svc->cfg;
    struct target *tg = &bt->targets[i];
    bt->attempts += s->attempts;
    if (s->attempts > 1)
        bt->retries += s->attempts - 1;
    if (s->status)
        bt->last_status = s->status;
    if (s->attempts && s->ms > bt->slowest)
        bt->slowest = s->ms;
    if (s->state == QUEUED) {
        long pause = s->retry_after_ms;
        if (pause < 0)
            pause = bt->pauses < 5 && PAUSE_BASE_MS << bt->pauses < PAUSE_MAX_MS
                        ? PAUSE_BASE_MS << bt->pauses
                        : PAUSE_MAX_MS;
        bt->pauses++;
        if (now >= bt->resume_at)
            bt->limit = bt->limit > 1 ? bt->limit / 2 : 1;
        if (now + pause > bt->resume_at)
            bt->resume_at = now + pause;
        bt->streak = 0;
        if (++tg->limited <= cfg->retry_max) {
            bt->retries++; /* its next send repeats this one */
            json_decref(s->result);
            bt->again[bt->again_tail++ % bt->plan->n_items] = i;
            return;
        }
        s->state = NOT_SENT;
    } else if (s->state == SENT) {
        bt->pauses = 0;
        if (bt->limit < cfg->bulk_concurrency && ++bt->streak >= bt->limit) {
            bt->limit++;
            bt->streak = 0;
        }
    }
    if (s->refused && !bt->refused)
        bt->refused = s->status;
    tg->result = s->result;
    tg->state = s->state;
    tg->conflict = s->conflict;
}

/* Why no more sends may start, or NULL: the service is stopping, Twilio refused the
 * credentials, or the deadline leaves less than twice the slowest send so far (also once a
 * pause ends too late). Returns the status_code and words msg for the recipients left. */
static const char *stopped(const struct batch *bt, long now, char *msg, size_t size)
{
    const long start_by = bt->deadline - 2 * bt->slowest;
    if (bt->svc->draining && atomic_load(bt->svc->draining)) {
        snprintf(msg, size,
                 "Not sent: the service is shutting down. Repeat the call (with the "
                 "same Idempotency-Key) to send to the rest.");
        return STATUS_SHUTTING_DOWN;
    }
    if (bt->refused) {
        snprintf(msg, size,
                 "Not sent: Twilio refused the credentials (HTTP %ld) for an earlier "
                 "recipient, so no more were tried.",
                 bt->refused);
        return STATUS_API_ERROR;
    }
    if (now >= start_by || bt->resume_at >= start_by) {
        snprintf(msg, size,
                 "Not sent: the call reached its deadline (BULK_DEADLINE_MS, %ld ms) "
                 "before this recipient's turn. Repeat the call (with the same "
                 "Idempotency-Key) to send to the rest.",
                 bt->svc->cfg->bulk_deadline_ms);
        return STATUS_DEADLINE_EXCEEDED;
    }
    return NULL;
}

/* Waits for a send to end, or until (a time of clock_ms) when not 0; in slices, so a stopping
 * service is noticed. */
static void wait_until(struct batch *bt, long until)
{
    long now = clock_ms(), slice = until && until - now < 200 ? until - now : 200;
    const struct timespec ts = clock_after(slice);
    pthread_cond_timedwait(&bt->wake, &bt->lock, &ts);
}

/* One sender: takes the next recipient whenever the pace allows, until none is left. */
static void send_loop(struct batch *bt, CURL *h)
{
    char msg[320];
    if (!h)
        return; /* the other senders do the work */
    pthread_mutex_lock(&bt->lock);
    for (;;) {
        if (!queued(bt)) {
            if (bt->in_flight == 0)
                break;
            wait_until(bt, 0); /* a 429 may put one back */
            continue;
        }
        long now = clock_ms();
        const char *code = stopped(bt, now, msg, sizeof msg);
        if (code) {
            while (queued(bt)) {
                struct target *tg = &bt->targets[dequeue(bt)];
                tg->state = NOT_SENT;
                tg->result = failure("not_sent", code, msg);
            }
            continue;
        }
        if (now < bt->resume_at || bt->in_flight >= bt->limit) {
            wait_until(bt, now < bt->resume_at ? bt->resume_at : 0);
            continue;
        }
        size_t i = dequeue(bt);
        int limited = bt->targets[i].limited + 1;
        bt->in_flight++;
        pthread_mutex_unlock(&bt->lock);
        struct sent s;
        send_one(bt, h, i, limited, bt->deadline - now, &s);
        pthread_mutex_lock(&bt->lock);
        bt->in_flight--;
        record_sent(bt, i, &s, clock_ms());
        pthread_cond_broadcast(&bt->wake);
    }
    pthread_cond_broadcast(&bt->wake);
    pthread_mutex_unlock(&bt->lock);
}

static void *sender_thread(void *arg)
{
    CURL *h = curl_easy_init();
    send_loop(arg, h);
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

/* Runs the batch on the calling thread and BULK_CONCURRENCY - 1 more (fewer when there are
 * fewer recipients, or threads cannot be had). */
static void run_senders(struct batch *bt)
{
    size_t want = (size_t)bt->svc->cfg->bulk_concurrency;
    if (want > bt->plan->n_items)
        want = bt->plan->n_items;
    pthread_t *threads = calloc(want, sizeof *threads);
    size_t started = 0;
    for (size_t k = 1; threads && k < want; k++)
        if (pthread_create(&threads[started], NULL, sender_thread, bt) == 0)
            started++;
    CURL *own = bt->curl ? NULL : curl_easy_init();
    send_loop(bt, bt->curl ? bt->curl : own);
    for (size_t k = 0; k < started; k++)
        pthread_join(threads[k], NULL);
    if (own)
        curl_easy_cleanup(own);
    free(threads);
    for (size_t i = 0; i < bt->plan->n_items; i++) {
        if (bt->targets[i].state == QUEUED) { /* no sender could run */
            bt->targets[i].state = NOT_SENT;
            bt->targets[i].result = out_of_memory();
        }
    }
}

/* The usual error envelope of the first failure, when no recipient was sent to: its
 * status_code, status_msg and details (Twilio's HTTP status as status again), then counts. */
static char *first_failure(json_t *entry, json_t *counts, size_t *len)
{
    json_t *extra = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(entry, key, v) {
        static const char *const skip[] = {"to",          "sid",         "status",
                                           "duplicateOf", "status_code", "status_msg"};
        int kept = 1;
        for (size_t k = 0; k < sizeof skip / sizeof skip[0]; k++)
            kept &= strcmp(key, skip[k]) != 0;
        if (kept && extra &&
            json_object_set(extra, strcmp(key, "http_status") ? key : "status", v) < 0) {
            json_decref(extra);
            extra = NULL;
        }
    }
    char *out =
        extra && json_object_update(extra, counts) == 0
            ? envelope_error(json_string_value(json_object_get(entry, "status_code")),
                             json_string_value(json_object_get(entry, "status_msg")), extra, len)
            : NULL;
    json_decref(extra);
    return out;
}

/* The answer: success when every entry was sent to, PARTIAL_FAILURE when some were, else the
 * first failure's own envelope; all with total, sent, failed, merged and the results in list
 * order. *complete is set when no recipient is left that a repeat should try, and the answer
 * is this call's own. */
static char *answer(const struct batch *bt, size_t *len, const char **what, int *complete)
{
    const struct recipients *p = bt->plan;
    json_t *results = json_array(), *counts = NULL, *first_failed = NULL;
    size_t sent = 0, merged = 0; /* sent: messages Twilio created, one per distinct recipient */
    char *out = NULL;
    *complete = 1;
    for (size_t e = 0; results && e < p->n_entries; e++) {
        const struct recipient *it = &p->items[p->item_of[e]];
        const struct target *tg = &bt->targets[p->item_of[e]];
        json_t *r = json_pack("{s:s}", "to", it->to);
        if (!r || !tg->result || json_object_update(r, tg->result) < 0 ||
            (it->entry != e &&
             json_object_set_new(r, "duplicateOf", json_integer((json_int_t)it->entry)) < 0) ||
            json_array_append_new(results, r) < 0) {
            json_decref(r);
            goto done;
        }
        sent += it->entry == e && tg->state == SENT;
        merged += it->entry != e;
        /* a conflict's answer is another call's: it must not become this key's */
        *complete &= tg->state != NOT_SENT && !tg->conflict;
        if (tg->state != SENT && !first_failed)
            first_failed = r;
    }
    counts = json_pack("{s:I, s:I, s:I, s:I, s:I, s:O}", "total", (json_int_t)p->n_entries,
                       "messages", (json_int_t)p->n_items, "sent", (json_int_t)sent, "failed",
                       (json_int_t)(p->n_items - sent), "merged", (json_int_t)merged, "results",
                       results);
    if (!counts)
        goto done;
    if (sent == p->n_items) {
        *what = "success";
        out = envelope_success(counts, len);
    } else if (sent) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "Sent to %zu of %zu recipients; see results for the others (not_sent: nothing "
                 "was sent; failed: Twilio refused it; unknown: it may have been sent).",
                 sent, p->n_items);
        *what = "partial_failure";
        out = envelope_error(STATUS_PARTIAL_FAILURE, msg, counts, len);
    } else {
        *what = "not_sent";
        out = first_failure(first_failed, counts, len);
    }
done:
    json_decref(counts);
    json_decref(results);
    return out;
}

/* The requests a dry run shows, each recipient's with its SMS encoding and segments. */
static char *dry_answer(const struct send_service *svc, const struct block_def *called,
                        const struct recipients *p, size_t *len)
{
    json_t *results = json_array(), *to = NULL;
    json_int_t segments = 0;
    size_t merged = 0;
    char *out = NULL;
    for (size_t e = 0; results && e < p->n_entries; e++) {
        const struct recipient *it = &p->items[p->item_of[e]];
        json_t *r = json_pack("{s:s}", "to", it->to), *req = NULL;
        struct buf base, url;
        buf_init(&base, SEND_BASE_CAP);
        buf_init(&url, SEND_URL_CAP);
        int ok = r != NULL;
        if (ok && it->entry != e) {
            merged++;
            ok = json_object_set_new(r, "duplicateOf", json_integer((json_int_t)it->entry)) == 0;
        } else if (ok) {
            ok = send_url(svc->cfg, &it->prep, 0, &base, &url) == 0 &&
                 (req = dryrun_request(called, &it->prep, buf_str(&url))) &&
                 json_object_del(req, "dryRun") == 0 && json_object_update(r, req) == 0;
            segments += json_integer_value(json_object_get(req, "segments"));
        }
        json_decref(req);
        buf_free(&base);
        buf_free(&url);
        if (!ok || json_array_append_new(results, r) < 0) {
            if (!ok)
                json_decref(r);
            goto done;
        }
    }
    to = json_pack("{s:b, s:I, s:I, s:I, s:I, s:O}", "dryRun", 1, "total", (json_int_t)p->n_entries,
                   "messages", (json_int_t)p->n_items, "merged", (json_int_t)merged, "segments",
                   segments, "results", results);
    out = envelope_success(to, len);
done:
    json_decref(to);
    json_decref(results);
    return out;
}

/* Sends to every recipient of the plan under the call's Idempotency-Key (or none); returns
 * whether no recipient is left to try (complete). */
static int run_batch(struct call *c, const struct recipients *plan)
{
    const struct send_service *svc = c->svc;
    struct batch bt = {.svc = svc,
                       .curl = c->slot ? *c->slot : NULL,
                       .bulk = c->b,
                       .called = c->b->each->block,
                       .plan = plan,
                       .key = c->key,
                       .limit = (int)svc->cfg->bulk_concurrency};
    const long t0 = clock_ms();
    int complete = 0;
    bt.deadline = t0 + svc->cfg->bulk_deadline_ms;
    bt.targets = calloc(plan->n_items, sizeof *bt.targets);
    bt.again = calloc(plan->n_items, sizeof *bt.again);
    if (!bt.targets || !bt.again)
        goto done;
    clock_cond_init(&bt.wake);
    pthread_mutex_init(&bt.lock, NULL);
    run_senders(&bt);
    pthread_mutex_destroy(&bt.lock);
    pthread_cond_destroy(&bt.wake);
    const char *what = "internal_error";
    size_t len = 0;
    char *body = answer(&bt, &len, &what, &complete);
    call_answer_take(c, what, body, len);
    struct metrics_figures *f = &c->out->figures;
    f->attempts = bt.attempts;
    f->retries = bt.retries;
    f->upstream_status = bt.last_status;
    f->upstream_ms = clock_ms() - t0;
done:
    for (size_t i = 0; bt.targets && i < plan->n_items; i++)
        json_decref(bt.targets[i].result);
    free(bt.targets);
    free(bt.again);
    return complete;
}

static int perform_batch(struct call *c, void *plan)
{
    return run_batch(c, plan);
}

void bulk_run(struct call *c)
{
    const struct config *cfg = c->svc->cfg;
    const struct block_def *b = c->b;
    struct recipients plan;
    json_t *reasons = NULL;
    enum args_status rc =
        recipients_check(b, c->args, (size_t)cfg->bulk_max_recipients,
                         (size_t)cfg->max_body_bytes * 3 + 65536, &plan, &reasons);
    unsigned char fp[IDEM_FP_LEN];
    if (rc == ARGS_INVALID || rc == ARGS_BAD_JSON) {
        call_fields(c, reasons, rc == ARGS_BAD_JSON);
    } else if (rc != ARGS_OK) {
        call_error(c, "internal_error", STATUS_INTERNAL,
                   "out of memory, or a Twilio request would be too large", NULL);
    } else if (plan.dry_run) { /* nothing sent, no Idempotency-Key spent */
        size_t len = 0;
        char *body = dry_answer(c->svc, b->each->block, &plan, &len);
        call_answer_take(c, "dry_run", body, len);
    } else if (!c->key) {
        run_batch(c, &plan);
    } else if (idem_key_valid(c->key) && call_fingerprint(b->name, &plan, fp) < 0) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
    } else {
        /* The call once per Idempotency-Key, scoped to the credentials and the block: its
         * whole answer is kept once no recipient is left to try, so a repeat then gets it byte
         * for byte; until then a repeat runs the batch again, and each recipient's own claim
         * answers for those already sent to. */
        const struct call_keyed k = {.creds = &plan.items[0].prep,
                                     .scope = b->name,
                                     .fp = fp,
                                     .wait_ms = cfg->bulk_deadline_ms + 1000,
                                     .lapsed_runs = 1,
                                     .perform = perform_batch,
                                     .arg = &plan};
        call_keyed(c, &k);
    }
    json_decref(reasons);
    if (rc == ARGS_OK)
        recipients_free(&plan);
}

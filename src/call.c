#include "call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "envelope.h"
#include "status.h"

/* A scoped key: account, digest, key, scope (send_key_init's cap). */
#define CALL_KEY_CAP 4096
/* The kept answer of a request whose answer could not be built. */
#define CALL_MSG_CAP 1024

static const char *const replayed_headers[] = {"Idempotent-Replayed", "true", NULL};
static const char *const retry_headers[] = {"Retry-After", "5", NULL};

void call_answer_take(struct call *c, const char *what, char *body, size_t len)
{
    free(c->out->body);
    c->out->what = what;
    c->out->body = body;
    c->out->len = body ? len : 0;
}

void call_success(struct call *c, json_t *to)
{
    size_t len = 0;
    char *body = envelope_success(to, &len);
    call_answer_take(c, "success", body, len);
}

void call_success_raw(struct call *c, const char *resource, size_t n)
{
    size_t len = 0;
    char *body = envelope_success_raw(resource, n, &len);
    call_answer_take(c, "success", body, len);
}

void call_error(struct call *c, const char *what, const char *code, const char *msg, json_t *extra)
{
    size_t len = 0;
    char *body = envelope_error(code, msg, extra, &len);
    call_answer_take(c, what, body, len);
}

void call_fields(struct call *c, json_t *reasons, int bad_json)
{
    size_t len = 0;
    char *body = envelope_fields(reasons, bad_json, &len);
    call_answer_take(c, "invalid_args", body, len);
}

void call_api_error(struct call *c, const char *action, const struct twilio_response *rs,
                    const char *note)
{
    size_t len = 0;
    char *body = envelope_api_error(rs->status, action, buf_str(&rs->body), rs->body.len,
                                    rs->content_type, rs->request_id, note, &len);
    call_answer_take(c, "api_error", body, len);
}

/* Every refused claim, in one table: its outcome (for the log and metrics), status_code and HTTP
 * status; a call's words; a bulk recipient's status and words, which name what the send may have
 * done (call_keyed's maybe) between before and after when after is set. */
static const struct refusal {
    enum idem_claim claim;
    const char *what, *code;
    int http_status;
    const char *msg, *recipient_status, *before, *after;
} refusals[] = {
    {IDEM_CONFLICT, "idempotency_conflict", STATUS_KEY_REUSED, 200,
     "This Idempotency-Key was already used with different credentials or args; nothing was "
     "sent.",
     "failed",
     "This Idempotency-Key was already used for this recipient with different credentials or "
     "args; nothing was sent.",
     NULL},
    {IDEM_PENDING, "idempotency_pending", STATUS_KEY_IN_FLIGHT, 200,
     "A request with this Idempotency-Key is still in flight; nothing was sent. Repeat it later "
     "to get its answer.",
     "not_sent",
     "A request with this Idempotency-Key is still sending to this recipient; nothing was sent. "
     "Repeat the call later to get its answer.",
     NULL},
    /* Without the shared store a repeat could not be recognised on another replica. */
    {IDEM_UNAVAILABLE, "idempotency_unavailable", STATUS_STORE_UNAVAILABLE, 503,
     "The idempotency store (Redis) cannot be reached, so a request with an Idempotency-Key "
     "cannot be checked; nothing was sent. Retry later.",
     "not_sent",
     "The idempotency store (Redis) cannot be reached; nothing was sent to this recipient.", NULL},
    {IDEM_LAPSED, "upstream_ambiguous", STATUS_INTERNAL, 200,
     "An earlier request with this Idempotency-Key stopped before its answer was kept (its "
     "replica stopped while sending); it may have reached Twilio, so nothing was sent now. Check "
     "Twilio's logs before sending it again.",
     "unknown",
     "An earlier call with this Idempotency-Key stopped while sending to this recipient (its "
     "replica stopped); ",
     ", so nothing was sent now."},
};

static const struct refusal *refusal_of(enum idem_claim claim)
{
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        if (refusals[i].claim == claim)
            return &refusals[i];
    return NULL;
}

void call_refused(struct call *c, enum idem_claim claim)
{
    const struct refusal *r = refusal_of(claim);
    if (!r) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return;
    }
    c->out->status = r->http_status;
    c->out->headers = r->http_status == 503 ? retry_headers : NULL;
    call_error(c, r->what, r->code, r->msg, NULL);
}

void call_replayed(struct call *c, char *body, size_t len)
{
    call_answer_take(c, "replayed", body, len);
    c->out->figures.replayed = 1;
    c->out->headers = replayed_headers;
}

void call_count(struct call *c, const struct twilio_response *rs, long t0_ms)
{
    struct metrics_figures *f = &c->out->figures;
    f->upstream_ms += clock_ms() - t0_ms;
    f->attempts += rs->attempts;
    f->retries += rs->attempts > 1 ? rs->attempts - 1 : 0;
    f->upstream_status = rs->status;
    snprintf(f->twilio_request_id, sizeof f->twilio_request_id, "%s", rs->request_id);
}

/* Earlier versions scoped a key to the account alone ("<account>\n<key>"), with the same
 * fingerprint. In a Redis shared with replicas of such a version (a rolling upgrade) that key
 * lives on for IDEMPOTENCY_TTL_S: a repeat must find it, or it would send again. With
 * IDEMPOTENCY_EARLIER_KEYS it is claimed beside the new key (two more round trips, so only while
 * an upgrade needs it) and, when fresh, held and settled with the same answer, so an
 * earlier replica's repeat waits for this call instead of sending too. A key that another
 * request used is left alone: the credentials now keep callers apart. What a claim found, as
 * for send_claim; legacy is initialised either way (free it with send_key_free). */
static enum idem_claim legacy_claim(const struct send_service *svc, const struct prepared *prep,
                                    const char *key, const unsigned char fp[IDEM_FP_LEN],
                                    long wait_ms, struct send_key *legacy, char **stored,
                                    size_t *len)
{
    memset(legacy, 0, sizeof *legacy);
    buf_init(&legacy->scoped, CALL_KEY_CAP);
    if (buf_appendz(&legacy->scoped, buf_str(&prep->username)) < 0 ||
        buf_appendf(&legacy->scoped, "\n%s", key) < 0)
        return IDEM_NOMEM;
    enum idem_claim c = send_claim(svc, legacy, fp, wait_ms, stored, len);
    return c == IDEM_CONFLICT ? IDEM_FRESH : c;
}

/* Answers a refused claim: the call's envelope, or the recipient's result. */
static void refuse(struct call *c, const struct call_keyed *k, enum idem_claim claim)
{
    const struct refusal *rf = refusal_of(claim);
    if (!k->recipient) {
        call_refused(c, claim);
        return;
    }
    struct buf msg;
    buf_init(&msg, CALL_MSG_CAP);
    json_t *r = NULL;
    char *text = NULL;
    if (rf && buf_appendz(&msg, rf->before) == 0 &&
        (!rf->after || buf_appendf(&msg, "%s%s", k->maybe, rf->after) == 0) &&
        (r = json_pack("{s:n, s:s, s:s, s:s}", "sid", "status", rf->recipient_status, "status_code",
                       rf->code, "status_msg", buf_str(&msg))))
        text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    call_answer_take(c, rf ? rf->what : "internal_error", text, text ? strlen(text) : 0);
    json_decref(r);
    buf_free(&msg);
}

/* Performs a freshly claimed call and settles its keys with the answer. */
static void perform_settle(struct call *c, const struct call_keyed *k, struct send_key *keys,
                           size_t n)
{
    int keep = k->perform(c, k->arg);
    struct call_answer *out = c->out;
    struct buf unknown;
    buf_init(&unknown, CALL_MSG_CAP);
    /* Even when the answer could not be built, the request may have reached Twilio: a repeat
     * must not send again. */
    if (keep && !out->body && k->recipient)
        buf_appendf(&unknown,
                    "{\"sid\":null,\"status\":\"unknown\",\"status_code\":\"%s\",\"status_msg\":"
                    "\"The request was sent to Twilio but its answer could not be kept; it may "
                    "have been acted on\"}",
                    STATUS_INTERNAL);
    else if (keep && !out->body && k->maybe)
        buf_appendf(&unknown,
                    "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                    "\"%s\",\"status_msg\":\"The request was sent to Twilio but its answer "
                    "could not be read; %s\"}}}",
                    STATUS_INTERNAL, k->maybe);
    keep = keep && (out->body || unknown.len);
    for (size_t i = 0; i < n; i++)
        send_settle(c->svc, &keys[i], keep, out->body ? out->body : buf_str(&unknown),
                    out->body ? out->len : unknown.len);
    buf_free(&unknown);
}

/* Answers that memory ran out: a call's envelope, a recipient's NULL. */
static void out_of_memory(struct call *c, const struct call_keyed *k)
{
    if (k->recipient)
        call_answer_take(c, "internal_error", NULL, 0);
    else
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
}

enum idem_claim call_keyed(struct call *c, const struct call_keyed *k)
{
    if (!idem_key_valid(c->key)) {
        json_t *reasons =
            json_pack("{s:s}", "idempotencyKey", "must be at most 255 printable ASCII characters");
        if (reasons)
            call_fields(c, reasons, 0);
        json_decref(reasons);
        return IDEM_NOMEM;
    }
    unsigned char own[IDEM_FP_LEN];
    const unsigned char *fp = k->fp ? k->fp : own;
    struct send_key keys[2] = {{.held = 0}, {.held = 0}};
    char *stored = NULL;
    size_t len = 0;
    enum idem_claim claim = IDEM_NOMEM;
    if (send_key_init(&keys[0], k->creds, c->key, k->scope) < 0 ||
        (!k->fp && send_fingerprint(k->name, k->creds, k->chosen, own) < 0)) {
        out_of_memory(c, k);
        goto done;
    }
    claim = send_claim(c->svc, &keys[0], fp, k->wait_ms, &stored, &len);
    if (claim == IDEM_FRESH && k->legacy && c->svc->cfg->redis_url[0] &&
        c->svc->cfg->idempotency_earlier_keys) {
        claim = legacy_claim(c->svc, k->creds, c->key, fp, k->wait_ms, &keys[1], &stored, &len);
        if (claim != IDEM_FRESH)
            send_settle(c->svc, &keys[0], 0, NULL, 0);
    }
    if (claim == IDEM_FRESH || (claim == IDEM_LAPSED && k->lapsed_runs))
        perform_settle(c, k, keys, 2);
    else if (claim == IDEM_REPLAY)
        call_replayed(c, stored, len);
    else if (claim == IDEM_NOMEM)
        out_of_memory(c, k);
    else
        refuse(c, k, claim);
done:
    send_key_free(&keys[1]);
    send_key_free(&keys[0]);
    return claim;
}

int call_note(struct buf *msg, enum send_outcome o, const struct twilio_response *rs, int answered,
              int attempts, const char *maybe)
{
    int rc = 0;
    if (!answered) {
        rc |= buf_appendz(msg, rs->error);
        if (o == SEND_NOT_SENT && rs->attempts > 1)
            rc |= buf_appendf(msg, " (%d attempts; nothing was sent)", rs->attempts);
        if (o == SEND_MAYBE && rs->request_id[0])
            rc |= buf_appendf(msg, " (Twilio request id %s)", rs->request_id);
    } else if (o == SEND_LIMITED) {
        rc = buf_appendf(msg, " (rate limited on %d attempts; nothing was sent)", attempts);
    } else if (o == SEND_MAYBE) {
        rc = buf_appendf(msg, " (Twilio failed after receiving the request; %s)", maybe);
    }
    return rc < 0 ? -1 : 0;
}

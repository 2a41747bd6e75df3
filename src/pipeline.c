#include "pipeline.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "buf.h"
#include "bulk.h"
#include "clock.h"
#include "dryrun.h"
#include "eventstreams.h"
#include "envelope.h"
#include "flow.h"
#include "jsonscan.h"
#include "subscribe.h"
#include "twilio.h"

static const char *const replayed[] = {"Idempotent-Replayed", "true", NULL};
static const char *const retry[] = {"Retry-After", "5", NULL};

static void answer_error(struct send_answer *out, const char *what, const char *code,
                         const char *msg)
{
    out->what = what;
    out->body = envelope_error(code, msg, NULL, &out->len);
}

/* What a delete answers, since Twilio answers it with no body: what was deleted, by its path
 * args, and the path. */
static char *deleted(const struct prepared *prep, size_t *len)
{
    json_t *to = json_pack("{s:b}", "deleted", 1);
    char *out = NULL;
    if (to && json_object_update(to, prep->ids) == 0 &&
        json_object_set_new(to, "path", json_stringn(prep->path.data ? prep->path.data : "",
                                                     prep->path.len)) == 0)
        out = envelope_success(to, len);
    json_decref(to);
    return out;
}

/* Gives each item of the block's content list the URL of its content: Twilio's uri of the item
 * without .json, on the base the request went to (media are fetched with the same
 * credentials). Returns -1 when memory ran out. */
static int add_content_urls(const struct block_def *b, const char *base, json_t *resource)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(resource, b->content_list), i, item) {
        const char *uri = json_string_value(json_object_get(item, "uri"));
        size_t n = uri ? strlen(uri) : 0;
        if (!json_is_object(item) || n < 6 || uri[0] != '/' || strcmp(uri + n - 5, ".json"))
            continue;
        if (json_object_set_new(item, b->content_key,
                                json_sprintf("%s%.*s", base, (int)(n - 5), uri)) < 0)
            return -1;
    }
    return 0;
}

/* Calls Twilio and builds the envelope in out. *store is set when the request may have reached
 * Twilio, so an idempotent repeat must replay this answer rather than send again. */
static void call_twilio(const struct send_service *pl, const struct block_def *b,
                        const struct prepared *prep, CURL **slot, int *store,
                        struct send_answer *out)
{
    struct buf base, msg;
    struct twilio_response rs;
    const int get = strcmp(prep->method, "GET") == 0, del = strcmp(prep->method, "DELETE") == 0;
    const char *maybe = get ? ""
                        : del ? "; it may have been deleted"
                              : "; the message or call may have been created";
    size_t *len = &out->len;
    buf_init(&base, 1024);
    buf_init(&msg, 2048);
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    *store = 0;
    const long t0 = clock_ms();
    int answered = send_perform(pl, prep, slot, &rs, &base) == 0;
    out->upstream_ms = clock_ms() - t0;
    out->attempts = rs.attempts;
    out->retries = rs.attempts > 1 ? rs.attempts - 1 : 0;
    out->upstream_status = rs.status;
    snprintf(out->twilio_request_id, sizeof out->twilio_request_id, "%s", rs.request_id);
    if (!answered) {
        *store = rs.outcome == TWILIO_MAYBE_SENT;
        buf_appendz(&msg, rs.error);
        if (!*store && rs.attempts > 1)
            buf_appendf(&msg, " (%d attempts; nothing was sent)", rs.attempts);
        if (*store && rs.request_id[0])
            buf_appendf(&msg, " (Twilio request id %s)", rs.request_id);
        answer_error(out, *store ? "upstream_ambiguous" : "upstream_unreachable",
                     "INTERNAL_PACKAGE_ERROR", buf_str(&msg));
        goto done;
    }
    *store = rs.status != 429;
    if (rs.status >= 200 && rs.status < 300) {
        /* Twilio's resource is passed on as sent, unless content URLs are added to it: then it
         * is parsed, and otherwise only checked (jsonscan: no tree built). */
        json_t *resource = b->content_list && rs.body.len
                               ? json_loadb(rs.body.data, rs.body.len, 0, NULL)
                               : NULL;
        const int object = b->content_list ? json_is_object(resource)
                                           : rs.body.len && jsonscan_object(rs.body.data,
                                                                            rs.body.len);
        if (del && (rs.status == 204 || rs.body.len == 0)) {
            out->what = "success";
            out->body = deleted(prep, len);
        } else if (rs.status == 204 || (rs.body.len == 0 && get)) {
            out->what = "success";
            out->body = envelope_success_raw("{}", 2, len);
        } else if (object && b->content_list) {
            out->what = "success";
            out->body = add_content_urls(b, buf_str(&base), resource) == 0
                            ? envelope_success(resource, len)
                            : NULL;
        } else if (object) {
            out->what = "success";
            out->body = envelope_success_raw(rs.body.data, rs.body.len, len);
        } else {
            buf_appendf(&msg, "Twilio answered HTTP %ld but its body is not a JSON object%s",
                        rs.status, get ? "" : "; the message or call was probably created");
            if (rs.request_id[0])
                buf_appendf(&msg, " (Twilio request id %s)", rs.request_id);
            answer_error(out, "upstream_bad_body", "INTERNAL_PACKAGE_ERROR", buf_str(&msg));
        }
        json_decref(resource);
        goto done;
    }
    out->what = "api_error";
    if (rs.status == 429)
        buf_appendf(&msg, " (rate limited on %d attempts; nothing was sent)", rs.attempts);
    else if (rs.status >= 500 && !get)
        buf_appendf(&msg, " (Twilio failed after receiving the request%s)", maybe);
    out->body = envelope_api_error(rs.status, b->action, buf_str(&rs.body), rs.body.len,
                                   rs.content_type, rs.request_id, msg.len ? buf_str(&msg) : NULL,
                                   len);
done:
    twilio_response_free(&rs);
    buf_free(&msg);
    buf_free(&base);
}

/* What a request is, for the Idempotency-Key check: block, credentials, path and form, its
 * headers when it has any, and product and method when the caller chose them. */
static int fingerprint(const struct block_def *b, const struct prepared *p, unsigned char *fp)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    const struct buf *parts[] = {&p->username, &p->password, &p->path, &p->form, &p->headers};
    /* a part added later counts only when present, so older keys keep their fingerprints */
    size_t n_parts = sizeof parts / sizeof parts[0] - (p->headers.len == 0);
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(md, b->name, strlen(b->name) + 1);
    if (ok && !b->method) /* the caller chose product and method */
        ok = EVP_DigestUpdate(md, p->product, strlen(p->product) + 1) &&
             EVP_DigestUpdate(md, p->method, strlen(p->method) + 1);
    for (size_t i = 0; ok && i < n_parts; i++) {
        size_t len = parts[i]->len;
        ok = EVP_DigestUpdate(md, &len, sizeof len) &&
             EVP_DigestUpdate(md, buf_str(parts[i]), len);
    }
    ok = ok && EVP_DigestFinal_ex(md, fp, &n) && n == IDEM_FP_LEN;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/* Runs an args-checked call, once per Idempotency-Key when one is given. */
static void send_once(const struct send_service *pl, const struct block_def *b,
                      const struct prepared *prep, const char *key, CURL **slot,
                      struct send_answer *out)
{
    int store = 0;
    if (!key) {
        call_twilio(pl, b, prep, slot, &store, out);
        return;
    }
    unsigned char fp[IDEM_FP_LEN];
    struct buf scoped;
    buf_init(&scoped, 1024);
    if (!idem_key_valid(key)) {
        json_t *reasons = json_pack("{s:s}", "idempotencyKey",
                                    "must be at most 255 printable ASCII characters");
        out->what = "invalid_args";
        out->body = reasons ? envelope_fields(reasons, 0, &out->len) : NULL;
        json_decref(reasons);
        goto done;
    }
    /* Keys are scoped to the account, so two accounts never see each other's answers. */
    if (fingerprint(b, prep, fp) < 0 || buf_appendz(&scoped, buf_str(&prep->username)) < 0 ||
        buf_append(&scoped, "\n", 1) < 0 || buf_appendz(&scoped, key) < 0) {
        answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR", "out of memory");
        goto done;
    }
    unsigned long ticket = 0;
    struct idem_refusal refused;
    enum idem_claim claim = idem_claim(pl->idem, buf_str(&scoped), fp,
                                       pl->cfg->upstream_timeout_ms + 1000, &out->body,
                                       &out->len, &ticket);
    switch (claim) {
    case IDEM_REPLAY:
        out->what = "replayed";
        out->replayed = 1;
        out->headers = replayed;
        break;
    case IDEM_FRESH:
        call_twilio(pl, b, prep, slot, &store, out);
        if (store) {
            /* Even when the answer could not be built, the request may have reached Twilio:
             * a repeat must not send again. */
            static const char unknown[] =
                "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                "\"INTERNAL_PACKAGE_ERROR\",\"status_msg\":\"The request was sent to Twilio but "
                "its answer could not be read; the message or call may have been created\"}}}";
            idem_finish(pl->idem, buf_str(&scoped), ticket, out->body ? out->body : unknown,
                        out->body ? out->len : sizeof unknown - 1);
        } else {
            idem_abandon(pl->idem, buf_str(&scoped), ticket);
        }
        break;
    default:
        if (idem_refusal(claim, &refused) == 0) {
            out->status = refused.http_status;
            out->headers = refused.http_status == 503 ? retry : NULL;
            answer_error(out, refused.what, refused.code, refused.msg);
        } else {
            answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR", "out of memory");
        }
        break;
    }
done:
    buf_free(&scoped);
}

/* Nothing is sent and no Idempotency-Key is spent: the answer is the request itself. */
static void dry_run(const struct send_service *pl, const struct block_def *b,
                    const struct prepared *prep, struct send_answer *out)
{
    struct buf base, url;
    buf_init(&base, 1024);
    buf_init(&url, 1u << 20);
    out->what = "dry_run";
    if (send_url(pl->cfg, prep, 0, &base, &url) == 0)
        out->body = dryrun_answer(b, prep, buf_str(&url), &out->len);
    buf_free(&base);
    buf_free(&url);
}

/* A bulk block's batch: bulk.c runs it on this thread and threads of its own. */
static void run_bulk(const struct send_service *p, const struct block_def *b, json_t *args,
                     CURL **curl, const char *key, struct send_answer *out)
{
    struct bulk_service svc = {.cfg = p->cfg, .idem = p->idem, .upstream = p->upstream,
                               .curl = curl ? *curl : NULL, .draining = p->draining};
    struct bulk_answer a;
    bulk_run(&svc, b, args, key, &a);
    out->status = a.status;
    out->body = a.body;
    out->len = a.len;
    out->what = a.what;
    out->replayed = a.replayed;
    out->attempts = a.attempts;
    out->retries = a.retries;
    out->upstream_status = a.upstream_status;
    out->upstream_ms = a.upstream_ms;
    out->headers = a.replayed ? replayed : a.status == 503 ? retry : NULL;
}

/* The flows, by the kind their blocks name; each line is one module's entry point. */
static const struct {
    const char *kind;
    flow_fn run;
} flows[] = {
    {"subscribeWebhook", subscribe_add},
    {"unsubscribeWebhook", subscribe_remove},
    {"subscribeEvents", eventstreams_subscribe},
    {"unsubscribeEvents", eventstreams_unsubscribe},
    {"listEventTypes", eventstreams_types},
    {NULL, NULL},
};

static flow_fn flow_find(const char *kind)
{
    for (size_t i = 0; flows[i].kind; i++) {
        if (strcmp(flows[i].kind, kind) == 0)
            return flows[i].run;
    }
    return NULL;
}

int pipeline_check(const struct block_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        if (b->flow_kind && !flow_find(b->flow_kind)) {
            snprintf(err, errlen, "%s: no flow named %s", b->name, b->flow_kind);
            return -1;
        }
    }
    return 0;
}

void pipeline_run(const struct send_service *p, const struct block_def *b, json_t *args, CURL **curl,
                  const char *idempotency_key, struct send_answer *out)
{
    struct prepared prep;
    json_t *reasons = NULL;
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->what = "internal_error";
    if (b->event) { /* the relay's args hold each listener's; the handler checks them */
        out->body = b->handler(b, args, &out->what, &out->len);
        return;
    }
    const char *key = idempotency_key && *idempotency_key
                          ? idempotency_key
                          : json_string_value(json_object_get(args, "idempotencyKey"));
    if (b->each) { /* the list is checked whole and sent in bulk.c */
        run_bulk(p, b, args, curl, key && *key ? key : NULL, out);
        return;
    }
    size_t form_cap = (size_t)p->cfg->max_body_bytes * 3 + 65536;
    enum args_status rc = args_prepare(b, args, form_cap, &prep, &reasons);
    if (rc == ARGS_OK) {
        flow_fn flow = b->flow_kind ? flow_find(b->flow_kind) : NULL;
        if (b->handler)
            out->body = b->handler(b, args, &out->what, &out->len);
        else if (flow)
            flow(p, b, args, &prep, curl, key && *key ? key : NULL, out);
        else if (b->flow_kind)
            answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR", "no such flow");
        else if (prep.dry_run)
            dry_run(p, b, &prep, out);
        else
            send_once(p, b, &prep, key && *key ? key : NULL, curl, out);
        prepared_free(&prep);
    } else if (rc == ARGS_INVALID || rc == ARGS_BAD_JSON) {
        out->what = "invalid_args";
        out->body = envelope_fields(reasons, rc == ARGS_BAD_JSON, &out->len);
    } else {
        answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR",
                     "out of memory, or the Twilio request would be too large");
    }
    json_decref(reasons);
}

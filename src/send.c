#include "send.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "digest.h"
#include "envelope.h"
#include "jsonparse.h"
#include "jsonscan.h"

int send_service_start(struct send_service *svc, const struct config *cfg, size_t loops,
                       const atomic_int *draining, char *err, size_t errlen)
{
    memset(svc, 0, sizeof *svc);
    svc->cfg = cfg;
    svc->draining = draining;
    /* a claim's owner works at most UPSTREAM_TIMEOUT_MS before settling, a batch's at most
     * BULK_DEADLINE_MS */
    long hold = cfg->upstream_timeout_ms > cfg->bulk_deadline_ms ? cfg->upstream_timeout_ms
                                                                 : cfg->bulk_deadline_ms;
    snprintf(err, errlen, "out of memory");
    if (cfg->redis_url[0])
        svc->idem = idem_new_redis(cfg->redis_url, cfg->idempotency_ttl_s, hold,
                                   cfg->redis_timeout_ms, err, errlen);
    else
        svc->idem = idem_new((size_t)cfg->idempotency_max, cfg->idempotency_ttl_s);
    svc->deliveries =
        cfg->redis_url[0] ? svc->idem : idem_new((size_t)cfg->delivery_max, cfg->idempotency_ttl_s);
    svc->unsigned_deliveries = idem_new((size_t)cfg->delivery_unsigned_max, cfg->idempotency_ttl_s);
    /* Idle connections kept by each loop: one per worker, as many as can be in flight. */
    if (!svc->idem || !svc->deliveries || !svc->unsigned_deliveries ||
        (loops && !(svc->upstream = upstream_start(loops, cfg->threads,
                                                   (size_t)cfg->upstream_inline, err, errlen)))) {
        send_service_stop(svc);
        return -1;
    }
    return 0;
}

void send_service_stop(struct send_service *svc)
{
    upstream_stop(svc->upstream);
    if (svc->deliveries != svc->idem)
        idem_free(svc->deliveries);
    idem_free(svc->unsigned_deliveries);
    idem_free(svc->idem);
    svc->upstream = NULL;
    svc->idem = svc->deliveries = svc->unsigned_deliveries = NULL;
}

int send_has_form(const char *method)
{
    return strcmp(method, "POST") == 0;
}

int send_url(const struct config *cfg, const struct prepared *p, int query, struct buf *base,
             struct buf *url)
{
    const char *edge = p->edge[0] ? p->edge : cfg->edge;
    const char *region = p->region[0] ? p->region : cfg->region;
    if (twilio_product_base(base, p->product, cfg->api_base, cfg->api_base_set, edge, region) < 0 ||
        buf_append(url, base->data, base->len) < 0 || buf_appendz(url, buf_str(&p->path)) < 0)
        return -1;
    if (query && !send_has_form(p->method) && p->form.len &&
        (buf_append(url, strchr(buf_str(&p->path), '?') ? "&" : "?", 1) < 0 ||
         buf_append(url, p->form.data, p->form.len) < 0))
        return -1;
    return 0;
}

int send_perform(const struct send_service *svc, const struct prepared *p, CURL **slot,
                 struct twilio_response *rs, struct buf *base)
{
    static const struct send_options defaults = {0, 0, NULL};
    return send_perform_ex(svc, p, slot, &defaults, rs, base);
}

int send_perform_ex(const struct send_service *svc, const struct prepared *p, CURL **slot,
                    const struct send_options *opt, struct twilio_response *rs,
                    struct buf *base_out)
{
    const struct config *cfg = svc->cfg;
    struct buf base, url;
    CURL *own = NULL;
    CURL *h = slot ? *slot : NULL;
    int rc = -1;
    buf_init(&base, 1024);
    buf_init(&url, 1u << 20);
    if (!h) {
        h = curl_easy_init();
        if (slot)
            *slot = h;
        else
            own = h;
    }
    if (!h || send_url(cfg, p, 1, &base, &url) < 0 ||
        (base_out && buf_append(base_out, base.data, base.len) < 0)) {
        rs->outcome = TWILIO_NOT_SENT;
        snprintf(rs->error, sizeof rs->error, "out of memory");
        goto done;
    }
    const int form = send_has_form(p->method);
    struct twilio_request rq = {
        .method = p->method,
        .base = buf_str(&base),
        .url = buf_str(&url),
        .username = buf_str(&p->username),
        .password = buf_str(&p->password),
        .form = form ? buf_str(&p->form) : "",
        .form_len = form ? p->form.len : 0,
        .headers = buf_str(&p->headers),
        .timeout_ms = opt->timeout_ms > 0 && opt->timeout_ms < cfg->upstream_timeout_ms
                          ? opt->timeout_ms
                          : cfg->upstream_timeout_ms,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .retry_max = cfg->retry_max,
        .ca_file = cfg->ca_file,
        .allow_http = strncmp(buf_str(&base), "http://", 7) == 0,
        .via = svc->upstream,
        .pace_429 = opt->pace_429,
        .maybe = opt->maybe,
    };
    rc = twilio_perform(h, &rq, rs);
done:
    if (own)
        curl_easy_cleanup(own);
    buf_free(&url);
    buf_free(&base);
    return rc;
}

int send_sub_init(struct prepared *sub, const struct prepared *call, const char *product,
                  const char *method, const char *path)
{
    memset(sub, 0, sizeof *sub);
    sub->product = product;
    sub->method = method;
    buf_init(&sub->path, 8192);
    buf_init(&sub->form, 1u << 20);
    buf_init(&sub->headers, 4096);
    buf_init(&sub->username, 4096);
    buf_init(&sub->password, 4096);
    memcpy(sub->edge, call->edge, sizeof sub->edge);
    memcpy(sub->region, call->region, sizeof sub->region);
    sub->ids = json_object();
    if (!sub->ids || buf_appendz(&sub->path, path) < 0 ||
        buf_append(&sub->username, call->username.data, call->username.len) < 0 ||
        buf_append(&sub->password, call->password.data, call->password.len) < 0) {
        args_prepared_free(sub);
        return -1;
    }
    return 0;
}

const char *send_maybe_words(const struct block_def *b, const char *method)
{
    const char *words = json_string_value(json_object_get(b->root, "maybeSent"));
    if (words && *words)
        return words;
    if (strcmp(method, "DELETE") == 0)
        return "it may have been deleted";
    if (strcmp(method, "GET") == 0)
        return "nothing was changed";
    return b->action && strncmp(b->action, "update", 6) == 0 ? "it may have been updated"
                                                             : "it may have been created";
}

enum send_outcome send_classify(const struct prepared *p, const struct twilio_response *rs,
                                int answered)
{
    if (!answered)
        return rs->outcome == TWILIO_MAYBE_SENT ? SEND_MAYBE : SEND_NOT_SENT;
    if (rs->status >= 200 && rs->status < 300)
        return SEND_DONE;
    if (rs->status == 429)
        return SEND_LIMITED;
    if (rs->status >= 500 && strcmp(p->method, "GET") != 0)
        return SEND_MAYBE;
    return SEND_REFUSED;
}

int send_keeps(enum send_outcome o, long status)
{
    if (o == SEND_NOT_SENT || o == SEND_LIMITED)
        return 0;
    return !(o == SEND_REFUSED && (status == 401 || status == 403));
}

int send_key_init(struct send_key *k, const struct prepared *p, const char *key, const char *extra)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char secret[2 * 16 + 1];
    memset(k, 0, sizeof *k);
    buf_init(&k->scoped, 4096);
    /* The secret's digest, not the secret: the key is stored (and in Redis, shown). 16 bytes
     * keep two tokens of one account apart. */
    if (!EVP_Digest(p->password.data ? p->password.data : "", p->password.len, md, &n, EVP_sha256(),
                    NULL) ||
        n < 16)
        return -1;
    digest_hex(md, 16, secret);
    if (buf_appendz(&k->scoped, buf_str(&p->username)) < 0 ||
        buf_appendf(&k->scoped, "\n%s\n%s", secret, key) < 0 ||
        (extra && buf_appendf(&k->scoped, "\n%s", extra) < 0))
        return -1;
    return 0;
}

void send_key_free(struct send_key *k)
{
    buf_free(&k->scoped);
}

void send_key_refuse(struct send_answer *out)
{
    json_t *reasons =
        json_pack("{s:s}", "idempotencyKey", "must be at most 255 printable ASCII characters");
    out->what = "invalid_args";
    out->body = reasons ? envelope_fields(reasons, 0, &out->len) : NULL;
    json_decref(reasons);
}

static int digest_part(EVP_MD_CTX *md, const struct buf *b)
{
    size_t len = b->len;
    return EVP_DigestUpdate(md, &len, sizeof len) && EVP_DigestUpdate(md, buf_str(b), len);
}

int send_fingerprint(const char *name, const struct prepared *p, int chosen,
                     unsigned char fp[IDEM_FP_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    const struct buf *parts[] = {&p->username, &p->password, &p->path, &p->form, &p->headers};
    /* a part added later counts only when present, so older keys keep their fingerprints */
    size_t n_parts = sizeof parts / sizeof parts[0] - (p->headers.len == 0);
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(md, name, strlen(name) + 1);
    if (ok && chosen)
        ok = EVP_DigestUpdate(md, p->product, strlen(p->product) + 1) &&
             EVP_DigestUpdate(md, p->method, strlen(p->method) + 1);
    for (size_t i = 0; ok && i < n_parts; i++)
        ok = digest_part(md, parts[i]);
    ok = ok && EVP_DigestFinal_ex(md, fp, &n) && n == IDEM_FP_LEN;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

enum idem_claim send_claim(const struct send_service *svc, struct send_key *k,
                           const unsigned char fp[IDEM_FP_LEN], long wait_ms, char **stored,
                           size_t *len)
{
    enum idem_claim c =
        idem_claim(svc->idem, buf_str(&k->scoped), fp, wait_ms, stored, len, &k->ticket);
    k->held = c == IDEM_FRESH;
    return c;
}

void send_settle(const struct send_service *svc, struct send_key *k, int keep, const char *text,
                 size_t len)
{
    if (!k->held)
        return;
    if (keep)
        idem_finish(svc->idem, buf_str(&k->scoped), k->ticket, text, len);
    else
        idem_abandon(svc->idem, buf_str(&k->scoped), k->ticket);
    k->held = 0;
}

static const char *const replayed_headers[] = {"Idempotent-Replayed", "true", NULL};
static const char *const retry_headers[] = {"Retry-After", "5", NULL};

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
        json_object_set_new(
            to, "path", json_stringn(prep->path.data ? prep->path.data : "", prep->path.len)) == 0)
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

/* The envelope of a 2xx answer. */
static void word_success(const struct block_def *b, const struct prepared *prep,
                         const struct twilio_response *rs, const char *base, const char *maybe,
                         struct send_answer *out)
{
    const int get = strcmp(prep->method, "GET") == 0, del = strcmp(prep->method, "DELETE") == 0;
    size_t *len = &out->len;
    struct jsonparse_error perr = {.fault = JSONPARSE_OK};
    /* Twilio's resource is passed on as sent, unless content URLs are added to it: then it is
     * parsed, and otherwise only checked (jsonscan: no tree built). */
    json_t *resource = b->content_list && rs->body.len
                           ? jsonparse_answer(rs->body.data, rs->body.len, &perr)
                           : NULL;
    const int object = b->content_list
                           ? json_is_object(resource)
                           : rs->body.len && jsonscan_object(rs->body.data, rs->body.len);
    out->what = "success";
    if (del && (rs->status == 204 || rs->body.len == 0)) {
        out->body = deleted(prep, len);
    } else if (rs->status == 204 || (rs->body.len == 0 && get)) {
        out->body = envelope_success_raw("{}", 2, len);
    } else if (object && b->content_list) {
        out->body =
            add_content_urls(b, base, resource) == 0 ? envelope_success(resource, len) : NULL;
    } else if (object) {
        out->body = envelope_success_raw(rs->body.data, rs->body.len, len);
    } else {
        struct buf msg;
        buf_init(&msg, 2048);
        if (perr.fault == JSONPARSE_TOO_DEEP || perr.fault == JSONPARSE_TOO_MANY)
            buf_appendf(&msg, "Twilio answered HTTP %ld with a JSON body too %s to read",
                        rs->status, perr.fault == JSONPARSE_TOO_DEEP ? "deep" : "large");
        else
            buf_appendf(&msg, "Twilio answered HTTP %ld but its body is not a JSON object",
                        rs->status);
        if (!get)
            buf_appendf(&msg, "; %s", maybe);
        if (rs->request_id[0])
            buf_appendf(&msg, " (Twilio request id %s)", rs->request_id);
        answer_error(out, "upstream_bad_body", "INTERNAL_PACKAGE_ERROR", buf_str(&msg));
        buf_free(&msg);
    }
    json_decref(resource);
}

/* Calls Twilio and builds the envelope in out; *keep is set when a repeat under the same
 * Idempotency-Key must get this answer rather than send again. */
static void call_twilio(const struct send_service *svc, const struct block_def *b,
                        const struct prepared *prep, CURL **slot, int *keep,
                        struct send_answer *out)
{
    struct buf base, msg;
    struct twilio_response rs;
    const char *maybe = send_maybe_words(b, prep->method);
    const struct send_options opt = {.maybe = maybe};
    buf_init(&base, 1024);
    buf_init(&msg, 2048);
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    const long t0 = clock_ms();
    int answered = send_perform_ex(svc, prep, slot, &opt, &rs, &base) == 0;
    out->upstream_ms = clock_ms() - t0;
    out->attempts = rs.attempts;
    out->retries = rs.attempts > 1 ? rs.attempts - 1 : 0;
    out->upstream_status = rs.status;
    snprintf(out->twilio_request_id, sizeof out->twilio_request_id, "%s", rs.request_id);
    enum send_outcome o = send_classify(prep, &rs, answered);
    *keep = send_keeps(o, rs.status);
    if (!answered) {
        buf_appendz(&msg, rs.error);
        if (o == SEND_NOT_SENT && rs.attempts > 1)
            buf_appendf(&msg, " (%d attempts; nothing was sent)", rs.attempts);
        if (o == SEND_MAYBE && rs.request_id[0])
            buf_appendf(&msg, " (Twilio request id %s)", rs.request_id);
        answer_error(out, o == SEND_MAYBE ? "upstream_ambiguous" : "upstream_unreachable",
                     "INTERNAL_PACKAGE_ERROR", buf_str(&msg));
    } else if (o == SEND_DONE) {
        word_success(b, prep, &rs, buf_str(&base), maybe, out);
    } else {
        out->what = "api_error";
        if (o == SEND_LIMITED)
            buf_appendf(&msg, " (rate limited on %d attempts; nothing was sent)", rs.attempts);
        else if (o == SEND_MAYBE)
            buf_appendf(&msg, " (Twilio failed after receiving the request; %s)", maybe);
        out->body = envelope_api_error(rs.status, b->action, buf_str(&rs.body), rs.body.len,
                                       rs.content_type, rs.request_id,
                                       msg.len ? buf_str(&msg) : NULL, &out->len);
    }
    twilio_response_free(&rs);
    buf_free(&msg);
    buf_free(&base);
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
    buf_init(&legacy->scoped, 4096);
    if (buf_appendz(&legacy->scoped, buf_str(&prep->username)) < 0 ||
        buf_appendf(&legacy->scoped, "\n%s", key) < 0)
        return IDEM_NOMEM;
    enum idem_claim c = send_claim(svc, legacy, fp, wait_ms, stored, len);
    return c == IDEM_CONFLICT ? IDEM_FRESH : c;
}

void send_call(const struct send_service *svc, const struct block_def *b,
               const struct prepared *prep, CURL **slot, const char *key, struct send_answer *out)
{
    int keep = 0;
    if (!key) {
        call_twilio(svc, b, prep, slot, &keep, out);
        return;
    }
    if (!idem_key_valid(key)) {
        send_key_refuse(out);
        return;
    }
    unsigned char fp[IDEM_FP_LEN];
    struct send_key k;
    if (send_key_init(&k, prep, key, NULL) < 0 ||
        send_fingerprint(b->name, prep, !b->method, fp) < 0) {
        answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR", "out of memory");
        send_key_free(&k);
        return;
    }
    struct idem_refusal refused;
    struct send_key legacy = {.held = 0};
    const long wait_ms = svc->cfg->upstream_timeout_ms + 1000;
    enum idem_claim claim = send_claim(svc, &k, fp, wait_ms, &out->body, &out->len);
    if (claim == IDEM_FRESH && svc->cfg->redis_url[0] && svc->cfg->idempotency_earlier_keys) {
        claim = legacy_claim(svc, prep, key, fp, wait_ms, &legacy, &out->body, &out->len);
        if (claim != IDEM_FRESH)
            send_settle(svc, &k, 0, NULL, 0);
    }
    switch (claim) {
    case IDEM_REPLAY:
        out->what = "replayed";
        out->replayed = 1;
        out->headers = replayed_headers;
        break;
    case IDEM_FRESH: {
        call_twilio(svc, b, prep, slot, &keep, out);
        /* Even when the answer could not be built, the request may have reached Twilio: a
         * repeat must not send again. */
        struct buf unknown;
        buf_init(&unknown, 1024);
        if (keep && !out->body)
            buf_appendf(&unknown,
                        "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                        "\"INTERNAL_PACKAGE_ERROR\",\"status_msg\":\"The request was sent to "
                        "Twilio but its answer could not be read; %s\"}}}",
                        send_maybe_words(b, prep->method));
        send_settle(svc, &k, keep, out->body ? out->body : buf_str(&unknown),
                    out->body ? out->len : unknown.len);
        send_settle(svc, &legacy, keep, out->body ? out->body : buf_str(&unknown),
                    out->body ? out->len : unknown.len);
        buf_free(&unknown);
        break;
    }
    default:
        if (idem_refusal(claim, &refused) == 0) {
            out->status = refused.http_status;
            out->headers = refused.http_status == 503 ? retry_headers : NULL;
            answer_error(out, refused.what, refused.code, refused.msg);
        } else {
            answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR", "out of memory");
        }
        break;
    }
    send_key_free(&legacy);
    send_key_free(&k);
}

#include "send.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

/* Buffer caps of a flow's own request: its path (a query may ride on it), form, headers and
 * each credential; and of a scoped Idempotency-Key. */
#define SEND_SUB_PATH_CAP 8192
#define SEND_SUB_FORM_CAP (1u << 20)
#define SEND_PART_CAP 4096
#define SEND_KEY_CAP 4096

/* How long a claim's owner may work before it settles: a call at most UPSTREAM_TIMEOUT_MS, a
 * batch at most BULK_DEADLINE_MS. */
static long claim_hold(const struct config *cfg)
{
    return cfg->upstream_timeout_ms > cfg->bulk_deadline_ms ? cfg->upstream_timeout_ms
                                                            : cfg->bulk_deadline_ms;
}

int send_service_start(struct send_service *svc, const struct config *cfg, size_t loops,
                       const atomic_int *draining, char *err, size_t errlen)
{
    memset(svc, 0, sizeof *svc);
    svc->cfg = cfg;
    svc->draining = draining;
    long hold = claim_hold(cfg);
    snprintf(err, errlen, "out of memory");
    if (cfg->redis_url[0])
        svc->idem = idem_new_redis(cfg->redis_url, cfg->idempotency_ttl_s, hold,
                                   cfg->redis_timeout_ms, err, errlen);
    else
        svc->idem = idem_new((size_t)cfg->idempotency_max, cfg->idempotency_ttl_s);
    /* Idle connections kept by each loop: one per worker, as many as can be in flight. */
    if (!svc->idem ||
        (loops && !(svc->upstream = upstream_start(loops, cfg->threads,
                                                   (size_t)cfg->upstream_inline, err, errlen)))) {
        send_service_stop(svc);
        return -1;
    }
    return 0;
}

int send_service_open_deliveries(struct send_service *svc, char *err, size_t errlen)
{
    const struct config *cfg = svc->cfg;
    long hold = claim_hold(cfg);
    snprintf(err, errlen, "out of memory");
    /* Deliveries anyone can sign (the token is the caller's) live in a bounded store of their
     * own, so they never fill the Redis the Idempotency-Keys need. */
    if (cfg->redis_url[0])
        svc->deliveries = idem_new_redis_bounded(cfg->redis_url, cfg->idempotency_ttl_s, hold,
                                                 cfg->redis_timeout_ms, (size_t)cfg->delivery_max,
                                                 "twilio-block:deliveries", err, errlen);
    else
        svc->deliveries = idem_new((size_t)cfg->delivery_max, cfg->idempotency_ttl_s);
    svc->unsigned_deliveries = idem_new((size_t)cfg->delivery_unsigned_max, cfg->idempotency_ttl_s);
    return svc->deliveries && svc->unsigned_deliveries ? 0 : -1;
}

void send_service_stop(struct send_service *svc)
{
    upstream_stop(svc->upstream);
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
    buf_init(&base, SEND_BASE_CAP);
    buf_init(&url, SEND_URL_CAP);
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
    rc = twilio_perform(&h, &rq, rs);
    if (slot)
        *slot = h;
    else
        own = h;
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
    buf_init(&sub->path, SEND_SUB_PATH_CAP);
    buf_init(&sub->form, SEND_SUB_FORM_CAP);
    buf_init(&sub->headers, SEND_PART_CAP);
    buf_init(&sub->username, SEND_PART_CAP);
    buf_init(&sub->password, SEND_PART_CAP);
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
    buf_init(&k->scoped, SEND_KEY_CAP);
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

#include "send.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

int send_has_form(const char *method)
{
    return strcmp(method, "POST") == 0;
}

int send_url(const struct config *cfg, const struct prepared *p, int query, struct buf *base,
             struct buf *url)
{
    const char *edge = p->edge[0] ? p->edge : cfg->edge;
    const char *region = p->region[0] ? p->region : cfg->region;
    if (twilio_product_base(base, p->product, cfg->api_base, cfg->api_base_set, edge, region) <
            0 ||
        buf_append(url, base->data, base->len) < 0 || buf_appendz(url, buf_str(&p->path)) < 0)
        return -1;
    if (query && !send_has_form(p->method) && p->form.len &&
        (buf_append(url, strchr(buf_str(&p->path), '?') ? "&" : "?", 1) < 0 ||
         buf_append(url, p->form.data, p->form.len) < 0))
        return -1;
    return 0;
}

int send_perform(const struct send_service *svc, const struct prepared *p, CURL **slot,
                 struct twilio_response *rs, struct buf *base_out)
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
        .timeout_ms = cfg->upstream_timeout_ms,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .retry_max = cfg->retry_max,
        .ca_file = cfg->ca_file,
        .allow_http = strncmp(buf_str(&base), "http://", 7) == 0,
        .via = svc->upstream,
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
        prepared_free(sub);
        return -1;
    }
    return 0;
}

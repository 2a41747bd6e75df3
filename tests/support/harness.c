#include "harness.h"

#include <civetweb.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "embedded.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct http_reply *r = userp;
    return buf_append(&r->body, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t size)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0)
        return;
    line += k;
    n -= k;
    while (n && *line == ' ') {
        line++;
        n--;
    }
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    snprintf(out, size, "%.*s", (int)n, line);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct http_reply *r = userp;
    size_t n = size * nmemb;
    header_value(data, n, "Allow:", r->allow, sizeof r->allow);
    header_value(data, n, "Content-Type:", r->content_type, sizeof r->content_type);
    return n;
}

int http_call(const char *method, const char *url, const char *body, size_t len,
              struct http_reply *r)
{
    return http_call_ex(method, url, "application/json", NULL, body, len, r);
}

int http_call_ex(const char *method, const char *url, const char *content_type,
                 const char *userpwd, const char *body, size_t len, struct http_reply *r)
{
    char ct[128];
    memset(r, 0, sizeof *r);
    buf_init(&r->body, 64u << 20);
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    struct curl_slist *headers = curl_slist_append(NULL, ct);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (userpwd)
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

void http_reply_free(struct http_reply *r)
{
    buf_free(&r->body);
}

int harness_start(struct harness *h, const char *api_base, long upstream_timeout_ms,
                  long max_body_bytes)
{
    static int initialised;
    char err[512];
    if (!initialised) {
        json_object_seed(0);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        mg_init_library(0);
        initialised = 1;
    }
    memset(h, 0, sizeof *h);
    h->blocks = block_set_load(&embedded_metadata, embedded_blocks, embedded_blocks_count, err,
                               sizeof err);
    h->up = standin_start();
    if (!h->blocks || !h->up) {
        fprintf(stderr, "harness: %s\n", h->blocks ? "stand-in did not start" : err);
        harness_stop(h);
        return -1;
    }
    struct config cfg;
    config_defaults(&cfg);
    snprintf(cfg.bind, sizeof cfg.bind, "127.0.0.1");
    cfg.port = 0;
    cfg.threads = 8;
    cfg.log_level = LOG_WARN;
    if (upstream_timeout_ms)
        cfg.upstream_timeout_ms = upstream_timeout_ms;
    if (max_body_bytes)
        cfg.max_body_bytes = max_body_bytes;
    if (api_base)
        snprintf(cfg.api_base, sizeof cfg.api_base, "%s", api_base);
    else
        snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:%d", standin_port(h->up));
    log_set_level(cfg.log_level);
    h->srv = server_start(&cfg, h->blocks, err, sizeof err);
    if (!h->srv) {
        fprintf(stderr, "harness: %s\n", err);
        harness_stop(h);
        return -1;
    }
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", server_port(h->srv));
    return 0;
}

void harness_stop(struct harness *h)
{
    server_stop(h->srv);
    standin_stop(h->up);
    block_set_free(h->blocks);
    memset(h, 0, sizeof *h);
}

int harness_post(struct harness *h, const char *block, const char *json, struct http_reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/api/twilio/%s", h->url, block);
    return http_call("POST", url, json, strlen(json), r);
}

json_t *harness_example_args(const struct block_def *b, int minimal)
{
    json_t *out = json_object();
    json_t *defs = json_object_get(b->root, "args");
    for (size_t i = 0; out && i < b->n_args; i++) {
        int take = !minimal || b->args[i].required;
        for (size_t g = 0; !take && g < b->n_one_of; g++)
            take = b->one_of[g].idx[0] == i;
        json_t *example = json_object_get(json_array_get(defs, i), "example");
        if (take && example)
            json_object_set(out, b->args[i].name, example);
    }
    return out;
}

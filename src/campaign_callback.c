#include "campaign_callback.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "campaign_store.h"
#include "log.h"

static atomic_long ended_completed, ended_cancelled;

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

const char *campaign_callback_refused(const struct config *cfg, const char *url)
{
    int https = strncasecmp(url, "https://", 8) == 0, http = strncasecmp(url, "http://", 7) == 0;
    if (!https && !(http && cfg->allow_private_callbacks))
        return cfg->allow_private_callbacks ? "must be an http or https URL"
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
    if (!cfg->allow_private_callbacks && (private_host(host) || private_numeric(host)))
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

void campaign_callback_ended(const struct config *cfg, const char *id)
{
    char why[256];
    struct campaign_keys k;
    campaign_store_keys_of(id, &k);
    const char *srem[] = {"SREM", CAMPAIGN_RUNNING_KEY, id};
    freeReplyObject(campaign_store_cmd(why, sizeof why, 3, srem));
    const char *get[] = {"HGETALL", k.m};
    redisReply *meta = campaign_store_cmd(why, sizeof why, 2, get);
    const char *status = campaign_store_field(meta, "status");
    if (!status) {
        freeReplyObject(meta);
        return;
    }
    atomic_fetch_add(strcmp(status, "completed") == 0 ? &ended_completed : &ended_cancelled, 1);
    json_t *doc = json_pack("{s:s, s:s, s:I, s:o}", "campaignId", id, "status", status, "total",
                            (json_int_t)campaign_store_field_int(meta, "total"), "counts",
                            campaign_store_counts(meta));
    log_msg(LOG_INFO,
            "campaign %s: %s (total %lld, sent %lld, failed %lld, skipped %lld, maybeSent %lld, "
            "cancelled %lld)",
            id, status, campaign_store_field_int(meta, "total"),
            campaign_store_field_int(meta, "sent"), campaign_store_field_int(meta, "failed"),
            campaign_store_field_int(meta, "skipped"), campaign_store_field_int(meta, "maybeSent"),
            campaign_store_field_int(meta, "cancelled"));
    const char *url = campaign_store_field(meta, "cb");
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
        if (cfg->ca_file[0])
            curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
        if (!cfg->allow_private_callbacks)
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

int campaign_callback_metrics(struct buf *out)
{
    return buf_appendf(out,
                       "# HELP twilio_block_campaigns_ended_total Campaigns this replica saw "
                       "end, by status.\n"
                       "# TYPE twilio_block_campaigns_ended_total counter\n"
                       "twilio_block_campaigns_ended_total{status=\"completed\"} %ld\n"
                       "twilio_block_campaigns_ended_total{status=\"cancelled\"} %ld\n",
                       atomic_load(&ended_completed), atomic_load(&ended_cancelled));
}

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

enum kind { K_STRING, K_LONG, K_LEVEL, K_FORMAT };

struct setting {
    const char *env;
    const char *flag;
    enum kind kind;
    size_t offset;
    size_t size; /* K_STRING: buffer size */
    long min, max;
    const char *def;
    const char *help;
};

#define FIELD(f) offsetof(struct config, f)

static const struct setting settings[] = {
    {"PORT", "--port", K_LONG, FIELD(port), 0, 0, 65535, "8080",
     "TCP port to listen on (0 picks a free one)"},
    {"BIND", "--bind", K_STRING, FIELD(bind), sizeof(((struct config *)0)->bind), 0, 0, "0.0.0.0",
     "address to listen on"},
    {"TWILIO_API_BASE", "--twilio-api-base", K_STRING, FIELD(api_base),
     sizeof(((struct config *)0)->api_base), 0, 0, "https://api.twilio.com",
     "Twilio REST API base URL (tests point it at a mock); when set, edge and region are not "
     "applied"},
    {"TWILIO_EDGE", "--twilio-edge", K_STRING, FIELD(edge), sizeof(((struct config *)0)->edge), 0,
     0, "", "Twilio edge location (e.g. sydney) for calls without an edge arg"},
    {"TWILIO_REGION", "--twilio-region", K_STRING, FIELD(region),
     sizeof(((struct config *)0)->region), 0, 0, "",
     "Twilio region (e.g. au1) for calls without a region arg"},
    {"THREADS", "--threads", K_LONG, FIELD(threads), 0, 1, 16384, "1024",
     "worker threads (each serves one client connection at a time)"},
    {"UPSTREAM_LOOPS", "--upstream-loops", K_LONG, FIELD(upstream_loops), 0, -1, 64, "-1",
     "event-loop threads that run the Twilio transfers; 0: each worker runs its own; -1: one "
     "per core (up to 8) when THREADS > 256, else 0"},
    {"UPSTREAM_INLINE", "--upstream-inline", K_LONG, FIELD(upstream_inline), 0, 0, 16384, "64",
     "with upstream loops, this many calls in flight run on their own worker thread (no "
     "hand-over) before the loops take the rest"},
    {"UPSTREAM_TIMEOUT_MS", "--upstream-timeout-ms", K_LONG, FIELD(upstream_timeout_ms), 0, 1,
     600000, "15000", "total time allowed for one Twilio request"},
    {"CONNECT_TIMEOUT_MS", "--connect-timeout-ms", K_LONG, FIELD(connect_timeout_ms), 0, 1, 600000,
     "3000", "time allowed to connect to Twilio"},
    {"MAX_BODY_BYTES", "--max-body-bytes", K_LONG, FIELD(max_body_bytes), 0, 1, 1L << 30, "262144",
     "largest request body accepted"},
    {"JSON_MAX_VALUES", "--json-max-values", K_LONG, FIELD(json_max_values), 0, 100, 10000000,
     "20000", "most JSON values one request body (or JSON-text arg) may hold"},
    {"BODY_TIMEOUT_MS", "--body-timeout-ms", K_LONG, FIELD(body_timeout_ms), 0, 100, 600000,
     "10000", "time allowed to receive a whole request body"},
    {"HEADER_TIMEOUT_MS", "--header-timeout-ms", K_LONG, FIELD(header_timeout_ms), 0, 100, 600000,
     "5000", "time allowed for a new connection's request line and headers; then it is closed"},
    {"KEEP_ALIVE_TIMEOUT_MS", "--keep-alive-timeout-ms", K_LONG, FIELD(keep_alive_timeout_ms), 0,
     100, 600000, "5000", "how long a kept-alive connection may wait for its next request"},
    {"LOG_LEVEL", "--log-level", K_LEVEL, FIELD(log_level), 0, 0, 0, "info",
     "error, warn, info or debug"},
    {"LOG_FORMAT", "--log-format", K_FORMAT, FIELD(log_format), 0, 0, 0, "text",
     "text, or json for one JSON object per line"},
    {"RETRY_MAX", "--retry-max", K_LONG, FIELD(retry_max), 0, 0, 10, "2",
     "retries when nothing can have been sent (refused, DNS, TLS, HTTP 429)"},
    {"BULK_MAX_RECIPIENTS", "--bulk-max-recipients", K_LONG, FIELD(bulk_max_recipients), 0, 1,
     100000, "1000", "most recipients one sendBulkSms call takes"},
    {"BULK_CONCURRENCY", "--bulk-concurrency", K_LONG, FIELD(bulk_concurrency), 0, 1, 1000, "25",
     "sends of one sendBulkSms call in flight at once (halved by each Twilio 429)"},
    {"BULK_DEADLINE_MS", "--bulk-deadline-ms", K_LONG, FIELD(bulk_deadline_ms), 0, 100, 600000,
     "25000", "time one sendBulkSms call may take; recipients not reached by then are not sent"},
    {"IDEMPOTENCY_TTL_S", "--idempotency-ttl-s", K_LONG, FIELD(idempotency_ttl_s), 0, 1,
     31L * 86400, "86400", "how long an Idempotency-Key is remembered"},
    {"IDEMPOTENCY_MAX", "--idempotency-max", K_LONG, FIELD(idempotency_max), 0, 1, 10000000,
     "10000", "most Idempotency-Keys remembered (least recently used go first)"},
    {"DELIVERY_MAX", "--delivery-max", K_LONG, FIELD(delivery_max), 0, 1, 10000000, "10000",
     "most webhookEvent deliveries a signature vouched for remembered, oldest dropped first: "
     "per process, or with REDIS_URL in Redis for all replicas together"},
    {"DELIVERY_UNSIGNED_MAX", "--delivery-unsigned-max", K_LONG, FIELD(delivery_unsigned_max), 0, 1,
     10000000, "10000",
     "most webhookEvent deliveries no signature vouched for remembered, per process, in an LRU "
     "of their own (never in Redis)"},
    {"CA_FILE", "--ca-file", K_STRING, FIELD(ca_file), sizeof(((struct config *)0)->ca_file), 0, 0,
     "", "CA bundle for verifying Twilio's certificate (empty: the system's)"},
    {"PROXY_SECRET", "--proxy-secret", K_STRING, FIELD(proxy_secret),
     sizeof(((struct config *)0)->proxy_secret), 0, 0, "",
     "when set, block calls must carry it in X-RapidAPI-Proxy-Secret"},
    {"MCP_ALLOWED_ORIGINS", "--mcp-allowed-origins", K_STRING, FIELD(mcp_allowed_origins),
     sizeof(((struct config *)0)->mcp_allowed_origins), 0, 0, "",
     "origins (https://app.example.com) or host names whose web pages may call /mcp, "
     "comma-separated, besides localhost, 127.0.0.1 and [::1]; * lets any in"},
    {"CURSOR_SECRET", "--cursor-secret", K_STRING, FIELD(cursor_secret),
     sizeof(((struct config *)0)->cursor_secret), 0, 0, "",
     "key of the poll cursors' HMAC, the same on every replica (unset: one drawn per process, "
     "so a cursor fails after a restart or on another replica)"},
    {"SHUTDOWN_GRACE_MS", "--shutdown-grace-ms", K_LONG, FIELD(shutdown_grace_ms), 0, 0, 600000,
     "20000", "on SIGTERM/SIGINT, time in-flight requests get to finish"},
    {"REDIS_URL", "--redis-url", K_STRING, FIELD(redis_url),
     sizeof(((struct config *)0)->redis_url), 0, 0, "",
     "share Idempotency-Keys between replicas: redis://[:password@]host[:port][/db]"},
    {"REDIS_TIMEOUT_MS", "--redis-timeout-ms", K_LONG, FIELD(redis_timeout_ms), 0, 1, 60000, "1000",
     "time allowed to connect to Redis, and for each Redis command"},
    {"CAMPAIGN_SECRET", "--campaign-secret", K_STRING, FIELD(campaign_secret),
     sizeof(((struct config *)0)->campaign_secret), 0, 0, "",
     "with REDIS_URL: the passphrase whose key (AES-256-GCM) seals a campaign's credentials in "
     "Redis; campaigns need it; never logged"},
    {"CAMPAIGN_CONCURRENCY", "--campaign-concurrency", K_LONG, FIELD(campaign_concurrency), 0, 1,
     256, "32", "campaign sends in flight at once in this replica"},
    {"CAMPAIGN_RECLAIM_MS", "--campaign-reclaim-ms", K_LONG, FIELD(campaign_reclaim_ms), 0, 100,
     3600000, "30000",
     "a campaign recipient held this long by a replica that stopped is taken over (as maybeSent "
     "if its send had begun); keep it above UPSTREAM_TIMEOUT_MS"},
    {"ALLOW_PRIVATE_CALLBACKS", "--allow-private-callbacks", K_LONG, FIELD(allow_private_callbacks),
     0, 0, 1, "0", "1: a campaign's statusCallback may be http or a loopback or private address"},
    {"IDEMPOTENCY_EARLIER_KEYS", "--idempotency-earlier-keys", K_LONG,
     FIELD(idempotency_earlier_keys), 0, 0, 1, "0",
     "1 while replicas that scoped a key to the accountSid alone share the Redis (an upgrade "
     "from them): a single call also claims that name of its key"},
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

static int apply(struct config *c, const struct setting *s, const char *value, const char *source,
                 char *err, size_t errlen)
{
    char *field = (char *)c + s->offset;
    switch (s->kind) {
    case K_STRING:
        if (strlen(value) >= s->size) {
            snprintf(err, errlen, "%s: value is longer than %zu characters", source, s->size - 1);
            return -1;
        }
        if (s->offset == FIELD(redis_url) && *value && redis_url_check(value, err, errlen) < 0)
            return -1;
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case K_LONG: {
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < s->min || v > s->max) {
            snprintf(err, errlen, "%s: expected an integer from %ld to %ld, got \"%s\"", source,
                     s->min, s->max, value);
            return -1;
        }
        memcpy(field, &v, sizeof v);
        return 0;
    }
    case K_LEVEL: {
        enum log_level level;
        if (log_parse_level(value, &level) < 0) {
            snprintf(err, errlen, "%s: expected error, warn, info or debug, got \"%s\"", source,
                     value);
            return -1;
        }
        memcpy(field, &level, sizeof level);
        return 0;
    }
    case K_FORMAT: {
        enum log_format format;
        if (log_parse_format(value, &format) < 0) {
            snprintf(err, errlen, "%s: expected text or json, got \"%s\"", source, value);
            return -1;
        }
        memcpy(field, &format, sizeof format);
        return 0;
    }
    }
    return -1;
}

void config_defaults(struct config *c)
{
    char err[64];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_SETTINGS; i++)
        apply(c, &settings[i], settings[i].def, settings[i].env, err, sizeof err);
}

static void print_help(void)
{
    printf("Usage: twilio-block [options]\n\n"
           "Twilio blocks for integration marketplaces: POST /api/twilio/<block>.\n"
           "Every setting comes from the environment and may be overridden by its flag.\n\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *t = &settings[i];
        char range[64] = "";
        if (t->kind == K_LONG)
            snprintf(range, sizeof range, "%ld-%ld; ", t->min, t->max);
        printf("  %-22s %-20s %s [%sdefault %s]\n", t->flag, t->env, t->help, range,
               *t->def ? t->def : "unset");
    }
    printf("  %-22s %-20s %s\n  %-22s %-20s %s\n", "--help", "", "print this help and exit",
           "--version", "", "print the version and exit");
    printf("  %-22s %-20s %s\n  %-22s %-20s %s\n", "--openapi", "",
           "print the service's OpenAPI document and exit", "--postman", "",
           "print a Postman collection of the blocks and exit");
    printf("  %-22s %-20s %s\n", "--reference", "",
           "print the block reference (docs/reference.md) and exit");
    printf("\nRoutes: POST /api/twilio/<block>, GET /api/twilio (metadata),\n"
           "GET /api/twilio/openapi.json, GET /healthz, GET /metrics (Prometheus).\n"
           "Logs go to stderr.\n");
}

/* An edge or region becomes part of a host name. */
static int host_label(const char *v, const char *name, char *err, size_t errlen)
{
    for (const char *p = v; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            snprintf(err, errlen, "%s: expected lower-case letters, digits and '-', got \"%s\"",
                     name, v);
            return -1;
        }
    }
    return 0;
}

static int finish(struct config *c, char *err, size_t errlen)
{
    if (host_label(c->edge, "TWILIO_EDGE", err, errlen) < 0 ||
        host_label(c->region, "TWILIO_REGION", err, errlen) < 0)
        return -1;
    size_t n = strlen(c->api_base);
    while (n > 0 && c->api_base[n - 1] == '/')
        c->api_base[--n] = '\0';
    if (strncmp(c->api_base, "https://", 8) != 0 && strncmp(c->api_base, "http://", 7) != 0) {
        snprintf(err, errlen, "TWILIO_API_BASE: expected an http:// or https:// URL");
        return -1;
    }
    /* the base is named in answers to callers, so it may not carry a password */
    const char *host = strstr(c->api_base, "://") + 3;
    if (memchr(host, '@', strcspn(host, "/?#"))) {
        snprintf(err, errlen, "TWILIO_API_BASE: must not carry user:password@");
        return -1;
    }
    return 0;
}

int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
    config_defaults(c);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if (v && *v && apply(c, &settings[i], v, settings[i].env, err, errlen) < 0)
            return -1;
        if (v && *v && settings[i].offset == FIELD(api_base))
            c->api_base_set = 1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help();
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("twilio-block %s\n", TWILIO_BLOCK_VERSION);
            return 1;
        }
        const struct setting *s = NULL;
        const char *value = NULL;
        for (size_t i = 0; i < N_SETTINGS && !s; i++) {
            size_t n = strlen(settings[i].flag);
            if (strncmp(arg, settings[i].flag, n) != 0)
                continue;
            if (arg[n] == '=') {
                s = &settings[i];
                value = arg + n + 1;
            } else if (arg[n] == '\0') {
                if (a + 1 >= argc) {
                    snprintf(err, errlen, "%s needs a value", settings[i].flag);
                    return -1;
                }
                s = &settings[i];
                value = argv[++a];
            }
        }
        if (!s) {
            snprintf(err, errlen, "unknown option \"%s\" (see --help)", arg);
            return -1;
        }
        if (apply(c, s, value, s->flag, err, errlen) < 0)
            return -1;
        if (s->offset == FIELD(api_base))
            c->api_base_set = 1;
    }
    return finish(c, err, errlen);
}

void config_public_url(const char *url, char *out, size_t size)
{
    const char *rest = strstr(url, "://");
    rest = rest ? rest + 3 : url;
    size_t scheme = (size_t)(rest - url);
    size_t authority = strcspn(rest, "/?#");
    const char *at = memchr(rest, '@', authority);
    const char *host = at ? at + 1 : rest;
    size_t path = strcspn(host, "?#");
    snprintf(out, size, "%.*s%.*s", (int)scheme, url, (int)path, host);
}

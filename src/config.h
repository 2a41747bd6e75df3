/* config: the service's settings, from the environment and then from flags. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "log.h"

struct config {
    char bind[256];
    long port;
    char api_base[512]; /* no trailing slash */
    int api_base_set;   /* the operator chose api_base: edge and region are not applied */
    char edge[32];      /* TWILIO_EDGE, TWILIO_REGION: defaults for the edge and region args */
    char region[32];
    long threads;
    long upstream_loops;  /* -1: chosen from threads and cores (service_upstream_loops) */
    long upstream_inline; /* calls in flight that run on their worker before loops take the rest */
    long upstream_timeout_ms;
    long connect_timeout_ms;
    long max_body_bytes;
    long json_max_values; /* values one JSON text of a caller's may hold (jsonparse.h) */
    long body_timeout_ms;
    long header_timeout_ms;     /* request line and headers of a connection's first request */
    long keep_alive_timeout_ms; /* wait for the next request on a kept connection */
    enum log_level log_level;
    enum log_format log_format;
    long retry_max;
    long bulk_max_recipients; /* sendBulkSms: the longest list taken */
    long bulk_concurrency;    /* sends of one batch in flight at once, before any 429 */
    long bulk_deadline_ms;    /* no send of a batch starts after this; the rest are not sent */
    long idempotency_ttl_s;
    long idempotency_max;
    long delivery_max;          /* webhookEvent: verified deliveries kept in process (no Redis) */
    long delivery_unsigned_max; /* webhookEvent: other deliveries kept, per process only */
    char ca_file[512];          /* empty: the system's CA store */
    char proxy_secret[256];     /* empty: no X-RapidAPI-Proxy-Secret check; never logged */
    char mcp_allowed_origins[1024]; /* /mcp: origins let in besides localhost's (mcp.h) */
    char cursor_secret[256];        /* keys poll cursors; empty: a key per process; never logged */
    long shutdown_grace_ms;
    char redis_url[512]; /* empty: keys kept in process; may hold a password, never logged */
    long redis_timeout_ms;
    char campaign_secret[256]; /* empty: campaigns refused with REDIS_URL; never logged */
    long campaign_concurrency;
    long campaign_reclaim_ms;
    long allow_private_callbacks;
    long idempotency_earlier_keys; /* also claim a key's name of versions before 14a0496 */
    long long (*now_s)(void);      /* the wall clock in seconds (poll blocks); NULL: time(). Not a
                                 setting: tests drive time with it */
};

/* Sets every field to its default. */
void config_defaults(struct config *c);

/* Reads the environment (PORT, BIND, ...) and then argv flags (--port 8080 or --port=8080),
 * later sources winning. Returns 0 to run, 1 when --help or --version was printed (exit 0),
 * -1 on a bad value with the reason in err. */
int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen);

/* Writes url without what could hold a secret (user:password@, query, fragment), for logs. */
void config_public_url(const char *url, char *out, size_t size);

#endif

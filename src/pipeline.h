/* pipeline: one block call, args in and envelope out, with no HTTP server in sight. The args
 * are checked against the block; then the service answers itself (handler blocks, events),
 * shows the request (a dry run), or sends it to Twilio at most once per Idempotency-Key and
 * words Twilio's answer as the marketplace envelope. server.c reads requests and writes these
 * answers. */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "args.h"
#include "block.h"
#include "buf.h"
#include "config.h"
#include "idem.h"
#include "upstream.h"

/* What every call shares, set up once at start; read-only afterwards. */
struct pipeline {
    const struct config *cfg;
    struct idem_store *idem;
    struct upstream *upstream; /* runs the transfers; NULL: each on its calling thread */
    const atomic_int *draining; /* once set, a bulk batch starts no more sends; or NULL */
};

struct pipeline_answer {
    int status;                 /* HTTP status: 200, or 503 when the idempotency store is down */
    char *body;                 /* the envelope (malloc'd), or NULL when memory ran out */
    size_t len;
    const char *const *headers; /* static extra reply headers (name, value, ..., NULL), or NULL */
    const char *what;           /* the outcome, for the log line and the metrics */
    long upstream_status;       /* Twilio's HTTP status, 0 when none came */
    int attempts;
    int retries; /* of the attempts, repeats of a request already tried */
    long upstream_ms;
    int replayed;
    char twilio_request_id[96];
};

/* Appends the Twilio request's base (its product's host, edge and region applied, or
 * TWILIO_API_BASE) to base, and its full URL to url: the path and, unless query is 0, the
 * parameters of a GET or DELETE as its query string. Returns 0, or -1 when memory ran out. */
int pipeline_url(const struct config *cfg, const struct prepared *p, int query, struct buf *base,
                 struct buf *url);

/* Runs block b on args (a JSON object, borrowed). curl is the caller's slot for a Twilio
 * handle: a handle made here on the first call that needs one stays in *curl for the caller to
 * reuse and free (its connections survive between calls); with curl NULL a handle is made and
 * freed for this call. idempotency_key is the Idempotency-Key header, or NULL (the
 * idempotencyKey arg counts then). Fills *out; the caller frees out->body. */
void pipeline_run(const struct pipeline *p, const struct block_def *b, json_t *args, CURL **curl,
                  const char *idempotency_key, struct pipeline_answer *out);

#endif

/* call: the one contract of a block call. Every kind of block (a handler, an event, bulk, a
 * flow, a single send, a dry run) is a call_fn: it reads one struct call (the service, the
 * block, the caller's args, the values as they were checked, the curl slot, the key) and
 * fills the call's answer with the writers below, the only ones there are. Dispatch
 * (pipeline.c) finds the call_fn in its one table; what a call cost at Twilio is added up in
 * the answer's figures once and read from there by the metrics and the log line. */
#ifndef CALL_H
#define CALL_H

#include <stddef.h>
#include <curl/curl.h>
#include <jansson.h>

#include "args.h"
#include "block.h"
#include "idem.h"
#include "metrics.h"
#include "send.h"
#include "twilio.h"

/* The answer to one block call. */
struct call_answer {
    int status; /* HTTP status: 200, or 503 when the idempotency store is down */
    char *body; /* the envelope (malloc'd), or NULL when memory ran out */
    size_t len;
    const char *const *headers; /* static extra reply headers (name, value, ..., NULL), or NULL */
    const char *what;           /* the outcome, for the log line and the metrics */
    struct metrics_figures figures;
};

/* One block call. Built by dispatch; a call_fn reads it and answers through call_*. */
struct call {
    const struct send_service *svc;
    const struct block_def *b;
    json_t *args;                /* the caller's args (borrowed) */
    const struct prepared *prep; /* b's args as checked: the request and its values; NULL for
                                    events and bulk blocks, which check their own */
    CURL **slot;                 /* the caller's curl handle slot, as for send_perform */
    const char *key;             /* the Idempotency-Key, or NULL */
    struct call_answer *out;     /* status 200 and what "internal_error" on entry */
    int writes;                  /* a flow's requests so far that changed something at Twilio */
    size_t list_bytes;           /* of every list page the call read: one budget for all its
                                    lists (SEND_LIST_MAX_BYTES) */
};

typedef void (*call_fn)(struct call *c);

/* The answer writers. Each replaces any answer written before it (a flow may end a call that
 * way); when memory runs out the body is NULL and the caller answers "out of memory". */

/* A success envelope of to (borrowed). */
void call_success(struct call *c, json_t *to);

/* A success envelope of a resource that is already JSON text (n bytes), byte for byte. */
void call_success_raw(struct call *c, const char *resource, size_t n);

/* An envelope the call built itself (body malloc'd, taken; NULL when memory ran out). */
void call_answer_take(struct call *c, const char *what, char *body, size_t len);

/* An error envelope: code, msg and the members of extra (borrowed, or NULL); what names the
 * outcome for the log. */
void call_error(struct call *c, const char *what, const char *code, const char *msg, json_t *extra);

/* REQUIRED_FIELDS (JSON_VALIDATION when bad_json) from reasons (arg name -> why; borrowed). */
void call_fields(struct call *c, json_t *reasons, int bad_json);

/* Twilio's error answer rs to the request that would action (API_ERROR), note appended. */
void call_api_error(struct call *c, const char *action, const struct twilio_response *rs,
                    const char *note);

/* The idempotency store's refusal of a claim (a conflict, a call in flight, the store down):
 * its code, words and HTTP status. */
void call_refused(struct call *c, enum idem_claim claim);

/* The answer kept for the call's Idempotency-Key (body malloc'd, taken). */
void call_replayed(struct call *c, char *body, size_t len);

/* Adds one request's cost to the call's figures: its attempts, the time since t0_ms, Twilio's
 * status and request id (the last request's). */
void call_count(struct call *c, const struct twilio_response *rs, long t0_ms);

/* How a keyed call is claimed and what it performs (call_keyed). */
struct call_keyed {
    const struct prepared *creds; /* the credentials the key is scoped to, and the request the
                                     fingerprint is made of */
    const char *scope;            /* added to the scoped key (bulk: the block's name, and a
                                     recipient's number for its own claim), or NULL */
    const char *name;             /* the block's name, in the fingerprint */
    int chosen;              /* product and method in the fingerprint (the caller chose them) */
    const unsigned char *fp; /* a fingerprint made by the caller instead, or NULL */
    long wait_ms;            /* how long to wait for an earlier claim in flight */
    int lapsed_runs;         /* a lapsed claim performs again (bulk: each recipient's claim
                                     answers for those already sent to) */
    int legacy;              /* also claim the key's name of earlier versions in Redis */
    const char *maybe;       /* what a kept answer that could not be built says was done;
                                     NULL: such an answer is not kept */
    int recipient;           /* one bulk recipient's send: its answer is the recipient's result
                                object ({"sid", "status", ...}) as text, not an envelope, and a
                                refusal is worded for the recipient */
    /* Performs the call and answers it; returns whether a repeat under the key must get this
     * answer rather than perform again. */
    int (*perform)(struct call *c, void *arg);
    void *arg;
};

/* The at-most-once protocol, the one place it is written, with its wording: the call's
 * Idempotency-Key (c->key, not NULL) is checked, scoped to k->creds and claimed; a fresh claim
 * performs, and the answer is kept for repeats (settled) or the key let go, as perform says; a
 * replay answers the kept answer; a refusal (another request's key, one in flight, a lapsed
 * claim, the store down) answers why. Returns what the claim found (IDEM_NOMEM also for a key
 * that is not valid); when memory ran out, a recipient's answer body is NULL. */
enum idem_claim call_keyed(struct call *c, const struct call_keyed *k);

/* Appends to msg the words for the end of one request (o, from send_classify; answered: Twilio
 * answered): why no usable answer came, or the note that follows Twilio's own error (a 429
 * after attempts of them, a 5xx that may have acted: maybe); nothing for the other outcomes.
 * Returns 0, or -1 when memory ran out. */
int call_note(struct buf *msg, enum send_outcome o, const struct twilio_response *rs, int answered,
              int attempts, const char *maybe);

#endif

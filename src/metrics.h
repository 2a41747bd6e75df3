/* metrics: the service's counters, gauges and histograms, rendered in the Prometheus text
 * exposition format (0.0.4). Updates are lock-free atomics, so the request path never waits.
 * Label values are bounded: block and outcome names are interned into small fixed tables (by
 * content, on first use), and anything past a table's size is counted under "other". */
#ifndef METRICS_H
#define METRICS_H

#include <stdatomic.h>
#include <time.h>

#include "buf.h"

#define METRICS_MAX_BLOCKS 64
#define METRICS_MAX_OUTCOMES 64
#define METRICS_BUCKETS 9 /* upstream latency buckets below +Inf */

/* Embedded by its owner (no allocation, so nothing to fail or free); the fields are this
 * module's own. */
struct metrics {
    _Atomic(const char *) blocks[METRICS_MAX_BLOCKS];
    _Atomic(const char *) outcomes[METRICS_MAX_OUTCOMES];
    struct metrics_block {
        atomic_int listed; /* registered, or has upstream series to show */
        atomic_ullong requests[METRICS_MAX_OUTCOMES + 1]; /* the last: "other" */
        atomic_ullong buckets[METRICS_BUCKETS + 1];       /* not cumulative; the last: +Inf */
        atomic_ullong upstream_ms_sum;
        atomic_ullong retries;
        atomic_ullong replays;
        atomic_ullong responses[5];  /* Twilio's answers by status class, 1xx to 5xx */
    } block[METRICS_MAX_BLOCKS + 1]; /* the last counts names past the table: "other" */
    atomic_long in_flight;
    long workers;               /* THREADS */
    atomic_long workers_busy;   /* workers holding a client connection */
    atomic_ullong closed_early; /* replies that closed a connection because workers were scarce */
    struct timespec started;
};

/* What one block call cost at Twilio: added up by the call (call.h), counted here and logged
 * by the server, carried in this one struct all the way. */
struct metrics_figures {
    int attempts;         /* requests sent to Twilio, retries included; 0: Twilio not called */
    int retries;          /* of them, repeats of a request already tried */
    long upstream_status; /* HTTP status of Twilio's last answer, 0 when none came */
    long upstream_ms;     /* time spent on the Twilio call, retries and backoff included */
    int replayed;         /* answered from the Idempotency-Key store */
    char twilio_request_id[96]; /* of Twilio's last answer; "" when none */
};

/* One finished request. block and outcome must stay valid as long as the metrics do (the
 * server passes block names from its block set, or "-", and string literals for outcomes). */
struct metrics_request {
    const char *block;
    const char *outcome;
    const struct metrics_figures *figures; /* NULL: Twilio was not called */
};

/* Sets every counter to zero and notes the start time and the number of workers. */
void metrics_init(struct metrics *m, long workers);

/* Registers a block name up front, so its per-block series show (at zero) before its first
 * call. Returns 0, or -1 when the block table is full. */
int metrics_add_block(struct metrics *m, const char *block);

void metrics_request_begin(struct metrics *m);
void metrics_request_end(struct metrics *m, const struct metrics_request *r);

/* A worker took a client connection, or let it go. Returns the workers now holding one. */
long metrics_connection_taken(struct metrics *m);
void metrics_connection_left(struct metrics *m);
long metrics_workers_busy(struct metrics *m);

/* A reply closed a connection its client wanted to keep, because workers were scarce. */
void metrics_closed_early(struct metrics *m);

/* Appends every metric to out; queued is the number of connections waiting in the listen queue.
 * Returns 0, or -1 when out could not take it all. */
int metrics_render(struct metrics *m, long queued, struct buf *out);

#endif

#include "metrics.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* Upper bounds of the upstream latency buckets in ms: Twilio usually answers in 100-500 ms,
 * and UPSTREAM_TIMEOUT_MS defaults to 15 s. */
static const long bucket_ms[] = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000};
static const char *const bucket_le[] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "15"};
#define N_BUCKETS METRICS_BUCKETS
_Static_assert(sizeof bucket_ms / sizeof bucket_ms[0] == N_BUCKETS, "one bound per bucket");
_Static_assert(sizeof bucket_le / sizeof bucket_le[0] == N_BUCKETS, "one label per bucket");

#define OTHER_BLOCK METRICS_MAX_BLOCKS
#define OTHER_OUTCOME METRICS_MAX_OUTCOMES

/* The slot of name, interning it on first use; max (the "other" slot) when the table is full.
 * Slots fill in order and never change, so two threads interning the same name race for the
 * same first empty slot and a name never takes two. */
static size_t intern(_Atomic(const char *) *t, size_t max, const char *name)
{
    for (size_t i = 0; i < max; i++) { /* the common case: the same string literal again */
        const char *p = atomic_load(&t[i]);
        if (!p)
            break;
        if (p == name)
            return i;
    }
    for (size_t i = 0; i < max; i++) {
        const char *p = atomic_load(&t[i]);
        if (!p) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&t[i], &expected, name))
                return i;
            p = expected;
        }
        if (strcmp(p, name) == 0)
            return i;
    }
    return max;
}

void metrics_init(struct metrics *m, long workers)
{
    memset(m, 0, sizeof *m); /* lock-free atomics: all-zero bytes are zero and NULL */
    m->workers = workers;
    clock_gettime(CLOCK_REALTIME, &m->started);
}

long metrics_connection_taken(struct metrics *m)
{
    return atomic_fetch_add_explicit(&m->workers_busy, 1, memory_order_relaxed) + 1;
}

void metrics_connection_left(struct metrics *m)
{
    atomic_fetch_sub_explicit(&m->workers_busy, 1, memory_order_relaxed);
}

long metrics_workers_busy(struct metrics *m)
{
    return atomic_load_explicit(&m->workers_busy, memory_order_relaxed);
}

void metrics_closed_early(struct metrics *m)
{
    atomic_fetch_add_explicit(&m->closed_early, 1, memory_order_relaxed);
}

int metrics_add_block(struct metrics *m, const char *block)
{
    size_t b = intern(m->blocks, METRICS_MAX_BLOCKS, block);
    if (b == OTHER_BLOCK)
        return -1;
    atomic_store(&m->block[b].listed, 1);
    return 0;
}

void metrics_request_begin(struct metrics *m)
{
    atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed);
}

static void add(atomic_ullong *c, unsigned long long n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void metrics_request_end(struct metrics *m, const struct metrics_request *r)
{
    size_t b = intern(m->blocks, METRICS_MAX_BLOCKS, r->block ? r->block : "-");
    size_t o = intern(m->outcomes, METRICS_MAX_OUTCOMES, r->outcome ? r->outcome : "-");
    struct metrics_block *pb = &m->block[b];
    static const struct metrics_figures none;
    const struct metrics_figures *f = r->figures ? r->figures : &none;
    add(&pb->requests[o], 1);
    if (f->attempts > 0) {
        size_t k = 0;
        long ms = f->upstream_ms > 0 ? f->upstream_ms : 0;
        while (k < N_BUCKETS && ms > bucket_ms[k])
            k++;
        add(&pb->buckets[k], 1);
        add(&pb->upstream_ms_sum, (unsigned long long)ms);
        add(&pb->retries, (unsigned long long)(f->retries > 0 ? f->retries : 0));
        if (f->upstream_status >= 100 && f->upstream_status < 600)
            add(&pb->responses[f->upstream_status / 100 - 1], 1);
    }
    if (f->replayed)
        add(&pb->replays, 1);
    if ((f->attempts > 0 || f->replayed) && !atomic_load(&pb->listed))
        atomic_store(&pb->listed, 1);
    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
}

static unsigned long long get(atomic_ullong *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* A label value with \, " and newline escaped, as the format requires. */
static int label(struct buf *out, const char *name, const char *value)
{
    if (buf_appendf(out, "%s=\"", name) < 0)
        return -1;
    for (const char *p = value; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (esc ? buf_appendz(out, esc) < 0 : buf_append(out, p, 1) < 0)
            return -1;
    }
    return buf_append(out, "\"", 1);
}

static int header(struct buf *out, const char *name, const char *type, const char *help)
{
    return buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *block_name(struct metrics *m, size_t b)
{
    return b == OTHER_BLOCK ? "other" : atomic_load(&m->blocks[b]);
}

/* A per-block series: name{block="..."[,key="value"]} n */
static int series(struct buf *out, const char *name, const char *block, const char *key,
                  const char *value, unsigned long long n)
{
    if (buf_appendf(out, "%s{", name) < 0 || label(out, "block", block) < 0)
        return -1;
    if (key && (buf_append(out, ",", 1) < 0 || label(out, key, value) < 0))
        return -1;
    return buf_appendf(out, "} %llu\n", n);
}

/* Block slots in use, in order, then the overflow slot: slot i of n + 1. */
static size_t block_slot(size_t i, size_t n)
{
    return i < n ? i : OTHER_BLOCK;
}

static size_t blocks_in_use(struct metrics *m)
{
    size_t n = 0;
    while (n < METRICS_MAX_BLOCKS && atomic_load(&m->blocks[n]))
        n++;
    return n;
}

static int histogram(struct buf *out, const char *block, struct metrics_block *pb)
{
    unsigned long long cumulative = 0;
    for (size_t k = 0; k <= N_BUCKETS; k++) {
        cumulative += get(&pb->buckets[k]);
        if (series(out, "twilio_block_upstream_duration_seconds_bucket", block, "le",
                   k < N_BUCKETS ? bucket_le[k] : "+Inf", cumulative) < 0)
            return -1;
    }
    unsigned long long sum = get(&pb->upstream_ms_sum);
    if (buf_appendz(out, "twilio_block_upstream_duration_seconds_sum{") < 0 ||
        label(out, "block", block) < 0 ||
        buf_appendf(out, "} %llu.%03llu\n", sum / 1000, sum % 1000) < 0)
        return -1;
    /* _count is the +Inf bucket as read here, so the two always agree. */
    return series(out, "twilio_block_upstream_duration_seconds_count", block, NULL, NULL,
                  cumulative);
}

int metrics_render(struct metrics *m, long queued, struct buf *out)
{
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const size_t nb = blocks_in_use(m);
    int rc = 0;

    rc |= header(out, "twilio_block_build_info", "gauge", "The running version, always 1.");
    rc |= buf_appendf(out, "twilio_block_build_info{version=\"%s\"} 1\n", TWILIO_BLOCK_VERSION);
    rc |= header(out, "twilio_block_start_time_seconds", "gauge",
                 "When the server started, in seconds since the Unix epoch.");
    rc |= buf_appendf(out, "twilio_block_start_time_seconds %lld.%03ld\n",
                      (long long)m->started.tv_sec, m->started.tv_nsec / 1000000L);
    rc |= header(out, "twilio_block_requests_in_flight", "gauge",
                 "Requests being handled now, this scrape included.");
    rc |= buf_appendf(out, "twilio_block_requests_in_flight %ld\n",
                      atomic_load_explicit(&m->in_flight, memory_order_relaxed));
    const long busy = metrics_workers_busy(m);
    rc |= header(out, "twilio_block_workers", "gauge", "Worker threads (THREADS).");
    rc |= buf_appendf(out, "twilio_block_workers %ld\n", m->workers);
    rc |= header(out, "twilio_block_workers_busy", "gauge",
                 "Workers holding a client connection: reading a request, handling it, or "
                 "waiting for the next one on a kept-alive connection.");
    rc |= buf_appendf(out, "twilio_block_workers_busy %ld\n", busy);
    rc |= header(out, "twilio_block_connections_open", "gauge",
                 "Client connections open: held by a worker, or waiting for one in the listen "
                 "queue.");
    rc |= buf_appendf(out, "twilio_block_connections_open %ld\n", busy + queued);
    rc |= header(out, "twilio_block_connections_closed_early_total", "counter",
                 "Replies that closed a connection its client wanted to keep, because workers "
                 "were scarce.");
    rc |= buf_appendf(out, "twilio_block_connections_closed_early_total %llu\n",
                      get(&m->closed_early));

    rc |= header(out, "twilio_block_requests_total", "counter",
                 "Requests answered, by block (\"-\" for other routes) and outcome.");
    for (size_t i = 0; i <= nb; i++) {
        size_t b = block_slot(i, nb);
        for (size_t o = 0; o <= OTHER_OUTCOME; o++) {
            unsigned long long n = get(&m->block[b].requests[o]);
            if (n)
                rc |= series(out, "twilio_block_requests_total", block_name(m, b), "outcome",
                             o == OTHER_OUTCOME ? "other" : atomic_load(&m->outcomes[o]), n);
        }
    }

    rc |= header(out, "twilio_block_upstream_duration_seconds", "histogram",
                 "Time spent on a block's Twilio call, retries and backoff included.");
    for (size_t i = 0; i <= nb; i++) {
        size_t b = block_slot(i, nb);
        if (atomic_load(&m->block[b].listed))
            rc |= histogram(out, block_name(m, b), &m->block[b]);
    }

    rc |= header(out, "twilio_block_upstream_retries_total", "counter",
                 "Twilio requests repeated because nothing could have been sent, or HTTP 429.");
    for (size_t i = 0; i <= nb; i++) {
        size_t b = block_slot(i, nb);
        if (atomic_load(&m->block[b].listed))
            rc |= series(out, "twilio_block_upstream_retries_total", block_name(m, b), NULL, NULL,
                         get(&m->block[b].retries));
    }

    rc |= header(out, "twilio_block_idempotent_replays_total", "counter",
                 "Block calls answered from the Idempotency-Key store without calling Twilio.");
    for (size_t i = 0; i <= nb; i++) {
        size_t b = block_slot(i, nb);
        if (atomic_load(&m->block[b].listed))
            rc |= series(out, "twilio_block_idempotent_replays_total", block_name(m, b), NULL, NULL,
                         get(&m->block[b].replays));
    }

    rc |= header(out, "twilio_block_upstream_responses_total", "counter",
                 "Twilio's answers to block calls (the last attempt's), by HTTP status class.");
    for (size_t i = 0; i <= nb; i++) {
        size_t b = block_slot(i, nb);
        for (size_t c = 0; c < 5; c++) {
            unsigned long long n = get(&m->block[b].responses[c]);
            if (n)
                rc |= series(out, "twilio_block_upstream_responses_total", block_name(m, b),
                             "status_class", classes[c], n);
        }
    }
    return rc ? -1 : 0;
}

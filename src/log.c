#include "log.h"

#include <stdarg.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"

static volatile enum log_level current = LOG_INFO;
static volatile enum log_format format = LOG_TEXT;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    current = level;
}

int log_enabled(enum log_level level)
{
    return level <= current;
}

int log_parse_level(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_format(enum log_format f)
{
    format = f;
}

int log_parse_format(const char *s, enum log_format *out)
{
    if (strcasecmp(s, "text") == 0)
        *out = LOG_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *out = LOG_JSON;
    else
        return -1;
    return 0;
}

/* RFC 3339 UTC with milliseconds: 2024-05-01T12:00:00.123Z */
static void now_rfc3339(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void write_out(const char *text, size_t n)
{
    ssize_t w = write(STDERR_FILENO, text, n);
    (void)w;
}

/* Request lines wait in a batch of their thread's and go out in one write, by size or once the
 * flusher finds them BATCH_AGE_MS old (so at most twice that late): a write per request was a
 * tenth of a fast call's system calls. At most PIPE_BUF bytes, so a write to a pipe never mixes
 * with another thread's. Other lines go out at once, after their thread's batch. */
#define BATCH_BYTES 4096
#define BATCH_AGE_MS 50
#define BATCH_FIRST 512 /* a batch's first allocation: one line, for a thread that logs seldom */

struct batch {
    pthread_mutex_t lock; /* guards what follows; its thread appends, the flusher takes */
    char *data;
    size_t len, cap;
    long since; /* clock_ms of the oldest line waiting */
    atomic_int taken;
    struct batch *next;
};

static _Atomic(struct batch *) batches; /* only grows; a thread's ends with it, for the next */
static _Thread_local struct batch *my_batch;
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;
static pthread_key_t batch_key;
static pthread_mutex_t flusher_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the three below */
static pthread_cond_t flusher_wake;
static int batch_users;         /* log_batch_start calls not yet stopped */
static unsigned long batch_run; /* the flusher's run; a run not current stops */
static pthread_t flusher;
static int flusher_up;
static atomic_int batching; /* request lines are batched while a server runs */

/* Writes what b holds; keep: the thread writes on, so its buffer stays. Call with b->lock held. */
static void batch_flush_locked(struct batch *b, int keep)
{
    if (b->len)
        write_out(b->data, b->len);
    b->len = 0;
    if (!keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

static void batch_end(void *p)
{
    struct batch *b = p;
    pthread_mutex_lock(&b->lock);
    batch_flush_locked(b, 0);
    pthread_mutex_unlock(&b->lock);
    atomic_store(&b->taken, 0);
}

static void batch_set_up(void)
{
    clock_cond_init(&flusher_wake);
    pthread_key_create(&batch_key, batch_end);
}

static struct batch *batch_mine(void)
{
    if (my_batch)
        return my_batch;
    struct batch *b;
    for (b = atomic_load(&batches); b; b = b->next) {
        int no = 0;
        if (!atomic_load(&b->taken) && atomic_compare_exchange_strong(&b->taken, &no, 1))
            break;
    }
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return NULL;
        pthread_mutex_init(&b->lock, NULL);
        atomic_init(&b->taken, 1);
        b->next = atomic_load(&batches);
        while (!atomic_compare_exchange_weak(&batches, &b->next, b))
            ;
    }
    pthread_setspecific(batch_key, b);
    return my_batch = b;
}

/* Writes every batch whose oldest line is from before cutoff (clock_ms). */
static void batch_flush_older(long cutoff)
{
    for (struct batch *b = atomic_load(&batches); b; b = b->next) {
        pthread_mutex_lock(&b->lock);
        if (b->len && b->since <= cutoff)
            batch_flush_locked(b, 0);
        pthread_mutex_unlock(&b->lock);
    }
}

static void *flush_loop(void *arg)
{
    const unsigned long run = (unsigned long)arg;
    pthread_mutex_lock(&flusher_lock);
    while (batch_run == run) {
        pthread_mutex_unlock(&flusher_lock);
        batch_flush_older(clock_ms() - BATCH_AGE_MS);
        pthread_mutex_lock(&flusher_lock);
        struct timespec t = clock_after(BATCH_AGE_MS);
        if (batch_run == run)
            pthread_cond_timedwait(&flusher_wake, &flusher_lock, &t);
    }
    pthread_mutex_unlock(&flusher_lock);
    return NULL;
}

int log_batch_start(void)
{
    pthread_once(&batch_once, batch_set_up);
    int rc = 0;
    pthread_mutex_lock(&flusher_lock);
    if (batch_users++ == 0) {
        sigset_t all, was; /* no signal for the process lands on the flusher */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &was);
        rc = pthread_create(&flusher, NULL, flush_loop, (void *)++batch_run);
        pthread_sigmask(SIG_SETMASK, &was, NULL);
        flusher_up = rc == 0;
        atomic_store(&batching, flusher_up);
    }
    pthread_mutex_unlock(&flusher_lock);
    return rc ? -1 : 0;
}

void log_batch_stop(void)
{
    pthread_mutex_lock(&flusher_lock);
    int last = --batch_users == 0 && flusher_up;
    pthread_t f = flusher;
    if (last) {
        flusher_up = 0;
        atomic_store(&batching, 0);
        batch_run++;
        pthread_cond_broadcast(&flusher_wake);
    }
    pthread_mutex_unlock(&flusher_lock);
    if (last)
        pthread_join(f, NULL);
    log_flush();
}

void log_flush(void)
{
    batch_flush_older(LONG_MAX);
}

/* A line that goes out now: after the lines its thread has waiting, to keep their order. */
static void write_line(const char *line, size_t n)
{
    struct batch *b = my_batch;
    if (b) {
        pthread_mutex_lock(&b->lock);
        batch_flush_locked(b, 1);
        pthread_mutex_unlock(&b->lock);
    }
    write_out(line, n);
}

/* A request's line: into its thread's batch while a server runs, else out now. */
static void write_request_line(const char *line, size_t n)
{
    struct batch *b = atomic_load(&batching) && n <= BATCH_BYTES ? batch_mine() : NULL;
    if (!b) {
        write_line(line, n);
        return;
    }
    pthread_mutex_lock(&b->lock);
    if (b->len + n > BATCH_BYTES)
        batch_flush_locked(b, 1);
    if (b->cap < b->len + n) {
        size_t cap = b->cap ? b->cap : BATCH_FIRST;
        while (cap < b->len + n)
            cap *= 2;
        char *more = realloc(b->data, cap < BATCH_BYTES ? cap : BATCH_BYTES);
        if (!more) {
            batch_flush_locked(b, 1);
            pthread_mutex_unlock(&b->lock);
            write_out(line, n);
            return;
        }
        b->data = more;
        b->cap = cap < BATCH_BYTES ? cap : BATCH_BYTES;
    }
    if (!b->len)
        b->since = clock_ms();
    memcpy(b->data + b->len, line, n);
    b->len += n;
    pthread_mutex_unlock(&b->lock);
}

/* Dumps obj as one line (a request's: batched) and frees it. Returns 0, or -1 when it could not
 * be built. */
static int write_json(json_t *obj, int request)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return -1;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return -1;
    }
    line[n] = '\n';
    if (request)
        write_request_line(line, n + 1);
    else
        write_line(line, n + 1);
    free(line);
    return 0;
}

static void vlog_text(int request, enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void vlog_text(int request, enum log_level level, const char *fmt, va_list ap)
{
    /* On the heap, not the stack: every worker logs its requests, and the pages a line buffer
     * touches stay with each of a thousand workers' stacks (4 MB at 1,000 in flight). */
    enum { LINE_MAX_BYTES = 2048 };
    char *line = malloc(LINE_MAX_BYTES);
    if (!line)
        return;
    now_rfc3339(line);
    size_t n = strlen(line);
    n += (size_t)snprintf(line + n, LINE_MAX_BYTES - n, " %s ", names[level]);
    int m = vsnprintf(line + n, LINE_MAX_BYTES - n - 1, fmt, ap);
    if (m >= 0) {
        n += (size_t)m < LINE_MAX_BYTES - n - 1 ? (size_t)m : LINE_MAX_BYTES - n - 2;
        line[n++] = '\n';
        if (request)
            write_request_line(line, n);
        else
            write_line(line, n);
    }
    free(line);
}

static void text_msg(int request, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void text_msg(int request, enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_text(request, level, fmt, ap);
    va_end(ap);
}

/* A message as a JSON string; bytes that are not valid UTF-8 become '?'. */
static json_t *message_string(char *msg, size_t n)
{
    json_t *s = json_stringn(msg, n);
    if (s)
        return s;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)msg[i] >= 0x80)
            msg[i] = '?';
    return json_stringn(msg, n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    if (format == LOG_TEXT) {
        vlog_text(0, level, fmt, ap);
        va_end(ap);
        return;
    }
    char msg[2048], stamp[32];
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t n = (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    now_rfc3339(stamp);
    if (write_json(json_pack("{s:s,s:s,s:o?}", "time", stamp, "level", names[level], "msg",
                             message_string(msg, n)),
                   0) < 0)
        text_msg(0, level, "%s", msg); /* out of memory: the line still goes out */
}

void log_request(const struct log_request *r)
{
    if (!log_enabled(LOG_INFO))
        return;
    static const struct metrics_figures none;
    const struct metrics_figures *f = r->figures ? r->figures : &none;
    const char *twilio_id = f->twilio_request_id;
    if (format == LOG_JSON) {
        char stamp[32];
        now_rfc3339(stamp);
        json_t *obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:i,s:I}", "time", stamp,
                                "level", "info", "msg", "request", "request_id", r->request_id,
                                "method", r->method, "path", r->path, "status", r->status, "block",
                                r->block, "outcome", r->outcome, "upstream_status",
                                f->upstream_status ? json_integer(f->upstream_status) : json_null(),
                                "attempts", f->attempts, "duration_ms", (json_int_t)r->duration_ms);
        if (obj && *twilio_id &&
            json_object_set_new(obj, "twilio_request_id", json_string(twilio_id)) < 0) {
            json_decref(obj);
            obj = NULL;
        }
        if (write_json(obj, 1) == 0)
            return;
    }
    text_msg(1, LOG_INFO,
             "%s %s status=%d block=%s outcome=%s upstream_status=%ld attempts=%d ms=%ld "
             "request_id=%s%s%s",
             r->method, r->path, r->status, r->block, r->outcome, f->upstream_status, f->attempts,
             r->duration_ms, r->request_id, *twilio_id ? " twilio_request_id=" : "", twilio_id);
}

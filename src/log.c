#include "log.h"

#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

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

static void write_line(const char *line, size_t n)
{
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

/* Dumps obj as one line and frees it. Returns 0, or -1 when it could not be built. */
static int write_json(json_t *obj)
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
    write_line(line, n + 1);
    free(line);
    return 0;
}

static void vlog_text(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vlog_text(enum log_level level, const char *fmt, va_list ap)
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
        write_line(line, n);
    }
    free(line);
}

static void text_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void text_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_text(level, fmt, ap);
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
        vlog_text(level, fmt, ap);
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
                             message_string(msg, n))) < 0)
        text_msg(level, "%s", msg); /* out of memory: the line still goes out */
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
        if (write_json(obj) == 0)
            return;
    }
    text_msg(LOG_INFO,
             "%s %s status=%d block=%s outcome=%s upstream_status=%ld attempts=%d ms=%ld "
             "request_id=%s%s%s",
             r->method, r->path, r->status, r->block, r->outcome, f->upstream_status, f->attempts,
             r->duration_ms, r->request_id, *twilio_id ? " twilio_request_id=" : "", twilio_id);
}

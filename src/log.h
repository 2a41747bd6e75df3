/* log: leveled, one-line-per-event logging to stderr, as text or as one JSON object per line,
 * request lines written in batches per thread while a server runs. Callers never pass
 * secrets. */
#ifndef LOG_H
#define LOG_H

struct metrics_figures;

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT, LOG_JSON };

void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/* Parses "error", "warn", "info" or "debug". Returns 0, or -1 for anything else. */
int log_parse_level(const char *s, enum log_level *out);

void log_set_format(enum log_format format);

/* Parses "text" or "json". Returns 0, or -1 for anything else. */
int log_parse_format(const char *s, enum log_format *out);

/* Writes "<UTC time> <level> <message>\n", or {"time":...,"level":...,"msg":...}, in one write
 * so lines from threads never mix. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One answered request. Strings are printable ASCII (the caller sanitises what it was sent). */
struct log_request {
    const char *request_id;
    const char *method;
    const char *path;
    int status;
    const char *block;
    const char *outcome;
    const struct metrics_figures *figures; /* what the call cost at Twilio; NULL: not called */
    long duration_ms;
};

/* Logs r at info level: the text line "<method> <path> status=... request_id=..." or a JSON
 * object with the same fields. Between log_batch_start and log_batch_stop it waits in its
 * thread's batch, written when the batch fills, when the thread writes another line or ends,
 * or within 100 ms. */
void log_request(const struct log_request *r);

/* Batches request lines from now on (a flusher thread writes them when they age); each call
 * is undone by one log_batch_stop, the last of which writes every line still waiting. Returns
 * 0, or -1 when the flusher could not start (lines are then written at once). */
int log_batch_start(void);
void log_batch_stop(void);

/* Writes every request line still waiting in any thread's batch. */
void log_flush(void);

#endif

/* log: leveled, one-line-per-event logging to stderr. Callers never pass secrets. */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/* Parses "error", "warn", "info" or "debug". Returns 0, or -1 for anything else. */
int log_parse_level(const char *s, enum log_level *out);

/* Writes "<UTC time> <level> <message>\n" in one write so lines from threads never mix. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

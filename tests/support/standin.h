/* standin: a scriptable Twilio stand-in on 127.0.0.1 (a second civetweb context) that records
 * every request it gets (method, path, Authorization and X-Twilio-Webhook-Enabled headers, form
 * body) and answers as told. */
#ifndef STANDIN_H
#define STANDIN_H

#include <stddef.h>

struct standin_answer {
    int status;
    const char *content_type;
    const char *body;
    int delay_ms;            /* wait this long before answering (bounded so mg_stop stays quick) */
    const char *retry_after; /* Retry-After header value, or NULL */
    long short_by;           /* declare this many bytes more than the body holds, then close */
};

struct standin_record {
    char method[16];
    char path[512];
    char authorization[512];
    char webhook_enabled[16]; /* the X-Twilio-Webhook-Enabled header, "" when absent */
    char body[16384];
    int remote_port;  /* the caller's side of the connection: equal ports, one connection */
    long at_ms;       /* when it arrived (clock_ms) */
    long answered_ms; /* when its answer was sent (clock_ms) */
};

struct standin;

struct standin *standin_start(void);
/* The same, keeping connections open between requests (8 at most: one per stand-in thread). */
struct standin *standin_start_keep_alive(void);
int standin_port(const struct standin *s);
/* Every following request gets this answer (copied; strings must outlive the requests). */
void standin_answer(struct standin *s, const struct standin_answer *a);
/* The following requests get answers[0], answers[1], ..., the last one repeating (n <= 8). */
void standin_script(struct standin *s, const struct standin_answer *answers, size_t n);
size_t standin_count(struct standin *s);
/* Copies request i (0-based) into out; returns 0, or -1 if there is none. */
int standin_request(struct standin *s, size_t i, struct standin_record *out);
/* Copies the form parameter name of request i (its first value) into out, "" when it has none.
 * Returns 0, or -1 if there is no request i. */
int standin_param(struct standin *s, size_t i, const char *name, char *out, size_t size);
void standin_clear(struct standin *s);
/* From now on (until standin_clear) an answer's SMaaaa...a SID becomes SM and the request's
 * number (0-based, as standin_request counts) in 32 hex digits. */
void standin_number_sids(struct standin *s);
/* The SID that standin_number_sids gives request n, in out. */
const char *standin_sid(size_t n, char out[35]);
/* The most requests it was handling at once since the last standin_clear. */
int standin_max_in_flight(struct standin *s);
void standin_stop(struct standin *s);

/* dropper: a raw TCP listener that reads each request whole and then resets the connection
 * without answering, as a crash after receiving would. */
struct dropper;
struct dropper *dropper_start(void);
int dropper_port(const struct dropper *d);
size_t dropper_count(struct dropper *d); /* requests read */
void dropper_stop(struct dropper *d);

/* A created message as Twilio answers it (trimmed). */
extern const char standin_message_201[];

#endif

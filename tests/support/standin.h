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
    int remote_port; /* the caller's side of the connection: equal ports, one connection */
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
void standin_clear(struct standin *s);
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

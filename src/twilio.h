/* twilio: one HTTP request to the Twilio REST API over a caller-owned curl handle, with
 * timeouts, a capped response and a plain-words account of any transport failure. */
#ifndef TWILIO_H
#define TWILIO_H

#include <curl/curl.h>
#include <stddef.h>

#include "buf.h"

struct twilio_request {
    const char *method; /* POST, GET or DELETE */
    const char *base;   /* the configured API base, named in failure texts */
    const char *url;    /* full URL; for GET the form goes in the query string */
    const char *username;
    const char *password;
    const char *form;
    size_t form_len;
    long timeout_ms;
    long connect_timeout_ms;
    int allow_http; /* plain http only when the operator configured an http:// base */
};

struct twilio_response {
    long status;            /* HTTP status, 0 when no answer came */
    struct buf body;        /* capped */
    char content_type[128];
    char request_id[96];    /* Twilio-Request-Id, when sent */
    char error[512];        /* why the transfer failed, for people; never holds a credential */
};

/* Initialises rs with a body capped at max_body bytes. */
void twilio_response_init(struct twilio_response *rs, size_t max_body);
void twilio_response_free(struct twilio_response *rs);

/* Performs rq on h (reset first, so its connection cache survives). Returns 0 when Twilio
 * answered (any status; see rs->status), -1 when it did not, with rs->error saying why. */
int twilio_perform(CURL *h, const struct twilio_request *rq, struct twilio_response *rs);

#endif

/* twilio: HTTP out. One Twilio request over a caller-owned curl handle, with timeouts inside
 * one overall deadline, a capped response, the retry policy (retry only what cannot have been
 * sent: refused, DNS, TLS handshake, connect timeout, HTTP 429), a POST never sent twice (not
 * even by libcurl's own resend on a dead reused connection) and a plain-words account of any
 * failure that never holds a credential. */
#ifndef TWILIO_H
#define TWILIO_H

#include <stddef.h>
#include <curl/curl.h>

#include "buf.h"
#include "upstream.h"

struct twilio_request {
    const char *method; /* POST, GET or DELETE */
    const char *base;   /* the configured API base, named in failure texts */
    const char *url;    /* full URL; for GET and DELETE the form goes in the query string */
    const char *username;
    const char *password;
    const char *form;
    size_t form_len;
    const char *headers;     /* more request headers, "Name: value" lines each ending \n; or NULL */
    long timeout_ms;         /* overall deadline for every attempt together */
    long connect_timeout_ms; /* per attempt */
    long retry_max;
    int pace_429;         /* a 429 is answered at once, not retried: the caller paces (bulk) */
    const char *ca_file;  /* NULL or "": the system's CA store */
    int allow_http;       /* plain http only when the operator configured an http:// base */
    struct upstream *via; /* runs the transfers; NULL: on the calling thread */
    /* What a request that may have reached Twilio may have done, in words ("the message may
     * have been created"); NULL: "it may have been acted on". */
    const char *maybe;
};

enum twilio_outcome {
    TWILIO_ANSWERED,   /* Twilio answered; see status */
    TWILIO_NOT_SENT,   /* nothing can have reached Twilio */
    TWILIO_MAYBE_SENT, /* the request may have reached Twilio, but no usable answer came */
};

struct twilio_response {
    enum twilio_outcome outcome;
    long status;     /* HTTP status of the last answer, 0 when none came */
    int attempts;    /* requests tried, retries included */
    struct buf body; /* capped */
    char content_type[128];
    char request_id[96]; /* Twilio-Request-Id, when sent */
    long retry_after_ms; /* from Retry-After, -1 when absent */
    char error[512];     /* why it failed (outcome != TWILIO_ANSWERED) */
};

/* Initialises rs with a body capped at max_body bytes. */
void twilio_response_init(struct twilio_response *rs, size_t max_body);
void twilio_response_free(struct twilio_response *rs);

/* Performs rq on *hp (reset first, so its connection cache survives; replaced by a new handle
 * when curl left it unsound), retrying per the policy. Returns 0 when Twilio answered
 * (rs->status), -1 otherwise with rs->outcome and rs->error. */
int twilio_perform(CURL **hp, const struct twilio_request *rq, struct twilio_response *rs);

/* Appends the base of one request to product (api, verify, lookups, ...) to out: the
 * operator's base when they set one, whatever the product (a mock serving every product's
 * spec); otherwise https://{product}.{edge}.{region}.twilio.com as Twilio's libraries build it
 * (an edge without a region goes to us1; neither gives https://{product}.twilio.com, or the
 * configured default for api). Returns 0 or -1. */
int twilio_product_base(struct buf *out, const char *product, const char *configured,
                        int configured_set, const char *edge, const char *region);

/* twilio_product_base for the api product (api.twilio.com: Messages, Calls, ...). */
int twilio_base_url(struct buf *out, const char *configured, int configured_set, const char *edge,
                    const char *region);

#endif

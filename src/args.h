/* args: a caller's args object turned into a checked Twilio request for one block. Loose types
 * are coerced, every value is checked against the block definition, and the form body and the
 * Twilio path are built in definition order. */
#ifndef ARGS_H
#define ARGS_H

#include <jansson.h>

#include "block.h"
#include "buf.h"
#include "value.h"

struct prepared {
    const char *product; /* the Twilio product (host) and method: the block's */
    const char *method;
    struct buf path;     /* the block's path with its placeholders filled and escaped */
    json_t *ids;         /* each path placeholder's value but the credentials', by arg name */
    struct buf form;     /* the encoded parameters */
    struct buf headers;  /* HTTP headers from header args: "Name: value" lines, each ending \n */
    struct buf username; /* basic-auth pair */
    struct buf password;
    int dry_run;   /* the block's dryRun arg was true */
    char edge[32]; /* lower-cased edge and region args; "" when not given */
    char region[32];
    const struct block_def *b; /* whose args these are; NULL for a flow's own request */
    struct text *values;       /* each scalar arg's value as its checks settled on it, in
                                  definition order (trimmed, a phone number without separators,
                                  a number as sent); p NULL: not given */
    json_t *kept;              /* the copies values point into */
};

enum args_status {
    ARGS_OK = 0,
    ARGS_INVALID = -1,  /* fields missing or wrong: REQUIRED_FIELDS */
    ARGS_BAD_JSON = -2, /* the only faults are JSON-typed args that do not parse */
    ARGS_NOMEM = -3,    /* out of memory, or the form passed form_cap */
};

/* Checks args (a JSON object) against b. On ARGS_OK, out holds the request (free it with
 * args_prepared_free). On ARGS_INVALID or ARGS_BAD_JSON, *reasons is a new object mapping each
 * failing arg name, in definition order, to why it failed; the caller owns it. */
enum args_status args_prepare(const struct block_def *b, json_t *args, size_t form_cap,
                              struct prepared *out, json_t **reasons);

void args_prepared_free(struct prepared *p);

/* The value of p's arg called name as its checks settled on it; n 0 when it was not given (or
 * is no scalar). Flows read their args this way, never from the raw args. */
struct text args_value(const struct prepared *p, const char *name);

/* The arg called name as a whole number (a Number arg, checked whole and in range): 1 with
 * *out when given, 0 when not. */
int args_long(const struct prepared *p, const char *name, long long *out);

/* The arg called name as a date (an arg with the date check): 1 with *epoch, seconds since
 * the epoch, when given, 0 when not. */
int args_time(const struct prepared *p, const char *name, long long *epoch);

#endif

/* block: block definitions (blocks/<name>.json, with the args they share in
 * blocks/common/args.json) and the events in metadata.json, parsed into checked structs; lookup
 * by name; and the package metadata served at GET /api/twilio, composed and serialised once. */
#ifndef BLOCK_H
#define BLOCK_H

#include <stddef.h>
#include <jansson.h>

#include "embedded.h"

enum arg_type {
    ARG_CREDENTIALS,
    ARG_STRING,
    ARG_NUMBER,
    ARG_BOOLEAN,
    ARG_SELECT,
    ARG_LIST,
    ARG_JSON,
    ARG_DATE
};
/* Addresses: a recipient (a phone number or a channel address), a sender (also short codes and
 * alphanumeric IDs), a phone number only, or a phone number or an email address (Verify). */
enum addr_kind { ADDR_NONE, ADDR_TO, ADDR_FROM, ADDR_PHONE, ADDR_PHONE_OR_EMAIL };

/* What the engine itself does with an arg that is not a Twilio parameter. */
enum arg_role {
    ROLE_NONE,
    ROLE_DRY_RUN,      /* Boolean: answer with the request instead of sending it */
    ROLE_NEXT_PAGE,    /* String: a list's next_page_uri, sent instead of the path and params */
    ROLE_EDGE,         /* String: Twilio edge location (api.{edge}.{region}.twilio.com) */
    ROLE_REGION,       /* String: Twilio region */
    ROLE_MESSAGE_BODY, /* a message text: dry runs count its segments */
    /* A block whose caller chooses the request (twilioRequest): */
    ROLE_PRODUCT, /* Select: the product, one of the options, never a host of the caller's */
    ROLE_METHOD,  /* Select: GET, POST or DELETE */
    ROLE_PATH,    /* String: the path on the product's host, checked before anything is sent */
    ROLE_PARAMS,  /* JSON object: each member a Twilio parameter */
    ROLE_IDEMPOTENCY_KEY, /* String: the call's Idempotency-Key when no header gives one */
};

struct arg_def {
    const char *name;
    const char *param;  /* Twilio form parameter; NULL for credentials and path args */
    const char *header; /* sent as this HTTP header instead of a parameter, or NULL */
    const char *join;   /* a List sent as one parameter, its items joined by this, or NULL */
    enum arg_type type;
    int required;
    json_t *options; /* borrowed: Select options, or the options of a List's items; or NULL */
    enum addr_kind address;
    json_t *sid_prefixes; /* borrowed: allowed two-letter SID prefixes, or NULL */
    int url;
    int has_min, has_max;
    long long min, max;
    int decimal;
    long max_length;           /* characters; -1 when unlimited */
    long min_items, max_items; /* -1 when unlimited */
    const char *charset;
    int date;   /* an ISO 8601 date or date-time */
    int secret; /* masked wherever the request is shown */
    enum arg_role role;
    size_t *requires; /* indexes into the block's args */
    size_t n_requires;
};

struct arg_group {
    size_t *idx;
    size_t n;
};

/* A basic-auth pair: indexes of the username and password args. */
struct auth_pair {
    size_t user, pass;
};

/* A bulk block ("each" in its definition) calls another block once per item of one of its own
 * args: the item gives that block's item arg, or is an object giving it and any of overrides;
 * every other arg is passed on as it is. */
struct each_def {
    const char *name;              /* the block called for each item */
    const struct block_def *block; /* resolved by block_set_load; NULL after block_parse alone */
    size_t list;                   /* index of the list arg in the bulk block's args */
    const char *item;              /* the arg of block that an item gives */
    json_t *overrides;             /* borrowed: names of block's args an item may also give */
};

struct block_def {
    const char *name;
    /* A block answered here, without Twilio: the name of its handler (a call_fn; dispatch finds
     * it), the event's own name for an event; or NULL. */
    const char *handler;
    struct each_def *each; /* a bulk block (see bulk.h); or NULL */
    int event;             /* an event of metadata.json: its args are each listener's */
    /* A block that makes several Twilio requests: its flow's name and the whole "flow" object
     * of its definition (borrowed), or NULL. Its own product, method and path are the request
     * its args build (a call_fn, call.h). */
    const char *flow_kind;
    json_t *flow;
    /* The Twilio request; NULL for handler and bulk blocks. product names the host: api,
     * verify, ... */
    const char *product;
    const char *method;
    const char *path;
    const char *action;
    struct auth_pair *auth; /* alternatives, in order of preference */
    size_t n_auth;
    json_t *fixed; /* borrowed: Twilio parameters always sent ({"Status": "canceled"}), or NULL */
    /* Each object in the answer's array content_list gets content_key: the URL of its content
     * (its uri without .json, on the request's base). NULL when the block has none. */
    const char *content_list, *content_key;
    struct arg_def *args;
    size_t n_args;
    struct arg_group *one_of;
    size_t n_one_of;
    struct arg_group *exclusive; /* groups of which at most one arg may be given */
    size_t n_exclusive;
    json_t *root; /* the definition with shared args resolved; owns every string above */
};

struct block_set;

/* Parses one block definition; {"use": "name"} args are taken from common (a JSON array of
 * arg definitions, or NULL). Returns 0, or -1 with the reason in err and *out untouched.
 * On success *out owns its memory; release it with block_def_free. */
int block_parse(const char *name, const char *text, size_t len, json_t *common,
                struct block_def *out, char *err, size_t errlen);
void block_def_free(struct block_def *b);

/* Loads every block, the args they share (common: blocks/common/args.json, or NULL) and the
 * metadata, checks they agree (each block listed in metadata.json's "blocks" has a file, and
 * each file is listed) and composes the served metadata.
 * Returns a set the caller frees with block_set_free, or NULL with the reason in err. */
struct block_set *block_set_load(const struct embedded_file *metadata,
                                 const struct embedded_file *common,
                                 const struct embedded_file *files, size_t n, char *err,
                                 size_t errlen);
void block_set_free(struct block_set *set);

const struct block_def *block_find(const struct block_set *set, const char *name, size_t len);

/* The example args of b as a JSON object, for documents and tests: every arg that can go with
 * the others (not a next page, not the later args of an exclusive group, not an arg that
 * requires one left out), or (minimal) only the required args, the first credential pair and
 * the first arg of each oneOf group. Args without an example are left out.
 * NULL when memory ran out; the caller owns the result. */
json_t *block_example_args(const struct block_def *b, int minimal);

/* For an arg k that cannot go with all the others (a later arg of an exclusive group): the
 * minimal example args without the args of any exclusive group, with k and what it requires.
 * NULL when memory ran out; the caller owns the result. */
json_t *block_alternative_args(const struct block_def *b, size_t k);
size_t block_count(const struct block_set *set);
const struct block_def *block_at(const struct block_set *set, size_t i);

/* The events of metadata.json, in order. */
size_t block_event_count(const struct block_set *set);
const struct block_def *block_event_at(const struct block_set *set, size_t i);

/* An event of metadata.json's "events" (its listeners' args as a handler block), or NULL. */
const struct block_def *block_find_event(const struct block_set *set, const char *name, size_t len);

/* The served metadata document (compact JSON), owned by the set. */
const char *block_metadata(const struct block_set *set, size_t *len);

/* Whether product can name a Twilio product's host ({product}.twilio.com): 1 to 31 lower-case
 * letters, digits and '-', not at either end. */
int block_product_name_ok(const char *product);

/* Index of the arg called name, or -1. */
long block_arg_index(const struct block_def *b, const char *name);

/* Index of the arg with that role, or -1. */
long block_role_index(const struct block_def *b, enum arg_role role);

#endif

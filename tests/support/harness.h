/* harness: the real server started in-process on 127.0.0.1:0 with the embedded blocks, an
 * upstream stand-in beside it, and a small libcurl client for the tests. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>

#include "block.h"
#include "buf.h"
#include "server.h"
#include "standin.h"

struct http_reply {
    long status;
    struct buf body;
    char allow[64];
    char content_type[64];
};

/* One request; body may be NULL. Returns 0 when an answer came, -1 otherwise. */
int http_call(const char *method, const char *url, const char *body, size_t len,
              struct http_reply *r);
/* The same with a Content-Type and, unless NULL, basic auth "user:password". */
int http_call_ex(const char *method, const char *url, const char *content_type,
                 const char *userpwd, const char *body, size_t len, struct http_reply *r);
void http_reply_free(struct http_reply *r);

struct harness {
    struct block_set *blocks;
    struct server *srv;
    struct standin *up;
    char url[128]; /* http://127.0.0.1:PORT */
};

/* Starts the stand-in and the server pointed at api_base (NULL: the stand-in), with the given
 * upstream timeout and body cap (0: defaults). Returns 0 or -1. */
int harness_start(struct harness *h, const char *api_base, long upstream_timeout_ms,
                  long max_body_bytes);
void harness_stop(struct harness *h);

/* POSTs json to /api/twilio/<block>. */
int harness_post(struct harness *h, const char *block, const char *json, struct http_reply *r);

/* The example args of block b as a JSON object: every arg, or (minimal) only the required
 * args and the first arg of each oneOf group. The caller owns the result. */
json_t *harness_example_args(const struct block_def *b, int minimal);

#endif

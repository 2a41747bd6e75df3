/* flow: a block that needs several Twilio requests (read, then write; pages), declared with
 * "flow": {"kind": "<name>", ...} in blocks/<name>.json and run by the module of that name.
 * Dispatch (pipeline.c) calls a flow once the args passed the block's checks; a flow sends only
 * through send.h and never calls back up. */
#ifndef FLOW_H
#define FLOW_H

#include <curl/curl.h>
#include <jansson.h>

#include "args.h"
#include "block.h"
#include "send.h"

/* Runs one call of flow block b: args are the caller's (borrowed), prep the checked request of
 * the block's own definition (its credentials, edge, region, path and parameters). slot is the
 * caller's curl handle slot as for send_perform. key is the Idempotency-Key, or NULL. Fills
 * *out (status 200 and what "internal_error" on entry); the caller frees out->body. */
typedef void (*flow_fn)(const struct send_service *svc, const struct block_def *b, json_t *args,
                        const struct prepared *prep, CURL **slot, const char *key,
                        struct send_answer *out);

#endif

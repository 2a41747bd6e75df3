/* pipeline: dispatch, and the one entry point for running a block call. Whoever runs a block
 * (the HTTP server, a campaign, the MCP front door) calls pipeline_run; it checks the args
 * against the block and finds the block's kind in its one table of call_fns (call.h): a
 * handler, an event, bulk, a flow, the single send or its dry run. Nothing below calls back
 * up. */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stddef.h>
#include <curl/curl.h>
#include <jansson.h>

#include "block.h"
#include "call.h"
#include "send.h"

/* Checks that every block and event of set names a kind (handler, flow) the table has, and
 * every flow's keys (a poll's list, date, filter and pageSize). Returns 0, or -1 with the
 * block and what is wrong in err. */
int pipeline_check(const struct block_set *set, char *err, size_t errlen);

/* Runs one call of block b on args (a JSON object, borrowed), from anywhere: no HTTP request
 * need be in sight. svc is what every call shares (send_service_start). slot is the caller's
 * slot for a Twilio handle: a handle made here on the first call that needs one stays in *slot
 * for the caller to reuse and free; with slot NULL a handle is made and freed for this call.
 * idempotency_key is the caller's Idempotency-Key, or NULL (the arg with the idempotencyKey
 * role counts then). Fills *out: the envelope (out->body, malloc'd, the caller frees it; NULL
 * when memory ran out), the HTTP status to answer with, extra headers, the outcome's name and
 * what the call cost at Twilio (out->figures). */
void pipeline_run(const struct send_service *svc, const struct block_def *b, json_t *args,
                  CURL **slot, const char *idempotency_key, struct call_answer *out);

#endif

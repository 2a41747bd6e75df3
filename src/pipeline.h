/* pipeline: dispatch. One block call, args in and envelope out, with no HTTP server in sight:
 * by kind of block, the handler (handler.h) or the event answers it, bulk.c or the block's flow
 * runs it, or its args are checked and the request is shown (a dry run) or sent once through
 * send.h. server.c reads requests and writes these answers; nothing below calls back up. */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stddef.h>
#include <curl/curl.h>
#include <jansson.h>

#include "block.h"
#include "send.h"

/* Checks that every flow and handler a block or event of set names exists. Returns 0, or -1
 * with the block and the missing name in err. */
int pipeline_check(const struct block_set *set, char *err, size_t errlen);

/* Runs block b on args (a JSON object, borrowed). curl is the caller's slot for a Twilio
 * handle: a handle made here on the first call that needs one stays in *curl for the caller to
 * reuse and free; with curl NULL a handle is made and freed for this call. Connections live
 * with the handle when p->upstream is NULL, and otherwise in upstream.c (its lent handles and
 * loops). idempotency_key is the Idempotency-Key header, or NULL (the arg with the
 * idempotencyKey role counts then). Fills *out; the caller frees out->body. */
void pipeline_run(const struct send_service *p, const struct block_def *b, json_t *args,
                  CURL **curl, const char *idempotency_key, struct send_answer *out);

#endif

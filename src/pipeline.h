/* pipeline: one block call, args in and envelope out, with no HTTP server in sight. The args
 * are checked against the block; then the service answers itself (handler blocks, events),
 * shows the request (a dry run), or sends it to Twilio at most once per Idempotency-Key and
 * words Twilio's answer as the marketplace envelope. server.c reads requests and writes these
 * answers. */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "args.h"
#include "block.h"
#include "buf.h"
#include "config.h"
#include "idem.h"
#include "send.h"
#include "upstream.h"

/* Checks that every flow a block of set names exists. Returns 0, or -1 with the block and
 * flow named in err. */
int pipeline_check(const struct block_set *set, char *err, size_t errlen);

/* Runs block b on args (a JSON object, borrowed). curl is the caller's slot for a Twilio
 * handle: a handle made here on the first call that needs one stays in *curl for the caller to
 * reuse and free (its connections survive between calls); with curl NULL a handle is made and
 * freed for this call. idempotency_key is the Idempotency-Key header, or NULL (the
 * idempotencyKey arg counts then). Fills *out; the caller frees out->body. */
void pipeline_run(const struct send_service *p, const struct block_def *b, json_t *args, CURL **curl,
                  const char *idempotency_key, struct send_answer *out);

#endif

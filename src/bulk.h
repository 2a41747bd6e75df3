/* bulk: blocks that call another block once per entry of a list ("each" in blocks/<name>.json;
 * sendBulkSms sends sendSms to each recipient), after the whole list is checked (recipients.h).
 * A batch runs on its worker and a few threads of its own: at most BULK_CONCURRENCY sends in
 * flight, halved by a Twilio 429 whose Retry-After pauses every send, and none started after
 * BULK_DEADLINE_MS. With an Idempotency-Key each recipient is claimed in the idempotency store
 * on its own, so a repeat never sends again to a recipient that was or may have been sent to;
 * the whole answer is kept once no recipient is left to try. */
#ifndef BULK_H
#define BULK_H

#include <curl/curl.h>
#include <jansson.h>

#include "block.h"
#include "send.h"

/* Runs one call of bulk block b (a flow below dispatch) with the caller's args (borrowed) and
 * Idempotency-Key (or NULL); slot is the calling worker's curl handle slot as for
 * send_perform (the batch's first sender uses it). Fills out, which the caller set up as for a
 * flow (status 200); the caller frees out->body. */
void bulk_run(const struct send_service *svc, const struct block_def *b, json_t *args, CURL **slot,
              const char *key, struct send_answer *out);

#endif

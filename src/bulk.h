/* bulk: blocks that call another block once per entry of a list ("each" in blocks/<name>.json;
 * sendBulkSms sends sendSms to each recipient), after the whole list is checked (recipients.h).
 * A batch runs on its worker and a few threads of its own: at most BULK_CONCURRENCY sends in
 * flight, halved by a Twilio 429 whose Retry-After pauses every send, and none started after
 * BULK_DEADLINE_MS. With an Idempotency-Key each recipient is claimed in the idempotency store
 * on its own, so a repeat never sends again to a recipient that was or may have been sent to;
 * the whole answer is kept once no recipient is left to try. */
#ifndef BULK_H
#define BULK_H

#include "call.h"

/* Runs one call of bulk block c->b (a call_fn, call.h) with the caller's args and
 * Idempotency-Key (or none); the batch's first sender uses the call's curl slot. */
void bulk_run(struct call *c);

#endif

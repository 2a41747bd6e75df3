/* polling: the polling-trigger flow ("flow": {"kind": "poll"}). One call answers what is new in a
 * Twilio list since the caller's cursor, oldest first, each resource exactly once across the
 * polls that pass each answer's cursor on. Owns the cursor (its text, its binding to the block
 * and the account), which of Twilio's pages to read (flowreq walks them) and how a failure is
 * worded; a block names its list, date field and date filter in its flow object (see
 * docs/polling-triggers.md). */
#ifndef POLLING_H
#define POLLING_H

#include "call.h"

/* Twilio may list a resource up to this many seconds after its own date. */
#define POLLING_LATE_S 30
/* A resource is held back until its date is this many seconds old: the late window, one second
 * of date resolution and a few seconds of clock difference with Twilio. */
#define POLLING_SETTLE_S 35

/* Checks the flow object of poll block b when the definitions load: list, date, pageSize, an
 * optional filter, no other key. Returns 0, or -1 with the reason in err. */
int polling_check(const struct block_def *b, char *err, size_t errlen);

/* The flow entry point (a call_fn, call.h). */
void polling_run(struct call *c);

#endif

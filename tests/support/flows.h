/* flows: a call of each flow block (a block with a "flow" in blocks/<name>.json: several Twilio
 * requests on a state, or a campaign) with its exact answer, for the suites that call every
 * block: scenarios (against the stand-ins) and contract (every request checked by Prism). */
#ifndef FLOWS_H
#define FLOWS_H

#include "account.h"
#include "harness.h"

/* The accountSid and accountToken members the flows call with. */
#define FLOWS_CREDS                                                                                \
    "\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"accountToken\":\"flows-token-3c1e\""

/* What Twilio gets from them: their account's path, basic auth and messages' path. */
#define FLOWS_ACCOUNT "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FLOWS_BASIC "Basic QUNhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTpmbG93cy10b2tlbi0zYzFl"
#define FLOWS_MESSAGES FLOWS_ACCOUNT "/Messages.json"

/* Starts the servers the flows are called on: h with cfg (from harness_config, which must
 * outlive flows_stop), the poll blocks' clock at 2026-11-23T09:30:00Z and a cursor key of the
 * test's (exact cursors), and the campaign senders in this process (as main.c starts them for
 * the binary); and t pointed at the stand-in account *a (with prism: account_harness_start).
 * Returns 0 or -1. */
int flows_start(struct harness *h, struct config *cfg, struct harness *t, struct account **a,
                const char *prism);
/* Stops them all (the two servers at once). */
void flows_stop(struct harness *h, struct harness *t, struct account *a);

/* The poll blocks: the list each reads, its path, and the cursor of a first poll. */
struct flows_poll {
    const char *block, *list, *path, *cursor;
};
extern const struct flows_poll flows_polls[5];
/* A poll block's first call, which starts now: no items, a cursor. */
void flows_poll(struct harness *h, const struct flows_poll *p);

/* POSTs json to block; the test fails unless the answer is HTTP 200 with exactly want. The
 * block counts as called (flows_all_called). */
void flows_expect(struct harness *h, const char *block, const char *json, const char *want);

/* subscribeWebhook, unsubscribeWebhook (a phone number's), subscribeEvents, unsubscribeEvents
 * and listEventTypes against the stand-in account a (reset first), which h is pointed at. */
void flows_triggers(struct harness *h, struct account *a);

/* A campaign of two recipients through every campaign block, in this process (no REDIS_URL),
 * sent to h's upstream, which must accept a message (201): created, filled, read, started,
 * paused, resumed and waited for until it completes with both sent; then a second one
 * cancelled. */
void flows_campaigns(struct harness *h);

/* The test fails naming each flow block of set that no flows_expect called. */
void flows_all_called(const struct block_set *set);

#endif

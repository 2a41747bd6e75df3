/* campaign_sender: the senders, CAMPAIGN_CONCURRENCY threads in every replica. Each reads the
 * running campaigns' streams (a recipient another sender left idle first), fills the message
 * from its template, waits its turn at the campaign's token bucket, claims the recipient
 * (pending -> sending, once, in one script), sends it through send.h and settles it. The
 * {{placeholders}} grammar of a body is the senders', which createCampaign checks against.
 * Part of campaign. */
#ifndef CAMPAIGN_SENDER_H
#define CAMPAIGN_SENDER_H

#include <stddef.h>
#include <jansson.h>

#include "aead.h"
#include "buf.h"
#include "config.h"

/* Starts the senders, which open the campaigns' credentials with key. cfg must outlive
 * campaign_sender_stop. Returns 0, or -1 with the reason in err. */
int campaign_sender_start(const struct config *cfg, const unsigned char key[AEAD_KEY_LEN],
                          char *err, size_t errlen);
/* How many senders run in this replica. */
size_t campaign_sender_count(void);

/* Wakes this replica's idle senders to look for running campaigns (one was just started). */
void campaign_sender_wake(void);
/* Stops the senders: each finishes the send it is in (its recipient settled) and stops. */
void campaign_sender_stop(void);

/* The names of body's {{name}} placeholders, as the senders fill them. New reference, or NULL. */
json_t *campaign_sender_placeholders(const char *body);

/* Appends the recipients this replica's senders settled (Prometheus text) to out. Returns 0
 * or -1. */
int campaign_sender_metrics(struct buf *out);

#endif

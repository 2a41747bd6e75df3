/* campaign: the campaign blocks (createCampaign, addCampaignRecipients, start/pause/resume/
 * cancelCampaign, getCampaign, listCampaignRecipients), and the start and stop of its parts:
 * the senders that send a running campaign from every replica (campaign_sender.h), the store
 * (campaign_store.h) and the statusCallback (campaign_callback.h). A campaign lives in Redis
 * (campaign_redis.h; campaign_local.h without REDIS_URL), all its keys under the hash tag
 * {campaignId}: its settings and counts (a hash), each recipient's state (a hash), a stream of
 * recipients to send read by the consumer group "senders", a token bucket. Each recipient
 * moves pending -> sending in one script before its request, so it is sent at most once; one
 * found in sending after its sender stopped is maybeSent. The caller's credentials are kept
 * sealed (aead.h) under CAMPAIGN_SECRET and deleted when the campaign ends. */
#ifndef CAMPAIGN_H
#define CAMPAIGN_H

#include <stddef.h>

#include "buf.h"
#include "call.h"
#include "config.h"

/* The flow of every campaign block ("flow": {"kind": "campaign"}), by the block's name. */
void campaign_run(struct call *c);

/* Starts the senders (CAMPAIGN_CONCURRENCY threads) when REDIS_URL and CAMPAIGN_SECRET are
 * set; without them the blocks answer what is missing. cfg must outlive campaign_stop.
 * Returns 0, or -1 with the reason in err. */
int campaign_start(const struct config *cfg, char *err, size_t errlen);

/* Stops the senders: each finishes the send it is in (its recipient settled) and stops. */
void campaign_stop(void);

/* Appends the campaign metrics (Prometheus text) to out. Returns 0 or -1. */
int campaign_metrics(struct buf *out);

#endif

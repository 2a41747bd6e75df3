/* campaign_callback: a campaign's statusCallback. Which URLs may be one (https; no loopback or
 * private address, written or connected to, unless ALLOW_PRIVATE_CALLBACKS=1), and the end of
 * a campaign: logged, counted, taken off the running set, and POSTed to its statusCallback.
 * Part of campaign. */
#ifndef CAMPAIGN_CALLBACK_H
#define CAMPAIGN_CALLBACK_H

#include "buf.h"
#include "config.h"

/* Why url may not be a statusCallback, or NULL. */
const char *campaign_callback_refused(const struct config *cfg, const char *url);

/* Campaign id ended (this replica's script ended it, once): logged, counted, taken off the
 * running set, and its statusCallback POSTed. */
void campaign_callback_ended(const struct config *cfg, const char *id);

/* Appends the campaigns this replica saw end (Prometheus text) to out. Returns 0 or -1. */
int campaign_callback_metrics(struct buf *out);

#endif

/* subscribe: the subscribeWebhook and unsubscribeWebhook flows. A trigger points a phone
 * number's or a Messaging Service's webhook at a workflow and later gives it back: each reads
 * the current configuration first and writes only what is its own to write (an empty or demo
 * URL, its own URL, or another URL when the caller said replace), and refuses with the reason
 * when Twilio would send that traffic elsewhere (a Messaging Service, a TwiML App, a trunk). */
#ifndef SUBSCRIBE_H
#define SUBSCRIBE_H

#include "flow.h"

/* subscribeWebhook: a flow_fn (see flow.h). */
void subscribe_add(const struct send_service *svc, const struct block_def *b, json_t *args,
                   const struct prepared *prep, CURL **slot, const char *key,
                   struct send_answer *out);

/* unsubscribeWebhook: writes the caller's previous configuration back only while the webhook
 * is still theirs; a flow_fn. */
void subscribe_remove(const struct send_service *svc, const struct block_def *b, json_t *args,
                      const struct prepared *prep, CURL **slot, const char *key,
                      struct send_answer *out);

#endif

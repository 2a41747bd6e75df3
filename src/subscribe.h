/* subscribe: the subscribeWebhook and unsubscribeWebhook flows. A trigger points a phone
 * number's or a Messaging Service's webhook at a workflow and later gives it back: each reads
 * the current configuration first and writes only what is its own to write (an empty or demo
 * URL, its own URL, or another URL when the caller said replace), and refuses with the reason
 * when Twilio would send that traffic elsewhere (a Messaging Service, a TwiML App, a trunk). */
#ifndef SUBSCRIBE_H
#define SUBSCRIBE_H

#include "call.h"

/* subscribeWebhook: a call_fn (call.h). */
void subscribe_add(struct call *c);

/* unsubscribeWebhook: writes the caller's previous configuration back only while the webhook
 * is still theirs; a call_fn. */
void subscribe_remove(struct call *c);

#endif

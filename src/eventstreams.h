/* eventstreams: the Event Streams flows. subscribeEvents finds the webhook sink whose
 * destination is the trigger's URL (reading every page) or creates it, and gives it one
 * subscription holding every type asked for; unsubscribeEvents deletes the subscriptions of
 * every such sink, then the sinks; listEventTypes reads every page of the event types. Each
 * reads first, so a repeat writes nothing. */
#ifndef EVENTSTREAMS_H
#define EVENTSTREAMS_H

#include "call.h"

/* subscribeEvents, unsubscribeEvents and listEventTypes: call_fns (call.h). */
void eventstreams_subscribe(struct call *c);
void eventstreams_unsubscribe(struct call *c);
void eventstreams_types(struct call *c);

#endif
